"""The quality frontier: style ratio against content distance on the validation photos, for style networks and for
optimisation-based transfer (Gatys et al.) at several content weights, measured and plotted.

Usage:
  python tools/style_frontier.py measure --data ../shared/data \
      --vgg-weights ../shared/weights/vgg16_features_to_relu4_3.pth --results docs/frontier.json \
      --style composition_vii [--model LABEL=FILE.onnx ...] [--gatys 0.3 1 3 --keep DIR]
  python tools/style_frontier.py plot --results docs/frontier.json --out docs/frontier.png

`measure` adds its points to the results file (kept between runs, written atomically after every point, so an
interrupted run keeps what it measured and a rerun skips what is there). With --keep DIR the optimised pictures are
kept there too, one PNG per photo, so a stopped optimisation (four minutes a photo on two idle cores) resumes at the
photo it was on. Without --model and --gatys it measures the bundled model of --style. The photos are the recipes'
validation photos, at 512 px, as `stylize evaluate-style` measures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import numpy as np

from framestyle.atomic import write_bytes_atomic
from framestyle.catalog import resolve_style
from framestyle.engine import EngineOptions, StyleEngine
from framestyle.imageio import read_rgb, write_image

RECIPES = Path(__file__).resolve().parent.parent / "models" / "recipes"
#: The goals of 2026-12-04, which every bundled style meets, drawn dashed.
MAX_STYLE_RATIO, MAX_CONTENT_DISTANCE = 0.45, 0.6
#: The current goals, drawn dotted.
NEXT_STYLE_RATIO, NEXT_CONTENT_DISTANCE = 0.25, 0.55


def kept(stylize: Callable[[np.ndarray], np.ndarray], folder: Path | None) -> Callable[[np.ndarray], np.ndarray]:
    """``stylize`` with its pictures kept in ``folder`` (PNG, named by the photo's digest): a picture already there
    is read back instead of being computed again. Without a folder, ``stylize`` itself."""
    if folder is None:
        return stylize

    def stylize_or_read(photo: np.ndarray) -> np.ndarray:
        path = folder / f"{hashlib.sha256(photo.tobytes() + repr(photo.shape).encode()).hexdigest()[:16]}.png"
        if path.exists():
            return read_rgb(path)
        picture = stylize(photo)
        folder.mkdir(parents=True, exist_ok=True)
        write_image(path, picture)
        return picture

    return stylize_or_read


def measure(args: argparse.Namespace) -> int:
    import torch

    from framestyle.train.evaluate import load_photos, painting_grams, score_style
    from framestyle.train.optimise import optimise_picture
    from framestyle.train.vgg import load_vgg

    torch.set_num_threads(args.threads)
    recipe = tomllib.loads((RECIPES / f"{args.style}.toml").read_text())
    painting = read_rgb(args.data / recipe["style"])
    photos = load_photos([args.data / "content" / name for name in recipe["validation"]])
    vgg = load_vgg(args.vgg_weights)
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    points = results.setdefault(args.style, {})

    def record(label: str, kind: str, stylize) -> None:  # type: ignore[no-untyped-def]
        if label in points and not args.again:
            print(f"{args.style} {label}: already measured", flush=True)
            return
        start = time.monotonic()
        scores = score_style(vgg, painting, photos, stylize)
        points[label] = {"kind": kind, "style_ratio": scores.style_ratio, "content_distance": scores.content_distance,
                         "seconds": round(time.monotonic() - start, 1), "date": time.strftime("%Y-%m-%d")}
        write_bytes_atomic(args.results, (json.dumps(results, indent=1, sort_keys=True) + "\n").encode())
        print(f"{args.style} {label}: style ratio {scores.style_ratio:.3f}, content distance "
              f"{scores.content_distance:.3f} ({points[label]['seconds']:.0f} s)", flush=True)

    models = [item.split("=", 1) for item in args.model] or ([] if args.gatys else [["bundled", args.style]])
    for label, model in models:
        engine = StyleEngine(resolve_style(model), EngineOptions(device="cpu"))
        record(label, "network", engine)
    grams = painting_grams(vgg, painting)
    for weight in args.gatys:
        label = f"gatys cw={weight:g}"
        folder = args.keep / args.style / f"{label.replace(' ', '_')}_{args.steps}_steps" if args.keep else None
        record(label, "optimisation", kept(
            lambda photo, w=weight: optimise_picture(vgg, photo, grams, content_weight=w, steps=args.steps), folder))
    return 0


#: Where a label may go, in points from its point: beside it, then above or below, then further out.
LABEL_OFFSETS = [(dx, dy) for step in (0, 7, 14, 21, 28) for dy in (3 + step, -9 - step) for dx in (3, -3)]


def place_labels(axis, points: dict[str, tuple[float, float]]) -> None:  # type: ignore[no-untyped-def]
    """Label each point at the first place near it that overlaps no label placed before and stays in the panel
    (right of the point, or left of it, ending there), so crowded points stay readable."""
    renderer = axis.figure.canvas.get_renderer()
    panel = axis.get_window_extent(renderer)
    placed = []
    for label, (x, y) in sorted(points.items(), key=lambda item: -item[1][1]):
        fits = []
        for dx, dy in LABEL_OFFSETS:
            text = axis.annotate(label, (x, y), fontsize=6, xytext=(dx, dy), textcoords="offset points",
                                 ha="left" if dx > 0 else "right")
            box = text.get_window_extent(renderer)
            text.remove()
            if panel.x0 <= box.x0 and box.x1 <= panel.x1 and panel.y0 <= box.y0 and box.y1 <= panel.y1:
                fits.append((any(box.overlaps(other) for other in placed), (dx, dy), box))
        _, (dx, dy), box = min(fits, key=lambda fit: fit[0]) if fits else (True, LABEL_OFFSETS[0], None)
        axis.annotate(label, (x, y), fontsize=6, xytext=(dx, dy), textcoords="offset points",
                      ha="left" if dx > 0 else "right",
                      arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "grey"} if abs(dy) > 9 else None)
        if box is not None:
            placed.append(box)


def plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.loads(args.results.read_text())
    styles = sorted(results)
    columns = min(4, len(styles))
    rows = (len(styles) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.3 * rows), squeeze=False)
    markers = {"network": "o", "optimisation": "s"}
    for axis, style in zip(axes.flat, styles, strict=False):
        for point in results[style].values():
            axis.scatter(point["content_distance"], point["style_ratio"], marker=markers[point["kind"]], s=28,
                         color="tab:blue" if point["kind"] == "network" else "tab:orange")
        axis.axvline(MAX_CONTENT_DISTANCE, color="grey", lw=0.6, ls="--")
        axis.axhline(MAX_STYLE_RATIO, color="grey", lw=0.6, ls="--")
        axis.axvline(NEXT_CONTENT_DISTANCE, color="grey", lw=0.6, ls=":")
        axis.axhline(NEXT_STYLE_RATIO, color="grey", lw=0.6, ls=":")
        axis.set_title(style, fontsize=9)
        axis.set_xlabel("content distance (relu2_2)", fontsize=7)
        axis.set_ylabel("style ratio", fontsize=7)
        axis.tick_params(labelsize=6)
        axis.set_xlim(left=0)
        axis.set_ylim(bottom=0)
    for axis in list(axes.flat)[len(styles):]:
        axis.axis("off")
    figure.suptitle("Lower left is better; dashed: the goals of 2026-12-04, dotted: the current goals.\n"
                    "Circles: networks; squares: optimisation (Gatys)",
                    fontsize=8)
    figure.tight_layout()
    for axis, style in zip(axes.flat, styles, strict=False):
        place_labels(axis, {label: (point["content_distance"], point["style_ratio"])
                            for label, point in sorted(results[style].items())})
    figure.savefig(args.out, dpi=110)
    print(args.out)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    m = commands.add_parser("measure", help="measure networks and optimisation on one style")
    m.add_argument("--data", type=Path, required=True, help="the data kit (styles/ and content/)")
    m.add_argument("--vgg-weights", type=Path, required=True)
    m.add_argument("--results", type=Path, required=True, help="JSON file the points are added to")
    m.add_argument("--style", required=True, help="a recipe name in models/recipes")
    m.add_argument("--model", nargs="*", default=[], metavar="LABEL=FILE.onnx")
    m.add_argument("--gatys", nargs="*", type=float, default=[], metavar="CONTENT_WEIGHT")
    m.add_argument("--steps", type=int, default=150, help="Adam steps of the optimisation (default 150)")
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--keep", type=Path, metavar="DIR",
                   help="keep the optimised pictures here, so a stopped run resumes photo by photo")
    m.add_argument("--again", action="store_true", help="measure points that are already in the results")
    p = commands.add_parser("plot", help="draw the results")
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    return measure(args) if args.command == "measure" else plot(args)


if __name__ == "__main__":
    sys.exit(main())
