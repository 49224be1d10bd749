"""Edge-aware upsampling of a low-resolution result, guided by the full-resolution frame.

This is the fast guided filter (He & Sun, 2015, arXiv:1505.00996): the local linear model q = a·I + b of the
guided filter (He et al., ECCV 2010) is fitted at low resolution between the downscaled guide I and the
low-resolution result p, its coefficients are upsampled bilinearly, and applied to the full-resolution guide.
Edges of the full-resolution frame come back sharp where a plain resize would blur them.

Everything but the last step runs at low resolution. At full resolution there are only the guide's luminance, the
two bilinear resizes of the coefficients and one multiply and one saturating add with OpenCV, in float32 buffers
kept between calls of the same size (no numpy temporaries).
"""

from __future__ import annotations

import cv2
import numpy as np


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(image, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


class GuidedUpsampler:
    """:func:`guided_upsample` with its full-resolution float32 buffers reused from one frame to the next (one
    instance per stream of frames; not for concurrent calls)."""

    def __init__(self, radius: int = 2, eps: float = 1e-3) -> None:
        self.radius = radius
        self.eps = eps
        self._buffers: dict[str, np.ndarray] = {}

    def _buffer(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        buffer = self._buffers.get(name)
        if buffer is None or buffer.shape != shape:
            buffer = self._buffers[name] = np.empty(shape, np.float32)
        return buffer

    def __call__(self, low: np.ndarray, guide: np.ndarray) -> np.ndarray:
        """Bring ``low`` (h, w, 3) uint8 up to ``guide``'s (H, W) size, with edges taken from ``guide`` ((H, W, 3)
        uint8 RGB, whose luminance guides all three channels)."""
        height, width = guide.shape[:2]
        h, w = low.shape[:2]
        if (h, w) == (height, width):
            return low
        grey = cv2.cvtColor(guide, cv2.COLOR_RGB2GRAY)
        # The fit, at low resolution, on a 0..1 guide and a 0..255 result (so q comes out in 0..255).
        guide_low = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) * (1.0 / 255.0)
        p = low.astype(np.float32)
        r = self.radius
        mean_i = _box(guide_low, r)
        var_i = _box(cv2.multiply(guide_low, guide_low), r) - cv2.multiply(mean_i, mean_i) + self.eps
        mean_i3, var_i3 = cv2.cvtColor(mean_i, cv2.COLOR_GRAY2RGB), cv2.cvtColor(var_i, cv2.COLOR_GRAY2RGB)
        mean_p = _box(p, r)
        cov_ip = cv2.subtract(_box(cv2.multiply(p, cv2.cvtColor(guide_low, cv2.COLOR_GRAY2RGB)), r),
                              cv2.multiply(mean_i3, mean_p))
        a = cv2.divide(cov_ip, var_i3)
        b = cv2.subtract(mean_p, cv2.multiply(a, mean_i3))
        # At full resolution: q = a·I + b, rounded and saturated to uint8 by the add.
        size, shape = (width, height), (height, width, 3)
        a_full = cv2.resize(_box(a, r), size, dst=self._buffer("a", shape), interpolation=cv2.INTER_LINEAR)
        b_full = cv2.resize(_box(b, r), size, dst=self._buffer("b", shape), interpolation=cv2.INTER_LINEAR)
        grey3 = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
        cv2.multiply(a_full, grey3, dst=a_full, scale=1.0 / 255.0, dtype=cv2.CV_32F)
        return cv2.add(a_full, b_full, dtype=cv2.CV_8U)


def guided_upsample(low: np.ndarray, guide: np.ndarray, radius: int = 2, eps: float = 1e-3) -> np.ndarray:
    """Bring ``low`` (h, w, 3) uint8 up to ``guide``'s (H, W) size, with edges taken from ``guide``.

    ``guide`` is the full-resolution (H, W, 3) uint8 RGB frame; its luminance guides all three channels.
    ``radius`` is the filter window at low resolution, ``eps`` the regularisation (larger: smoother). For a stream
    of frames, a :class:`GuidedUpsampler` reuses its buffers.
    """
    return GuidedUpsampler(radius, eps)(low, guide)
