"""The masked temporal blend: the previous output, warped onto the current frame, mixed into the current one."""

from __future__ import annotations

import cv2
import numpy as np


def temporal_blend(current: np.ndarray, previous: np.ndarray, confidence: np.ndarray, weight: float) -> np.ndarray:
    """``weight · confidence`` of ``previous`` over ``current`` ((H, W, 3) uint8 frames, ``previous`` already
    warped onto ``current``).

    ``confidence`` is an (h, w) float32 map in [0, 1], resized bilinearly to the frames' size when smaller; the mix
    is done in 8-bit fixed point (within one grey level). Where the confidence is 0 the result is exactly
    ``current``.
    """
    height, width = current.shape[:2]
    alpha = np.rint(confidence * np.float32(255.0 * weight)).astype(np.uint8)
    if alpha.shape != (height, width):
        alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.merge([alpha] * current.shape[2])
    kept = cv2.multiply(previous, alpha, scale=1.0 / 255.0)
    fresh = cv2.multiply(current, cv2.bitwise_not(alpha), scale=1.0 / 255.0)
    return cv2.add(kept, fresh)
