"""The file pipeline: decode, process and encode in three threads joined by bounded queues.

A full queue blocks the stage before it (back-pressure), so nothing is dropped and memory stays bounded; frames keep
their order, and audio packets travel with them untouched so the writer can interleave them. The processing stage
maps the stream of images as a whole (``Stylizer.stream``, or ``functools.partial(map, f)`` for a per-image ``f``),
so it may keep several frames in flight. The calling thread shows progress and waits; Ctrl-C (or an error in any
stage) stops every stage and removes the temporary output.
"""

from __future__ import annotations

import dataclasses
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

import av
import numpy as np

from framestyle.media.reader import Frame, VideoReader
from framestyle.media.writer import FrameWriter

#: Maps the stream of decoded images to the stream of processed images, one out for each in, in order.
Process = Callable[[Iterator[np.ndarray]], Iterable[np.ndarray]]
_DONE = object()


@dataclass(frozen=True)
class PipelineStats:
    """What a run did: frames and audio packets written, wall time from first read to the finished output, and
    whether the input broke off (when partial output was asked for)."""

    frames: int
    audio_packets: int
    seconds: float
    truncated: bool = False

    @property
    def fps(self) -> float:
        """End-to-end frames per second."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _Stopped(Exception):
    """Raised inside a stage when another stage failed or the run was interrupted."""


class _Stage:
    """A thread that runs one job, remembers what it raised, and tells the others to stop when it fails."""

    def __init__(self, name: str, job: Callable[[], None], stop: threading.Event) -> None:
        self.error: BaseException | None = None
        # Waiting on this event, unlike Thread.join, stays correct when Ctrl-C interrupts the wait.
        self.done = threading.Event()
        self._job, self._stop = job, stop
        self.thread = threading.Thread(target=self._run, name=f"framestyle-{name}", daemon=True)

    def _run(self) -> None:
        try:
            self._job()
        except _Stopped:
            pass
        except BaseException as error:
            self.error = error
            self._stop.set()
        finally:
            self.done.set()


def run_pipeline(reader: VideoReader, process: Process, writer: FrameWriter, *, queue_size: int = 8,
                 progress: bool | None = None, stream: TextIO | None = None) -> PipelineStats:
    """Decode ``reader``'s frames, map their images through ``process`` and encode them and the audio with
    ``writer``, which is closed at the end (or aborted on any error or Ctrl-C, which are re-raised).

    ``progress`` (default: when ``stream``, standard error by default, is a terminal) shows frames, frames/s and
    the time left on ``stream``.
    """
    stream = stream or sys.stderr
    show = stream.isatty() if progress is None else progress
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(queue_size)
    processed: queue.Queue = queue.Queue(queue_size)
    counts = {"frames": 0, "audio": 0}

    def decode() -> None:
        for item in reader.items():
            _put(decoded, item, stop)
        _put(decoded, _DONE, stop)

    def work() -> None:
        waiting: deque[Frame | av.Packet] = deque()  # read but not yet passed on, in their order

        def images() -> Iterator[np.ndarray]:
            for item in _drain(decoded, stop):
                waiting.append(item)
                if isinstance(item, Frame):
                    yield item.image

        def pass_on_audio() -> None:
            while waiting and not isinstance(waiting[0], Frame):
                _put(processed, waiting.popleft(), stop)

        for image in process(images()):
            pass_on_audio()
            _put(processed, dataclasses.replace(waiting.popleft(), image=image), stop)
        pass_on_audio()
        _put(processed, _DONE, stop)

    def encode() -> None:
        for item in _drain(processed, stop):
            if isinstance(item, Frame):
                writer.write(item)
                counts["frames"] += 1
            else:
                writer.write_audio(item)
                counts["audio"] += 1
        writer.close()

    start = time.monotonic()
    stages = [_Stage(name, job, stop) for name, job in (("decode", decode), ("process", work), ("encode", encode))]
    for stage in stages:
        stage.thread.start()
    meter = _Progress(stream, reader.frame_count, start) if show else None
    try:
        while running := [stage for stage in stages if not stage.done.is_set()]:
            running[-1].done.wait(0.25)
            if meter:
                meter.show(counts["frames"])
    except BaseException:
        stop.set()
        _wait_all(stages)
        writer.abort()
        raise
    finally:
        if meter:
            meter.end()
    errors = [stage.error for stage in stages if stage.error is not None]
    if errors:
        writer.abort()
        raise errors[0]
    return PipelineStats(counts["frames"], counts["audio"], time.monotonic() - start, reader.truncated)


def _put(q: queue.Queue, item: object, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _drain(q: queue.Queue, stop: threading.Event) -> Iterable[Frame | av.Packet]:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            continue
        if item is _DONE:
            return
        yield item


def _wait_all(stages: list[_Stage]) -> None:
    for stage in stages:
        stage.done.wait()


class StatusLine:
    """One self-overwriting line on a terminal stream (progress of long work)."""

    def __init__(self, stream: TextIO, width: int = 60) -> None:
        self.stream, self.width = stream, width
        self.shown = False

    def write(self, line: str) -> None:
        """Replace the line's text."""
        self.stream.write(f"\r{line:<{self.width}}")
        self.stream.flush()
        self.shown = True

    def end(self) -> None:
        """End the line (nothing when nothing was shown)."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def time_left(seconds: float, hours: bool = False) -> str:
    """``m:ss``, or ``h:mm:ss`` with ``hours``."""
    left = round(seconds)
    if hours:
        return f"{left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}"
    return f"{left // 60}:{left % 60:02d}"


class _Progress(StatusLine):
    """Frames done (of the total when known), frames/s and the time left."""

    def __init__(self, stream: TextIO, total: int | None, start: float) -> None:
        super().__init__(stream)
        self.total, self.start = total, start

    def show(self, done: int) -> None:
        elapsed = time.monotonic() - self.start
        fps = done / elapsed if elapsed > 0 else 0.0
        line = f"frames {done}" + (f"/{self.total}" if self.total else "") + f"  {fps:.1f} frames/s"
        if self.total and fps > 0 and done < self.total:
            line += f"  ETA {time_left((self.total - done) / fps)}"
        self.write(line)
