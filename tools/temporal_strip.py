"""Save a picture strip of consecutive frames: the input, frame-by-frame stylization, and the smoothed one.

Usage: python tools/temporal_strip.py VIDEO OUT.png [--start N] [--count 4] [--style NAME] [--temporal 0.7]
Rows: input, frame by frame (--temporal 0), smoothed; one column per frame. The smoothing warms up on the frames
before --start, as it would in a real run.
"""

from __future__ import annotations

import argparse
import sys
from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from framestyle.flicker import read_video
from framestyle.imageio import write_image
from framestyle.stylizer import Stylizer
from framestyle.temporal import DEFAULT_TEMPORAL


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--start", type=int, default=30)
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--style")
    parser.add_argument("--temporal", type=float, default=DEFAULT_TEMPORAL)
    parser.add_argument("--tile-width", type=int, default=320)
    args = parser.parse_args()
    frames = list(islice(read_video(args.video), args.start + args.count))
    plain = Stylizer(args.style, temporal=0.0)
    smooth = Stylizer(plain.model, temporal=args.temporal)
    rows: list[list[np.ndarray]] = [[], [], []]
    for index, frame in enumerate(frames):
        smoothed = smooth(frame)
        if index >= args.start:
            for row, image in zip(rows, (frame, plain(frame), smoothed), strict=True):
                row.append(image)
    h, w = frames[0].shape[:2]
    size = (args.tile_width, round(h * args.tile_width / w))
    picture = np.vstack([np.hstack([cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in row]) for row in rows])
    write_image(args.out, picture)
    print(f"{args.out}: rows input / frame by frame / temporal {args.temporal}, frames {args.start}.."
          f"{args.start + args.count - 1}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
