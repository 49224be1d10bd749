"""`stylize bench`: a report per size for the network, the pipeline and the network with frames in flight."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framestyle.cli import main
from framestyle.cli.bench import panning_frames

from .tiny_models import write_invert_model


def test_json_report_has_every_size_and_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    status = main(["bench", "--style", str(model), "--size", "64x48", "40x32", "--frames", "6", "--device", "cpu",
                   "--json"])
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert report["provider"] == "CPUExecutionProvider" and report["frames_in_flight"] >= 1
    assert [row["size"] for row in report["rows"]] == ["64x48", "40x32"]
    for row in report["rows"]:
        assert row["network"]["fps"] > 0 and row["pipeline"]["p95_ms"] >= row["pipeline"]["p50_ms"] > 0
        assert row["network_in_flight_fps"] > 0


def test_table_names_the_frames_in_flight(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    assert main(["bench", "--style", str(model), "--size", "64x48", "--frames", "5", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "in flight fps" in out and "64x48" in out


def test_video_times_the_whole_job_on_a_generated_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    assert main(["bench", "--style", str(model), "--size", "64x48", "--frames", "5", "--device", "cpu",
                 "--video", "--json"]) == 0
    video = json.loads(capsys.readouterr().out)["video"]
    assert video["frames"] == 12 * 24 and video["fps"] > 0 and "generated 64x48" in video["clip"]


def test_video_names_a_missing_clip_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    assert main(["bench", "--style", str(model), "--size", "64x48", "--frames", "5", "--video",
                 str(tmp_path / "nope.mp4")]) == 2
    assert "nope.mp4: no such file" in capsys.readouterr().err


def test_too_few_frames_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--frames", "2"]) == 2
    err = capsys.readouterr().err
    assert "at least 5" in err and err.count("\n") == 1


def test_panning_frames_move_two_pixels_a_frame_to_the_right() -> None:
    first, second = panning_frames(64, 48, 2)
    assert (second[:, 2:] == first[:, :-2]).all()
    assert not (second == first).all()
