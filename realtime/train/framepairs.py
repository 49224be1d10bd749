"""Consecutive frames of real video with the optical flow between them, for the temporal loss
(:func:`~.losses.temporal_loss`): real motion, lighting changes, blur and occlusion, which the stability loss's
synthetic shifts of one photo do not have.

For each pair (t, t+1) the flow from frame t+1 to frame t is estimated on the grey frames with OpenCV DIS (preset
MEDIUM, as the warping error of :mod:`framestyle.flicker` does), so that warping frame t by it lines frame t up with
frame t+1; the mask keeps the pixels whose flow passes the forward-backward and motion-boundary checks
(:func:`framestyle.kernels.occlusion.reliable_mask`)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..kernels.flow import MEDIUM, create_dis, dense_flow, grey
from ..kernels.occlusion import reliable_mask
from ..media.reader import VideoReader
from .data import random_below

#: Pairs are taken at every STRIDE-th frame of a clip (t, t+1) at least ...
STRIDE = 2
#: ... and further apart in a clip long enough to give more than this many, which bounds the memory they hold.
MAX_PAIRS_PER_CLIP = 300
#: Side of the temporal loss's crops at most: training clips may be smaller than a run's style crops.
MAX_CROP = 256


class FramePairs:
    """Random crops of consecutive frames of video clips, with the flow that lines the first up with the second.

    ``crop`` is capped at MAX_CROP; ``skip`` leaves each clip's first frames out (e.g. those a flicker measure is
    taken on); ``max_per_clip`` bounds the pairs a clip gives. Crops keep the frames' scale (flow is in pixels),
    with a random position and horizontal flip."""

    def __init__(self, videos: list[Path], crop: int, seed: int, skip: int = 0,
                 max_per_clip: int = MAX_PAIRS_PER_CLIP) -> None:
        crop = min(crop, MAX_CROP)
        dis = create_dis(MEDIUM)
        self.pairs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for video in videos:
            for first, second in _consecutive_frames(video, skip, crop, max_per_clip):
                first_grey, second_grey = grey(first), grey(second)
                backward = dense_flow(dis, second_grey, first_grey)  # second(x) ≈ first(x + backward(x))
                forward = dense_flow(dis, first_grey, second_grey)
                self.pairs.append((torch.from_numpy(first).permute(2, 0, 1),
                                   torch.from_numpy(second).permute(2, 0, 1),
                                   torch.from_numpy(backward).permute(2, 0, 1),
                                   torch.from_numpy(reliable_mask(backward, forward))[None]))
        if not self.pairs:
            raise ValueError(f"no frame pairs after the first {skip} frames of the clips")
        self.crop = crop
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.pairs)

    def _randint(self, high: int) -> int:
        return random_below(self.generator, high)

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(first, second, flow, mask): (batch, 3, crop, crop) frames in [0, 1], the (batch, 2, crop, crop) flow in
        pixels from the second frame to the first, and the (batch, 1, crop, crop) float mask of trusted pixels."""
        items = []
        for _ in range(batch):
            first, second, flow, mask = self.pairs[self._randint(len(self.pairs))]
            h, w = first.shape[-2:]
            top, left = self._randint(h - self.crop + 1), self._randint(w - self.crop + 1)
            window = (slice(None), slice(top, top + self.crop), slice(left, left + self.crop))
            item = [first[window].float() / 255.0, second[window].float() / 255.0, flow[window].clone(),
                    mask[window].float()]
            if float(torch.rand(1, generator=self.generator)) < 0.5:
                item = [tensor.flip(-1) for tensor in item]
                item[2][0] = -item[2][0]  # a mirrored horizontal motion
            items.append(item)
        first, second, flow, mask = (torch.stack(column) for column in zip(*items, strict=True))
        return first, second, flow, mask


def _consecutive_frames(video: Path, skip: int, crop: int, max_pairs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pairs of consecutive RGB frames (t, t+1) of ``video`` from frame ``skip`` on, every STRIDE-th frame or further
    apart so that a long clip gives about ``max_pairs``; decoded one frame at a time."""
    with VideoReader(video) as reader:
        if min(reader.height, reader.width) < crop:
            raise ValueError(f"{video}: frames of {reader.width}x{reader.height} are smaller than the {crop}-pixel "
                             "crop")
        stride = STRIDE
        if reader.frame_count:
            stride = max(STRIDE, math.ceil((reader.frame_count - skip) / max_pairs))
        previous: np.ndarray | None = None
        for index, frame in enumerate(reader.frames()):
            if previous is not None:
                yield previous, frame.image
                previous = None
            if index >= skip and (index - skip) % stride == 0:
                previous = frame.image
