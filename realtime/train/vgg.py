"""The VGG-16 loss network (up to relu4_3) with named taps, in torchvision's layout and input convention."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

#: torchvision's VGG-16 ``features`` indices of the ReLUs we tap.
TAPS = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}
STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
CONTENT_LAYER = "relu2_2"
_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class Features(NamedTuple):
    relu1_2: torch.Tensor
    relu2_2: torch.Tensor
    relu3_3: torch.Tensor
    relu4_3: torch.Tensor


def _features_to_relu4_3() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for item in _CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=True)]
            channels = int(item)
    return nn.Sequential(*layers)


class Vgg16(nn.Module):
    """Frozen VGG-16 ``features[:23]``; ``forward`` takes RGB in [0, 1] and returns the four taps."""

    def __init__(self, state_dict: dict[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        self.features = _features_to_relu4_3()
        if state_dict is not None:
            self.features.load_state_dict(state_dict, strict=True)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, rgb: torch.Tensor) -> Features:
        x = (rgb - self.mean) / self.std
        taps = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            for name, tap in TAPS.items():
                if tap == index:
                    taps[name] = x
        return Features(**taps)

    def content(self, rgb: torch.Tensor) -> torch.Tensor:
        """Only the content layer's features: stops early, at a third of the full pass's cost."""
        x = (rgb - self.mean) / self.std
        return self.features[: TAPS[CONTENT_LAYER] + 1](x)


def load_vgg(weights: Path | None) -> Vgg16:
    """The loss network with weights from ``weights`` (a torchvision-layout state dict of ``features[:23]``),
    or torchvision's ImageNet weights when ``weights`` is None (needs torchvision and its cached download)."""
    if weights is not None:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        state = {k.removeprefix("features."): v for k, v in state.items() if _index(k) < 23}
        return Vgg16(state)
    try:
        from torchvision.models import VGG16_Weights, vgg16
    except ImportError as error:
        raise RuntimeError("no --vgg-weights given and torchvision is not installed") from error
    features = vgg16(weights=VGG16_Weights.IMAGENET1K_V1).features[:23]
    return Vgg16(features.state_dict())


def _index(key: str) -> int:
    return int(key.removeprefix("features.").split(".")[0])
