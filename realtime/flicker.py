"""The warping error of Lai et al. (ECCV 2018), "Learning Blind Video Temporal Consistency": how much a stylized
video changes from frame to frame beyond what the motion of its input explains.

For each pair of frames (t, t+1), optical flow is estimated on the input frames (OpenCV DIS, preset MEDIUM, grey):
forward w_f (t to t+1) and backward w_b (t+1 to t). The stylized frame O_{t+1} is warped back onto t with w_f
(bilinear), and E(t) = Σ M·‖O_t − W(O_{t+1})‖² / Σ M, with frames as RGB floats in [0, 1], the squared norm taken
over the three channels and Σ M over pixels. M is 0 where pixel x of frame t is occluded,
|ŵ_b(x) + w_f(x)|² > 0.01 (|ŵ_b(x)|² + |w_f(x)|²) + 0.5 with ŵ_b(x) = w_b(x + w_f(x)), on a motion boundary,
|∇u|² + |∇v|² > 0.01 |w_f|² + 0.002 (forward differences of w_f = (u, v)), or where x + w_f(x) leaves the frame;
M is 1 elsewhere. The warping error is the mean of E(t) over the pairs; the same number for the input video itself
is the floor of a stylization that changes nothing, and the ratio of the two says how many times the input's own
flicker the stylized video has.

That ratio also grows with contrast that is perfectly steady: flow is never exact, and a half-pixel misalignment
costs in proportion to the squared gradient. A plain 1.5x contrast stretch of the input, which adds no flicker of its
own, measures about 1.7x to 2x on real footage. So the report also gives each video's gradient energy over the same
pixels, G(t) = Σ M·(‖∂x O_t‖² + ‖∂y O_t‖²) / Σ M (forward differences), and the **texture-normalised ratio**: the
stylized video's warping error per unit of gradient energy over the input's. It is about 1, or less, for a steady
contrast or sharpness change of the input (0.47 to 1.00 measured, docs/temporal.md), and rises with flicker as the
plain ratio does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError
from .kernels.flow import MEDIUM, MIN_FLOW_SIDE, create_dis, dense_flow, grey
from .kernels.occlusion import reliable_mask
from .kernels.warp import warp
from .media.reader import VideoReader


@dataclass(frozen=True)
class FlickerReport:
    """Mean warping errors of a stylized video and of its input (the floor), over ``pairs`` frame pairs, and the mean
    gradient energies of both over the same pixels."""

    output_error: float
    input_error: float
    pairs: int
    output_gradient: float = 0.0
    input_gradient: float = 0.0

    @property
    def ratio(self) -> float | None:
        """The stylized video's warping error over its input's (1: the input's own, 2: twice it), or None when the
        input's is 0 (a still video)."""
        return self.output_error / self.input_error if self.input_error > 0 else None

    @property
    def gradient_ratio(self) -> float | None:
        """The stylized video's gradient energy over the input's, or None when the input's is 0."""
        return self.output_gradient / self.input_gradient if self.input_gradient > 0 else None

    @property
    def normalised_ratio(self) -> float | None:
        """The texture-normalised ratio: the stylized video's warping error per unit of gradient energy over the
        input's (about 1 or less for a steady contrast or sharpness change), or None when it is undefined."""
        if self.input_error <= 0 or self.output_gradient <= 0 or self.input_gradient <= 0:
            return None
        return (self.output_error / self.output_gradient) / (self.input_error / self.input_gradient)


def warping_error(input_frames: Iterable[np.ndarray], output_frames: Iterable[np.ndarray]) -> FlickerReport:
    """The warping error of ``output_frames`` (the stylized video) given ``input_frames`` (the video it was made
    from), and that of the input itself: (H, W, 3) uint8 RGB frames, as many of one size in each.

    Frames are consumed one at a time, so generators of long videos are fine. A pair whose mask is empty (no pixel
    can be compared) is left out of the mean.
    """
    dis = create_dis(MEDIUM)
    output_total = input_total = output_gradient = input_gradient = 0.0
    pairs = frames = 0
    previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    for frame, output in _pairs_of_frames(input_frames, output_frames):
        frames += 1
        if previous is not None and frame.shape != previous[0].shape:
            raise InputError(f"frame {frames} is {_size(frame)}, earlier frames are {_size(previous[0])}")
        current = (frame, output, grey(frame))
        if previous is not None:
            forward = dense_flow(dis, previous[2], current[2])
            backward = dense_flow(dis, current[2], previous[2])
            mask = reliable_mask(forward, backward).view(np.uint8)
            if mask.any():
                error, gradient = _pair_error(previous[1], output, forward, mask)
                output_total, output_gradient = output_total + error, output_gradient + gradient
                error, gradient = _pair_error(previous[0], frame, forward, mask)
                input_total, input_gradient = input_total + error, input_gradient + gradient
                pairs += 1
        previous = current
    if frames < 2:
        raise InputError(f"the warping error needs at least 2 frames, got {frames}")
    if pairs == 0:
        raise InputError("no frame pair has a pixel whose motion can be trusted")
    return FlickerReport(output_total / pairs, input_total / pairs, pairs, output_gradient / pairs,
                         input_gradient / pairs)


def _pair_error(first: np.ndarray, second: np.ndarray, forward: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """E(t) and G(t) for uint8 frames t and t+1, the forward flow from t to t+1, and the (uint8 0/1) mask M of
    frame t."""
    first_float = first.astype(np.float32) * np.float32(1 / 255)
    warped = warp(second.astype(np.float32) * np.float32(1 / 255), forward)
    count = cv2.countNonZero(mask)
    error = cv2.norm(first_float, warped, cv2.NORM_L2SQR, mask=mask) / count
    across = cv2.norm(first_float[:, 1:], first_float[:, :-1], cv2.NORM_L2SQR, mask=mask[:, :-1])
    down = cv2.norm(first_float[1:], first_float[:-1], cv2.NORM_L2SQR, mask=mask[:-1])
    return error, (across + down) / count


def _pairs_of_frames(input_frames: Iterable[np.ndarray], output_frames: Iterable[np.ndarray]
                     ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The two videos' frames side by side, checked to be RGB uint8 frames of one size and equal in number."""
    inputs, outputs = iter(input_frames), iter(output_frames)
    count = 0
    for frame in inputs:
        output = next(outputs, None)
        if output is None:
            raise InputError(f"the videos have different frame counts: {count + 1 + _count(inputs)} input frames, "
                             f"{count} stylized frames")
        count += 1
        for name, image in (("input", frame), ("stylized", output)):
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise InputError(f"{name} frame {count} is not (H, W, 3) uint8 RGB: {image.dtype} {image.shape}")
        if frame.shape != output.shape:
            raise InputError(f"frame sizes differ: input {_size(frame)}, stylized {_size(output)}")
        if min(frame.shape[:2]) < MIN_FLOW_SIDE:
            raise InputError(f"frames of {_size(frame)} are too small for optical flow (at least {MIN_FLOW_SIDE} "
                             "pixels a side)")
        yield frame, output
    rest = _count(outputs)
    if rest:
        raise InputError(f"the videos have different frame counts: {count} input frames, {count + rest} stylized "
                         "frames")


def _count(frames: Iterator[np.ndarray]) -> int:
    return sum(1 for _ in frames)


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}x{frame.shape[0]}"


def read_video(path: Path) -> Iterator[np.ndarray]:
    """The frames of a video file's first video stream as (H, W, 3) uint8 RGB, turned upright by its display matrix
    as ``stylize video`` turns them (so a phone clip matches its stylized output)."""
    return _frames(VideoReader(path))


def _frames(reader: VideoReader) -> Iterator[np.ndarray]:
    with reader:
        for frame in reader.frames():
            yield frame.image
