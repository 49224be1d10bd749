"""The warping error of Lai et al. (framestyle.flicker) and the ``stylize flicker`` command, on synthetic videos."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from framestyle.cli import main
from framestyle.errors import InputError
from framestyle.flicker import warping_error

from .media_samples import make_video
from .tiny_models import write_invert_model

HEIGHT, WIDTH = 72, 96


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random colour texture, (height, width, 3) uint8."""
    noise = np.random.default_rng(seed).normal(0.0, 1.0, (height // 6 + 2, width // 6 + 2, 3)).astype(np.float32)
    smooth = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(128 + 45 * smooth, 0, 255).astype(np.uint8)


def pan(frames: int, step: int = 2, width: int = WIDTH) -> list[np.ndarray]:
    """A texture moving ``step`` pixels left each frame."""
    big = texture(HEIGHT, width + step * frames)
    return [np.ascontiguousarray(big[:, step * t:step * t + width]) for t in range(frames)]


def with_noise(frames: list[np.ndarray], sigma: float) -> list[np.ndarray]:
    """Frames plus fresh Gaussian noise of ``sigma`` (on the [0, 1] scale) on each frame."""
    rng = np.random.default_rng(5)
    return [np.clip(np.rint(f + rng.normal(0.0, 255 * sigma, f.shape)), 0, 255).astype(np.uint8) for f in frames]


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    """A lossless (FFV1) video of RGB frames."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_a_moving_texture_has_about_zero_error() -> None:
    frames = pan(6)
    report = warping_error(frames, frames)
    assert report.pairs == 5
    assert report.output_error == report.input_error < 1e-4


def test_per_frame_noise_adds_six_sigma_squared() -> None:
    sigma = 0.03
    frames = pan(6)
    report = warping_error(frames, with_noise(frames, sigma))
    # Noise of variance σ² in each of three channels of both frames of a pair: 2·3·σ² per compared pixel.
    assert report.output_error - report.input_error == pytest.approx(6 * sigma**2, rel=0.05)


def test_a_stylization_that_is_its_input_has_ratio_one_and_added_noise_raises_it() -> None:
    frames = pan(6)
    assert warping_error(frames, frames).ratio == 1.0
    report = warping_error(frames, with_noise(frames, 0.01))
    # Noise of σ = 0.01 adds 6σ² = 6e-4 per compared pixel to an input error of about 1e-5.
    assert report.ratio == report.output_error / report.input_error > 10


def stretched(frames: list[np.ndarray], gain: float) -> list[np.ndarray]:
    """Frames with their contrast around mid-grey multiplied by ``gain``: a steady change, pixel by pixel."""
    return [np.clip(np.rint((f.astype(np.float32) - 128) * gain + 128), 0, 255).astype(np.uint8) for f in frames]


def test_steady_contrast_raises_the_ratio_but_not_the_texture_normalised_ratio() -> None:
    frames = pan(6, step=3)
    flickering = warping_error(frames, with_noise(frames, 0.01))
    report = warping_error(frames, stretched(frames, 1.5))
    # A sub-pixel misalignment costs in proportion to the squared gradient: about 1.5² = 2.25 times the input's.
    assert report.ratio is not None and report.ratio > 1.8
    assert report.output_gradient == pytest.approx(2.25 * report.input_gradient, rel=0.05)
    assert report.normalised_ratio == pytest.approx(1.0, abs=0.1)
    # Flicker still shows per unit of gradient energy: fresh noise adds error far beyond the gradient it adds.
    assert flickering.normalised_ratio is not None and flickering.normalised_ratio > 3
    assert warping_error(frames, frames).normalised_ratio == 1.0


def test_a_still_video_has_no_ratio() -> None:
    still = [texture(HEIGHT, WIDTH)] * 4
    report = warping_error(still, with_noise(still, 0.01))
    assert report.input_error == 0 and report.output_error > 0 and report.ratio is None


def test_generators_are_read_once_and_match_lists() -> None:
    frames = pan(4)
    noisy = with_noise(frames, 0.02)
    assert warping_error(iter(frames), (f for f in noisy)) == warping_error(frames, noisy)


@pytest.mark.parametrize(("inputs", "outputs", "message"), [
    (pan(3), pan(4), "different frame counts: 3 input frames, 4 stylized frames"),
    (pan(4), pan(2), "different frame counts: 4 input frames, 2 stylized frames"),
    (pan(3), pan(3, width=80), "frame sizes differ: input 96x72, stylized 80x72"),
    (pan(1), pan(1), "at least 2 frames, got 1"),
    ([], [], "at least 2 frames, got 0"),
    ([f[..., 0] for f in pan(2)], pan(2), "input frame 1 is not"),
    ([np.zeros((8, 8, 3), np.uint8)] * 2, [np.zeros((8, 8, 3), np.uint8)] * 2, "too small for optical flow"),
])
def test_unusable_frames_are_input_errors(inputs: list[np.ndarray], outputs: list[np.ndarray], message: str) -> None:
    with pytest.raises(InputError, match=message):
        warping_error(inputs, outputs)


def test_cli_prints_json_equal_to_the_in_memory_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = pan(5)
    noisy = with_noise(frames, 0.02)
    source, styled = write_video(tmp_path / "in.mkv", frames), write_video(tmp_path / "out.mkv", noisy)
    assert main(["flicker", str(source), str(styled), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = warping_error(frames, noisy)
    assert data == {"input": str(source), "stylized": str(styled), "pairs": 4,
                    "warping_error": pytest.approx(expected.output_error, rel=1e-5),
                    "input_warping_error": pytest.approx(expected.input_error, rel=1e-5, abs=1e-12),
                    "warping_error_ratio": pytest.approx(expected.ratio, rel=1e-5),
                    "gradient_energy": pytest.approx(expected.output_gradient, rel=1e-5),
                    "input_gradient_energy": pytest.approx(expected.input_gradient, rel=1e-5),
                    "texture_normalised_ratio": pytest.approx(expected.normalised_ratio, rel=1e-5)}
    assert data["warping_error_ratio"] > 10
    assert main(["flicker", str(source), str(styled), "--max-frames", "3"]) == 0
    text = capsys.readouterr().out
    three = warping_error(frames[:3], noisy[:3])
    assert "(stylized)" in text and "(input, the floor)" in text and "over 2 frame pairs" in text
    assert f", {three.ratio:.3g}x the input's, " in text
    assert f"; per unit of gradient energy {three.normalised_ratio:.3g}x" in text


def test_cli_reports_ratio_one_for_a_copy_and_none_for_a_still_video(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    moving = write_video(tmp_path / "moving.mkv", pan(4))
    assert main(["flicker", str(moving), str(moving), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warping_error_ratio"] == 1.0
    still = [texture(HEIGHT, WIDTH)] * 4
    source, styled = write_video(tmp_path / "still.mkv", still), write_video(tmp_path / "noisy.mkv",
                                                                                with_noise(still, 0.01))
    assert main(["flicker", str(source), str(styled), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["warping_error_ratio"] is None and data["texture_normalised_ratio"] is None
    assert main(["flicker", str(source), str(styled)]) == 0
    assert "no ratio: the input does not change" in capsys.readouterr().out


def test_cli_reports_unusable_videos_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    four, five = write_video(tmp_path / "four.mkv", pan(4)), write_video(tmp_path / "five.mkv", pan(5))
    narrow = write_video(tmp_path / "narrow.mkv", pan(4, width=80))
    single = write_video(tmp_path / "single.mkv", pan(1))
    cases = [
        ([str(tmp_path / "missing.mkv"), str(four)], "missing.mkv: no such file"),
        ([str(four), str(five)], "different frame counts: 4 input frames, 5 stylized frames"),
        ([str(four), str(narrow)], "frame sizes differ: input 96x72, stylized 80x72"),
        ([str(single), str(single)], "at least 2 frames, got 1"),
        ([str(four), str(four), "--max-frames", "1"], "--max-frames must be at least 2"),
    ]
    for argv, message in cases:
        assert main(["flicker", *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("stylize flicker: error: ") and message in err, err


@pytest.mark.parametrize("rotation", [90, 270])
def test_cli_reads_a_rotated_phone_clip_upright_like_its_stylized_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], rotation: int) -> None:
    # The file stores each frame turned back, with a display matrix that turns it upright; `stylize video` writes
    # the upright frames, so the measure must see the input upright too.
    upright = pan(6)
    stored = [np.ascontiguousarray(np.rot90(frame, -rotation // 90)) for frame in upright]
    clip = make_video(tmp_path / "phone.mp4", size=(HEIGHT, WIDTH), frames=6, rotation=rotation,
                      picture=lambda width, height, index: stored[index])
    model = write_invert_model(tmp_path / "invert.onnx")
    styled = tmp_path / "styled.mp4"
    assert main(["video", str(clip), str(styled), "--style", str(model), "--temporal", "0", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["flicker", str(clip), str(styled), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pairs"] == 5
    # An inverted video changes from frame to frame exactly as much as its input: 1 - a against 1 - W(b).
    assert data["warping_error"] == pytest.approx(data["input_warping_error"], rel=0.5)
