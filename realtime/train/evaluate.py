"""Style and content distances of stylized photos, as training optimises them and the model cards report them."""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..grid_texture import grid_amplitudes
from ..imageio import IMAGE_SUFFIXES, read_rgb, resize_long_side
from ..media.container import open_input
from .faces import FRAME_STEP, FaceDetector, FaceSurvival
from .losses import content_distance, gram, style_layer_distances
from .vgg import CONTENT_LAYER, STYLE_LAYERS, Features, Vgg16

#: Photos and paintings are measured at this size on their long side.
EVAL_SIDE = 512


@dataclass(frozen=True)
class StyleScores:
    """Means over the photos: the output's style distance, the unstylized photo's, the ratio of the two (computed
    per photo, then averaged), the content distance of the output to the photo, the grid texture (largest grid
    amplitude over the periods, in grey levels; see :mod:`framestyle.grid_texture`) of the output and of the
    photo, and each style layer's share of the two style distances (``layers``: layer -> [output's, photo's])."""

    style_distance: float
    photo_style_distance: float
    style_ratio: float
    content_distance: float
    photos: int
    grid_amplitude: float
    photo_grid_amplitude: float
    layers: dict[str, list[float]]


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB to a (1, 3, H, W) float tensor in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0


@torch.no_grad()
def painting_grams(vgg: Vgg16, painting: np.ndarray) -> dict[str, torch.Tensor]:
    """Gram matrices of the painting at ``EVAL_SIDE`` on its long side, one (1, C, C) tensor per style layer."""
    features = vgg(to_tensor(resize_long_side(painting, EVAL_SIDE)))
    return {name: gram(getattr(features, name)) for name in STYLE_LAYERS}


@torch.no_grad()
def score_style(vgg: Vgg16, painting: np.ndarray, photos: Sequence[np.ndarray],
                stylize: Callable[[np.ndarray], np.ndarray], side: int = EVAL_SIDE) -> StyleScores:
    """Stylize each photo (at ``side`` on its long side; the painting is always at ``EVAL_SIDE``) with ``stylize``
    and measure it."""
    if not photos:
        raise ValueError("no photos to evaluate on")
    grams = painting_grams(vgg, painting)
    out_style, photo_style, content, out_grid, photo_grid = [], [], [], [], []
    out_layers, photo_layers = [], []
    for photo in photos:
        photo = resize_long_side(photo, side)
        stylized = stylize(photo)
        out_grid.append(max(grid_amplitudes(stylized).values()))
        photo_grid.append(max(grid_amplitudes(photo).values()))
        photo_features: Features = vgg(to_tensor(photo))
        output_features: Features = vgg(to_tensor(stylized))
        out_layers.append({k: float(v) for k, v in style_layer_distances(output_features, grams).items()})
        photo_layers.append({k: float(v) for k, v in style_layer_distances(photo_features, grams).items()})
        out_style.append(sum(out_layers[-1].values()))
        photo_style.append(sum(photo_layers[-1].values()))
        content.append(float(content_distance(output_features, getattr(photo_features, CONTENT_LAYER))))
    ratios = np.asarray(out_style) / np.maximum(np.asarray(photo_style), 1e-12)
    layers = {name: [float(np.mean([d[name] for d in out_layers])), float(np.mean([d[name] for d in photo_layers]))]
              for name in STYLE_LAYERS}
    return StyleScores(float(np.mean(out_style)), float(np.mean(photo_style)), float(np.mean(ratios)),
                       float(np.mean(content)), len(photos), float(np.mean(out_grid)), float(np.mean(photo_grid)),
                       layers)


def load_photos(paths: Sequence[Path]) -> list[np.ndarray]:
    """Read photos as RGB arrays."""
    return [read_rgb(path) for path in paths]


def stylized_face_pairs(style: str, source: Path, work: Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(input, output) pairs for face survival, stylized as a user would with default settings: a video runs
    through ``stylize video`` (every ``FRAME_STEP``-th frame is paired), a picture or a folder of pictures through
    ``stylize image``. ``work`` is an existing folder for the stylized files."""
    from ..cli import main

    def stylize(arguments: list[str]) -> int:
        with contextlib.redirect_stdout(io.StringIO()):  # the commands' own summary lines
            return main(arguments)

    if source.is_dir():
        pictures = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    elif source.suffix.lower() in IMAGE_SUFFIXES:
        pictures = [source]
    else:
        output = work / f"{source.stem}.{Path(style).stem}.mp4"
        if stylize(["video", str(source), str(output), "--style", style, "--quiet"]) != 0:
            raise RuntimeError(f"stylize video failed on {source}")
        with open_input(source) as before, open_input(output) as after:
            inputs, outputs = before.decode(video=0), after.decode(video=0)
            for index, (frame, stylized) in enumerate(zip(inputs, outputs, strict=True)):
                if index % FRAME_STEP == 0:
                    yield frame.to_ndarray(format="rgb24"), stylized.to_ndarray(format="rgb24")
        return
    for picture in pictures:
        output = work / f"{picture.stem}.{Path(style).stem}.png"
        if stylize(["image", str(picture), str(output), "--style", style]) != 0:
            raise RuntimeError(f"stylize image failed on {picture}")
        yield read_rgb(picture), read_rgb(output)


def face_survival_by_source(style: str, sources: Sequence[Path],
                            detector: FaceDetector | None = None) -> list[FaceSurvival]:
    """Face survival of a style on each of ``sources`` (videos, pictures, folders of pictures; see :mod:`.faces`),
    in their order."""
    detector = detector or FaceDetector()
    with tempfile.TemporaryDirectory(prefix="framestyle-faces-") as work:
        return [detector.survival(stylized_face_pairs(style, source, Path(work))) for source in sources]


def face_survival(style: str, sources: Sequence[Path], detector: FaceDetector | None = None) -> FaceSurvival:
    """Face survival of a style over all of ``sources`` together."""
    return FaceSurvival.together(face_survival_by_source(style, sources, detector))
