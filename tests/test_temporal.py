"""TemporalFilter (framestyle.temporal) on small synthetic clips with a fake, flickering "stylization"."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

import framestyle.temporal as temporal
from framestyle.catalog import resolve_style
from framestyle.errors import InputError
from framestyle.kernels.temporal_blend import temporal_blend
from framestyle.kernels.warp import warp
from framestyle.stylizer import Stylizer
from framestyle.temporal import TemporalFilter

from .tiny_models import write_invert_model

HEIGHT, WIDTH = 120, 160


def texture(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth random colour texture, (height, width, 3) uint8."""
    noise = np.random.default_rng(seed).normal(0.0, 1.0, (height // 6 + 2, width // 6 + 2, 3)).astype(np.float32)
    smooth = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(128 + 45 * smooth, 0, 255).astype(np.uint8)


def pan(seed: int, frames: int, step: int) -> list[np.ndarray]:
    """A texture moving ``step`` pixels left each frame: frame t at x is frame t-1 at x + step."""
    big = texture(HEIGHT, WIDTH + step * frames, seed)
    return [np.ascontiguousarray(big[:, step * t:step * t + WIDTH]) for t in range(frames)]


def flickering(frames: list[np.ndarray], sigma: float, seed: int = 7) -> list[np.ndarray]:
    """A fake per-frame stylization: the inverted frame plus fresh Gaussian noise on every frame."""
    rng = np.random.default_rng(seed)
    return [np.clip(255.0 - f + rng.normal(0.0, sigma, f.shape), 0, 255).astype(np.uint8) for f in frames]


def smooth(frames: list[np.ndarray], stylized: list[np.ndarray], smoother: TemporalFilter,
           motion: np.ndarray | None = None) -> list[np.ndarray]:
    return [smoother(frame, styled, motion) for frame, styled in zip(frames, stylized, strict=True)]


def mean_change(frames: list[np.ndarray]) -> float:
    return float(np.mean([cv2.absdiff(a, b).mean() for a, b in zip(frames[3:-1], frames[4:], strict=True)]))


def test_weight_zero_returns_the_stylized_frame_itself() -> None:
    frames = pan(1, 3, 2)
    stylized = flickering(frames, 10)
    smoother = TemporalFilter(weight=0.0)
    assert all(out is styled for out, styled in zip(smooth(frames, stylized, smoother), stylized, strict=True))


@pytest.mark.parametrize("kwargs", [{"weight": 1.5}, {"weight": -0.1}, {"flow_side": 8}])
def test_bad_settings_are_input_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(InputError):
        TemporalFilter(**kwargs)


def test_mismatched_frames_are_input_errors() -> None:
    frame = texture(HEIGHT, WIDTH, 1)
    with pytest.raises(InputError, match="stylized frame"):
        TemporalFilter()(frame, frame[:, :-1])
    with pytest.raises(InputError, match="motion vectors"):
        TemporalFilter()(frame, frame, np.zeros((HEIGHT, WIDTH, 3), np.float32))
    with pytest.raises(InputError, match="motion vectors"):
        TemporalFilter()(frame, frame, np.zeros((HEIGHT, WIDTH, 2), np.float64))


def test_static_noisy_sequence_flickers_much_less() -> None:
    frames = [texture(HEIGHT, WIDTH, 1)] * 12
    clean = 255 - frames[0]
    stylized = flickering(frames, 10)
    smoothed = smooth(frames, stylized, TemporalFilter())
    assert np.array_equal(smoothed[0], stylized[0])
    assert mean_change(smoothed) < 0.4 * mean_change(stylized)
    error = np.mean([cv2.absdiff(out, clean).mean() for out in smoothed[4:]])
    assert error < 0.6 * np.mean([cv2.absdiff(styled, clean).mean() for styled in stylized[4:]])


def test_first_frame_after_a_cut_is_the_plain_stylization() -> None:
    frames = pan(1, 5, 2) + pan(2, 5, 2)
    stylized = flickering(frames, 10)
    smoothed = smooth(frames, stylized, TemporalFilter())
    assert np.array_equal(smoothed[5], stylized[5])
    for index in (*range(1, 5), *range(6, 10)):  # smoothing is on everywhere else
        assert not np.array_equal(smoothed[index], stylized[index]), index


def test_reset_and_a_new_frame_size_start_afresh() -> None:
    frames = pan(1, 3, 2)
    stylized = flickering(frames, 10)
    smoother = TemporalFilter()
    smooth(frames[:2], stylized[:2], smoother)
    smoother.reset()
    assert np.array_equal(smoother(frames[2], stylized[2]), stylized[2])
    small = np.ascontiguousarray(frames[0][:64, :96])
    assert np.array_equal(smoother(small, 255 - small), 255 - small)


def test_fast_object_leaves_no_trail() -> None:
    background = texture(HEIGHT, WIDTH, 3)
    square = np.full((32, 32, 3), (250, 30, 30), np.uint8)
    frames, boxes = [], []
    for t in range(7):
        frame = background.copy()
        x = 10 + 16 * t
        frame[40:72, x:x + 32] = square
        frames.append(frame)
        boxes.append(np.s_[40:72, x:x + 32])
    stylized = flickering(frames, 3)
    smoother = TemporalFilter()
    smoothed = smooth(frames[:-1], stylized[:-1], smoother)
    last = smoother(frames[-1], stylized[-1])
    left = np.zeros((HEIGHT, WIDTH), bool)
    left[boxes[-2]] = True
    left[boxes[-1]] = False  # the strip the square just left: background again
    assert left.sum() == 32 * 16
    assert cv2.absdiff(last, stylized[-1])[left].max() <= 1
    # Without the confidence mask the previous output would leave a red-turned-cyan ghost there.
    ghost = temporal_blend(stylized[-1], smoothed[-1], np.ones((HEIGHT, WIDTH), np.float32), temporal.DEFAULT_TEMPORAL)
    assert cv2.absdiff(ghost, stylized[-1])[left].mean() > 50


def test_motion_vectors_replace_optical_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_flow(*args: object) -> None:
        raise AssertionError("optical flow must not run when motion vectors are given")

    monkeypatch.setattr(temporal, "dense_flow", no_flow)
    frames = pan(4, 10, 3)
    stylized = flickering(frames, 10)
    motion = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    motion[..., 0] = 3.0  # what is at x now was at x + 3 in the previous frame
    smoothed = smooth(frames, stylized, TemporalFilter(), motion)

    def compensated_change(video: list[np.ndarray]) -> float:
        pairs = zip(video[3:-1], video[4:], strict=True)
        return float(np.mean([cv2.absdiff(b, warp(a, motion))[:, :-4].mean() for a, b in pairs]))

    assert compensated_change(smoothed) < 0.5 * compensated_change(stylized)
    # Wrong vectors (the opposite way) mostly fail the photometric check: the output stays near the stylization.
    wrong = smooth(frames, stylized, TemporalFilter(), -motion)

    def departure(video: list[np.ndarray]) -> float:
        return float(np.mean([cv2.absdiff(out, styled).mean() for out, styled in zip(video, stylized, strict=True)]))

    assert departure(wrong) < 0.3 * departure(smoothed)


def invert_stylizer(tmp_path: Path) -> Stylizer:
    """A Stylizer with the default smoothing around a tiny model that inverts colours."""
    return Stylizer(resolve_style(str(write_invert_model(tmp_path / "invert.onnx"))), temporal=0.7)


def test_the_stylizer_smooths_on_its_worker_thread_exactly_as_the_filter_does(tmp_path: Path) -> None:
    frames = pan(seed=3, frames=6, step=2)
    stylizer = invert_stylizer(tmp_path)
    expected = smooth(frames, [stylizer.stylize_only(f) for f in frames], TemporalFilter(0.7))
    for frame, wanted in zip(frames, expected, strict=True):
        np.testing.assert_array_equal(stylizer(frame), wanted)
    with pytest.raises(InputError):
        stylizer(frames[0][:, :, :2])


@pytest.mark.parametrize("in_flight", [1, 3])
def test_stream_gives_the_frames_a_call_per_frame_gives(tmp_path: Path, in_flight: int) -> None:
    frames = pan(seed=4, frames=7, step=3)
    model = resolve_style(str(write_invert_model(tmp_path / "invert.onnx")))
    one_by_one = Stylizer(model, temporal=0.7, strength=0.8)
    expected = [one_by_one(frame) for frame in frames]
    streamed = list(Stylizer(model, temporal=0.7, strength=0.8, in_flight=in_flight).stream(iter(frames)))
    assert len(streamed) == len(frames)
    for got, wanted in zip(streamed, expected, strict=True):
        np.testing.assert_array_equal(got, wanted)


def _threads_since(before: set[threading.Thread], prefix: str) -> list[threading.Thread]:
    """The threads named ``prefix``... started since ``before`` was taken: this test's own, whatever else runs."""
    return [thread for thread in threading.enumerate() if thread not in before and thread.name.startswith(prefix)]


def test_a_stream_stopped_early_leaves_no_network_thread(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    stream = invert_stylizer(tmp_path).stream(iter(pan(seed=6, frames=8, step=2)))
    next(stream)
    network = _threads_since(before, "framestyle-network")
    assert network  # the stream runs its network on threads of its own
    stream.close()
    assert not [thread.name for thread in network if thread.is_alive()]


def test_a_dropped_stylizer_ends_its_smoothing_thread(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    stylizer = invert_stylizer(tmp_path)
    for frame in pan(seed=5, frames=2, step=2):
        stylizer(frame)
    (smoothing,) = _threads_since(before, "framestyle-temporal")
    del stylizer
    gc.collect()
    smoothing.join(timeout=30)  # it ends as soon as it sees its stylizer gone; the timeout only stops a hang
    assert not smoothing.is_alive()
