"""Small things a new user runs into: a picture sequence's folder, a folder stylized into a picture name, --show with
a headless OpenCV, the engine feed's exit report, and style names typed a little wrong."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from framestyle.catalog import resolve_style
from framestyle.cli import main
from framestyle.errors import ModelError

from .media_samples import make_video

STYLIZE = [sys.executable, "-m", "framestyle"]
SUMMARY = re.compile(r"client 1 .*frames in")
HEADLESS = bool(re.search(r"^\s*GUI:\s*NONE\s*$", cv2.getBuildInformation(), re.MULTILINE))


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_picture_sequence_gets_its_folder_made(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", frames=3)
    assert main(["video", str(clip), str(tmp_path / "frames" / "a" / "%05d.png"), "--quiet", "--temporal", "0"]) == 0
    assert sorted(p.name for p in (tmp_path / "frames" / "a").iterdir()) == ["00001.png", "00002.png", "00003.png"]


def test_a_failed_picture_sequence_leaves_no_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(bytes(range(256)) * 16)
    assert main(["video", str(noise), str(tmp_path / "frames" / "a" / "%05d.png"), "--quiet"]) == 2
    assert one_error_line(capsys).startswith("stylize video: error:")
    assert not (tmp_path / "frames").exists()


def test_a_folder_is_not_stylized_into_a_picture_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((8, 8, 3), np.uint8))
    assert main(["image", str(folder), str(tmp_path / "x.png")]) == 2
    assert "OUT must be a folder" in one_error_line(capsys)
    assert not (tmp_path / "x.png").exists()


@pytest.mark.skipif(not HEADLESS, reason="this OpenCV has windows")
def test_show_with_a_headless_opencv_says_how_to_swap_it(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_video(tmp_path / "clip.mp4", frames=3)
    assert main(["webcam", "--show", "--camera", str(clip)]) == 2
    line = one_error_line(capsys)
    assert "pip uninstall -y opencv-python-headless && pip install 'opencv-python" in line
    assert "never both" in line


@pytest.mark.parametrize("client_left", [True, False], ids=["client left before", "client still connected"])
def test_serve_reports_each_client_once_when_stopped(client_left: bool, tmp_path: Path) -> None:
    from framestyle.serve.client import Client

    socket_path = tmp_path / "feed.sock"
    server = subprocess.Popen([*STYLIZE, "serve", "--unix", str(socket_path), "--style", "composition_vii"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        assert "listening on" in server.stdout.readline()
        client = Client(f"unix:{socket_path}")
        client.stylize(np.zeros((32, 48, 3), np.uint8))
        lines = [server.stdout.readline()]  # connected
        if client_left:
            client.close()
            lines.append(server.stdout.readline())  # its summary, as it leaves
            assert SUMMARY.search(lines[-1]), lines
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
        client.close()
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    lines += out.splitlines()
    assert len([line for line in lines if SUMMARY.search(line)]) == 1, lines
    assert lines[-1] == "stylize serve: stopped; 1 client served"


@pytest.mark.parametrize("typed", ["Starry_Night", "STARRY_NIGHT", "starry_night"])
def test_style_names_ignore_case(typed: str) -> None:
    assert resolve_style(typed).name == "starry_night"


def test_a_near_style_name_is_suggested_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ModelError, match=r"unknown style 'stary_nite'; did you mean starry_night\? styles: "):
        resolve_style("stary_nite")
    with pytest.raises(ModelError, match=r"unknown style 'cubism'; styles: "):
        resolve_style("cubism")
    picture = tmp_path / "a.png"
    cv2.imwrite(str(picture), np.zeros((8, 8, 3), np.uint8))
    assert main(["image", str(picture), str(tmp_path / "b.png"), "--style", "great-wave"]) == 2
    assert "did you mean great_wave?" in one_error_line(capsys)


def test_train_without_vgg_weights_names_the_command_that_makes_them(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from framestyle.cli.train import VGG_COMMAND, torchvision_works

    if torchvision_works():
        pytest.skip("torchvision works here, and gives the default VGG-16")
    painting = tmp_path / "painting.png"
    cv2.imwrite(str(painting), np.zeros((8, 8, 3), np.uint8))
    assert main(["train", "--style", str(painting), "--content", str(tmp_path), "--name", "mine", "--out",
                 str(tmp_path / "mine.onnx")]) == 2
    line = one_error_line(capsys)
    assert line.startswith("stylize train: error: no --vgg-weights given") and VGG_COMMAND in line
    assert line.endswith("and add --vgg-weights vgg16.pth")


def test_a_mistyped_option_value_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["video", "in.mp4", "out.mp4", "--strength", "abc"])
    assert stopped.value.code == 2
    assert one_error_line(capsys) == ("stylize video: error: argument --strength: invalid float value: 'abc' "
                                      "(see stylize video --help)")


def test_output_read_by_a_reader_that_stops_early_ends_quietly() -> None:
    # `true` exits without reading, long before stylize has loaded and prints
    listing = subprocess.run(f"{' '.join(STYLIZE)} styles --json | true", shell=True, capture_output=True,
                             text=True, check=False)
    assert listing.stderr == ""
