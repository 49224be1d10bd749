"""``TemporalFilter``: removes the frame-to-frame flicker of per-frame style networks without smearing motion.

The previous smoothed output is warped onto the current frame by the motion between the previous and the current
input frame, then blended into the current stylization with ``weight · confidence``. The confidence is 0 wherever
the warp cannot be trusted: pixels whose warped input does not match the current input in colour (occlusions,
disocclusions and flow errors show up there), motion boundaries, pixels whose source left the frame. So moving
objects leave no trail. A forward-backward flow check is not used: it doubled the flow's cost and, behind the colour
check, removed more trustworthy pixels than ghosts (measured in docs/temporal.md). Motion and confidence are computed
on frames downscaled to ``flow_side`` pixels (the motion on grey, with DIS); only the warp and the blend run at full
resolution. A scene cut (the warped previous input far worse than usual) restarts the smoothing.

A game engine can send its own motion vectors, and its depth: the vectors replace the optical flow, and the depth
replaces the motion-boundary check by a depth test (a pixel whose surface was hidden in the previous frame, a
disocclusion, takes no history). This one filter serves files, cameras and the engine feed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .errors import InputError
from .kernels.flow import FAST, MIN_FLOW_SIDE, create_dis, dense_flow, flow_size, resize_flow, small_colour
from .kernels.occlusion import DEFAULT_DEPTH_TOLERANCE, depth_confidence, photometric_confidence, reliable_mask
from .kernels.temporal_blend import temporal_blend
from .kernels.warp import warp

#: Default share of the warped previous output in each trusted pixel (0: filter off).
DEFAULT_TEMPORAL = 0.8
#: Default longer side, in pixels, of the downscaled frames the motion is estimated on.
DEFAULT_FLOW_SIDE = 320

# The motion-boundary thresholds of kernels.occlusion, for flows in pixels of the downscaled frames.
_BOUNDARY = (0.01, 0.05)
# The photometric check: the largest channel difference (0..255) of the warped previous input, downscaled, up to which
# the history is fully trusted, and from which not at all. Estimated flow is approximate everywhere (sub-pixel errors,
# smoothed edges), so its check is looser than that of an engine's exact motion vectors, whose mismatches mean they
# are wrong.
_PHOTOMETRIC_FLOW = (16.0, 48.0)
_PHOTOMETRIC_MOTION = (6.0, 20.0)
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
        flow_side: the longer side, in pixels, of the frames the motion is estimated on (never enlarged).
        depth_tolerance: with an engine's depth, the relative depth difference beyond which a pixel counts as
            disoccluded.
    """

    def __init__(self, weight: float = DEFAULT_TEMPORAL, flow_side: int = DEFAULT_FLOW_SIDE,
                 depth_tolerance: float = DEFAULT_DEPTH_TOLERANCE) -> None:
        if not 0.0 <= weight <= 1.0:
            raise InputError(f"temporal weight must be between 0 and 1, got {weight}")
        if flow_side < 32:
            raise InputError(f"flow side must be at least 32 pixels, got {flow_side}")
        if not depth_tolerance > 0.0:
            raise InputError(f"depth tolerance must be positive, got {depth_tolerance}")
        self.weight = weight
        self.flow_side = flow_side
        self.depth_tolerance = depth_tolerance
        # FAST's variational refinement (2 iterations instead of its 5: nearly the same result, less time), down to
        # half the flow side: on real footage its flow is trusted on far more pixels than ULTRAFAST's; the colour
        # check keeps its smoother flow from leaving trails at object edges.
        self._dis = create_dis(FAST, finest_scale=1, refinement_iterations=2)
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next frame comes out as its plain stylization."""
        self._small: np.ndarray | None = None
        self._grey: np.ndarray | None = None
        self._output: np.ndarray | None = None
        self._depth: np.ndarray | None = None
        self._typical_error: float | None = None

    def __call__(self, frame: np.ndarray, stylized: np.ndarray, motion: np.ndarray | None = None,
                 depth: np.ndarray | None = None) -> np.ndarray:
        """The smoothed output for one frame: ``finish(prepare(frame, motion, depth), stylized)``.

        Args:
            frame: the current input frame, (H, W, 3) uint8 RGB.
            stylized: the network's output for it, same shape.
            motion: optional motion vectors from the source (a game engine, a decoder), (H, W, 2) float32 in pixels:
                for each pixel x of the current frame, the displacement to where it was in the previous frame, so
                that ``previous(x + motion(x))`` is what is now at x (a backward flow). Used instead of optical
                flow, with a stricter photometric check (exact vectors that do not match are wrong).
            depth: optional linear depth from the same source, (H, W) float32, +inf where there is no geometry; with
                ``motion``, a depth test replaces the motion-boundary check (ignored without ``motion``).

        Returns:
            (H, W, 3) uint8: ``stylized`` itself on the first frame, after a scene cut or a change of size, when
            ``weight`` is 0, and for frames under ``MIN_FLOW_SIDE`` (16) pixels on a side. The filter keeps the
            returned frame as its history: do not modify it in place.
        """
        return self.finish(self.prepare(frame, motion, depth), stylized)

    def prepare(self, frame: np.ndarray, motion: np.ndarray | None = None,
                depth: np.ndarray | None = None) -> PreparedFrame:
        """The part of the smoothing that does not need the frame's stylization (motion, confidence, the previous
        output warped onto this frame), so it can run while the network runs. Pass the result to :meth:`finish`
        before preparing the next frame."""
        _check(frame, motion, depth)
        height, width = frame.shape[:2]
        if self.weight == 0.0 or min(height, width) < MIN_FLOW_SIDE:
            return PreparedFrame(frame.shape)
        size = flow_size(height, width, self.flow_side)
        current_small = small_colour(frame, size)
        current_grey = cv2.cvtColor(current_small, cv2.COLOR_RGB2GRAY)
        current_depth = None if depth is None or motion is None else cv2.resize(depth, size,
                                                                                 interpolation=cv2.INTER_NEAREST)
        previous_small, previous_grey, previous = self._small, self._grey, self._output
        previous_depth = self._depth
        self._small, self._grey, self._depth = current_small, current_grey, current_depth
        if previous is None or previous_small is None or previous_grey is None or previous.shape != frame.shape:
            return PreparedFrame(frame.shape)
        if (current_depth is None) != (previous_depth is None):  # depth came or went: start afresh
            return PreparedFrame(frame.shape)
        if motion is None:
            flow, photometric = dense_flow(self._dis, current_grey, previous_grey), _PHOTOMETRIC_FLOW
        else:
            flow, photometric = resize_flow(motion, size), _PHOTOMETRIC_MOTION
        if self._is_cut(warp(previous_grey, flow), current_grey):
            return PreparedFrame(frame.shape)
        confidence = photometric_confidence(warp(previous_small, flow), current_small, *photometric)
        if current_depth is None or previous_depth is None:
            confidence *= reliable_mask(flow, boundary=_BOUNDARY)
        else:
            confidence *= depth_confidence(current_depth, previous_depth, flow, self.depth_tolerance)
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


def _check(frame: np.ndarray, motion: np.ndarray | None, depth: np.ndarray | None) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"expected an (H, W, 3) uint8 RGB frame, got {frame.dtype} {frame.shape}")
    if motion is not None and (motion.shape != (*frame.shape[:2], 2) or motion.dtype != np.float32):
        raise InputError(f"motion vectors must be (H, W, 2) float32 for a frame of {frame.shape[:2]}, got "
                         f"{motion.dtype} {motion.shape}")
    if depth is not None and (depth.shape != frame.shape[:2] or depth.dtype != np.float32):
        raise InputError(f"depth must be (H, W) float32 for a frame of {frame.shape[:2]}, got {depth.dtype} "
                         f"{depth.shape}")
