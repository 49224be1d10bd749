"""Per-pixel mixing of a stylized frame with the original: strength and colour preservation."""

from __future__ import annotations

import cv2
import numpy as np


def blend_strength(original: np.ndarray, stylized: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` of the stylized frame over the original (uint8 frames of one shape; 1 returns ``stylized``)."""
    if strength >= 1.0:
        return stylized
    if strength <= 0.0:
        return original
    return cv2.addWeighted(stylized, float(strength), original, 1.0 - float(strength), 0.0)


def preserve_color(original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """The stylized frame's luminance with the original's chroma (YCrCb), as in Gatys et al. (2016),
    "Preserving Color in Neural Artistic Style Transfer": the style's strokes in the photo's colours."""
    styled = cv2.cvtColor(stylized, cv2.COLOR_RGB2YCrCb)
    source = cv2.cvtColor(original, cv2.COLOR_RGB2YCrCb)
    source[..., 0] = styled[..., 0]
    return cv2.cvtColor(source, cv2.COLOR_YCrCb2RGB)


def apply_look(original: np.ndarray, stylized: np.ndarray, strength: float = 1.0,
               keep_colour: bool = False) -> np.ndarray:
    """The user's look options on a stylized frame, in their one order: the photo's colours kept (if asked), then
    ``strength`` of the result over the original."""
    if keep_colour:
        stylized = preserve_color(original, stylized)
    return blend_strength(original, stylized, strength)
