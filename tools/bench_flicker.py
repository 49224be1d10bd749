"""Flicker of stylized clips: the warping error (``stylize flicker``) frame by frame and with temporal smoothing, for
one or more style models, and optionally how much the smoothing changes the style distance.

    python tools/bench_flicker.py CLIP [CLIP ...] [--styles NAME|FILE.onnx ...] [--frames 150] [--temporal 0.7]
        [--vgg-weights FILE --painting FILE [--style-every 10]] [--json]

Each clip's first ``--frames`` frames are stylized once per model (the network alone), then smoothed with
``TemporalFilter`` at ``--temporal``; both are measured against the input's flow. For the smoothed video it also
prints its gradient energy over the input's and the texture-normalised ratio (``framestyle.flicker``): steady
contrast alone raises the plain ratio. With ``--vgg-weights`` (the [train] extra), every ``--style-every``-th frame
of both is also measured as ``stylize evaluate-style`` measures a photo (512 px on the long side): the mean style
distance to ``--painting``, smoothed against frame by frame.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from framestyle.catalog import resolve_style
from framestyle.flicker import read_video, warping_error
from framestyle.imageio import read_rgb, resize_long_side
from framestyle.stylizer import Stylizer
from framestyle.temporal import DEFAULT_TEMPORAL, TemporalFilter

StyleMeter = Callable[[list[np.ndarray]], float]


def style_meter(vgg_weights: Path, painting: Path) -> StyleMeter:
    """The mean style distance of frames to the painting, as ``evaluate-style`` measures it (needs torch)."""
    import torch

    from framestyle.train.evaluate import EVAL_SIDE, painting_grams, to_tensor
    from framestyle.train.losses import style_distance
    from framestyle.train.vgg import load_vgg

    vgg = load_vgg(vgg_weights).eval()
    grams = painting_grams(vgg, read_rgb(painting))

    def measure(frames: list[np.ndarray]) -> float:
        with torch.no_grad():
            return float(np.mean([float(style_distance(vgg(to_tensor(resize_long_side(f, EVAL_SIDE))), grams))
                                  for f in frames]))

    return measure


def measure_clip(clip: Path, styles: list[str | None], frames: int, temporal: float, meter: StyleMeter | None,
                 every: int) -> list[dict[str, object]]:
    """One row per style: warping errors (input floor, frame by frame, smoothed) and optional style distances."""
    inputs = list(itertools.islice(read_video(clip), frames))
    rows = []
    for style in styles:
        network = Stylizer(resolve_style(style), temporal=0.0)
        raw = [network.stylize_only(frame) for frame in inputs]
        smoother = TemporalFilter(temporal)
        smoothed = [smoother(frame, out) for frame, out in zip(inputs, raw, strict=True)]
        plain, smooth = warping_error(inputs, raw), warping_error(inputs, smoothed)
        row: dict[str, object] = {
            "clip": clip.name, "style": network.model.name, "frames": len(inputs), "temporal": temporal,
            "input_error": plain.input_error, "frame_by_frame_error": plain.output_error,
            "smoothed_error": smooth.output_error, "smoothed_ratio": smooth.output_error / plain.output_error,
            "smoothed_over_input": smooth.output_error / plain.input_error,
            "smoothed_gradient_over_input": (float("nan") if smooth.gradient_ratio is None
                                             else smooth.gradient_ratio),
            "smoothed_normalised": smooth.normalised_ratio or float("nan")}
        if meter is not None:
            row["frame_by_frame_style"] = meter(raw[::every])
            row["smoothed_style"] = meter(smoothed[::every])
        rows.append(row)
        print(format_row(row), file=sys.stderr, flush=True)
    return rows


def format_row(row: dict[str, object]) -> str:
    """One line of the text report."""
    text = (f"{row['clip']} [{row['frames']} frames] {row['style']}: warping error frame by frame "
            f"{row['frame_by_frame_error']:.4e}, smoothed {row['smoothed_error']:.4e} "
            f"({row['smoothed_over_input']:.2f}x the input's own {row['input_error']:.4e}, "
            f"{row['smoothed_ratio']:.2f}x frame by frame; gradient energy {row['smoothed_gradient_over_input']:.2f}x "
            f"the input's, texture-normalised ratio {row['smoothed_normalised']:.2f})")
    if "smoothed_style" in row:
        change = row["smoothed_style"] / row["frame_by_frame_style"] - 1  # type: ignore[operator]
        text += (f"; style distance frame by frame {row['frame_by_frame_style']:.4g}, smoothed "
                 f"{row['smoothed_style']:.4g} ({change:+.1%})")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, nargs="+")
    parser.add_argument("--styles", nargs="+", default=[None], help="bundled names or .onnx files (default: the "
                        "default style)")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--temporal", type=float, default=DEFAULT_TEMPORAL)
    parser.add_argument("--vgg-weights", type=Path)
    parser.add_argument("--painting", type=Path)
    parser.add_argument("--style-every", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if (args.vgg_weights is None) != (args.painting is None):
        parser.error("--vgg-weights and --painting go together")
    meter = style_meter(args.vgg_weights, args.painting) if args.vgg_weights else None
    rows = [row for clip in args.clips
            for row in measure_clip(clip, args.styles, args.frames, args.temporal, meter, args.style_every)]
    print(json.dumps(rows, indent=2) if args.json else "\n".join(format_row(row) for row in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
