"""The bundled styles and their model cards, and resolution of a ``--style NAME|FILE.onnx`` argument."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ModelError

try:
    from importlib.resources.abc import Traversable
except ImportError:  # Python 3.10
    from importlib.abc import Traversable

CARD_SCHEMA = 1
#: Fields every bundled card must have (the test over the bundled models checks them).
REQUIRED_CARD_FIELDS = ("schema", "name", "title", "artist", "year", "painting", "default", "architecture", "io",
                        "files", "training", "validation")


@dataclass(frozen=True)
class StyleModel:
    """A style network: its card (possibly minimal, for a loose .onnx file) and its fp32 and fp16 files."""

    name: str
    card: dict[str, Any]
    fp32: Traversable
    fp16: Traversable | None

    @property
    def title(self) -> str:
        return str(self.card.get("title", self.name))

    @property
    def artist(self) -> str:
        return str(self.card.get("artist", ""))

    @property
    def is_default(self) -> bool:
        return bool(self.card.get("default", False))

    def model_bytes(self, half: bool = False) -> bytes:
        """The ONNX file's bytes: the fp16 one when ``half`` and there is one, else the fp32 one."""
        source = self.fp16 if half and self.fp16 is not None else self.fp32
        return source.read_bytes()


def _models_folder() -> Traversable:
    return resources.files("framestyle.models")


def _from_card(folder: Traversable, card_file: Traversable) -> StyleModel:
    card = json.loads(card_file.read_text(encoding="utf-8"))
    files = card.get("files", {})
    fp16_name = files.get("fp16", {}).get("file")
    return StyleModel(
        name=card["name"],
        card=card,
        fp32=folder / files["fp32"]["file"],
        fp16=folder / fp16_name if fp16_name else None,
    )


def bundled_styles() -> list[StyleModel]:
    """Every bundled style, sorted by name."""
    folder = _models_folder()
    cards = [entry for entry in folder.iterdir() if entry.name.endswith(".json")]
    return sorted((_from_card(folder, card) for card in cards), key=lambda style: style.name)


def default_style() -> StyleModel:
    """The bundled style whose card says ``"default": true``."""
    styles = bundled_styles()
    for style in styles:
        if style.is_default:
            return style
    if not styles:
        raise ModelError("no bundled styles are installed")
    return styles[0]


def offered_styles(specs: list[str] | None) -> list[StyleModel]:
    """The styles a server offers: those given (names or .onnx paths, in order), or every bundled style with the
    default first. The first is the server's default."""
    if specs:
        return [resolve_style(spec) for spec in specs]
    first = default_style()
    return [first, *(model for model in bundled_styles() if model.name != first.name)]


def resolve_style(spec: str | None) -> StyleModel:
    """A bundled style by name, a path to an ``.onnx`` file (with its card beside it if there is one), or the
    default style when ``spec`` is None."""
    if spec is None:
        return default_style()
    if spec.endswith(".onnx") or "/" in spec or "\\" in spec:
        return _loose_model(Path(spec))
    styles = bundled_styles()
    by_name = {style.name.lower(): style for style in styles}
    if spec.lower() in by_name:  # names are matched without regard to case
        return by_name[spec.lower()]
    close = difflib.get_close_matches(spec.lower(), list(by_name), n=3, cutoff=0.6)
    guess = f"did you mean {' or '.join(close)}? " if close else ""
    names = ", ".join(style.name for style in styles)
    raise ModelError(f"unknown style {spec!r}; {guess}bundled styles: {names} (or give a path to an .onnx file)")


def _loose_model(path: Path) -> StyleModel:
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    card_path = path.with_suffix(".json")
    if card_path.is_file():
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ModelError(f"{card_path}: not a valid model card ({error})") from error
    else:
        card = {"name": path.stem}
    fp16 = path.with_name(f"{path.stem}.fp16.onnx")
    return StyleModel(name=str(card.get("name", path.stem)), card=card, fp32=path,
                      fp16=fp16 if fp16.is_file() else None)
