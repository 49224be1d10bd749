"""The camera loop of the Python API (framestyle.media.live) and the webcam command's style switch over a bank."""

from __future__ import annotations

import argparse
import queue
import time
from pathlib import Path

import numpy as np
import pytest

from framestyle.catalog import all_styles, resolve_style
from framestyle.cli.webcam import _Session
from framestyle.errors import InputError
from framestyle.media import camera as camera_module
from framestyle.media import live as live_module
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
    assert all(frame.fps == 200 for frame in seen)


class _BurstSource:
    """Frames numbered in their first pixel, handed over by the test in bursts."""

    fps = 30.0

    def __init__(self) -> None:
        self.frames: queue.Queue[np.ndarray | None] = queue.Queue()
        self.frames.put(np.zeros((2, 2, 3), np.uint8))  # frame 0 waits for the capture thread
        self.reads = 0

    def release(self, numbers: range) -> None:
        """Hand over frames, and wait until the capture thread has taken the last of them (it asks for the next
        frame only then)."""
        for number in numbers:
            self.frames.put(np.full((2, 2, 3), number, np.uint8))
        deadline = time.monotonic() + 10
        while self.reads <= numbers[-1] + 1:
            assert time.monotonic() < deadline, "the capture thread stopped reading"
            time.sleep(0.001)

    def read(self) -> np.ndarray | None:
        self.reads += 1
        return self.frames.get()

    def close(self) -> None:
        self.frames.put(None)


class _Clock:
    """The clock of the camera and the loop: it moves only when the stylizer says it worked."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def test_a_busy_stylizer_takes_the_newest_frame_and_drops_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, source = _Clock(), _BurstSource()
    monkeypatch.setattr(camera_module, "time", clock)
    monkeypatch.setattr(live_module, "time", clock)

    def stylize(image: np.ndarray) -> np.ndarray:
        clock.now += 0.04  # the network's 40 ms, while three more frames arrive
        number = int(image[0, 0, 0])
        if number < 9:
            source.release(range(number + 1, number + 4))
        else:
            source.close()
        return 255 - image

    seen = list(stylize_live(source, stylize))
    assert [255 - int(frame.image[0, 0, 0]) for frame in seen] == [0, 3, 6, 9]
    assert [frame.dropped for frame in seen] == [2, 4, 6, 6]
    # Each frame was captured just before the loop took it: its latency is the stylizer's time, never a backlog's.
    assert [frame.latency for frame in seen] == pytest.approx([0.04] * 4)


def test_the_loop_stops_after_max_frames_and_a_silent_source_is_an_error() -> None:
    assert len(list(stylize_live(PatternSource(fps=100), lambda image: image, max_frames=5))) == 5

    class Silent(PatternSource):
        def read(self) -> np.ndarray | None:
            time.sleep(0.5)
            return super().read()

    with pytest.raises(InputError, match="no frame for"):
        list(stylize_live(Silent(fps=100), lambda image: image, stall_seconds=0.1))


def test_the_webcam_style_switch_keeps_the_stylizer_and_loads_each_network_once(tmp_path: Path) -> None:
    model = resolve_style(str(write_invert_model(tmp_path / "invert.onnx")))
    args = argparse.Namespace(output=None, virtual_camera=False, show=False, fade=0.0)
    stylizer = Stylizer(model, strength=0.6, temporal=0.5)
    session = _Session(args, stylizer)
    invert_engine = stylizer.engine
    session._switch_style(1)
    assert session.stylizer is stylizer  # options and temporal history kept
    first, first_engine = stylizer.model.name, stylizer.engine
    assert first == all_styles()[0].name and (stylizer.strength, stylizer.temporal.weight) == (0.6, 0.5)
    engines = {id(stylizer.engine)}
    for _ in range(len(all_styles())):  # the bank: the invert model, then every bundled style
        session._switch_style(1)
        engines.add(id(stylizer.engine))
    assert stylizer.model.name == "invert" and stylizer.engine is invert_engine
    session._switch_style(1)
    assert stylizer.model.name == first and stylizer.engine is first_engine
    assert len(engines) == len({style.network for style in all_styles()}) + 1
