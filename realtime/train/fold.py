"""A style of a shared network as a single-style network: the style's vector fixed inside the graph, so the network
takes a frame only and can be bundled under the style's name (mixes still take the shared network's style)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import write_bytes_atomic
from ..catalog import resolve_style
from .export import check_export, to_fp16, to_onnx_bytes, weights_from_onnx
from .mixnet import network_for
from .mixpublish import FixedStyle
from .net import count_macs_per_pixel
from .newstyle import load_shared
from .publish import IO_CONVENTION, sha256

#: The ``architecture`` name of a shared network with one style fixed in it.
FOLDED = "shared-fixed"


def fold_style(style_card: Path, out: Path) -> dict[str, Any]:
    """Write ``out`` (fp32 ONNX, frame in), its fp16 twin and its card for the shared-network style of
    ``style_card``; the card keeps the style's credit, training record and scores, and says which network and vector
    it was made from. Returns the card."""
    card = json.loads(style_card.read_text())
    if "shared" not in card:
        raise ValueError(f"{style_card}: not the card of a style of a shared network")
    folder, fp16_path = style_card.parent, out.with_name(f"{out.stem}.fp16.onnx")
    inputs = {style_card.resolve(), *((folder / entry["file"]).resolve() for entry in card["files"].values())}
    if inputs & {path.resolve() for path in (out, fp16_path, out.with_suffix(".json"))}:
        raise ValueError(f"{out}: would overwrite the style card or its network's files; choose another name")
    style = resolve_style(str(style_card))
    net = FixedStyle(load_shared(style), torch.from_numpy(style.vector))
    fp32 = to_onnx_bytes(net)
    fp16 = to_fp16(fp32)
    check = check_export(net, fp32)
    folded = {key: value for key, value in card.items() if key != "shared"}
    folded.update({
        "name": out.stem,
        "default": False,
        "architecture": {"name": FOLDED, "options": card["architecture"]["options"],
                         "mac_per_pixel": round(count_macs_per_pixel(net)),
                         "parameters": card["architecture"]["parameters"]},
        "io": IO_CONVENTION,
        "files": {"fp32": {"file": out.name, "sha256": sha256(fp32), "bytes": len(fp32)},
                  "fp16": {"file": fp16_path.name, "sha256": sha256(fp16), "bytes": len(fp16)}},
        "export_check": asdict(check),
        "training": {**card["training"], "folded_from": {"network": card["shared"]["network"],
                                                          "sha256": card["shared"]["sha256"],
                                                          "vector": card["shared"]["vector"]}},
    })
    write_bytes_atomic(fp16_path, fp16)
    write_bytes_atomic(out, fp32)
    write_bytes_atomic(out.with_suffix(".json"), (json.dumps(folded, indent=2, ensure_ascii=False) + "\n").encode())
    return folded


def folded_network(card: dict[str, Any], fp32: bytes) -> FixedStyle:
    """The torch network a folded card describes, with the weights of its fp32 file (for checking the file)."""
    vector = torch.from_numpy(np.asarray(card["training"]["folded_from"]["vector"], np.float32))
    net = FixedStyle(network_for(card["architecture"]["options"]).eval(), vector)
    net.load_state_dict(weights_from_onnx(fp32))
    return net
