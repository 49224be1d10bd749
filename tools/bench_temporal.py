"""Milliseconds per frame of ``TemporalFilter`` on synthetic moving content (a panning texture with an object
crossing it), at 640x360 and 1280x720: the median wall time, and the mean CPU time of the process (all threads),
which is the better figure on a machine busy with other work.

    python tools/bench_temporal.py [--frames N] [--weight W] [--flow-side S] [--motion]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from framestyle.temporal import DEFAULT_FLOW_SIDE, DEFAULT_TEMPORAL, TemporalFilter


def texture(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth random colour texture, (height, width, 3) uint8."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, (height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    large = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(128 + 50 * large, 0, 255).astype(np.uint8)


def clip(height: int, width: int, frames: int) -> list[np.ndarray]:
    """A background panning 3 px a frame with a square crossing it at 12 px a frame."""
    background = texture(height, width + 3 * frames, 0)
    square = texture(height // 3, height // 3, 1)
    side = square.shape[0]
    result = []
    for t in range(frames):
        frame = np.ascontiguousarray(background[:, 3 * t:3 * t + width])
        x = (12 * t) % (width - side)
        frame[height // 3:height // 3 + side, x:x + side] = square
        result.append(frame)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--weight", type=float, default=DEFAULT_TEMPORAL)
    parser.add_argument("--flow-side", type=int, default=DEFAULT_FLOW_SIDE)
    parser.add_argument("--motion", action="store_true", help="pass the known motion vectors instead of flow")
    args = parser.parse_args()
    rng = np.random.default_rng(2)
    for width, height in ((640, 360), (1280, 720)):
        frames = clip(height, width, args.frames)
        stylized = [cv2.add(255 - f, rng.integers(0, 12, f.shape, dtype=np.uint8)) for f in frames]
        motion = np.zeros((height, width, 2), np.float32)
        motion[..., 0] = -3.0
        smoother = TemporalFilter(args.weight, args.flow_side)
        wall, cpu = [], []
        for frame, styled in zip(frames, stylized, strict=True):
            start, start_cpu = time.perf_counter(), time.process_time()
            smoother(frame, styled, motion if args.motion else None)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        print(f"{width}x{height}: {np.median(wall) * 1000:.2f} ms per frame (median wall), {np.mean(cpu) * 1000:.2f} "
              f"ms CPU (weight {args.weight}, flow side {args.flow_side}, "
              f"{'motion vectors' if args.motion else 'optical flow'}, {len(frames)} frames)")


if __name__ == "__main__":
    main()
