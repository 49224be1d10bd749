"""Where a stylized video's flicker comes from: the warping error over the input's (as ``stylize flicker`` reports
it) at each step between the smoothed frames and the file a viewer plays.

    python tools/flicker_chain.py CLIP [--style NAME|MIX|FILE] [--frames 150] [--flow-sides 320 640 960] [--references]

The clip's first ``--frames`` frames are stylized with default settings (``Stylizer``, smoothing on), then measured:
in memory (RGB), after a conversion to 4:2:0 and back (what any H.264 file for players holds), and after encoding
as ``stylize video`` does (H.264, its default quality) and decoding. Each step is read back two ways, the input the
same way as the output: as PyAV converts 4:2:0 to RGB by default (each chroma sample copied to a 2x2 block: what
``stylize flicker`` and ``stylize video`` read) and with the chroma upsampled smoothly (bicubic, as players show
it). With ``--flow-sides``, the smoothing is redone with its optical flow at those sizes and each result is also
measured with an independent flow (OpenCV's Farneback instead of the measure's DIS), so that a smoothing which only
agrees better with the measure's own flow shows as such. With ``--references``, the in-memory ratio and the
texture-normalised ratio (``framestyle.flicker``) of the stylization beside steady, pixel-wise changes of the input
that add no flicker of their own (a contrast stretch, unsharp masks): how much of the ratio contrast alone explains.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from framestyle import flicker
from framestyle.catalog import resolve_style
from framestyle.flicker import warping_error
from framestyle.media.reader import Frame
from framestyle.media.writer import VideoWriter
from framestyle.stylizer import Stylizer
from framestyle.temporal import DEFAULT_TEMPORAL, TemporalFilter

Decode = Callable[[av.VideoFrame], np.ndarray]


def blocky(frame: av.VideoFrame) -> np.ndarray:
    """RGB as PyAV converts by default (same-size 4:2:0 to RGB copies each chroma sample to 2x2 pixels)."""
    return frame.to_ndarray(format="rgb24")


def smooth(frame: av.VideoFrame) -> np.ndarray:
    """RGB with the chroma upsampled bicubically before the conversion."""
    return frame.reformat(format="yuv444p", interpolation="BICUBIC").to_ndarray(format="rgb24")


def decoded(path: Path, decode: Decode, count: int) -> list[np.ndarray]:
    """The first ``count`` frames of a file's first video stream."""
    with av.open(str(path)) as container:
        return [decode(frame) for frame in itertools.islice(container.decode(video=0), count)]


def through_420(frames: list[np.ndarray], decode: Decode) -> list[np.ndarray]:
    """Frames converted to 4:2:0 and back."""
    return [decode(av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")) for frame in frames]


def encoded(frames: list[np.ndarray], folder: Path) -> Path:
    """The frames written as ``stylize video`` writes an .mp4 (its writer, default quality; 24 frames/s)."""
    path = folder / "encoded.mp4"
    height, width = frames[0].shape[:2]
    with VideoWriter(path, width=width, height=height, time_base=Fraction(1, 24), frame_rate=Fraction(24),
                     audio_streams=[], crf=None, codec=None) as writer:
        for index, frame in enumerate(frames):
            writer.write(Frame(frame, index, Fraction(1, 24), 1))
    return path


@contextmanager
def farneback_measure() -> Iterator[None]:
    """``warping_error`` with Farneback's optical flow instead of DIS, for an independent check."""
    dis_flow = flicker.dense_flow
    flicker.dense_flow = lambda _dis, source, target: cv2.calcOpticalFlowFarneback(
        source, target, None, 0.5, 4, 15, 3, 5, 1.1, 0)
    try:
        yield
    finally:
        flicker.dense_flow = dis_flow


def ratio(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> float:
    """The stylized frames' warping error over the input's."""
    return warping_error(inputs, outputs).ratio or float("nan")


def chain(clip: Path, style: str | None, count: int, folder: Path) -> None:
    """Print the ratio at each step of the chain, read back both ways."""
    for name, decode in (("default conversion (2x2 chroma)", blocky), ("smooth chroma", smooth)):
        inputs = decoded(clip, decode, count)
        stylizer = Stylizer(resolve_style(style))
        stylized = [stylizer(frame) for frame in inputs]
        steps = {"in memory": stylized, "4:2:0 and back": through_420(stylized, decode),
                 "H.264 file": decoded(encoded(stylized, folder), decode, count)}
        print(f"{name}: " + ", ".join(f"{step} {ratio(inputs, frames):.2f}x" for step, frames in steps.items()),
              flush=True)


def flow_sides(clip: Path, style: str | None, count: int, sides: list[int]) -> None:
    """Print the in-memory ratio with the smoothing's flow at each side, by the DIS and the Farneback measure."""
    inputs = decoded(clip, blocky, count)
    network = Stylizer(resolve_style(style), temporal=0.0)
    raw = [network.stylize_only(frame) for frame in inputs]
    with farneback_measure():
        print(f"frame by frame: {ratio(inputs, raw):.2f}x (Farneback measure)", flush=True)
    for side in sides:
        smoother = TemporalFilter(DEFAULT_TEMPORAL, flow_side=side)
        smoothed = [smoother(frame, out) for frame, out in zip(inputs, raw, strict=True)]
        dis_ratio = ratio(inputs, smoothed)
        with farneback_measure():
            print(f"smoothing flow at {side} px: {dis_ratio:.2f}x, {ratio(inputs, smoothed):.2f}x (Farneback measure)",
                  flush=True)


def contrast(frames: list[np.ndarray], gain: float) -> list[np.ndarray]:
    """Frames with their contrast around mid-grey multiplied by ``gain``."""
    return [np.clip((f.astype(np.float32) - 128) * gain + 128, 0, 255).astype(np.uint8) for f in frames]


def unsharp(frames: list[np.ndarray], amount: float, sigma: float = 2.0) -> list[np.ndarray]:
    """Frames sharpened by an unsharp mask: ``amount`` times the detail a Gaussian blur of ``sigma`` removes, added."""
    sharpened = []
    for frame in frames:
        pixels = frame.astype(np.float32)
        blurred = cv2.GaussianBlur(pixels, (0, 0), sigma)
        sharpened.append(np.clip(pixels + amount * (pixels - blurred), 0, 255).astype(np.uint8))
    return sharpened


def references(clip: Path, style: str | None, count: int) -> None:
    """Print the ratio, the gradient energy over the input's, and the texture-normalised ratio of the stylization
    (smoothed and frame by frame) and of steady changes of the input."""
    inputs = decoded(clip, blocky, count)
    network = Stylizer(resolve_style(style), temporal=0.0)
    raw = [network.stylize_only(frame) for frame in inputs]
    smoother = TemporalFilter(DEFAULT_TEMPORAL)
    rows = {"stylized, smoothed": [smoother(frame, out) for frame, out in zip(inputs, raw, strict=True)],
            "stylized, frame by frame": raw, "contrast x1.5": contrast(inputs, 1.5),
            "unsharp mask x1": unsharp(inputs, 1.0), "unsharp mask x2": unsharp(inputs, 2.0)}
    for name, frames in rows.items():
        report = warping_error(inputs, frames)
        gradient = report.output_gradient / report.input_gradient
        print(f"{name}: ratio {report.ratio:.2f}x, gradient energy {gradient:.2f}x, "
              f"texture-normalised {report.normalised_ratio:.2f}x", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--style", help="a style name, mix or .onnx file (default: the default style)")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--flow-sides", type=int, nargs="*", default=[])
    parser.add_argument("--references", action="store_true",
                        help="also compare with steady contrast and sharpness changes of the input")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        chain(args.clip, args.style, args.frames, Path(folder))
    if args.flow_sides:
        flow_sides(args.clip, args.style, args.frames, args.flow_sides)
    if args.references:
        references(args.clip, args.style, args.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
