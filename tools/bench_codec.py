"""Frames/s of decoding and encoding a clip with no network: the ceiling ``stylize video`` works under.

    python tools/bench_codec.py IN OUT.mp4

The same reader, writer and pipeline as ``stylize video`` on a CPU (one decoder and one encoder thread, H.264
``veryfast`` at the default CRF, the sound remuxed); the frames go through unchanged.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from framestyle.media.pipeline import run_pipeline
from framestyle.media.reader import VideoReader
from framestyle.media.writer import open_writer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    with VideoReader(args.input, decoder_threads=1) as reader:
        writer = open_writer(args.output, width=reader.width, height=reader.height, time_base=reader.time_base,
                             frame_rate=reader.frame_rate, audio_streams=reader.audio_streams, source=args.input,
                             encoder_threads=1)
        with writer:
            stats = run_pipeline(reader, lambda images: images, writer, progress=False)
    print(f"{args.output}: {stats.frames} frames in {stats.seconds:.1f} s, {stats.fps:.1f} frames/s decode + encode")


if __name__ == "__main__":
    main()
