"""Training options: one dataclass, :class:`TrainConfig`, loaded straight from a recipe (TOML) or from the command
line, whose ``stylize train`` flags are made from its fields. Defaults live here only. Imports no torch."""

from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import InputError


def option(default: Any = MISSING, help: str = "", **argparse_options: Any) -> Any:  # noqa: A002
    """A field that is also a ``stylize train`` flag: ``help`` and ``argparse_options`` (``flag``, ``nargs``,
    ``type``, ``choices``, ``metavar``) describe the flag; lists take a ``default_factory``."""
    metadata = {"help": help, **argparse_options}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved in checkpoints and model cards."""

    style: Path = option(help="the painting (an image file)", type=Path)
    content: list[Path] = option(help="photo files or folders of photos", type=Path, nargs="+")
    name: str = option(help="the style's name (lower case, no spaces)")
    out: Path = option(help="the fp32 model file to write (NAME.onnx)", type=Path)
    videos: list[Path] = option([], "video clips whose frames add to the photos", flag="--video", type=Path,
                                nargs="*")
    validation: list[Path] = option([], "photos not trained on; the card reports style and content distances on "
                                    "them", type=Path, nargs="*")
    arch: str = option("fast", "network: ours (default) or the Johnson et al. reference", choices=("fast", "johnson"))
    #: Widths at 1/2, 1/4 and 1/8 resolution and residual blocks of the "fast" network (ignored by "johnson").
    width: tuple[int, int, int] = option((16, 32, 64), "fast network: channels at 1/2, 1/4 and 1/8 resolution",
                                         type=int, nargs=3, metavar=("C1", "C2", "C3"))
    blocks: int = option(5, "fast network: residual blocks at 1/8 resolution", type=int)
    #: Channels of the "fast" network's full-resolution detail head (0: none).
    detail: int = option(0, "fast network: channels of the full-resolution detail head (default 0: none)", type=int,
                         metavar="C")
    steps: int = option(1000, "training steps", type=int)
    batch: int = option(4, "crops a step", type=int)
    crop: int = option(192, "training crop size in pixels", type=int)
    learning_rate: float = option(2e-3, "Adam learning rate (cosine decay)", flag="--lr", type=float)
    content_weight: float = option(1.0, "weight of the content loss", type=float)
    style_weight: float = option(4.0, "weight of the style loss", type=float)
    tv_weight: float = option(0.5, "weight of the total variation loss", type=float)
    #: Weigh each crop's style loss by the inverse of the photo's own style distance (the weights averaging 1 over
    #: a batch): the style ratio is measured per photo, so a photo that starts near the painting must be painted
    #: as far as one that starts far from it (:func:`~.losses.relative_style_weights`).
    relative_style: bool = option(False, "weigh each crop's style loss by the inverse of its photo's own style "
                                  "distance, so photos near the painting are painted as far as the others",
                                  action="store_true")
    stability_weight: float = option(20.0, "0 trains without the stability loss", type=float)
    #: Weight of :func:`~.losses.grid_energy`, the loss against patterns locked to the pixel grid (0: off).
    grid_weight: float = option(0.0, "weight of the loss against patterns locked to the pixel grid (default 0: off)",
                                type=float)
    #: Extra content weight where a face detector finds faces in the training images (0: off): the content loss
    #: weighs those pixels 1 + face_weight times.
    face_weight: float = option(0.0, "extra content weight on the faces a detector finds in the training images "
                                "(default 0: off; needs facenet-pytorch)", type=float)
    #: Weight of the face-keeping loss (:mod:`.facekeep`): the faces a detector finds in the training images must
    #: still look like faces to it after stylization (0: off).
    face_keep_weight: float = option(0.0, "weight of the loss that keeps the training images' faces detectable "
                                     "after stylization (default 0: off; needs facenet-pytorch)", type=float)
    #: Weight of the temporal loss on consecutive frames of the ``videos`` (:func:`~.losses.temporal_loss`; 0: off).
    temporal_weight: float = option(0.0, "weight of the loss that keeps the style steady on consecutive frames of "
                                    "the --video clips, lined up by optical flow (default 0: off)", type=float)
    temporal_skip: int = option(0, "leave each --video clip's first N frames out of the temporal loss, e.g. those a "
                                "flicker measure is taken on (default 0)", type=int, metavar="N")
    #: Weight of the loss against large structure the photo's colour does not explain
    #: (:func:`~.losses.structure_penalty`: :func:`~.losses.invented_structure` beyond ``structure_allowance``
    #: grey levels, squared; 0: off), the motif measure's invented structure made a loss.
    structure_weight: float = option(0.0, "weight of the loss against large structure the photo's colour does not "
                                     "explain, beyond --structure-allowance (default 0: off)", type=float)
    structure_allowance: float = option(6.0, "grey levels (RMS over 6x6 cells of a crop) of such structure that "
                                        "cost nothing (default 6)", type=float, metavar="LEVELS")
    video_every: int = option(8, "take every N-th frame of the --video clips (default 8)", type=int, metavar="N")
    #: Fraction of the training crops turned to grey (0: none), for black-and-white footage.
    gray_fraction: float = option(0.0, "turn this fraction of the training crops to grey, for black-and-white "
                                  "footage (default 0)", type=float, metavar="F")
    #: A model (.onnx written by this trainer, or a .ckpt) whose weights start the run instead of random ones:
    #: fine-tuning a trained style with new weights costs a fraction of training it again.
    init: Path | None = option(None, "start from this model's weights (an .onnx made by stylize train, or a "
                               ".ckpt): fine-tunes it with this run's weights; the architecture options must match",
                               type=Path, metavar="MODEL")
    #: With ``init``: the network may be wider than the init's (``width``) or add a detail head; the init's weights
    #: fill it so that it starts computing what the init did (:func:`~.net.grown_state`).
    grow: bool = option(False, "with --init: start a wider network (--width, --detail) from a narrower model; the "
                        "added channels start silent, so the run starts from the model's output",
                        action="store_true")
    #: Decay of an exponential moving average of the weights (0: off). With it the run exports the average, not the
    #: last step's weights, which matters most for a run stopped while the learning rate is still high.
    average_decay: float = option(0.0, "export an exponential moving average of the weights with this decay per "
                                  "step, e.g. 0.99 (default 0: the last step's weights)", type=float,
                                  metavar="DECAY")
    seed: int = option(0, "random seed", type=int)
    vgg_weights: Path | None = option(None, "VGG-16 features state dict (torchvision layout); default: "
                                      "torchvision's ImageNet weights", type=Path)
    device: str = option("auto", "where to train", choices=("auto", "cpu", "cuda"))
    max_minutes: float | None = option(None, "stop (checkpoint and export) after this many minutes", type=float)
    checkpoint_every: int = option(50, "steps between checkpoints", type=int)
    # Card metadata of the painting.
    title: str = option("", "the painting's title, for the model card")
    artist: str = option("", "the painting's artist, for the model card")
    year: str = option("", "the painting's year, for the model card")
    credit: str = option("", "the painting's credit, for the model card")
    licence: str = option("", "the painting's licence, for the model card")

    @property
    def checkpoint(self) -> Path:
        return self.out.with_suffix(".ckpt")

    def to_json(self) -> dict[str, object]:
        return json.loads(json.dumps(asdict(self), default=str))

    def check(self) -> None:
        """Refuse options that cannot work, with one line (an :class:`InputError`)."""
        for path in [self.style, *self.content, *self.videos, *self.validation, *([self.init] if self.init else [])]:
            if not path.exists():
                raise InputError(f"{path}: no such file or folder")
        if self.vgg_weights and not self.vgg_weights.is_file():
            raise InputError(f"{self.vgg_weights}: no such file")
        if not 0.0 <= self.average_decay < 1.0:
            raise InputError(f"--average-decay must be at least 0 and under 1, got {self.average_decay}")
        if not 0.0 <= self.gray_fraction <= 1.0:
            raise InputError(f"--gray-fraction must be between 0 and 1, got {self.gray_fraction}")
        if self.temporal_weight > 0 and not self.videos:
            raise InputError("--temporal-weight needs --video clips (its frame pairs come from them)")
        if self.out.suffix != ".onnx":
            raise InputError(f"--out must end in .onnx, got {self.out}")
        if not self.out.parent.is_dir():
            raise InputError(f"{self.out.parent}: no such folder (the model and its checkpoints are written there)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``stylize train`` flags, one per field of :class:`TrainConfig`, with its defaults."""
    for spec in fields(TrainConfig):
        options = dict(spec.metadata)
        flag = options.pop("flag", f"--{spec.name.replace('_', '-')}")
        if spec.default is MISSING and spec.default_factory is MISSING:
            options["required"] = True
        else:
            default = spec.default_factory() if spec.default is MISSING else spec.default  # type: ignore[misc]
            options["default"] = list(default) if isinstance(default, tuple) else default
        parser.add_argument(flag, dest=spec.name, **options)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The configuration the parsed flags of :func:`add_arguments` describe."""
    values = {spec.name: getattr(args, spec.name) for spec in fields(TrainConfig)}
    values["width"] = tuple(values["width"])
    return TrainConfig(**values)


def config_from_recipe(recipe: dict[str, Any], *, data: Path, out: Path, **overrides: Any) -> TrainConfig:
    """A recipe (one stage of it, as a dict of field names) as a configuration: ``style`` and ``videos`` are
    relative to the data kit ``data``, ``content`` is a folder of it whose photos not named in ``validation`` are
    trained on, and ``validation`` names photos in that folder. ``overrides`` (e.g. ``vgg_weights``, ``init``,
    ``max_minutes``) replace the recipe's values."""
    known = {spec.name for spec in fields(TrainConfig)}
    unknown = sorted(set(recipe) - known - {"stages"})
    if unknown:
        raise InputError(f"unknown recipe keys: {', '.join(unknown)}")
    values = {key: value for key, value in recipe.items() if key != "stages"}
    folder = data / values["content"]
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (the recipe's content, in the data kit)")
    validation = list(values.get("validation", []))
    values["content"] = sorted(p for p in folder.iterdir() if p.name not in validation)
    values["validation"] = [folder / name for name in validation]
    values["style"] = data / values["style"]
    values["videos"] = [data / video for video in values.get("videos", [])]
    if "width" in values:
        values["width"] = tuple(values["width"])
    return TrainConfig(**{**values, "out": out, **overrides})
