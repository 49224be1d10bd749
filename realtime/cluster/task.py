"""One chunk's work, run by a Ray task on any node: decode the chunk and its warm-up frames, stylize them with the
settings of ``stylize video``, and encode the chunk's own frames (video only) into a chunk file, atomically."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framestyle.engine import EngineOptions
from framestyle.errors import InputError
from framestyle.media.reader import Frame, VideoReader
from framestyle.media.writer import open_writer
from framestyle.stylizer import Stylizer

from .plan import Chunk, VideoPlan

#: How often, in seconds, a task reports the frames it has finished.
REPORT_EVERY = 0.5


@dataclass(frozen=True)
class RenderSettings:
    """The options of ``stylize video`` that change the output, as the driver passes them to every task."""

    style: str | None
    strength: float = 1.0
    preserve_color: bool = False
    max_side: int | None = None
    temporal: float = 0.8
    device: str = "auto"
    crf: int | None = None
    codec: str | None = None
    preset: str | None = None

    def stylizer(self) -> Stylizer:
        """A stylizer for one task: a single-threaded network, one frame at a time (a task holds one CPU)."""
        return Stylizer(self.style, strength=self.strength, preserve_color=self.preserve_color,
                        max_side=self.max_side, temporal=self.temporal,
                        engine_options=EngineOptions(device=self.device, threads=1))


@dataclass(frozen=True)
class ChunkResult:
    """What a task did: the chunk file's name, size and sha256, its frames, and where and how fast it ran."""

    index: int
    file: str
    bytes: int
    sha256: str
    frames: int
    warmup: int
    seconds: float
    node: str
    pid: int

    @property
    def fps(self) -> float:
        """Frames of the chunk per second of the task."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def chunk_path(work: Path, chunk: Chunk, suffix: str) -> Path:
    """Where chunk ``chunk`` of a job whose work folder is ``work`` is written."""
    return work / f"chunk-{chunk.index:05d}{suffix}"


def render_chunk(plan: VideoPlan, chunk: Chunk, settings: RenderSettings, work: Path, suffix: str,
                 report: Callable[[int, int], None] | None = None) -> ChunkResult:
    """Render ``chunk`` of ``plan``'s video into its chunk file in ``work``; ``report(index, frames)`` hears the
    frames finished so far, every :data:`REPORT_EVERY` seconds."""
    started = time.monotonic()
    stylizer = settings.stylizer()
    path = chunk_path(work, chunk, suffix)
    reader = _open_at(plan, chunk)
    with reader:
        writer = open_writer(path, width=reader.width, height=reader.height, time_base=reader.time_base,
                             frame_rate=reader.frame_rate, crf=settings.crf, codec=settings.codec,
                             preset=settings.preset, encoder_threads=1)
        with writer:  # renamed into place when complete, removed on any error
            written, reported = 0, time.monotonic()
            for frame in _stylized(stylizer, _frames_of(reader, chunk)):
                if chunk.start is None or frame.pts >= chunk.start:
                    writer.write(frame)
                    written += 1
                    if report is not None and time.monotonic() - reported >= REPORT_EVERY:
                        report(chunk.index, written)
                        reported = time.monotonic()
            if written != chunk.frames:
                raise InputError(f"{plan.path}: chunk {chunk.index} decoded to {written} frames, its packets "
                                 f"promised {chunk.frames}")
    if report is not None:
        report(chunk.index, written)
    return ChunkResult(chunk.index, path.name, path.stat().st_size, file_sha256(path), written, chunk.warmup,
                       time.monotonic() - started, socket.gethostname(), os.getpid())


def _open_at(plan: VideoPlan, chunk: Chunk) -> VideoReader:
    """The video opened at a keyframe at or before the chunk's warm-up start."""
    if chunk.warmup_start is None:
        return VideoReader(plan.path, decoder_threads=1)
    for key in chunk.seek:
        reader = VideoReader(plan.path, decoder_threads=1, seek=key)
        if reader.first_pts <= chunk.warmup_start:
            return reader
        reader.close()
    return VideoReader(plan.path, decoder_threads=1)  # the index is of no help: decode from the start


def _frames_of(reader: VideoReader, chunk: Chunk) -> Iterator[Frame]:
    """The frames from the warm-up start to the chunk's end."""
    for frame in reader.frames():
        if chunk.end is not None and frame.pts >= chunk.end:
            return
        if chunk.warmup_start is None or frame.pts >= chunk.warmup_start:
            yield frame


def _stylized(stylizer: Stylizer, frames: Iterator[Frame]) -> Iterator[Frame]:
    """The frames with their images stylized, in order."""
    waiting: deque[Frame] = deque()

    def images() -> Iterator[np.ndarray]:
        for frame in frames:
            waiting.append(frame)
            yield frame.image

    for image in stylizer.stream(images()):
        yield dataclasses.replace(waiting.popleft(), image=image)


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
