"""Train the shared network (:class:`~.mixnet.MixStyleNet`) by distillation: for random crops of the training
photos and frames, each with a random style, its output must match that style's single-style network.

A pixel loss and a loss on image gradients (which keeps brush strokes sharp) need no VGG pass, so a step costs
little more than the two networks' own passes. Resumable: the same call continues from the last checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..atomic import atomic_file
from .data import CropSampler
from .export import weights_from_onnx
from .mixnet import CondBias, CondInstanceNorm, MixStyleNet
from .net import FastStyleConfig, FastStyleNet


@dataclass
class DistillConfig:
    """Everything that defines a distillation run; saved in its checkpoints and the shared model's card."""

    teachers: list[Path]
    out: Path
    width: tuple[int, int, int] = (16, 32, 64)
    blocks: int = 5
    steps: int = 12000
    batch: int = 8
    crop: int = 192
    learning_rate: float = 1e-3
    gradient_weight: float = 2.0
    gray_fraction: float = 0.25
    seed: int = 0
    checkpoint_every: int = 100
    max_minutes: float | None = None
    #: Which teacher's convolutions start the shared layers.
    init_from: int = 0

    @property
    def checkpoint(self) -> Path:
        return self.out.with_suffix(".ckpt")


def load_teacher(model: Path) -> FastStyleNet:
    """A bundled single-style model (.onnx with its card beside it) as a torch network, in eval mode."""
    card = json.loads(model.with_suffix(".json").read_text())
    options = card["architecture"]["options"]
    net = FastStyleNet(FastStyleConfig(width=tuple(options["width"]), blocks=options["blocks"],
                                       detail=options.get("detail", 0)))
    net.load_state_dict(weights_from_onnx(model.read_bytes()))
    return net.eval().requires_grad_(False)


def _teacher_keys(blocks: int) -> dict[str, tuple[str | None, str]]:
    """Where each conditioned layer of the shared network finds its (scale, shift) in a FastStyleNet's state."""
    keys = {"enc2.cond": ("enc2.1.weight", "enc2.1.bias"), "enc3.cond": ("enc3.1.weight", "enc3.1.bias"),
            "up2.cond": ("up2.conv.1.weight", "up2.conv.1.bias"), "up1.cond": (None, "up1.conv.0.bias"),
            "head.cond": (None, "head.bias")}
    for i in range(blocks):
        keys[f"res.{i}.norm1"] = (f"res.{i}.body.2.weight", f"res.{i}.body.2.bias")
        keys[f"res.{i}.norm2"] = (f"res.{i}.body.6.weight", f"res.{i}.body.6.bias")
    return keys


def _same_layers(teacher: FastStyleConfig, student: FastStyleConfig) -> bool:
    return tuple(teacher.width) == tuple(student.width) and teacher.blocks == student.blocks


def style_vector_of(student: MixStyleNet, teacher: FastStyleNet) -> torch.Tensor:
    """The style vector holding a teacher's norm scales and shifts and its last two biases."""
    state = teacher.state_dict()
    vector = torch.zeros(student.style_size)
    for name, (scale_key, shift_key) in _teacher_keys(student.config.blocks).items():
        module = student.get_submodule(name)
        if isinstance(module, CondInstanceNorm):
            vector[module.scale] = state[scale_key]  # type: ignore[index]
        assert isinstance(module, CondInstanceNorm | CondBias)
        vector[module.shift] = state[shift_key]  # type: ignore[index]
    return vector


def shared_weights_of(student: MixStyleNet, teacher: FastStyleNet) -> dict[str, torch.Tensor]:
    """A teacher's convolution weights under the shared network's names (a warm start)."""
    state = teacher.state_dict()
    mapped = {"enc1.weight": state["enc1.0.weight"], "enc1.bias": state["enc1.0.bias"],
              "enc2.conv.weight": state["enc2.0.weight"], "enc3.conv.weight": state["enc3.0.weight"],
              "up2.conv.weight": state["up2.conv.0.weight"], "up1.conv.weight": state["up1.conv.0.weight"],
              "head.conv.weight": state["head.weight"]}
    for i in range(student.config.blocks):
        for ours, theirs in (("depth1", 0), ("point1", 1), ("depth2", 4), ("point2", 5)):
            mapped[f"res.{i}.{ours}.weight"] = state[f"res.{i}.body.{theirs}.weight"]
    return mapped


def distillation_loss(output: torch.Tensor, target: torch.Tensor, gradient_weight: float) -> torch.Tensor:
    """Mean absolute error of the pixels plus ``gradient_weight`` times that of their horizontal and vertical
    differences."""
    def grads(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return image[..., 1:, :] - image[..., :-1, :], image[..., :, 1:] - image[..., :, :-1]

    (oy, ox), (ty, tx) = grads(output), grads(target)
    return F.l1_loss(output, target) + gradient_weight * (F.l1_loss(oy, ty) + F.l1_loss(ox, tx))


def cosine_rate(start: float, step: int, steps: int, floor: float = 0.05) -> float:
    """Cosine decay from ``start`` to ``floor * start`` over ``steps`` (a closed form: a resumed run may change
    ``steps``)."""
    return start * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(step / steps, 1.0))))


@dataclass
class DistillResult:
    """The trained network, its style vectors (one row per teacher), steps done, time and running loss."""

    net: MixStyleNet
    styles: torch.Tensor
    steps_done: int
    seconds: float
    loss: float
    finished: bool


def distill(config: DistillConfig, images: list, progress: bool = True) -> DistillResult:
    """Train (or resume) the shared network on crops of ``images`` (RGB uint8 arrays)."""
    from tqdm import tqdm

    torch.manual_seed(config.seed)
    teachers = [load_teacher(path) for path in config.teachers]
    net = MixStyleNet(FastStyleConfig(width=tuple(config.width), blocks=config.blocks))
    init = teachers[config.init_from]
    # A teacher of another width or depth has no norms to give: its style starts as the warm start's.
    styles = torch.nn.Parameter(torch.stack([
        style_vector_of(net, teacher if _same_layers(teacher.config, net.config) else init) for teacher in teachers]))
    net.load_state_dict(shared_weights_of(net, init))
    sampler = CropSampler(images, config.crop, config.seed, gray_fraction=config.gray_fraction)
    optimizer = torch.optim.Adam([*net.parameters(), styles], lr=config.learning_rate)
    style_generator = torch.Generator().manual_seed(config.seed + 2)
    step, seconds_before, running = 0, 0.0, float("nan")
    if config.checkpoint.exists():
        state = torch.load(config.checkpoint, map_location="cpu", weights_only=False)
        net.load_state_dict(state["net"])
        styles.data.copy_(state["styles"])
        optimizer.load_state_dict(state["optimizer"])
        sampler.generator.set_state(state["sampler_rng"])
        style_generator.set_state(state["style_rng"])
        step, seconds_before, running = int(state["step"]), float(state["seconds"]), float(state["loss"])

    start = time.monotonic()

    def checkpoint() -> None:
        with atomic_file(config.checkpoint) as tmp:
            torch.save({"net": net.state_dict(), "styles": styles.detach().clone(),
                        "optimizer": optimizer.state_dict(),
                        "sampler_rng": sampler.generator.get_state(), "style_rng": style_generator.get_state(),
                        "step": step, "seconds": seconds_before + time.monotonic() - start, "loss": running,
                        "config": json.loads(json.dumps(asdict(config), default=str))}, tmp)

    deadline = start + config.max_minutes * 60 if config.max_minutes else float("inf")
    bar = tqdm(total=config.steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True)
    net.train()
    while step < config.steps and time.monotonic() < deadline:
        photos = sampler.sample(config.batch)[:, :3].contiguous()
        which = torch.randint(0, len(teachers), (config.batch,), generator=style_generator)
        with torch.no_grad():
            target = torch.empty_like(photos)
            for index in which.unique().tolist():
                chosen = which == index
                target[chosen] = teachers[index](photos[chosen])
        loss = distillation_loss(net(photos, styles[which]), target, config.gradient_weight)
        for group in optimizer.param_groups:
            group["lr"] = cosine_rate(config.learning_rate, step, config.steps)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        running = loss.item() if running != running else 0.95 * running + 0.05 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4g}")
        if step % config.checkpoint_every == 0:
            checkpoint()
    bar.close()
    checkpoint()
    net.eval()
    return DistillResult(net, styles.detach().clone(), step, seconds_before + time.monotonic() - start, running,
                         step >= config.steps)
