"""A frame body's planes as numpy arrays, and the conversions between a client's layout (pixel format, origin,
row stride, motion-vector scale) and the server's (top-down RGB, backward motion in pixels, linear depth)."""

from __future__ import annotations

import cv2
import numpy as np

from framestyle.serve.protocol import FrameHeader, Origin, PixelFormat, PlaneType

Buffer = bytes | bytearray | memoryview | np.ndarray

_TO_RGB = {PixelFormat.RGBA8: cv2.COLOR_RGBA2RGB, PixelFormat.BGRA8: cv2.COLOR_BGRA2RGB,
           PixelFormat.BGR8: cv2.COLOR_BGR2RGB}
_FROM_RGB = {PixelFormat.RGBA8: cv2.COLOR_RGB2RGBA, PixelFormat.BGRA8: cv2.COLOR_RGB2BGRA,
             PixelFormat.BGR8: cv2.COLOR_RGB2BGR}


def pixel_view(body: Buffer, width: int, height: int, stride: int, pixel_format: PixelFormat) -> np.ndarray:
    """The pixel plane at the start of ``body`` as an (H, W, C) uint8 view, rows in the order they are stored."""
    rows = np.frombuffer(body, np.uint8, count=stride * height).reshape(height, stride)
    return rows[:, :width * pixel_format.channels].reshape(height, width, pixel_format.channels)


def _top_down(array: np.ndarray, origin: Origin) -> np.ndarray:
    return array[::-1] if origin == Origin.BOTTOM_UP else array


def read_pixels(body: Buffer, header: FrameHeader) -> tuple[np.ndarray, np.ndarray | None]:
    """The frame as a new (H, W, 3) uint8 top-down RGB array, and its alpha channel (H, W) if it has one, with
    rows in the order they are stored (as :func:`write_pixels` takes it)."""
    view = pixel_view(body, header.width, header.height, header.stride, header.pixel_format)
    rgb = view.copy() if header.pixel_format == PixelFormat.RGB8 else cv2.cvtColor(view, _TO_RGB[header.pixel_format])
    if header.origin == Origin.BOTTOM_UP:
        rgb = cv2.flip(rgb, 0)
    alpha = cv2.extractChannel(view, 3) if header.pixel_format.channels == 4 else None
    return rgb, alpha


def write_pixels(out: Buffer, rgb: np.ndarray, alpha: np.ndarray | None, width: int, height: int, stride: int,
                 pixel_format: PixelFormat, origin: Origin) -> None:
    """Write a top-down RGB frame into the pixel plane at the start of the writable buffer ``out``, in the given
    format, origin and stride; a format with alpha takes it from ``alpha`` (rows as stored), or is opaque. Row
    padding is left untouched."""
    target = pixel_view(out, width, height, stride, pixel_format)
    source = cv2.flip(rgb, 0) if origin == Origin.BOTTOM_UP else rgb
    if pixel_format == PixelFormat.RGB8:
        target[...] = source
        return
    cv2.cvtColor(source, _FROM_RGB[pixel_format], dst=target)  # in place: target has the exact shape and type
    if alpha is not None and pixel_format.channels == 4:
        cv2.insertChannel(alpha, target, 3)


def read_motion(body: Buffer, header: FrameHeader) -> np.ndarray:
    """The motion-vector plane as (H, W, 2) float32 top-down backward displacements in pixels (the client's scale
    applied). Non-finite vectors point far outside the frame, so the warp there is never trusted."""
    width, height = header.width, header.height
    raw = np.frombuffer(body, header.motion.dtype, count=width * height * 2,
                        offset=header.layout.motion_offset).reshape(height, width, 2)
    motion = _top_down(raw, header.origin).astype(np.float32)
    scale_y = -header.motion_scale[1] if header.origin == Origin.BOTTOM_UP else header.motion_scale[1]
    motion *= np.array([header.motion_scale[0], scale_y], np.float32)
    far = np.float32(4 * max(width, height))
    np.nan_to_num(motion, copy=False, nan=far, posinf=far, neginf=-far)
    return np.clip(motion, -far, far, out=motion)


def read_depth(body: Buffer, header: FrameHeader) -> np.ndarray:
    """The depth plane as (H, W) float32 top-down linear depth; no geometry (0, negative, NaN) becomes +inf."""
    width, height = header.width, header.height
    raw = np.frombuffer(body, header.depth.dtype, count=width * height,
                        offset=header.layout.depth_offset).reshape(height, width)
    depth = _top_down(raw, header.origin).astype(np.float32)
    depth[~(depth > 0)] = np.inf
    return depth


def write_body(out: Buffer, header: FrameHeader, image: np.ndarray, motion: np.ndarray | None = None,
               depth: np.ndarray | None = None) -> None:
    """Lay out a client's frame body in ``out`` (at least ``header.layout.total`` bytes): ``image`` (H, W, C) uint8
    in the header's format, rows as stored; ``motion`` (H, W, 2) and ``depth`` (H, W) as the header's plane types."""
    rows = np.frombuffer(out, np.uint8, count=header.layout.total).reshape(-1)
    pixel_view(rows, header.width, header.height, header.stride, header.pixel_format)[...] = image
    for plane, values, offset, size in ((header.motion, motion, header.layout.motion_offset, header.layout.motion),
                                        (header.depth, depth, header.layout.depth_offset, header.layout.depth)):
        if plane != PlaneType.NONE and values is not None:
            rows[offset:offset + size].view(plane.dtype)[...] = values.reshape(-1)
