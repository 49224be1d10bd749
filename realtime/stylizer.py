"""``Stylizer``: one frame in, one stylized frame out, with every per-frame option of the command line."""

from __future__ import annotations

import weakref
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from .catalog import StyleModel, resolve_style
from .engine import EngineOptions, StyleEngine
from .errors import InputError
from .imageio import resize_long_side
from .kernels.blend import blend_strength, preserve_color
from .kernels.upsample import guided_upsample
from .temporal import DEFAULT_TEMPORAL, TemporalFilter

#: Frames larger than this on either side are refused (a 16K frame is 15360 wide).
MAX_FRAME_SIDE = 16384


class Stylizer:
    """Stylize frames with one style model.

    Args:
        style: a bundled style name, a path to an ``.onnx`` file, a :class:`StyleModel`, or None for the default.
        strength: 0..1, how much of the stylized frame is blended over the original.
        preserve_color: keep the original's colours and take only the luminance from the style.
        max_side: run the network with the frame's longer side at most this many pixels, and bring the result
            back to full resolution with an upsampling guided by the full-resolution frame.
        temporal: 0..1, flow-guided smoothing against flicker between consecutive frames (0: frame by frame).
            Call :meth:`reset` between unrelated frames; scene cuts are detected and reset it by themselves.
        engine_options: execution provider (device), CPU threads, fp16 use on GPUs.
    """

    def __init__(self, style: str | StyleModel | None = None, *, strength: float = 1.0, preserve_color: bool = False,
                 max_side: int | None = None, temporal: float = DEFAULT_TEMPORAL,
                 engine_options: EngineOptions | None = None) -> None:
        if not 0.0 <= strength <= 1.0:
            raise InputError(f"strength must be between 0 and 1, got {strength}")
        if max_side is not None and max_side < 16:
            raise InputError(f"max side must be at least 16 pixels, got {max_side}")
        self.model = style if isinstance(style, StyleModel) else resolve_style(style)
        self.engine = StyleEngine(self.model, engine_options or EngineOptions())
        self.strength = strength
        self.preserve_color = preserve_color
        self.max_side = max_side
        self.temporal = TemporalFilter(temporal)
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

    def __call__(self, frame: np.ndarray, motion: np.ndarray | None = None) -> np.ndarray:
        """Stylize one (H, W, 3) uint8 RGB frame and return a frame of the same shape.

        ``motion`` (optional, (H, W, 2) float32 pixels): for each pixel of this frame, its displacement to where
        it was in the previous frame, as a game engine's motion vectors give it; it replaces optical flow.
        """
        if self.temporal.weight == 0.0:
            stylized = self.stylize_only(frame)
        else:
            # The smoothing's motion estimation and history warp run on a second thread while the network runs.
            prepared = self._worker.submit(self.temporal.prepare, frame, motion)
            try:
                stylized = self.stylize_only(frame)
            finally:
                wait([prepared])  # the filter's state is settled whatever happened to the network
            stylized = self.temporal.finish(prepared.result(), stylized)
        if self.preserve_color:
            stylized = preserve_color(frame, stylized)
        return blend_strength(frame, stylized, self.strength)

    def reset(self) -> None:
        """Forget the temporal history (call it between unrelated clips or at a camera cut)."""
        self.temporal.reset()


def check_frame(frame: np.ndarray) -> None:
    """Refuse anything that is not an (H, W, 3) uint8 frame of a sane size."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"expected an (H, W, 3) uint8 RGB frame, got {frame.dtype} {frame.shape}")
    h, w = frame.shape[:2]
    if min(h, w) < 1 or max(h, w) > MAX_FRAME_SIDE:
        raise InputError(f"frame size {w}x{h} is outside 1..{MAX_FRAME_SIDE} pixels a side")
