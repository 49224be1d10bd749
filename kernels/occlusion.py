"""Where a warp by a flow field can be trusted: consistency masks in the manner of Sundaram et al. (ECCV 2010) and
Ruder et al. (GCPR 2016), plus a photometric check of the warped input.

Masks live on the grid of the flow that does the warping (the frame the warp is onto). The default thresholds are
those of Lai et al. (ECCV 2018), for flows in full-resolution pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from .warp import inside_frame, warp

#: Largest relative difference between a pixel's current depth and its reprojected previous depth still taken to be
#: the same surface.
DEFAULT_DEPTH_TOLERANCE = 0.1
_FAR = float(np.finfo(np.float32).max)


def _squared_norm(flow: np.ndarray) -> np.ndarray:
    return flow[..., 0] * flow[..., 0] + flow[..., 1] * flow[..., 1]


def forward_backward_inconsistent(flow: np.ndarray, reverse: np.ndarray, relative: float = 0.01,
                                  absolute: float = 0.5) -> np.ndarray:
    """(h, w) bool: True where going by ``flow`` and back by ``reverse`` does not return to the start (occlusions).

    With r(x) = reverse(x + flow(x)) (bilinear): |r + flow|² > relative·(|r|² + |flow|²) + absolute.
    """
    returned = warp(reverse, flow)
    error = _squared_norm(returned + flow)
    return error > relative * (_squared_norm(returned) + _squared_norm(flow)) + absolute


def motion_boundaries(flow: np.ndarray, relative: float = 0.01, absolute: float = 0.002) -> np.ndarray:
    """(h, w) bool: True where the flow changes sharply: |∇u|² + |∇v|² > relative·|flow|² + absolute, with
    forward differences of flow = (u, v) (zero on the last row and column)."""
    gradient = np.zeros(flow.shape[:2], np.float32)
    dx = flow[:, 1:] - flow[:, :-1]
    dy = flow[1:] - flow[:-1]
    gradient[:, :-1] += _squared_norm(dx)
    gradient[:-1] += _squared_norm(dy)
    return gradient > relative * _squared_norm(flow) + absolute


def reliable_mask(flow: np.ndarray, reverse: np.ndarray | None = None, *,
                  consistency: tuple[float, float] = (0.01, 0.5),
                  boundary: tuple[float, float] = (0.01, 0.002)) -> np.ndarray:
    """(h, w) bool: True where a warp by ``flow`` is trusted: its source is inside the frame, it is not on a motion
    boundary, and (if ``reverse`` is given) it passes the forward-backward check.

    ``consistency`` and ``boundary`` are the (relative, absolute) thresholds of the two checks above.
    """
    mask = inside_frame(flow) & ~motion_boundaries(flow, *boundary)
    if reverse is not None:
        mask &= ~forward_backward_inconsistent(flow, reverse, *consistency)
    return mask


def photometric_confidence(warped: np.ndarray, target: np.ndarray, low: float, high: float) -> np.ndarray:
    """(h, w) float32 in [0, 1] from the absolute difference of a warped uint8 image and the one it should match
    (grey, or colour: the largest difference of the channels): 1 up to ``low`` levels, falling linearly to 0 at
    ``high`` and beyond."""
    error = cv2.absdiff(warped, target)
    if error.ndim == 3:
        channels = cv2.split(error)
        error = channels[0]
        for channel in channels[1:]:
            error = cv2.max(error, channel)
    ramp = np.clip((high - np.arange(256, dtype=np.float32)) * np.float32(1.0 / (high - low)), 0.0, 1.0)
    return np.take(ramp, error)


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
