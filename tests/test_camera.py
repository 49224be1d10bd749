"""Live capture: latest-frame-wins, sources (pattern, file, camera, URL), and the ``stylize webcam`` loop."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from framestyle.cli import main
from framestyle.errors import InputError
from framestyle.media import camera as camera_module
from framestyle.media.camera import (
    LatestFrame,
    OpenCVSource,
    PatternSource,
    VideoFileSource,
    open_source,
    pattern_index,
)

from .media_samples import frame_index, make_video, probe
from .tiny_models import write_invert_model


def test_a_slow_consumer_gets_only_the_newest_frames_never_a_backlog() -> None:
    source = PatternSource(32, 24, fps=200, frames=60)
    seen = []
    with LatestFrame(source) as capture:
        while True:
            produced_before = capture.produced
            captured = capture.get(timeout=10)
            if captured is None:
                break
            assert captured.index >= produced_before - 1  # at least the newest frame there was: never a stale one
            assert pattern_index(captured.image) == captured.index
            seen.append(captured.index)
            time.sleep(0.03)
        assert capture.ended
        produced, dropped = capture.produced, capture.dropped
    assert produced == 60
    assert dropped > 0 and len(seen) + dropped == produced
    assert seen == sorted(set(seen))


class HandFedSource:
    """A source that delivers exactly the frames the test hands it."""

    fps = None

    def __init__(self) -> None:
        self.queue: queue.Queue[np.ndarray | None] = queue.Queue()

    def feed(self, index: int) -> None:
        self.queue.put(np.full((2, 2, 3), index, np.uint8))

    def read(self) -> np.ndarray | None:
        return self.queue.get()

    def close(self) -> None:
        self.queue.put(None)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_frames_not_taken_in_time_are_replaced_by_the_newest() -> None:
    source = HandFedSource()
    with LatestFrame(source) as capture:
        for index in range(3):
            source.feed(index)
        wait_until(lambda: capture.produced == 3)
        newest = capture.get(timeout=5)
        assert newest is not None and newest.index == 2 and newest.image[0, 0, 0] == 2
        assert capture.dropped == 2
        assert capture.get(timeout=0.05) is None and not capture.ended  # nothing new: no old frame comes back
        source.feed(3)
        assert capture.get(timeout=5).index == 3
        source.queue.put(None)
        wait_until(lambda: capture.ended)
        assert capture.get(timeout=5) is None


def test_a_consumer_that_keeps_up_gets_every_frame() -> None:
    source = HandFedSource()
    with LatestFrame(source) as capture:
        for index in range(5):
            source.feed(index)
            assert capture.get(timeout=5).index == index
        assert capture.dropped == 0


def test_the_pattern_keeps_its_rate() -> None:
    source = PatternSource(16, 8, fps=50, frames=11)
    start = time.monotonic()
    while source.read() is not None:
        pass
    assert time.monotonic() - start >= 0.19  # 10 intervals of 20 ms


def test_a_video_file_plays_at_its_own_frame_rate(tmp_path: Path) -> None:
    source = VideoFileSource(make_video(tmp_path / "clip.mp4", frames=6, fps=20))
    start = time.monotonic()
    indices = []
    while (image := source.read()) is not None:
        indices.append(frame_index(image))
    source.close()
    assert indices == list(range(6))
    assert source.fps == 20
    assert time.monotonic() - start >= 0.24  # 5 intervals of 50 ms


def test_an_error_in_the_source_comes_out_of_get() -> None:
    class Failing:
        fps = None

        def read(self) -> np.ndarray:
            raise OSError("device unplugged")

        def close(self) -> None:
            pass

    with LatestFrame(Failing()) as capture, pytest.raises(OSError, match="unplugged"):
        capture.get(timeout=5)


class FakeCapture:
    """Stands in for cv2.VideoCapture: opens only the index or URL it is told exists."""

    exists: object = None

    def __init__(self, spec: object) -> None:
        self.opened = spec == self.exists

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.opened

    def get(self, prop: int) -> float:
        return 15.0

    def read(self) -> tuple[bool, np.ndarray]:
        return True, np.zeros((6, 8, 3), np.uint8)

    def release(self) -> None:
        pass


@pytest.fixture
def fake_cv2(monkeypatch: pytest.MonkeyPatch) -> type[FakeCapture]:
    monkeypatch.setattr(camera_module.cv2, "VideoCapture", FakeCapture)
    return FakeCapture


def test_sources_from_a_camera_value(tmp_path: Path, fake_cv2: type[FakeCapture]) -> None:
    fake_cv2.exists = 1
    assert isinstance(open_source("1"), OpenCVSource) and open_source("1").fps == 15.0
    fake_cv2.exists = "rtsp://127.0.0.1:8554/live"
    assert isinstance(open_source("rtsp://127.0.0.1:8554/live"), OpenCVSource)
    assert isinstance(open_source(str(make_video(tmp_path / "clip.mp4", frames=2))), VideoFileSource)
    with pytest.raises(InputError, match="no camera at index 0"):
        open_source("0")
    with pytest.raises(InputError, match="cannot open this stream"):
        open_source("http://127.0.0.1:9/none")
    with pytest.raises(InputError, match="no such file"):
        open_source(str(tmp_path / "missing.mp4"))


def test_webcam_without_a_camera_is_a_one_line_error(fake_cv2: type[FakeCapture], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    assert main(["webcam", "--style", str(model), "--camera", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stylize webcam: error: no camera at index 0") and err.count("\n") == 1


def test_webcam_plays_a_file_and_records_the_stylized_frames(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    clip = make_video(tmp_path / "clip.mp4", frames=8, fps=25)
    output = tmp_path / "recording.mp4"
    code = main(["webcam", "--camera", str(clip), "--style", str(model), "--max-frames", "5", "--output", str(output)])
    assert code == 0
    out = capsys.readouterr().out
    assert "frames/s" in out and "recorded to" in out
    recorded = probe(output)
    assert 1 <= len(recorded["images"]) <= 5
    assert recorded["times"] == sorted(recorded["times"])
    first = recorded["images"][0]
    assert abs(float(first.mean()) - (255 - 20)) < 40  # inverted frames were recorded (early ones are dark)


def test_webcam_show_needs_a_gui(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def no_gui(name: str) -> None:
        raise cv2.error("The function is not implemented")

    monkeypatch.setattr(cv2, "namedWindow", no_gui)
    model = write_invert_model(tmp_path / "invert.onnx")
    clip = make_video(tmp_path / "clip.mp4", frames=2)
    assert main(["webcam", "--camera", str(clip), "--style", str(model), "--show"]) == 2
    assert "--show needs OpenCV with a GUI" in capsys.readouterr().err
