"""Frames/s of decoding and encoding a clip with no network: the ceiling ``stylize video`` works under.

    python tools/bench_codec.py IN OUT.mp4 [--threads N]

The same reader, writer and pipeline as ``stylize video`` (H.264 ``veryfast`` at the default CRF, the sound
remuxed); the frames go through unchanged. ``--threads``: decoder and encoder threads (default 0, the codecs' own
choice, as ``stylize bench --video`` measures the ceiling; 1 is what ``stylize video`` gives them on a CPU).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from framestyle.cli.bench import codec_fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    fps = codec_fps(args.input, args.output, args.threads)
    print(f"{args.output}: {fps:.1f} frames/s decode + encode ({args.threads or 'codec-chosen'} threads)")


if __name__ == "__main__":
    main()
