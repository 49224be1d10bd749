"""The look of large frames at the working resolution against the network at full resolution, for every style.

    python tools/hd_quality.py clip1280x720.webm clip1920x1080.webm --paintings ../shared/data/styles \
        --vgg-weights ../shared/weights/vgg16_features_to_relu4_3.pth [--frames 2] [--max-side N] \
        [--picture docs/images/hd_fast_path.jpg]

For each style and clip, on the same frames (no smoothing): the network at full resolution (``--max-side 0``)
against the default path (or ``--max-side N``): style ratio and content distance as ``framestyle.train.evaluate``
defines them, measured at the output's size; grid texture (largest grid amplitude, grey levels); edge sharpness,
the mean gradient magnitude of the output's luminance on the photo's edges (Canny), fast over full. ``--picture``
writes the default style on the last clip's first frame: full resolution above the default path, each with a crop
at 100%.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from framestyle.catalog import offered_styles
from framestyle.grid_texture import grid_amplitudes
from framestyle.imageio import read_rgb, write_image
from framestyle.media.container import open_input
from framestyle.stylizer import Stylizer
from framestyle.train.evaluate import painting_grams, to_tensor
from framestyle.train.losses import content_distance, style_distance
from framestyle.train.vgg import CONTENT_LAYER, load_vgg


def read_frames(clip: Path, count: int, step: int = 48) -> list[np.ndarray]:
    """``count`` frames of ``clip``, ``step`` frames apart from the 24th."""
    frames = []
    with open_input(clip) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= 24 and (index - 24) % step == 0:
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) == count:
                    break
    return frames


def edge_energy(image: np.ndarray, edges: np.ndarray) -> float:
    """Mean gradient magnitude of ``image``'s luminance on the ``edges`` mask."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))[edges].mean())


def crop_sheet(frame: np.ndarray, full: np.ndarray, fast: np.ndarray, crop: int = 400) -> np.ndarray:
    """Full resolution (top) and fast path (bottom), each as the frame at half size beside a 100% centre crop."""
    height, width = frame.shape[:2]
    y, x = (height - crop) // 2, (width - crop) // 2
    rows = []
    for image in (full, fast):
        half = cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        detail = image[y : y + crop, x : x + crop]
        pad = np.zeros((half.shape[0], crop, 3), np.uint8)
        pad[: min(crop, half.shape[0])] = detail[: half.shape[0]]
        rows.append(np.hstack([half, pad]))
    return np.vstack(rows)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, nargs="+")
    parser.add_argument("--paintings", type=Path, required=True)
    parser.add_argument("--vgg-weights", type=Path)
    parser.add_argument("--frames", type=int, default=1)
    parser.add_argument("--max-side", type=int, help="the fast path's working side (default: the default path)")
    parser.add_argument("--styles", nargs="+", help="default: every bundled style")
    parser.add_argument("--picture", type=Path)
    args = parser.parse_args()
    vgg = load_vgg(args.vgg_weights)
    clips = {clip: read_frames(clip, args.frames) for clip in args.clips}
    photo_features = {(clip, i): vgg(to_tensor(f)) for clip, frames in clips.items() for i, f in enumerate(frames)}
    print(f"{'style':>17} {'clip':>22} | {'style ratio full/fast':>21} | {'content full/fast':>17} | "
          f"{'grid full/fast':>14} | {'edges fast/full':>15}")
    for number, model in enumerate(offered_styles(args.styles)):  # the default style first
        name = model.name
        grams = painting_grams(vgg, read_rgb(args.paintings / model.card["painting"]["file"]))
        full_path = Stylizer(model, max_side=0, temporal=0.0)
        fast_path = Stylizer(model, max_side=args.max_side, temporal=0.0, engine=full_path.engine)
        for clip, frames in clips.items():
            sums = np.zeros(7)
            for index, frame in enumerate(frames):
                photo = photo_features[(clip, index)]
                edges = cv2.Canny(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 100, 200) > 0
                scores = []
                for stylizer in (full_path, fast_path):
                    out = stylizer.stylize_only(frame)
                    features = vgg(to_tensor(out))
                    ratio = float(style_distance(features, grams)) / float(style_distance(photo, grams))
                    content = float(content_distance(features, getattr(photo, CONTENT_LAYER)))
                    scores.append((ratio, content, max(grid_amplitudes(out).values()), edge_energy(out, edges), out))
                (r0, c0, g0, e0, full), (r1, c1, g1, e1, fast) = scores
                sums += (r0, r1, c0, c1, g0, g1, e1 / e0)
                if args.picture and index == 0 and clip == args.clips[-1] and number == 0:
                    write_image(args.picture, crop_sheet(frame, full, fast))
            m = sums / len(frames)
            print(f"{name:>17} {clip.name:>22} | {m[0]:10.3f} {m[1]:10.3f} | {m[2]:8.3f} {m[3]:8.3f} | "
                  f"{m[4]:6.2f} {m[5]:7.2f} | {m[6]:15.3f}", flush=True)


if __name__ == "__main__":
    main()
