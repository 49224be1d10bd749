"""Wall time of ``stylize video`` on one machine against ``stylize video --ray`` (a local Ray instance on the same
machine) on the same clip, and the per-chunk times of the Ray run.

    python tools/make_test_clip.py ../shared/data/video/mdn_flower_cc0.mp4 /tmp/clip60.webm --size 1280x720 \
        --frames 1440 --fps 24
    python tools/bench_cluster.py /tmp/clip60.webm [--only single|ray] [-- EXTRA STYLIZE OPTIONS]

Each run is a fresh ``stylize`` process timed from start to exit, so the Ray figure includes starting and stopping
the local instance, the keyframe scan, the file check on the nodes, the warm-up frames and the join. ``--only``
runs one of the two (to fit each into its own quiet spell); the outputs are written to a temporary folder and
removed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str]) -> tuple[float, str]:
    """Wall seconds of a command and its standard output; exits on failure."""
    started = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if run.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {run.stderr.strip()}")
    return seconds, run.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--only", choices=("single", "ray"))
    parser.add_argument("extra", nargs="*", help="more `stylize video` options, after --")
    args = parser.parse_args()
    stylize = [sys.executable, "-m", "framestyle", "video"]
    figures = {}
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as folder:
        if args.only in (None, "single"):
            figures["single"], out = timed([*stylize, str(args.clip), f"{folder}/single.mp4", "--quiet", *args.extra])
            print(f"stylize video:       {figures['single']:7.1f} s   ({out.strip()})")
        if args.only in (None, "ray"):
            figures["ray"], out = timed([*stylize, str(args.clip), f"{folder}/ray.mp4", "--ray", *args.extra])
            print(f"stylize video --ray: {figures['ray']:7.1f} s")
            print(out.rstrip())
    if len(figures) == 2:
        print(f"overhead of --ray on one machine: {100 * (figures['ray'] / figures['single'] - 1):+.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
