"""How close each style comes to the optimum: one film frame stylized by every style's network(s) and by the
optimiser (Gatys et al.) at content weight 1, a row per style, each tile labelled with its style ratio and content
distance on that frame (as ``stylize evaluate-style`` measures them, at 512 px).

    python tools/optimiser_sheet.py OUT.jpg FRAME --data ../shared/data \
        --vgg-weights ../shared/weights/vgg16_features_to_relu4_3.pth [--styles NAME ...] \
        [--networks NAME NAME=1] [--steps 150] [--keep DIR] [--height 200]

FRAME is a picture, or a video and ``--frame-index N``. ``--networks`` says which networks of a style get a column:
``NAME`` is what the bare name runs, ``NAME=1`` the style of the shared network. The optimised pictures take minutes
each on two cores; with ``--keep DIR`` they are kept there, so a stopped run resumes at the style it was on. Needs
the [train] extra.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import cv2
import numpy as np

from framestyle.catalog import bundled_styles, resolve_style
from framestyle.engine import EngineOptions, StyleEngine
from framestyle.flicker import read_video
from framestyle.imageio import read_rgb, resize_long_side, write_image

RECIPES = Path(__file__).resolve().parent.parent / "models" / "recipes"
#: The optimiser's content weight: the frontier's middle point.
CONTENT_WEIGHT = 1.0


def label(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """``image`` with ``lines`` of text in a dark band at its top."""
    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 4 + 14 * len(lines)), (0, 0, 0), -1)
    for row, text in enumerate(lines):
        cv2.putText(out, text, (4, 13 + 14 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def read_frame(path: Path, index: int) -> np.ndarray:
    """A picture, or frame ``index`` of a video."""
    if path.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}:
        return read_rgb(path)
    for number, frame in enumerate(read_video(path)):
        if number == index:
            return frame
    raise SystemExit(f"{path}: has no frame {index}")


def optimised(vgg, photo: np.ndarray, grams, steps: int, kept: Path | None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The optimiser's picture, read from ``kept`` when an earlier run made it."""
    from framestyle.train.optimise import optimise_picture

    if kept is not None and kept.is_file():
        return read_rgb(kept)
    picture = optimise_picture(vgg, photo, grams, content_weight=CONTENT_WEIGHT, steps=steps)
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        write_image(kept, picture)
    return picture


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("frame", type=Path, help="a picture, or a video (with --frame-index)")
    parser.add_argument("--frame-index", type=int, default=0)
    parser.add_argument("--data", type=Path, required=True, help="the data kit (its styles/ holds the paintings)")
    parser.add_argument("--vgg-weights", type=Path, required=True)
    parser.add_argument("--styles", nargs="*", help="default: every bundled style")
    parser.add_argument("--networks", nargs="+", default=["NAME"], help="columns: NAME and/or NAME=1")
    parser.add_argument("--steps", type=int, default=150, help="Adam steps of the optimiser")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the optimised pictures here")
    parser.add_argument("--height", type=int, default=200, help="height of each tile")
    args = parser.parse_args()

    import torch

    from framestyle.train.evaluate import EVAL_SIDE, painting_grams, score_style
    from framestyle.train.vgg import load_vgg

    torch.set_num_threads(2)
    names = args.styles or [style.name for style in bundled_styles()]
    photo = resize_long_side(read_frame(args.frame, args.frame_index), EVAL_SIDE)
    vgg = load_vgg(args.vgg_weights)
    width = round(photo.shape[1] * args.height / photo.shape[0])

    def tile(image: np.ndarray, lines: list[str], tile_width: int = width) -> np.ndarray:
        return label(cv2.resize(image, (tile_width, args.height), interpolation=cv2.INTER_AREA), lines)

    rows = []
    for name in names:
        recipe = tomllib.loads((RECIPES / f"{name}.toml").read_text())
        painting = read_rgb(args.data / recipe["style"])
        tiles = [tile(painting, [name], round(painting.shape[1] * args.height / painting.shape[0]))]
        for column in args.networks:
            spec = column.replace("NAME", name)
            engine = StyleEngine(resolve_style(spec), EngineOptions(device="cpu"))
            scores = score_style(vgg, painting, [photo], engine)
            tiles.append(tile(engine(photo), [spec, f"ratio {scores.style_ratio:.2f} content "
                                                    f"{scores.content_distance:.2f}"]))
        kept = args.keep / f"{name}_cw{CONTENT_WEIGHT:g}_{args.steps}.png" if args.keep else None
        picture = optimised(vgg, photo, painting_grams(vgg, painting), args.steps, kept)
        scores = score_style(vgg, painting, [photo], lambda _photo, picture=picture: picture)
        tiles.append(tile(picture, [f"optimiser, content weight {CONTENT_WEIGHT:g}",
                                    f"ratio {scores.style_ratio:.2f} content {scores.content_distance:.2f}"]))
        print(f"{name}: done", flush=True)
        rows.append(np.hstack(tiles))
    widest = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 0), (0, widest - row.shape[1]), (0, 0))) for row in rows]
    header = tile(photo, ["the frame"])
    sheet = np.vstack([np.pad(header, ((0, 0), (0, widest - header.shape[1]), (0, 0))), *rows])
    write_image(args.out, sheet)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
