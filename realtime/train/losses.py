"""Perceptual losses, normalised so that one set of weights works across styles and VGG weight scales.

Every distance here is relative: a Gram distance is divided by the squared norm of the painting's Gram matrix,
a feature distance by the squared norm of the photo's features. That makes them independent of the VGG
weights' activation scale (Caffe-scale or torchvision-scale) and equal to what ``evaluate-style`` reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .vgg import CONTENT_LAYER, STYLE_LAYERS, Features, Vgg16


def gram(features: torch.Tensor) -> torch.Tensor:
    """G(F) = F Fᵀ / (H W) for each item of a (N, C, H, W) batch."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def style_layer_distances(output: Features, target_grams: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per style layer, the per-item ‖G(output) − G(painting)‖² / ‖G(painting)‖²."""
    distances = {}
    for name in STYLE_LAYERS:
        target = target_grams[name]
        diff = gram(getattr(output, name)) - target
        distances[name] = diff.pow(2).sum(dim=(1, 2)) / target.pow(2).sum()
    return distances


def style_distance(output: Features, target_grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-item sum over the style layers of ‖G(output) − G(painting)‖² / ‖G(painting)‖²."""
    return sum(style_layer_distances(output, target_grams).values())  # type: ignore[return-value]


def content_distance(output: Features, photo: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Per-item ‖F(output) − F(photo)‖² / ‖F(photo)‖² at the content layer (``photo``: that layer's features).

    ``weight``, an (N, 1, H, W) map at any resolution (resized to the layer's), weighs both norms per position:
    a weight above 1 where the faces are makes the network keep them closer to the photo than the rest."""
    out, ref = getattr(output, CONTENT_LAYER), photo
    if weight is None:
        return (out - ref).pow(2).sum(dim=(1, 2, 3)) / ref.pow(2).sum(dim=(1, 2, 3)).clamp_min(1e-12)
    weight = F.adaptive_avg_pool2d(weight, ref.shape[-2:])
    return ((out - ref).pow(2) * weight).sum(dim=(1, 2, 3)) / (ref.pow(2) * weight).sum(dim=(1, 2, 3)).clamp_min(1e-12)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (an anisotropic TV, per item)."""
    dy = (image[:, :, 1:, :] - image[:, :, :-1, :]).abs().mean(dim=(1, 2, 3))
    dx = (image[:, :, :, 1:] - image[:, :, :, :-1]).abs().mean(dim=(1, 2, 3))
    return dx + dy


def grid_energy(image: torch.Tensor, period: int = 8) -> torch.Tensor:
    """Variance over the ``period`` x ``period`` pixel phases of the batch's per-phase mean colour, averaged over
    channels: near zero unless the network stamps a pattern locked to its own pixel grid (a stride-2 network's
    grids have periods 2, 4 and 8, all caught with period 8). Pooling the whole batch keeps the texture's own
    randomness out of the per-phase means, so the loss targets the fixed pattern, not the brush strokes."""
    n, c, h, w = image.shape
    h, w = h // period * period, w // period * period
    phases = image[:, :, :h, :w].reshape(n, c, h // period, period, w // period, period).mean(dim=(0, 2, 4))
    return phases.flatten(1).var(dim=1, unbiased=False).mean()


def invented_structure(photos: torch.Tensor, stylized: torch.Tensor, cells: int = 6) -> torch.Tensor:
    """Per image, the RMS in grey levels of the large structure the stylized luminance has and the photo's colour
    does not explain: :func:`framestyle.motif.residual_map` on a ``cells`` x ``cells`` grid of a square batch
    ((N, 3, H, W) in [0, 1]), differentiable in ``stylized``. The least-squares prediction from the photo's colour
    features is a projection onto their span (taken from an SVD, so grey photos, whose features are collinear, are
    handled)."""
    colour = F.adaptive_avg_pool2d(torch.cat([photos, photos**2], dim=1), cells).flatten(2).transpose(1, 2)
    predictors = torch.cat([torch.ones_like(colour[..., :1]), colour], dim=2)  # (N, cells², 7)
    luma_weights = stylized.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    luma = 255.0 * F.adaptive_avg_pool2d((stylized * luma_weights).sum(1, keepdim=True), cells).flatten(1)
    with torch.no_grad():
        basis, strengths, _ = torch.linalg.svd(predictors.double(), full_matrices=False)
        basis = (basis * (strengths > 1e-6 * strengths[:, :1]).unsqueeze(1)).to(luma.dtype)
    residual = luma - (basis @ (basis.transpose(1, 2) @ luma.unsqueeze(2))).squeeze(2)
    return residual.pow(2).mean(1).add(1e-12).sqrt()


def structure_penalty(photos: torch.Tensor, stylized: torch.Tensor, allowance: float) -> torch.Tensor:
    """The batch mean of the squared :func:`invented_structure` beyond ``allowance`` grey levels (zero under it)."""
    return torch.relu(invented_structure(photos, stylized) - allowance).pow(2).mean()


def random_motion(batch: int, max_shift: float, max_degrees: float, max_zoom: float, generator: torch.Generator,
                  height: int, width: int) -> torch.Tensor:
    """Random small affine warps (shift in pixels, rotation, zoom) as ``affine_grid`` matrices (N, 2, 3)."""
    def uniform(scale: float) -> torch.Tensor:
        return (torch.rand(batch, generator=generator) * 2 - 1) * scale

    angle = uniform(math.radians(max_degrees))
    zoom = 1 + uniform(max_zoom)
    tx, ty = uniform(2 * max_shift / width), uniform(2 * max_shift / height)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    aspect = height / width
    row0 = torch.stack([cos, -sin * aspect, tx], dim=1)
    row1 = torch.stack([sin / aspect, cos, ty], dim=1)
    return torch.stack([row0, row1], dim=1)


def warp(image: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp a batch with affine matrices; also returns the mask of pixels that came from inside the frame."""
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    warped = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    ones = torch.ones_like(image[:, :1])
    mask = F.grid_sample(ones, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return warped, (mask > 0.999).float()


def stability_loss(net: Callable[[torch.Tensor], torch.Tensor], photos: torch.Tensor, stylized: torch.Tensor,
                   generator: torch.Generator, noise: float = 0.02) -> torch.Tensor:
    """Per-item stability: the output of a slightly moved and noisier copy of the input must equal the moved
    output of the original, on pixels the warp keeps inside the frame (synthetic motion pairs)."""
    n, _, h, w = photos.shape
    theta = random_motion(n, max_shift=4.0, max_degrees=1.5, max_zoom=0.02, generator=generator, height=h, width=w)
    moved, mask = warp(photos, theta)
    moved = (moved + noise * torch.randn(moved.shape, generator=generator)).clamp(0, 1)
    moved_output = net(moved)
    expected, _ = warp(stylized, theta)
    # Only the output of the moved copy gets gradients toward the moved original, so the loss does not pull
    # the original's stylization toward blur.
    diff = (moved_output - expected.detach()).pow(2) * mask
    return diff.sum(dim=(1, 2, 3)) / mask.sum(dim=(1, 2, 3)).clamp_min(1.0) / 3


def warp_by_flow(image: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``image`` (N, C, H, W) sampled at x + flow(x) (bilinear; flow (N, 2, H, W) in pixels, (dx, dy)), and the
    (N, 1, H, W) mask of the pixels whose source is inside the image."""
    h, w = image.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype, device=flow.device),
                            torch.arange(w, dtype=flow.dtype, device=flow.device), indexing="ij")
    x = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1
    y = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    grid = torch.stack([x, y], dim=-1)
    warped = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    inside = ((x.abs() <= 1) & (y.abs() <= 1)).to(image.dtype)[:, None]
    return warped, inside


def temporal_loss(net: Callable[[torch.Tensor], torch.Tensor], first: torch.Tensor, second: torch.Tensor,
                  flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-item temporal loss on real consecutive frames (see :mod:`.framepairs`): the stylized second frame must
    differ from the stylized first, lined up by ``flow``, by what the input's luminance changed there (Gao et al.
    2018, ReCoNet), on the pixels of ``mask`` whose source is inside the crop. The input's own change lets lighting
    changes through while the style's patterns must follow the motion."""
    with torch.no_grad():  # the first frame's stylization is the reference, as in stability_loss
        first_output, inside = warp_by_flow(net(first), flow)
        first_input, _ = warp_by_flow(first, flow)
    second_output = net(second)
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=second.dtype, device=second.device).view(1, 3, 1, 1)
    input_change = ((second - first_input) * luma).sum(dim=1, keepdim=True)
    mask = mask * inside
    diff = (second_output - first_output - input_change).pow(2) * mask
    return diff.sum(dim=(1, 2, 3)) / mask.sum(dim=(1, 2, 3)).clamp_min(1.0) / 3


def relative_style_weights(photo_features: Features, grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-item weights inversely proportional to each photo's own style distance to the painting, averaging 1 over
    the batch: with them the style loss asks for the per-photo ratio the style ratio measures, not the absolute
    distance, so a photo that starts near the painting counts as much as one far from it."""
    inverse = style_distance(photo_features, grams).clamp_min(1e-6).reciprocal()
    return inverse / inverse.mean()


def perceptual_terms(vgg: Vgg16, photos: torch.Tensor, stylized: torch.Tensor, grams: dict[str, torch.Tensor], *,
                     face: torch.Tensor | None, content_weight: float, style_weight: float, tv_weight: float,
                     grid_weight: float = 0.0, relative_style: bool = False) -> dict[str, torch.Tensor]:
    """The weighted losses of a stylized batch: content (``face``: a per-position weight, see
    :func:`content_distance`), style against ``grams`` (per photo, with ``relative_style``: see
    :func:`relative_style_weights`), total variation, and the grid term when its weight is above 0."""
    features = vgg(stylized)
    with torch.no_grad():
        if relative_style:
            photo_features = vgg(photos)
            photo_content = getattr(photo_features, CONTENT_LAYER)
            weights = relative_style_weights(photo_features, grams)
        else:
            photo_content, weights = vgg.content(photos), None
    style = style_distance(features, grams)
    terms = {"content": content_distance(features, photo_content, face).mean() * content_weight,
             "style": (style if weights is None else style * weights).mean() * style_weight,
             "tv": total_variation(stylized).mean() * tv_weight}
    if grid_weight > 0:
        terms["grid"] = grid_energy(stylized) * grid_weight
    return terms


def update_running(running: dict[str, float], terms: dict[str, torch.Tensor], keep: float) -> None:
    """Exponential running means of the loss terms for progress display (``keep``: the old mean's share)."""
    for key, value in terms.items():
        running[key] = keep * running.get(key, value.item()) + (1.0 - keep) * value.item()
