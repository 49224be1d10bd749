"""Per-client counters of a server: frames per second and latency percentiles, for periodic and final reports."""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

#: Latencies kept per client for the final report (the most recent ones).
_KEEP = 4096


def _percentiles(latencies: list[float] | deque[float]) -> str:
    if not latencies:
        return "p50 -, p95 -"
    p50, p95 = np.percentile(np.asarray(latencies, np.float64) * 1000.0, [50, 95])
    return f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"


class ClientStats:
    """What one client got: frames stylized, dropped and failed, and the server-side latency of each (from the
    frame fully received to its reply sent)."""

    def __init__(self, number: int, name: str, peer: str) -> None:
        self.number = number
        self.label = f"client {number} ({name or 'unnamed'}, {peer})"
        self.started = time.monotonic()
        self.ended: float | None = None
        self.frames = 0
        self.dropped = 0
        self.failed = 0
        self._latencies: deque[float] = deque(maxlen=_KEEP)
        self._window: list[float] = []
        self._window_start = self.started
        self._lock = threading.Lock()

    def record(self, latency: float) -> None:
        with self._lock:
            self.frames += 1
            self._latencies.append(latency)
            if len(self._window) < _KEEP:
                self._window.append(latency)

    def record_drop(self) -> None:
        with self._lock:
            self.dropped += 1

    def record_failure(self) -> None:
        with self._lock:
            self.failed += 1

    def finish(self) -> None:
        self.ended = time.monotonic()

    def interval_line(self) -> str:
        """Frames/s and latency since the previous interval line (or the start)."""
        now = time.monotonic()
        with self._lock:
            window, self._window = self._window, []
            elapsed, self._window_start = now - self._window_start, now
        return f"{self.label}: {len(window) / max(elapsed, 1e-9):.1f} frames/s, {_percentiles(window)}"

    def summary_line(self) -> str:
        """Totals over the whole connection (latency percentiles over its last frames)."""
        elapsed = (self.ended or time.monotonic()) - self.started
        with self._lock:
            percentiles = _percentiles(self._latencies)
            frames, dropped, failed = self.frames, self.dropped, self.failed
        return (f"{self.label}: {frames} frames in {elapsed:.1f} s, {frames / max(elapsed, 1e-9):.1f} frames/s, "
                f"{percentiles}, {dropped} dropped, {failed} failed")
