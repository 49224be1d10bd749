"""A measure of grid texture: the periodic pattern that strided convolutions, nearest-neighbour upsampling and
pixel shuffles stamp over a picture (Odena et al., "Deconvolution and Checkerboard Artifacts", Distill 2016).

A grid of period P makes pixels at the same position modulo P alike all over the picture. So the luminance is
averaged over each of the P x P phases (y mod P, x mod P); without a grid the P² phase means are nearly equal
(content and texture average out over thousands of pixels per phase), with one they differ by its amplitude. The
grid amplitude is the standard deviation of the phase means, in grey levels (0 to 255). The same number for the
unstylized photo is the floor to compare with: well under one level for a photo at 512 px.
"""

from __future__ import annotations

import numpy as np

#: Periods checked by default: the strides inside a network that works at 1/2, 1/4 and 1/8 resolution.
GRID_PERIODS = (2, 4, 8)

_LUMA = np.array([0.299, 0.587, 0.114], np.float64)


def grid_amplitude(image: np.ndarray, period: int) -> float:
    """Standard deviation, in grey levels, of the luminance averaged per phase (y mod ``period``, x mod
    ``period``) of an (H, W, 3) uint8 RGB image; the picture is cropped to a multiple of the period."""
    if period < 2:
        raise ValueError(f"a grid period is at least 2 pixels, got {period}")
    h, w = (image.shape[0] // period) * period, (image.shape[1] // period) * period
    if h == 0 or w == 0:
        raise ValueError(f"a {image.shape[1]}x{image.shape[0]} image is smaller than the period {period}")
    luma = image[:h, :w].astype(np.float64) @ _LUMA
    phases = luma.reshape(h // period, period, w // period, period).mean(axis=(0, 2))
    return float(phases.std())


def grid_amplitudes(image: np.ndarray, periods: tuple[int, ...] = GRID_PERIODS) -> dict[int, float]:
    """:func:`grid_amplitude` for each period."""
    return {period: grid_amplitude(image, period) for period in periods}
