"""Turn a trained network into the files users get: fp32 and fp16 ONNX models and the JSON model card."""

from __future__ import annotations

import hashlib
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
from .config import TrainConfig
from .evaluate import StyleScores, load_photos, score_style
from .export import INPUT_NAME, OPSET, OUTPUT_NAME, ExportCheck, check_export, to_fp16, to_onnx_bytes
from .loop import TrainResult
from .net import MIN_SIDE, count_macs_per_pixel, network_options
from .vgg import load_vgg

IO_CONVENTION = {
    "input": {"name": INPUT_NAME, "dtype": "uint8", "shape": [1, "height", "width", 3], "layout": "NHWC",
              "color": "RGB", "range": [0, 255]},
    "output": {"name": OUTPUT_NAME, "dtype": "uint8", "shape": [1, "height", "width", 3], "layout": "NHWC",
               "color": "RGB", "range": [0, 255]},
    "min_side": MIN_SIDE,
    "notes": "height and width >= min_side (the runtime pads smaller frames); uint8 <-> float conversion and "
             "layout transposes are inside the graph",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def onnx_session_stylizer(model_bytes: bytes):  # type: ignore[no-untyped-def]
    """A function (H, W, 3) uint8 -> stylized (H, W, 3) uint8 backed by ONNX Runtime on the CPU."""
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return lambda image: session.run(None, {INPUT_NAME: np.ascontiguousarray(image)[None]})[0][0]


def publish(config: TrainConfig, result: TrainResult) -> dict[str, Any]:
    """Export ``result.net`` to ``config.out`` (fp32) and ``<stem>.fp16.onnx``, check the export against torch,
    score it on the validation photos, and write the card ``<stem>.json``. Returns the card."""
    out = config.out
    fp32 = to_onnx_bytes(result.net)
    fp16 = to_fp16(fp32)
    check = check_export(result.net, fp32, seed=config.seed)
    scores = None
    if config.validation:
        vgg = load_vgg(config.vgg_weights)
        scores = score_style(vgg, read_rgb(config.style), load_photos(config.validation), onnx_session_stylizer(fp32))
    fp16_path = out.with_name(f"{out.stem}.fp16.onnx")
    write_bytes_atomic(fp16_path, fp16)
    write_bytes_atomic(out, fp32)
    card = build_card(config, result, fp32, fp16, fp16_path.name, check, scores)
    write_bytes_atomic(out.with_suffix(".json"), (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode())
    return card


def build_card(config: TrainConfig, result: TrainResult, fp32: bytes, fp16: bytes, fp16_name: str,
               check: ExportCheck, scores: StyleScores | None) -> dict[str, Any]:
    """The model card: painting credit, architecture and cost, training recipe, validation scores, files."""
    training = config.to_json()
    for key in ("title", "artist", "year", "credit", "licence", "out", "name"):
        training.pop(key)
    return {
        "schema": CARD_SCHEMA,
        "name": config.name,
        "title": config.title or config.name,
        "artist": config.artist,
        "year": config.year,
        "painting": {"file": config.style.name, "credit": config.credit, "licence": config.licence},
        "default": False,
        "architecture": {
            "name": config.arch,
            "options": network_options(result.net),
            "mac_per_pixel": round(count_macs_per_pixel(result.net)),
            "parameters": sum(p.numel() for p in result.net.parameters()),
        },
        "io": IO_CONVENTION,
        "opset": OPSET,
        "files": {
            "fp32": {"file": config.out.name, "sha256": sha256(fp32), "bytes": len(fp32)},
            "fp16": {"file": fp16_name, "sha256": sha256(fp16), "bytes": len(fp16)},
        },
        "export_check": asdict(check),
        "training": {
            **training,
            "content": [Path(p).name for p in config.content],
            "videos": [Path(p).name for p in config.videos],
            "validation": [Path(p).name for p in config.validation],
            "style": config.style.name,
            "init": Path(config.init).name if config.init else None,
            "vgg_weights": Path(config.vgg_weights).name if config.vgg_weights else "torchvision IMAGENET1K_V1",
            "steps_done": result.steps_done,
            "finished": result.finished,
            "seconds": round(result.seconds, 1),
            "final_running_losses": {k: round(v, 5) for k, v in result.losses.items()},
            "machine": f"{platform.machine()} CPU, torch {torch.__version__}",
        },
        "validation": asdict(scores) if scores else None,
    }
