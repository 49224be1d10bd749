"""The style-quality measures on cases with a known answer: style ratio (a mean of per-photo ratios), content
distance, the face-weighted content loss, face masks and face survival's matching rule."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from framestyle.imageio import resize_long_side  # noqa: E402
from framestyle.train.data import CropSampler, box_mask  # noqa: E402
from framestyle.train.evaluate import EVAL_SIDE, score_style  # noqa: E402
from framestyle.train.faces import FaceSurvival, _batched_nms, _same_place  # noqa: E402
from framestyle.train.losses import content_distance  # noqa: E402
from framestyle.train.vgg import Features, Vgg16  # noqa: E402


@pytest.fixture(scope="module")
def vgg() -> Vgg16:
    torch.manual_seed(0)
    return Vgg16()


def _random_image(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


@pytest.mark.slow
def test_the_unchanged_photo_scores_ratio_one_and_no_content_change(vgg: Vgg16) -> None:
    scores = score_style(vgg, _random_image(0, 60, 80), [_random_image(1, 50, 70), _random_image(2, 64, 48)],
                         lambda photo: photo)
    assert scores.style_ratio == pytest.approx(1.0)
    assert scores.content_distance == pytest.approx(0.0, abs=1e-9)
    assert list(scores.layers) == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    assert all(out == pytest.approx(photo) for out, photo in scores.layers.values())
    assert sum(photo for _, photo in scores.layers.values()) == pytest.approx(scores.photo_style_distance)


@pytest.mark.slow
def test_photos_are_measured_at_the_side_asked_for(vgg: Vgg16) -> None:
    sides = []

    def stylize(photo: np.ndarray) -> np.ndarray:
        sides.append(max(photo.shape[:2]))
        return photo

    score_style(vgg, _random_image(0, 60, 80), [_random_image(1, 50, 70), _random_image(2, 64, 48)], stylize, 96)
    assert sides == [96, 96]


@pytest.mark.slow
def test_style_ratio_is_the_mean_of_the_per_photo_ratios(vgg: Vgg16) -> None:
    painting = _random_image(0, 60, 80)
    kept, painted = _random_image(1, 30, 40), _random_image(2, 45, 60)  # same 4:3 shape as the painting
    exact_painting = resize_long_side(painting, EVAL_SIDE)

    def stylize(photo: np.ndarray) -> np.ndarray:
        # The photo to be "painted" turns into the painting exactly (style distance 0, ratio 0); the other stays
        # as it is (ratio 1). The mean of the ratios is 0.5 whatever the two photos' own distances are.
        return exact_painting if np.array_equal(photo, resize_long_side(painted, EVAL_SIDE)) else photo

    scores = score_style(vgg, painting, [kept, painted], stylize)
    assert scores.style_ratio == pytest.approx(0.5)
    assert scores.style_distance / scores.photo_style_distance != pytest.approx(0.5, abs=0.01)


def _features(content: torch.Tensor) -> Features:
    return Features(content, content, content, content)


def test_face_weight_makes_the_content_loss_count_the_faces_more() -> None:
    photo = torch.rand(1, 4, 8, 8) + 0.5
    changed = photo.clone()
    changed[..., :4, :4] += 1.0  # the change lies where the face is
    face = torch.zeros(1, 1, 16, 16)
    face[..., :8, :8] = 1.0
    plain = content_distance(_features(changed), photo)
    assert content_distance(_features(changed), photo, torch.ones(1, 1, 16, 16)) == pytest.approx(float(plain))
    assert float(content_distance(_features(changed), photo, 1 + 4 * face)) > 2 * float(plain)


def test_face_masks_are_cropped_with_their_images() -> None:
    side = 512  # the store size: crops of the whole image, only flipped
    image = np.zeros((side, side, 3), np.uint8)
    mask = box_mask((side, side), [(0.0, 0.0, float(side), side / 2)], grow=0.0)  # the top half
    assert mask[: side // 2].min() == 255 and mask[side // 2 :].max() == 0
    crops = CropSampler([image, image], crop=side, seed=0, masks=[mask, None]).sample(8)
    assert crops.shape == (8, 4, side, side)
    top, bottom = crops[:, 3, : side // 2 - 2].mean(dim=(1, 2)), crops[:, 3, side // 2 + 2 :].amax(dim=(1, 2))
    assert sorted({round(float(t), 3) for t in top}) == [0.0, 1.0]  # the masked image's crops carry the face
    assert float(bottom.max()) == 0.0


def test_a_face_survives_only_when_found_again_near_its_centre() -> None:
    face = (100.0, 100.0, 140.0, 160.0)  # 40 wide, 60 high, centre (120, 130)
    assert _same_place(face, (105.0, 110.0, 145.0, 170.0))
    assert not _same_place(face, (125.0, 100.0, 165.0, 160.0))  # centre 25 px to the right: more than 20
    assert (FaceSurvival(1, 2) + FaceSurvival(2, 2)).share == pytest.approx(0.75)
    assert FaceSurvival(0, 0).share is None


def test_batched_nms_keeps_the_best_box_of_each_overlapping_group() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.95, 0.8, 0.7])
    groups = torch.tensor([0, 0, 0, 1])  # the last box is in another image: it never suppresses the others
    assert sorted(_batched_nms(boxes, scores, groups, 0.5).tolist()) == [1, 2, 3]
