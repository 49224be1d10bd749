"""Measure the flicker of a stylized video: the warping error of Lai et al. (ECCV 2018), its input's floor, the
ratio of the two, and that ratio per unit of gradient energy (see ``framestyle.flicker``).

The optical flow is taken from the input video; both videos need the same number of frames of the same size.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from ..errors import InputError
from ..flicker import read_video, warping_error


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``flicker`` arguments."""
    parser.add_argument("input", type=Path, metavar="INPUT_VIDEO", help="the video that was stylized")
    parser.add_argument("stylized", type=Path, metavar="STYLIZED_VIDEO", help="the stylized video")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--max-frames", type=int, metavar="N", help="use only the first N frames of each video")


def run(args: argparse.Namespace) -> int:
    """Print the warping errors of the stylized video and of the input, and their ratio."""
    if args.max_frames is not None and args.max_frames < 2:
        raise InputError(f"--max-frames must be at least 2, got {args.max_frames}")
    inputs, outputs = read_video(args.input), read_video(args.stylized)
    if args.max_frames is not None:
        inputs, outputs = itertools.islice(inputs, args.max_frames), itertools.islice(outputs, args.max_frames)
    report = warping_error(inputs, outputs)
    output_error, input_error = _figure(report.output_error), _figure(report.input_error)
    ratio, normalised = _figure(report.ratio), _figure(report.normalised_ratio)
    if args.json:
        print(json.dumps({"input": str(args.input), "stylized": str(args.stylized), "pairs": report.pairs,
                          "warping_error": output_error, "input_warping_error": input_error,
                          "warping_error_ratio": ratio, "gradient_energy": _figure(report.output_gradient),
                          "input_gradient_energy": _figure(report.input_gradient),
                          "texture_normalised_ratio": normalised}))
    else:
        times = f"{ratio:.3g}x the input's" if ratio is not None else "no ratio: the input does not change"
        per_texture = f"; per unit of gradient energy {normalised:.3g}x" if normalised is not None else ""
        print(f"warping error: {output_error:.6g} (stylized), {input_error:.6g} (input, the floor), {times}, "
              f"over {report.pairs} frame pairs{per_texture}")
    return 0


def _figure(value: float | None) -> float | None:
    """``value`` to 6 significant digits (None stays None)."""
    return None if value is None else float(f"{value:.6g}")
