"""What the server does with a frame: the frame-processor interface (one processor per client, made by a factory
the server is given) and the default processor (shared style models, per-client temporal smoothing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from framestyle.catalog import StyleModel
from framestyle.engine import EngineOptions
from framestyle.errors import ModelError
from framestyle.kernels.blend import apply_look
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


class StyleBank:
    """The styles a server offers, each loaded once (one ONNX Runtime session) and shared by every client."""

    def __init__(self, styles: Sequence[StyleModel], *, max_side: int | None = None,
                 engine_options: EngineOptions | None = None) -> None:
        if not styles:
            raise ModelError("no styles to serve: give --style NAME or --style FILE.onnx")
        self._stylizers: dict[str, Stylizer] = {}
        for model in styles:
            if model.name in self._stylizers:
                raise ModelError(f"style {model.name!r} is given twice")
            # the network only: each client's pipeline does its own temporal smoothing
            self._stylizers[model.name] = Stylizer(model, max_side=max_side, temporal=0.0,
                                                   engine_options=engine_options or EngineOptions())

    @property
    def entries(self) -> tuple[StyleEntry, ...]:
        """The styles as the handshake lists them, in the order given (the first is the default)."""
        return tuple(StyleEntry(name, stylizer.model.title) for name, stylizer in self._stylizers.items())

    def __getitem__(self, name: str) -> Stylizer:
        return self._stylizers[name]


class StylePipeline:
    """One client's processor: the network, temporal smoothing (:class:`TemporalFilter`, by the engine's motion
    vectors and depth when it sends them, else by optical flow), colour preservation and strength."""

    def __init__(self, bank: StyleBank, temporal_weight: float = DEFAULT_TEMPORAL,
                 depth_tolerance: float = DEFAULT_DEPTH_TOLERANCE) -> None:
        self.bank = bank
        self._temporal = TemporalFilter(temporal_weight, depth_tolerance=depth_tolerance)
        self._style: str | None = None

    def __call__(self, job: FrameJob) -> np.ndarray:
        stylized = self.bank[job.style].stylize_only(job.rgb)
        if job.reset or not job.temporal or job.style != self._style:
            self._temporal.reset()
        self._style = job.style
        if job.temporal:
            stylized = self._temporal(job.rgb, stylized, job.motion, job.depth)
        return apply_look(job.rgb, stylized, job.strength, job.preserve_color)


def style_pipelines(bank: StyleBank, temporal_weight: float = DEFAULT_TEMPORAL,
                    depth_tolerance: float = DEFAULT_DEPTH_TOLERANCE) -> ProcessorFactory:
    """The default processor factory: a :class:`StylePipeline` per client over one shared :class:`StyleBank`."""
    return lambda: StylePipeline(bank, temporal_weight, depth_tolerance)
