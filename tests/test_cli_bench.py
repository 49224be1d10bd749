"""`stylize bench`: a report per size for the network, the pipeline and the network with frames in flight."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from framestyle.cli import bench, main
from framestyle.cli.bench import panning_frames, stream_fps, time_frames

from .tiny_models import write_invert_model


class FakeClock:
    """Stands in for ``time.perf_counter`` in the bench: time moves only when a step says it took some."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=lambda: self.now))

    def spend(self, seconds: float) -> None:
        self.now += seconds


def test_each_stage_is_summarised_over_the_frames_after_the_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, calls = FakeClock(monkeypatch), []
    frames = [np.full((2, 2, 3), index, np.uint8) for index in range(103)]

    def network(frame: np.ndarray) -> None:  # 1 s a warm-up frame, then frame i after them takes i ms
        calls.append(("network", int(frame[0, 0, 0])))
        clock.spend(1.0 if frame[0, 0, 0] < 3 else (frame[0, 0, 0] - 2) / 1000)

    def pipeline(frame: np.ndarray) -> None:  # a steady 20 ms
        calls.append(("pipeline", int(frame[0, 0, 0])))
        clock.spend(0.020)

    varied, steady = time_frames([network, pipeline], frames, warmup=3)
    # 1 to 100 ms: median 50.5 ms, 95th percentile (linear) 1 + 0.95 * 99 ms, 100 frames in 5.05 s.
    assert (varied.fps, varied.p50_ms, varied.p95_ms) == pytest.approx((100 / 5.05, 50.5, 95.05))
    assert (steady.fps, steady.p50_ms, steady.p95_ms) == pytest.approx((50.0, 20.0, 20.0))
    assert calls == [(stage, index) for index in range(103) for stage in ("network", "pipeline")]  # turn by turn


def test_frames_in_flight_are_timed_after_the_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock(monkeypatch)

    class Streaming:
        def stream(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
            for frame in frames:
                clock.spend(1.0 if frame[0, 0, 0] < 3 else 0.025)
                yield frame

    frames = [np.full((2, 2, 3), index, np.uint8) for index in range(13)]
    assert stream_fps(Streaming(), frames, warmup=3) == pytest.approx(40.0)  # 10 frames of 25 ms


def test_json_report_has_every_size_and_stage_with_consistent_figures(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    status = main(["bench", "--style", str(model), "--size", "64x48", "40x32", "--frames", "6", "--device", "cpu",
                   "--json"])
    assert status == 0
    report = json.loads(capsys.readouterr().out)
    assert report["provider"] == "CPUExecutionProvider" and report["style"] == "invert"
    assert report["frames_in_flight"] == os.cpu_count() and report["temporal"] == 0.8
    assert [row["size"] for row in report["rows"]] == ["64x48", "40x32"]
    for row in report["rows"]:
        network, pipeline = row["network"], row["pipeline"]
        assert network["p95_ms"] >= network["p50_ms"] and pipeline["p95_ms"] >= pipeline["p50_ms"]
        assert row["smoothing_added_share"] == pytest.approx((pipeline["p50_ms"] - network["p50_ms"])
                                                             / network["p50_ms"])


def test_table_names_the_frames_in_flight(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    assert main(["bench", "--style", str(model), "--size", "64x48", "--frames", "5", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "in flight fps" in out and "64x48" in out


def test_video_times_the_whole_job_against_its_ceiling_at_each_size(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    assert main(["bench", "--style", str(model), "--size", "64x48", "48x32", "--frames", "5", "--device", "cpu",
                 "--video", "--video-only", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == []
    assert [v["clip"] for v in report["video"]] == ["generated 64x48, 12 s", "generated 48x32, 12 s"]
    for video in report["video"]:
        assert video["frames"] == 12 * 24
        assert video["fps"] == pytest.approx(video["frames"] / video["seconds"])
        assert video["ceiling_fps"] > 0 and video["ratio"] == pytest.approx(video["fps"] / video["ceiling_fps"])


def test_video_table_prints_the_ceiling_and_the_ratio_per_clip(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    clip = tmp_path / "clip.mp4"
    bench.write_panning_clip(clip, 64, 48, 24)
    assert main(["bench", "--style", str(model), "--frames", "5", "--device", "cpu", "--video", str(clip),
                 "--video-only"]) == 0
    out = capsys.readouterr().out
    assert f"{clip}: 24 frames, end to end" in out and "ceiling" in out and "ratio" in out


def test_video_only_without_video_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--video-only"]) == 2
    assert "--video-only needs --video" in capsys.readouterr().err


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
