"""The camera loop of the Python API (framestyle.media.live) and the webcam command's style switch over a bank."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pytest

from framestyle.catalog import bundled_styles, resolve_style
from framestyle.cli.webcam import _Session
from framestyle.errors import InputError
from framestyle.media.camera import PatternSource, pattern_index
from framestyle.media.live import Readout, stylize_live
from framestyle.stylizer import Stylizer

from .tiny_models import write_invert_model


def test_the_loop_stylizes_the_newest_frames_in_order_and_counts_them() -> None:
    readout = Readout()
    seen = list(stylize_live(PatternSource(fps=200, frames=40), lambda image: 255 - image, readout=readout))
    indices = [pattern_index(255 - frame.image) for frame in seen]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    assert readout.frames == len(seen) and len(seen) + seen[-1].dropped <= 40
    assert all(frame.latency >= 0 and frame.fps == 200 for frame in seen)


def test_a_slow_stylizer_drops_frames_instead_of_queueing_them() -> None:
    def slow(image: np.ndarray) -> np.ndarray:
        time.sleep(0.05)
        return image

    seen = list(stylize_live(PatternSource(fps=200, frames=60), slow))
    assert seen[-1].dropped > 0 and len(seen) < 60
    assert max(frame.latency for frame in seen) < 0.5  # never a backlog


def test_the_loop_stops_after_max_frames_and_a_silent_source_is_an_error() -> None:
    assert len(list(stylize_live(PatternSource(fps=100), lambda image: image, max_frames=5))) == 5

    class Silent(PatternSource):
        def read(self) -> np.ndarray | None:
            time.sleep(0.5)
            return super().read()

    with pytest.raises(InputError, match="no frame for"):
        list(stylize_live(Silent(fps=100), lambda image: image, stall_seconds=0.1))


def test_the_webcam_style_switch_keeps_the_options_and_loads_each_style_once(tmp_path: Path) -> None:
    model = resolve_style(str(write_invert_model(tmp_path / "invert.onnx")))
    args = argparse.Namespace(output=None, virtual_camera=False, show=False)
    session = _Session(args, Stylizer(model, strength=0.6, temporal=0.5))
    session._switch_style(1)
    first = session.stylizer
    assert first.model.name == bundled_styles()[0].name
    assert (first.strength, first.temporal.weight) == (0.6, 0.5)
    for _ in range(len(bundled_styles()) + 1):  # the bank: the invert model, then every bundled style
        session._switch_style(1)
    assert session.stylizer.model.name == first.model.name and session.stylizer.engine is first.engine
