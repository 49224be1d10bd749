"""Edge-aware upsampling of a low-resolution result, guided by the full-resolution frame.

This is the fast guided filter (He & Sun, 2015, arXiv:1505.00996): the local linear model q = a·I + b of the
guided filter (He et al., ECCV 2010) is fitted at low resolution between the downscaled guide I and the
low-resolution result p, its coefficients are upsampled bilinearly, and applied to the full-resolution guide.
Edges of the full-resolution frame come back sharp where a plain resize would blur them.
"""

from __future__ import annotations

import cv2
import numpy as np


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(image, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def guided_upsample(low: np.ndarray, guide: np.ndarray, radius: int = 2, eps: float = 1e-3) -> np.ndarray:
    """Bring ``low`` (h, w, 3) uint8 up to ``guide``'s (H, W) size, with edges taken from ``guide``.

    ``guide`` is the full-resolution (H, W, 3) uint8 RGB frame; its luminance guides all three channels.
    ``radius`` is the filter window at low resolution, ``eps`` the regularisation (larger: smoother).
    """
    height, width = guide.shape[:2]
    h, w = low.shape[:2]
    if (h, w) == (height, width):
        return low
    grey = cv2.cvtColor(guide, cv2.COLOR_RGB2GRAY)
    guide_full = grey.astype(np.float32) * (1.0 / 255.0)
    guide_low = cv2.resize(guide_full, (w, h), interpolation=cv2.INTER_AREA)
    p = low.astype(np.float32) * (1.0 / 255.0)
    mean_i = _box(guide_low, radius)
    var_i = _box(guide_low * guide_low, radius) - mean_i * mean_i
    mean_p = _box(p, radius)
    cov_ip = _box(p * guide_low[..., None], radius) - mean_i[..., None] * mean_p
    a = cov_ip / (var_i[..., None] + eps)
    b = mean_p - a * mean_i[..., None]
    a = cv2.resize(_box(a, radius), (width, height), interpolation=cv2.INTER_LINEAR)
    b = cv2.resize(_box(b, radius), (width, height), interpolation=cv2.INTER_LINEAR)
    q = a * guide_full[..., None] + b
    return np.clip(q * 255.0 + 0.5, 0, 255).astype(np.uint8)
