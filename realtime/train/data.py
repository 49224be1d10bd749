"""Training images: photos and video frames held in memory, served as random crops."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

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
    import av

    frames = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every == 0:
                frames.append(frame.to_ndarray(format="rgb24"))
    return frames


class CropSampler:
    """Random square crops from a pool of RGB images: random scale, position and horizontal flip."""

    def __init__(self, images: list[np.ndarray], crop: int, seed: int) -> None:
        if not images:
            raise ValueError("no training images")
        self.images = [torch.from_numpy(resize_long_side(im, STORE_SIDE)).permute(2, 0, 1) for im in images]
        self.crop = crop
        self.generator = torch.Generator().manual_seed(seed)

    def _randint(self, high: int) -> int:
        return int(torch.randint(0, max(high, 1), (1,), generator=self.generator))

    def sample(self, batch: int) -> torch.Tensor:
        """A (batch, 3, crop, crop) float batch in [0, 1]."""
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
            crops.append(crop)
        return torch.stack(crops).clamp(0, 1)
