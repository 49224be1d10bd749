"""What the server does with a frame: the frame-processor interface (one processor per client, made by a factory
the server is given) and the default processor (a bank's shared style networks, per-client temporal smoothing,
style switches that fade)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from framestyle.bank import StyleBank
from framestyle.catalog import StyleModel, combine_styles
from framestyle.crossfade import DEFAULT_FADE
from framestyle.kernels.occlusion import DEFAULT_DEPTH_TOLERANCE
from framestyle.serve.protocol import StyleEntry
from framestyle.stylizer import Stylizer
from framestyle.temporal import DEFAULT_TEMPORAL, TemporalFilter

#: What a frame selects: its style's name, or a mix's (name, weight) pairs.
Selection = tuple[str, tuple[tuple[str, float], ...]]


@dataclass(frozen=True)
class FrameJob:
    """One frame to stylize, in the server's conventions, with its per-frame controls.

    ``rgb`` is (H, W, 3) uint8 top-down RGB; ``motion`` (H, W, 2) float32 backward displacements in pixels to the
    previous frame this processor was given (already chained across dropped frames); ``depth`` (H, W) float32
    linear, +inf where there is no geometry. ``motion`` and ``depth`` are None when the client sent none.
    ``mix``, when not empty, takes the place of ``style``: (style name, weight) pairs, the weights summing to 1.
    """

    rgb: np.ndarray
    style: str
    strength: float = 1.0
    temporal: bool = True
    reset: bool = False
    preserve_color: bool = False
    motion: np.ndarray | None = None
    depth: np.ndarray | None = None
    mix: tuple[tuple[str, float], ...] = ()

    @property
    def selection(self) -> Selection:
        """What style the frame asks for: the mix if it has one, else the style."""
        return ("", self.mix) if self.mix else (self.style, ())


#: Stylizes a client's frames in order: a job in, an (H, W, 3) uint8 RGB frame of the same size out.
FrameProcessor = Callable[[FrameJob], np.ndarray]
#: Makes the processor of a new client.
ProcessorFactory = Callable[[], FrameProcessor]


def style_entries(bank: StyleBank) -> tuple[StyleEntry, ...]:
    """The bank's styles as the handshake lists them, in the order given (the first is the default)."""
    return tuple(StyleEntry(name, model.title) for name, model in bank.models.items())


class StylePipeline:
    """One client's processor: a :class:`Stylizer` over the bank's shared network of the style or mix each frame
    names (a mix of styles of one shared network runs in one pass of it), with the frame's strength, colour and
    smoothing controls (the smoothing by the engine's motion vectors and depth when it sends them, else by optical
    flow).

    A change of style, or of the styles of a mix, fades over ``fade`` seconds of ``clock`` (0: a cut); new weights
    of the same styles apply at once (a client moving the weights makes its own fade). Either way the temporal
    history is kept."""

    def __init__(self, bank: StyleBank, temporal_weight: float = DEFAULT_TEMPORAL,
                 depth_tolerance: float = DEFAULT_DEPTH_TOLERANCE, fade: float = DEFAULT_FADE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bank = bank
        self.temporal_weight = temporal_weight
        self.depth_tolerance = depth_tolerance
        self.fade = fade
        self.clock = clock
        self._stylizer: Stylizer | None = None
        self._selection: Selection = ("", ())

    def __call__(self, job: FrameJob) -> np.ndarray:
        stylizer = self._stylizer
        if stylizer is None:
            model = self._model(job)
            smoothing = TemporalFilter(self.temporal_weight, depth_tolerance=self.depth_tolerance)
            stylizer = self._stylizer = Stylizer(model, temporal=smoothing, max_side=self.bank.max_side,
                                                 engine=self.bank.engine_for(model))
        else:
            if job.selection != self._selection:
                model = self._model(job)
                fade = 0.0 if _names(job.selection) == _names(self._selection) else self.fade
                stylizer.set_style(model, engine=self.bank.engine_for(model), fade=fade, clock=self.clock)
            if job.reset:
                stylizer.reset()
        self._selection = job.selection
        stylizer.strength, stylizer.preserve_color = job.strength, job.preserve_color
        stylizer.set_temporal(self.temporal_weight if job.temporal else 0.0)
        return stylizer(job.rgb, job.motion, job.depth)

    def _model(self, job: FrameJob) -> StyleModel:
        """The offered style, or the mix of offered styles (of one shared network), the frame asks for."""
        if not job.mix:
            return self.bank.style(job.style)
        return combine_styles([(self.bank.style(name), weight) for name, weight in job.mix])


def _names(selection: Selection) -> set[str]:
    """The styles a selection takes (a mix's weights left out)."""
    style, mix = selection
    return {name for name, _ in mix} if mix else {style}


def style_pipelines(bank: StyleBank, temporal_weight: float = DEFAULT_TEMPORAL,
                    depth_tolerance: float = DEFAULT_DEPTH_TOLERANCE, fade: float = DEFAULT_FADE,
                    clock: Callable[[], float] = time.monotonic) -> ProcessorFactory:
    """The default processor factory: a :class:`StylePipeline` per client over one shared :class:`StyleBank`, its
    style switches fading over ``fade`` seconds of ``clock``."""
    return lambda: StylePipeline(bank, temporal_weight, depth_tolerance, fade, clock)
