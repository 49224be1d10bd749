"""A frame counter stamped into a picture's top-left corner, readable after video compression.

Each of the 16 bits (11 of counter, 5 of check) is a pair of square cells side by side, bright-dark for 1 and
dark-bright for 0; the reader compares the two cells' mean brightness. Style networks repaint such a code beyond
reading (measured on the bundled styles: most lose it on most frames), so to measure, ``stylize live --measure``
copies the stamp's corner from each camera frame onto its stylized frame (:func:`keep_stamp`). The page's script
(static/live.js) reads the same layout from both videos to measure glass-to-glass latency; :func:`write_y4m` makes
a stamped clip for a browser's fake camera.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from framestyle.atomic import atomic_file
from framestyle.errors import OutputError

#: Counter bits; counters wrap at 2**COUNTER_BITS.
COUNTER_BITS = 11
_CHECK_BITS = 5
_BITS = COUNTER_BITS + _CHECK_BITS
#: Bit pairs per row of the code (two rows).
_PER_ROW = 8
#: A cell's side as a share of the picture's width (16 pixels at 640 wide).
CELL_SHARE = 1 / 40
#: The least brightness difference (0..255) between a pair's cells for the code to count as read.
MIN_CONTRAST = 24.0


def check_bits(counter: int) -> int:
    """The 5 check bits of a counter (a code whose check bits do not match is not a stamp)."""
    return (counter ^ (counter >> 5) ^ (counter >> 10) ^ 0b10110) & ((1 << _CHECK_BITS) - 1)


def _cell(width: int) -> int:
    return max(2, round(width * CELL_SHARE))


def stamp(image: np.ndarray, counter: int) -> np.ndarray:
    """A copy of an (H, W, 3) uint8 picture with ``counter`` (modulo 2**11) stamped into its top-left corner."""
    counter %= 1 << COUNTER_BITS
    code = counter | check_bits(counter) << COUNTER_BITS
    out = image.copy()
    cell = _cell(image.shape[1])
    for bit in range(_BITS):
        y, x = (bit // _PER_ROW) * cell, (bit % _PER_ROW) * 2 * cell
        one = code >> bit & 1
        out[y:y + cell, x:x + cell] = 255 if one else 0
        out[y:y + cell, x + cell:x + 2 * cell] = 0 if one else 255
    return out


def read_stamp(image: np.ndarray) -> int | None:
    """The counter stamped into a picture by :func:`stamp`, or None when there is no readable stamp."""
    cell = _cell(image.shape[1])
    if image.shape[0] < 2 * cell or image.shape[1] < 2 * _PER_ROW * cell:
        return None
    grey = image[..., :3].astype(np.float32).mean(axis=2) if image.ndim == 3 else image.astype(np.float32)
    lo, hi = cell // 4, cell - cell // 4  # the middle of each cell: its edges bleed after compression
    code = 0
    for bit in range(_BITS):
        y, x = (bit // _PER_ROW) * cell, (bit % _PER_ROW) * 2 * cell
        left = grey[y + lo:y + hi, x + lo:x + hi].mean()
        right = grey[y + lo:y + hi, x + cell + lo:x + cell + hi].mean()
        if abs(left - right) < MIN_CONTRAST:
            return None
        code |= int(left > right) << bit
    counter = code & ((1 << COUNTER_BITS) - 1)
    return counter if code >> COUNTER_BITS == check_bits(counter) else None


def stamp_box(width: int) -> tuple[int, int]:
    """The (height, width) in pixels of the stamp's corner in a picture ``width`` pixels wide."""
    cell = _cell(width)
    return 2 * cell, 2 * _PER_ROW * cell


def keep_stamp(source: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """``stylized`` with the stamp's corner of ``source`` (same size) copied back, when ``source`` carries a
    readable stamp; otherwise ``stylized`` unchanged."""
    if read_stamp(source) is None:
        return stylized
    height, width = stamp_box(source.shape[1])
    out = stylized.copy()
    out[:height, :width] = source[:height, :width]
    return out


def write_y4m(frames: Iterable[np.ndarray], path: str | Path, fps: int = 30) -> int:
    """Write (H, W, 3) uint8 RGB frames, each stamped with its number, as a 4:2:0 Y4M file (what Chromium's
    ``--use-file-for-fake-video-capture`` plays, looping, at ``fps``); returns the number of frames. Written to a
    temporary file renamed at the end."""
    import cv2

    count = 0
    with atomic_file(Path(path)) as partial:
        with open(partial, "wb") as out:
            for frame in frames:
                height, width = frame.shape[:2]
                if height % 2 or width % 2:
                    raise OutputError(f"Y4M 4:2:0 needs an even frame size, got {width}x{height}")
                if count == 0:
                    out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
                out.write(b"FRAME\n")
                out.write(cv2.cvtColor(stamp(frame, count), cv2.COLOR_RGB2YUV_I420).tobytes())
                count += 1
        if count == 0:
            raise OutputError("no frames to write")
    return count
