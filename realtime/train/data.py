"""Training images: photos and video frames held in memory, served as random crops."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import write_bytes_atomic
from ..imageio import IMAGE_SUFFIXES, resize_long_side

#: Images are kept at this long side; crops are taken from randomly rescaled copies.
STORE_SIDE = 512


def expand_image_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and the images inside the folders given, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            found.append(path)
    return found


def video_frames(path: Path, every: int) -> list[np.ndarray]:
    """Every ``every``-th decoded frame of a video, as RGB uint8 arrays."""
    from ..media.container import open_input

    frames = []
    with open_input(path) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every == 0:
                frames.append(frame.to_ndarray(format="rgb24"))
    return frames


def box_mask(shape: tuple[int, int], boxes: Iterable[tuple[float, float, float, float]],
             grow: float = 0.2) -> np.ndarray:
    """An (H, W) uint8 mask, 255 inside each (x1, y1, x2, y2) box enlarged by ``grow`` of its size on every side."""
    mask = np.zeros(shape, np.uint8)
    for x1, y1, x2, y2 in boxes:
        dx, dy = (x2 - x1) * grow, (y2 - y1) * grow
        top, bottom = max(int(y1 - dy), 0), min(int(np.ceil(y2 + dy)), shape[0])
        left, right = max(int(x1 - dx), 0), min(int(np.ceil(x2 + dx)), shape[1])
        mask[top:bottom, left:right] = 255
    return mask


def face_masks(named: list[tuple[str, np.ndarray]], cache: Path) -> list[np.ndarray | None]:
    """Masks of the faces in named images (None where there is none), from the face detector of
    :mod:`.faces`; the boxes are kept in ``cache`` (JSON, by name) so a resumed run does not detect them again."""
    boxes: dict[str, list[list[float]]] = json.loads(cache.read_text()) if cache.exists() else {}
    missing = [(name, image) for name, image in named if name not in boxes]
    if missing:
        from .faces import AGAIN_PROBABILITY, FaceDetector

        detector = FaceDetector()
        for name, image in missing:
            boxes[name] = [list(box) for box in detector.detect(image, AGAIN_PROBABILITY)]
        write_bytes_atomic(cache, json.dumps(boxes).encode())
    return [box_mask(image.shape[:2], boxes[name]) if boxes[name] else None for name, image in named]


def random_below(generator: torch.Generator, high: int) -> int:
    """A random integer in [0, high) from ``generator`` (0 when ``high`` is at most 1)."""
    return int(torch.randint(0, max(high, 1), (1,), generator=generator))


class CropSampler:
    """Random square crops from a pool of RGB images: random scale, position and horizontal flip.

    Each image may come with an (H, W) uint8 mask (e.g. where the faces are) that is cropped with it; crops then
    carry it as a fourth channel in [0, 1] (zero for images without one). A ``gray_fraction`` of the crops is turned
    to grey (Rec. 601 luma in all three channels), so black-and-white footage is not new to the network."""

    def __init__(self, images: list[np.ndarray], crop: int, seed: int,
                 masks: list[np.ndarray | None] | None = None, gray_fraction: float = 0.0) -> None:
        if not images:
            raise ValueError("no training images")
        masks = masks or [None] * len(images)
        self.images = [torch.from_numpy(resize_long_side(_with_mask(im, mask), STORE_SIDE)).permute(2, 0, 1)
                       for im, mask in zip(images, masks, strict=True)]
        self.crop = crop
        self.gray_fraction = gray_fraction
        self.generator = torch.Generator().manual_seed(seed)

    def _randint(self, high: int) -> int:
        return random_below(self.generator, high)

    def sample(self, batch: int) -> torch.Tensor:
        """A (batch, 4, crop, crop) float batch in [0, 1]: RGB and the mask."""
        crops = []
        for _ in range(batch):
            image = self.images[self._randint(len(self.images))].float() / 255.0
            h, w = image.shape[-2:]
            smallest = self.crop / min(h, w)
            if smallest < 1:
                scale = smallest + (1.0 - smallest) * float(torch.rand(1, generator=self.generator))
            else:
                scale = smallest
            size = (max(self.crop, round(h * scale)), max(self.crop, round(w * scale)))
            image = F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
            top, left = self._randint(size[0] - self.crop + 1), self._randint(size[1] - self.crop + 1)
            crop = image[:, top : top + self.crop, left : left + self.crop]
            if float(torch.rand(1, generator=self.generator)) < 0.5:
                crop = crop.flip(-1)
            if self.gray_fraction > 0 and float(torch.rand(1, generator=self.generator)) < self.gray_fraction:
                crop = _to_gray(crop)
            crops.append(crop)
        return torch.stack(crops).clamp(0, 1)


def _to_gray(crop: torch.Tensor) -> torch.Tensor:
    """A (4, H, W) crop with its RGB replaced by its Rec. 601 luma; the mask channel kept."""
    luma = 0.299 * crop[0] + 0.587 * crop[1] + 0.114 * crop[2]
    return torch.cat([luma.expand(3, -1, -1), crop[3:]])


def _with_mask(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """RGB with the mask (or zeros) as a fourth channel."""
    if mask is None:
        mask = np.zeros(image.shape[:2], np.uint8)
    return np.dstack([image, mask])
