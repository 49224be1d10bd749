"""Distilling single-style networks into the shared network: the warm start, the loss, resuming."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("tqdm")

from framestyle.train.distill import (  # noqa: E402
    DistillConfig,
    distill,
    distillation_loss,
    load_teacher,
    shared_weights_of,
    style_vector_of,
)
from framestyle.train.export import to_onnx_bytes  # noqa: E402
from framestyle.train.mixnet import MixStyleNet  # noqa: E402
from framestyle.train.net import FastStyleConfig, FastStyleNet  # noqa: E402

CONFIG = FastStyleConfig(width=(4, 8, 8), blocks=1)


def _teacher(path: Path, seed: int, config: FastStyleConfig = CONFIG) -> Path:
    """A random single-style network saved as a model with its card, as the bundled ones are."""
    torch.manual_seed(seed)
    net = FastStyleNet(config)
    for module in net.modules():  # random norm scales and shifts, so that teachers differ there too
        if isinstance(module, torch.nn.InstanceNorm2d):
            torch.nn.init.normal_(module.weight, 1.0, 0.3)
            torch.nn.init.normal_(module.bias, 0.0, 0.3)
    path.write_bytes(to_onnx_bytes(net))
    options = {"width": list(config.width), "blocks": config.blocks, "detail": 0}
    path.with_suffix(".json").write_text(json.dumps({"architecture": {"options": options}}))
    return path


def test_the_warm_start_reproduces_the_teacher_exactly(tmp_path: Path) -> None:
    teacher = load_teacher(_teacher(tmp_path / "a.onnx", 1))
    student = MixStyleNet(CONFIG).eval()
    student.load_state_dict(shared_weights_of(student, teacher))
    x = torch.rand(2, 3, 37, 51)
    with torch.no_grad():
        torch.testing.assert_close(student(x, style_vector_of(student, teacher)), teacher(x))


def test_the_loss_sees_pixels_and_their_edges() -> None:
    target = torch.zeros(1, 3, 8, 8)
    shifted = torch.full_like(target, 0.1)  # every pixel off, no edge
    edged = target.clone()
    edged[..., 4:, :] = 0.1  # half the pixels off, with an edge
    assert distillation_loss(target, target, 2.0) == 0
    assert distillation_loss(shifted, target, 0.0) > distillation_loss(edged, target, 0.0)
    assert distillation_loss(edged, target, 2.0) > distillation_loss(edged, target, 0.0)


@pytest.mark.slow
def test_a_run_trains_one_vector_per_teacher_and_resumes(tmp_path: Path) -> None:
    teachers = [_teacher(tmp_path / f"t{i}.onnx", i) for i in range(2)]
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 60, 3), dtype=np.uint8) for _ in range(3)]
    config = DistillConfig(teachers=teachers, out=tmp_path / "shared.onnx", width=CONFIG.width, blocks=1, steps=2,
                           batch=2, crop=24)
    first = distill(config, images, progress=False)
    assert first.steps_done == 2 and first.finished and first.styles.shape == (2, first.net.style_size)
    config.steps = 3
    resumed = distill(config, images, progress=False)
    assert resumed.steps_done == 3
    saved = torch.load(config.checkpoint, weights_only=False)
    assert saved["step"] == 3 and torch.equal(saved["styles"], resumed.styles)


@pytest.mark.slow
def test_a_wider_run_starts_narrower_teachers_styles_from_the_warm_starts(tmp_path: Path) -> None:
    wide = FastStyleConfig(width=(4, 8, 16), blocks=1)
    teachers = [_teacher(tmp_path / "narrow.onnx", 0), _teacher(tmp_path / "wide.onnx", 1, wide)]
    images = [np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)]
    config = DistillConfig(teachers=teachers, out=tmp_path / "shared.onnx", width=wide.width, blocks=1, steps=0,
                           batch=2, crop=24, init_from=1)
    result = distill(config, images, progress=False)
    torch.testing.assert_close(result.styles[0], result.styles[1])
    x = torch.rand(1, 3, 32, 40)
    with torch.no_grad():  # no step taken: the network is the wide teacher
        torch.testing.assert_close(result.net(x, result.styles[1:]), load_teacher(teachers[1])(x))
