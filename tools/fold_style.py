"""Bundle a style of a shared network under its own name: its vector fixed in the graph, one input (the frame).

    python tools/fold_style.py models/training/shared_wide/published/great_wave.json models/great_wave.onnx

Writes OUT (fp32), its fp16 twin and its card (the style's credit, training record and scores, and the network and
vector it was made from). Mixes keep taking the bundled shared network's style of the name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from framestyle.train.fold import fold_style


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("card", type=Path, help="the style card (its shared network's files beside it)")
    parser.add_argument("out", type=Path, help="the single-style network to write (.onnx)")
    args = parser.parse_args()
    if args.out.suffix != ".onnx":
        parser.error(f"{args.out}: the output must end in .onnx")
    try:
        card = fold_style(args.card, args.out)
    except (OSError, ValueError, KeyError) as error:
        print(f"fold_style: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({card['architecture']['mac_per_pixel']} MAC/px) and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
