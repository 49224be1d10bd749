"""``StyleBank``: the style networks of one process, each loaded once and shared by every stylizer made from it,
with one cap on how many frames are in the networks at once. The live page's pages, the camera and the engine
feed's clients all take their stylizers from a bank, so a new client or a style switch loads nothing."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from .catalog import StyleModel, combine_styles, parse_mix
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

    def style(self, spec: str) -> StyleModel:
        """An offered style by name, or a mix of offered styles of one shared network (``"a=0.7,b=0.3"``); anything
        else is a :class:`StyleError`."""
        if spec in self.models:
            return self.models[spec]
        if "=" in spec or "," in spec:
            parts = parse_mix(spec)
            unknown = [name for name, _ in parts if name not in self.models]
            if not unknown:
                return combine_styles([(self.models[name], weight) for name, weight in parts])
            spec = unknown[0]
        raise ModelError(f"unknown style {spec!r}; offered: {', '.join(self.models)}")

    def engine(self, spec: str) -> StyleEngine:
        """The loaded network of a style or mix (see :meth:`style`), loaded on first use; the styles of one shared
        network share one."""
        return self.engine_for(self.style(spec))

    def engine_for(self, model: StyleModel) -> StyleEngine:
        """The loaded network ``model`` runs on (one of the offered styles' networks), loaded on first use."""
        with self._loading:
            if model.network not in self._engines:
                self._engines[model.network] = StyleEngine(model, self.engine_options, slots=self._slots)
            return self._engines[model.network]

    def add(self, model: StyleModel) -> None:
        """Offer one more style (e.g. one just trained), after the others; a name already offered is refused."""
        with self._loading:
            if model.name in self.models:
                raise ModelError(f"style {model.name!r} is offered already")
            self.models = {**self.models, model.name: model}  # a new dict: readers iterating the old one are safe

    def adopt(self, engine: StyleEngine) -> None:
        """Use an already loaded network for its styles (e.g. the one a stylizer had before the bank existed)."""
        with self._loading:
            self._engines.setdefault(engine.model.network, engine)

    def stylizer(self, spec: str, *, strength: float = 1.0, temporal: float | TemporalFilter = DEFAULT_TEMPORAL,
                 preserve_color: bool = False) -> Stylizer:
        """A stylizer of its own (options and temporal history) over the style's (or mix's) loaded network."""
        model = self.style(spec)
        return Stylizer(model, strength=strength, temporal=temporal, preserve_color=preserve_color,
                        max_side=self.max_side, engine=self.engine_for(model))
