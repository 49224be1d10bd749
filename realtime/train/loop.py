"""The training loop: perceptual losses on random crops, checkpoints, resume, a time bound, and export."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_file
from ..errors import InputError
from ..imageio import read_rgb
from .config import TrainConfig
from .data import CropSampler, expand_image_paths, face_masks, video_frames
from .framepairs import FramePairs
from .losses import perceptual_terms, stability_loss, structure_penalty, temporal_loss, update_running
from .net import build_network, grown_state
from .vgg import load_vgg


@dataclass
class TrainResult:
    """What a run produced: the network, the steps done, its time, and the last running losses."""

    net: torch.nn.Module
    steps_done: int
    seconds: float
    losses: dict[str, float]
    finished: bool


def pick_device(name: str) -> torch.device:
    """``auto`` takes CUDA when torch sees a GPU, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: torch sees no CUDA GPU")
    return torch.device(name)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _save_checkpoint(path: Path, state: dict[str, object]) -> None:
    with atomic_file(path) as tmp:
        torch.save(state, tmp)


def face_keep_loss(device: torch.device) -> torch.nn.Module:
    """The face-keeping loss on ``device``, or a one-line :class:`InputError` without facenet-pytorch."""
    from .facekeep import FaceKeepLoss

    try:
        return FaceKeepLoss().to(device)
    except ImportError as error:
        raise InputError(f"--face-keep-weight: {error}") from error


def initial_weights(path: Path) -> dict[str, torch.Tensor]:
    """The network weights stored in a trained model (.onnx) or a training checkpoint (.ckpt): of a checkpoint
    written with weight averaging, the average (what the run would export)."""
    if path.suffix == ".onnx":
        from .export import weights_from_onnx

        return weights_from_onnx(path.read_bytes())
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("averaged") is not None:
        return _averaged_weights(state["averaged"])
    return state["net"]


def _averaged_weights(averaged_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The network's weights in an :class:`~torch.optim.swa_utils.AveragedModel`'s state dict."""
    return {key.removeprefix("module."): value for key, value in averaged_state.items() if key.startswith("module.")}


def weight_average(net: torch.nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel | None:
    """An exponential moving average of ``net``'s weights (torch's :class:`~torch.optim.swa_utils.AveragedModel`),
    or None when ``decay`` is 0."""
    if decay <= 0:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


#: Frame pairs a step of the temporal loss takes (each costs a forward pass without and one with gradients).
PAIRS_PER_STEP = 2


def frame_pairs(config: TrainConfig) -> FramePairs:
    """The frame pairs of the temporal loss from the run's clips, or a one-line :class:`InputError`."""
    try:
        return FramePairs(config.videos, config.crop, config.seed + 2, config.temporal_skip)
    except ValueError as error:
        raise InputError(f"--temporal-weight: {error}") from error


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train a style network; returns when ``config.steps`` are done or ``config.max_minutes`` ran out."""
    from tqdm import tqdm

    _seed_everything(config.seed)
    device = pick_device(config.device)
    vgg = load_vgg(config.vgg_weights).to(device)
    named = [(str(p), read_rgb(p)) for p in expand_image_paths(config.content)]
    for video in config.videos:
        named += [(f"{video}#{i}", frame) for i, frame in enumerate(video_frames(video, config.video_every))]
    keeper = face_keep_loss(device) if config.face_keep_weight > 0 else None
    wants_faces = config.face_weight > 0 or keeper is not None
    masks = face_masks(named, config.out.with_suffix(".faces.json")) if wants_faces else None
    sampler = CropSampler([image for _, image in named], config.crop, config.seed, masks, config.gray_fraction)
    motion_generator = torch.Generator().manual_seed(config.seed + 1)
    pairs = frame_pairs(config) if config.temporal_weight > 0 else None

    from .evaluate import painting_grams

    grams = {k: v.to(device) for k, v in painting_grams(vgg, read_rgb(config.style)).items()}
    options = ({"width": tuple(config.width), "blocks": config.blocks, "detail": config.detail}
               if config.arch == "fast" else {})
    net = build_network(config.arch, **options).to(device)
    resuming = resume and config.checkpoint.exists()
    if config.init is not None and not resuming:  # a resumed run takes its weights from the checkpoint
        try:
            weights = initial_weights(config.init)
            net.load_state_dict(grown_state(net.state_dict(), weights) if config.grow else weights)
        except (RuntimeError, KeyError, ValueError) as error:
            hint = ("is it narrower, with the same --blocks?" if config.grow else "are the --arch, --width, "
                    "--blocks and --detail options those it was trained with? --grow starts a wider network")
            raise InputError(f"{config.init}: its weights do not fit this network ({hint})") from error
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.steps, eta_min=config.learning_rate / 20)
    step, seconds_before = 0, 0.0
    averaged = weight_average(net, config.average_decay)
    if resuming:
        state = torch.load(config.checkpoint, map_location=device, weights_only=False)
        net.load_state_dict(state["net"])
        if averaged is not None and state.get("averaged") is not None:
            averaged.load_state_dict(state["averaged"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        sampler.generator.set_state(state["sampler_rng"])
        motion_generator.set_state(state["motion_rng"])
        if pairs is not None and state.get("pairs_rng") is not None:
            pairs.generator.set_state(state["pairs_rng"])
        step, seconds_before = int(state["step"]), float(state["seconds"])

    def checkpoint() -> None:
        _save_checkpoint(config.checkpoint, {
            "net": net.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
            "sampler_rng": sampler.generator.get_state(), "motion_rng": motion_generator.get_state(),
            "pairs_rng": pairs.generator.get_state() if pairs is not None else None,
            "step": step, "seconds": seconds_before + time.monotonic() - start, "config": config.to_json(),
            "averaged": averaged.state_dict() if averaged is not None else None,
        })

    start = time.monotonic()
    deadline = start + config.max_minutes * 60 if config.max_minutes else float("inf")
    running: dict[str, float] = {}
    bar = tqdm(total=config.steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True)
    net.train()
    while step < config.steps and time.monotonic() < deadline:
        crops = sampler.sample(config.batch).to(device)
        photos = crops[:, :3].contiguous()
        weight = 1.0 + config.face_weight * crops[:, 3:] if config.face_weight > 0 else None
        stylized = net(photos)
        terms = perceptual_terms(vgg, photos, stylized, grams, face=weight, content_weight=config.content_weight,
                                 style_weight=config.style_weight, tv_weight=config.tv_weight,
                                 grid_weight=config.grid_weight, relative_style=config.relative_style)
        kept = keeper(stylized, crops[:, 3:]) if keeper is not None else None
        if kept is not None:
            terms["face_keep"] = kept * config.face_keep_weight
        if config.structure_weight > 0:
            terms["structure"] = (structure_penalty(photos, stylized, config.structure_allowance)
                                  * config.structure_weight)
        if config.stability_weight > 0:
            stability = stability_loss(net, photos, stylized, motion_generator).mean()
            terms["stability"] = stability * config.stability_weight
        if pairs is not None:
            first, second, flow, mask = (tensor.to(device) for tensor in pairs.sample(PAIRS_PER_STEP))
            terms["temporal"] = temporal_loss(net, first, second, flow, mask).mean() * config.temporal_weight
        loss = sum(terms.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        optimizer.step()
        schedule.step()
        if averaged is not None:
            averaged.update_parameters(net)
        step += 1
        update_running(running, terms, keep=0.9)
        bar.update(1)
        bar.set_postfix({k: f"{v:.3g}" for k, v in running.items()})
        if step % config.checkpoint_every == 0:
            checkpoint()
    bar.close()
    checkpoint()
    if averaged is not None:
        net.load_state_dict(averaged.module.state_dict())
    net.eval()
    return TrainResult(net.cpu(), step, seconds_before + time.monotonic() - start, running, step >= config.steps)
