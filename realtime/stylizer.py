"""``Stylizer``: one frame in, one stylized frame out, with every per-frame option of the command line."""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import cv2
import numpy as np

from .catalog import StyleModel, resolve_style
from .crossfade import Crossfade
from .engine import EngineOptions, StyleEngine
from .errors import InputError
from .imageio import resize_long_side
from .kernels.blend import apply_look
from .kernels.flow import resize_flow
from .kernels.upsample import GuidedUpsampler, guided_upsample
from .limits import frame_size_problem
from .temporal import DEFAULT_TEMPORAL, TemporalFilter


def working_side(long_side: int, max_side: int | None) -> int:
    """The longer side the network and the smoothing run at for a frame whose longer side is ``long_side``: at most
    ``max_side``; the frame's own when ``max_side`` is None or 0 (the default: a working resolution changes the look,
    as the strokes are painted at its scale; docs/performance.md)."""
    return min(long_side, max_side) if max_side else long_side


class Stylizer:
    """Stylize frames with one style model, or a mix of styles of one shared network.

    Args:
        style: a bundled style name, a mix (``"starry_night=0.7,the_scream=0.3"``), a path to an ``.onnx`` file, a
            :class:`StyleModel`, or None for the default. :meth:`set_style` changes it between frames.
        strength: 0..1, how much of the stylized frame is blended over the original.
        preserve_color: keep the original's colours and take only the luminance from the style.
        max_side: run the network and the smoothing with the frame's longer side at most this many pixels, and
            bring the result back to full resolution with an upsampling guided by the full-resolution frame (faster
            on large frames; the strokes are painted at the working scale); None or 0 (default): the frame's own.
        temporal: 0..1, flow-guided smoothing against flicker between consecutive frames (0: frame by frame), or
            a :class:`TemporalFilter` with settings of its own. Call :meth:`reset` between unrelated frames; scene
            cuts are detected and reset it by themselves.
        engine_options: execution provider (device), CPU threads, fp16 use on GPUs.
        in_flight: how many frames :meth:`stream` keeps in the network at once (on a CPU: one per core, with
            ``EngineOptions(threads=1)``, gives more frames/s than one frame on all cores; calls one frame at a time
            are not affected).
        engine: an already loaded network to use (e.g. one shared by a :class:`~framestyle.bank.StyleBank`) instead
            of loading ``style`` with ``engine_options``; ``style`` is then a style it runs (default: its own).
    """

    def __init__(self, style: str | StyleModel | None = None, *, strength: float = 1.0, preserve_color: bool = False,
                 max_side: int | None = None, temporal: float | TemporalFilter = DEFAULT_TEMPORAL,
                 engine_options: EngineOptions | None = None, in_flight: int = 1,
                 engine: StyleEngine | None = None) -> None:
        if not 0.0 <= strength <= 1.0:
            raise InputError(f"strength must be between 0 and 1, got {strength}")
        if in_flight < 1:
            raise InputError(f"frames in flight must be at least 1, got {in_flight}")
        if max_side is not None and max_side != 0 and max_side < 16:
            raise InputError(f"max side must be 0 (full resolution) or at least 16 pixels, got {max_side}")
        if engine is not None:
            self.model = engine.model if style is None else style if isinstance(style, StyleModel) else \
                resolve_style(style)
            self.engine = engine
        else:
            self.model = style if isinstance(style, StyleModel) else resolve_style(style)
            self.engine = StyleEngine(self.model, engine_options or EngineOptions())
        self.strength = strength
        self.preserve_color = preserve_color
        self.max_side = max_side
        self.temporal = temporal if isinstance(temporal, TemporalFilter) else TemporalFilter(temporal)
        self.in_flight = in_flight
        self._fade: Crossfade | None = None
        self._upsample = GuidedUpsampler()  # one stream at a time, as the smoothing's history is
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="framestyle-temporal")
        weakref.finalize(self, self._worker.shutdown, wait=False)  # a dropped stylizer takes its thread with it

    def working_frame(self, frame: np.ndarray) -> np.ndarray:
        """``frame`` at the resolution the network and the smoothing run at (itself if that is its own)."""
        height, width = frame.shape[:2]
        side = working_side(max(height, width), self.max_side)
        return frame if side == max(height, width) else resize_long_side(frame, side)

    def stylize_only(self, frame: np.ndarray) -> np.ndarray:
        """The network's output at the frame's size (after ``max_side`` and guided upsampling), before smoothing,
        strength and colour options."""
        check_frame(frame)
        return guided_upsample(self._infer(self.working_frame(frame)), frame)

    def __call__(self, frame: np.ndarray, motion: np.ndarray | None = None,
                 depth: np.ndarray | None = None) -> np.ndarray:
        """Stylize one (H, W, 3) uint8 RGB frame and return a frame of the same shape.

        ``motion`` (optional, (H, W, 2) float32 pixels): for each pixel of this frame, its displacement to where
        it was in the previous frame, as a game engine's motion vectors give it; it replaces optical flow.
        ``depth`` (optional, with ``motion``; (H, W) float32, linear, +inf for no geometry): the engine's depth, for
        a depth test against disocclusions.
        """
        check_frame(frame)
        small = self.working_frame(frame)
        if self.temporal.weight == 0.0:
            smoothed = self._infer(small)
        else:
            if small is not frame:
                motion, depth = _working_motion(motion, depth, frame.shape[:2], small.shape[:2])
            # The smoothing's motion estimation and history warp run on a second thread while the network runs.
            prepared = self._worker.submit(self.temporal.prepare, small, motion, depth)
            try:
                stylized = self._infer(small)
            finally:
                wait([prepared])  # the filter's state is settled whatever happened to the network
            smoothed = self.temporal.finish(prepared.result(), stylized)
        return self._apply_options(frame, self._upsample(smoothed, frame))

    def stream(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Stylize a sequence of frames, yielding them in order: the same frames as calling the stylizer on each,
        but with ``in_flight`` frames in the network at once while the smoothing of the oldest runs (for throughput:
        each frame comes out ``in_flight`` frames later). Stopping the iteration early leaves no thread behind."""
        network = ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="framestyle-network")
        pending: deque[tuple[np.ndarray, Future[tuple[np.ndarray, np.ndarray]]]] = deque()
        try:
            for frame in frames:
                check_frame(frame)
                # One frame more than there are workers waits in the pool's queue, so a worker never idles.
                pending.append((frame, network.submit(self._network, frame)))
                if len(pending) > self.in_flight:
                    yield self._finish_oldest(pending)
            while pending:
                yield self._finish_oldest(pending)
        finally:
            network.shutdown(wait=True, cancel_futures=True)

    def _network(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The frame at the working resolution, and the network's output for it."""
        small = self.working_frame(frame)
        return small, self._infer(small)

    def _infer(self, small: np.ndarray) -> np.ndarray:
        """The network's output for a working-size frame, in the current style or the fade to it."""
        fade = self._fade
        if fade is not None:
            if fade.progress() < 1.0:
                return fade.run(small)
            self._fade = None
        vector = self.model.vector
        return self.engine(small) if vector is None else self.engine(small, vector)

    def set_style(self, style: str | StyleModel, *, engine: StyleEngine | None = None, fade: float = 0.0,
                  clock: Callable[[], float] = time.monotonic) -> None:
        """Change the style (a name, a mix, a path or a :class:`StyleModel`) from the next frame on, fading over
        ``fade`` seconds of ``clock`` (0: at once). Styles and mixes of the current shared network reuse its loaded
        network (nothing is loaded); another network is loaded with this stylizer's options unless ``engine`` gives
        it. The temporal history is kept, so even a cut settles over a few frames. A change at once (``fade`` 0)
        during a fade to the same network changes where the fade goes, not how long it lasts."""
        if fade < 0:
            raise InputError(f"a fade takes 0 seconds or more, got {fade}")
        model = style if isinstance(style, StyleModel) else resolve_style(style)
        if engine is None:
            engine = self.engine if model.network == self.engine.model.network else \
                StyleEngine(model, self.engine.options)
        running = self._fade if self._fade is not None and self._fade.progress() < 1.0 else None
        if fade == 0 and running is not None and running.new_engine is engine:
            running.new_vector = model.vector  # e.g. a mixer's slider during a fade: it goes on to the new mix
        else:
            old_engine, old_vector = self.engine, self.model.vector
            if running is not None and running.old_engine is running.new_engine is engine:
                old_vector = running.vector_now()  # a switch during a fade starts from where the fade is
            self._fade = Crossfade(old_engine, old_vector, engine, model.vector, fade, clock) if fade > 0 else None
        self.model, self.engine = model, engine

    def _finish_oldest(self, pending: deque[tuple[np.ndarray, Future[tuple[np.ndarray, np.ndarray]]]]) -> np.ndarray:
        frame, done = pending.popleft()
        small, stylized = done.result()
        return self._apply_options(frame, self._upsample(self.temporal(small, stylized), frame))

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


def _working_motion(motion: np.ndarray | None, depth: np.ndarray | None, full: tuple[int, ...],
                    working: tuple[int, ...]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """An engine's motion vectors and depth of the frame's size ``full`` brought to the ``working`` (h, w) size
    (others are passed on as they are, for the smoothing to refuse)."""
    size = (working[1], working[0])
    if motion is not None and motion.shape[:2] == full:
        motion = resize_flow(motion, size)
    if depth is not None and depth.shape[:2] == full:
        depth = cv2.resize(depth, size, interpolation=cv2.INTER_NEAREST)
    return motion, depth
