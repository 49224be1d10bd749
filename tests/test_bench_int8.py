"""tools/bench_int8.py: the quantised graphs are int8 and run, and their outputs are compared with the fp32 one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from framestyle.catalog import resolve_style  # noqa: E402

from .tool_module import load_tool  # noqa: E402


def test_the_default_style_quantises_to_int8_graphs_that_stay_near_fp32(tmp_path: Path) -> None:
    bench = load_tool("bench_int8")
    style = resolve_style(None)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, size=(1, 36, 64, 3), dtype=np.uint8) for _ in range(2)]
    models = bench.quantised(style, tmp_path, frames)
    assert [label for label, _ in models] == ["fp32"] + [label for label, *_ in bench.VARIANTS]
    for label, model in models:
        ops = {node.op_type for node in onnx.load_from_string(model).graph.node}
        assert ("QuantizeLinear" in ops) == (label != "fp32")
    cells = bench.differences(style, models, frames)
    assert cells[0] == "0.00 / 0.0"
    assert all(0 < float(cell.split(" / ")[0]) < 40 for cell in cells[1:])
