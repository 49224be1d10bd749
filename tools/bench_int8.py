"""int8 static quantisation of a style network, timed against its fp32 graph and compared on real frames.

Usage: python tools/bench_int8.py CLIP [--style NAME] [--sizes 1280x720 640x360] [--runs 10] [--threads 2]
Needs the [train] extra (onnx, for ONNX Runtime's quantisation tools). The style's convolutions are quantised
(QDQ format, per-channel int8 weights, uint8 activations; each variant below), calibrated on 24 frames of CLIP
at 640x360; the graphs then take turns on the CPU (`time_onnx_in_turns`), and each int8 output is compared with
the fp32 one on 12 other frames of CLIP, in grey levels (mean and 99th percentile of the absolute difference).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from framestyle.catalog import StyleModel, resolve_style
from framestyle.cli.bench import parse_size
from framestyle.errors import StyleError
from framestyle.media.reader import VideoReader
from framestyle.train.export import time_onnx_in_turns

#: (label, activation type, weight type, reduce_range) of each quantised variant.
VARIANTS = [("int8 u8s8", QuantType.QUInt8, QuantType.QInt8, False),
            ("int8 u8s8, reduced range", QuantType.QUInt8, QuantType.QInt8, True),
            ("int8 u8u8", QuantType.QUInt8, QuantType.QUInt8, False)]


def clip_frames(clip: Path, size: tuple[int, int], every: int, count: int, offset: int) -> list[np.ndarray]:
    """``count`` frames of ``clip`` (every ``every``-th from ``offset``), resized to ``size``, as (1, H, W, 3)."""
    frames = []
    with VideoReader(clip) as reader:
        for index, frame in enumerate(reader.frames()):
            if index % every == offset:
                frames.append(cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA)[None])
            if len(frames) == count:
                break
    return frames


def feeds(style: StyleModel, session_inputs: list[str], frame: np.ndarray) -> dict[str, np.ndarray]:
    """The inputs of one run: the frame, and the style vector of a shared network's style."""
    named = {session_inputs[0]: frame}
    if style.vector is not None:
        named[session_inputs[1]] = style.vector
    return named


class Calibration(CalibrationDataReader):
    """The calibration frames, one run each."""

    def __init__(self, style: StyleModel, inputs: list[str], frames: list[np.ndarray]) -> None:
        self.runs: Iterator[dict[str, np.ndarray]] = iter([feeds(style, inputs, frame) for frame in frames])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.runs, None)


def quantised(style: StyleModel, folder: Path, calibration: list[np.ndarray]) -> list[tuple[str, bytes]]:
    """(label, model bytes) of the fp32 graph and of each int8 variant."""
    source, prepared = folder / "fp32.onnx", folder / "prepared.onnx"
    source.write_bytes(style.model_bytes())
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    inputs = [i.name for i in ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).get_inputs()]
    models = [("fp32", source.read_bytes())]
    for label, activations, weights, reduce_range in VARIANTS:
        out = folder / f"{len(models)}.onnx"
        quantize_static(str(prepared), str(out), Calibration(style, inputs, calibration),
                        quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"], per_channel=True,
                        reduce_range=reduce_range, activation_type=activations, weight_type=weights)
        models.append((label, out.read_bytes()))
    return models


def differences(style: StyleModel, models: list[tuple[str, bytes]], frames: list[np.ndarray]) -> list[str]:
    """Mean and 99th-percentile absolute difference of each model's output from the first's, in grey levels."""
    outputs = []
    for _, model in models:
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        inputs = [i.name for i in session.get_inputs()]
        outputs.append([session.run(None, feeds(style, inputs, f))[0].astype(np.float32) for f in frames])
    cells = []
    for output in outputs:
        gaps = [np.abs(o - r) for o, r in zip(output, outputs[0], strict=True)]
        cells.append(f"{np.mean([g.mean() for g in gaps]):.2f} / {np.mean([np.percentile(g, 99) for g in gaps]):.1f}")
    return cells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--style", default=None, help="a style name (default: the default style)")
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=[(1280, 720), (640, 360)])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not args.clip.is_file():
        return _fail(f"{args.clip}: no such file")
    try:
        style = resolve_style(args.style)
    except StyleError as error:
        return _fail(str(error))
    with tempfile.TemporaryDirectory() as folder:
        models = quantised(style, Path(folder), clip_frames(args.clip, (640, 360), 12, 24, 0))
    diffs = differences(style, models, clip_frames(args.clip, (640, 360), 10, 12, 5))
    sizes = [f"{w}x{h}" for w, h in args.sizes]
    times = [time_onnx_in_turns([(model, style.vector) for _, model in models], h, w, args.runs, args.threads)
             for w, h in args.sizes]
    print(f"{style.name}, ONNX Runtime {ort.__version__} CPU, {args.threads} threads, in turns, {args.runs} rounds")
    print(f"{'graph':<26} " + " ".join(f"{size + ' ms':>13}" for size in sizes) + "  |diff| mean / p99 (levels)")
    for row, ((label, _), diff) in enumerate(zip(models, diffs, strict=True)):
        cells = " ".join(f"{1e3 * per_size[row]:13.1f}" for per_size in times)
        print(f"{label:<26} {cells}  {diff}")
    return 0


def _fail(message: str) -> int:
    print(f"bench_int8: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
