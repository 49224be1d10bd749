"""``stylize image``: one picture or a folder, alpha and grey kept, inputs never overwritten."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from framestyle.cli import main
from framestyle.imageio import read_image, write_image

from .tiny_models import write_invert_model


@pytest.fixture
def model(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    return write_invert_model(tmp_path / "models" / "invert.onnx")


def picture(channels: int, seed: int = 0) -> np.ndarray:
    shape = (37, 53) if channels == 1 else (37, 53, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def forged_png(width: int, height: int) -> bytes:
    """A valid PNG of a few bytes whose header claims ``width`` x ``height`` RGB pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 8)) + chunk(b"IEND", b"")


def forged_jpeg(width: int, height: int) -> bytes:
    """An 8x8 JPEG whose start-of-frame header is changed to claim ``width`` x ``height`` pixels."""
    data = bytearray(cv2.imencode(".jpg", picture(3)[:8, :8])[1].tobytes())
    start_of_frame = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, start_of_frame + 5, height, width)
    return bytes(data)


def test_one_picture(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = picture(3)
    write_image(tmp_path / "in.png", original)
    assert main(["image", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--style", str(model)]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "out.png"), 255 - original)
    assert str(tmp_path / "out.png") in capsys.readouterr().out


def test_alpha_is_put_back_and_grey_stays_grey(tmp_path: Path, model: Path) -> None:
    rgba, grey = picture(4, 1), picture(1, 2)
    write_image(tmp_path / "rgba.png", rgba)
    write_image(tmp_path / "grey.png", grey)
    assert main(["image", str(tmp_path / "rgba.png"), str(tmp_path / "rgba-out.png"), "--style", str(model)]) == 0
    assert main(["image", str(tmp_path / "grey.png"), str(tmp_path / "grey-out.png"), "--style", str(model)]) == 0
    out_rgba, out_grey = read_image(tmp_path / "rgba-out.png"), read_image(tmp_path / "grey-out.png")
    assert out_rgba.shape == rgba.shape and out_grey.shape == grey.shape
    np.testing.assert_array_equal(out_rgba[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(out_rgba[..., :3], 255 - rgba[..., :3])
    assert np.abs(out_grey.astype(int) - (255 - grey.astype(int))).max() <= 1


def test_an_existing_folder_as_output_takes_the_input_name(tmp_path: Path, model: Path) -> None:
    write_image(tmp_path / "in.jpg", picture(3))
    (tmp_path / "results").mkdir()
    assert main(["image", str(tmp_path / "in.jpg"), str(tmp_path / "results"), "--style", str(model)]) == 0
    assert os.listdir(tmp_path / "results") == ["in.jpg"]


def test_a_folder_of_pictures_into_another_folder(tmp_path: Path, model: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    pictures = {"a.png": picture(3, 3), "b.png": picture(4, 4), "c.png": picture(1, 5)}
    for name, image in pictures.items():
        write_image(inputs / name, image)
    (inputs / "broken.png").write_bytes(b"not a picture")
    (inputs / "notes.txt").write_text("ignored")
    before = {name: (inputs / name).read_bytes() for name in os.listdir(inputs)}
    assert main(["image", str(inputs), str(tmp_path / "out"), "--style", str(model)]) == 2  # one was skipped
    captured = capsys.readouterr()
    assert "3 pictures written, 1 skipped" in captured.out
    assert "skipped:" in captured.err and "broken.png" in captured.err
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "b.png", "c.png"]
    for name, image in pictures.items():  # each stylized alone: no smoothing from one picture to the next
        out = read_image(tmp_path / "out" / name).astype(int)
        expected = 255 - image.astype(int)
        if image.ndim == 3 and image.shape[2] == 4:
            expected[..., 3] = image[..., 3]
        assert np.abs(out - expected).max() <= 1, name
    assert {name: (inputs / name).read_bytes() for name in os.listdir(inputs)} == before


def test_a_folder_run_names_the_picture_with_a_huge_header_and_writes_the_others(
        tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_image(inputs / "a.png", picture(3))
    (inputs / "huge.png").write_bytes(forged_png(60000, 60000))
    assert main(["image", str(inputs), str(tmp_path / "out"), "--style", str(model)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "huge.png: the header declares 60000x60000 pixels" in captured.err
    assert "1 pictures written, 1 skipped" in captured.out
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png"]


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "no such file"),
    ("not a picture", "not an image"),
    ("same file", "this is the input picture"),
    ("same folder", "this is the input folder"),
    ("empty folder", "no pictures here"),
    ("bad suffix", "not a picture name"),
    ("unknown style", "unknown style"),
    ("missing folder", "no such folder (create it first)"),
    ("huge png header", "huge.png: the header declares 60000x60000 pixels, over the limit of 16384 pixels a side"),
    ("huge jpeg header", "huge.jpg: the header declares 12000x12000 pixels, over the limit of 16384 pixels a side "
                         "and 134,217,728 pixels in all"),
])
def test_bad_input_gets_one_clear_line_and_overwrites_nothing(tmp_path: Path, model: Path, case: str, message: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    write_image(tmp_path / "in.png", picture(3))
    (tmp_path / "notes.png").write_text("text")
    (tmp_path / "pictures").mkdir()
    write_image(tmp_path / "pictures" / "p.png", picture(3))
    (tmp_path / "empty").mkdir()
    (tmp_path / "huge.png").write_bytes(forged_png(60000, 60000))
    (tmp_path / "huge.jpg").write_bytes(forged_jpeg(12000, 12000))
    args = {
        "missing": [str(tmp_path / "nope.png"), str(tmp_path / "out.png")],
        "not a picture": [str(tmp_path / "notes.png"), str(tmp_path / "out.png")],
        "same file": [str(tmp_path / "in.png"), str(tmp_path / "." / "in.png")],
        "same folder": [str(tmp_path / "pictures"), str(tmp_path / "pictures")],
        "empty folder": [str(tmp_path / "empty"), str(tmp_path / "out")],
        "bad suffix": [str(tmp_path / "in.png"), str(tmp_path / "out.txt")],
        "unknown style": [str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--style", "no_such_style"],
        "missing folder": [str(tmp_path / "in.png"), str(tmp_path / "nowhere" / "out.png")],
        "huge png header": [str(tmp_path / "huge.png"), str(tmp_path / "out.png")],
        "huge jpeg header": [str(tmp_path / "huge.jpg"), str(tmp_path / "out.png")],
    }[case]
    style = [] if "--style" in args else ["--style", str(model)]
    snapshot = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    assert main(["image", *args, *style]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stylize image: error: ") and err.count("\n") == 1, err
    assert message in err
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == snapshot


def test_a_jpeg_output_of_a_picture_with_alpha_drops_the_alpha(tmp_path: Path, model: Path) -> None:
    write_image(tmp_path / "in.png", picture(4))
    assert main(["image", str(tmp_path / "in.png"), str(tmp_path / "out.jpg"), "--style", str(model)]) == 0
    assert cv2.imread(str(tmp_path / "out.jpg")).shape == (37, 53, 3)
