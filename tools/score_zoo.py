"""Measure every bundled style against the style goals and write the figures into the model cards.

    python tools/score_zoo.py --data ../shared/data --vgg-weights ../shared/weights/vgg16_features_to_relu4_3.pth \
        --faces ../shared/data/video/tears_of_steel_battle_32.8-56.0s.webm HELD_OUT_CLIP.mp4 [--only NAME ...] \
        [--write-cards]

Per style: the style ratio (mean of per-photo ratios) and content distance on the recipe's validation photos at
512 px, the grid texture, and face survival on the --faces footage run through `stylize video` with default
settings (see `stylize evaluate-style`). Prints a Markdown table; --write-cards puts the figures in the cards'
"validation" block (the model files, and so their sha256, are untouched).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from framestyle.atomic import write_bytes_atomic
from framestyle.catalog import SHARED_FOLDER, bundled_styles
from framestyle.engine import EngineOptions, StyleEngine
from framestyle.imageio import read_rgb

MODELS = Path(__file__).resolve().parent.parent / "models"
#: The goals every bundled style must meet.
MAX_STYLE_RATIO, MAX_CONTENT_DISTANCE, MIN_FACE_SURVIVAL = 0.25, 0.55, 0.85


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the data kit (styles/ and content/)")
    parser.add_argument("--vgg-weights", type=Path, required=True)
    parser.add_argument("--faces", type=Path, nargs="*", default=[], help="videos or pictures with people")
    parser.add_argument("--only", nargs="*", help="style names (default: every bundled style)")
    parser.add_argument("--write-cards", action="store_true")
    args = parser.parse_args()

    from framestyle.train.evaluate import face_survival_by_source, load_photos, score_style
    from framestyle.train.faces import FaceDetector, FaceSurvival
    from framestyle.train.vgg import load_vgg

    vgg = load_vgg(args.vgg_weights)
    detector = FaceDetector() if args.faces else None
    rows = []
    for style in bundled_styles():
        if args.only and style.name not in args.only:
            continue
        recipe = tomllib.loads((MODELS / "recipes" / f"{style.name}.toml").read_text())
        photos = load_photos([args.data / "content" / name for name in recipe["validation"]])
        painting = read_rgb(args.data / recipe["style"])
        scores = score_style(vgg, painting, photos, StyleEngine(style, EngineOptions(device="cpu")))
        validation: dict[str, object] = {**asdict(scores), "photo_names": recipe["validation"],
                                         "measured": time.strftime("%Y-%m-%d")}
        faces = None
        if detector is not None:
            by_footage = face_survival_by_source(style.name, args.faces, detector)
            faces = FaceSurvival.together(by_footage)
            validation["face_survival"] = {"kept": faces.kept, "total": faces.total, "share": faces.share,
                                           "footage": [path.name for path in args.faces],
                                           "kept_by_footage": [one.kept for one in by_footage]}
        meets = (scores.style_ratio <= MAX_STYLE_RATIO and scores.content_distance <= MAX_CONTENT_DISTANCE
                 and (faces is None or (faces.share or 0.0) >= MIN_FACE_SURVIVAL))
        survival = f"{faces.kept}/{faces.total} ({faces.share:.0%})" if faces and faces.total else "—"
        rows.append(f"| {style.name} | {scores.style_ratio:.3f} | {scores.content_distance:.3f} | {survival} | "
                    f"{scores.grid_amplitude:.2f} | {'yes' if meets else 'no'} |")
        print(rows[-1], flush=True)
        if args.write_cards:
            card_path = (MODELS / SHARED_FOLDER if style.vector is not None else MODELS) / f"{style.name}.json"
            card = json.loads(card_path.read_text())
            card["validation"] = validation
            write_bytes_atomic(card_path, (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode())
    print(f"\n| style | style ratio (<= {MAX_STYLE_RATIO}) | content distance (<= {MAX_CONTENT_DISTANCE}) | faces kept "
          f"(>= {MIN_FACE_SURVIVAL:.0%}) | grid texture (grey levels) | meets all |\n|---|---:|---:|---:|---:|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
