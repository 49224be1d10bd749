"""Execution-provider choice, fallback, and frame handling of the ONNX Runtime engine."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from framestyle import engine as engine_module
from framestyle.catalog import resolve_style
from framestyle.engine import EngineOptions, StyleEngine
from framestyle.errors import ModelError, ProviderError

from .tiny_models import write_invert_model


@pytest.fixture()
def invert(tmp_path: Path):
    return resolve_style(str(write_invert_model(tmp_path / "invert.onnx")))


def test_auto_runs_on_the_cpu_here(invert) -> None:
    engine = StyleEngine(invert)
    frame = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    assert engine.device == "cpu"
    np.testing.assert_array_equal(engine(frame), 255 - frame)


def test_the_cpu_session_preallocates_no_memory_pattern_and_takes_any_size(invert) -> None:
    engine = StyleEngine(invert)  # a memory pattern held a second block per run: 1.09 against 0.89 GB at 1080p
    assert not engine._session.get_session_options().enable_mem_pattern
    for height, width in ((36, 64), (27, 48), (36, 64)):
        frame = np.full((height, width, 3), 40, np.uint8)
        np.testing.assert_array_equal(engine(frame), 255 - frame)


@pytest.mark.parametrize("size", [(1, 1), (3, 40), (40, 2)])
def test_frames_below_the_minimum_side_come_back_at_their_size(invert, size: tuple[int, int]) -> None:
    frame = np.full((*size, 3), 7, dtype=np.uint8)
    np.testing.assert_array_equal(StyleEngine(invert)(frame), 255 - frame)


def test_a_missing_provider_fails_loudly(invert) -> None:
    with pytest.raises(ProviderError, match="no CUDAExecutionProvider"):
        StyleEngine(invert, EngineOptions(device="cuda"))


def test_an_unknown_device_is_refused(invert) -> None:
    with pytest.raises(ProviderError, match="unknown device"):
        StyleEngine(invert, EngineOptions(device="tpu"))


def test_a_failing_gpu_provider_falls_back_to_the_cpu_with_a_notice(invert, monkeypatch, caplog) -> None:
    monkeypatch.setattr(engine_module, "available_devices", lambda: ["cuda", "cpu"])
    real = StyleEngine._session_for

    def session_for(self, device):
        if device == "cuda":
            raise RuntimeError("CUDA driver version is insufficient")
        return real(self, device)

    monkeypatch.setattr(StyleEngine, "_session_for", session_for)
    with caplog.at_level(logging.WARNING):
        engine = StyleEngine(invert)
    assert engine.device == "cpu"
    assert "falling back to cpu" in caplog.text and "insufficient" in caplog.text


def test_a_broken_model_file_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        StyleEngine(resolve_style(str(path)), EngineOptions(device="cpu"))


def test_an_unknown_style_name_lists_the_bundled_ones() -> None:
    with pytest.raises(ModelError, match="unknown style 'no_such_style'"):
        resolve_style("no_such_style")


def test_io_binding_is_off_on_the_cpu_unless_asked_for(invert) -> None:
    assert not StyleEngine(invert, EngineOptions(device="cpu")).io_binding
    assert StyleEngine(invert, EngineOptions(device="cpu", io_binding=True)).io_binding


def test_io_binding_gives_the_plain_results_across_size_changes_and_leaves_inputs_alone(invert) -> None:
    plain = StyleEngine(invert, EngineOptions(device="cpu"))
    bound = StyleEngine(invert, EngineOptions(device="cpu", io_binding=True))
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(20, 30), (20, 30), (33, 17), (20, 30)]]
    copies = [frame.copy() for frame in frames]
    outputs = [bound(frame) for frame in frames]
    for frame, copy, output in zip(frames, copies, outputs, strict=True):
        np.testing.assert_array_equal(frame, copy)  # the device buffer is the engine's own, not the caller's array
        np.testing.assert_array_equal(output, plain(frame))  # earlier outputs are not overwritten by later runs


def test_io_binding_is_safe_from_several_threads(invert) -> None:
    from concurrent.futures import ThreadPoolExecutor

    bound = StyleEngine(invert, EngineOptions(device="cpu", io_binding=True))
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (24 + i % 3, 32, 3), dtype=np.uint8) for i in range(40)]
    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(bound, frames))
    for frame, output in zip(frames, outputs, strict=True):
        np.testing.assert_array_equal(output, 255 - frame)
