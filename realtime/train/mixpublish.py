"""Turn a trained shared network into the files users get: the network (fp32 and fp16 ONNX, frame and style vector
in), its card, and one style card per style, holding the style's vector and its painting's credit.

A style card has the fields of a single-style card; its ``files`` name the shared network, and its ``shared``
block holds the vector (``style_size`` numbers) and the network's sha256, so a style never runs on another network.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import write_bytes_atomic
from ..catalog import CARD_SCHEMA
from ..imageio import read_rgb
from .distill import DistillConfig, DistillResult
from .evaluate import load_photos, score_style
from .export import OPSET, STYLE_INPUT_NAME, check_export, to_fp16, to_onnx_bytes
from .mixnet import MixStyleNet
from .net import count_macs_per_pixel
from .publish import IO_CONVENTION, sha256
from .sharedpaint import PaintConfig
from .vgg import load_vgg

DISTILLED = "distillation from the single-style networks (framestyle.train.distill)"
PAINTED = ("perceptual losses from the distilled network, each style steered to a content distance "
           "(framestyle.train.sharedpaint)")


def shared_io(style_size: int) -> dict[str, Any]:
    """The I/O convention of single-style models plus the style vector input."""
    return {**IO_CONVENTION, "style": {"name": STYLE_INPUT_NAME, "dtype": "float32", "shape": [style_size]}}


def style_stylizer(session, vector: np.ndarray):  # type: ignore[no-untyped-def]
    """(H, W, 3) uint8 -> stylized, by a shared network's ONNX Runtime session with one style vector."""
    return lambda image: session.run(None, {"frame": np.ascontiguousarray(image)[None],
                                            STYLE_INPUT_NAME: vector})[0][0]


def publish_shared(result: DistillResult, config: DistillConfig | PaintConfig, names: list[str], data: Path,
                   vgg_weights: Path | None, method: str = DISTILLED) -> None:
    """Write ``config.out`` (fp32), its fp16 twin, its card, and a card per style (``names``, in the order of the
    teachers) beside it, scored on the teachers' validation photos (found in the data kit ``data``); ``method``
    says how the network was trained."""
    import onnxruntime as ort

    out, net = config.out, result.net
    fp32 = to_onnx_bytes(net, net.style_size)
    fp16 = to_fp16(fp32)
    vectors = result.styles.numpy().astype(np.float32)
    check = check_export(net, fp32, style=vectors[0])
    fp16_name = f"{out.stem}.fp16.onnx"
    network_card = shared_card(config, result, fp32, fp16, fp16_name, asdict(check), method)
    session = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"])
    vgg = load_vgg(vgg_weights)
    style_cards = []
    for name, teacher, vector in zip(names, config.teachers, vectors, strict=True):
        teacher_card = json.loads(teacher.with_suffix(".json").read_text())
        scores = validation_scores(vgg, session, vector, teacher_card, data)
        style_cards.append(style_card(name, teacher_card, network_card, vector, scores,
                                      default=_is_default(out.with_name(f"{name}.json"))))
    write_bytes_atomic(out.with_name(fp16_name), fp16)
    write_bytes_atomic(out, fp32)
    write_bytes_atomic(out.with_suffix(".json"), _json(network_card))
    for card in style_cards:
        write_bytes_atomic(out.with_name(f"{card['name']}.json"), _json(card))


def validation_scores(vgg: torch.nn.Module, session, vector: np.ndarray, card: dict[str, Any],  # type: ignore[no-untyped-def]
                      data: Path) -> dict[str, Any]:
    """A style vector's scores on the validation photos and painting a card names (found in the data kit ``data``)."""
    photos = load_photos([data / "content" / name for name in card["validation"]["photo_names"]])
    painting = read_rgb(data / "styles" / card["painting"]["file"])
    return asdict(score_style(vgg, painting, photos, style_stylizer(session, vector)))


def _json(card: dict[str, Any]) -> bytes:
    return (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode()


def shared_card(config: DistillConfig | PaintConfig, result: DistillResult, fp32: bytes, fp16: bytes,
                fp16_name: str, export_check: dict[str, Any], method: str = DISTILLED) -> dict[str, Any]:
    """The shared network's card: architecture, I/O, files, the export check and how it was trained."""
    net: MixStyleNet = result.net
    return {
        "schema": CARD_SCHEMA,
        "kind": "shared-network",
        "name": config.out.stem,
        "style_size": net.style_size,
        "architecture": {
            "name": "shared",
            "options": {"width": list(net.config.width), "blocks": net.config.blocks},
            "mac_per_pixel": round(count_macs_per_pixel(FixedStyle(net, result.styles[0]))),
            "parameters": sum(p.numel() for p in net.parameters()),
        },
        "io": shared_io(net.style_size),
        "opset": OPSET,
        "files": {
            "fp32": {"file": config.out.name, "sha256": sha256(fp32), "bytes": len(fp32)},
            "fp16": {"file": fp16_name, "sha256": sha256(fp16), "bytes": len(fp16)},
        },
        "export_check": export_check,
        "training": {
            "method": method,
            **json.loads(json.dumps(asdict(config), default=str)),
            "teachers": [Path(p).name for p in config.teachers],
            "out": config.out.name,
            "steps_done": result.steps_done,
            "finished": result.finished,
            "seconds": round(result.seconds, 1),
            "final_running_loss": round(result.loss, 5),
            "machine": f"{platform.machine()} CPU, torch {torch.__version__}",
        },
    }


def _is_default(card_path: Path) -> bool:
    """Whether the card at ``card_path`` (a style card being replaced) marks the default style; False if none."""
    return card_path.is_file() and bool(json.loads(card_path.read_text()).get("default", False))


def style_card(name: str, teacher_card: dict[str, Any], network_card: dict[str, Any], vector: np.ndarray,
               scores: dict[str, Any], default: bool = False) -> dict[str, Any]:
    """A style of the shared network: the teacher's painting and credit, the network's files, the vector;
    ``default`` marks the bundled default style."""
    return {
        "schema": CARD_SCHEMA,
        "name": name,
        **{key: teacher_card[key] for key in ("title", "artist", "year", "painting")},
        "default": default,
        "architecture": network_card["architecture"],
        "io": network_card["io"],
        "opset": network_card["opset"],
        "files": network_card["files"],
        "shared": {"network": network_card["name"], "sha256": network_card["files"]["fp32"]["sha256"],
                   "vector": [round(float(v), 6) for v in vector]},
        "training": {"finished": network_card["training"]["finished"],
                     "distilled_from": {"file": f"{name}.onnx", "sha256": teacher_card["files"]["fp32"]["sha256"],
                                        "validation": teacher_card["validation"]},
                     "network": network_card["training"]},
        "validation": {**scores, "photo_names": teacher_card["validation"]["photo_names"]},
    }


class FixedStyle(torch.nn.Module):
    """The shared network with one style fixed, as a one-input network (to count its multiply-adds, or to fold the
    style into a single-style network: :mod:`.fold`)."""

    def __init__(self, net: MixStyleNet, vector: torch.Tensor) -> None:
        super().__init__()
        self.net, self.vector = net, vector

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x, self.vector)


def publish_refined_style(bundled_card: Path, refined: dict[str, Any], data: Path, vgg_weights: Path | None) -> dict:
    """Write a refined style vector (``refined``: the card :mod:`.newstyle` wrote for it) into the bundled style card
    of its name, with the vector's scores on the card's validation photos (found in the data kit ``data``) and how
    it was refined; returns the scores."""
    import onnxruntime as ort

    card = json.loads(bundled_card.read_text())
    if refined["shared"]["sha256"] != card["shared"]["sha256"]:
        raise ValueError(f"{refined['name']}: refined for another shared network than {bundled_card}'s")
    vector = np.asarray(refined["shared"]["vector"], np.float32)
    network = bundled_card.with_name(card["files"]["fp32"]["file"])
    session = ort.InferenceSession(str(network), providers=["CPUExecutionProvider"])
    scores = validation_scores(load_vgg(vgg_weights), session, vector, card, data)
    card["shared"]["vector"] = refined["shared"]["vector"]
    card["training"]["refined"] = refined["training"]
    card["validation"] = {**scores, "photo_names": card["validation"]["photo_names"]}
    write_bytes_atomic(bundled_card, _json(card))
    return scores
