"""The pasted-motif measures (framestyle.motif) on cases with a known answer, on tiny ONNX models that paste a shape
or do not, on every bundled style, and in ``stylize evaluate-style``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from framestyle.catalog import bundled_styles, resolve_style
from framestyle.engine import EngineOptions, StyleEngine
from framestyle.imageio import read_rgb, write_image
from framestyle.motif import (
    MAX_INVENTED_STRUCTURE,
    MAX_MOTIF_AMPLITUDE,
    MOTIF_COLUMNS,
    MOTIF_SIZE,
    fit_frame,
    motif_scores,
    residual_map,
)

from .tiny_models import save_frame_model, write_invert_model

DATA = Path(__file__).parent / "data"
THUMB = Path(__file__).resolve().parent.parent / "realtime" / "live" / "static" / "thumb_source.jpg"
#: Depth in grey levels of the triangle the pasting model darkens.
DEPTH = 60.0


def _triangle(height: int, width: int) -> np.ndarray:
    """1 inside a triangle over the lower half of the frame (apex at the centre, base on the bottom edge), else 0."""
    yy, xx = np.mgrid[0:height, 0:width]
    return ((yy + 0.5) / height >= 0.5 + np.abs((xx + 0.5) / width - 0.5)).astype(np.float32)


def _noise(seed: int, scale: int = 16) -> np.ndarray:
    """A smooth random colour picture at the measuring size."""
    width, height = MOTIF_SIZE
    coarse = np.random.default_rng(seed).normal(0, 1, (height // scale, width // scale, 3)).astype(np.float32)
    return np.clip(128 + 50 * cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC), 0, 255).astype(
        np.uint8)


def _pictures() -> list[np.ndarray]:
    """Five unrelated photos that ship with the tests and the live page, a flat grey and a noise picture."""
    photos = [read_rgb(DATA / name) for name in ("grace_hopper_200.jpg", "cameraman_384.jpg", "astronaut_320.jpg",
                                                  "coffee_360.jpg")]
    width, height = MOTIF_SIZE
    return [*photos, read_rgb(THUMB), np.full((height, width, 3), 128, np.uint8), _noise(0)]


def _paste(picture: np.ndarray) -> np.ndarray:
    """The frame darkened by ``DEPTH`` levels inside the triangle, whatever it shows."""
    mask = _triangle(*picture.shape[:2])[..., None]
    return np.clip(np.rint(picture - DEPTH * mask), 0, 255).astype(np.uint8)


def _triangle_rms() -> float:
    """The RMS over the measuring grid of the pasted triangle, its mean taken out (the prediction's intercept)."""
    width, height = MOTIF_SIZE
    rows = round(MOTIF_COLUMNS * height / width)
    cells = cv2.resize(DEPTH * _triangle(height, width), (MOTIF_COLUMNS, rows), interpolation=cv2.INTER_AREA)
    return float(cells.std())


def test_styles_that_only_change_tone_and_colour_draw_nothing() -> None:
    def grade(picture: np.ndarray) -> np.ndarray:  # a gamma curve and a channel mix, per pixel
        toned = 255 * (picture / 255.0) ** 0.7
        return np.clip(toned @ np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.0, 0.3, 0.9]]), 0, 255).astype(np.uint8)

    for stylize in (lambda picture: picture, grade):
        scores = motif_scores(_pictures(), stylize)
        assert scores.pictures == 7
        assert scores.motif_amplitude < 0.5 and scores.invented_structure < 1.0


def test_a_shape_pasted_on_flat_pictures_measures_at_its_rms() -> None:
    width, height = MOTIF_SIZE
    flats = [np.full((height, width, 3), level, np.uint8) for level in (90, 150, 210)]
    scores = motif_scores(flats, _paste)
    assert scores.motif_amplitude == pytest.approx(_triangle_rms(), rel=0.01)
    assert scores.invented_structure == pytest.approx(_triangle_rms(), rel=0.01)


def test_a_shape_pasted_on_photos_fails_the_motif_limit() -> None:
    scores = motif_scores(_pictures(), _paste)
    assert scores.motif_amplitude > 2 * MAX_MOTIF_AMPLITUDE
    assert scores.invented_structure > MAX_INVENTED_STRUCTURE


def test_shapes_drawn_at_other_places_in_each_picture_are_invented_but_no_motif() -> None:
    def blobs(picture: np.ndarray) -> np.ndarray:
        # Dark discs whose places depend on the picture: large structure, but never twice at the same place.
        seed = int(picture.astype(np.int64).sum()) % 2**32
        rng = np.random.default_rng(seed)
        out = picture.astype(np.float32)
        for _ in range(6):
            mask = np.zeros(picture.shape[:2], np.float32)
            cv2.circle(mask, (int(rng.integers(0, picture.shape[1])), int(rng.integers(0, picture.shape[0]))), 60, 1.0,
                       -1)
            out -= DEPTH * mask[..., None]
        return np.clip(out, 0, 255).astype(np.uint8)

    scores = motif_scores(_pictures(), blobs)
    assert scores.invented_structure > MAX_INVENTED_STRUCTURE
    assert scores.motif_amplitude < MAX_MOTIF_AMPLITUDE


def test_pictures_are_cropped_to_the_frame_at_their_centre() -> None:
    picture = np.zeros((400, 400, 3), np.uint8)
    picture[:, 200:] = 255  # left half black, right half white: the centre crop keeps both halves
    frame = fit_frame(picture, (160, 90))
    assert frame.shape == (90, 160, 3)
    assert frame[:, :78].max() == 0 and frame[:, 82:].min() == 255


def test_unusable_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 pictures"):
        motif_scores([_noise(0)], lambda picture: picture)
    with pytest.raises(ValueError, match="of one size"):
        residual_map(_noise(0), _noise(0)[:-1])


def _write_paste_model(path: Path) -> Path:
    """A model with the style networks' I/O that darkens a fixed triangle (``_triangle`` at 64x64, resized to the
    frame by nearest neighbour) by ``DEPTH`` levels: a motif pasted at the same place whatever the content."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    constants = {"motif": (DEPTH * _triangle(64, 64))[None, :, :, None], "start": np.array([0], np.int64),
                 "stop": np.array([3], np.int64), "one": np.array([1], np.int64), "low": np.array(0, np.float32),
                 "high": np.array(255, np.float32)}
    return save_frame_model(path, "paste", [
        helper.make_node("Cast", ["frame"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Shape", ["frame"], ["shape"]),
        helper.make_node("Slice", ["shape", "start", "stop"], ["nhw"]),
        helper.make_node("Concat", ["nhw", "one"], ["sizes"], axis=0),
        helper.make_node("Resize", ["motif", "", "", "sizes"], ["pasted"], mode="nearest"),
        helper.make_node("Sub", ["f", "pasted"], ["darker"]),
        helper.make_node("Clip", ["darker", "low", "high"], ["clipped"]),
        helper.make_node("Cast", ["clipped"], ["stylized"], to=TensorProto.UINT8),
    ], [numpy_helper.from_array(value, name) for name, value in constants.items()])


def _engine(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    return StyleEngine(resolve_style(str(path)), EngineOptions(device="cpu"))


def test_a_tiny_model_that_pastes_a_shape_fails_and_one_that_does_not_passes(tmp_path: Path) -> None:
    pasting = motif_scores(_pictures(), _engine(_write_paste_model(tmp_path / "paste.onnx")))
    assert pasting.motif_amplitude > 2 * MAX_MOTIF_AMPLITUDE
    width, height = MOTIF_SIZE
    flats = [np.full((height, width, 3), level, np.uint8) for level in (90, 150, 210)]
    assert motif_scores(flats, _engine(tmp_path / "paste.onnx")).motif_amplitude == pytest.approx(_triangle_rms(),
                                                                                                   rel=0.02)
    inverting = motif_scores(_pictures(), _engine(write_invert_model(tmp_path / "invert.onnx")))
    assert inverting.motif_amplitude < 0.5 and inverting.invented_structure < 1.0


STYLES = [style.name for style in bundled_styles()]


@pytest.mark.parametrize("name", STYLES)
def test_no_bundled_style_pastes_a_motif_at_a_fixed_place(name: str) -> None:
    scores = motif_scores(_pictures(), StyleEngine(resolve_style(name), EngineOptions(device="cpu")))
    assert scores.motif_amplitude <= MAX_MOTIF_AMPLITUDE


@pytest.mark.parametrize("name", STYLES)
def test_no_bundled_style_invents_large_structure(name: str) -> None:
    scores = motif_scores(_pictures(), StyleEngine(resolve_style(name), EngineOptions(device="cpu")))
    assert scores.invented_structure <= MAX_INVENTED_STRUCTURE


@pytest.mark.slow
def test_evaluate_style_reports_the_motif_of_a_pasting_model(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    from framestyle.cli import main
    from framestyle.train.vgg import Vgg16

    torch.manual_seed(0)
    vgg = tmp_path / "vgg.pth"
    torch.save(Vgg16().features.state_dict(), vgg)
    painting = tmp_path / "painting.png"
    write_image(painting, _noise(1))
    photos = [str(DATA / name) for name in ("grace_hopper_200.jpg", "cameraman_384.jpg", "coffee_360.jpg")]
    model = _write_paste_model(tmp_path / "paste.onnx")
    common = [*photos, "--style", str(model), "--painting", str(painting), "--vgg-weights", str(vgg)]
    assert main(["evaluate-style", *common, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = motif_scores([read_rgb(Path(photo)) for photo in photos], _engine(model))
    assert report["motif"] == {"motif_amplitude": pytest.approx(expected.motif_amplitude),
                               "invented_structure": pytest.approx(expected.invented_structure), "pictures": 3}
    assert report["motif"]["motif_amplitude"] > MAX_MOTIF_AMPLITUDE
    assert main(["evaluate-style", *common]) == 0
    assert f"pasted motif {expected.motif_amplitude:.1f} grey levels at a fixed place" in capsys.readouterr().out


def test_the_training_loss_measures_invented_structure_as_the_motif_measure_does() -> None:
    torch = pytest.importorskip("torch")
    from framestyle.train.losses import invented_structure

    rng = np.random.default_rng(3)
    photo = cv2.resize(rng.integers(0, 256, (8, 8, 3)).astype(np.uint8), (192, 192), interpolation=cv2.INTER_CUBIC)
    grey = np.repeat(photo.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)  # collinear colour features
    graded = np.clip(photo * 0.8 + 30, 0, 255).astype(np.uint8)  # explained by the colour: nothing invented
    slab = np.clip(graded + 50.0 * (np.arange(192)[None, :, None] > 96), 0, 255).astype(np.uint8)

    def tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255

    for source, stylized in ((photo, graded), (photo, slab), (grey, slab)):
        expected = float(np.sqrt((residual_map(source, stylized, columns=6) ** 2).mean()))
        assert invented_structure(tensor(source), tensor(stylized)).item() == pytest.approx(expected, abs=1e-3)
    assert invented_structure(tensor(photo), tensor(graded)).item() < 0.5 < 10 < invented_structure(
        tensor(photo), tensor(slab)).item()
    output = tensor(slab).requires_grad_()
    invented_structure(tensor(photo), output).sum().backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
