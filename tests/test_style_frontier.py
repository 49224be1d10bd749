"""The frontier tool keeps each optimised picture, so a stopped optimisation resumes at the photo it was on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .tool_module import load_tool


@pytest.fixture(scope="module")
def style_frontier():
    return load_tool("style_frontier")


def test_a_kept_picture_is_read_back_instead_of_computed_again(style_frontier, tmp_path: Path) -> None:
    calls: list[tuple[int, ...]] = []

    def invert(photo: np.ndarray) -> np.ndarray:
        calls.append(photo.shape)
        return 255 - photo

    rng = np.random.default_rng(0)
    first, second = rng.integers(0, 256, (2, 24, 32, 3), dtype=np.uint8)
    stylize = style_frontier.kept(invert, tmp_path / "kept")
    assert np.array_equal(stylize(first), 255 - first)
    assert len(list((tmp_path / "kept").glob("*.png"))) == 1

    # a new run (as after a stop) reads the first photo back and computes only the second
    calls.clear()
    rerun = style_frontier.kept(invert, tmp_path / "kept")
    assert np.array_equal(rerun(first), 255 - first)
    assert calls == []
    assert np.array_equal(rerun(second), 255 - second)
    assert len(calls) == 1
    # the same pixels in another shape are another photo
    assert np.array_equal(rerun(first.reshape(32, 24, 3)), 255 - first.reshape(32, 24, 3))
    assert len(calls) == 2


def test_without_a_folder_nothing_is_kept(style_frontier) -> None:
    def identity(photo: np.ndarray) -> np.ndarray:
        return photo

    assert style_frontier.kept(identity, None) is identity
