"""ONNX Runtime sessions for style models: execution-provider choice with a verified fallback, fp16 models on
GPUs, and CPU threading suited to a pipeline that decodes and encodes at the same time."""

from __future__ import annotations

import logging
import os
import threading
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from .catalog import StyleModel
from .errors import MissingExtraError, ModelError, ProviderError
from .iobinding import BoundRunner

log = logging.getLogger(__name__)

#: ``--device`` names and their ONNX Runtime providers, in the order ``auto`` tries them.
PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
DEVICES = ("auto", *PROVIDERS)
_PROBE_SIZE = (1, 64, 96, 3)
#: Smallest side the graphs take when a card does not say (see ``io.min_side`` in the cards).
DEFAULT_MIN_SIDE = 16


def _onnxruntime():  # type: ignore[no-untyped-def]
    try:
        import onnxruntime
    except ImportError as error:
        raise MissingExtraError("ONNX Runtime is not installed: pip install 'framestyle[cpu]' (or [gpu] for "
                                "onnxruntime-gpu; install one of the two, never both)") from error
    return onnxruntime


def available_devices() -> list[str]:
    """The ``--device`` names whose ONNX Runtime provider this installation has, best first."""
    have = set(_onnxruntime().get_available_providers())
    return [device for device, provider in PROVIDERS.items() if provider in have]


@dataclass(frozen=True)
class EngineOptions:
    """How to run a model: ``device`` (auto, tensorrt, cuda or cpu), CPU threads (0: one per core), whether to use
    the fp16 file on GPUs, and whether to run through IO binding (None: on GPUs only, where it saves copies)."""

    device: str = "auto"
    threads: int = 0
    half_on_gpu: bool = True
    io_binding: bool | None = None


class StyleEngine:
    """Runs one style model on frames: ``engine(frame)`` maps (H, W, 3) uint8 RGB to the same shape.

    A shared network (a model with a style vector) takes the vector with each frame: ``engine(frame, vector)``, the
    model's own vector when none is given; one engine serves every style and mix of its network."""

    def __init__(self, model: StyleModel, options: EngineOptions | None = None, *,
                 slots: threading.Semaphore | None = None) -> None:
        """``slots``: a semaphore shared by engines whose runs are capped together (one slot a frame)."""
        options = options or EngineOptions()
        if options.device not in DEVICES:
            raise ProviderError(f"unknown device {options.device!r}: choose one of {', '.join(DEVICES)}")
        self.model = model
        self.options = options
        self._slots = slots
        self._session, self.device = self._open()
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name
        self._style_input = self._session.get_inputs()[-1].name  # a shared network's second input (io.style)
        self.vector = model.vector
        self.min_side = int(model.card.get("io", {}).get("min_side", DEFAULT_MIN_SIDE))
        bind = options.io_binding if options.io_binding is not None else self.device != "cpu"
        self._bound = BoundRunner(self._session, _onnxruntime(), self.device) if bind else None

    @property
    def io_binding(self) -> bool:
        """Whether frames go through IO binding."""
        return self._bound is not None

    @property
    def provider(self) -> str:
        """The ONNX Runtime provider that runs the model."""
        return PROVIDERS[self.device]

    def _candidates(self) -> list[str]:
        have = available_devices()
        if self.options.device == "auto":
            return have
        if self.options.device not in have:
            raise ProviderError(
                f"--device {self.options.device}: ONNX Runtime here has no {PROVIDERS[self.options.device]} "
                f"(it has: {', '.join(have)}); install framestyle[gpu] on a machine with a GPU, or use --device cpu")
        return [self.options.device]

    def _open(self):  # type: ignore[no-untyped-def]
        failures = []
        for device in self._candidates():
            try:
                session = self._session_for(device)
                self._verify(session, device)
            except ModelError:
                raise
            except Exception as error:  # a provider that fails to start or to run falls back to the next one
                if self.options.device != "auto":
                    raise ProviderError(f"--device {device}: {PROVIDERS[device]} failed: {error}") from error
                failures.append(f"{device}: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
                continue
            if failures:
                log.warning("falling back to %s (%s)", device, "; ".join(failures))
            return session, device
        raise ProviderError("no execution provider could run the model: " + "; ".join(failures))

    def _session_for(self, device: str):  # type: ignore[no-untyped-def]
        ort = _onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # A memory pattern preallocates one block for all of a run's intermediate tensors at a frame size; without
        # it peak memory at 1920x1080 is 0.89 GB instead of 1.09, at the same frames/s (docs/performance.md).
        options.enable_mem_pattern = False
        if device == "cpu":
            options.intra_op_num_threads = self.options.threads or (os.cpu_count() or 1)
            # Without spinning, idle inference threads give the CPU back to the decoder and encoder threads.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        half = device != "cpu" and self.options.half_on_gpu and self.model.fp16 is not None
        try:
            model_bytes = self.model.model_bytes(half=half)
        except OSError as error:
            raise ModelError(f"{self.model.fp32}: cannot read the model ({error})") from error
        providers = [PROVIDERS[device]] if device == "cpu" else [PROVIDERS[device], PROVIDERS["cpu"]]
        try:
            return ort.InferenceSession(model_bytes, options, providers=providers)
        except Exception as error:
            if device == "cpu":
                reason = str(error).splitlines()[0]
                raise ModelError(f"{self.model.name}: not a usable ONNX model ({reason})") from error
            raise

    def _verify(self, session, device: str) -> None:  # type: ignore[no-untyped-def]
        """Check on a probe frame that the provider asked for really runs the graph and gives a frame back."""
        if session.get_providers()[0] != PROVIDERS[device]:
            raise ProviderError(f"{PROVIDERS[device]} did not start")
        inputs, outputs = session.get_inputs(), session.get_outputs()
        vector = self.model.vector
        expected = 1 if vector is None else 2
        if len(inputs) != expected or len(outputs) != 1 or inputs[0].type != "tensor(uint8)":
            wanted = "one uint8 (1, H, W, 3) input" if vector is None else \
                "a uint8 (1, H, W, 3) input and a style vector"
            raise ModelError(f"{self.model.name}: expected {wanted} and one output, got "
                             f"{[(i.name, i.type, i.shape) for i in inputs]}")
        feeds: dict[str, np.ndarray] = {inputs[0].name: np.zeros(_PROBE_SIZE, dtype=np.uint8)}
        if vector is not None:
            if inputs[1].shape != [len(vector)]:
                raise ModelError(f"{self.model.name}: its style vector has {len(vector)} numbers, the network takes "
                                 f"{inputs[1].shape}")
            feeds[inputs[1].name] = vector
        (result,) = session.run(None, feeds)
        probe = feeds[inputs[0].name]
        if result.shape != probe.shape or result.dtype != np.uint8:
            raise ModelError(f"{self.model.name}: output {result.dtype} {result.shape} does not match input "
                             f"{probe.dtype} {probe.shape}")

    def __call__(self, frame: np.ndarray, vector: np.ndarray | None = None) -> np.ndarray:
        """Stylize one (H, W, 3) uint8 RGB frame of any size (frames under the model's minimum side are
        edge-padded for the network and cropped back); ``vector``: the style of a shared network (default: the
        model's own)."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        short_h, short_w = max(0, self.min_side - h), max(0, self.min_side - w)
        if short_h or short_w:
            frame = np.pad(frame, ((0, short_h), (0, short_w), (0, 0)), mode="edge")
        batch = np.ascontiguousarray(frame)[None]
        style = self._style_feed(vector)
        with self._slots if self._slots is not None else nullcontext():
            if self._bound is not None:
                result = self._bound(batch, style)
            else:
                (result,) = self._session.run([self._output], {self._input: batch, **style})
        return result[0, :h, :w]

    def _style_feed(self, vector: np.ndarray | None) -> dict[str, np.ndarray]:
        """The style input of a shared network ({} for a single-style one)."""
        if self.vector is None:
            if vector is not None:
                raise ModelError(f"{self.model.name} is a single-style network: it takes no style vector")
            return {}
        vector = self.vector if vector is None else np.asarray(vector, dtype=np.float32)
        if vector.shape != self.vector.shape:
            raise ModelError(f"{self.model.name}: a style vector of {vector.shape} for a network of "
                             f"{self.vector.shape}")
        return {self._style_input: vector}
