"""Train (or resume) the shared network of the bundled styles: distillation from their single-style models, then
(``--paint``) the perceptual losses themselves, each style steered to a content distance.

Usage: python tools/train_shared.py --data ../shared/data --vgg-weights VGG.pth
       [--out models/training/shared/shared.onnx] [--steps N] [--max-minutes M] [--width H Q E --init-from NAME]
       [--paint [--publish-to DIR]]
       [--refine NAME ... [--style-scale S] [--stability-scale S] [--face-keep-weight W] [--gray-fraction F]
        [--temporal-weight W]
        [--refined-dir DIR] [--publish [--publish-to DIR]]]
The training images are the data kit's content photos, minus the bundled recipes' validation photos, and every 8th
frame of its clips (every 4th with ``--paint``, plus the pictures that ship for ``stylize add-style``). The same
command resumes from OUT's checkpoint (OUT.ckpt; ``--paint`` checkpoints to OUT's ``painted`` sibling and starts from
the finished distillation); when the steps are done it writes OUT (frame and style in, stylized frame out), OUT's fp16
twin and the cards of its styles beside it (NAME.json, each with its style vector and its scores on the validation
photos). The finished ``--paint`` stage writes them as the bundled network instead: ``shared.onnx`` and its cards in
``--publish-to`` (default ``models/shared``), replacing the distilled one; run again, it only writes them again.
``--refine NAME ...`` afterwards trains those styles' vectors further with the shared layers fixed and the
face-keeping loss on (resumed the same way), and ``--publish`` writes the refined vectors into their style cards.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import numpy as np

from framestyle.imageio import read_rgb
from framestyle.train.data import box_mask, expand_image_paths, video_frames
from framestyle.train.distill import DistillConfig, distill

ROOT = Path(__file__).resolve().parent.parent
TEACHERS = ("composition_vii", "great_wave", "shipwreck", "starry_night", "the_scream", "udnie", "woman_with_a_hat")
#: Where the single-style networks the shared network was distilled from are kept when the bundle no longer ships
#: them (their style is bundled as the shared network's instead); ``python tools/train_zoo.py --out`` remakes them.
RETIRED_TEACHERS = ROOT / "models" / "training" / "teachers"
#: Where ``--refine`` keeps the refined styles' cards (user-style cards: ``stylize --style PATH`` runs them).
REFINED = ROOT / "models" / "training" / "shared" / "refined"
#: Each clip's first frames, those ``tools/bench_flicker.py --frames 100`` measures, stay out of the temporal loss.
TEMPORAL_SKIP = 100
REFINE_STEPS = 1500
REFINE_RATE = 0.01


def teacher_path(name: str) -> Path:
    """The single-style network of a bundled style: the bundled one, else the retired one."""
    bundled = ROOT / "models" / f"{name}.onnx"
    return bundled if bundled.exists() else RETIRED_TEACHERS / f"{name}.onnx"


def _recipes() -> list[dict]:
    return [tomllib.loads(p.read_text()) for p in sorted((ROOT / "models" / "recipes").glob("*.toml"))]


def recipe_clips() -> list[str]:
    """The clips the bundled recipes train on (file names in the data kit)."""
    return sorted({clip for recipe in _recipes() for clip in recipe.get("videos", [])})


def named_training_images(data: Path, every: int = 8) -> list[tuple[str, np.ndarray]]:
    """The content photos no bundled recipe validates on, and every ``every``-th frame of the recipes' clips."""
    held_out = {name for recipe in _recipes() for name in recipe.get("validation", [])}
    clips = recipe_clips()
    photos = [p for p in expand_image_paths([data / "content"]) if p.name not in held_out]
    named = [(p.name, read_rgb(p)) for p in photos]
    for clip in clips:
        named += [(f"{clip}#{i}", frame) for i, frame in enumerate(video_frames(data / clip, every))]
    return named


def training_images(data: Path) -> list:
    """The distillation's training images (see :func:`named_training_images`)."""
    return [image for _, image in named_training_images(data)]


def last_stage_style_weight(name: str) -> float:
    """The style weight of a bundled recipe's last stage: where a style's steering starts."""
    recipe = tomllib.loads((ROOT / "models" / "recipes" / f"{name}.toml").read_text())
    stages = [recipe, *[{**recipe, **stage} for stage in recipe.get("stages", [])]]
    return float(stages[-1]["style_weight"])


def painting_images(data: Path, faces_cache: Path) -> tuple[list[tuple[str, np.ndarray]], list[np.ndarray | None]]:
    """The perceptual stage's training images (every 4th clip frame, and the pictures that ship for
    ``stylize add-style``) with their face masks (the detector's boxes kept in ``faces_cache``)."""
    from framestyle.train.data import face_masks

    shipped = ROOT / "realtime" / "content"
    boxes = json.loads((shipped / "faces.json").read_text())
    named = named_training_images(data, every=4)
    masks = face_masks(named, faces_cache)
    for picture in sorted(shipped.glob("*.jpg")):
        image = read_rgb(picture)
        named.append((picture.name, image))
        masks.append(box_mask(image.shape[:2], boxes[picture.name]) if boxes[picture.name] else None)
    return named, masks


def paint(args: argparse.Namespace, teachers: list[Path]) -> int:
    """The perceptual stage, from the finished distillation (see :mod:`framestyle.train.sharedpaint`), at its width."""
    import torch

    from framestyle.train.sharedpaint import PaintConfig, train_painting

    if not args.out.with_suffix(".ckpt").exists():
        print(f"{args.out.with_suffix('.ckpt')}: run the distillation first", file=sys.stderr)
        return 2
    out = args.out.with_name("painted.onnx")
    cards = [json.loads(t.with_suffix(".json").read_text()) for t in teachers]
    distilled = torch.load(args.out.with_suffix(".ckpt"), map_location="cpu", weights_only=False)["config"]
    config = PaintConfig(paintings=[args.data / "styles" / card["painting"]["file"] for card in cards],
                         init=args.out.with_suffix(".ckpt"), out=out, teachers=teachers,
                         width=tuple(distilled["width"]), blocks=distilled["blocks"],
                         style_weights=[last_stage_style_weight(name) for name in TEACHERS],
                         vgg_weights=args.vgg_weights, max_minutes=args.max_minutes,
                         **({"steps": args.steps} if args.steps else {}))
    named, masks = painting_images(args.data, out.with_suffix(".faces.json"))
    shipped = ROOT / "realtime" / "content"
    probes = [read_rgb(p) for p in (shipped / "cameraman_384.jpg", shipped / "tears_of_steel_085.jpg",
                                    args.data / "content" / "skimage_coffee.png",
                                    args.data / "content" / "wave_and_surfer.jpg")]
    result = train_painting(config, [image for _, image in named], masks, probes)
    print(f"{result.steps_done} steps in {result.seconds / 60:.1f} min")
    if result.finished:
        from framestyle.train.mixpublish import PAINTED, publish_shared

        args.publish_to.mkdir(parents=True, exist_ok=True)
        bundled = args.publish_to / "shared.onnx"
        publish_shared(result, dataclasses.replace(config, out=bundled), list(TEACHERS), args.data, args.vgg_weights,
                       method=PAINTED)
        print(f"wrote {bundled}")
    return 0


def refine(args: argparse.Namespace) -> int:
    """Train the vectors of published shared styles further with the shared layers fixed: their steered style weight
    times ``--style-scale``, the stability weight times ``--stability-scale``, the face-keeping loss on, the
    perceptual stage's other terms kept (see :mod:`framestyle.train.newstyle`). Each starts from its card in
    ``--publish-to`` (the network beside it). Cards go to ``--refined-dir``; with ``--publish`` the finished vectors
    are then written into those style cards."""
    import torch

    from framestyle.catalog import resolve_style
    from framestyle.train.newstyle import NewStyleConfig, train_new_style

    painted = torch.load(args.out.with_name("painted.ckpt"), map_location="cpu", weights_only=False)
    steered = dict(zip(TEACHERS, painted["style_weights"], strict=True))
    stage = painted["config"]
    todo = [name for name in args.refine if not (args.refined_dir / f"{name}.json").exists()]
    named, masks = painting_images(args.data, args.out.with_name("painted.faces.json")) if todo else ([], [])
    styles = {name: resolve_style(str(args.publish_to / f"{name}.json")) for name in args.refine}
    for name in todo:
        card = args.refined_dir / f"{name}.json"
        args.refined_dir.mkdir(parents=True, exist_ok=True)
        config = NewStyleConfig(
            painting=args.data / "styles" / styles[name].card["painting"]["file"], name=name, card=card,
            images=[image for _, image in named], masks=masks, vgg_weights=args.vgg_weights, minutes=float("inf"),
            max_steps=args.steps or REFINE_STEPS, learning_rate=REFINE_RATE,
            style_weight=steered[name] * args.style_scale, face_keep_weight=args.face_keep_weight,
            face_weight=stage["face_weight"], stability_weight=stage["stability_weight"] * args.stability_scale,
            gray_fraction=stage["gray_fraction"] if args.gray_fraction is None else args.gray_fraction,
            grid_weight=stage["grid_weight"], structure_weight=stage["structure_weight"],
            structure_allowance=stage["structure_allowance"], title=styles[name].title, artist=styles[name].artist,
            temporal_weight=args.temporal_weight, videos=[args.data / clip for clip in recipe_clips()],
            temporal_skip=TEMPORAL_SKIP)
        result = train_new_style(config, [styles[name]])
        print(f"{name}: {result['training']['steps_done']} steps in {result['training']['seconds'] / 60:.1f} min")
    if args.publish:
        from framestyle.train.mixpublish import publish_refined_style

        for name in args.refine:
            refined = json.loads((args.refined_dir / f"{name}.json").read_text())
            scores = publish_refined_style(args.publish_to / f"{name}.json", refined, args.data, args.vgg_weights)
            print(f"{name}: style ratio {scores['style_ratio']:.3f}, content distance {scores['content_distance']:.3f}"
                  f"; written to {args.publish_to / f'{name}.json'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the data kit")
    parser.add_argument("--vgg-weights", type=Path, help="VGG-16 features state dict, for the validation scores")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "training" / "shared" / "shared.onnx")
    parser.add_argument("--steps", type=int, help="steps in all (default: the stage's own)")
    parser.add_argument("--max-minutes", type=float)
    parser.add_argument("--width", type=int, nargs=3, default=list(DistillConfig.width), metavar=("HALF", "QUARTER",
                        "EIGHTH"), help="the distillation's channels at 1/2, 1/4 and 1/8 resolution (default 16 32 64)"
                        "; --paint takes them from the distillation")
    parser.add_argument("--init-from", choices=TEACHERS, default=TEACHERS[0],
                        help="the teacher whose convolutions start the distillation's shared layers (its width)")
    parser.add_argument("--paint", action="store_true", help="the perceptual stage, after the distillation")
    parser.add_argument("--refine", nargs="+", metavar="NAME", choices=TEACHERS,
                        help="train these styles' vectors further, the shared layers fixed (after --paint)")
    parser.add_argument("--style-scale", type=float, default=1.0,
                        help="with --refine: the style weight, as a multiple of the perceptual stage's last")
    parser.add_argument("--stability-scale", type=float, default=1.0,
                        help="with --refine: the stability loss's weight, as a multiple of the perceptual stage's")
    parser.add_argument("--face-keep-weight", type=float, default=1.0,
                        help="with --refine: the face-keeping loss's weight (default 1, as stylize add-style)")
    parser.add_argument("--gray-fraction", type=float,
                        help="with --refine: the fraction of the crops turned grey (default: the perceptual stage's)")
    parser.add_argument("--temporal-weight", type=float, default=0.0,
                        help="with --refine: the temporal loss's weight on the recipes' clips, their first "
                             f"{TEMPORAL_SKIP} frames (those the flicker is measured on) left out (default 0: off)")
    parser.add_argument("--publish", action="store_true",
                        help="with --refine: write the refined vectors into the style cards in --publish-to")
    parser.add_argument("--refined-dir", type=Path, default=REFINED, help="where --refine writes its cards")
    parser.add_argument("--publish-to", type=Path, default=ROOT / "models" / "shared",
                        help="where the finished perceptual stage writes the bundled network and its style cards")
    args = parser.parse_args()
    teachers = [teacher_path(name) for name in TEACHERS]
    if args.refine:
        return refine(args)
    if args.paint:
        return paint(args, teachers)
    config = DistillConfig(teachers=teachers, out=args.out, steps=args.steps or DistillConfig.steps,
                           max_minutes=args.max_minutes, width=tuple(args.width),
                           init_from=TEACHERS.index(args.init_from))
    result = distill(config, training_images(args.data))
    print(f"{result.steps_done} steps in {result.seconds / 60:.1f} min, loss {result.loss:.4f}")
    if result.finished:
        from framestyle.train.mixpublish import publish_shared

        publish_shared(result, config, list(TEACHERS), args.data, args.vgg_weights)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
