"""tools/make_face_clip.py: a camera move over shipped portraits, in colour or black and white."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np
import pytest

from .tool_module import load_tool

DATA = Path(__file__).parent / "data"


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> list[np.ndarray]:
    out = tmp_path / "clip.mp4"
    portraits = [str(DATA / "grace_hopper_200.jpg"), str(DATA / "astronaut_320.jpg")]
    monkeypatch.setattr(sys, "argv", ["make_face_clip.py", str(out), *portraits, "--size", "160x90", "--seconds",
                                      "0.5", "--fps", "12", *extra])
    assert load_tool("make_face_clip").main() == 0
    return _frames(out)


def test_grey_turns_each_portrait_to_its_luminance() -> None:
    picture = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 200, 90]]], np.uint8)
    grey = load_tool("make_face_clip").black_and_white(picture)
    assert grey.shape == picture.shape
    assert (grey == grey[..., :1]).all()
    luminance = picture[0] @ np.array([0.299, 0.587, 0.114])  # BT.601
    assert np.abs(grey[0, :, 0] - luminance).max() <= 0.5


def test_a_grey_clip_has_no_colour_and_a_colour_clip_keeps_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grey = _make(tmp_path, monkeypatch, "--grey")
    assert len(grey) == 12 and grey[0].shape == (90, 160, 3)  # 6 frames a portrait
    spread = max(int(np.ptp(frame.astype(np.int16), axis=2).max()) for frame in grey)
    assert spread <= 3  # decoded from 4:2:0 with neutral chroma
    colour = _make(tmp_path, monkeypatch)
    assert max(int(np.ptp(frame.astype(np.int16), axis=2).max()) for frame in colour) > 50
