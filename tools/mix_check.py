"""Check that a 50/50 mix of two styles sits between them: for every pair of styles of the shared network, the
mix's style ratio to each of the two paintings must lie between the two pure styles' ratios to that painting.

    python tools/mix_check.py --data ../shared/data --vgg-weights ../shared/weights/vgg16_features_to_relu4_3.pth \
        [--styles NAME ...] [--json]

Style ratios as ``stylize evaluate-style`` measures them (mean of per-photo ratios, 512 px) on the styles'
validation photos. Prints a Markdown table, one row per pair and painting, and exits 1 when a mix falls outside.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from framestyle.catalog import resolve_style, shared_styles
from framestyle.engine import EngineOptions, StyleEngine
from framestyle.imageio import read_rgb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the data kit (styles/ and content/)")
    parser.add_argument("--vgg-weights", type=Path, required=True)
    parser.add_argument("--styles", nargs="*", help="styles of the shared network (default: every bundled one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from framestyle.train.evaluate import load_photos, score_style
    from framestyle.train.vgg import load_vgg

    vgg = load_vgg(args.vgg_weights)
    styles = [style for style in shared_styles() if not args.styles or style.name in args.styles]
    engine = StyleEngine(styles[0], EngineOptions(device="cpu"))
    photos = load_photos([args.data / "content" / name for name in styles[0].card["validation"]["photo_names"]])
    paintings = {style.name: read_rgb(args.data / "styles" / style.card["painting"]["file"]) for style in styles}

    def ratio(spec: str, painting: str) -> float:
        vector = resolve_style(spec).vector
        return score_style(vgg, paintings[painting], photos, lambda image: engine(image, vector)).style_ratio

    pure = {(a.name, b.name): ratio(f"{a.name}=1", b.name) for a in styles for b in styles}
    rows = []
    for a, b in itertools.combinations([style.name for style in styles], 2):
        for painting in (a, b):
            mixed = ratio(f"{a}=1,{b}=1", painting)
            low, high = sorted((pure[a, painting], pure[b, painting]))
            rows.append({"pair": [a, b], "painting": painting, "pure": [pure[a, painting], pure[b, painting]],
                         "mix": mixed, "between": low <= mixed <= high})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"| pair | painting | {'ratio of the first style':>s} | ratio of the second | 50/50 mix | between |")
        print("|---|---|---:|---:|---:|---|")
        for row in rows:
            first, second = row["pure"]
            print(f"| {' + '.join(row['pair'])} | {row['painting']} | {first:.3f} | {second:.3f} | {row['mix']:.3f} "
                  f"| {'yes' if row['between'] else '**no**'} |")
        print(f"\n{sum(row['between'] for row in rows)} of {len(rows)} between")
    return 0 if all(row["between"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
