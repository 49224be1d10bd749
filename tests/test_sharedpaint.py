"""The shared network's perceptual stage: the style-weight steering, a run's turns through the styles, resuming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tqdm")

from framestyle.train.distill import DistillResult  # noqa: E402
from framestyle.train.mixnet import MixStyleNet  # noqa: E402
from framestyle.train.net import FastStyleConfig  # noqa: E402
from framestyle.train.sharedpaint import PaintConfig, steer, train_painting  # noqa: E402
from framestyle.train.vgg import Vgg16  # noqa: E402

CONFIG = FastStyleConfig(width=(4, 8, 8), blocks=1)


def test_a_style_weight_rises_under_the_content_target_and_falls_over_it() -> None:
    assert steer(1.0, 0.30, 0.45, 1.0) == pytest.approx(np.exp(1 / 3))
    assert steer(1.0, 0.60, 0.45, 1.0) == pytest.approx(np.exp(-1 / 3))
    assert steer(1.0, 0.45, 0.45, 1.0) == 1.0
    assert steer(0.06, 5.0, 0.45, 1.0) == 0.05  # bounded
    assert steer(90.0, 0.0, 0.45, 1.0) == 100.0


@pytest.mark.slow
def test_a_run_takes_the_styles_in_turn_steers_them_and_resumes(tmp_path: Path) -> None:
    from framestyle.imageio import write_image

    torch.manual_seed(0)
    net = MixStyleNet(CONFIG)
    styles = torch.randn(2, net.style_size) * 0.1 + 1.0
    torch.save({"net": net.state_dict(), "styles": styles}, tmp_path / "warm.ckpt")
    vgg = tmp_path / "vgg.pth"
    torch.save(Vgg16().features.state_dict(), vgg)
    rng = np.random.default_rng(0)
    paintings = []
    for i in range(2):
        paintings.append(tmp_path / f"p{i}.png")
        write_image(paintings[-1], rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))
    images = [rng.integers(0, 256, (40, 60, 3), dtype=np.uint8) for _ in range(3)]
    masks = [np.full((40, 60), 255, np.uint8), None, None]
    config = PaintConfig(paintings=paintings, init=tmp_path / "warm.ckpt", out=tmp_path / "painted.onnx",
                         style_weights=[1.0, 1.0], width=CONFIG.width, blocks=1, steps=4, batch=2, crop=24,
                         adapt_every=2, content_target=1e-6, vgg_weights=vgg, stability_weight=1.0)
    first = train_painting(config, images, masks, images[:2], progress=False)
    assert first.steps_done == 4 and first.finished
    assert not torch.equal(first.styles[0], styles[0]) and not torch.equal(first.styles[1], styles[1])
    saved = torch.load(config.checkpoint, weights_only=False)
    assert [entry["step"] for entry in saved["history"]] == [2, 4]
    assert all(len(score) == 3 for score in saved["history"][0]["scores"])  # ratio, content, invented structure
    assert {"content", "style", "tv", "grid", "structure", "stability"} <= set(saved["running"])
    assert all(w < 1.0 for w in saved["style_weights"])  # any content distance is over a near-zero target
    config.steps = 5
    resumed = train_painting(config, images, masks, images[:2], progress=False)
    assert resumed.steps_done == 5
    assert torch.load(config.checkpoint, weights_only=False)["step"] == 5
    _publishes_with_its_method(config, resumed, tmp_path, paintings)


def _publishes_with_its_method(config: PaintConfig, result: DistillResult, tmp_path: Path,
                               paintings: list[Path]) -> None:
    """The finished run is written out as the distilled network is: network, fp16 twin, a card per style."""
    import json

    from framestyle.imageio import write_image
    from framestyle.train.mixpublish import PAINTED, publish_shared

    data = tmp_path / "kit"
    (data / "content").mkdir(parents=True)
    (data / "styles").mkdir()
    write_image(data / "content" / "photo.png", np.random.default_rng(1).integers(0, 256, (40, 56, 3), np.uint8))
    for index, painting in enumerate(paintings):
        (data / "styles" / painting.name).write_bytes(painting.read_bytes())
        teacher = tmp_path / f"t{index}.onnx"
        teacher.with_suffix(".json").write_text(json.dumps({
            "title": f"T{index}", "artist": "A", "year": "1900", "painting": {"file": painting.name},
            "files": {"fp32": {"sha256": "0" * 64}}, "validation": {"photo_names": ["photo.png"]}}))
        config.teachers.append(teacher)
    config.out.with_name("two.json").write_text(json.dumps({"name": "two", "default": True}))  # the default style
    publish_shared(result, config, ["one", "two"], data, config.vgg_weights, method=PAINTED)
    card = json.loads(config.out.with_suffix(".json").read_text())
    assert card["training"]["method"] == PAINTED and card["training"]["steps_done"] == 5
    assert config.out.exists() and config.out.with_name("painted.fp16.onnx").exists()
    for name, vector in zip(["one", "two"], result.styles, strict=True):
        style = json.loads(config.out.with_name(f"{name}.json").read_text())
        np.testing.assert_allclose(style["shared"]["vector"], vector.numpy(), atol=1e-5)
        assert style["default"] is (name == "two")  # a replaced card's default mark is kept
    _publishes_a_refined_vector(config.out.with_name("one.json"), data, config.vgg_weights)


def _publishes_a_refined_vector(style_card: Path, data: Path, vgg: Path | None) -> None:
    """A refined vector replaces the style card's, with new validation scores and the refinement's record; a vector
    refined for another network is refused."""
    import json

    from framestyle.train.mixpublish import publish_refined_style

    before = json.loads(style_card.read_text())
    vector = [round(v * 0.5, 6) for v in before["shared"]["vector"]]
    refined = {"name": "one", "shared": {"sha256": before["shared"]["sha256"], "vector": vector},
               "training": {"method": "refined", "steps_done": 3}}
    scores = publish_refined_style(style_card, refined, data, vgg)
    after = json.loads(style_card.read_text())
    assert after["shared"]["vector"] == vector and after["training"]["refined"]["steps_done"] == 3
    assert after["validation"]["style_ratio"] == scores["style_ratio"] != before["validation"]["style_ratio"]
    assert after["validation"]["photo_names"] == ["photo.png"] and after["title"] == before["title"]
    with pytest.raises(ValueError, match="another shared network"):
        publish_refined_style(style_card, {**refined, "shared": {"sha256": "0" * 64, "vector": vector}}, data, vgg)


def test_a_warm_start_with_another_count_of_styles_is_refused(tmp_path: Path) -> None:
    net = MixStyleNet(CONFIG)
    torch.save({"net": net.state_dict(), "styles": torch.ones(3, net.style_size)}, tmp_path / "warm.ckpt")
    vgg = tmp_path / "vgg.pth"
    torch.save(Vgg16().features.state_dict(), vgg)
    config = PaintConfig(paintings=[tmp_path / "a.png"], init=tmp_path / "warm.ckpt", out=tmp_path / "p.onnx",
                         style_weights=[1.0], width=CONFIG.width, blocks=1, vgg_weights=vgg)
    with pytest.raises(ValueError, match="3 styles, 1 paintings"):
        train_painting(config, [np.zeros((32, 32, 3), np.uint8)], None, [], progress=False)
