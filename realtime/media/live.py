"""The camera loop: a live source read in a thread (latest frame wins), each newest frame stylized, with the
readout of frames/s and latency. ``stylize webcam`` is this loop with a window, a recording or a virtual camera
around it; in Python::

    from framestyle.media.live import stylize_live
    from framestyle.stylizer import Stylizer

    for frame in stylize_live("0", Stylizer("starry_night"), seconds=10):   # camera 0, a URL or a video file
        show(frame.image)                                                   # frame.latency, frame.dropped ...
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from framestyle.errors import InputError
from framestyle.media.camera import FrameSource, LatestFrame, open_source

#: Seconds without a frame after which a live source counts as stalled.
STALL_SECONDS = 10.0


@dataclass(frozen=True)
class LiveFrame:
    """A stylized frame of a live source: when its input was captured (``time.monotonic``), the seconds from
    capture to stylized frame, and the source's frames per second (None if it does not say) and drops so far."""

    image: np.ndarray
    captured: float
    latency: float
    fps: float | None
    dropped: int


class Readout:
    """Frames/s and latency (capture to stylized frame) over the last second."""

    def __init__(self) -> None:
        self.frames = 0
        self.start = time.monotonic()
        self._recent: collections.deque[tuple[float, float]] = collections.deque()
        self._printed = self.start

    def add(self, latency: float) -> None:
        """Count a stylized frame and its latency in seconds."""
        now = time.monotonic()
        self.frames += 1
        self._recent.append((now, latency))
        while self._recent[0][0] < now - 1.0:
            self._recent.popleft()

    def line(self, dropped: int) -> str:
        """The readout: frames/s and mean latency over the last second, and the frames dropped so far."""
        span = self._recent[-1][0] - self._recent[0][0] if len(self._recent) > 1 else 0.0
        fps = (len(self._recent) - 1) / span if span > 0 else 0.0
        latency = 1000 * sum(lat for _, lat in self._recent) / max(1, len(self._recent))
        return f"{fps:5.1f} frames/s  latency {latency:4.0f} ms  dropped {dropped}"

    def due(self) -> bool:
        """True once a second (for the printed readout)."""
        now = time.monotonic()
        if now - self._printed < 1.0:
            return False
        self._printed = now
        return True


def stylize_live(source: str | int | FrameSource, stylize: Callable[[np.ndarray], np.ndarray], *,
                 max_frames: int | None = None, seconds: float | None = None,
                 stall_seconds: float = STALL_SECONDS, readout: Readout | None = None) -> Iterator[LiveFrame]:
    """Stylize a live source (a camera index, a stream URL, a video file played at its own rate, or a
    :class:`FrameSource`), always the newest frame: late frames are dropped, never queued, so latency stays low.

    ``stylize`` is called on each frame (a :class:`~framestyle.stylizer.Stylizer`, or any function of a frame).
    Ends when the source ends, after ``max_frames`` frames or ``seconds``; a source silent for ``stall_seconds``
    is an :class:`InputError`. ``readout`` (optional) counts every frame. Closing the iterator releases the source.
    """
    readout = readout or Readout()
    end = time.monotonic() + seconds if seconds else None
    opened = source if not isinstance(source, str | int) else open_source(source)
    with LatestFrame(opened) as capture:
        while max_frames is None or readout.frames < max_frames:
            captured = capture.get(timeout=stall_seconds)
            if captured is None:
                if capture.ended:
                    return
                raise InputError(f"{source}: no frame for {stall_seconds:.0f} s")
            image = stylize(captured.image)
            latency = time.monotonic() - captured.time
            readout.add(latency)
            yield LiveFrame(image, captured.time, latency, capture.source.fps, capture.dropped)
            if end is not None and time.monotonic() >= end:
                return
