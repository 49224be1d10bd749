"""``TemporalFilter``: removes the frame-to-frame flicker of per-frame style networks without smearing motion.

The previous smoothed output is warped onto the current frame by the motion between the previous and the current
input frame, then blended into the current stylization with ``weight · confidence``. The confidence is 0 wherever
the warp cannot be trusted (occlusions and disocclusions, motion boundaries, pixels whose source left the frame,
pixels whose warped input does not match), so moving objects leave no trail. Motion and confidence are computed on
grey frames downscaled to ``flow_side`` pixels; only the warp and the blend run at full resolution. A scene cut
(the warped previous input far worse than usual) restarts the smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .errors import InputError
from .kernels.flow import MIN_FLOW_SIDE, ULTRAFAST, create_dis, dense_flow, flow_size, grey, resize_flow
from .kernels.occlusion import photometric_confidence, reliable_mask
from .kernels.temporal_blend import temporal_blend
from .kernels.warp import warp

#: Default share of the warped previous output in each trusted pixel (0: filter off).
DEFAULT_TEMPORAL = 0.7
#: Default longer side, in pixels, of the grey frames the motion is estimated on.
DEFAULT_FLOW_SIDE = 160

# Thresholds of kernels.occlusion, for flows in pixels of the downscaled frames, and grey levels (0..255).
_CONSISTENCY = (0.01, 0.5)
_BOUNDARY = (0.01, 0.05)
_PHOTOMETRIC = (6.0, 20.0)
# A scene cut: a mean grey-level error of the warped previous input above _CUT_FLOOR and _CUT_RATIO times the
# running mean (weight _CUT_MEMORY for the newest frame) of the previous frames' errors.
_CUT_FLOOR = 10.0
_CUT_RATIO = 3.0
_CUT_MEMORY = 0.5
_ERODE = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))


@dataclass(frozen=True)
class PreparedFrame:
    """What :meth:`TemporalFilter.prepare` computed for one frame: its shape, and, unless the frame starts afresh
    (first frame, cut, size change, filter off), the previous output warped onto it and the (h, w) confidence."""

    shape: tuple[int, ...]
    history: np.ndarray | None = None
    confidence: np.ndarray | None = None


class TemporalFilter:
    """Temporal smoothing of a stylized video, one frame at a time; ``reset()`` between unrelated clips.

    Args:
        weight: 0..1, the share of the warped previous output in pixels where the warp is trusted; 0 turns the
            filter off (``stylized`` is returned unchanged).
        flow_side: the longer side, in pixels, of the grey frames the motion is estimated on (never enlarged).
    """

    def __init__(self, weight: float = DEFAULT_TEMPORAL, flow_side: int = DEFAULT_FLOW_SIDE) -> None:
        if not 0.0 <= weight <= 1.0:
            raise InputError(f"temporal weight must be between 0 and 1, got {weight}")
        if flow_side < 32:
            raise InputError(f"flow side must be at least 32 pixels, got {flow_side}")
        self.weight = weight
        self.flow_side = flow_side
        self._dis = create_dis(ULTRAFAST, finest_scale=1)
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next frame comes out as its plain stylization."""
        self._grey: np.ndarray | None = None
        self._output: np.ndarray | None = None
        self._typical_error: float | None = None

    def __call__(self, frame: np.ndarray, stylized: np.ndarray, motion: np.ndarray | None = None) -> np.ndarray:
        """The smoothed output for one frame: ``finish(prepare(frame, motion), stylized)``.

        Args:
            frame: the current input frame, (H, W, 3) uint8 RGB.
            stylized: the network's output for it, same shape.
            motion: optional motion vectors from the source (a game engine, a decoder), (H, W, 2) float32 in pixels:
                for each pixel x of the current frame, the displacement to where it was in the previous frame, so
                that ``previous(x + motion(x))`` is what is now at x (a backward flow). Used instead of optical
                flow; the forward-backward check is then skipped and the photometric check kept.

        Returns:
            (H, W, 3) uint8: ``stylized`` itself on the first frame, after a scene cut or a change of size, when
            ``weight`` is 0, and for frames under ``MIN_FLOW_SIDE`` (16) pixels on a side. The filter keeps the
            returned frame as its history: do not modify it in place.
        """
        return self.finish(self.prepare(frame, motion), stylized)

    def prepare(self, frame: np.ndarray, motion: np.ndarray | None = None) -> PreparedFrame:
        """The part of the smoothing that does not need the frame's stylization (motion, confidence, the previous
        output warped onto this frame), so it can run while the network runs. Pass the result to :meth:`finish`
        before preparing the next frame."""
        _check(frame, motion)
        height, width = frame.shape[:2]
        if self.weight == 0.0 or min(height, width) < MIN_FLOW_SIDE:
            return PreparedFrame(frame.shape)
        size = flow_size(height, width, self.flow_side)
        current_grey = grey(frame, size)
        previous_grey, previous = self._grey, self._output
        self._grey = current_grey
        if previous is None or previous_grey is None or previous.shape != frame.shape:
            return PreparedFrame(frame.shape)
        if motion is None:
            flow = dense_flow(self._dis, current_grey, previous_grey)
            reverse = dense_flow(self._dis, previous_grey, current_grey)
        else:
            flow, reverse = resize_flow(motion, size), None
        warped_grey = warp(previous_grey, flow)
        if self._is_cut(warped_grey, current_grey):
            return PreparedFrame(frame.shape)
        confidence = photometric_confidence(warped_grey, current_grey, *_PHOTOMETRIC)
        confidence *= reliable_mask(flow, reverse, consistency=_CONSISTENCY, boundary=_BOUNDARY)
        confidence = cv2.erode(confidence, _ERODE)  # a margin, so the upscaled mask is 0 over every untrusted pixel
        full_flow = motion if motion is not None else resize_flow(flow, (width, height))
        # Bicubic: the history is warped again every frame, and bilinear resampling would blur its texture away.
        return PreparedFrame(frame.shape, warp(previous, full_flow, cubic=True), confidence)

    def finish(self, prepared: PreparedFrame, stylized: np.ndarray) -> np.ndarray:
        """The smoothed output: the prepared history blended into ``stylized`` (the network's output for the frame
        given to :meth:`prepare`). The result becomes the history of the next frame: do not modify it in place."""
        if stylized.shape != prepared.shape or stylized.dtype != np.uint8:
            raise InputError(f"the stylized frame is {stylized.dtype} {stylized.shape}, the input frame "
                             f"{prepared.shape}")
        if self.weight == 0.0:
            return stylized
        self._output = stylized if prepared.history is None else temporal_blend(
            stylized, prepared.history, prepared.confidence, self.weight)
        return self._output

    def _is_cut(self, warped_grey: np.ndarray, current_grey: np.ndarray) -> bool:
        """Whether the previous frame, even moved along the motion, matches far worse than the frames before did."""
        error = cv2.norm(warped_grey, current_grey, cv2.NORM_L1) / current_grey.size
        typical = self._typical_error
        self._typical_error = error if typical is None else typical + _CUT_MEMORY * (error - typical)
        return error > _CUT_FLOOR and (typical is None or error > _CUT_RATIO * typical)


def _check(frame: np.ndarray, motion: np.ndarray | None) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"expected an (H, W, 3) uint8 RGB frame, got {frame.dtype} {frame.shape}")
    if motion is not None and (motion.shape != (*frame.shape[:2], 2) or motion.dtype != np.float32):
        raise InputError(f"motion vectors must be (H, W, 2) float32 for a frame of {frame.shape[:2]}, got "
                         f"{motion.dtype} {motion.shape}")
