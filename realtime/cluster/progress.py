"""The driver's view of a running job: one progress line for the whole cluster and a per-chunk summary."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TextIO

from ..media.pipeline import StatusLine, time_left
from .task import ChunkResult


class FrameCounter:
    """Frames finished so far in each running chunk, as the tasks report them (run as a Ray actor). A retried
    chunk reports again from its first frame."""

    def __init__(self) -> None:
        self.frames: dict[int, int] = {}

    def report(self, index: int, frames: int) -> None:
        """Chunk ``index`` has ``frames`` frames done."""
        self.frames[index] = frames

    def snapshot(self) -> dict[int, int]:
        """Frames done per chunk."""
        return dict(self.frames)


class ClusterProgress(StatusLine):
    """One self-overwriting line: frames done of the total, frames/s over the cluster (frames rendered by this
    run over its time) and the time left."""

    def __init__(self, stream: TextIO, total: int, already: int) -> None:
        super().__init__(stream, width=72)
        self.total, self.already = total, already
        self.start = time.monotonic()

    def show(self, rendered: int, chunks_done: int, chunks: int) -> None:
        """Show ``rendered`` frames done by this run (on top of those of finished chunks found at the start)."""
        elapsed = time.monotonic() - self.start
        fps = rendered / elapsed if elapsed > 0 else 0.0
        done = self.already + rendered
        line = f"frames {done}/{self.total}  chunks {chunks_done}/{chunks}  {fps:.1f} frames/s"
        if fps > 0 and done < self.total:
            line += f"  ETA {time_left((self.total - done) / fps, hours=True)}"
        self.write(line)


def summary(results: Sequence[ChunkResult], resumed: Sequence[int], frames: dict[int, int]) -> list[str]:
    """The per-chunk table: frames, warm-up frames, task seconds and frames/s, and the node (or "resumed")."""
    lines = [f"{'chunk':>5}  {'frames':>6}  {'warm-up':>7}  {'seconds':>8}  {'frames/s':>8}  node"]
    by_index = {result.index: result for result in results}
    for index in sorted([*by_index, *resumed]):
        result = by_index.get(index)
        if result is None:
            lines.append(f"{index:>5}  {frames[index]:>6}  {'':>7}  {'':>8}  {'':>8}  resumed (finished earlier)")
        else:
            lines.append(f"{index:>5}  {result.frames:>6}  {result.warmup:>7}  {result.seconds:>8.1f}  "
                         f"{result.fps:>8.1f}  {result.node} (pid {result.pid})")
    return lines
