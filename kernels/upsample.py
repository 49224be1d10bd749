"""Edge-aware upsampling of a low-resolution result, guided by the full-resolution frame.

A detail transfer built on the guided filter's local linear model (He et al., ECCV 2010; the fast guided filter,
He & Sun 2015, arXiv:1505.00996, fits it at low resolution): q = p↑ + a↑ · (I − I↓↑). The low-resolution result p is
resized bilinearly, and the detail the downscaling took from the full-resolution guide I (its luminance minus its
downscaled luminance resized back) is added, scaled per channel by the local gain a of the result on the guide, fitted
at low resolution. Edges of the full-resolution frame come back sharp where a plain resize would blur them, and the
result's own texture is kept: the guided filter's output a↑·I + b↑ smoothed it away (the style ratio moved 0.09
further from the painting's at 1280x720; docs/performance.md).

The fit runs at low resolution. At full resolution there are only the guide's luminance, three bilinear resizes,
one subtraction, one multiply and one saturating add with OpenCV, in float32 buffers kept between calls of the same
size (no numpy temporaries).
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
        # The fit, at low resolution, in grey levels: the gain a of the result on the guide, per channel.
        guide_low = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
        p = low.astype(np.float32)
        r = self.radius
        mean_i = _box(guide_low, r)
        var_i = _box(cv2.multiply(guide_low, guide_low), r) - cv2.multiply(mean_i, mean_i) + self.eps * 255.0**2
        mean_p = _box(p, r)
        cov_ip = cv2.subtract(_box(cv2.multiply(p, cv2.cvtColor(guide_low, cv2.COLOR_GRAY2RGB)), r),
                              cv2.multiply(cv2.cvtColor(mean_i, cv2.COLOR_GRAY2RGB), mean_p))
        a = _box(cv2.divide(cov_ip, cv2.cvtColor(var_i, cv2.COLOR_GRAY2RGB)), r)
        # At full resolution: q = p↑ + a↑ · (I − I↓↑), rounded and saturated to uint8 by the add.
        size, shape = (width, height), (height, width, 3)
        detail = cv2.subtract(grey, cv2.resize(guide_low, size, dst=self._buffer("guide", (height, width)),
                                               interpolation=cv2.INTER_LINEAR), dtype=cv2.CV_32F)
        gain = cv2.resize(a, size, dst=self._buffer("gain", shape), interpolation=cv2.INTER_LINEAR)
        cv2.multiply(gain, cv2.cvtColor(detail, cv2.COLOR_GRAY2RGB), dst=gain)
        return cv2.add(cv2.resize(low, size, interpolation=cv2.INTER_LINEAR), gain, dtype=cv2.CV_8U)

def guided_upsample(low: np.ndarray, guide: np.ndarray, radius: int = 2, eps: float = 1e-3) -> np.ndarray:
    """Bring ``low`` (h, w, 3) uint8 up to ``guide``'s (H, W) size, with edges taken from ``guide``.

    ``guide`` is the full-resolution (H, W, 3) uint8 RGB frame; its luminance guides all three channels.
    ``radius`` is the filter window at low resolution, ``eps`` the regularisation (larger: smoother). For a stream
    of frames, a :class:`GuidedUpsampler` reuses its buffers.
    """
    return GuidedUpsampler(radius, eps)(low, guide)
