"""Measures of shapes a style draws that the picture does not have: a motif pasted at the same place whatever the
content, and large structure invented wherever it lands.

Each picture is cropped to the measuring frame's aspect at its centre, resized to it (``MOTIF_SIZE``, 640x360, area
interpolation when shrinking) and stylized. The output's luminance is averaged over a coarse grid of cells (16
across, 40-pixel squares at 640x360), and so are the input's per-pixel colour features (1, R, G, B, R², G², B²);
per picture, least squares predicts the output's cells from the input's (so a tone curve or colour grade the style
applies pixel by pixel is predicted, exactly when it is quadratic in each channel). The residual r_i (grey levels,
0 to 255) is what the style draws at the scale of a cell that the colour there does not explain.

- **Motif amplitude**: the mean over picture pairs i ≠ j of the cell mean of r_i · r_j, square-rooted (0 when
  negative): the RMS of the structure the outputs share at the same place, in grey levels. Structures that differ
  from picture to picture average out of it; a shape pasted into every output stays.
- **Invented structure**: the median over the pictures of the RMS of r_i: large shapes the content does not
  explain, wherever they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: Width and height the pictures are stylized at: a video frame's shape.
MOTIF_SIZE = (640, 360)
#: Cells across the measuring frame; rows keep them square.
MOTIF_COLUMNS = 16
#: Limits for a style, in grey levels (see docs/style_quality.md, "Pasted motifs").
MAX_MOTIF_AMPLITUDE = 5.0
MAX_INVENTED_STRUCTURE = 9.0

_LUMA = np.array([0.299, 0.587, 0.114], np.float64)


@dataclass(frozen=True)
class MotifScores:
    """Motif amplitude and invented structure in grey levels, over ``pictures`` pictures."""

    motif_amplitude: float
    invented_structure: float
    pictures: int


def fit_frame(picture: np.ndarray, size: tuple[int, int] = MOTIF_SIZE) -> np.ndarray:
    """An (H, W, 3) uint8 picture scaled to cover ``size`` (width, height) and cropped to it at its centre."""
    width, height = size
    h, w = picture.shape[:2]
    scale = max(width / w, height / h)
    scaled_w, scaled_h = max(width, round(w * scale)), max(height, round(h * scale))
    shrink = scaled_w * scaled_h < w * h
    scaled = cv2.resize(picture, (scaled_w, scaled_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    top, left = (scaled_h - height) // 2, (scaled_w - width) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])


def residual_map(picture: np.ndarray, stylized: np.ndarray, columns: int = MOTIF_COLUMNS) -> np.ndarray:
    """The stylized luminance over a grid of ``columns`` square cells across, minus its least-squares prediction
    from the picture's colour features in the same cells (see the module's docstring); (rows, columns) float64
    grey levels."""
    if picture.shape != stylized.shape or picture.ndim != 3 or picture.shape[2] != 3:
        raise ValueError(f"a picture and its stylized output must be (H, W, 3) of one size: {picture.shape}, "
                         f"{stylized.shape}")
    height, width = picture.shape[:2]
    rows = max(1, round(columns * height / width))
    colour = picture.astype(np.float32) * np.float32(1 / 255)
    features = _cells(np.concatenate([colour, colour**2], axis=2), columns, rows).reshape(rows * columns, 6)
    predictors = np.column_stack([np.ones(rows * columns), features])
    luma = _cells(stylized.astype(np.float32), columns, rows) @ _LUMA
    coefficients, *_ = np.linalg.lstsq(predictors, luma.ravel(), rcond=None)
    return luma - (predictors @ coefficients).reshape(rows, columns)


def motif_scores(pictures: Sequence[np.ndarray], stylize: Callable[[np.ndarray], np.ndarray],
                 size: tuple[int, int] = MOTIF_SIZE, columns: int = MOTIF_COLUMNS) -> MotifScores:
    """Stylize each (H, W, 3) uint8 picture at ``size`` with ``stylize`` and measure what the outputs draw beyond
    their content; at least two pictures, unrelated to each other."""
    if len(pictures) < 2:
        raise ValueError(f"a shared motif needs at least 2 pictures, got {len(pictures)}")
    frames = [fit_frame(picture, size) for picture in pictures]
    residuals = np.stack([residual_map(frame, stylize(frame), columns).ravel() for frame in frames])
    count, cells = residuals.shape
    total = residuals.sum(axis=0)
    # Σ_{i≠j} r_i·r_j = |Σ r_i|² − Σ |r_i|²
    shared = (float(total @ total) - float((residuals**2).sum())) / (count * (count - 1) * cells)
    invented = float(np.median(np.sqrt((residuals**2).mean(axis=1))))
    return MotifScores(float(np.sqrt(max(shared, 0.0))), invented, count)


def _cells(image: np.ndarray, columns: int, rows: int) -> np.ndarray:
    """Mean of each channel of a float32 (H, W, C) image over each cell of a ``rows`` x ``columns`` grid, float64
    (rows, columns, C)."""
    channels = [cv2.resize(image[..., c], (columns, rows), interpolation=cv2.INTER_AREA) for c in range(image.shape[2])]
    return np.stack(channels, axis=2).astype(np.float64)
