"""Temporal smoothing driven by a game engine's motion vectors and depth: the previous stylized frame reprojected
onto the current one, trusted only where the depth it was seen at agrees with the current depth (disocclusions
fail the test) and where the reprojected input matches the current input."""

from __future__ import annotations

import cv2
import numpy as np

from framestyle.errors import InputError
from framestyle.kernels.flow import grey
from framestyle.kernels.occlusion import photometric_confidence
from framestyle.kernels.temporal_blend import temporal_blend
from framestyle.kernels.warp import warp
from framestyle.temporal import DEFAULT_TEMPORAL

#: Largest relative difference between the current depth and the reprojected previous depth of a pixel still
#: taken to be the same surface.
DEFAULT_DEPTH_TOLERANCE = 0.1
#: Grey-level error of the reprojected input up to which the history is fully trusted, and from which not at all.
_PHOTOMETRIC = (6.0, 20.0)
_FAR = float(np.finfo(np.float32).max)


def compose_motion(newer: np.ndarray, older: np.ndarray) -> np.ndarray:
    """The backward motion two frames back: ``newer`` leads from frame n to n-1, ``older`` from n-1 to n-2."""
    return newer + warp(older, newer)


def depth_confidence(depth: np.ndarray, previous_depth: np.ndarray, motion: np.ndarray,
                     tolerance: float = DEFAULT_DEPTH_TOLERANCE) -> np.ndarray:
    """(H, W) float32, 1 where the surface at each pixel was visible where ``motion`` says it was in the previous
    frame: inside that frame, and at a depth within ``tolerance`` (relative) of its current depth. Depths are
    linear, +inf where there is no geometry (sky matches sky)."""
    # OpenCV passes only (this runs on every frame): +inf becomes the largest float, so sky matches sky and nothing
    # else; sources outside the frame read -1, which matches no depth.
    current = cv2.min(depth, _FAR)
    seen = cv2.remap(cv2.min(previous_depth, _FAR), motion, None, cv2.INTER_NEAREST | cv2.WARP_RELATIVE_MAP,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0)
    agree = cv2.compare(cv2.absdiff(seen, current), cv2.multiply(current, tolerance), cv2.CMP_LE)
    return agree.astype(np.float32) * np.float32(1 / 255)


class DepthReprojection:
    """Per-client temporal smoothing for frames that come with motion vectors and depth.

    Args:
        weight: 0..1, the share of the reprojected previous output in trusted pixels (0: off).
        tolerance: the relative depth difference beyond which a pixel is taken to be disoccluded.
    """

    def __init__(self, weight: float = DEFAULT_TEMPORAL, tolerance: float = DEFAULT_DEPTH_TOLERANCE) -> None:
        if not 0.0 <= weight <= 1.0:
            raise InputError(f"temporal weight must be between 0 and 1, got {weight}")
        if not tolerance > 0.0:
            raise InputError(f"depth tolerance must be positive, got {tolerance}")
        self.weight = weight
        self.tolerance = tolerance
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next frame comes out as its plain stylization."""
        self._output: np.ndarray | None = None
        self._depth: np.ndarray | None = None
        self._grey: np.ndarray | None = None

    def __call__(self, frame: np.ndarray, stylized: np.ndarray, motion: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """The smoothed output for one (H, W, 3) uint8 RGB frame, its stylization, its (H, W, 2) backward motion in
        pixels and its (H, W) linear depth. The returned frame is kept as history: do not modify it in place."""
        if self.weight == 0.0:
            return stylized
        current_grey = grey(frame)
        previous, previous_depth, previous_grey = self._output, self._depth, self._grey
        self._output, self._depth, self._grey = stylized, depth, current_grey
        if previous is None or previous_depth is None or previous_grey is None or previous.shape != stylized.shape:
            return stylized
        confidence = depth_confidence(depth, previous_depth, motion, self.tolerance)
        confidence *= photometric_confidence(warp(previous_grey, motion), current_grey, *_PHOTOMETRIC)
        # Bicubic, as in TemporalFilter: bilinear resampling every frame would blur the history's texture away.
        self._output = temporal_blend(stylized, warp(previous, motion, cubic=True), confidence, self.weight)
        return self._output
