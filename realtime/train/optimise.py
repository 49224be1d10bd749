"""Optimisation-based style transfer (Gatys et al. 2016): the reference the feed-forward networks are measured
against. The picture itself is optimised, starting from the photo, with the same normalised losses the networks are
trained with, so its style and content distances are directly comparable with a network's."""

from __future__ import annotations

import numpy as np
import torch

from .evaluate import to_tensor
from .losses import content_distance, style_distance
from .vgg import CONTENT_LAYER, Vgg16


@torch.enable_grad()
def optimise_picture(vgg: Vgg16, photo: np.ndarray, grams: dict[str, torch.Tensor], *, content_weight: float,
                     steps: int = 150, learning_rate: float = 0.02) -> np.ndarray:
    """Adam on the pixels of ``photo`` (H, W, 3 uint8 RGB) for ``steps`` steps, minimising
    ``content_weight`` * content distance + style distance to the painting's ``grams``; returns uint8 RGB."""
    target = to_tensor(photo)
    with torch.no_grad():
        photo_content = getattr(vgg(target), CONTENT_LAYER)
    picture = target.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([picture], lr=learning_rate)
    for _ in range(steps):
        features = vgg(picture)
        loss = content_weight * content_distance(features, photo_content).sum() + style_distance(features, grams).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            picture.clamp_(0.0, 1.0)
    result = picture.detach()[0].permute(1, 2, 0).numpy()
    return np.clip(np.rint(result * 255.0), 0, 255).astype(np.uint8)
