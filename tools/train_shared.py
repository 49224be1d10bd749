"""Train (or resume) the shared network of the bundled styles by distillation from their single-style models.

Usage: python tools/train_shared.py --data ../shared/data --vgg-weights VGG.pth
       [--out models/training/shared/shared.onnx] [--steps N] [--max-minutes M]
The training images are the data kit's content photos, minus the bundled recipes' validation photos, and every 8th
frame of its clips, as for the single-style networks. The same command resumes from OUT's checkpoint (OUT.ckpt);
when the steps are done it writes OUT (frame and style in, stylized frame out), OUT's fp16 twin and the
cards of its styles beside it (NAME.json, each with its style vector and its scores on the validation photos).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from framestyle.imageio import read_rgb
from framestyle.train.data import expand_image_paths, video_frames
from framestyle.train.distill import DistillConfig, distill

ROOT = Path(__file__).resolve().parent.parent
TEACHERS = ("composition_vii", "great_wave", "shipwreck", "starry_night", "the_scream", "udnie", "woman_with_a_hat")


def training_images(data: Path) -> list:
    """The content photos no bundled recipe validates on, and every 8th frame of the recipes' clips."""
    recipes = [tomllib.loads(p.read_text()) for p in sorted((ROOT / "models" / "recipes").glob("*.toml"))]
    held_out = {name for recipe in recipes for name in recipe.get("validation", [])}
    clips = sorted({clip for recipe in recipes for clip in recipe.get("videos", [])})
    photos = [p for p in expand_image_paths([data / "content"]) if p.name not in held_out]
    images = [read_rgb(p) for p in photos]
    for clip in clips:
        images += video_frames(data / clip, 8)
    return images


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the data kit")
    parser.add_argument("--vgg-weights", type=Path, help="VGG-16 features state dict, for the validation scores")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "training" / "shared" / "shared.onnx")
    parser.add_argument("--steps", type=int, default=DistillConfig.steps)
    parser.add_argument("--max-minutes", type=float)
    args = parser.parse_args()
    teachers = [ROOT / "models" / f"{name}.onnx" for name in TEACHERS]
    config = DistillConfig(teachers=teachers, out=args.out, steps=args.steps, max_minutes=args.max_minutes)
    result = distill(config, training_images(args.data))
    print(f"{result.steps_done} steps in {result.seconds / 60:.1f} min, loss {result.loss:.4f}")
    if result.finished:
        from framestyle.train.mixpublish import publish_shared

        publish_shared(result, config, list(TEACHERS), args.data, args.vgg_weights)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
