"""Train (or resume) the bundled styles from their recipes in models/recipes/, one after another.

Usage: python tools/train_zoo.py --data ../shared/data --vgg-weights ../shared/weights/vgg16_features_to_relu4_3.pth
       [--out models] [--only NAME ...] [--max-minutes M]
Each run resumes from its checkpoint (models/NAME.ckpt), so an interrupted zoo run continues where it stopped.
A recipe's keys are the fields of framestyle.train.config.TrainConfig (paths relative to the data kit); the content
photos are the data kit's content folder minus the recipe's validation photos.

A recipe with ``[[stages]]`` tables is trained in stages: each stage's keys replace the recipe's, and every stage
after the first starts from the previous stage's model (``stylize train --init``). The earlier stages' models and
checkpoints go to OUT/.stages/ (kept, so a rerun skips the stages already finished); the last stage writes
OUT/NAME.onnx, and its card's "training" block gets ``earlier_stages`` (the settings and time of each stage before
it), ``total_steps`` and ``total_seconds``.

A recipe's own ``init`` names another finished model of the same OUT folder (e.g. ``init = "great_wave_wide.onnx"``)
that the first stage starts from instead of random weights: a new style fine-tuned from a trained network of the same
shape keeps what that network learned about content and faces.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from framestyle.atomic import write_bytes_atomic
from framestyle.cli.train import train_style
from framestyle.errors import StyleError
from framestyle.train.config import config_from_recipe

RECIPES = Path(__file__).resolve().parent.parent / "models" / "recipes"


def stage_runs(recipe: dict, out: Path) -> list[tuple[dict, Path]]:
    """Each stage of a recipe as (its whole recipe, its output model); a recipe without stages is one stage. Every
    stage after the first has ``init``, the model of the stage before it; the first has the recipe's own ``init``,
    if any, as a path in ``out``."""
    stages = recipe.get("stages") or [{}]
    base = {key: value for key, value in recipe.items() if key != "stages"}
    if "init" in base:
        base["init"] = out / base["init"]
    runs: list[tuple[dict, Path]] = []
    for index, stage in enumerate(stages):
        last = index == len(stages) - 1
        model = out / f"{recipe['name']}.onnx" if last else out / ".stages" / f"{recipe['name']}.{index + 1}.onnx"
        merged = {**base, **stage}
        if runs:
            merged["init"] = runs[-1][1]
        runs.append((merged, model))
    return runs


def stage_finished(model: Path) -> bool:
    """Whether a model's card says its training finished."""
    card = model.with_suffix(".json")
    return card.exists() and bool(json.loads(card.read_text())["training"]["finished"])


#: The settings of an earlier stage that its successor's card repeats.
STAGE_KEYS = ("steps", "crop", "batch", "learning_rate", "style_weight", "content_weight", "face_weight", "grid_weight",
              "tv_weight", "stability_weight", "structure_weight", "face_keep_weight", "average_decay",
              "video_every", "gray_fraction", "detail", "grow", "temporal_weight", "temporal_skip", "steps_done",
              "seconds")


def record_stages(models: list[Path]) -> None:
    """Write the history of a staged run into the last model's card: each earlier stage's settings and time
    (``earlier_stages``) and the totals over all stages."""
    cards = [json.loads(model.with_suffix(".json").read_text()) for model in models]
    earlier = [{key: card["training"][key] for key in STAGE_KEYS if key in card["training"]} for card in cards[:-1]]
    last = cards[-1]
    last["training"]["earlier_stages"] = earlier
    last["training"]["total_steps"] = sum(card["training"]["steps_done"] for card in cards)
    last["training"]["total_seconds"] = round(sum(card["training"]["seconds"] for card in cards), 1)
    text = json.dumps(last, indent=2, ensure_ascii=False) + "\n"
    write_bytes_atomic(models[-1].with_suffix(".json"), text.encode())


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
        runs = stage_runs(recipe, args.out)
        for number, (stage, model) in enumerate(runs, start=1):
            if model != runs[-1][1] and stage_finished(model):
                continue
            model.parent.mkdir(parents=True, exist_ok=True)
            print(f"== {name}, stage {number} of {len(runs)}", flush=True)
            try:
                config = config_from_recipe(stage, data=args.data, out=model, vgg_weights=args.vgg_weights,
                                            max_minutes=args.max_minutes)
                config.check()
                train_style(config, resume=True)
            except StyleError as error:
                print(f"train_zoo: {name}: {error}", file=sys.stderr)
                return 2
            if not stage_finished(model):
                return 0  # out of --max-minutes: the same command continues this stage
        if len(runs) > 1:
            record_stages([model for _, model in runs])
    return 0


if __name__ == "__main__":
    sys.exit(main())
