"""``stylize video``: end to end with a stand-in model, and one clear line for every bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from framestyle.cli import main

from .media_samples import (
    QUADRANTS,
    cut_in_half,
    make_silent_video_stream,
    make_video,
    probe,
    quadrant_colours,
    quadrant_picture,
)
from .tiny_models import write_invert_model


@pytest.fixture
def model(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    return write_invert_model(tmp_path / "models" / "invert.onnx")


def levels(images: list[np.ndarray]) -> list[int]:
    return [round(float(image.mean())) for image in images]


@pytest.mark.parametrize(("output_name", "audio"), [("out.mp4", "aac"), ("out.webm", "opus")])
def test_a_video_is_stylized_with_its_sound_and_length(tmp_path: Path, model: Path, output_name: str, audio: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    source = make_video(tmp_path / "in.mp4", frames=10, fps=10, audio="aac")
    output = tmp_path / output_name
    assert main(["video", str(source), str(output), "--style", str(model), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "10 frames" in captured.out and "frames/s end to end" in captured.out
    assert captured.err == ""
    before, after = probe(source), probe(output)
    assert (after["width"], after["height"]) == (64, 48)
    # Inverted, in order (the default temporal smoothing lets later levels lag a little behind).
    assert levels(after["images"])[0] == pytest.approx(255 - levels(before["images"])[0], abs=3)
    assert levels(after["images"]) == sorted(levels(after["images"]), reverse=True)
    assert [codec for codec, _ in after["audio"]] == [audio]
    assert after["times"] == pytest.approx(before["times"], abs=0.001)
    assert after["audio_ends"][0] == pytest.approx(before["audio_ends"][0], abs=0.1)
    assert sorted(os.listdir(tmp_path)) == sorted(["in.mp4", output_name, "models"])


def test_odd_sizes_come_out_at_the_same_size_with_a_note(tmp_path: Path, model: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    source = make_video(tmp_path / "odd.mkv", size=(63, 37), frames=3)
    assert main(["video", str(source), str(tmp_path / "out.mp4"), "--style", str(model)]) == 0
    assert "note:" in capsys.readouterr().err
    after = probe(tmp_path / "out.mp4")
    assert (after["width"], after["height"], len(after["images"])) == (63, 37, 3)


def test_a_rotated_phone_video_comes_out_upright(tmp_path: Path, model: Path) -> None:
    stored = np.ascontiguousarray(np.rot90(quadrant_picture(64, 48), -1))  # shown turned 90 degrees back
    source = make_video(tmp_path / "phone.mp4", size=(48, 64), frames=3, rotation=90, picture=lambda w, h, i: stored)
    assert main(["video", str(source), str(tmp_path / "out.mp4"), "--style", str(model), "--quiet"]) == 0
    after = probe(tmp_path / "out.mp4")
    assert (after["width"], after["height"]) == (64, 48)
    assert quadrant_colours(255 - after["images"][0]) == QUADRANTS


def test_an_image_sequence_output(tmp_path: Path, model: Path) -> None:
    source = make_video(tmp_path / "in.mp4", frames=4)
    (tmp_path / "frames").mkdir()
    assert main(["video", str(source), str(tmp_path / "frames" / "%04d.png"), "--style", str(model), "--quiet"]) == 0
    assert sorted(os.listdir(tmp_path / "frames")) == ["0001.png", "0002.png", "0003.png", "0004.png"]


def test_keep_partial_writes_what_came_before_the_break(tmp_path: Path, model: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (20, 48, 64, 3), dtype=np.uint8)
    cut = cut_in_half(make_video(tmp_path / "in.mkv", frames=20, picture=lambda w, h, i: noise[i]), "cut.mkv")
    output = tmp_path / "out.mp4"
    assert main(["video", str(cut), str(output), "--style", str(model), "--keep-partial", "--quiet"]) == 0
    assert "breaks off after" in capsys.readouterr().err
    assert 0 < len(probe(output)["images"]) < 20


def bad_cases(tmp_path: Path, model: Path) -> dict[str, tuple[list[str], str]]:
    """Each bad run: its arguments and what the error line says."""
    good = make_video(tmp_path / "good.mp4", frames=6)
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n" * 40)
    noise = np.random.default_rng(2).integers(0, 256, (20, 48, 64, 3), dtype=np.uint8)
    broken = cut_in_half(make_video(tmp_path / "long.mkv", frames=20, picture=lambda w, h, i: noise[i]), "cut.mkv")
    out = str(tmp_path / "out.mp4")
    style = ["--style", str(model)]
    return {
        "missing": ([str(tmp_path / "nope.mp4"), out, *style], "no such file"),
        "not a video": ([str(notes), out, *style], "not a video file"),
        "cut mp4": ([str(cut_in_half(good, "half.mp4")), out, *style], "cut short"),
        "cut mkv": ([str(broken), out, *style], "breaks off after"),
        "no frames": ([str(make_silent_video_stream(tmp_path / "silent.mkv")), out, *style], "no frames"),
        "unknown style": ([str(good), out, "--style", "no_such_style"], "unknown style"),
        "missing model": ([str(good), out, "--style", str(tmp_path / "gone.onnx")], "no such model file"),
        "bad strength": ([str(good), out, *style, "--strength", "2"], "strength must be between 0 and 1"),
        "missing folder": ([str(good), str(tmp_path / "nowhere" / "out.mp4"), *style], "no such folder"),
        "out is in": ([str(good), str(good), *style], "this is the input file"),
        "bad type": ([str(good), str(tmp_path / "out.avi"), *style], "unsupported output type"),
        "bad preset": ([str(good), out, *style, "--preset", "warp9"], "unknown --preset"),
    }


@pytest.mark.parametrize("case", ["missing", "not a video", "cut mp4", "cut mkv", "no frames", "unknown style",
                                  "missing model", "bad strength", "missing folder", "out is in", "bad type",
                                  "bad preset"])
def test_bad_input_gets_one_clear_line_and_leaves_no_output(tmp_path: Path, model: Path, case: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    args, message = bad_cases(tmp_path, model)[case]
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path) if (tmp_path / name).is_file()}
    assert main(["video", *args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stylize video: error: ") and err.count("\n") == 1, err
    assert message in err
    after = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path) if (tmp_path / name).is_file()}
    assert after == before  # no output, no temporary file, every input untouched


def test_python_dash_m_runs_the_command(tmp_path: Path, model: Path) -> None:
    source = make_video(tmp_path / "in.mp4", frames=5, audio="aac")
    output = tmp_path / "out.mkv"
    result = subprocess.run([sys.executable, "-m", "framestyle", "video", str(source), str(output), "--style",
                             str(model), "--threads", "1"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "frames/s end to end" in result.stdout
    assert len(probe(output)["images"]) == 5
