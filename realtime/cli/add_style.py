"""Make a new style from any picture in about 15 minutes on a CPU: a style vector of the shared network, trained
with the shared layers fixed (needs the [train] extra: torch). The style is then usable by name in every command and
in the live page, and mixes with the bundled styles.

Example: stylize add-style lilies.jpg --name lilies --vgg-weights vgg16.pth
Ctrl-C stops it with a checkpoint; the same command continues from there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from importlib import resources
from pathlib import Path

import numpy as np

from ..catalog import StyleModel, bundled_styles, shared_styles, user_styles_dir
from ..errors import InputError, MissingExtraError, ModelError
from ..imageio import IMAGE_SUFFIXES, read_rgb
from .train import VGG_COMMAND, torchvision_works

#: Smallest side of a picture a style can be learned from.
MIN_PICTURE_SIDE = 64
#: At most this many frames of a ``--content`` video are trained on (evenly spread).
MAX_VIDEO_FRAMES = 48
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("picture", type=Path, help="the painting or picture whose style to learn")
    parser.add_argument("--name", required=True, help="the style's name (lower case letters, digits, _ and -)")
    parser.add_argument("--title", default="", help="the picture's title, for the style list")
    parser.add_argument("--artist", default="", help="the picture's artist, for the style list")
    parser.add_argument("--content", type=Path, metavar="PATH",
                        help="a video, a folder of pictures or a picture to train on (default: the pictures that "
                             "ship with framestyle, some with faces)")
    parser.add_argument("--minutes", type=float, default=15.0, help="training time (default 15)")
    parser.add_argument("--steps", type=int, default=1500, help="at most this many steps (default 1500)")
    parser.add_argument("--replace", action="store_true",
                        help="overwrite a user style of this name, or hide a bundled style of this name")
    parser.add_argument("--vgg-weights", type=Path, help="VGG-16 features state dict (torchvision layout); default: "
                        "torchvision's ImageNet weights")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--json-progress", action="store_true", help="instead of the progress bar, print one JSON "
                        "line a step on stdout: step, steps, seconds_left, losses (for programs, e.g. stylize live)")


def run(args: argparse.Namespace) -> int:
    try:  # before any check or folder, so that a missing extra is the one error
        from ..train.newstyle import NewStyleConfig, train_new_style
    except ImportError as error:
        raise MissingExtraError(f"add-style needs the [train] extra ({error.name} is missing): "
                                "pip install 'framestyle[train]'") from error
    card = user_styles_dir() / f"{args.name}.json"
    styles = _check(args, card)
    card.parent.mkdir(parents=True, exist_ok=True)
    images = content_images(args.content)
    masks = face_masks_of(args.content, images, card)
    config = NewStyleConfig(painting=args.picture, name=args.name, card=card, images=images, masks=masks,
                            vgg_weights=args.vgg_weights, minutes=args.minutes, max_steps=args.steps,
                            title=args.title, artist=args.artist, seed=args.seed)
    if config.checkpoint.exists():
        print(f"resuming {args.name} from {config.checkpoint}")
    on_step = (lambda line: print(json.dumps(line), flush=True)) if args.json_progress else None
    result = train_new_style(config, styles, progress=not args.json_progress, on_step=on_step)
    training, scores = result["training"], result["validation"]
    print(f"{args.name}: {training['steps_done']} steps in {training['seconds'] / 60:.1f} min, from "
          f"{training['started_from']}; style ratio {scores['style_ratio']:.3f}, content distance "
          f"{scores['content_distance']:.3f}; written to {card}")
    print(f"use it with --style {args.name}, or mix it: --style {args.name}=0.5,{training['started_from']}=0.5")
    return 0


def _check(args: argparse.Namespace, card: Path) -> list:
    """Refuse a bad name, picture, content or time before any training; the shared network's styles."""
    if not NAME_PATTERN.fullmatch(args.name):
        raise InputError(f"--name {args.name!r}: use lower case letters, digits, _ and - (at most 64)")
    if args.minutes <= 0 or args.steps <= 0:
        raise InputError("--minutes and --steps must be positive")
    picture = read_rgb(args.picture)
    if min(picture.shape[:2]) < MIN_PICTURE_SIDE:
        raise InputError(f"{args.picture}: {picture.shape[1]}x{picture.shape[0]} is too small to learn a style from "
                         f"(at least {MIN_PICTURE_SIDE} px a side)")
    if args.content is not None and not args.content.exists():
        raise InputError(f"{args.content}: no such file or folder")
    if args.vgg_weights is not None and not args.vgg_weights.is_file():
        raise InputError(f"{args.vgg_weights}: no such file")
    bundled = bundled_styles()
    partial = card.with_suffix(".partial.pt").exists()
    if not args.replace and not partial:
        if card.exists():
            raise InputError(f"a user style {args.name!r} exists ({card}); add --replace to train it again")
        if any(style.name == args.name for style in bundled):
            raise InputError(f"{args.name!r} is a bundled style; choose another name, or add --replace to hide it")
    shared = trainable_styles()
    if not shared:
        raise ModelError("this installation has no shared network to add a style to")
    if args.vgg_weights is None and not torchvision_works():
        raise MissingExtraError(f"no --vgg-weights given, and torchvision is not usable here; make the file once with "
                                f"{VGG_COMMAND} and add --vgg-weights vgg16.pth")
    return shared


def trainable_styles() -> list[StyleModel]:
    """The installed styles of the shared network a new style can start from (empty: no shared network)."""
    return [style for style in [*bundled_styles(), *shared_styles()] if style.vector is not None]


def face_masks_of(path: Path | None, images: list[np.ndarray], card: Path) -> list[np.ndarray | None] | None:
    """Where the faces are in the training pictures: the boxes shipped with the default pictures, or those the face
    detector finds in ``--content`` (kept beside the card; None, no face weighting, without facenet-pytorch)."""
    from ..train.data import box_mask, face_masks

    if path is None:
        folder = resources.files("framestyle.content")
        boxes = json.loads((folder / "faces.json").read_text())
        names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".jpg"))
        return [box_mask(image.shape[:2], boxes.get(name, [])) if boxes.get(name) else None
                for name, image in zip(names, images, strict=True)]
    try:
        named = [(hashlib.sha256(image.tobytes()).hexdigest()[:16], image) for image in images]  # by content
        return face_masks(named, card.with_suffix(".faces.json"))
    except ImportError:
        print("no face detector (facenet-pytorch): the content is trained on without weighting its faces")
        return None


def content_images(path: Path | None) -> list[np.ndarray]:
    """The pictures to train on: a video's frames (at most ``MAX_VIDEO_FRAMES``, evenly spread), a folder's
    pictures, one picture, or by default the pictures that ship with framestyle."""
    if path is None:
        folder = resources.files("framestyle.content")
        return [read_rgb(Path(str(entry))) for entry in sorted(folder.iterdir(), key=lambda e: e.name)
                if entry.name.endswith(".jpg")]
    if path.is_dir():
        pictures = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not pictures:
            raise InputError(f"{path}: no pictures in this folder")
        return [read_rgb(p) for p in pictures]
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return [read_rgb(path)]
    try:
        frames = _spread_frames(path)
    except Exception as error:  # PyAV's errors for a file that is not a video
        raise InputError(f"{path}: not a picture or a readable video ({str(error).splitlines()[0]})") from error
    if not frames:
        raise InputError(f"{path}: no video frames")
    return frames


def _spread_frames(path: Path) -> list[np.ndarray]:
    """At most ``MAX_VIDEO_FRAMES`` frames spread over a video, at most 512 px on their long side (memory stays
    small whatever the video's length)."""
    from ..imageio import resize_long_side
    from ..media.container import open_input

    with open_input(path) as container:
        stream = container.streams.video[0]
        every = max(1, (stream.frames or 0) // MAX_VIDEO_FRAMES)
        frames = [resize_long_side(frame.to_ndarray(format="rgb24"), 512)
                  for index, frame in enumerate(container.decode(stream)) if index % every == 0]
    picks = np.linspace(0, len(frames) - 1, min(MAX_VIDEO_FRAMES, len(frames))).round().astype(int)
    return [frames[i] for i in picks]
