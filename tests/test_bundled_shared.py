"""The bundled shared network: its card and its styles' cards match its files, every style runs and differs from
the others, mixes of bundled names run on it, and it costs what a single style does."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import numpy as np
import pytest

from framestyle.catalog import (
    SHARED_NETWORK_KIND,
    bundled_styles,
    default_style,
    mixable,
    resolve_style,
    shared_styles,
    single_styles,
)
from framestyle.engine import EngineOptions, StyleEngine
from framestyle.grid_texture import grid_amplitudes

from .test_bundled_models import MAX_GRID_LEVELS, _smooth_landscape

STYLES = shared_styles()
FOLDER = resources.files("framestyle.models") / "shared"


def _frame() -> np.ndarray:
    yy, xx = np.mgrid[0:37, 0:53]
    return np.stack([xx * 4, yy * 6, (xx + yy) * 2], axis=-1).astype(np.uint8)


def test_every_bundled_style_has_a_style_of_the_shared_network() -> None:
    assert {style.name for style in STYLES} == {style.name for style in bundled_styles()}
    assert len({style.network for style in STYLES}) == 1
    assert all(mixable(style) is not None for style in bundled_styles())


def test_the_default_mark_is_on_one_card_only() -> None:
    marked = [style.name for style in [*STYLES, *single_styles()] if style.is_default]
    assert marked == [default_style().name]


def test_the_cards_match_the_network_files() -> None:
    network = json.loads((FOLDER / "shared.json").read_text())
    assert network["kind"] == SHARED_NETWORK_KIND and network["training"]["finished"]
    for entry in network["files"].values():
        assert hashlib.sha256((FOLDER / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    for style in STYLES:
        card = style.card
        assert card["files"] == network["files"] and card["shared"]["sha256"] == network["files"]["fp32"]["sha256"]
        assert len(card["shared"]["vector"]) == network["style_size"]
        assert card["painting"]["credit"] and card["painting"]["licence"] and card["validation"]["style_ratio"] > 0


def test_the_cards_architecture_rebuilds_the_network_with_the_files_weights() -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("torch")
    from onnx import numpy_helper

    from framestyle.train.mixnet import MixStyleNet
    from framestyle.train.net import FastStyleConfig

    network = json.loads((FOLDER / "shared.json").read_text())
    options = network["architecture"]["options"]
    net = MixStyleNet(FastStyleConfig(width=tuple(options["width"]), blocks=options["blocks"]))
    model = onnx.load_from_string((FOLDER / "shared.onnx").read_bytes())
    weights = sum(numpy_helper.to_array(t).size for t in model.graph.initializer if t.name.startswith("net."))
    assert network["architecture"]["parameters"] == weights == sum(p.numel() for p in net.parameters())
    assert network["style_size"] == net.style_size


@pytest.mark.parametrize("style", STYLES, ids=[s.name for s in STYLES])
def test_each_style_runs_at_odd_sizes_and_draws_no_grid(style) -> None:
    engine = StyleEngine(style, EngineOptions(device="cpu"))
    frame = _frame()
    out = engine(frame)
    assert out.shape == frame.shape and np.abs(out.astype(int) - frame).mean() > 10
    assert max(grid_amplitudes(engine(_smooth_landscape())).values()) < MAX_GRID_LEVELS


def test_styles_differ_and_a_mix_lies_between_them() -> None:
    engine = StyleEngine(STYLES[0], EngineOptions(device="cpu"))
    frame = _frame()
    outputs = [engine(frame, style.vector).astype(int) for style in STYLES]
    for i in range(len(outputs)):
        for j in range(i + 1, len(outputs)):
            assert np.abs(outputs[i] - outputs[j]).mean() > 3, (STYLES[i].name, STYLES[j].name)
    mix = resolve_style("the_scream=0.5,udnie=0.5")
    mixed = engine(frame, mix.vector).astype(int)
    scream, udnie = (engine(frame, resolve_style(f"{name}=1").vector).astype(int) for name in ("the_scream", "udnie"))
    assert np.abs(mixed - scream).mean() < np.abs(udnie - scream).mean()
    assert np.abs(mixed - udnie).mean() < np.abs(udnie - scream).mean()


def test_fp16_agrees_with_fp32() -> None:
    import onnxruntime as ort

    frame = np.random.default_rng(0).integers(0, 256, size=(1, 45, 61, 3), dtype=np.uint8)
    vector = STYLES[0].vector
    sessions = [ort.InferenceSession((FOLDER / name).read_bytes(), providers=["CPUExecutionProvider"])
                for name in ("shared.onnx", "shared.fp16.onnx")]
    outputs = [session.run(None, {"frame": frame, "style": vector})[0] for session in sessions]
    assert np.abs(outputs[0].astype(int) - outputs[1]).mean() < 2.0


def test_the_speed_benchmark_times_a_style_of_the_shared_network() -> None:
    pytest.importorskip("torch")
    from framestyle.train.export import time_onnx, time_onnx_in_turns

    style = resolve_style("the_scream")
    assert time_onnx(style.model_bytes(), 40, 56, runs=2, style_vector=style.vector) > 0
    single = resolve_style("shipwreck")
    times = time_onnx_in_turns([(style.model_bytes(), style.vector), (single.model_bytes(), None)], 40, 56, runs=2)
    assert len(times) == 2 and min(times) > 0
    with pytest.raises(ValueError, match="style"):  # the network's style input is not optional
        time_onnx(style.model_bytes(), 40, 56, runs=2)
