"""Reading and writing still images (RGB uint8 arrays), with atomic writes."""

from __future__ import annotations

from pathlib import Path

import cv2
import imagesize
import numpy as np

from .atomic import write_bytes_atomic
from .errors import InputError, OutputError
from .limits import frame_size_problem

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_image(path: Path) -> np.ndarray:
    """An image as uint8: (H, W, 3) RGB, (H, W, 4) RGBA when it has alpha, or (H, W) grey.

    The size the file's header declares is checked before decoding, so a huge or forged header is refused with an
    :class:`InputError` instead of an allocation of gigabytes.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    width, height = declared_size(path)
    problem = frame_size_problem(width, height) if width > 0 and height > 0 else None
    if problem:
        raise InputError(f"{path}: the header declares {problem}")
    data = np.fromfile(path, dtype=np.uint8)
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as error:  # a format the header check does not know, declaring a size over OpenCV's limit
        raise InputError(f"{path}: OpenCV cannot decode it ({error.err})") from error
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can read")
    if image.dtype != np.uint8:
        image = (image / (np.iinfo(image.dtype).max / 255)).astype(np.uint8) if image.dtype.kind == "u" else image
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def declared_size(path: Path) -> tuple[int, int]:
    """The width and height an image file's header declares, read without decoding; (-1, -1) when the format is
    unknown or the header is unreadable."""
    return imagesize.get(path, exif_rotation=False)


def read_rgb(path: Path) -> np.ndarray:
    """An image as (H, W, 3) RGB uint8, whatever its channels (alpha dropped, grey expanded)."""
    image = read_image(path)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image[..., :3])


def write_image(path: Path, image: np.ndarray) -> None:
    """Write an RGB, RGBA or grey uint8 image atomically (temporary file beside it, then rename)."""
    if image.ndim == 3 and image.shape[2] == 4:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    elif image.ndim == 3:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    else:
        bgr = image
    ok, encoded = cv2.imencode(path.suffix or ".png", bgr)
    if not ok:
        raise OutputError(f"{path}: cannot encode an image with suffix {path.suffix!r}")
    write_bytes_atomic(path, encoded.tobytes())


def resize_long_side(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longer side is ``side`` pixels (area interpolation when shrinking)."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale == 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
