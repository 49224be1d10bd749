"""Make a short clip with faces from still portraits: a slow camera move (pan and zoom) over each picture, for
measuring face survival on footage no style was trained on.

    python tools/make_face_clip.py OUT.mp4 PORTRAIT [PORTRAIT ...] [--size 640x360] [--seconds 4] [--fps 24] [--grey]

Each portrait gets ``--seconds`` of footage: the view starts on the whole picture (letterboxed into the frame's
aspect) and moves in towards its centre to 1.6x, drifting sideways, as a documentary's camera does over a photo.
``--grey`` makes black-and-white footage: each portrait is turned to its luminance (BT.601) first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import cv2
import numpy as np

from framestyle.cli.bench import parse_size
from framestyle.imageio import read_rgb


def camera_move(portrait: np.ndarray, width: int, height: int, frames: int) -> list[np.ndarray]:
    """Frames of a zoom from 1x to 1.6x with a sideways drift over ``portrait``, each ``width`` x ``height``."""
    h, w = portrait.shape[:2]
    fit = min(width / w, height / h)
    result = []
    for index in range(frames):
        t = index / max(frames - 1, 1)
        zoom = fit * (1.0 + 0.6 * t)
        drift = (t - 0.5) * 0.08 * w * zoom
        matrix = np.array([[zoom, 0.0, width / 2 - zoom * w / 2 + drift],
                           [0.0, zoom, height / 2 - zoom * h / 2]], np.float64)
        result.append(cv2.warpAffine(portrait, matrix, (width, height), flags=cv2.INTER_CUBIC,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=(16, 16, 16)))
    return result


def black_and_white(picture: np.ndarray) -> np.ndarray:
    """An (H, W, 3) uint8 RGB picture as grey RGB: its BT.601 luminance in all three channels."""
    return cv2.cvtColor(cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("portraits", type=Path, nargs="+")
    parser.add_argument("--size", type=parse_size, default=(640, 360))
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--grey", action="store_true", help="black-and-white footage")
    args = parser.parse_args()
    width, height = args.size
    partial = args.out.with_name(f".{args.out.name}.part{args.out.suffix}")
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=args.fps, options={"crf": "16", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for path in args.portraits:
            portrait = black_and_white(read_rgb(path)) if args.grey else read_rgb(path)
            for image in camera_move(portrait, width, height, round(args.seconds * args.fps)):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    partial.replace(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
