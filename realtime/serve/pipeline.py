"""What the server does with a frame: the frame-processor interface (one processor per client, made by a factory
the server is given) and the default processor (a bank's shared style networks, per-client temporal smoothing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from framestyle.bank import StyleBank
from framestyle.kernels.occlusion import DEFAULT_DEPTH_TOLERANCE
from framestyle.serve.protocol import StyleEntry
from framestyle.stylizer import Stylizer
from framestyle.temporal import DEFAULT_TEMPORAL, TemporalFilter


@dataclass(frozen=True)
class FrameJob:
    """One frame to stylize, in the server's conventions, with its per-frame controls.

    ``rgb`` is (H, W, 3) uint8 top-down RGB; ``motion`` (H, W, 2) float32 backward displacements in pixels to the
    previous frame this processor was given (already chained across dropped frames); ``depth`` (H, W) float32
    linear, +inf where there is no geometry. ``motion`` and ``depth`` are None when the client sent none.
    """

    rgb: np.ndarray
    style: str
    strength: float = 1.0
    temporal: bool = True
    reset: bool = False
    preserve_color: bool = False
    motion: np.ndarray | None = None
    depth: np.ndarray | None = None


#: Stylizes a client's frames in order: a job in, an (H, W, 3) uint8 RGB frame of the same size out.
FrameProcessor = Callable[[FrameJob], np.ndarray]
#: Makes the processor of a new client.
ProcessorFactory = Callable[[], FrameProcessor]


def style_entries(bank: StyleBank) -> tuple[StyleEntry, ...]:
    """The bank's styles as the handshake lists them, in the order given (the first is the default)."""
    return tuple(StyleEntry(name, model.title) for name, model in bank.models.items())


class StylePipeline:
    """One client's processor: a :class:`Stylizer` over the bank's shared network of the style each frame names,
    with the frame's strength, colour and smoothing controls (the smoothing by the engine's motion vectors and depth
    when it sends them, else by optical flow)."""

    def __init__(self, bank: StyleBank, temporal_weight: float = DEFAULT_TEMPORAL,
                 depth_tolerance: float = DEFAULT_DEPTH_TOLERANCE) -> None:
        self.bank = bank
        self.temporal_weight = temporal_weight
        self.depth_tolerance = depth_tolerance
        self._stylizer: Stylizer | None = None

    def __call__(self, job: FrameJob) -> np.ndarray:
        stylizer = self._stylizer
        if stylizer is None or stylizer.model.name != job.style:  # a new style starts a fresh history
            smoothing = TemporalFilter(self.temporal_weight, depth_tolerance=self.depth_tolerance)
            stylizer = self._stylizer = self.bank.stylizer(job.style, temporal=smoothing)
        elif job.reset:
            stylizer.reset()
        stylizer.strength, stylizer.preserve_color = job.strength, job.preserve_color
        stylizer.set_temporal(self.temporal_weight if job.temporal else 0.0)
        return stylizer(job.rgb, job.motion, job.depth)


def style_pipelines(bank: StyleBank, temporal_weight: float = DEFAULT_TEMPORAL,
                    depth_tolerance: float = DEFAULT_DEPTH_TOLERANCE) -> ProcessorFactory:
    """The default processor factory: a :class:`StylePipeline` per client over one shared :class:`StyleBank`."""
    return lambda: StylePipeline(bank, temporal_weight, depth_tolerance)
