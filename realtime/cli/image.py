"""Stylize a picture, or every picture in a folder into another folder.

Transparency is kept (the colours are stylized, the alpha channel put back) and grey pictures stay grey. Each output
is written atomically, and an input is never overwritten.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from framestyle.cli.video import add_style_options, make_stylizer
from framestyle.errors import InputError, OutputError
from framestyle.imageio import IMAGE_SUFFIXES, read_image, write_image
from framestyle.stylizer import Stylizer


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``image`` arguments."""
    parser.add_argument("input", metavar="IN", type=Path, help="a picture, or a folder of pictures")
    parser.add_argument("output", metavar="OUT", type=Path, help="the picture to write (or an existing folder to "
                        "write it into); for a folder IN, the folder to write into (made if missing)")
    add_style_options(parser, temporal=False)


def run(args: argparse.Namespace) -> int:
    """Stylize one picture or a folder of them."""
    if args.input.is_dir():
        return _run_folder(args.input, args.output, args)
    image = read_image(args.input)
    output = args.output / args.input.name if args.output.is_dir() else args.output
    _check_target(output, args.input)
    write_image(output, stylize_picture(make_stylizer(args), image))
    print(output)
    return 0


def stylize_picture(stylizer: Stylizer, image: np.ndarray) -> np.ndarray:
    """Stylize a grey, RGB or RGBA picture and give it back in the same form (alpha untouched)."""
    if image.ndim == 2:
        return cv2.cvtColor(stylizer(cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)), cv2.COLOR_RGB2GRAY)
    if image.shape[2] == 4:
        return np.dstack([stylizer(np.ascontiguousarray(image[..., :3])), image[..., 3]])
    return stylizer(image)


def _check_target(output: Path, source: Path) -> None:
    if output.suffix.lower() not in IMAGE_SUFFIXES:
        raise OutputError(f"{output}: not a picture name; use one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    if output.resolve() == source.resolve() or (output.exists() and output.samefile(source)):
        raise OutputError(f"{output}: this is the input picture; choose another output name (inputs are never "
                          "overwritten)")


def _run_folder(folder: Path, output: Path, args: argparse.Namespace) -> int:
    pictures = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not pictures:
        raise InputError(f"{folder}: no pictures here ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if output.exists() and not output.is_dir():
        raise OutputError(f"{output}: not a folder (IN is a folder, so OUT must be one)")
    if not output.exists() and output.suffix.lower() in IMAGE_SUFFIXES:
        raise OutputError(f"{output}: a picture name, but IN is a folder, so OUT must be a folder (made if missing); "
                          "give a folder name")
    if output.resolve() == folder.resolve() or (output.exists() and output.samefile(folder)):
        raise OutputError(f"{output}: this is the input folder; choose another one (inputs are never overwritten)")
    stylizer = make_stylizer(args)  # no --temporal: the pictures are unrelated
    try:
        output.mkdir(exist_ok=True)
    except OSError as error:
        raise OutputError(f"{output}: cannot make this folder ({error.strerror})") from error
    skipped = 0
    for picture in pictures:
        try:
            image = read_image(picture)
        except InputError as error:
            print(f"stylize image: skipped: {error}", file=sys.stderr)
            skipped += 1
            continue
        write_image(output / picture.name, stylize_picture(stylizer, image))
    print(f"{output}: {len(pictures) - skipped} pictures written" + (f", {skipped} skipped" if skipped else ""))
    return 2 if skipped else 0
