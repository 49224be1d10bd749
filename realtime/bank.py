"""``StyleBank``: the style networks of one process, each loaded once and shared by every stylizer made from it,
with one cap on how many frames are in the networks at once. The live page's pages, the camera and the engine
feed's clients all take their stylizers from a bank, so a new client or a style switch loads nothing."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from .catalog import StyleModel
from .engine import EngineOptions, StyleEngine
from .errors import ModelError
from .stylizer import Stylizer
from .temporal import DEFAULT_TEMPORAL, TemporalFilter


class StyleBank:
    """Named style networks, each loaded on first use (one ONNX Runtime session) and shared.

    Args:
        styles: the styles offered, in order (the first is the default).
        max_side: as for :class:`Stylizer`, for every stylizer of the bank.
        engine_options: device, threads and precision of every network.
        max_concurrent: frames in the networks at once across every user of the bank (0: no cap).
    """

    def __init__(self, styles: Sequence[StyleModel], *, max_side: int | None = None,
                 engine_options: EngineOptions | None = None, max_concurrent: int = 0) -> None:
        if not styles:
            raise ModelError("no styles to offer: give --style NAME or --style FILE.onnx")
        self.models: dict[str, StyleModel] = {}
        for model in styles:
            if model.name in self.models:
                raise ModelError(f"style {model.name!r} is given twice")
            self.models[model.name] = model
        self.max_side = max_side
        self.engine_options = engine_options or EngineOptions()
        self._slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent > 0 else None
        self._engines: dict[str, StyleEngine] = {}
        self._loading = threading.Lock()

    @property
    def default(self) -> str:
        """The name of the first style."""
        return next(iter(self.models))

    def engine(self, name: str) -> StyleEngine:
        """The loaded network of a style, loaded on first use (an unknown name is a :class:`StyleError`); the styles
        of one shared network share one."""
        if name not in self.models:
            raise ModelError(f"unknown style {name!r}; offered: {', '.join(self.models)}")
        model = self.models[name]
        with self._loading:
            if model.network not in self._engines:
                self._engines[model.network] = StyleEngine(model, self.engine_options, slots=self._slots)
            return self._engines[model.network]

    def stylizer(self, name: str, *, strength: float = 1.0, temporal: float | TemporalFilter = DEFAULT_TEMPORAL,
                 preserve_color: bool = False) -> Stylizer:
        """A stylizer of its own (options and temporal history) over the style's shared network."""
        return Stylizer(self.models.get(name), strength=strength, temporal=temporal, preserve_color=preserve_color,
                        max_side=self.max_side, engine=self.engine(name))
