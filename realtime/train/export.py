"""ONNX export of a trained network, with the run-time I/O convention built into the graph.

The exported graph takes ``frame``: uint8 (1, H, W, 3) RGB, and returns ``stylized``: uint8 (1, H, W, 3) RGB
of the same size; H and W are dynamic. The uint8 <-> float conversion and the NHWC <-> NCHW transposes are
inside the graph, so a caller hands decoded frames over as they are, and on a GPU those steps fuse with the
network.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

OPSET = 17
INPUT_NAME = "frame"
OUTPUT_NAME = "stylized"
#: The shared network's second input: float32 (P,), the style vector (a mix is a weighted sum of vectors).
STYLE_INPUT_NAME = "style"


class Uint8Frames(nn.Module):
    """Wrap a [0, 1] NCHW network into the uint8 NHWC convention of the exported models."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, frame: torch.Tensor, *style: torch.Tensor) -> torch.Tensor:
        x = frame.permute(0, 3, 1, 2).float() * (1.0 / 255.0)
        y = self.net(x, *style) * 255.0
        return torch.round(y).clamp(0.0, 255.0).to(torch.uint8).permute(0, 2, 3, 1)


def to_onnx_bytes(net: nn.Module, style_size: int = 0) -> bytes:
    """Trace ``net`` (in eval mode, on the CPU) into a serialized fp32 ONNX model with dynamic H and W; with a
    ``style_size``, the network is the shared one and takes a style vector of that size as a second input."""
    wrapper = Uint8Frames(net.eval().cpu())
    example = torch.randint(0, 256, (1, 67, 93, 3), dtype=torch.uint8)
    style = (torch.randn(style_size),) if style_size else ()
    buffer = io.BytesIO()
    torch.onnx.export(
        wrapper,
        (example, *style),
        buffer,
        input_names=[INPUT_NAME, *([STYLE_INPUT_NAME] if style_size else [])],
        output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: {1: "height", 2: "width"}, OUTPUT_NAME: {1: "height", 2: "width"}},
        opset_version=OPSET,
        dynamo=False,
    )
    return buffer.getvalue()


def to_fp16(model_bytes: bytes) -> bytes:
    """Convert an fp32 model to fp16 weights and activations; the uint8 I/O stays as it is."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load_from_string(model_bytes)
    half = convert_float_to_float16(model, keep_io_types=True, op_block_list=["Resize"])
    return half.SerializeToString()


@dataclass(frozen=True)
class ExportCheck:
    """Largest absolute difference (in uint8 levels) between ONNX Runtime and torch over random sizes."""

    sizes: list[tuple[int, int]]
    max_abs_diff: int
    mean_abs_diff: float


def check_export(net: nn.Module, model_bytes: bytes, seed: int = 0, trials: int = 3,
                 style: np.ndarray | None = None) -> ExportCheck:
    """Run the exported model in ONNX Runtime and the torch network on random sizes (odd ones included); a shared
    network runs with the style vector ``style``."""
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    generator = np.random.default_rng(seed)
    wrapper = Uint8Frames(net.eval().cpu())
    extra = {} if style is None else {STYLE_INPUT_NAME: style.astype(np.float32)}
    style_args = () if style is None else (torch.from_numpy(style.astype(np.float32)),)
    sizes: list[tuple[int, int]] = []
    worst, mean_sum = 0, 0.0
    for _ in range(trials):
        h, w = (int(v) for v in generator.integers(17, 200, size=2))
        frame = generator.integers(0, 256, size=(1, h, w, 3), dtype=np.uint8)
        (got,) = session.run(None, {INPUT_NAME: frame, **extra})
        with torch.no_grad():
            want = wrapper(torch.from_numpy(frame), *style_args).numpy()
        if got.shape != want.shape:
            raise RuntimeError(f"ONNX output shape {got.shape} differs from torch's {want.shape}")
        diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
        sizes.append((h, w))
        worst = max(worst, int(diff.max()))
        mean_sum += float(diff.mean())
    return ExportCheck(sizes=sizes, max_abs_diff=worst, mean_abs_diff=mean_sum / trials)


def time_onnx(model_bytes: bytes, height: int, width: int, runs: int = 10, threads: int = 0,
              style_vector: np.ndarray | None = None) -> float:
    """Median seconds per frame of the model in ONNX Runtime on the CPU; ``style_vector``: the style of a shared
    network (its second input)."""
    return time_onnx_in_turns([(model_bytes, style_vector)], height, width, runs, threads)[0]


def time_onnx_in_turns(models: list[tuple[bytes, np.ndarray | None]], height: int, width: int, runs: int = 10,
                       threads: int = 0) -> list[float]:
    """Median seconds per frame of each (model, style vector or None) in ONNX Runtime on the CPU, the models taking
    turns, so that a change in the machine's speed during the measurement affects them alike.

    Each of ``runs`` rounds gives every model about as long as the slowest model's one frame: with more than one
    model, a run untimed first (after the other models' runs, the first is slower: caches and threads have gone
    cold), then as many timed runs as fit, at least one. Each model is thus timed in its steady state, as it runs
    frame after frame in a video.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    frame = np.random.default_rng(0).integers(0, 256, size=(1, height, width, 3), dtype=np.uint8)
    runners = []
    for model_bytes, style_vector in models:
        session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        feeds = {INPUT_NAME: frame}
        if style_vector is not None:
            feeds[session.get_inputs()[1].name] = np.asarray(style_vector, dtype=np.float32)
        session.run(None, feeds)
        runners.append((session, feeds))

    def timed(session: Any, feeds: dict[str, np.ndarray]) -> float:
        start = time.perf_counter()
        session.run(None, feeds)
        return time.perf_counter() - start

    first = [timed(session, feeds) for session, feeds in runners]
    per_round = [max(1, round(max(first) / spent)) for spent in first]
    times: list[list[float]] = [[] for _ in runners]
    for _ in range(runs):
        for (session, feeds), count, spent in zip(runners, per_round, times, strict=True):
            if len(runners) > 1:
                session.run(None, feeds)
            spent.extend(timed(session, feeds) for _ in range(count))
    return [float(np.median(spent)) for spent in times]


def weights_from_onnx(model_bytes: bytes) -> dict[str, torch.Tensor]:
    """The network's state dict from a model this module exported (its initializers keep the parameter names)."""
    import onnx
    from onnx import numpy_helper

    prefix = "net."
    try:
        model = onnx.load_from_string(model_bytes)
    except Exception as error:  # protobuf's DecodeError and onnx's own errors have no common base
        raise ValueError("not an ONNX model") from error
    weights = {init.name[len(prefix):]: torch.from_numpy(numpy_helper.to_array(init).copy())
               for init in model.graph.initializer if init.name.startswith(prefix)}
    if not weights:
        raise ValueError("no network weights in this model")
    return weights
