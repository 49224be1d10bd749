"""Tiny ONNX models built with onnx.helper, standing in for style networks in tests."""

from __future__ import annotations

from pathlib import Path

import pytest


def write_invert_model(path: Path) -> Path:
    """A model with the style networks' I/O (uint8 (1, H, W, 3) -> same) that outputs 255 - frame."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["frame"], ["f"], to=TensorProto.FLOAT),
            helper.make_node("Sub", ["c255", "f"], ["inv"]),
            helper.make_node("Cast", ["inv"], ["stylized"], to=TensorProto.UINT8),
        ],
        "invert",
        [helper.make_tensor_value_info("frame", TensorProto.UINT8, [1, "height", "width", 3])],
        [helper.make_tensor_value_info("stylized", TensorProto.UINT8, [1, "height", "width", 3])],
        [helper.make_tensor("c255", TensorProto.FLOAT, [], [255.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path
