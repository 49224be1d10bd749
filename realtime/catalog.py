"""The bundled styles and their model cards, and resolution of a ``--style`` argument: a name, an ``.onnx`` file,
or a mix of styles of one shared network (``starry_night=0.7,the_scream=0.3``)."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, ModelError

log = logging.getLogger(__name__)

try:
    from importlib.resources.abc import Traversable
except ImportError:  # Python 3.10
    from importlib.abc import Traversable

CARD_SCHEMA = 1
#: The ``kind`` of a shared network's own card (its styles have cards of their own).
SHARED_NETWORK_KIND = "shared-network"
#: The folder (under the bundled models) of the shared network, its card and its styles' cards.
SHARED_FOLDER = "shared"
#: Environment variable naming the folder of user styles (default: the platform's user-data folder).
USER_STYLES_ENV = "FRAMESTYLE_STYLES_DIR"
#: Fields every bundled card must have (the test over the bundled models checks them).
REQUIRED_CARD_FIELDS = ("schema", "name", "title", "artist", "year", "painting", "default", "architecture", "io",
                        "files", "training", "validation")


@dataclasses.dataclass(frozen=True)
class StyleModel:
    """A style network: its card (possibly minimal, for a loose .onnx file) and its fp32 and fp16 files."""

    name: str
    card: dict[str, Any]
    fp32: Traversable
    fp16: Traversable | None
    #: Where the style comes from: "bundled", "user" (made with ``stylize add-style``) or "file" (a path given).
    origin: str = "bundled"

    @property
    def title(self) -> str:
        return str(self.card.get("title", self.name))

    @property
    def artist(self) -> str:
        return str(self.card.get("artist", ""))

    @property
    def is_default(self) -> bool:
        return bool(self.card.get("default", False))

    @functools.cached_property
    def vector(self) -> np.ndarray | None:
        """The style vector of a style of a shared network (float32, read from the card once), None for a
        single-style network."""
        shared = self.card.get("shared")
        return None if shared is None else np.asarray(shared["vector"], dtype=np.float32)

    @property
    def network(self) -> str:
        """What identifies the network file: styles of one shared network share it (and one loaded session)."""
        shared = self.card.get("shared")
        return f"shared:{shared['sha256']}" if shared else f"file:{self.fp32}"

    def model_bytes(self, half: bool = False) -> bytes:
        """The ONNX file's bytes: the fp16 one when ``half`` and there is one, else the fp32 one."""
        source = self.fp16 if half and self.fp16 is not None else self.fp32
        return source.read_bytes()


def _models_folder() -> Traversable:
    return resources.files("framestyle.models")


def _from_card(folder: Traversable, card_file: Traversable) -> StyleModel | None:
    """The style a card describes (None for the card of a shared network itself, which is no style)."""
    card = json.loads(card_file.read_text(encoding="utf-8"))
    if card.get("kind") == SHARED_NETWORK_KIND:
        return None
    files = card.get("files", {})
    fp16_name = files.get("fp16", {}).get("file")
    return StyleModel(
        name=card["name"],
        card=card,
        fp32=folder / files["fp32"]["file"],
        fp16=folder / fp16_name if fp16_name else None,
    )


def single_styles() -> list[StyleModel]:
    """The bundled single-style networks (a card and its files in ``models/``), sorted by name."""
    folder = _models_folder()
    cards = [_from_card(folder, entry) for entry in folder.iterdir() if entry.name.endswith(".json")]
    return sorted((card for card in cards if card is not None), key=lambda style: style.name)


def bundled_styles() -> list[StyleModel]:
    """Every bundled style by name, sorted: its own single-style network where one is bundled, else the bundled shared
    network's style of that name (the stronger of the two is bundled under the name; mixes take the shared one)."""
    by_name = {style.name: style for style in shared_styles()}
    by_name.update({style.name: style for style in single_styles()})
    return sorted(by_name.values(), key=lambda style: style.name)


def shared_styles() -> list[StyleModel]:
    """The styles of the bundled shared network (in ``models/shared/``), sorted by name: what mixes of bundled styles
    and user styles run on."""
    folder = _models_folder() / SHARED_FOLDER
    if not folder.is_dir():
        return []
    cards = [_from_card(folder, entry) for entry in folder.iterdir() if entry.name.endswith(".json")]
    return sorted((card for card in cards if card is not None), key=lambda style: style.name)


def mixable(model: StyleModel) -> StyleModel | None:
    """The style a mix takes for ``model``: itself if it is a style of a shared network, else the bundled shared
    network's style of its name, or None if there is none."""
    if model.vector is not None:
        return model
    return next((style for style in shared_styles() if style.name == model.name), None)


def user_styles_dir() -> Path:
    """The folder of user styles: ``$FRAMESTYLE_STYLES_DIR``, else ``styles`` in the platform's user-data folder."""
    if os.environ.get(USER_STYLES_ENV):
        return Path(os.environ[USER_STYLES_ENV])
    import platformdirs

    return Path(platformdirs.user_data_dir("framestyle")) / "styles"


def user_styles() -> list[StyleModel]:
    """The styles made with ``stylize add-style``, sorted by name: cards of style vectors for a bundled shared
    network. A card whose network is not installed (made with another version) is skipped with a warning."""
    folder = user_styles_dir()
    if not folder.is_dir():
        return []
    styles, networks = [], _installed_networks()
    for path in sorted(folder.glob("*.json")):
        try:
            styles.append(user_style(path, networks))
        except ModelError as error:
            log.warning("%s", error)
    return styles


def _installed_networks() -> dict[str, StyleModel]:
    """A style of each installed shared network, by the network's sha256."""
    return {style.card["shared"]["sha256"]: style for style in [*bundled_styles(), *shared_styles()]
            if "shared" in style.card}


def user_style(path: Path, networks: dict[str, StyleModel] | None = None) -> StyleModel:
    """A user style card as a style running on the installed shared network its vector was trained for
    (``networks``: :func:`_installed_networks`, when the caller has it already)."""
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
        sha = card["shared"]["sha256"]
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise ModelError(f"{path}: not a valid style card ({error})") from error
    network = (_installed_networks() if networks is None else networks).get(sha)
    if network is None:
        raise ModelError(f"{path}: trained for a shared network this installation does not have (train it again "
                         "with stylize add-style)")
    return StyleModel(name=card["name"], card={**card, "files": network.card["files"]}, fp32=network.fp32,
                      fp16=network.fp16, origin="user")


def all_styles() -> list[StyleModel]:
    """The bundled styles (:func:`bundled_styles`) and the user's, by name: a user style replaces a bundled one of its
    name."""
    by_name = {style.name: style for style in bundled_styles()}
    by_name.update({style.name: style for style in user_styles()})
    return sorted(by_name.values(), key=lambda style: style.name)


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
    """The styles a server offers: those given (names or .onnx paths, in order), or every bundled and user style
    with the default first. The first is the server's default."""
    if specs:
        return [resolve_style(spec) for spec in specs]
    first = default_style()
    return [first, *(model for model in all_styles() if model.name != first.name)]


def resolve_style(spec: str | None) -> StyleModel:
    """A bundled style by name, a path to an ``.onnx`` file (with its card beside it if there is one), or the
    default style when ``spec`` is None."""
    if spec is None:
        return default_style()
    if "=" in spec or "," in spec:
        return mix_styles(parse_mix(spec))
    if spec.endswith(".json"):
        return _card_file(Path(spec))
    if spec.endswith(".onnx") or "/" in spec or "\\" in spec:
        return _loose_model(Path(spec))
    styles = all_styles()
    by_name = {style.name.lower(): style for style in styles}
    if spec.lower() in by_name:  # names are matched without regard to case
        return by_name[spec.lower()]
    close = difflib.get_close_matches(spec.lower(), list(by_name), n=3, cutoff=0.6)
    guess = f"did you mean {' or '.join(close)}? " if close else ""
    names = ", ".join(style.name for style in styles)
    raise ModelError(f"unknown style {spec!r}; {guess}styles: {names} (or give a path to an .onnx file or a style "
                     "card)")


def _card_file(path: Path) -> StyleModel:
    """The style a card file describes: a style of a shared network whose files are beside the card, or a user
    style (no files: it runs on the bundled shared network)."""
    if not path.is_file():
        raise ModelError(f"{path}: no such style card")
    try:
        if "files" not in json.loads(path.read_text(encoding="utf-8")):
            return dataclasses.replace(user_style(path), origin="file")
        model = _from_card(path.parent, path)  # type: ignore[arg-type]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
        raise ModelError(f"{path}: not a valid style card ({error})") from error
    if model is None:
        raise ModelError(f"{path}: the card of a shared network, not of a style (give one of its styles' cards)")
    return dataclasses.replace(model, origin="file")


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
                      fp16=fp16 if fp16.is_file() else None, origin="file")


def parse_mix(spec: str) -> list[tuple[str, float]]:
    """``"a=0.7,b=0.3"`` as [("a", 0.7), ("b", 0.3)]; a part without ``=weight`` weighs 1 (``"a,b"`` is half and
    half). Weights are normalised to sum to 1 (an :class:`InputError` for a bad weight or a zero sum)."""
    parts: list[tuple[str, float]] = []
    for part in spec.split(","):
        name, _, weight_text = part.partition("=")
        name = name.strip()
        if not name:
            raise InputError(f"style mix {spec!r}: an empty style name (write NAME=WEIGHT,NAME=WEIGHT)")
        try:
            weight = float(weight_text) if weight_text.strip() else 1.0
        except ValueError:
            raise InputError(f"style mix {spec!r}: {weight_text.strip()!r} is not a number") from None
        if not np.isfinite(weight) or weight < 0:
            raise InputError(f"style mix {spec!r}: weights must be finite and not negative, got {weight_text.strip()}")
        parts.append((name, weight))
    total = sum(weight for _, weight in parts)
    if total <= 0:
        raise InputError(f"style mix {spec!r}: the weights sum to zero")
    return [(name, weight / total) for name, weight in parts]


def mix_styles(parts: list[tuple[str, float]]) -> StyleModel:
    """One style whose vector is the weighted sum of the parts' (styles of one shared network, by name or path)."""
    return combine_styles([(resolve_style(name), weight) for name, weight in parts])


def combine_styles(models: list[tuple[StyleModel, float]]) -> StyleModel:
    """One style whose vector is the weighted sum of the styles' (weights summing to 1), each taken as
    :func:`mixable` gives it, all of one shared network. Its name is the canonical spec (``a=0.7,b=0.3``), its card
    the first style's with the mix recorded."""
    mixed = []
    for model, weight in models:
        counterpart = mixable(model)
        if counterpart is None:
            raise ModelError(f"style {model.name!r} cannot be mixed: it is a single-style network with no style of "
                             "the shared network of its name (mixes take styles of a shared network)")
        mixed.append((counterpart, weight))
    models = mixed
    first = models[0][0]
    for model, _ in models[1:]:
        if model.network != first.network:
            raise ModelError(f"styles {first.name!r} and {model.name!r} cannot be mixed: they belong to different "
                             "shared networks")
    combined: dict[str, tuple[StyleModel, float]] = {}
    for model, weight in models:  # the same style named twice adds up
        combined[model.name] = (model, combined.get(model.name, (model, 0.0))[1] + weight)
    if len(combined) == 1:
        return first
    vector = sum(weight * model.vector for model, weight in combined.values())  # type: ignore[operator]
    name = ",".join(f"{style}={weight:.3g}" for style, (_, weight) in combined.items())
    title = " + ".join(f"{weight:.0%} {model.title}" for model, weight in combined.values())
    card = {**first.card, "name": name, "title": title, "artist": ", ".join(
        dict.fromkeys(model.artist for model, _ in combined.values())), "default": False,
        "shared": {**first.card["shared"], "vector": vector.tolist()},
        "mix": [{"name": style, "weight": weight} for style, (_, weight) in combined.items()]}
    return StyleModel(name=name, card=card, fp32=first.fp32, fp16=first.fp16)
