"""End-to-end frames/s of ``stylize video`` against its ceiling, with the network at full resolution and at the
default working resolution, in one run.

    python tools/bench_hd.py clip1280x720.webm clip1920x1080.webm [--repeat 2] [--style NAME]

For each clip and repeat: decoding + encoding alone (the ceiling, codec threads on, as ``stylize bench --video``),
``stylize video --max-side 0`` (network and smoothing at full resolution) and ``stylize video`` with default
settings, taking turns; each figure is printed with its ratio to the ceiling measured just before it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

from framestyle.cli import main as stylize
from framestyle.cli.bench import codec_fps, count_frames


def end_to_end_fps(clip: Path, output: Path, options: list[str]) -> float:
    """Frames/s of ``stylize video CLIP OUTPUT OPTIONS``, timed around the whole command."""
    frames = count_frames(clip)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        if stylize(["video", str(clip), str(output), "--quiet", *options]) != 0:
            raise SystemExit(f"stylize video failed on {clip}")
    return frames / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, nargs="+")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--style")
    args = parser.parse_args()
    style = ["--style", args.style] if args.style else []
    print(f"{'clip':>28} | {'ceiling':>7} | {'full resolution':>15} {'ratio':>5} | {'default':>7} {'ratio':>5}")
    with tempfile.TemporaryDirectory(prefix="framestyle-hd-") as work:
        output = Path(work) / "out.mp4"
        for _ in range(args.repeat):
            for clip in args.clips:
                ceiling = codec_fps(clip, output)
                full = end_to_end_fps(clip, output, ["--max-side", "0", *style])
                default = end_to_end_fps(clip, output, style)
                print(f"{clip.name:>28} | {ceiling:7.1f} | {full:15.1f} {full / ceiling:5.2f} | {default:7.1f} "
                      f"{default / ceiling:5.2f}", flush=True)


if __name__ == "__main__":
    main()
