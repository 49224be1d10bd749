"""Style-transfer networks: our real-time network and the Johnson et al. (2016) reference.

Both map an RGB batch in [0, 1] (N, 3, H, W) to an RGB batch in [0, 1] of the same size, for any H and W
(odd sizes included). The uint8 NHWC wrapping used at run time lives in ``export.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: Reflection border added around the input before the network runs and cropped from its output; it keeps
#: the zero padding of the inner convolutions away from the visible frame edges.
BORDER = 8
#: Smallest height and width the graphs take (reflection needs more pixels than it adds); the run-time engine
#: pads smaller frames up to this size.
MIN_SIDE = BORDER + 1


def conv_norm_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1, norm: bool = True,
                   padding: str = "zeros") -> nn.Sequential:
    """Convolution, instance norm (optional: it costs memory passes), ReLU. ``padding`` is "zeros" or
    "reflect" (reflection avoids dark frame edges; it is an extra pass, so it is used on small tensors only)."""
    conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=not norm, padding_mode=padding)
    if not norm:
        return nn.Sequential(conv, nn.ReLU(inplace=True))
    return nn.Sequential(conv, nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True))


class SeparableResidual(nn.Module):
    """Residual block of two depthwise-separable 3x3 convolutions (He et al. 2016; Howard et al. 2017)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False, padding_mode="reflect"),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False, padding_mode="reflect"),
            nn.Conv2d(channels, channels, 1, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpBlock(nn.Module):
    """A 3x3 convolution, bilinear upsampling to the skip tensor's exact size, then the skip added.

    Bilinear resizing (with the convolution on the smaller side, where it is cheaper) avoids the checkerboard
    texture of transposed convolutions and the grid texture of nearest-neighbour upsampling (Odena et al.,
    "Deconvolution and Checkerboard Artifacts", Distill 2016). Resizing to the skip's size, not by a fixed
    factor, is what makes odd input sizes work without padding to a multiple of 8.
    """

    def __init__(self, cin: int, cout: int, norm: bool = True) -> None:
        super().__init__()
        self.conv = conv_norm_relu(cin, cout, norm=norm, padding="reflect")

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.conv(x), size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return x + skip


@dataclass(frozen=True)
class FastStyleConfig:
    """Widths of :class:`FastStyleNet` at 1/2, 1/4 and 1/8 resolution, and its residual block count."""

    width: tuple[int, int, int] = (16, 32, 64)
    blocks: int = 5
    #: Channels of the full-resolution detail head (0: none); see :class:`DetailHead`.
    detail: int = 0


class DetailHead(nn.Module):
    """Full-resolution detail: a per-pixel nonlinearity on smooth upsampled features and the sharp input.

    A 3x3 convolution of the decoder's half-resolution features gives ``channels`` maps; bilinearly upsampled,
    they meet a 3x3 convolution of the full-resolution input and pass a ReLU, which draws sharp edges where the
    smooth maps cross zero (at any sub-pixel position, so without a pixel grid); a last 3x3 convolution turns
    them into an RGB correction. Without it the output is a bilinearly upsampled half-resolution image, which
    cannot carry the finest brush strokes. Full-resolution tensors have at most ``channels`` channels.
    """

    def __init__(self, features: int, channels: int) -> None:
        super().__init__()
        self.maps = nn.Conv2d(features, channels, 3, 1, 1, padding_mode="reflect")
        self.from_input = nn.Conv2d(3, channels, 3, 1, 1, bias=False)
        self.to_rgb = nn.Conv2d(channels, 3, 3, 1, 1)

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        maps = F.interpolate(self.maps(features), size=image.shape[-2:], mode="bilinear", align_corners=False)
        return self.to_rgb(F.relu(maps + self.from_input(image)))


class FastStyleNet(nn.Module):
    """Our real-time network: an encoder to 1/8 resolution, depthwise-separable residual blocks there, and
    a decoder with bilinear upsampling and additive skips back to full resolution.

    Most of the work happens at 1/8 resolution; full-resolution tensors carry at most 16 channels, because
    on a CPU this size of network is bound by memory traffic, not by multiply-adds.
    """

    def __init__(self, config: FastStyleConfig = FastStyleConfig()) -> None:
        super().__init__()
        self.config = config
        c1, c2, c3 = config.width
        self.enc1 = conv_norm_relu(3, c1, stride=2, norm=False, padding="reflect")
        self.enc2 = conv_norm_relu(c1, c2, stride=2, padding="reflect")
        self.enc3 = conv_norm_relu(c2, c3, stride=2, padding="reflect")
        self.res = nn.Sequential(*[SeparableResidual(c3) for _ in range(config.blocks)])
        self.up2 = UpBlock(c3, c2)
        self.up1 = UpBlock(c2, c1, norm=False)
        self.head = nn.Conv2d(c1, 3, 3, 1, 1, padding_mode="reflect")
        self.detail = DetailHead(c1, config.detail) if config.detail else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (BORDER,) * 4, mode="reflect")
        e1 = self.enc1(padded)
        e2 = self.enc2(e1)
        y = self.res(self.enc3(e2))
        features = self.up1(self.up2(y, e2), e1)
        y = F.interpolate(self.head(features), size=padded.shape[-2:], mode="bilinear", align_corners=False)
        if self.detail is not None:
            y = y + self.detail(features, padded)
        h, w = x.shape[-2:]
        return torch.sigmoid(y[:, :, BORDER : BORDER + h, BORDER : BORDER + w])


class JohnsonNet(nn.Module):
    """Reference network of Johnson et al. (2016) with instance norm (Ulyanov et al. 2016): 9x9 convolution,
    two stride-2 convolutions, five residual blocks at 128 channels, two upsampling convolutions and a 9x9
    output convolution. About 150k multiply-adds per pixel. Used for comparisons, not bundled as a style.
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            conv_norm_relu(3, 32, kernel=9),
            conv_norm_relu(32, 64, stride=2),
            conv_norm_relu(64, 128, stride=2),
        )
        self.res = nn.Sequential(*[_PlainResidual(128) for _ in range(5)])
        self.up1 = conv_norm_relu(128, 64)
        self.up2 = conv_norm_relu(64, 32)
        self.head = nn.Conv2d(32, 3, 9, 1, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (BORDER,) * 4, mode="reflect")
        e = self.encoder(padded)
        y = self.res(e)
        y = self.up1(F.interpolate(y, scale_factor=2.0, mode="nearest"))
        y = self.up2(F.interpolate(y, scale_factor=2.0, mode="nearest"))
        y = F.interpolate(y, size=padded.shape[-2:], mode="nearest")
        y = torch.sigmoid(self.head(y))
        return y[:, :, BORDER:-BORDER, BORDER:-BORDER]


class _PlainResidual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_norm_relu(channels, channels),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


ARCHITECTURES = {"fast": FastStyleNet, "johnson": JohnsonNet}


def build_network(arch: str, **options: object) -> nn.Module:
    """Build a network by architecture name ("fast" or "johnson")."""
    if arch == "fast":
        return FastStyleNet(FastStyleConfig(**options))  # type: ignore[arg-type]
    if arch == "johnson":
        return JohnsonNet()
    raise ValueError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHITECTURES)}")


def network_options(net: nn.Module) -> dict[str, object]:
    """The options that rebuild ``net`` with :func:`build_network`."""
    return asdict(net.config) if isinstance(net, FastStyleNet) else {}


def grown_state(fresh: dict[str, torch.Tensor], narrow: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A narrower trained network's weights (``narrow``) placed in a wider :class:`FastStyleNet` (``fresh``: its
    randomly initialised state) so that it computes the same output (Chen et al. 2016, "Net2Net").

    Each trained tensor fills the leading part of the wider one; the weights that read an added input channel are
    zero, so the added channels change nothing until training uses them. A detail head the narrow network lacks
    starts with its last convolution at zero. Raises ValueError when a tensor does not fit (a narrower width, other
    blocks).
    """
    unknown = sorted(set(narrow) - set(fresh))
    if unknown:
        raise ValueError(f"the wider network has no {unknown[0]}")
    grown = {}
    for key, tensor in fresh.items():
        tensor = tensor.clone()
        if key not in narrow:
            if key.startswith("detail.to_rgb."):
                tensor.zero_()
            grown[key] = tensor
            continue
        old = narrow[key]
        if old.dim() != tensor.dim() or any(o > n for o, n in zip(old.shape, tensor.shape, strict=True)):
            raise ValueError(f"{key}: {tuple(old.shape)} does not fit in {tuple(tensor.shape)}")
        if tensor.dim() == 4:
            tensor[:, old.shape[1]:] = 0
        tensor[tuple(slice(0, size) for size in old.shape)] = old
        grown[key] = tensor
    return grown


def count_macs_per_pixel(net: nn.Module, height: int = 360, width: int = 640) -> float:
    """Multiply-adds of the convolutions per input pixel, counted with forward hooks at one size."""
    total = 0

    def hook(module: nn.Conv2d, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1]
        total += output.numel() * (module.in_channels // module.groups) * k

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        net.eval()(torch.zeros(1, 3, height, width))
    for handle in handles:
        handle.remove()
    return total / (height * width)
