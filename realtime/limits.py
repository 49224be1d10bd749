"""The largest frame the package accepts: checked on a file's declared size before anything is decoded."""

from __future__ import annotations

#: Frames larger than this on either side are refused (a 16K frame is 15360 wide).
MAX_FRAME_SIDE = 16384

#: Frames with more pixels than this are refused: 16K video (15360x8640) fits; past it a frame and the network's
#: tensors need tens of gigabytes (a 6000x4000 photo peaks at about 2.2 GB).
MAX_FRAME_PIXELS = 1 << 27


def frame_size_problem(width: int, height: int) -> str | None:
    """Why a ``width`` x ``height`` frame is refused, or None when it is within the limits."""
    if width < 1 or height < 1:
        return f"{width}x{height} pixels, not a picture size"
    if max(width, height) > MAX_FRAME_SIDE or width * height > MAX_FRAME_PIXELS:
        return (f"{width}x{height} pixels, over the limit of {MAX_FRAME_SIDE} pixels a side and "
                f"{MAX_FRAME_PIXELS:,} pixels in all")
    return None
