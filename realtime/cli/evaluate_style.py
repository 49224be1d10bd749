"""Measure a style on photos: style distance relative to the unstylized photo's, content distance, grid texture.

Needs the [train] extra (torch) and VGG-16 weights (--vgg-weights FILE, or torchvision's cached ImageNet weights).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from ..catalog import resolve_style
from ..engine import EngineOptions, StyleEngine
from ..errors import InputError, MissingExtraError, ModelError
from ..imageio import read_rgb


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", type=Path, nargs="+", help="photos to stylize and measure")
    parser.add_argument("--style", help="bundled style name or .onnx file (default: the default style)")
    parser.add_argument("--painting", type=Path, help="the style's painting (default: the card's file, looked up "
                        "in --paintings)")
    parser.add_argument("--paintings", type=Path, default=Path("."), help="folder holding the card's painting file")
    parser.add_argument("--vgg-weights", type=Path, help="VGG-16 features state dict (torchvision layout)")
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    try:
        from ..train.evaluate import load_photos, score_style
        from ..train.vgg import load_vgg
    except ImportError as error:
        raise MissingExtraError(f"evaluate-style needs the [train] extra ({error.name} is missing): "
                                "pip install 'framestyle[train]'") from error
    style = resolve_style(args.style)
    painting = args.painting
    if painting is None:
        name = style.card.get("painting", {}).get("file")
        if not name:
            raise ModelError(f"{style.name}: its card names no painting; give --painting")
        painting = args.paintings / name
    for path in [painting, *args.images]:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    if args.vgg_weights is not None and not args.vgg_weights.is_file():
        raise InputError(f"{args.vgg_weights}: no such file")
    engine = StyleEngine(style, EngineOptions(device="cpu"))
    scores = score_style(load_vgg(args.vgg_weights), read_rgb(painting), load_photos(args.images), engine)
    if args.json:
        print(json.dumps({"style": style.name, **asdict(scores)}, indent=2))
    else:
        print(f"{style.name}: style distance {scores.style_distance:.4g} vs photos' {scores.photo_style_distance:.4g} "
              f"(ratio {scores.style_ratio:.3f}); content distance {scores.content_distance:.3f}; "
              f"grid texture {scores.grid_amplitude:.2f} grey levels (photos {scores.photo_grid_amplitude:.2f}); "
              f"{scores.photos} photos at 512 px")
    return 0
