"""One network for many styles: :class:`FastStyleNet`'s layers shared by every style, each style being only the
scale and shift of its instance norms and the biases of its two last convolutions (conditional instance
normalisation, Dumoulin et al., "A Learned Representation for Artistic Style", ICLR 2017).

A style is a vector of :attr:`MixStyleNet.style_size` numbers, so a mix of styles is the weighted sum of their
vectors, run in one pass, and a new style can be learned by training one vector with the shared layers fixed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .net import BORDER, FastStyleConfig


class StyleSlots:
    """Where each conditioned layer's numbers sit in the style vector: ``take(n)`` reserves the next ``n``."""

    def __init__(self) -> None:
        self.size = 0

    def take(self, count: int) -> slice:
        start, self.size = self.size, self.size + count
        return slice(start, self.size)


class CondInstanceNorm(nn.Module):
    """Instance norm whose scale and shift come from the style vector (``(N, P)`` in training, ``(P,)`` when
    exported, which makes one ONNX InstanceNormalization node with the style's numbers as its scale and bias)."""

    def __init__(self, channels: int, slots: StyleSlots) -> None:
        super().__init__()
        self.scale = slots.take(channels)
        self.shift = slots.take(channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if style.dim() == 1:
            return F.instance_norm(x, weight=style[self.scale], bias=style[self.shift])
        normed = F.instance_norm(x)
        return normed * style[:, self.scale, None, None] + style[:, self.shift, None, None]


class CondBias(nn.Module):
    """A per-channel shift taken from the style vector (the bias of a convolution that has no norm)."""

    def __init__(self, channels: int, slots: StyleSlots) -> None:
        super().__init__()
        self.shift = slots.take(channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if style.dim() == 1:
            return x + style[self.shift].reshape(1, -1, 1, 1)
        return x + style[:, self.shift, None, None]


class CondConv(nn.Module):
    """Convolution (reflection padding, optional stride), a conditioned norm or bias, and an optional ReLU."""

    def __init__(self, cin: int, cout: int, slots: StyleSlots, *, stride: int = 1, norm: bool = True,
                 relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1, bias=False, padding_mode="reflect")
        self.cond: nn.Module = CondInstanceNorm(cout, slots) if norm else CondBias(cout, slots)
        self.relu = relu

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        y = self.cond(self.conv(x), style)
        return F.relu(y) if self.relu else y


class CondResidual(nn.Module):
    """:class:`~.net.SeparableResidual` with conditioned norms."""

    def __init__(self, channels: int, slots: StyleSlots) -> None:
        super().__init__()
        self.depth1 = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False, padding_mode="reflect")
        self.point1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.norm1 = CondInstanceNorm(channels, slots)
        self.depth2 = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False, padding_mode="reflect")
        self.point2 = nn.Conv2d(channels, channels, 1, bias=False)
        self.norm2 = CondInstanceNorm(channels, slots)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.point1(self.depth1(x)), style))
        return x + self.norm2(self.point2(self.depth2(y)), style)


class MixStyleNet(nn.Module):
    """:class:`~.net.FastStyleNet` with every style-specific number moved into a style vector: ``net(x, style)``
    maps an RGB batch in [0, 1] (N, 3, H, W) and style vectors (N, P), or one (P,) for the whole batch, to RGB."""

    def __init__(self, config: FastStyleConfig | None = None) -> None:
        super().__init__()
        config = config or FastStyleConfig()
        if config.detail:
            raise ValueError("the shared network has no detail head")
        self.config = config
        c1, c2, c3 = config.width
        slots = StyleSlots()
        self.enc1 = nn.Conv2d(3, c1, 3, 2, 1, padding_mode="reflect")
        self.enc2 = CondConv(c1, c2, slots, stride=2)
        self.enc3 = CondConv(c2, c3, slots, stride=2)
        self.res = nn.ModuleList(CondResidual(c3, slots) for _ in range(config.blocks))
        self.up2 = CondConv(c3, c2, slots)
        self.up1 = CondConv(c2, c1, slots, norm=False)
        self.head = CondConv(c1, 3, slots, norm=False, relu=False)
        self.style_size = slots.size

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (BORDER,) * 4, mode="reflect")
        e1 = F.relu(self.enc1(padded))
        e2 = self.enc2(e1, style)
        y = self.enc3(e2, style)
        for block in self.res:
            y = block(y, style)
        y = _upsample_to(self.up2(y, style), e2) + e2
        features = _upsample_to(self.up1(y, style), e1) + e1
        y = F.interpolate(self.head(features, style), size=padded.shape[-2:], mode="bilinear", align_corners=False)
        h, w = x.shape[-2:]
        return torch.sigmoid(y[:, :, BORDER : BORDER + h, BORDER : BORDER + w])


def network_for(options: dict) -> MixStyleNet:
    """An untrained shared network of a card's ``architecture.options`` (``width`` and ``blocks``)."""
    return MixStyleNet(FastStyleConfig(width=tuple(options["width"]), blocks=options["blocks"]))


def _upsample_to(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
