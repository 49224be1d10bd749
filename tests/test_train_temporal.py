"""The temporal loss on real consecutive frames: the flow warp, the loss's response to motion, lighting and pasted
patterns, the frame pairs of a clip, and the training option."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("tqdm")

from framestyle.kernels.warp import warp  # noqa: E402
from framestyle.train.framepairs import STRIDE, FramePairs  # noqa: E402
from framestyle.train.losses import temporal_loss, warp_by_flow  # noqa: E402

from .media_samples import make_video  # noqa: E402
from .test_train import _train, kit  # noqa: E402, F401

SHIFT = 3


def _texture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Smooth random colour texture (uint8 RGB), which optical flow can follow."""
    noise = np.random.default_rng(seed).integers(0, 256, size=(height // 4, width // 4, 3), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC), (0, 0), 1.5)


def _moving(width: int, height: int, index: int) -> np.ndarray:
    """A texture panned SHIFT pixels to the right per frame."""
    return np.roll(_texture(width + 64, height), SHIFT * index, axis=1)[:, 32 : 32 + width].copy()


def _pair(shift: int = SHIFT) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A frame, the same frame panned ``shift`` pixels right, the exact flow from the second to the first, and a
    mask of ones: (1, C, 48, 64) tensors."""
    wide = _texture(128, 48).astype(np.float32) / 255
    first, second = wide[:, 32:96], wide[:, 32 - shift : 96 - shift]
    flow = np.zeros((2, 48, 64), np.float32)
    flow[0] = -shift  # second(x) = first(x - shift)
    as_tensor = [torch.from_numpy(np.ascontiguousarray(a)) for a in (first.transpose(2, 0, 1),
                                                                        second.transpose(2, 0, 1), flow)]
    return as_tensor[0][None], as_tensor[1][None], as_tensor[2][None], torch.ones(1, 1, 48, 64)


def test_flow_warp_agrees_with_the_runtime_warp_inside_the_frame() -> None:
    image = _texture(64, 48).astype(np.float32) / 255
    yy, xx = np.mgrid[0:48, 0:64].astype(np.float32)
    flow = np.stack([2.5 * np.sin(yy / 9), 1.5 * np.cos(xx / 7)], axis=-1).astype(np.float32)
    expected = warp(image, flow)
    warped, inside = warp_by_flow(torch.from_numpy(image.transpose(2, 0, 1))[None],
                                  torch.from_numpy(flow.transpose(2, 0, 1))[None])
    got = warped[0].numpy().transpose(1, 2, 0)
    keep = inside[0, 0].numpy() > 0
    assert keep.mean() > 0.85 and not keep.all()  # the flow takes some border pixels' sources outside
    assert np.abs(got - expected)[keep].max() < 1e-4


def test_a_network_that_follows_the_motion_costs_nothing_a_pasted_pattern_costs() -> None:
    first, second, flow, mask = _pair()

    def colour_map(image: torch.Tensor) -> torch.Tensor:  # per pixel: moves with the content
        return image.flip(1) * 0.8 + 0.1

    pattern = torch.from_numpy(_texture(64, 48, seed=5).astype(np.float32).transpose(2, 0, 1))[None] / 255

    def pasted(image: torch.Tensor) -> torch.Tensor:  # a fixed pattern that stays put while the content moves
        return 0.5 * image + 0.5 * pattern

    following = float(temporal_loss(colour_map, first, second, flow, mask))
    pasting = float(temporal_loss(pasted, first, second, flow, mask))
    assert following < 1e-8
    assert pasting > 1e-3


def test_lighting_changes_pass_a_network_that_ignores_them_pays() -> None:
    first, _, _, mask = _pair()
    grey = first.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1).contiguous()
    brighter = grey * 1.2
    still = torch.zeros(1, 2, 48, 64)
    identity = float(temporal_loss(lambda image: image, grey, brighter, still, mask))
    flat = float(temporal_loss(lambda image: torch.full_like(image, 0.5), grey, brighter, still, mask))
    assert identity < 1e-10
    assert flat > 1e-3


def test_frame_pairs_of_a_clip_skip_its_first_frames_and_carry_its_motion(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "pan.mp4", size=(96, 64), frames=12, picture=_moving)
    pairs = FramePairs([clip], crop=48, seed=0, skip=4)
    assert len(pairs) == len(range(4, 11, STRIDE))
    first, second, flow, mask = pairs.sample(6)
    assert first.shape == second.shape == (6, 3, 48, 48) and flow.shape == (6, 2, 48, 48)
    assert mask.shape == (6, 1, 48, 48) and 0 < float(mask.mean()) <= 1
    # The pan is SHIFT pixels right per frame, so the flow points SHIFT pixels left (right in mirrored crops), and
    # it lines each first frame up with its second where the mask trusts it.
    horizontal = (flow[:, 0] * mask[:, 0]).sum(dim=(1, 2)) / mask[:, 0].sum(dim=(1, 2))
    assert torch.allclose(horizontal.abs(), torch.full((6,), float(SHIFT)), atol=0.5)
    lined_up, inside = warp_by_flow(first, flow)
    keep = (mask * inside).expand(-1, 3, -1, -1) > 0
    aligned, unaligned = (float((a - second)[keep].abs().mean()) for a in (lined_up, first))
    assert aligned < 0.5 * unaligned
    with pytest.raises(ValueError, match="no frame pairs"):
        FramePairs([clip], crop=48, seed=0, skip=12)
    # A long clip's pairs are spread over it, their number bounded: t = 0, 4 and 8 of 12 frames.
    assert len(FramePairs([clip], crop=48, seed=0, max_per_clip=3)) == 3
    with pytest.raises(ValueError, match="smaller than"):
        FramePairs([clip], crop=80, seed=0)


def test_the_temporal_loss_crops_at_most_max_crop_so_large_style_crops_take_small_clips(tmp_path: Path) -> None:
    from framestyle.train.config import TrainConfig
    from framestyle.train.framepairs import MAX_CROP
    from framestyle.train.loop import frame_pairs

    clip = make_video(tmp_path / "pan.mp4", size=(MAX_CROP + 32, MAX_CROP + 8), frames=4, picture=_moving)
    config = TrainConfig(style=tmp_path / "painting.png", content=[tmp_path], name="big", out=tmp_path / "big.onnx",
                         videos=[clip], crop=MAX_CROP + 128, temporal_weight=1.0)
    first, _, flow, _ = frame_pairs(config).sample(1)
    assert first.shape[-2:] == flow.shape[-2:] == (MAX_CROP, MAX_CROP)


@pytest.mark.slow
def test_temporal_weight_trains_on_the_clips_frame_pairs_and_reaches_the_card(kit: dict[str, Path],  # noqa: F811
                                                                              tmp_path: Path) -> None:
    clip = make_video(tmp_path / "pan.mp4", size=(96, 64), frames=8, picture=_moving)
    assert _train(kit, "--steps", "2", "--video", str(clip), "--temporal-weight", "50", "--temporal-skip", "2") == 0
    training = json.loads((kit["root"] / "tiny.json").read_text())["training"]
    assert training["temporal_weight"] == 50 and training["temporal_skip"] == 2
    assert training["final_running_losses"]["temporal"] > 0


def test_temporal_weight_without_clips_is_one_line_error(kit: dict[str, Path],  # noqa: F811
                                                        capsys: pytest.CaptureFixture) -> None:
    assert _train(kit, "--steps", "1", "--temporal-weight", "5") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--temporal-weight needs --video" in err


@pytest.mark.slow
def test_a_style_vector_trains_with_the_temporal_loss_on_the_clips(tmp_path: Path) -> None:
    from framestyle.catalog import resolve_style
    from framestyle.imageio import write_image
    from framestyle.train.newstyle import NewStyleConfig, train_new_style
    from framestyle.train.vgg import Vgg16

    from .test_fold import _style_card

    card_path, vector = _style_card(tmp_path)
    clip = make_video(tmp_path / "pan.mp4", size=(96, 64), frames=8, picture=_moving)
    vgg = tmp_path / "vgg.pth"
    torch.save(Vgg16().features.state_dict(), vgg)
    write_image(tmp_path / "painting.png", _texture(64, 64, seed=3))
    config = NewStyleConfig(painting=tmp_path / "painting.png", name="steady", card=tmp_path / "steady.json",
                            images=[_texture(64, 48, seed) for seed in range(2)], vgg_weights=vgg, max_steps=2,
                            crop=32, face_keep_weight=0.0, temporal_weight=50.0, videos=[clip], temporal_skip=2)
    steps: list[dict] = []
    card = train_new_style(config, [resolve_style(str(card_path))], progress=False, on_step=steps.append)
    assert [step["step"] for step in steps] == [1, 2] and all(step["losses"]["temporal"] > 0 for step in steps)
    training = card["training"]
    assert training["temporal_weight"] == 50 and training["videos"] == ["pan.mp4"] and training["temporal_skip"] == 2
    assert not np.allclose(card["shared"]["vector"], vector)
