"""Train (or resume) the bundled styles from their recipes in models/recipes/, one after another.

Usage: python tools/train_zoo.py --data ../shared/data --vgg-weights ../shared/weights/vgg16_features_to_relu4_3.pth
       [--out models] [--only NAME ...] [--max-minutes M]
Each run resumes from its checkpoint (models/NAME.ckpt), so an interrupted zoo run continues where it stopped.
The content photos are the data kit's content folder minus the recipe's validation photos.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tomllib

from framestyle.cli import main as stylize

RECIPES = Path(__file__).resolve().parent.parent / "models" / "recipes"


def recipe_arguments(recipe: dict, data: Path, vgg: Path, out: Path, max_minutes: float | None) -> list[str]:
    """The `stylize train` arguments of one recipe."""
    validation = [data / "content" / name for name in recipe["validation"]]
    content = sorted(p for p in (data / recipe["content"]).iterdir() if p.name not in recipe["validation"])
    args = ["train", "--style", str(data / recipe["style"]), "--name", recipe["name"],
            "--out", str(out / f"{recipe['name']}.onnx"), "--vgg-weights", str(vgg), "--resume",
            "--content", *map(str, content), "--validation", *map(str, validation),
            "--video", *(str(data / v) for v in recipe["videos"])]
    for key in ("steps", "crop", "batch", "style_weight", "stability_weight", "seed", "title", "artist", "year",
                "credit", "licence", "arch", "tv_weight", "lr", "grid_weight", "face_weight",
                "video_every", "content_weight"):
        if key in recipe:
            args += [f"--{key.replace('_', '-')}", str(recipe[key])]
    if "width" in recipe:
        args += ["--width", *map(str, recipe["width"])]
    for key in ("blocks", "detail"):
        if key in recipe:
            args += [f"--{key}", str(recipe[key])]
    if max_minutes:
        args += ["--max-minutes", str(max_minutes)]
    return args


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--vgg-weights", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=RECIPES.parent)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--recipes", type=Path, default=RECIPES)
    parser.add_argument("--max-minutes", type=float)
    args = parser.parse_args()
    names = args.only or [p.stem for p in sorted(args.recipes.glob("*.toml"))]
    for name in names:
        recipe = tomllib.loads((args.recipes / f"{name}.toml").read_text())
        print(f"== {name}", flush=True)
        status = stylize(recipe_arguments(recipe, args.data, args.vgg_weights, args.out, args.max_minutes))
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
