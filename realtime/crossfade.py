"""A style switch that fades instead of cutting: styles of one shared network fade through their mixes (one network
pass a frame); styles of different networks fade by blending the two networks' outputs while the fade lasts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .engine import StyleEngine

#: Seconds a style switch takes by default in the live commands (``--fade``).
DEFAULT_FADE = 0.5


@dataclass
class Crossfade:
    """From one (engine, vector) to another over ``seconds`` of the ``clock`` (``time.monotonic`` by default)."""

    old_engine: StyleEngine
    old_vector: np.ndarray | None
    new_engine: StyleEngine
    new_vector: np.ndarray | None
    seconds: float
    clock: Callable[[], float] = time.monotonic
    start: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.start < 0:
            self.start = self.clock()

    def progress(self) -> float:
        """0 at the switch, 1 when the fade is over."""
        if self.seconds <= 0:
            return 1.0
        return min(1.0, max(0.0, (self.clock() - self.start) / self.seconds))

    def vector_now(self) -> np.ndarray | None:
        """The style vector at this point of a fade within one shared network (None between networks)."""
        if self.old_engine is not self.new_engine or self.old_vector is None or self.new_vector is None:
            return None
        t = self.progress()
        return (1.0 - t) * self.old_vector + t * self.new_vector

    def run(self, frame: np.ndarray) -> np.ndarray:
        """The network output for ``frame`` at this point of the fade."""
        t = self.progress()
        if t >= 1.0:
            return _run(self.new_engine, frame, self.new_vector)
        vector = self.vector_now()
        if vector is not None:
            return self.new_engine(frame, vector)
        old = _run(self.old_engine, frame, self.old_vector).astype(np.float32)
        new = _run(self.new_engine, frame, self.new_vector).astype(np.float32)
        return np.rint(old + t * (new - old)).astype(np.uint8)


def _run(engine: StyleEngine, frame: np.ndarray, vector: np.ndarray | None) -> np.ndarray:
    return engine(frame) if vector is None else engine(frame, vector)
