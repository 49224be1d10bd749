"""Train the shared network (:class:`~.mixnet.MixStyleNet`) with the perceptual losses themselves, after
distillation has warm-started it: each step takes one style (in turn), and its output must match that painting's
Gram matrices while keeping the photo's features (faces weighted up), steady under small motions.

Each style's style weight is not fixed but steered: every ``adapt_every`` steps the run measures every style's
content distance at 512 px on a few fixed training pictures (the measure the model cards report, not the crop
loss) and scales its style weight up while that distance is below ``content_target``, down while it is above. A
style thus paints as strongly as the network can while keeping the subject to a set distance, whatever the
painting, instead of by a weight tuned per style by hand. Resumable: the same call continues from the checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_file
from ..imageio import read_rgb
from ..motif import motif_scores
from .data import CropSampler
from .distill import DistillResult, cosine_rate
from .evaluate import painting_grams, score_style, to_tensor
from .losses import perceptual_terms, stability_loss, structure_penalty, update_running
from .mixnet import MixStyleNet
from .net import FastStyleConfig
from .vgg import load_vgg


@dataclass
class PaintConfig:
    """Everything that defines a perceptual run of the shared network; saved in its checkpoints and card."""

    #: One painting per style, in the order of the warm start's style vectors.
    paintings: list[Path]
    #: The distillation checkpoint (``net`` and ``styles``) the run starts from.
    init: Path
    out: Path
    #: Starting style weight of each style (steered from there).
    style_weights: list[float]
    width: tuple[int, int, int] = (16, 32, 64)
    blocks: int = 5
    steps: int = 14000
    batch: int = 4
    crop: int = 192
    learning_rate: float = 5e-4
    content_weight: float = 1.0
    tv_weight: float = 0.5
    stability_weight: float = 20.0
    grid_weight: float = 10000.0
    face_weight: float = 15.0
    gray_fraction: float = 0.25
    #: Large structure the photo's colour does not explain (:func:`~.losses.invented_structure`, grey levels RMS
    #: on 6x6 cells of a crop) is penalised beyond this allowance, squared, times ``structure_weight``: the
    #: motif measure's limit is 9 on a whole frame, and a crop's figure runs a little under a frame's.
    structure_allowance: float = 6.0
    structure_weight: float = 0.005
    #: The content distance (512 px, relu2_2) each style is steered to on the probe pictures.
    content_target: float = 0.45
    adapt_every: int = 350
    #: The log of the factor a style weight moves by for a content distance off its target by the target itself.
    adapt_gain: float = 1.0
    vgg_weights: Path | None = None
    seed: int = 0
    checkpoint_every: int = 50
    max_minutes: float | None = None
    #: The single-style models the warm start was distilled from (their cards give the styles' credits).
    teachers: list[Path] = field(default_factory=list)

    @property
    def checkpoint(self) -> Path:
        return self.out.with_suffix(".ckpt")


def steer(weight: float, content: float, target: float, gain: float, low: float = 0.05,
          high: float = 100.0) -> float:
    """The next style weight: up while the content distance is under its target, down while over."""
    return float(np.clip(weight * math.exp(gain * (target - content) / target), low, high))


def train_painting(config: PaintConfig, images: list[np.ndarray], masks: list[np.ndarray | None] | None,
                   probes: list[np.ndarray], progress: bool = True) -> DistillResult:
    """Train (or resume) the shared network on crops of ``images`` (faces in ``masks``), steering each style's
    weight on ``probes`` (RGB pictures); returns what :func:`~.mixpublish.publish_shared` takes."""
    from tqdm import tqdm

    torch.manual_seed(config.seed)
    net = MixStyleNet(FastStyleConfig(width=tuple(config.width), blocks=config.blocks))
    warm = torch.load(config.init, map_location="cpu", weights_only=False)
    net.load_state_dict(warm["net"])
    styles = torch.nn.Parameter(warm["styles"].clone())
    if len(styles) != len(config.paintings):
        raise ValueError(f"{config.init} has {len(styles)} styles, {len(config.paintings)} paintings given")
    vgg = load_vgg(config.vgg_weights)
    grams = [painting_grams(vgg, read_rgb(path)) for path in config.paintings]
    sampler = CropSampler(images, config.crop, config.seed, masks, config.gray_fraction)
    motion = torch.Generator().manual_seed(config.seed + 1)
    optimizer = torch.optim.Adam([*net.parameters(), styles], lr=config.learning_rate)
    weights = list(config.style_weights)
    step, seconds_before, history = 0, 0.0, []
    running: dict[str, float] = {}
    if config.checkpoint.exists():
        state = torch.load(config.checkpoint, map_location="cpu", weights_only=False)
        net.load_state_dict(state["net"])
        styles.data.copy_(state["styles"])
        optimizer.load_state_dict(state["optimizer"])
        sampler.generator.set_state(state["sampler_rng"])
        motion.set_state(state["motion_rng"])
        step, seconds_before = int(state["step"]), float(state["seconds"])
        weights, history, running = list(state["style_weights"]), list(state["history"]), dict(state["running"])
    start = time.monotonic()

    def checkpoint() -> None:
        with atomic_file(config.checkpoint) as tmp:
            torch.save({"net": net.state_dict(), "styles": styles.detach().clone(),
                        "optimizer": optimizer.state_dict(), "sampler_rng": sampler.generator.get_state(),
                        "motion_rng": motion.get_state(), "step": step, "style_weights": weights,
                        "history": history, "running": running,
                        "seconds": seconds_before + time.monotonic() - start,
                        "config": json.loads(json.dumps(asdict(config), default=str))}, tmp)

    deadline = start + config.max_minutes * 60 if config.max_minutes else float("inf")
    bar = tqdm(total=config.steps, initial=step, disable=not progress, unit="step", dynamic_ncols=True)
    while step < config.steps and time.monotonic() < deadline:
        index = step % len(weights)
        net.train()
        crops = sampler.sample(config.batch)
        photos = crops[:, :3].contiguous()
        face = 1.0 + config.face_weight * crops[:, 3:] if masks else None
        vector = styles[index]
        stylized = net(photos, vector)
        terms = perceptual_terms(vgg, photos, stylized, grams[index], face=face,
                                 content_weight=config.content_weight, style_weight=weights[index],
                                 tv_weight=config.tv_weight, grid_weight=config.grid_weight)
        if config.structure_weight > 0:
            terms["structure"] = (structure_penalty(photos, stylized, config.structure_allowance)
                                  * config.structure_weight)
        if config.stability_weight > 0:
            moved = stability_loss(lambda x: net(x, vector), photos, stylized, motion)  # noqa: B023
            terms["stability"] = moved.mean() * config.stability_weight
        for group in optimizer.param_groups:
            group["lr"] = cosine_rate(config.learning_rate, step, config.steps)
        optimizer.zero_grad(set_to_none=True)
        sum(terms.values()).backward()  # type: ignore[union-attr]
        optimizer.step()
        step += 1
        update_running(running, terms, keep=0.95)
        bar.update(1)
        bar.set_postfix({k: f"{v:.3g}" for k, v in running.items()})
        if step % config.adapt_every == 0:
            scores = probe_scores(net, styles.detach(), vgg, config.paintings, probes)
            weights = [steer(w, content, config.content_target, config.adapt_gain)
                       for w, (_, content, _) in zip(weights, scores, strict=True)]
            history.append({"step": step, "scores": [[round(value, 4) for value in score] for score in scores],
                            "style_weights": [round(w, 4) for w in weights]})
            bar.write(f"step {step}: " + ", ".join(f"{path.stem[:12]} {r:.3f}/{c:.3f}/{i:.1f} w {w:.2f}"
                                                  for path, (r, c, i), w
                                                  in zip(config.paintings, scores, weights, strict=True)))
            checkpoint()
        elif step % config.checkpoint_every == 0:
            checkpoint()
    bar.close()
    checkpoint()
    net.eval()
    loss = sum(running.values()) if running else float("nan")
    return DistillResult(net, styles.detach().clone(), step, seconds_before + time.monotonic() - start, loss,
                         step >= config.steps)


@torch.no_grad()
def probe_scores(net: MixStyleNet, styles: torch.Tensor, vgg: torch.nn.Module, paintings: list[Path],
                 probes: list[np.ndarray]) -> list[tuple[float, float, float]]:
    """(style ratio, content distance, invented structure) of each style on the probe pictures, as
    ``evaluate-style`` measures them."""
    net.eval()
    results = []
    for vector, painting in zip(styles, paintings, strict=True):
        def stylize(image: np.ndarray, vector: torch.Tensor = vector) -> np.ndarray:
            out = net(to_tensor(image), vector)[0]
            return (out.permute(1, 2, 0).numpy() * 255.0).round().clip(0, 255).astype(np.uint8)

        scores = score_style(vgg, read_rgb(painting), probes, stylize)  # type: ignore[arg-type]
        invented = motif_scores(probes, stylize).invented_structure
        results.append((scores.style_ratio, scores.content_distance, invented))
    net.train()
    return results
