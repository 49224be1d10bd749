"""Tiny ONNX models built with onnx.helper, standing in for style networks in tests."""

from __future__ import annotations

from pathlib import Path

import pytest


def save_frame_model(path: Path, name: str, nodes: list, initializers: list) -> Path:
    """Save a graph of ``nodes`` with the style networks' I/O (input ``frame``, output ``stylized``: uint8
    (1, H, W, 3)) and ``initializers`` as an opset-17 model at ``path``."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    frame = [1, "height", "width", 3]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("frame", TensorProto.UINT8, frame)],
                              [helper.make_tensor_value_info("stylized", TensorProto.UINT8, frame)], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def write_invert_model(path: Path) -> Path:
    """A model with the style networks' I/O (uint8 (1, H, W, 3) -> same) that outputs 255 - frame."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    return save_frame_model(path, "invert", [
        helper.make_node("Cast", ["frame"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["c255", "f"], ["inv"]),
        helper.make_node("Cast", ["inv"], ["stylized"], to=TensorProto.UINT8),
    ], [helper.make_tensor("c255", TensorProto.FLOAT, [], [255.0])])


def write_flat_model(path: Path, level: int = 128) -> Path:
    """A model with the style networks' I/O that paints every pixel grey ``level``: a style that keeps nothing."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    return save_frame_model(path, "flat", [
        helper.make_node("Cast", ["frame"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["f", "zero"], ["blank"]),
        helper.make_node("Add", ["blank", "level"], ["grey"]),
        helper.make_node("Cast", ["grey"], ["stylized"], to=TensorProto.UINT8),
    ], [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
         helper.make_tensor("level", TensorProto.FLOAT, [], [float(level)])])


def write_grid_model(path: Path, period: int, amplitude: float) -> Path:
    """A model with the style networks' I/O that adds ``amplitude`` grey levels to the pixels at y and x multiples
    of ``period``: a planted grid texture of known size."""
    pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    pattern = np.zeros((1, period, period, 1), np.float32)
    pattern[0, 0, 0, 0] = amplitude
    constants = {"pattern": pattern, "sides": np.array([1, 2], np.int64), "period": np.array(period, np.int64),
                 "one": np.array([1], np.int64), "zeros": np.array([0, 0], np.int64), "low": np.array(0, np.float32),
                 "high": np.array(255, np.float32)}
    return save_frame_model(path, "grid", [
        helper.make_node("Cast", ["frame"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Shape", ["frame"], ["shape"]),
        helper.make_node("Gather", ["shape", "sides"], ["hw"]),
        helper.make_node("Add", ["hw", "period"], ["padded"]),
        helper.make_node("Div", ["padded", "period"], ["tiles"]),  # one tile more than needed, cut below
        helper.make_node("Concat", ["one", "tiles", "one"], ["repeats"], axis=0),
        helper.make_node("Tile", ["pattern", "repeats"], ["tiled"]),
        helper.make_node("Slice", ["tiled", "zeros", "hw", "sides"], ["grid"]),
        helper.make_node("Add", ["f", "grid"], ["sum"]),
        helper.make_node("Clip", ["sum", "low", "high"], ["clipped"]),
        helper.make_node("Cast", ["clipped"], ["stylized"], to=TensorProto.UINT8),
    ], [numpy_helper.from_array(value, name) for name, value in constants.items()])


#: The styles of :func:`write_tiny_shared`.
STYLES = ("red", "green", "blue")


def write_tiny_shared(folder: Path) -> dict[str, Path]:
    """A small random shared network (``net.onnx``) and the cards of three styles of it (``red``, ``green`` and
    ``blue``, with distinct vectors) in ``folder``; returns the card paths by name. Needs torch."""
    torch = pytest.importorskip("torch")
    import json

    import numpy as np

    from framestyle.train.export import to_onnx_bytes
    from framestyle.train.mixnet import MixStyleNet
    from framestyle.train.mixpublish import shared_io
    from framestyle.train.net import FastStyleConfig
    from framestyle.train.publish import sha256

    torch.manual_seed(0)
    net = MixStyleNet(FastStyleConfig(width=(4, 8, 8), blocks=1)).eval()
    model = to_onnx_bytes(net, net.style_size)
    (folder / "net.onnx").write_bytes(model)
    files = {"fp32": {"file": "net.onnx", "sha256": sha256(model), "bytes": len(model)}}
    rng = np.random.default_rng(1)
    cards = {}
    for index, name in enumerate(STYLES):
        vector = rng.normal(0.0, 1.0, net.style_size) + (index - 1) * 2.0
        card = {"schema": 1, "name": name, "title": name.title(), "artist": "Test", "year": "2026", "default": False,
                "architecture": {"name": "shared", "options": {"width": [4, 8, 8], "blocks": 1}},
                "io": shared_io(net.style_size), "files": files,
                "shared": {"network": "net", "sha256": files["fp32"]["sha256"], "vector": vector.tolist()}}
        cards[name] = folder / f"{name}.json"
        cards[name].write_text(json.dumps(card))
    return cards


def bundled_in_subprocesses(models: Path, folder: Path) -> str:
    """A folder to put on ``PYTHONPATH`` so that Python subprocesses take ``models`` as the installation's bundled
    styles (a ``sitecustomize`` that points ``framestyle.catalog`` at it)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "from pathlib import Path\n\nimport framestyle.catalog\n\n"
        f"framestyle.catalog._models_folder = lambda: Path({str(models)!r})\n")
    return str(folder)
