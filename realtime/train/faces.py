"""Face survival: of the faces a detector finds in the input frames, the share it finds again, at the same place,
in the stylized frames.

The definition the style goals use: MTCNN with the weights that ship in facenet-pytorch (minimum face size 30 px)
on RGB frames; an input face counts at probability >= 0.95; it survives when the output has a detection of
probability >= 0.9 whose box centre lies within half the input box's width and half its height of the input box's
centre; survival = surviving faces / counted faces, over every 8th frame of a video or over all pictures.

facenet-pytorch pins old torch releases, so it is installed without its dependencies
(``pip install --no-deps facenet-pytorch==2.6.0``). It needs two things from torchvision: batched NMS and a
``to_tensor`` used by face cropping (not by detection); without torchvision they are supplied by plain-torch
equivalents, so the detections are the same.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

#: An input face counts at this probability, and is found again at ``AGAIN_PROBABILITY``.
FACE_PROBABILITY = 0.95
AGAIN_PROBABILITY = 0.9
MIN_FACE_SIZE = 30
#: Every this-many-th frame of a video is checked.
FRAME_STEP = 8

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FaceSurvival:
    """Faces found again in the output at the same place, out of the faces found in the input."""

    kept: int
    total: int

    @property
    def share(self) -> float | None:
        """kept / total, or None when the input has no face."""
        return self.kept / self.total if self.total else None

    def __add__(self, other: FaceSurvival) -> FaceSurvival:
        return FaceSurvival(self.kept + other.kept, self.total + other.total)

    @classmethod
    def together(cls, parts: Iterable[FaceSurvival]) -> FaceSurvival:
        """The faces of all ``parts`` counted as one."""
        return sum(parts, cls(0, 0))


def _batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """torchvision.ops.batched_nms in plain torch: boxes of different ``idxs`` never suppress each other."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    shifted = boxes + (idxs.to(boxes) * (boxes.max() + 1))[:, None]
    area = (shifted[:, 2] - shifted[:, 0]) * (shifted[:, 3] - shifted[:, 1])
    suppressed = torch.zeros(len(shifted), dtype=torch.bool)
    keep = []
    for i in scores.argsort(descending=True).tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        w = (torch.minimum(shifted[i, 2], shifted[:, 2]) - torch.maximum(shifted[i, 0], shifted[:, 0])).clamp(min=0)
        h = (torch.minimum(shifted[i, 3], shifted[:, 3]) - torch.maximum(shifted[i, 1], shifted[:, 1])).clamp(min=0)
        suppressed |= w * h / (area[i] + area - w * h) > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def provide_torchvision_parts() -> None:
    """Register the two torchvision functions facenet-pytorch imports, when torchvision is not installed."""
    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass
    names = ["torchvision", "torchvision.ops", "torchvision.ops.boxes", "torchvision.transforms",
             "torchvision.transforms.functional"]
    modules = {name: types.ModuleType(name) for name in names}
    for name in names[1:]:
        parent, _, child = name.rpartition(".")
        setattr(modules[parent], child, modules[name])
    modules["torchvision.ops.boxes"].batched_nms = _batched_nms  # type: ignore[attr-defined]
    modules["torchvision.transforms.functional"].to_tensor = (  # type: ignore[attr-defined]
        lambda a: torch.from_numpy(np.asarray(a)).permute(2, 0, 1).float() / 255.0)
    sys.modules.update(modules)


class FaceDetector:
    """MTCNN (facenet-pytorch) on the CPU, as the face-survival definition runs it."""

    def __init__(self) -> None:
        provide_torchvision_parts()
        try:
            from facenet_pytorch import MTCNN
        except ImportError as error:
            raise ImportError("face survival needs facenet-pytorch: "
                              "pip install --no-deps facenet-pytorch==2.6.0") from error
        self._mtcnn = MTCNN(keep_all=True, min_face_size=MIN_FACE_SIZE, device="cpu")

    def detect(self, rgb: np.ndarray, min_probability: float = FACE_PROBABILITY) -> list[Box]:
        """Boxes (x1, y1, x2, y2) of the faces in an (H, W, 3) uint8 RGB image at ``min_probability`` or more."""
        with torch.no_grad():
            boxes, probabilities = self._mtcnn.detect(np.ascontiguousarray(rgb))
        if boxes is None:
            return []
        return [(float(b[0]), float(b[1]), float(b[2]), float(b[3]))
                for b, p in zip(boxes, probabilities, strict=True) if p >= min_probability]

    def survival(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> FaceSurvival:
        """Face survival over (input, output) image pairs."""
        kept = total = 0
        for source, output in pairs:
            found = self.detect(source)
            if not found:
                continue
            again = self.detect(output, AGAIN_PROBABILITY)
            for box in found:
                total += 1
                kept += any(_same_place(box, other) for other in again)
        return FaceSurvival(kept, total)


def _same_place(face: Box, other: Box) -> bool:
    """Whether ``other``'s centre lies within half of ``face``'s width and height of ``face``'s centre."""
    x1, y1, x2, y2 = face
    a1, b1, a2, b2 = other
    return abs((x1 + x2) / 2 - (a1 + a2) / 2) < (x2 - x1) / 2 and abs((y1 + y2) / 2 - (b1 + b2) / 2) < (y2 - y1) / 2
