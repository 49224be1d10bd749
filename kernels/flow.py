"""Dense optical flow with OpenCV's DIS (Kroeger et al., ECCV 2016) on grey, optionally downscaled, frames.

A flow field is an (h, w, 2) float32 array of (dx, dy) in pixels. ``dense_flow(dis, source, target)`` returns the
flow for which ``source(x) ≈ target(x + flow(x))``: the flow from the current frame to the previous one is the
backward flow that warps the previous frame onto the current one (see :mod:`.warp`).
"""

from __future__ import annotations

import cv2
import numpy as np

ULTRAFAST = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST
FAST = cv2.DISOPTICAL_FLOW_PRESET_FAST
MEDIUM = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
#: DIS needs frames of at least this many pixels on each side.
MIN_FLOW_SIDE = 16


def create_dis(preset: int = ULTRAFAST, finest_scale: int | None = None,
               refinement_iterations: int | None = None) -> cv2.DISOpticalFlow:
    """A DIS optical-flow object with one of the presets above; keep it between frames rather than make one per
    frame. ``finest_scale`` overrides the preset's finest pyramid level (0: full resolution; ULTRAFAST and FAST
    stop at 2, a quarter of the frame's size, too coarse for frames that are already downscaled);
    ``refinement_iterations`` the preset's number of variational refinement iterations (ULTRAFAST 0, FAST 5)."""
    dis = cv2.DISOpticalFlow.create(preset)
    if finest_scale is not None:
        dis.setFinestScale(finest_scale)
    if refinement_iterations is not None:
        dis.setVariationalRefinementIterations(refinement_iterations)
    return dis


def flow_size(height: int, width: int, side: int) -> tuple[int, int]:
    """The (width, height) of a frame scaled so its longer side is at most ``side`` pixels, unless that would make
    its shorter side less than ``MIN_FLOW_SIDE`` (never enlarged)."""
    scale = min(1.0, max(side / max(height, width), MIN_FLOW_SIDE / min(height, width)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def grey(frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """An (H, W, 3) uint8 RGB frame as a grey uint8 image, area-downscaled to ``size`` (width, height) if given."""
    image = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if size is None or size == (image.shape[1], image.shape[0]):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def small_colour(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An (H, W, 3) uint8 frame area-downscaled to ``size`` (width, height); a copy if it already has that size (the
    caller may reuse the frame's buffer)."""
    if size == (frame.shape[1], frame.shape[0]):
        return frame.copy()
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def dense_flow(dis: cv2.DISOpticalFlow, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The flow from ``source`` to ``target`` (grey uint8 images of one size): ``source(x) ≈ target(x + flow(x))``."""
    return dis.calc(source, target, None)


def resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``flow`` resized bilinearly to ``size`` (width, height), its vectors scaled to the new pixel units."""
    height, width = flow.shape[:2]
    if size == (width, height):
        return flow
    scale = (size[0] / width, size[1] / height, 0.0, 0.0)
    if size[0] > width:  # scale on the smaller of the two grids: the same result, as bilinear resizing is linear
        return cv2.resize(cv2.multiply(flow, scale), size, interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR), scale)
