"""Seams of ``stylize video --ray`` against one single-machine run, for several warm-up lengths.

    python tools/bench_seams.py ../shared/data/video/tears_of_steel_battle_32.8-56.0s.webm
        [--warmup 0 4 8 16] [--chunk-seconds 2] [--window 4] [--codec ffv1] [--style NAME]

The chunks are rendered here, one after the other, by the very function a Ray task runs (``render_chunk``), and
joined as the driver joins them, so no cluster is needed. Both outputs are written with ``--codec`` (default
lossless FFV1 in .mkv, so that the encoder adds no difference of its own; give libx264 to see what H.264 adds).
For every seam, the warping error (``framestyle.flicker``) over ``--window`` frames either side is compared with
the single run's over the same frames; the PSNR of each frame against the single run's is reported for the first
``--window`` frames of each chunk (near a seam; the mean counts identical frames as 99 dB) and for the rest (away
from seams: the lowest, and the share of frames identical to the single run's).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from framestyle.cli import main as stylize
from framestyle.cluster.join import join_chunks
from framestyle.cluster.plan import plan_video
from framestyle.cluster.task import RenderSettings, chunk_path, render_chunk
from framestyle.flicker import warping_error


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def psnr(first: np.ndarray, second: np.ndarray) -> float:
    error = float(np.mean((first.astype(np.float64) - second.astype(np.float64)) ** 2))
    return 99.0 if error == 0 else float(10 * np.log10(255**2 / error))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--warmup", type=int, nargs="+", default=[0, 4, 8, 16])
    parser.add_argument("--chunk-seconds", type=float, default=2.0)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--codec", default="ffv1")
    parser.add_argument("--style")
    args = parser.parse_args()
    suffix = ".mkv"
    with tempfile.TemporaryDirectory(prefix="bench-seams-") as folder:
        work = Path(folder)
        single = work / f"single{suffix}"
        if stylize(["video", str(args.source), str(single), "--quiet", "--codec", args.codec,
                    *(["--style", args.style] if args.style else [])]) != 0:
            return 1
        inputs, alone = decode(args.source), decode(single)
        settings = RenderSettings(args.style, codec=args.codec)
        print(f"{args.source.name}: {len(inputs)} frames {inputs[0].shape[1]}x{inputs[0].shape[0]}, codec "
              f"{args.codec}, chunks of at least {args.chunk_seconds:g} s, window {args.window} frames")
        print(f"{'warm-up':>7}  {'seams':>5}  {'flicker ratio mean':>18}  {'max':>5}  {'PSNR near min':>13}  "
              f"{'mean':>5}  {'PSNR away min':>13}  {'identical':>9}  {'task s':>6}")
        for warmup in args.warmup:
            plan = plan_video(args.source, chunk_seconds=args.chunk_seconds, warmup=warmup)
            started = time.monotonic()
            for chunk in plan.chunks:
                render_chunk(plan, chunk, settings, work, suffix)
            seconds = time.monotonic() - started
            output = work / f"warmup{warmup}{suffix}"
            join_chunks([chunk_path(work, chunk, suffix) for chunk in plan.chunks], args.source, output)
            spread = decode(output)
            assert len(spread) == len(alone), (len(spread), len(alone))
            seams, start = [], 0
            for chunk in plan.chunks[:-1]:
                start += chunk.frames
                seams.append(start)
            ratios = []
            for seam in seams:
                window = slice(max(0, seam - args.window), seam + args.window)
                reference = warping_error(inputs[window], alone[window]).output_error
                ratios.append(warping_error(inputs[window], spread[window]).output_error / reference)
            near = {index for seam in seams for index in range(seam, min(len(alone), seam + args.window))}
            scores = [psnr(a, b) for a, b in zip(spread, alone, strict=True)]
            close = [scores[i] for i in sorted(near)]
            away = [scores[i] for i in range(len(scores)) if i not in near]
            print(f"{warmup:>7}  {len(seams):>5}  {statistics.mean(ratios):>18.3f}  {max(ratios):>5.3f}  "
                  f"{min(close):>13.1f}  {statistics.mean(close):>5.1f}  {min(away):>13.1f}  "
                  f"{sum(score == 99.0 for score in away) / len(away):>9.0%}  {seconds:>6.1f}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
