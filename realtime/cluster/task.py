"""One chunk's work, run by a Ray task on any node: decode the chunk and its warm-up frames, stylize them with the
settings of ``stylize video``, and encode the chunk's own frames (video only) into a chunk file, atomically."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av

from framestyle.errors import InputError
from framestyle.media.pipeline import run_pipeline
from framestyle.media.reader import Frame, VideoReader
from framestyle.media.writer import FrameWriter, open_writer
from framestyle.stylizer import StyleOptions

from .plan import Chunk, VideoPlan

#: How often, in seconds, a task reports the frames it has finished.
REPORT_EVERY = 0.5


@dataclass(frozen=True)
class RenderSettings(StyleOptions):
    """The options of ``stylize video`` that change the output, as the driver passes them to every task. A task
    holds one CPU: its network runs single-threaded, one frame at a time, whatever ``threads`` says."""

    crf: int | None = None
    codec: str | None = None
    preset: str | None = None


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
    frames finished so far, every :data:`REPORT_EVERY` seconds. Decoding, stylizing and encoding run in the
    threads of ``stylize video``'s pipeline."""
    started = time.monotonic()
    stylizer = dataclasses.replace(settings, threads=1).stylizer()
    path = chunk_path(work, chunk, suffix)
    with _open_at(plan, chunk) as reader:
        writer = open_writer(path, width=reader.width, height=reader.height, time_base=reader.time_base,
                             frame_rate=reader.frame_rate, crf=settings.crf, codec=settings.codec,
                             preset=settings.preset, encoder_threads=1)
        kept = _ChunkWriter(writer, chunk, report)
        run_pipeline(_ChunkSource(reader, chunk), stylizer.stream, kept, progress=False)  # closes or aborts it
    if kept.frames != chunk.frames:
        path.unlink(missing_ok=True)
        raise InputError(f"{plan.path}: chunk {chunk.index} decoded to {kept.frames} frames, its packets promised "
                         f"{chunk.frames}")
    if report is not None:
        report(chunk.index, kept.frames)
    return ChunkResult(chunk.index, path.name, path.stat().st_size, file_sha256(path), kept.frames, chunk.warmup,
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


class _ChunkSource:
    """The reader's frames from the chunk's warm-up start to its end (no audio), for :func:`run_pipeline`."""

    def __init__(self, reader: VideoReader, chunk: Chunk) -> None:
        self._reader, self._chunk = reader, chunk
        self.frame_count = chunk.frames + chunk.warmup
        self.truncated = False

    def items(self) -> Iterator[Frame]:
        start, end = self._chunk.warmup_start, self._chunk.end
        for frame in self._reader.frames():
            if end is not None and frame.pts >= end:
                return
            if start is None or frame.pts >= start:
                yield frame


class _ChunkWriter(FrameWriter):
    """Passes the chunk's own frames to ``writer`` (the warm-up frames are dropped), counting and reporting them."""

    def __init__(self, writer: FrameWriter, chunk: Chunk, report: Callable[[int, int], None] | None) -> None:
        super().__init__(writer.path)
        self._writer, self._chunk, self._report = writer, chunk, report
        self.frames = 0
        self._reported = time.monotonic()

    def write(self, frame: Frame) -> None:
        if self._chunk.start is not None and frame.pts < self._chunk.start:
            return
        self._writer.write(frame)
        self.frames += 1
        if self._report is not None and time.monotonic() - self._reported >= REPORT_EVERY:
            self._report(self._chunk.index, self.frames)
            self._reported = time.monotonic()

    def write_audio(self, packet: av.Packet) -> None:
        """A chunk holds no audio (the join takes it from the input)."""

    def close(self) -> None:
        self._writer.close()

    def abort(self) -> None:
        self._writer.abort()


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
