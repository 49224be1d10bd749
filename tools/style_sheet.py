"""Save a picture of photos stylized by each style: a row per photo, the photo first, then one column per style.

Usage: python tools/style_sheet.py OUT.png PHOTO [PHOTO ...] [--styles NAME|FILE.onnx ...] [--height 240]
    [--columns N]

With ``--columns N`` each photo's tiles wrap into rows of N (a grid instead of one long row).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from framestyle.catalog import bundled_styles, resolve_style
from framestyle.engine import EngineOptions, StyleEngine
from framestyle.imageio import read_rgb, resize_long_side, write_image


def label(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` with ``text`` in a dark band at its top."""
    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 18), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("photos", type=Path, nargs="+")
    parser.add_argument("--styles", nargs="*", help="default: every bundled style")
    parser.add_argument("--height", type=int, default=240, help="height of each tile")
    parser.add_argument("--side", type=int, default=512, help="long side the photos are stylized at")
    parser.add_argument("--columns", type=int, default=0, help="tiles per row (default: all of a photo's)")
    args = parser.parse_args()
    styles = [resolve_style(s) for s in args.styles] if args.styles else bundled_styles()
    engines = [StyleEngine(style, EngineOptions(device="cpu")) for style in styles]
    rows = []
    for path in args.photos:
        photo = resize_long_side(read_rgb(path), args.side)
        stylized = [label(engine(photo), style.name) for style, engine in zip(styles, engines, strict=True)]
        tiles = [label(photo, path.stem), *stylized]
        width = round(photo.shape[1] * args.height / photo.shape[0])
        tiles = [cv2.resize(t, (width, args.height), interpolation=cv2.INTER_AREA) for t in tiles]
        columns = args.columns or len(tiles)
        rows += [np.hstack(tiles[start:start + columns]) for start in range(0, len(tiles), columns)]
    widest = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 0), (0, widest - row.shape[1]), (0, 0))) for row in rows]
    write_image(args.out, np.vstack(rows))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
