"""Every bundled style: its card is complete and matches its files, the model runs at odd sizes, and it draws no
grid texture. (A bundled style that is the shared network's has its network's files checked in test_bundled_shared.)"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from framestyle.catalog import REQUIRED_CARD_FIELDS, bundled_styles, default_style, single_styles
from framestyle.engine import EngineOptions, StyleEngine
from framestyle.grid_texture import grid_amplitudes

STYLES = bundled_styles()
SINGLE = single_styles()
MAX_MODEL_BYTES = 2_000_000
#: Largest grid amplitude (grey levels, any period) allowed on :func:`_smooth_landscape`. Measured on 2026-12-03:
#: the styles without the detail head 0.07 to 0.38; ``starry_night`` 1.45 with the grid loss, 1.87 for the model
#: bundled before it and 3.95 for the same recipe without the grid loss.
MAX_GRID_LEVELS = 1.6


def test_the_zoo_has_at_least_six_styles_and_one_default() -> None:
    assert len(STYLES) >= 6
    assert sum(style.is_default for style in STYLES) == 1
    assert default_style().is_default


@pytest.mark.parametrize("style", STYLES, ids=[s.name for s in STYLES])
def test_card_is_complete(style) -> None:
    card = style.card
    assert all(field in card for field in REQUIRED_CARD_FIELDS)
    assert card["title"] and card["artist"] and card["painting"]["credit"] and card["painting"]["licence"]
    assert card["training"]["finished"] and card["validation"]["style_ratio"] > 0


@pytest.mark.parametrize("style", SINGLE, ids=[s.name for s in SINGLE])
def test_single_network_matches_its_files(style) -> None:
    card = style.card
    total = 0
    for precision, source in (("fp32", style.fp32), ("fp16", style.fp16)):
        data = source.read_bytes()
        total += len(data)
        assert hashlib.sha256(data).hexdigest() == card["files"][precision]["sha256"]
    assert total <= MAX_MODEL_BYTES


@pytest.mark.parametrize("style", SINGLE, ids=[s.name for s in SINGLE])
def test_the_cards_architecture_rebuilds_a_network_with_the_files_weights(style) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("torch")
    from onnx import numpy_helper

    from framestyle.train.net import build_network, count_macs_per_pixel

    architecture = style.card["architecture"]
    net = build_network(architecture["name"], **architecture["options"])
    weights = sum(numpy_helper.to_array(tensor).size for tensor in onnx.load(str(style.fp32)).graph.initializer)
    assert architecture["parameters"] == weights == sum(p.numel() for p in net.parameters())
    assert architecture["mac_per_pixel"] == round(count_macs_per_pixel(net))


@pytest.mark.parametrize("style", SINGLE, ids=[s.name for s in SINGLE])
def test_fp16_model_agrees_with_fp32(style) -> None:
    import onnxruntime as ort

    frame = np.random.default_rng(0).integers(0, 256, size=(1, 45, 61, 3), dtype=np.uint8)
    cpu = ["CPUExecutionProvider"]
    sessions = [ort.InferenceSession(s.read_bytes(), providers=cpu) for s in (style.fp32, style.fp16)]
    outputs = [session.run(None, {"frame": frame})[0] for session in sessions]
    assert np.abs(outputs[0].astype(int) - outputs[1]).mean() < 2.0


@pytest.mark.parametrize("style", STYLES, ids=[s.name for s in STYLES])
def test_model_runs_at_odd_sizes_and_changes_the_picture(style) -> None:
    engine = StyleEngine(style, EngineOptions(device="cpu"))
    yy, xx = np.mgrid[0:37, 0:53]
    frame = np.stack([xx * 4, yy * 6, (xx + yy) * 2], axis=-1).astype(np.uint8)
    out = engine(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - frame).mean() > 10


def _smooth_landscape() -> np.ndarray:
    """A 512x384 sky, hill and sun: broad flat areas, where a network that stamps a grid shows it most."""
    import cv2

    yy, xx = np.mgrid[0:384, 0:512].astype(np.float64)
    sky = np.stack([60 + 0.2 * yy, 110 + 0.15 * yy, 230 - 0.1 * yy], axis=-1)
    hill = (yy > 250 + 40 * np.sin(xx / 60))[..., None]
    image = np.where(hill, np.stack([70 + 0.1 * xx, 140 - 0.05 * yy, 60 + 0 * xx], axis=-1), sky)
    sun = ((yy - 90) ** 2 + (xx - 380) ** 2 < 40**2)[..., None]
    image = np.where(sun, np.array([250.0, 230.0, 120.0]), image)
    image = cv2.GaussianBlur(image, (0, 0), 1.5) + np.random.default_rng(0).normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("style", STYLES, ids=[s.name for s in STYLES])
def test_model_draws_no_grid_texture(style) -> None:
    engine = StyleEngine(style, EngineOptions(device="cpu"))
    amplitudes = grid_amplitudes(engine(_smooth_landscape()))
    assert max(amplitudes.values()) < MAX_GRID_LEVELS, amplitudes
