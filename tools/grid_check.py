"""Measure grid texture in stylized photos: the grid amplitude (``framestyle.grid_texture``) at periods 2, 4 and 8
pixels, in grey levels, of each style's output and of the photos themselves, as means over the photos.

Usage: python tools/grid_check.py PHOTO [PHOTO ...] [--styles NAME|FILE.onnx ...] [--side 512]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from framestyle.catalog import bundled_styles, resolve_style
from framestyle.engine import EngineOptions, StyleEngine
from framestyle.grid_texture import GRID_PERIODS, grid_amplitudes
from framestyle.imageio import read_rgb, resize_long_side


def mean_amplitudes(images: list[np.ndarray]) -> dict[int, float]:
    """Grid amplitude per period, averaged over the images."""
    per_image = [grid_amplitudes(image) for image in images]
    return {period: float(np.mean([a[period] for a in per_image])) for period in GRID_PERIODS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path, nargs="+")
    parser.add_argument("--styles", nargs="*", help="default: every bundled style")
    parser.add_argument("--side", type=int, default=512, help="long side the photos are stylized at")
    args = parser.parse_args()
    styles = [resolve_style(s) for s in args.styles] if args.styles else bundled_styles()
    photos = [resize_long_side(read_rgb(path), args.side) for path in args.photos]
    print(f"{'':24s}" + "".join(f"{f'period {p}':>10s}" for p in GRID_PERIODS) + "   (grey levels)")
    rows = [("photos", mean_amplitudes(photos))]
    for style in styles:
        engine = StyleEngine(style, EngineOptions(device="cpu"))
        rows.append((style.name, mean_amplitudes([engine(photo) for photo in photos])))
    for name, amplitudes in rows:
        print(f"{name:24s}" + "".join(f"{amplitudes[p]:10.2f}" for p in GRID_PERIODS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
