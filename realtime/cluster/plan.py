"""Cutting a video into chunks at its keyframes, from one pass over its packets (nothing is decoded)."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from framestyle.errors import InputError
from framestyle.media.container import open_input
from framestyle.media.reader import VideoReader

#: Chunks per task slot when the length is chosen for the cluster, and the bounds of that length in seconds.
CHUNKS_PER_SLOT = 3
MIN_CHUNK_SECONDS = 10.0
MAX_CHUNK_SECONDS = 120.0


@dataclass(frozen=True)
class Chunk:
    """Frames ``start <= pts < end`` of the video (``start`` None: from the first frame; ``end`` None: to the
    last), which begins at a keyframe. A task decodes from ``warmup_start`` (``warmup`` frames earlier, to settle
    the temporal smoothing) and keeps the ``frames`` frames of the chunk itself; ``seek`` lists the keyframes at or
    before ``warmup_start``, newest first, to seek to (a format's index may place the first one a little late)."""

    index: int
    start: int | None
    end: int | None
    frames: int
    warmup_start: int | None
    warmup: int
    seek: tuple[int, ...]


@dataclass(frozen=True)
class VideoScan:
    """What one pass over a video's packets tells: its size and timing, every frame's timestamp (sorted) and the
    keyframes'."""

    path: Path
    width: int
    height: int
    time_base: Fraction
    frame_rate: Fraction | None
    times: tuple[int, ...]
    keyframes: tuple[int, ...]

    @property
    def seconds(self) -> float:
        """From the first frame to the last."""
        return float((self.times[-1] - self.times[0]) * self.time_base)


@dataclass(frozen=True)
class VideoPlan:
    """A video's chunks and what a task must know about the video to render one."""

    path: Path
    width: int
    height: int
    time_base: Fraction
    frame_rate: Fraction | None
    frames: int
    chunks: tuple[Chunk, ...]


def scan_video(path: Path) -> VideoScan:
    """Open ``path`` and read its video packets (nothing past the first frame is decoded). Raises
    :class:`InputError` for a file that cannot be read, has no frames, lacks timestamps or breaks off before its
    declared end."""
    with VideoReader(path, decoder_threads=1) as reader:  # checks the file and decodes its first frame
        width, height, time_base, frame_rate = reader.width, reader.height, reader.time_base, reader.frame_rate
        declared = reader.duration
    times, keyframes, end = _scan(path)
    slack = max(0.25, 3 / float(frame_rate or 25))
    if declared is not None and float(end * time_base) + slack < declared:
        raise InputError(f"{path}: the video breaks off at {float(end * time_base):.2f} s of {declared:.2f} s; the "
                         "file is cut short or damaged")
    return VideoScan(path, width, height, time_base, frame_rate, tuple(times), tuple(keyframes))


def auto_chunk_seconds(seconds: float, slots: int) -> float:
    """A chunk length that gives every task slot :data:`CHUNKS_PER_SLOT` chunks (so slots finish close together),
    within :data:`MIN_CHUNK_SECONDS` (warm-up and start-up stay small beside a chunk) and
    :data:`MAX_CHUNK_SECONDS` (an interrupted run loses little)."""
    return min(MAX_CHUNK_SECONDS, max(MIN_CHUNK_SECONDS, seconds / (CHUNKS_PER_SLOT * max(1, slots))))


def plan_chunks(scan: VideoScan, *, chunk_seconds: float, warmup: int) -> VideoPlan:
    """Cut the video at the first keyframe at least ``chunk_seconds`` after the start of the current chunk; each
    chunk but the first starts ``warmup`` frames early."""
    if chunk_seconds <= 0:
        raise InputError(f"chunk length must be positive, got {chunk_seconds} s")
    if warmup < 0:
        raise InputError(f"warm-up must be 0 frames or more, got {warmup}")
    times, keyframes = scan.times, scan.keyframes
    starts = _chunk_starts(times[0], keyframes, math.ceil(chunk_seconds / scan.time_base))
    chunks = []
    for index, start in enumerate(starts):
        end_pts = starts[index + 1] if index + 1 < len(starts) else None
        first = bisect.bisect_left(times, start)
        last = bisect.bisect_left(times, end_pts) if end_pts is not None else len(times)
        lead = min(warmup, first)
        warmup_start = times[first - lead]
        seek = tuple(reversed([key for key in keyframes if key <= warmup_start]))[:4]
        chunks.append(Chunk(index, start if index else None, end_pts, last - first,
                            warmup_start if index else None, lead, seek if index else ()))
    return VideoPlan(scan.path, scan.width, scan.height, scan.time_base, scan.frame_rate, len(times), tuple(chunks))


def plan_video(path: Path, *, chunk_seconds: float, warmup: int) -> VideoPlan:
    """:func:`scan_video` then :func:`plan_chunks`."""
    return plan_chunks(scan_video(path), chunk_seconds=chunk_seconds, warmup=warmup)


def _scan(path: Path) -> tuple[list[int], list[int], int]:
    """The video frames' timestamps (sorted), the keyframes' and the end of the last frame."""
    times: list[int] = []
    keyframes: list[int] = []
    end = 0
    try:
        with open_input(path) as container:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                if packet.pts is None:
                    raise InputError(f"{path}: video packets without timestamps; render it with `stylize video` "
                                     "without --ray")
                times.append(packet.pts)
                if packet.is_keyframe:
                    keyframes.append(packet.pts)
                end = max(end, packet.pts + (packet.duration or 0))
    except av.error.FFmpegError as error:
        raise InputError(f"{path}: cannot read the video packets ({error.strerror})") from error
    times.sort()
    if len(set(times)) != len(times):
        raise InputError(f"{path}: several video frames share a timestamp; render it with `stylize video` without "
                         "--ray")
    keyframes.sort()
    if not times:
        raise InputError(f"{path}: the video stream has no frames")
    return times, keyframes, end


def _chunk_starts(first: int, keyframes: tuple[int, ...], length: int) -> list[int]:
    """The first frame's timestamp, then each keyframe at least ``length`` after the start before it."""
    starts = [first]
    for key in keyframes:
        if key - starts[-1] >= length:
            starts.append(key)
    return starts
