"""A new style of the shared network from one picture: only its style vector is trained (the shared layers stay
fixed), with the perceptual losses of the single-style networks, for a bounded time. Resumable: an interrupted run
keeps a checkpoint beside the card it will write, and the same call continues from it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_file, write_bytes_atomic
from ..catalog import CARD_SCHEMA, StyleModel
from ..imageio import read_rgb
from .data import CropSampler
from .evaluate import painting_grams, score_style, to_tensor
from .export import weights_from_onnx
from .facekeep import FaceKeepLoss
from .framepairs import FramePairs
from .losses import (
    invented_structure,
    perceptual_terms,
    stability_loss,
    style_distance,
    temporal_loss,
    update_running,
)
from .mixnet import MixStyleNet, network_for
from .vgg import load_vgg


@dataclass
class NewStyleConfig:
    """A new style: the painting, its name and credit, what it trains on, and for how long."""

    painting: Path
    name: str
    card: Path
    images: list[np.ndarray]
    vgg_weights: Path | None
    minutes: float = 15.0
    max_steps: int = 1500
    crop: int = 192
    batch: int = 2
    learning_rate: float = 0.02
    #: On the shared network's perceptual stage, 1.4 took Water Lilies past the 0.60 content goal (0.612, style ratio
    #: 0.230); 1.0 meets it (0.544, 0.249 with the face-keeping loss, 89% of the faces kept: docs/mixing.md).
    style_weight: float = 1.0
    content_weight: float = 1.0
    tv_weight: float = 0.5
    #: Where the faces are in each image ((H, W) uint8 masks, None for an image without one, or None for no
    #: weighting); the content loss weighs those pixels ``1 + face_weight`` times, to keep the faces.
    masks: list[np.ndarray | None] | None = None
    face_weight: float = 50.0
    #: Weight of the face-keeping loss (:mod:`.facekeep`: the face detector's networks must still find the faces of
    #: the stylized crops; 0: off). Needs ``masks``.
    face_keep_weight: float = 1.0
    #: The shared network's own training terms (:mod:`.sharedpaint`), off by default: steadiness under small motions,
    #: the grid-texture penalty, and large structure beyond ``structure_allowance`` the photo's colour does not explain.
    stability_weight: float = 0.0
    grid_weight: float = 0.0
    structure_weight: float = 0.0
    structure_allowance: float = 6.0
    #: Fraction of the crops turned grey, so black-and-white footage is not new to the style.
    gray_fraction: float = 0.25
    #: Weight of the temporal loss on consecutive frames of ``videos`` (:func:`~.losses.temporal_loss`; 0: off), each
    #: clip's first ``temporal_skip`` frames left out.
    temporal_weight: float = 0.0
    videos: list[Path] = field(default_factory=list)
    temporal_skip: int = 0
    title: str = ""
    artist: str = ""
    seed: int = 0

    @property
    def checkpoint(self) -> Path:
        return self.card.with_suffix(".partial.pt")


def load_shared(network: StyleModel) -> MixStyleNet:
    """The shared network of a style (any style of it) as a frozen torch network."""
    net = network_for(network.card["architecture"]["options"])
    net.load_state_dict(weights_from_onnx(network.model_bytes()))
    return net.eval().requires_grad_(False)


def face_keeper(config: NewStyleConfig) -> FaceKeepLoss | None:
    """The face-keeping loss when some training picture has a face marked and its weight is above 0 (None without
    facenet-pytorch, with a note)."""
    if not config.masks or all(mask is None for mask in config.masks) or config.face_keep_weight <= 0:
        return None
    try:
        return FaceKeepLoss()
    except ImportError:
        print("no face detector (facenet-pytorch): trained without the face-keeping loss")
        return None


@torch.no_grad()
def closest_style(net: MixStyleNet, styles: list[StyleModel], grams: dict[str, torch.Tensor], vgg: torch.nn.Module,
                  photos: torch.Tensor) -> StyleModel:
    """The style whose outputs on ``photos`` are closest to the painting's Gram matrices: the starting point."""
    def distance(style: StyleModel) -> float:
        vector = torch.from_numpy(style.vector)  # type: ignore[arg-type]
        return float(style_distance(vgg(net(photos, vector)), grams).mean())

    return min(styles, key=distance)


def train_new_style(config: NewStyleConfig, styles: list[StyleModel], progress: bool = True,
                    on_step: Callable[[dict], None] | None = None) -> dict:
    """Train (or resume) the vector of a new style starting from the closest of ``styles`` (styles of one shared
    network); writes its card and returns it. Ctrl-C leaves the checkpoint for the next call. ``on_step`` gets
    ``{"step", "steps", "seconds_left", "losses"}`` after each step."""
    from tqdm import tqdm

    torch.manual_seed(config.seed)
    net, vgg = load_shared(styles[0]), load_vgg(config.vgg_weights)
    painting = read_rgb(config.painting)
    grams = painting_grams(vgg, painting)
    sampler = CropSampler(config.images, config.crop, config.seed, config.masks, config.gray_fraction)
    motion = torch.Generator().manual_seed(config.seed + 1)
    keeper = face_keeper(config)
    if keeper is None:
        config = replace(config, face_keep_weight=0.0)
    pairs = (FramePairs(config.videos, config.crop, config.seed + 2, config.temporal_skip)
             if config.temporal_weight > 0 else None)
    if config.checkpoint.exists():
        state = torch.load(config.checkpoint, map_location="cpu", weights_only=False)
        vector = torch.nn.Parameter(state["vector"])
        start_style, step, seconds_before = state["start_style"], int(state["step"]), float(state["seconds"])
        sampler.generator.set_state(state["sampler_rng"])
        if "motion_rng" in state:
            motion.set_state(state["motion_rng"])
        if pairs is not None and "pairs_rng" in state:
            pairs.generator.set_state(state["pairs_rng"])
    else:
        probe = sampler.sample(4)[:, :3]
        start = closest_style(net, styles, grams, vgg, probe)
        vector, start_style = torch.nn.Parameter(torch.from_numpy(start.vector.copy())), start.name  # type: ignore[union-attr]
        step, seconds_before, state = 0, 0.0, None
    optimizer = torch.optim.Adam([vector], lr=config.learning_rate)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    began, first_step = time.monotonic(), step

    def checkpoint() -> None:
        with atomic_file(config.checkpoint) as tmp:
            torch.save({"vector": vector.detach().clone(), "optimizer": optimizer.state_dict(), "step": step,
                        "seconds": seconds_before + time.monotonic() - began, "start_style": start_style,
                        "sampler_rng": sampler.generator.get_state(), "motion_rng": motion.get_state(),
                        **({"pairs_rng": pairs.generator.get_state()} if pairs is not None else {})}, tmp)

    budget = config.minutes * 60 - seconds_before
    bar = tqdm(total=config.max_steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True)
    running: dict[str, float] = {}
    try:
        while step < config.max_steps and time.monotonic() - began < budget:
            terms = _loss_terms(config, net, vgg, grams, keeper, motion, sampler.sample(config.batch), vector, pairs)
            optimizer.zero_grad(set_to_none=True)
            sum(terms.values()).backward()  # type: ignore[union-attr]
            optimizer.step()
            step += 1
            update_running(running, terms, keep=0.9)
            elapsed = time.monotonic() - began
            left = max(0.0, min(budget - elapsed, elapsed / (step - first_step) * (config.max_steps - step)))
            bar.update(1)
            bar.set_postfix({**{k: f"{v:.3g}" for k, v in running.items()}, "left": f"{left / 60:.1f} min"})
            if on_step is not None:
                on_step({"step": step, "steps": config.max_steps, "seconds_left": round(left, 1),
                         "losses": {key: round(value, 5) for key, value in running.items()}})
            if step % 25 == 0:
                checkpoint()
    except KeyboardInterrupt:
        checkpoint()
        raise
    bar.close()
    seconds = seconds_before + time.monotonic() - began
    final = vector.detach().numpy().astype(np.float32)
    scores = score_style(vgg, painting, config.images[:4], _stylize_with(net, final))
    card = new_style_card(config, styles[0], final, start_style, step, seconds, scores.__dict__)
    write_bytes_atomic(config.card, (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode())
    config.checkpoint.unlink(missing_ok=True)
    return card


def _loss_terms(config: NewStyleConfig, net: MixStyleNet, vgg: torch.nn.Module, grams: dict[str, torch.Tensor],
                keeper: FaceKeepLoss | None, motion: torch.Generator, crops: torch.Tensor,
                vector: torch.Tensor, pairs: FramePairs | None = None) -> dict[str, torch.Tensor]:
    """The weighted loss terms of one batch of crops (RGB and the face mask) stylized with ``vector``, and of a
    batch of frame pairs from ``pairs`` when given."""
    photos = crops[:, :3].contiguous()
    weight = 1.0 + config.face_weight * crops[:, 3:] if config.masks else None
    stylized = net(photos, vector)
    terms = perceptual_terms(vgg, photos, stylized, grams, face=weight, content_weight=config.content_weight,
                             style_weight=config.style_weight, tv_weight=config.tv_weight,
                             grid_weight=config.grid_weight)
    kept = keeper(stylized, crops[:, 3:]) if keeper is not None else None
    if kept is not None:
        terms["face_keep"] = kept * config.face_keep_weight
    if config.structure_weight > 0:
        beyond = torch.relu(invented_structure(photos, stylized) - config.structure_allowance)
        terms["structure"] = beyond.pow(2).mean() * config.structure_weight
    if config.stability_weight > 0:
        moved = stability_loss(lambda x: net(x, vector), photos, stylized, motion)
        terms["stability"] = moved.mean() * config.stability_weight
    if pairs is not None:
        first, second, flow, mask = pairs.sample(config.batch)
        steadiness = temporal_loss(lambda x: net(x, vector), first, second, flow, mask)
        terms["temporal"] = steadiness.mean() * config.temporal_weight
    return terms


def _stylize_with(net: MixStyleNet, vector: np.ndarray):  # type: ignore[no-untyped-def]
    @torch.no_grad()
    def stylize(image: np.ndarray) -> np.ndarray:
        out = net(to_tensor(image), torch.from_numpy(vector))[0]
        return (out.permute(1, 2, 0).numpy() * 255.0).round().clip(0, 255).astype(np.uint8)

    return stylize


def new_style_card(config: NewStyleConfig, network: StyleModel, vector: np.ndarray, start_style: str, steps: int,
                   seconds: float, scores: dict) -> dict:
    """The card of a user style: what it was trained from, and its vector for the shared network it runs on."""
    return {
        "schema": CARD_SCHEMA,
        "name": config.name,
        "title": config.title or config.name,
        "artist": config.artist,
        "year": "",
        "painting": {"file": config.painting.name, "credit": "", "licence": ""},
        "default": False,
        "shared": {**network.card["shared"], "vector": [round(float(v), 6) for v in vector]},
        "training": {"method": "style vector of the shared network (framestyle.train.newstyle)",
                     "started_from": start_style, "steps_done": steps, "seconds": round(seconds, 1),
                     "images": len(config.images), "crop": config.crop, "batch": config.batch,
                     "learning_rate": config.learning_rate, "style_weight": config.style_weight,
                     "face_weight": config.face_weight if config.masks else 0.0,
                     "face_keep_weight": config.face_keep_weight,
                     "gray_fraction": config.gray_fraction,
                     "content_weight": config.content_weight, "tv_weight": config.tv_weight,
                     "stability_weight": config.stability_weight, "grid_weight": config.grid_weight,
                     "structure_weight": config.structure_weight, "temporal_weight": config.temporal_weight,
                     "videos": [Path(video).name for video in config.videos], "temporal_skip": config.temporal_skip},
        "validation": {**scores, "note": "on the first training pictures (the vector alone cannot overfit them)"},
    }
