"""Large frames run the network and the smoothing at a working resolution, brought back by guided upsampling."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from framestyle.catalog import default_style
from framestyle.errors import InputError
from framestyle.kernels.upsample import GuidedUpsampler, guided_upsample
from framestyle.stylizer import Stylizer, working_side
from tests.tiny_models import write_invert_model


class RecordingEngine:
    """Stands in for a :class:`StyleEngine`: inverts the frame and records the sizes it was given."""

    def __init__(self) -> None:
        self.model = default_style()
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, frame: np.ndarray, vector: np.ndarray | None = None) -> np.ndarray:
        self.shapes.append(frame.shape)
        return 255 - frame


def scene(width: int, height: int, shift: int = 0) -> np.ndarray:
    """A smooth random scene with sharp discs, moved ``shift`` pixels to the right."""
    rng = np.random.default_rng(0)
    image = cv2.resize(rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3), dtype=np.uint8),
                       (width + 8, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(6):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(image, centre, int(rng.integers(4, max(5, height // 4))), tuple(int(c) for c in
                                                                                  rng.integers(0, 256, 3)), -1)
    return np.ascontiguousarray(image[:, 8 - shift : 8 - shift + width])


@pytest.mark.parametrize(("long_side", "max_side", "expected"), [
    (640, None, 640), (1920, None, 1920), (3840, None, 3840), (1920, 0, 1920), (1920, 640, 640), (1280, 960, 960),
    (300, 640, 300)])
def test_working_side(long_side: int, max_side: int | None, expected: int) -> None:
    assert working_side(long_side, max_side) == expected


@pytest.mark.parametrize(("width", "height", "working"), [
    (1920, 1080, (540, 960, 3)), (1281, 721, (540, 960, 3)), (721, 1281, (960, 540, 3)), (1280, 720, (540, 960, 3)),
    (640, 360, (360, 640, 3)), (20, 12, (12, 20, 3))])
def test_max_side_runs_network_and_smoothing_at_the_working_size(width: int, height: int,
                                                                 working: tuple[int, int, int]) -> None:
    engine = RecordingEngine()
    stylizer = Stylizer(engine=engine, max_side=960)  # type: ignore[arg-type]
    outputs = [stylizer(scene(width, height, shift)) for shift in (0, 2, 4)]
    assert all(out.shape == (height, width, 3) and out.dtype == np.uint8 for out in outputs)
    assert engine.shapes == [working] * 3
    assert stylizer.temporal._output is not None and stylizer.temporal._output.shape == working


def test_stream_gives_the_frames_of_calls_one_by_one() -> None:
    frames = [scene(1920, 1080, shift) for shift in (0, 2, 4, 6)]
    one_by_one = Stylizer(engine=RecordingEngine(), max_side=960)  # type: ignore[arg-type]
    streamed = Stylizer(engine=RecordingEngine(), max_side=960, in_flight=2)  # type: ignore[arg-type]
    expected = [one_by_one(frame) for frame in frames]
    for got, want in zip(streamed.stream(frames), expected, strict=True):
        assert np.array_equal(got, want)


def test_the_default_and_max_side_zero_run_at_full_resolution_and_tiny_sizes_are_refused() -> None:
    engine = RecordingEngine()
    Stylizer(engine=engine)(scene(1920, 1080))  # type: ignore[arg-type]
    Stylizer(engine=engine, max_side=0)(scene(1920, 1080))  # type: ignore[arg-type]
    assert engine.shapes == [(1080, 1920, 3)] * 2
    with pytest.raises(InputError, match="at least 16"):
        Stylizer(engine=engine, max_side=8)  # type: ignore[arg-type]


def test_engine_motion_vectors_of_the_full_frame_are_brought_to_the_working_size() -> None:
    engine = RecordingEngine()
    stylizer = Stylizer(engine=engine, max_side=960)  # type: ignore[arg-type]
    motion = np.zeros((1080, 1920, 2), np.float32)
    motion[..., 0] = -2.0
    depth = np.ones((1080, 1920), np.float32)
    first = stylizer(scene(1920, 1080), motion, depth)
    second = stylizer(scene(1920, 1080, 2), motion, depth)
    assert first.shape == second.shape == (1080, 1920, 3)
    with pytest.raises(InputError, match="motion vectors"):
        stylizer(scene(1920, 1080), np.zeros((1080, 1920, 3), np.float32))


def test_an_onnx_style_gives_full_size_frames_on_odd_and_portrait_sizes(tmp_path: Path) -> None:
    stylizer = Stylizer(str(write_invert_model(tmp_path / "invert.onnx")), max_side=960)
    for width, height in [(1283, 723), (723, 1283), (1921, 17)]:
        frame = cv2.cvtColor(cv2.cvtColor(scene(width, height), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        out = stylizer(frame)
        assert out.shape == (height, width, 3)
        # The inverting network, brought back by the guided upsampling: close to the inverted frame.
        assert np.abs(out.astype(int) - (255 - frame)).mean() < 3


def edge_energy(image: np.ndarray, edges: np.ndarray) -> float:
    """Mean gradient magnitude of ``image``'s luminance on the ``edges`` mask."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))[edges].mean())


def test_guided_upsampling_restores_edges_a_plain_resize_blurs() -> None:
    full = scene(1920, 1080)
    edges = cv2.Canny(cv2.cvtColor(full, cv2.COLOR_RGB2GRAY), 100, 200) > 0
    low = cv2.resize(full, (960, 540), interpolation=cv2.INTER_AREA)
    guided = guided_upsample(low, full)
    plain = cv2.resize(low, (1920, 1080), interpolation=cv2.INTER_LINEAR)
    assert edge_energy(guided, edges) > 1.15 * edge_energy(plain, edges)
    assert edge_energy(guided, edges) > 0.9 * edge_energy(full, edges)


def test_reused_buffers_give_the_same_frames_at_any_size_change() -> None:
    upsampler = GuidedUpsampler()
    for width, height in [(1280, 720), (1920, 1080), (1280, 720)]:
        full = scene(width, height)
        low = cv2.resize(full, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        assert np.array_equal(upsampler(low, full), guided_upsample(low, full))
    assert upsampler(full, full) is full
