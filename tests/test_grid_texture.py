"""The grid-texture measure: near zero on texture without a grid, the stamped amplitude on one with a grid."""

import numpy as np
import pytest

from framestyle.grid_texture import grid_amplitude, grid_amplitudes


def _texture(seed: int = 0) -> np.ndarray:
    """A 360x512 picture of random strokes: smooth noise with a lot of fine texture, and no grid."""
    import cv2

    noise = np.random.default_rng(seed).normal(128, 60, size=(360, 512, 3))
    return np.clip(cv2.GaussianBlur(noise, (0, 0), 1.2), 0, 255).astype(np.uint8)


def test_a_textured_picture_without_a_grid_measures_under_half_a_level() -> None:
    assert max(grid_amplitudes(_texture()).values()) < 0.5


@pytest.mark.parametrize("period", [2, 4, 8])
def test_a_faint_grid_stamped_over_the_texture_is_measured_at_its_amplitude(period: int) -> None:
    image = _texture().astype(np.int16)
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    image += np.where((yy % period == 0) & (xx % period == 0), 6, 0)[..., None].astype(np.int16)
    stamped = np.clip(image, 0, 255).astype(np.uint8)
    # One phase of P² is 6 levels brighter: the phase means' standard deviation is 6 sqrt(P² - 1) / P².
    expected = 6 * np.sqrt(period**2 - 1) / period**2
    assert grid_amplitude(stamped, period) == pytest.approx(expected, abs=0.3)
    assert grid_amplitude(stamped, period) > 3 * grid_amplitude(_texture(), period)


def test_a_period_under_two_or_a_picture_smaller_than_the_period_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        grid_amplitude(_texture(), 1)
    with pytest.raises(ValueError, match="smaller than the period"):
        grid_amplitude(np.zeros((3, 5, 3), np.uint8), 4)
