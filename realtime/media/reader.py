"""Decoding video files with PyAV into upright RGB frames with their timestamps, and the audio packets beside them."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.sidedata.sidedata import Type as SideDataType

from framestyle.errors import InputError
from framestyle.limits import frame_size_problem
from framestyle.media.container import open_input


class TruncatedInputError(InputError):
    """The video stream breaks off before its declared end: the file is cut short or damaged."""


@dataclass(frozen=True)
class Frame:
    """One picture: (H, W, 3) uint8 RGB, upright, with its presentation timestamp and duration in ``time_base``
    units (duration 0 when unknown)."""

    image: np.ndarray
    pts: int
    time_base: Fraction
    duration: int = 0

    @property
    def time(self) -> float:
        """The presentation time in seconds."""
        return float(self.pts * self.time_base)


Orient = Callable[[np.ndarray], np.ndarray]


class VideoReader:
    """The first video stream of a file, decoded in order, and its audio streams' packets for remuxing.

    Opening decodes up to the first frame, so a missing, unreadable or empty file fails here with an
    :class:`InputError`. Frames are rotated upright by the stream's display matrix (so the frames carry no rotation
    any more). A stream that breaks off midway raises :class:`TruncatedInputError` when reached, unless
    ``keep_partial``, in which case the frames up to the break are delivered and ``truncated`` is set.
    ``decoder_threads`` caps the decoder's threads (0: FFmpeg's choice, frame and slice threads on every core).
    ``seek`` (a timestamp in the video's time base) starts at the keyframe at or before it, as the file's index
    finds it: ``first_pts`` tells where decoding really starts.
    """

    def __init__(self, path: str | Path, *, keep_partial: bool = False, decoder_threads: int = 0,
                 seek: int | None = None) -> None:
        self.path = Path(path)
        self.keep_partial = keep_partial
        self._decoder_threads = decoder_threads
        self.truncated = False
        self.frames_read = 0
        self._orient: Orient | None = None
        self._last_pts: int | None = None
        self._end = 0.0
        self._container = _open(self.path)
        try:
            self._stream = self._video_stream()
            #: The time base of the frames' timestamps (the video stream's).
            self.time_base = Fraction(self._stream.time_base)
            rate = self._stream.average_rate or self._stream.guessed_rate
            #: The average frame rate, when the file says or FFmpeg can guess it.
            self.frame_rate = Fraction(rate) if rate else None
            #: The video stream's declared end time in seconds, if the file declares it.
            self.duration = _declared_end(self._stream)
            #: The number of frames the file declares, or an estimate from its duration and rate; None if unknown.
            self.frame_count = int(self._stream.frames) or (
                round(self.duration * self.frame_rate) if self.duration and self.frame_rate else None)
            self.audio_streams: tuple[av.AudioStream, ...] = tuple(self._container.streams.audio)
            if seek is not None:
                self._container.seek(seek, stream=self._stream, backward=True)
            self._items = self._demux()
            self._pending = self._until_first_frame()
        except BaseException:
            self._container.close()
            raise
        first = self._pending[-1]
        assert isinstance(first, Frame)
        self.height, self.width = first.image.shape[:2]
        #: The timestamp of the first frame delivered.
        self.first_pts = first.pts

    def _video_stream(self) -> av.VideoStream:
        if self._container.format.name == "image2" or self._container.format.name.endswith("_pipe"):
            raise InputError(f"{self.path}: a still image, not a video (use `stylize image` for pictures)")
        if not self._container.streams:
            raise InputError(f"{self.path}: no streams found; the file is damaged or cut short")
        if not self._container.streams.video:
            raise InputError(f"{self.path}: no video stream in this file")
        stream = self._container.streams.video[0]
        problem = frame_size_problem(stream.codec_context.width, stream.codec_context.height)
        if problem:
            raise InputError(f"{self.path}: the video stream declares frames of {problem}")
        if self._decoder_threads:
            stream.codec_context.thread_count = self._decoder_threads
        else:
            stream.thread_type = "AUTO"
        return stream

    def items(self) -> Iterator[Frame | av.Packet]:
        """Video frames and audio packets in the file's order (audio untouched). Can be iterated once."""
        while self._pending:
            yield self._pending.pop(0)
        yield from self._items

    def frames(self) -> Iterator[Frame]:
        """Only the video frames (audio packets are skipped)."""
        return (item for item in self.items() if isinstance(item, Frame))

    def _until_first_frame(self) -> list[Frame | av.Packet]:
        pending: list[Frame | av.Packet] = []
        for item in self._items:
            pending.append(item)
            if isinstance(item, Frame):
                return pending
        raise InputError(f"{self.path}: the video stream has no frames")

    def _demux(self) -> Iterator[Frame | av.Packet]:
        try:
            for packet in self._container.demux(self._stream, *self.audio_streams):
                if packet.stream.type != "video":
                    if packet.size:  # the demuxer ends each stream with an empty flush packet
                        yield packet
                    continue
                for frame in packet.decode():
                    yield self._frame(frame)
        except av.error.FFmpegError as error:
            self._broken(error.strerror or type(error).__name__)
            return
        expected = self.duration
        slack = max(0.25, 3 / float(self.frame_rate or 25))
        if expected is not None and self.frames_read and self._end + slack < expected:
            self._broken(f"it ends at {self._end:.2f} s of {expected:.2f} s")

    def _broken(self, reason: str) -> None:
        if self.keep_partial:
            self.truncated = True
            return
        raise TruncatedInputError(f"{self.path}: the video breaks off after {self.frames_read} frames ({reason}); "
                                  "the file is cut short or damaged (--keep-partial keeps the frames before the break)")

    def _frame(self, frame: av.VideoFrame) -> Frame:
        if self._orient is None:
            self._orient = orientation(display_matrix(frame))
        pts = frame.pts
        if pts is None or (self._last_pts is not None and pts <= self._last_pts):
            pts = 0 if self._last_pts is None else self._last_pts + (frame.duration or self._nominal_step())
        self._last_pts = pts
        self.frames_read += 1
        duration = frame.duration or 0
        self._end = float((pts + (duration or self._nominal_step())) * self.time_base)
        image = np.ascontiguousarray(self._orient(frame.to_ndarray(format="rgb24")))
        return Frame(image=image, pts=pts, time_base=self.time_base, duration=duration)

    def _nominal_step(self) -> int:
        rate = self.frame_rate
        return max(1, round(1 / (rate * self.time_base))) if rate else 1

    def close(self) -> None:
        """Close the file."""
        self._items.close()
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _declared_end(stream: av.VideoStream) -> float | None:
    if stream.duration:
        return float((stream.duration + (stream.start_time or 0)) * stream.time_base)
    tag = stream.metadata.get("DURATION")  # Matroska and WebM keep it as a tag, "HH:MM:SS.nnnnnnnnn"
    if tag:
        hours, minutes, seconds = tag.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return None


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    try:
        return open_input(path)
    except av.error.FFmpegError as error:
        raise InputError(f"{path}: not a video file FFmpeg can read ({error.strerror})") from error


def display_matrix(frame: av.VideoFrame) -> np.ndarray | None:
    """The frame's display matrix (9 int32 values, 16.16 fixed point, FFmpeg's layout), or None."""
    side_data = frame.side_data.get(SideDataType.DISPLAYMATRIX)  # iterating gives values before PyAV 19, keys after
    return None if side_data is None else np.frombuffer(bytes(side_data), dtype="<i4")[:9].astype(np.int64)


def orientation(matrix: np.ndarray | None) -> Orient:
    """The array operation that shows a frame upright, as FFmpeg's own autorotation does (multiples of 90 degrees
    and mirroring; any other angle is left alone)."""
    if matrix is None:
        return _same
    scale_x, scale_y = math.hypot(matrix[0], matrix[3]), math.hypot(matrix[1], matrix[4])
    if not scale_x or not scale_y:
        return _same
    clockwise = round(math.degrees(math.atan2(matrix[1] / scale_y, matrix[0] / scale_x))) % 360
    if clockwise == 90:
        return _transpose if matrix[3] > 0 else _rotate_clockwise
    if clockwise == 270:
        return _anti_transpose if matrix[3] < 0 else _rotate_counterclockwise
    if clockwise == 180:
        return lambda image: image[:: -1 if matrix[4] < 0 else 1, :: -1 if matrix[0] < 0 else 1]
    if clockwise == 0 and matrix[4] < 0:
        return lambda image: image[::-1]
    return _same


def _same(image: np.ndarray) -> np.ndarray:
    return image


def _transpose(image: np.ndarray) -> np.ndarray:
    return image.transpose(1, 0, 2)


def _anti_transpose(image: np.ndarray) -> np.ndarray:
    return image[::-1, ::-1].transpose(1, 0, 2)


def _rotate_clockwise(image: np.ndarray) -> np.ndarray:
    return np.rot90(image, -1)


def _rotate_counterclockwise(image: np.ndarray) -> np.ndarray:
    return np.rot90(image, 1)
