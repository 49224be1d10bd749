"""Optical flow, warping and trust masks (framestyle.kernels.flow, .warp, .occlusion) on synthetic textures."""

from __future__ import annotations

import cv2
import numpy as np

from framestyle.kernels.flow import ULTRAFAST, create_dis, dense_flow, flow_size, grey, resize_flow
from framestyle.kernels.occlusion import (
    forward_backward_inconsistent,
    motion_boundaries,
    photometric_confidence,
    reliable_mask,
)
from framestyle.kernels.warp import inside_frame, warp


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random colour texture, (height, width, 3) uint8."""
    noise = np.random.default_rng(seed).normal(0.0, 1.0, (height // 6 + 2, width // 6 + 2, 3)).astype(np.float32)
    smooth = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(128 + 45 * smooth, 0, 255).astype(np.uint8)


def shifted_pair(dx: int, dy: int, height: int = 96, width: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(previous, current) crops of one texture with ``current(x) = previous(x + (dx, dy))``."""
    big = texture(height + 40, width + 40)
    previous = big[20:20 + height, 20:20 + width]
    current = big[20 + dy:20 + dy + height, 20 + dx:20 + dx + width]
    return np.ascontiguousarray(previous), np.ascontiguousarray(current)


def constant_flow(height: int, width: int, dx: float, dy: float) -> np.ndarray:
    flow = np.empty((height, width, 2), np.float32)
    flow[..., 0], flow[..., 1] = dx, dy
    return flow


def test_warp_by_known_flow_reproduces_the_shifted_texture() -> None:
    previous, current = shifted_pair(5, -3)
    flow = constant_flow(*current.shape[:2], 5, -3)
    warped = warp(previous, flow)
    inside = inside_frame(flow)
    assert np.array_equal(warped[inside], current[inside])


def test_warp_is_bilinear_at_fractional_shifts() -> None:
    image = texture(40, 50).astype(np.float32)
    warped = warp(image, constant_flow(40, 50, 0.25, 0.0))
    expected = 0.75 * image[:, 10:20] + 0.25 * image[:, 11:21]
    np.testing.assert_allclose(warped[:, 10:20], expected, atol=1e-3)


def test_inside_frame_masks_sources_that_left_the_frame() -> None:
    inside = inside_frame(constant_flow(10, 20, 5.0, -2.5))
    assert not inside[:, 15:].any() and not inside[:3].any()
    assert inside[3:, :15].all()
    assert inside_frame(constant_flow(4, 4, -0.5, 0))[:, 0].sum() == 0


def test_dense_flow_on_downscaled_grey_recovers_the_shift_at_full_resolution() -> None:
    previous, current = shifted_pair(6, 2)
    size = flow_size(*current.shape[:2], 64)
    assert size == (64, 48)
    flow = dense_flow(create_dis(ULTRAFAST), grey(current, size), grey(previous, size))
    full = resize_flow(flow, (128, 96))
    assert full.shape == (96, 128, 2)
    np.testing.assert_allclose(np.median(full[20:-20, 20:-20], axis=(0, 1)), [6, 2], atol=0.5)


def test_resize_flow_scales_the_vectors_with_the_grid() -> None:
    flow = constant_flow(10, 20, 1.0, 3.0)
    np.testing.assert_allclose(resize_flow(flow, (40, 30))[5, 5], [2.0, 9.0])
    np.testing.assert_allclose(resize_flow(flow, (10, 5))[2, 2], [0.5, 1.5])
    assert flow_size(360, 640, 1000) == (640, 360)


def test_consistency_checks_flag_occlusions_and_motion_boundaries() -> None:
    forward = constant_flow(30, 40, 4.0, 0.0)
    backward = constant_flow(30, 40, -4.0, 0.0)
    assert not forward_backward_inconsistent(forward, backward).any()
    backward[:, 20:] = 0.0  # the reverse flow disagrees on the right half
    inconsistent = forward_backward_inconsistent(forward, backward)
    assert inconsistent[:, 20:].all() and not inconsistent[:, :15].any()
    assert not motion_boundaries(forward).any()
    forward[:, 20:] = 0.0
    boundary = motion_boundaries(forward)
    assert boundary[:, 19].all() and boundary.sum() == 30
    assert not reliable_mask(forward)[:, 19].any() and reliable_mask(forward)[:, :19].all()


def test_photometric_confidence_ramps_between_its_thresholds() -> None:
    target = np.full((1, 4), 100, np.uint8)
    warped = np.array([[100, 110, 115, 130]], np.uint8)
    np.testing.assert_allclose(photometric_confidence(warped, target, 10, 20), [[1.0, 1.0, 0.5, 0.0]])


def test_photometric_confidence_of_colour_images_sees_a_change_of_colour_at_equal_brightness() -> None:
    target = np.array([[[200, 60, 60], [100, 100, 100]]], np.uint8)
    warped = np.array([[[60, 120, 120], [104, 100, 96]]], np.uint8)  # the first: another colour, the same grey
    assert cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY)[0, 0] == cv2.cvtColor(target, cv2.COLOR_RGB2GRAY)[0, 0]
    np.testing.assert_allclose(photometric_confidence(warped, target, 10, 20), [[0.0, 1.0]])


def test_cubic_warping_keeps_texture_that_repeated_bilinear_warping_blurs() -> None:
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    there, back = constant_flow(40, 40, 0.5, 0.0), constant_flow(40, 40, -0.5, 0.0)
    linear, cubic = texture, texture
    for _ in range(5):
        linear = warp(warp(linear, there), back)
        cubic = warp(warp(cubic, there, cubic=True), back, cubic=True)
    inner = (slice(5, -5), slice(5, -5))
    assert cubic[inner].std() > 1.3 * linear[inner].std()
    np.testing.assert_allclose(warp(texture, constant_flow(40, 40, 1.0, 0.0), cubic=True)[:, :-1], texture[:, 1:])
