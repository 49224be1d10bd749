"""Live capture with latest-frame-wins: a thread reads the source as fast as it delivers and keeps only the newest
frame; a frame nobody took before the next one arrived is dropped and counted, never queued.

Sources: a camera index or a stream URL (OpenCV), a video file played at its own frame rate, or a generated test
pattern at a given rate.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from framestyle.errors import InputError
from framestyle.media.reader import VideoReader

#: Where OpenCV's log level is set: cv2.utils.logging from OpenCV 4.13 on (5.x has only that), cv2 itself before.
_LOG = getattr(cv2.utils, "logging", cv2)
_SILENT = getattr(_LOG, "LOG_LEVEL_SILENT", 0)


class FrameSource(Protocol):
    """Something that delivers RGB frames at its own pace."""

    #: Nominal frames per second, when known.
    fps: float | None

    def read(self) -> np.ndarray | None:
        """Block until the next (H, W, 3) uint8 RGB frame and return it; None when the source has ended."""

    def close(self) -> None:
        """Release the device or file."""


class OpenCVSource:
    """A camera by index, or a stream URL, through ``cv2.VideoCapture``."""

    def __init__(self, spec: int | str) -> None:
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # quiet FFmpeg inside OpenCV: failures are reported here
        level = _LOG.getLogLevel()
        _LOG.setLogLevel(_SILENT)  # a missing camera is reported below
        try:
            self._capture = cv2.VideoCapture(spec)
        finally:
            _LOG.setLogLevel(level)
        if not self._capture.isOpened():
            self._capture.release()
            what = f"no camera at index {spec}" if isinstance(spec, int) else f"{spec}: cannot open this stream"
            raise InputError(f"{what} (give --camera with another index, a stream URL or a video file)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps > 0 else None

    def read(self) -> np.ndarray | None:
        """The next frame from the device, or None when it stops delivering."""
        ok, bgr = self._capture.read()
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok else None

    def close(self) -> None:
        self._capture.release()


class VideoFileSource:
    """A video file played at its real frame rate (its timestamps), like a camera would deliver it."""

    def __init__(self, path: str | Path) -> None:
        self._reader = VideoReader(path)
        self.fps = float(self._reader.frame_rate) if self._reader.frame_rate else None
        self._frames = self._reader.frames()
        self._origin: float | None = None

    def read(self) -> np.ndarray | None:
        """The next frame, released no earlier than its timestamp says (relative to the first frame's)."""
        frame = next(self._frames, None)
        if frame is None:
            return None
        now = time.monotonic()
        if self._origin is None:
            self._origin = now - frame.time
        time.sleep(max(0.0, self._origin + frame.time - now))
        return frame.image

    def close(self) -> None:
        self._reader.close()


class PatternSource:
    """Generated frames at ``fps``: a moving bar over a gradient, with the frame's number written into its first
    pixel (read it back with :func:`pattern_index`). Ends after ``frames`` frames, or never when None."""

    def __init__(self, width: int = 160, height: int = 120, fps: float = 30.0, frames: int | None = None) -> None:
        if width < 1 or height < 1 or fps <= 0:
            raise InputError(f"a test pattern needs a size and a positive rate, got {width}x{height} at {fps}")
        self.width, self.height, self.fps, self.frames = width, height, fps, frames
        self._count = 0
        self._start: float | None = None
        self._gradient = np.linspace(0, 255, width, dtype=np.uint8)[None, :, None].repeat(height, 0).repeat(3, 2)

    def read(self) -> np.ndarray | None:
        """The next frame, released on its slot of the ``fps`` clock."""
        if self.frames is not None and self._count >= self.frames:
            return None
        if self._start is None:
            self._start = time.monotonic()
        time.sleep(max(0.0, self._start + self._count / self.fps - time.monotonic()))
        image = self._gradient.copy()
        bar = (self._count * 4) % self.width
        image[1:, bar:bar + 4] = (255, 64, 0)
        image[0, 0] = (self._count >> 8 & 255, self._count & 255, 0)
        self._count += 1
        return image

    def close(self) -> None:
        """Nothing to release."""


def pattern_index(image: np.ndarray) -> int:
    """The frame number :class:`PatternSource` wrote into a frame."""
    return int(image[0, 0, 0]) * 256 + int(image[0, 0, 1])


def open_source(spec: str | int) -> FrameSource:
    """A source from a ``--camera`` value: a camera index (digits), a URL (``scheme://...``) or a video file."""
    if isinstance(spec, int) or spec.isdigit():
        return OpenCVSource(int(spec))
    if "://" in spec:
        return OpenCVSource(spec)
    return VideoFileSource(spec)


@dataclass(frozen=True)
class Captured:
    """A frame from a live source: its number in capture order (from 0) and when it arrived (``time.monotonic``)."""

    image: np.ndarray
    index: int
    time: float


class LatestFrame:
    """Reads ``source`` in a thread and keeps only the newest frame.

    ``get`` returns a frame newer than the one it returned last, waiting for one if needed; frames that arrive
    while an earlier one is still waiting replace it and are counted in ``dropped``. Use as a context manager (or
    call ``close``) to stop the thread and release the source.
    """

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.produced = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self._latest: Captured | None = None
        self._ended = False
        self._stop = threading.Event()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._capture, name="framestyle-capture", daemon=True)
        self._thread.start()

    def _capture(self) -> None:
        try:
            while not self._stop.is_set():
                image = self.source.read()
                if image is None:
                    break
                with self._ready:
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = Captured(image, self.produced, time.monotonic())
                    self.produced += 1
                    self._ready.notify_all()
        except BaseException as error:
            self.error = error
        finally:
            with self._ready:
                self._ended = True
                self._ready.notify_all()

    @property
    def ended(self) -> bool:
        """Whether the source has ended (or failed) and every frame it gave was taken."""
        with self._ready:
            return self._ended and self._latest is None

    def get(self, timeout: float | None = None) -> Captured | None:
        """The newest frame not returned before; None when the source has ended (or after ``timeout`` seconds
        without a new frame). An error in the source is raised here."""
        with self._ready:
            self._ready.wait_for(lambda: self._latest is not None or self._ended, timeout)
            captured, self._latest = self._latest, None
        if captured is None and self.error is not None:
            raise self.error
        return captured

    def __iter__(self) -> Iterator[Captured]:
        """Every frame ``get`` returns, until the source ends."""
        while (captured := self.get()) is not None:
            yield captured

    def close(self) -> None:
        """Stop the capture thread (after the read in progress) and release the source."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.source.close()

    def __enter__(self) -> LatestFrame:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
