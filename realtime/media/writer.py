"""Encoding frames to a video file (with the source's audio) or an image sequence, written under a temporary name in
the output's folder and renamed into place only when complete.

Choices: the container follows OUT's extension (.mp4, .mov, .mkv: H.264; .webm: VP9 and Opus; ``name%05d.png``: one
picture per frame). Audio is copied untouched when the container takes its codec (AAC, MP3, ALAC, AC-3 into
MP4/MOV; Opus and Vorbis into WebM; anything Matroska takes into MKV) and re-encoded otherwise (to AAC for
MP4/MOV/MKV, to Opus for WebM). Video timestamps are copied, so variable frame rates and audio sync survive.
H.264 and H.265 in 4:2:0 need even sizes, so odd-sized video is encoded 4:4:4 at its exact size (a ``notes`` entry
says so: some players cannot play 4:4:4; VP9 in .webm keeps odd sizes in 4:2:0).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from framestyle.atomic import AtomicFile
from framestyle.errors import OutputError
from framestyle.imageio import IMAGE_SUFFIXES, write_image
from framestyle.media.reader import Frame


@dataclass(frozen=True)
class ContainerSpec:
    """An output container: FFmpeg's format name, default video codec, audio codecs copied as they are (None: any
    the format takes), and the audio encoder for the rest."""

    format: str
    video_codec: str
    audio_copy: frozenset[str] | None
    audio_encoder: str


_MP4_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3"})
CONTAINERS = {
    ".mp4": ContainerSpec("mp4", "libx264", _MP4_AUDIO, "aac"),
    ".mov": ContainerSpec("mov", "libx264", _MP4_AUDIO | {"pcm_s16le", "pcm_s24le"}, "aac"),
    ".mkv": ContainerSpec("matroska", "libx264", None, "aac"),
    ".webm": ContainerSpec("webm", "libvpx-vp9", frozenset({"opus", "vorbis"}), "libopus"),
}


@dataclass(frozen=True)
class CodecSpec:
    """Encoder settings: default and largest CRF, fixed options, and whether 4:2:0 needs even sizes."""

    crf: int
    crf_max: int
    options: dict[str, str] = field(default_factory=dict)
    even_420: bool = False


#: The frame rate the encoder is told when the input gives none (its timestamps still rule).
_UNKNOWN_RATE_HINT = Fraction(24)
#: The ``preset`` values of the x264 and x265 encoders, fastest first.
X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")

VIDEO_CODECS = {
    "libx264": CodecSpec(18, 51, {"preset": "veryfast"}, even_420=True),
    "libx265": CodecSpec(20, 51, {"preset": "fast", "x265-params": "log-level=error"}, even_420=True),
    "libvpx-vp9": CodecSpec(32, 63, {"b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}),
}


class FrameWriter(ABC):
    """Common surface of the writers: ``write`` frames, ``write_audio`` packets, then ``close`` (finish and rename
    into place) or ``abort`` (remove the temporary output). As a context manager it closes on success and aborts
    on any exception, Ctrl-C included."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: Remarks for the user about choices made (odd sizes, audio left out).
        self.notes: list[str] = []

    @abstractmethod
    def write(self, frame: Frame) -> None:
        """Write one frame (at the writer's size, with its timestamps in the writer's time base)."""

    @abstractmethod
    def write_audio(self, packet: av.Packet) -> None:
        """Write one packet of an input audio stream given at construction."""

    @abstractmethod
    def close(self) -> None:
        """Finish and put the output in place under its name (does nothing the second time)."""

    @abstractmethod
    def abort(self) -> None:
        """Remove everything written so far; nothing appears under the output name."""

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def open_writer(path: str | Path, *, width: int, height: int, time_base: Fraction, frame_rate: Fraction | None = None,
                audio_streams: Sequence[av.AudioStream] = (), source: str | Path | None = None,
                crf: int | None = None, codec: str | None = None, preset: str | None = None,
                encoder_threads: int = 0) -> FrameWriter:
    """A writer for ``path``: an image sequence when its name holds a ``%d`` pattern, else a video file.

    ``source`` is the input file, which the output may not be. Frames must be ``width`` x ``height`` with
    timestamps in ``time_base``; ``audio_streams`` are the input streams whose packets ``write_audio`` receives.
    ``preset`` is the x264/x265 speed preset (see ``X26X_PRESETS``; default veryfast for H.264, fast for H.265).
    ``encoder_threads`` caps the video encoder's threads (0: the encoder's own choice, about 1.5 per core).
    """
    path = Path(path)
    if source is not None and _same_file(path, Path(source)):
        raise OutputError(f"{path}: this is the input file; choose another output name (inputs are never overwritten)")
    if re.search(r"%0?\d*d", path.name):
        if crf is not None or codec is not None or preset is not None:
            raise OutputError(f"{path}: --crf, --codec and --preset apply to video files, not to image sequences")
        return ImageSequenceWriter(path, width=width, height=height, audio_streams=len(audio_streams))
    return VideoWriter(path, width=width, height=height, time_base=time_base, frame_rate=frame_rate,
                       audio_streams=audio_streams, crf=crf, codec=codec, preset=preset,
                       encoder_threads=encoder_threads)


def _same_file(path: Path, source: Path) -> bool:
    if path.resolve() == source.resolve():
        return True
    return path.exists() and source.exists() and os.path.samefile(path, source)


def _check_folder(path: Path) -> Path:
    folder = path.parent
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    if not folder.is_dir():
        raise OutputError(f"{folder}: no such folder (create it first)")
    return folder


class VideoWriter(FrameWriter):
    """Encodes frames and remuxes or re-encodes audio into a video file; see the module's notes for the choices.

    With ``video_template`` (a stream of an already encoded video), nothing is encoded: its packets are copied in
    with :meth:`write_video_packet` (``crf``, ``codec`` and ``preset`` must be None)."""

    def __init__(self, path: Path, *, width: int, height: int, time_base: Fraction, frame_rate: Fraction | None,
                 audio_streams: Sequence[av.AudioStream], crf: int | None, codec: str | None,
                 preset: str | None = None, encoder_threads: int = 0,
                 video_template: av.VideoStream | None = None) -> None:
        super().__init__(path)
        spec = CONTAINERS.get(path.suffix.lower())
        if spec is None:
            raise OutputError(f"{path}: unsupported output type {path.suffix!r}; use .mp4, .mov, .mkv, .webm or an "
                              "image sequence like frames/%05d.png")
        _check_folder(path)
        self.size = (width, height)
        self._file = AtomicFile(path)
        self._closed = False
        try:
            self._container = av.open(str(self._file.tmp), "w", format=spec.format)
            if video_template is not None:
                self._video = self._container.add_stream_from_template(video_template)
            else:
                self._video = self._add_video(codec or spec.video_codec, crf, preset, time_base, frame_rate)
            self._encoding = video_template is None
            if encoder_threads and self._encoding:
                self._video.codec_context.thread_count = encoder_threads
            self._audio = {stream.index: self._add_audio(stream, spec) for stream in audio_streams}
        except BaseException:
            self.abort()
            raise

    def _add_video(self, name: str, crf: int | None, preset: str | None, time_base: Fraction,
                   frame_rate: Fraction | None) -> av.VideoStream:
        try:
            codec = av.codec.Codec(name, "w")
        except av.codec.codec.UnknownCodecError:
            raise OutputError(f"unknown video encoder {name!r} (try libx264, libvpx-vp9, libx265, ffv1)") from None
        if codec.type != "video":
            raise OutputError(f"{name!r} is not a video encoder")
        if codec.canonical_name not in self._container.supported_codecs:
            raise OutputError(f"{self.path.suffix} files cannot hold {name} video")
        spec = VIDEO_CODECS.get(name)
        options = dict(spec.options) if spec else {}
        if crf is not None and spec is None:
            raise OutputError(f"--crf applies to {', '.join(VIDEO_CODECS)}, not to {name}")
        if spec:
            if crf is not None and not 0 <= crf <= spec.crf_max:
                raise OutputError(f"--crf for {name} must be between 0 and {spec.crf_max}, got {crf}")
            options["crf"] = str(spec.crf if crf is None else crf)
        if preset is not None:
            if "preset" not in options:
                raise OutputError(f"--preset applies to libx264 and libx265, not to {name}")
            if preset not in X26X_PRESETS:
                raise OutputError(f"unknown --preset {preset!r}: choose one of {', '.join(X26X_PRESETS)}")
            options["preset"] = preset
        if frame_rate is None:  # a hint only; libvpx refuses frames when it is finer than the time base
            frame_rate = min(_UNKNOWN_RATE_HINT, 1 / time_base)
        stream = self._container.add_stream(name, rate=frame_rate, options=options)
        width, height = self.size
        stream.width, stream.height = width, height
        if spec and spec.even_420:
            odd = width % 2 or height % 2
            stream.pix_fmt = "yuv444p" if odd else "yuv420p"
            if odd:
                self.notes.append(f"{width}x{height} has an odd side, which {name} cannot encode in 4:2:0; it is "
                                  "encoded 4:4:4 at its exact size, which some players (browsers, phones) cannot "
                                  "play; a .webm output keeps odd sizes in 4:2:0")
        elif name == "libvpx-vp9":
            stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        return stream

    def _add_audio(self, source: av.AudioStream, spec: ContainerSpec) -> _AudioRoute:
        name = source.codec_context.name
        copyable = spec.audio_copy if spec.audio_copy is not None else self._container.supported_codecs
        if name in copyable and name in self._container.supported_codecs:
            stream = self._container.add_stream_from_template(source)
            copy = True
        else:
            rates = av.codec.Codec(spec.audio_encoder, "w").audio_rates
            rate = source.codec_context.sample_rate
            if rates and rate not in rates:
                rate = max(rates)
            stream = self._container.add_stream(spec.audio_encoder, rate=rate)
            stream.layout = source.codec_context.layout.name
            copy = False
        if source.language:
            stream.metadata["language"] = source.language
        return _AudioRoute(source, stream, copy)

    def write(self, frame: Frame) -> None:
        """Encode one frame (its pts and duration are kept)."""
        height, width = frame.image.shape[:2]
        if (width, height) != self.size:
            raise ValueError(f"frame is {width}x{height}, the output {self.size[0]}x{self.size[1]}")
        picture = av.VideoFrame.from_ndarray(frame.image, format="rgb24")
        picture.pts, picture.time_base, picture.duration = frame.pts, frame.time_base, frame.duration
        self._mux(self._video.encode(picture))

    def write_video_packet(self, packet: av.Packet) -> None:
        """Copy one encoded packet of a stream like the ``video_template`` given at construction."""
        packet.stream = self._video
        self._mux([packet])

    def write_audio(self, packet: av.Packet) -> None:
        """Copy one audio packet of an input stream given at construction, or re-encode it (a packet that cannot
        be decoded is left out)."""
        route = self._audio[packet.stream.index]
        if route.copy:
            packet.stream = route.output
            self._mux([packet])
        else:
            try:
                frames = route.source.codec_context.decode(packet)
            except av.error.InvalidDataError:
                return  # a damaged packet (as at the end of a cut file) is left out; the rest stays in sync
            for frame in frames:
                self._mux(route.output.encode(frame))

    def _mux(self, packets: Iterable[av.Packet]) -> None:
        try:
            self._container.mux(packets)
        except av.error.FFmpegError as error:
            raise OutputError(f"{self.path}: encoding failed ({error.strerror or error})") from error
        except OSError as error:
            raise OutputError(f"{self.path}: cannot write ({error.strerror or error})") from error

    def close(self) -> None:
        """Flush the encoders, finish the file and rename it to the output name."""
        if self._closed:
            return
        try:
            if self._encoding:
                self._mux(self._video.encode(None))
            for route in self._audio.values():
                if not route.copy:
                    for frame in route.source.codec_context.decode(None):
                        self._mux(route.output.encode(frame))
                    self._mux(route.output.encode(None))
            self._container.close()
            self._file.commit()
        except BaseException:
            self.abort()
            raise
        self._closed = True

    def abort(self) -> None:
        """Stop and remove the temporary file; nothing appears under the output name."""
        if self._closed:
            return
        self._closed = True
        container = getattr(self, "_container", None)
        try:
            if container is not None:
                container.close()
        except (av.error.FFmpegError, OSError):
            pass
        finally:
            self._file.abort()


@dataclass(frozen=True)
class _AudioRoute:
    source: av.AudioStream
    output: av.AudioStream
    copy: bool


class ImageSequenceWriter(FrameWriter):
    """Writes one picture per frame, numbered from 1 through a ``%d`` pattern (``frames/%05d.png``), first into a
    hidden temporary folder beside them, moved into place at the end. Audio is left out (with a note)."""

    def __init__(self, pattern: Path, *, width: int, height: int, audio_streams: int = 0) -> None:
        super().__init__(pattern)
        if pattern.suffix.lower() not in IMAGE_SUFFIXES:
            suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
            raise OutputError(f"{pattern}: an image sequence needs a picture suffix ({suffixes})")
        try:
            pattern.name % 1
        except (TypeError, ValueError):
            raise OutputError(f"{pattern}: the name needs exactly one number pattern like %05d") from None
        folder = _check_folder(pattern)
        self.size = (width, height)
        try:
            self._tmp = Path(tempfile.mkdtemp(prefix=".stylize-", suffix=".part", dir=folder))
        except OSError as error:
            raise OutputError(f"{folder}: cannot write here ({error.strerror})") from error
        self._names: list[str] = []
        if audio_streams:
            self.notes.append(f"an image sequence holds no sound: {audio_streams} audio stream(s) left out")

    def write(self, frame: Frame) -> None:
        """Write the next picture (into the temporary folder)."""
        height, width = frame.image.shape[:2]
        if (width, height) != self.size:
            raise ValueError(f"frame is {width}x{height}, the output {self.size[0]}x{self.size[1]}")
        name = self.path.name % (len(self._names) + 1)
        write_image(self._tmp / name, frame.image)
        self._names.append(name)

    def write_audio(self, packet: av.Packet) -> None:
        """Audio has no place in an image sequence: the packet is dropped."""

    def close(self) -> None:
        """Move every picture into place and remove the temporary folder."""
        if not self._tmp.exists():
            return
        for name in self._names:
            os.replace(self._tmp / name, self.path.parent / name)
        self._tmp.rmdir()

    def abort(self) -> None:
        """Remove the temporary folder and the pictures in it."""
        shutil.rmtree(self._tmp, ignore_errors=True)
