"""Backward warping by a flow field: ``warped(x) = image(x + flow(x))``, bilinear, with OpenCV's remap."""

from __future__ import annotations

import cv2
import numpy as np


def warp(image: np.ndarray, flow: np.ndarray, *, cubic: bool = False) -> np.ndarray:
    """``image`` (h, w) or (h, w, c), sampled at ``x + flow(x)`` for each pixel x of ``flow``'s grid (``flow``:
    (h, w, 2) float32, in pixels), bilinearly or, with ``cubic``, bicubically (sharper: a history that is warped
    again every frame keeps its texture; about 4x the time).

    Sources outside the image take the nearest edge pixel (see :func:`inside_frame` to mask them out).
    """
    interpolation = cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR
    if not cubic and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        # Bilinear remap has vector code for 4 uint8 channels, not 3: the same result, about 30% faster with the
        # conversions (bicubic is faster without them).
        rgba = _remap(cv2.cvtColor(image, cv2.COLOR_RGB2RGBA), flow, interpolation)
        return cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)
    return _remap(image, flow, interpolation)


def _remap(image: np.ndarray, flow: np.ndarray, interpolation: int) -> np.ndarray:
    return cv2.remap(image, flow, None, interpolation | cv2.WARP_RELATIVE_MAP, borderMode=cv2.BORDER_REPLICATE)


def inside_frame(flow: np.ndarray) -> np.ndarray:
    """(h, w) bool: True where the source ``x + flow(x)`` lies inside the frame (between the outer pixel centres)."""
    height, width = flow.shape[:2]
    x = flow[..., 0] + np.arange(width, dtype=np.float32)
    y = flow[..., 1] + np.arange(height, dtype=np.float32)[:, None]
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def compose_motion(newer: np.ndarray, older: np.ndarray) -> np.ndarray:
    """The backward motion two frames back: ``newer`` leads from frame n to n-1, ``older`` from n-1 to n-2."""
    return newer + warp(older, newer)
