"""Frames/s of framestyle's network against the Johnson et al. reference network in one run, in ONNX Runtime on the CPU.

Usage: python tools/bench_models.py [--style NAME] [--sizes 640x360 1280x720] [--runs 10] [--json]
The two networks take turns, each round giving each about as long as one frame of the reference (a warm-up run, then
timed runs), so a change in the machine's speed affects both alike and each is timed in its steady state.
Needs the [train] extra to export the reference network (its speed does not depend on its weights, so it is
exported with random weights); framestyle's network is the bundled style's ONNX file, as users run it.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from framestyle.catalog import resolve_style
from framestyle.cli.bench import parse_size
from framestyle.train.export import time_onnx_in_turns, to_onnx_bytes
from framestyle.train.net import JohnsonNet, count_macs_per_pixel


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", help="bundled style (default: the default style)")
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=[(640, 360), (1280, 720)])
    parser.add_argument("--runs", type=int, default=10, help="rounds of turns (default 10)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    style = resolve_style(args.style)
    ours = style.model_bytes()
    reference = to_onnx_bytes(JohnsonNet())
    rows = []
    for width, height in args.sizes:
        t_ours, t_ref = time_onnx_in_turns([(ours, style.vector), (reference, None)], height, width, args.runs)
        rows.append({"size": f"{width}x{height}", "ours_fps": 1 / t_ours, "reference_fps": 1 / t_ref,
                     "ours_ms": t_ours * 1e3, "reference_ms": t_ref * 1e3, "speedup": t_ref / t_ours})
    macs = {"ours": style.card.get("architecture", {}).get("mac_per_pixel"),
            "reference": round(count_macs_per_pixel(JohnsonNet()))}
    if args.json:
        print(json.dumps({"style": style.name, "mac_per_pixel": macs, "rows": rows}, indent=2))
        return 0
    print(f"style {style.name}; MAC/pixel: ours {macs['ours']}, Johnson et al. {macs['reference']}; "
          f"ONNX Runtime CPU, medians over {args.runs} rounds of turns")
    print(f"{'size':>10} {'ours fps':>9} {'ours ms':>8} {'Johnson fps':>12} {'Johnson ms':>11} {'speed-up':>9}")
    for r in rows:
        print(f"{r['size']:>10} {r['ours_fps']:9.1f} {r['ours_ms']:8.1f} {r['reference_fps']:12.2f} "
              f"{r['reference_ms']:11.0f} {r['speedup']:8.1f}x")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
