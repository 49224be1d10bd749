"""Network frames/s at one size two ways, in one run: one frame at a time on all cores (what `stylize bench` calls
the network alone), and ``--in-flight`` frames at once on single-threaded sessions (what `stylize video` does).

Usage: python tools/bench_inflight.py [--style NAME|FILE.onnx] [--size 640x360] [--frames 120] [--in-flight N]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from framestyle.engine import EngineOptions
from framestyle.stylizer import Stylizer


def frames_per_second(stylizer: Stylizer, frame: np.ndarray, count: int) -> float:
    """Frames/s of ``stylizer.stream`` over ``count`` copies of ``frame``, after a short warm-up."""
    for _ in stylizer.stream(frame for _ in range(4)):
        pass
    start = time.perf_counter()
    for _ in stylizer.stream(frame for _ in range(count)):
        pass
    return count / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--in-flight", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    frame = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    one = Stylizer(args.style, temporal=0.0, engine_options=EngineOptions(device="cpu"))
    many = Stylizer(one.model, temporal=0.0, in_flight=args.in_flight,
                    engine_options=EngineOptions(device="cpu", threads=1))
    print(f"{one.model.name} at {width}x{height}, {os.cpu_count()} cores")
    for _ in range(2):
        single = frames_per_second(one, frame, args.frames)
        parallel = frames_per_second(many, frame, args.frames)
        print(f"one frame on all cores: {single:6.1f} frames/s | {args.in_flight} single-threaded frames at once: "
              f"{parallel:6.1f} frames/s ({parallel / single:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
