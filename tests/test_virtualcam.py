"""``stylize webcam --virtual-camera``: the frame hand-off to pyvirtualcam, through a fake backend registered in
pyvirtualcam (this machine has no v4l2loopback device; the real device is documented in docs/live.md), and the
one-line message that says what to install when there is no device."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from framestyle.cli import main
from framestyle.cli import webcam as webcam_cli
from framestyle.errors import OutputError
from framestyle.media.virtualcam import VirtualCamera, install_hint

from .media_samples import frame_index, make_video
from .tiny_models import write_invert_model

pyvirtualcam = pytest.importorskip("pyvirtualcam", reason="the [live] extra (pyvirtualcam) is not installed")


class _FakeDevice:
    """A pyvirtualcam backend that keeps what it is sent."""

    opened: list[_FakeDevice] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: object):
        if device not in (None, "/dev/video42"):
            raise RuntimeError(f"device {device} does not exist")
        self.size, self.fps, self.frames, self.closed = (width, height), fps, [], False
        self.name = device or "/dev/video42"
        _FakeDevice.opened.append(self)

    def send(self, frame: np.ndarray) -> None:
        width, height = self.size
        self.frames.append(frame.reshape(height, width, 3).copy())  # pyvirtualcam hands backends flat RGB

    def device(self) -> str:
        return self.name

    def native_fourcc(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


class _NoDevice:
    def __init__(self, **kw: object) -> None:
        raise RuntimeError("No v4l2 loopback device found at /dev/video[0-99]. Did you run 'modprobe v4l2loopback'?")


@pytest.fixture
def fake_backend(monkeypatch: pytest.MonkeyPatch) -> type[_FakeDevice]:
    pyvirtualcam.register_backend("framestyle-fake", _FakeDevice)
    pyvirtualcam.register_backend("framestyle-none", _NoDevice)
    monkeypatch.setattr(webcam_cli, "VIRTUAL_BACKEND", "framestyle-fake")
    _FakeDevice.opened = []
    return _FakeDevice


def test_the_stylized_frames_go_to_the_virtual_camera(tmp_path: Path, fake_backend: type[_FakeDevice],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # The file plays at its own rate and the newest frame wins: 30 frames leave a slow machine room to stylize 6.
    clip = make_video(tmp_path / "clip.mp4", size=(64, 48), frames=30, fps=10)
    model = write_invert_model(tmp_path / "invert.onnx")
    assert main(["webcam", "--camera", str(clip), "--virtual-camera", "--style", str(model), "--temporal", "0",
                 "--max-frames", "6"]) == 0
    (device,) = fake_backend.opened
    assert device.size == (64, 48) and device.fps == 10 and device.closed
    assert len(device.frames) == 6
    indices = [frame_index(255 - frame) for frame in device.frames]  # the invert model's output, back again
    assert indices == sorted(indices) and len(set(indices)) == 6
    out = capsys.readouterr().out
    assert "virtual camera /dev/video42" in out and "6 sent to /dev/video42" in out


def test_no_device_gives_one_line_that_says_what_to_install(tmp_path: Path, fake_backend: type[_FakeDevice],
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(webcam_cli, "VIRTUAL_BACKEND", "framestyle-none")
    monkeypatch.setattr("sys.platform", "linux")
    clip = make_video(tmp_path / "clip.mp4", size=(64, 48), frames=4, fps=10)
    model = write_invert_model(tmp_path / "invert.onnx")
    assert main(["webcam", "--camera", str(clip), "--virtual-camera", "--style", str(model), "--max-frames", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "no virtual camera device found" in err and "v4l2loopback-dkms" in err


def test_a_named_device_that_does_not_exist_is_named_in_the_error(fake_backend: type[_FakeDevice]) -> None:
    with pytest.raises(OutputError, match="cannot open the virtual camera /dev/video7 .*does not exist"):
        VirtualCamera(64, 48, 30, device="/dev/video7", backend="framestyle-fake")


def test_frames_of_another_size_are_scaled_to_the_device(fake_backend: type[_FakeDevice]) -> None:
    camera = VirtualCamera(64, 48, 30, backend="framestyle-fake")
    camera.send(np.full((96, 128, 3), 200, np.uint8))
    camera.close()
    (device,) = fake_backend.opened
    assert device.frames[0].shape == (48, 64, 3) and (device.frames[0] == 200).all() and device.closed


def test_the_install_hint_names_obs_on_windows_and_macos() -> None:
    assert "OBS" in install_hint("win32") and "OBS" in install_hint("darwin")
    assert "v4l2loopback" in install_hint("linux")
