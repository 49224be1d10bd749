"""``Stylizer``: one frame in, one stylized frame out, with every per-frame option of the command line."""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from .catalog import StyleModel, resolve_style
from .engine import EngineOptions, StyleEngine
from .errors import InputError
from .imageio import resize_long_side
from .kernels.blend import apply_look
from .kernels.upsample import guided_upsample
from .limits import frame_size_problem
from .temporal import DEFAULT_TEMPORAL, TemporalFilter


class Stylizer:
    """Stylize frames with one style model.

    Args:
        style: a bundled style name, a path to an ``.onnx`` file, a :class:`StyleModel`, or None for the default.
        strength: 0..1, how much of the stylized frame is blended over the original.
        preserve_color: keep the original's colours and take only the luminance from the style.
        max_side: run the network with the frame's longer side at most this many pixels, and bring the result
            back to full resolution with an upsampling guided by the full-resolution frame.
        temporal: 0..1, flow-guided smoothing against flicker between consecutive frames (0: frame by frame), or
            a :class:`TemporalFilter` with settings of its own. Call :meth:`reset` between unrelated frames; scene
            cuts are detected and reset it by themselves.
        engine_options: execution provider (device), CPU threads, fp16 use on GPUs.
        in_flight: how many frames :meth:`stream` keeps in the network at once (on a CPU: one per core, with
            ``EngineOptions(threads=1)``, gives more frames/s than one frame on all cores; calls one frame at a time
            are not affected).
        engine: an already loaded network to use (e.g. one shared by a :class:`~framestyle.bank.StyleBank`) instead
            of loading ``style`` with ``engine_options``.
    """

    def __init__(self, style: str | StyleModel | None = None, *, strength: float = 1.0, preserve_color: bool = False,
                 max_side: int | None = None, temporal: float | TemporalFilter = DEFAULT_TEMPORAL,
                 engine_options: EngineOptions | None = None, in_flight: int = 1,
                 engine: StyleEngine | None = None) -> None:
        if not 0.0 <= strength <= 1.0:
            raise InputError(f"strength must be between 0 and 1, got {strength}")
        if in_flight < 1:
            raise InputError(f"frames in flight must be at least 1, got {in_flight}")
        if max_side is not None and max_side < 16:
            raise InputError(f"max side must be at least 16 pixels, got {max_side}")
        if engine is not None:
            self.model, self.engine = engine.model, engine
        else:
            self.model = style if isinstance(style, StyleModel) else resolve_style(style)
            self.engine = StyleEngine(self.model, engine_options or EngineOptions())
        self.strength = strength
        self.preserve_color = preserve_color
        self.max_side = max_side
        self.temporal = temporal if isinstance(temporal, TemporalFilter) else TemporalFilter(temporal)
        self.in_flight = in_flight
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="framestyle-temporal")
        weakref.finalize(self, self._worker.shutdown, wait=False)  # a dropped stylizer takes its thread with it

    def stylize_only(self, frame: np.ndarray) -> np.ndarray:
        """The network's output at the frame's size (after ``max_side`` and guided upsampling), before strength
        and colour options."""
        check_frame(frame)
        if self.max_side is not None and max(frame.shape[:2]) > self.max_side:
            small = resize_long_side(frame, self.max_side)
            return guided_upsample(self.engine(small), frame)
        return self.engine(frame)

    def __call__(self, frame: np.ndarray, motion: np.ndarray | None = None,
                 depth: np.ndarray | None = None) -> np.ndarray:
        """Stylize one (H, W, 3) uint8 RGB frame and return a frame of the same shape.

        ``motion`` (optional, (H, W, 2) float32 pixels): for each pixel of this frame, its displacement to where
        it was in the previous frame, as a game engine's motion vectors give it; it replaces optical flow.
        ``depth`` (optional, with ``motion``; (H, W) float32, linear, +inf for no geometry): the engine's depth, for
        a depth test against disocclusions.
        """
        if self.temporal.weight == 0.0:
            stylized = self.stylize_only(frame)
        else:
            # The smoothing's motion estimation and history warp run on a second thread while the network runs.
            prepared = self._worker.submit(self.temporal.prepare, frame, motion, depth)
            try:
                stylized = self.stylize_only(frame)
            finally:
                wait([prepared])  # the filter's state is settled whatever happened to the network
            stylized = self.temporal.finish(prepared.result(), stylized)
        return self._apply_options(frame, stylized)

    def stream(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Stylize a sequence of frames, yielding them in order: the same frames as calling the stylizer on each,
        but with ``in_flight`` frames in the network at once while the smoothing of the oldest runs (for throughput:
        each frame comes out ``in_flight`` frames later). Stopping the iteration early leaves no thread behind."""
        network = ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="framestyle-network")
        pending: deque[tuple[np.ndarray, Future[np.ndarray]]] = deque()
        try:
            for frame in frames:
                check_frame(frame)
                # One frame more than there are workers waits in the pool's queue, so a worker never idles.
                pending.append((frame, network.submit(self.stylize_only, frame)))
                if len(pending) > self.in_flight:
                    yield self._finish_oldest(pending)
            while pending:
                yield self._finish_oldest(pending)
        finally:
            network.shutdown(wait=True, cancel_futures=True)

    def _finish_oldest(self, pending: deque[tuple[np.ndarray, Future[np.ndarray]]]) -> np.ndarray:
        frame, stylized = pending.popleft()
        return self._apply_options(frame, self.temporal(frame, stylized.result()))

    def _apply_options(self, frame: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        return apply_look(frame, stylized, self.strength, self.preserve_color)

    def set_temporal(self, weight: float) -> None:
        """Change the temporal smoothing weight (0..1) between two frames; switching the smoothing on starts it
        from a fresh history (while off, the filter kept none)."""
        if not 0.0 <= weight <= 1.0:
            raise InputError(f"temporal weight must be between 0 and 1, got {weight}")
        if (weight == 0.0) != (self.temporal.weight == 0.0):
            self.temporal.reset()
        self.temporal.weight = weight

    def reset(self) -> None:
        """Forget the temporal history (call it between unrelated clips or at a camera cut)."""
        self.temporal.reset()


@dataclass(frozen=True)
class StyleOptions:
    """The options that choose and tune a style, as ``stylize video``, ``image``, ``webcam`` and ``bench`` take
    them; plain data, so a Ray task can be given them. ``threads``: CPU threads of the network (0: one per core)."""

    style: str | None = None
    strength: float = 1.0
    preserve_color: bool = False
    max_side: int | None = None
    temporal: float = DEFAULT_TEMPORAL
    device: str = "auto"
    threads: int = 0

    def stylizer(self, *, in_flight: int = 1) -> Stylizer:
        """A :class:`Stylizer` with these options (``in_flight``: see :class:`Stylizer`)."""
        return Stylizer(self.style, strength=self.strength, preserve_color=self.preserve_color,
                        max_side=self.max_side, temporal=self.temporal, in_flight=in_flight,
                        engine_options=EngineOptions(device=self.device, threads=self.threads))


def check_frame(frame: np.ndarray) -> None:
    """Refuse anything that is not an (H, W, 3) uint8 frame of a sane size."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"expected an (H, W, 3) uint8 RGB frame, got {frame.dtype} {frame.shape}")
    h, w = frame.shape[:2]
    problem = frame_size_problem(w, h)
    if problem:
        raise InputError(f"a frame of {problem}")
