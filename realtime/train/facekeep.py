"""A face-keeping loss: the faces of a training crop must still look like faces to a face detector after
stylization.

The detector is MTCNN's three networks as they ship in facenet-pytorch (the same weights the face-survival measure of
:mod:`.faces` runs). Each face of a crop (known from its mask channel) is cut out of the stylized crop as a square
and given to P-Net at 12 px, R-Net at 24 px and O-Net at 48 px, the sizes the detector's cascade looks at; the loss
is the mean of -log(face probability) over the three, so it is near zero while the stylized face stays a clear face
and grows as the painting's texture or colours wash it out. Only the stylized crop gets gradients: the detector is
frozen.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .faces import provide_torchvision_parts

#: The face boxes are grown by this share of their size on each side in the training masks (see ``data.box_mask``).
MASK_GROWTH = 0.2
#: A face must be at least this many pixels across in the crop to count (MTCNN's smallest is 12 at its finest scale).
MIN_FACE_PIXELS = 16
#: The input sizes of P-Net, R-Net and O-Net.
DETECTOR_SIDES = (12, 24, 48)


def faces_in_crops(masks: torch.Tensor) -> list[tuple[int, float, float, float, float]]:
    """(item, x1, y1, x2, y2) of each whole face in a (N, 1, H, W) batch of face masks in [0, 1]: the connected
    regions of the mask shrunk back to the detector's box; regions cut by the crop's border are left out."""
    faces = []
    for item, mask in enumerate(masks[:, 0].numpy() > 0.5):
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
        h, w = mask.shape
        for left, top, width, height, _ in stats[1:count]:
            if left == 0 or top == 0 or left + width == w or top + height == h:
                continue
            side_x, side_y = width / (1 + 2 * MASK_GROWTH), height / (1 + 2 * MASK_GROWTH)
            if min(side_x, side_y) < MIN_FACE_PIXELS:
                continue
            cx, cy = left + width / 2, top + height / 2
            faces.append((item, cx - side_x / 2, cy - side_y / 2, cx + side_x / 2, cy + side_y / 2))
    return faces


class FaceKeepLoss(torch.nn.Module):
    """Mean -log(face probability) of MTCNN's P-, R- and O-Net on the faces of a stylized batch."""

    def __init__(self) -> None:
        super().__init__()
        provide_torchvision_parts()
        try:
            from facenet_pytorch.models.mtcnn import ONet, PNet, RNet
        except ImportError as error:
            raise ImportError("the face-keeping loss needs facenet-pytorch: "
                              "pip install --no-deps facenet-pytorch==2.6.0") from error
        self.nets = torch.nn.ModuleList([PNet(), RNet(), ONet()]).eval().requires_grad_(False)

    def forward(self, stylized: torch.Tensor, masks: torch.Tensor) -> torch.Tensor | None:
        """The loss over the faces of ``stylized`` ((N, 3, H, W) in [0, 1]) that ``masks`` ((N, 1, H, W)) mark,
        or None when the batch has no whole face."""
        faces = faces_in_crops(masks)
        if not faces:
            return None
        theta = torch.stack([_square_crop(x1, y1, x2, y2, *stylized.shape[-2:]) for _, x1, y1, x2, y2 in faces])
        items = stylized[[item for item, *_ in faces]]
        losses = []
        for side, net in zip(DETECTOR_SIDES, self.nets, strict=True):
            # Sample at 4x the net's size, then average down: the detector resizes with area averaging.
            fine = F.affine_grid(theta, [len(faces), 3, 4 * side, 4 * side], align_corners=False)
            patch = F.avg_pool2d(F.grid_sample(items, fine, mode="bilinear", align_corners=False), 4)
            probability = net((patch * 255.0 - 127.5) * 0.0078125)[-1]
            face = probability[:, 1].reshape(len(faces), -1).mean(1)
            losses.append(-face.clamp_min(1e-4).log())
        return torch.stack(losses).mean()


def _square_crop(x1: float, y1: float, x2: float, y2: float, height: int, width: int) -> torch.Tensor:
    """The ``affine_grid`` matrix that samples the square of the box's longer side around its centre (the square
    MTCNN's cascade gives its nets)."""
    side = max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return torch.tensor([[side / width, 0.0, 2 * cx / width - 1], [0.0, side / height, 2 * cy / height - 1]],
                        dtype=torch.float32)
