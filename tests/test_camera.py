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


def test_a_slow_consumer_gets_only_the_newest_frames_never_a_backlog() -> None:
    source, seen = HandFedSource(), []
    with LatestFrame(source) as capture:
        for burst in range(5):  # the camera delivers four frames while the consumer is busy with one
            for index in range(4 * burst, 4 * burst + 4):
                source.feed(index)
            wait_until(lambda: capture.produced == 4 * burst + 4)  # noqa: B023 (called at once)
            captured = capture.get(timeout=5)
            assert captured is not None and captured.image[0, 0, 0] == captured.index
            seen.append(captured.index)
        source.queue.put(None)  # the camera stops
        wait_until(lambda: capture.ended)
        assert capture.get(timeout=5) is None
        assert (capture.produced, capture.dropped) == (20, 15)
    assert seen == [3, 7, 11, 15, 19]


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
        source.queue.put(None)
        wait_until(lambda: capture.ended)
        assert capture.dropped == 0


class FakeClock:
    """Stands in for the camera module's ``time``: sleeping moves the clock at once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 100.0
        monkeypatch.setattr(camera_module, "time", self)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def releases(source: PatternSource | VideoFileSource, clock: FakeClock,
             busy: dict[int, float]) -> list[tuple[float, np.ndarray]]:
    """Each frame of ``source`` with when it was released (seconds after the start), the reader spending
    ``busy[i]`` seconds after frame i."""
    released: list[tuple[float, np.ndarray]] = []
    while (image := source.read()) is not None:
        released.append((round(clock.now - 100.0, 6), image))
        clock.sleep(busy.get(len(released) - 1, 0.0))
    return released


def test_the_pattern_keeps_its_rate_and_catches_up_after_a_late_read(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(monkeypatch)
    # 50 frames/s: a slot every 20 ms. The reader comes back 110 ms after frame 2: the frames whose slots have
    # passed (60 to 140 ms) come at once, and the later ones on their slots again.
    released = releases(PatternSource(16, 8, fps=50, frames=10), clock, {2: 0.11})
    assert [when for when, _ in released] == [0.0, 0.02, 0.04, 0.15, 0.15, 0.15, 0.15, 0.15, 0.16, 0.18]
    assert [pattern_index(image) for _, image in released] == list(range(10))


def test_a_video_file_plays_at_its_own_frame_rate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = VideoFileSource(make_video(tmp_path / "clip.mp4", frames=6, fps=20))
    released = releases(source, FakeClock(monkeypatch), {1: 0.02})
    source.close()
    assert source.fps == 20 and [frame_index(image) for _, image in released] == list(range(6))
    assert [when for when, _ in released] == [0.0, 0.05, 0.1, 0.15, 0.2, 0.25]  # 20 ms busy: still on time


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
    monkeypatch.setenv("DISPLAY", ":0")  # a desktop, so the answer is about OpenCV (headless here, or no window)
    model = write_invert_model(tmp_path / "invert.onnx")
    clip = make_video(tmp_path / "clip.mp4", frames=2)
    assert main(["webcam", "--camera", str(clip), "--style", str(model), "--show"]) == 2
    error = capsys.readouterr().err
    assert "--show needs OpenCV with windows" in error and "pip uninstall -y opencv-python-headless" in error
