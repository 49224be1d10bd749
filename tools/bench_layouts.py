"""Where the network's time goes, by layout: milliseconds a frame of the default network and of cheaper layouts,
random weights (speed does not depend on them), in ONNX Runtime on the CPU, in one run.

Usage: python tools/bench_layouts.py [--sizes 1280x720 640x360] [--runs 15] [--threads 2]
Needs the [train] extra (the layouts are built in torch and exported as the bundled models are). The rows take the
default network apart (the uint8 frame conversions alone; with the reflected border and the sigmoid; without its
residual blocks; with zero padding inside) and try narrower widths, fewer blocks and a space-to-depth layout that
has no tensor at 1/2 resolution (the frame folded into 4x4 blocks, the work at 1/4 and 1/8, the output unfolded).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from framestyle.cli.bench import parse_size
from framestyle.train.export import time_onnx, to_onnx_bytes
from framestyle.train.net import BORDER, FastStyleConfig, FastStyleNet, SeparableResidual, conv_norm_relu
from framestyle.train.net import count_macs_per_pixel as macs


class FrameOnly(nn.Module):
    """No network: what the uint8 frame conversions of the exported graph cost."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class BorderOnly(nn.Module):
    """The reflected border and the output sigmoid around no network."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        padded = F.pad(x, (BORDER,) * 4, mode="reflect")
        return torch.sigmoid(padded[:, :, BORDER : BORDER + h, BORDER : BORDER + w])


class SpaceToDepth(nn.Module):
    """The frame folded into ``fold`` x ``fold`` blocks (3 fold² channels at 1/fold resolution), a convolution of
    ``kernel``, the default network's encoder step, blocks and decoder step at 1/fold and 1/(2 fold), and a head
    that unfolds 3 fold² channels back to full resolution."""

    def __init__(self, fold: int = 4, c2: int = 32, c3: int = 64, blocks: int = 5, kernel: int = 1) -> None:
        super().__init__()
        self.fold = fold
        self.enc2 = conv_norm_relu(3 * fold * fold, c2, kernel=kernel, padding="reflect")
        self.enc3 = conv_norm_relu(c2, c3, stride=2, padding="reflect")
        self.res = nn.Sequential(*[SeparableResidual(c3) for _ in range(blocks)])
        self.up = conv_norm_relu(c3, c2, padding="reflect")
        self.head = nn.Conv2d(c2, 3 * fold * fold, kernel, 1, kernel // 2, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        bottom, right = (BORDER + (-(side + 2 * BORDER)) % self.fold for side in (h, w))
        padded = F.pad(x, (BORDER, right, BORDER, bottom), mode="reflect")
        e2 = self.enc2(F.pixel_unshuffle(padded, self.fold))
        y = self.up(self.res(self.enc3(e2)))
        y = F.interpolate(y, size=e2.shape[-2:], mode="bilinear", align_corners=False) + e2
        y = F.pixel_shuffle(self.head(y), self.fold)
        return torch.sigmoid(y[:, :, BORDER : BORDER + h, BORDER : BORDER + w])


def zero_padded(net: nn.Module) -> nn.Module:
    """``net`` with every reflection-padded convolution zero-padded instead."""
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            module.padding_mode = "zeros"
    return net


def layouts() -> Iterator[tuple[str, nn.Module]]:
    """(label, network) for each row."""
    yield "uint8 frame conversions only", FrameOnly()
    yield "+ reflected border and sigmoid", BorderOnly()
    yield "default network (16/32/64, 5 blocks)", FastStyleNet(FastStyleConfig())
    yield "default without its residual blocks", FastStyleNet(FastStyleConfig(blocks=0))
    yield "default, zero padding inside", zero_padded(FastStyleNet(FastStyleConfig()))
    yield "wide (16/32/128), great_wave's", FastStyleNet(FastStyleConfig(width=(16, 32, 128)))
    yield "8/32/64", FastStyleNet(FastStyleConfig(width=(8, 32, 64)))
    yield "8/16/64", FastStyleNet(FastStyleConfig(width=(8, 16, 64)))
    yield "16/32/64, 3 blocks", FastStyleNet(FastStyleConfig(blocks=3))
    yield "space-to-depth 4, 1x1 in and out (32/64)", SpaceToDepth()
    yield "space-to-depth 4, 3x3 in and out (32/64)", SpaceToDepth(kernel=3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=[(1280, 720), (640, 360)])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sizes = [f"{w}x{h}" for w, h in args.sizes]
    print(f"ONNX Runtime CPU, {args.threads} threads, median of {args.runs} runs, random weights")
    print(f"{'layout':<44} {'MAC/px':>7} " + " ".join(f"{size + ' ms':>13}" for size in sizes))
    for label, net in layouts():
        model = to_onnx_bytes(net)
        times = [time_onnx(model, h, w, runs=args.runs, threads=args.threads) * 1e3 for w, h in args.sizes]
        print(f"{label:<44} {macs(net):7.0f} " + " ".join(f"{t:13.1f}" for t in times), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
