"""Small synthetic videos made with PyAV for the media tests, and a probe of what a written file holds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

#: Quadrant colours of the upright test picture: top-left red, top-right green, bottom-left blue, bottom-right white.
QUADRANTS = {"top_left": (255, 0, 0), "top_right": (0, 255, 0), "bottom_left": (0, 0, 255), "bottom_right": (255,) * 3}


def quadrant_picture(width: int, height: int, index: int = 0) -> np.ndarray:
    """An (H, W, 3) picture whose four quadrants tell every rotation and mirroring apart (the same for every
    ``index``)."""
    image = np.empty((height, width, 3), np.uint8)
    h, w = height // 2, width // 2
    image[:h, :w], image[:h, w:] = QUADRANTS["top_left"], QUADRANTS["top_right"]
    image[h:, :w], image[h:, w:] = QUADRANTS["bottom_left"], QUADRANTS["bottom_right"]
    return image


def level_picture(width: int, height: int, index: int) -> np.ndarray:
    """A flat grey picture whose level tells the frame's index (7 levels apart, up to 30 frames)."""
    return np.full((height, width, 3), 20 + 7 * index, np.uint8)


def quadrant_colours(image: np.ndarray) -> dict[str, tuple[int, ...]]:
    """The rounded mean colour at the centre of each quadrant of a decoded picture."""
    height, width = image.shape[:2]
    centres = {"top_left": (height // 4, width // 4), "top_right": (height // 4, 3 * width // 4),
               "bottom_left": (3 * height // 4, width // 4), "bottom_right": (3 * height // 4, 3 * width // 4)}
    return {name: tuple(int(round(v / 255) * 255) for v in image[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).mean(0))
            for name, (y, x) in centres.items()}


def frame_index(image: np.ndarray) -> int:
    """The index :func:`level_picture` encoded, read back from a (possibly lossy, possibly stylized) frame."""
    return round((float(image.mean()) - 20) / 7)


def make_silent_video_stream(path: Path) -> Path:
    """A file with a video stream that holds no frames, beside one second of (silent) audio."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("aac", rate=48000)
        sound.layout = "stereo"
        samples = av.AudioFrame.from_ndarray(np.zeros((2, 48000), np.float32), format="fltp", layout="stereo")
        samples.sample_rate, samples.pts = 48000, 0
        container.mux(sound.encode(samples))
        container.mux(sound.encode(None))
    return path


def cut_in_half(path: Path, name: str) -> Path:
    """A copy of ``path`` with only the first half of its bytes."""
    data = path.read_bytes()
    cut = path.with_name(name)
    cut.write_bytes(data[: len(data) // 2])
    return cut


def make_video(path: Path, *, size: tuple[int, int] = (64, 48), frames: int = 12, fps: int = 10,
               audio: str | None = None, pts: Sequence[int] | None = None, time_base: Fraction | None = None,
               rotation: int | None = None, hflip: bool = False, faststart: bool = False,
               picture: Callable[[int, int, int], np.ndarray] = level_picture) -> Path:
    """Write a small video with PyAV: H.264 (VP9 for .webm), ``frames`` frames of ``picture(w, h, i)``, at
    timestamps ``pts`` in ``time_base`` (default: constant ``fps``), optionally with a display rotation (and
    mirroring), the index up front (MP4 ``faststart``) and a sine-wave audio stream of the same duration in codec
    ``audio`` (aac, libopus or vorbis)."""
    width, height = size
    time_base = time_base or Fraction(1, fps)
    pts = list(pts) if pts is not None else list(range(frames))
    with av.open(str(path), "w", options={"movflags": "+faststart"} if faststart else {}) as container:
        webm = path.suffix == ".webm"
        video = container.add_stream("libvpx-vp9" if webm else "libx264", rate=fps,
                                     options={"deadline": "realtime", "cpu-used": "8"} if webm else {})
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        video.codec_context.time_base = time_base
        if rotation is not None:
            if not hasattr(video, "set_display_rotation"):
                pytest.skip(f"writing a display rotation needs PyAV 17.1 or later, not {av.__version__}")
            video.set_display_rotation(rotation, hflip=hflip)
        sound = None
        if audio:
            sound = container.add_stream(audio, rate=48000, options={"strict": "experimental"})
            sound.layout = "stereo"
        for index, stamp in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(picture(width, height, index), format="rgb24")
            frame.pts, frame.time_base = stamp, time_base
            frame.duration = pts[index + 1] - stamp if index + 1 < len(pts) else round(1 / (fps * time_base))
            container.mux(video.encode(frame))
        if sound is not None:
            seconds = float((pts[-1] * time_base) + Fraction(1, fps))
            t = np.arange(round(48000 * seconds)) / 48000
            wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            samples = av.AudioFrame.from_ndarray(np.stack([wave, wave]), format="fltp", layout="stereo")
            samples.sample_rate, samples.pts, samples.time_base = 48000, 0, Fraction(1, 48000)
            container.mux(sound.encode(samples))
            container.mux(sound.encode(None))
        container.mux(video.encode(None))
    return path


def probe(path: Path) -> dict:
    """What a finished file holds: size, decoded frames (RGB) with their times, duration, and audio codecs and
    durations in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [(frame.to_ndarray(format="rgb24"), frame.time) for frame in container.decode(stream)]
        audio = [(s.codec_context.name, s.codec_context.sample_rate) for s in container.streams.audio]
    with av.open(str(path)) as container:
        ends: dict[int, float] = {}
        for packet in container.demux(*container.streams.audio):
            if packet.pts is not None:
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                ends[packet.stream.index] = max(ends.get(packet.stream.index, 0.0), end)
    return {"width": stream.width, "height": stream.height, "images": [f for f, _ in frames],
            "times": [t for _, t in frames], "audio": audio, "audio_ends": sorted(ends.values())}
