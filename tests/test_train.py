"""Training, export and card writing, on generated images with a randomly initialised VGG (no downloads)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("tqdm")

from framestyle.cli import main  # noqa: E402
from framestyle.imageio import write_image  # noqa: E402
from framestyle.train.export import check_export, to_onnx_bytes  # noqa: E402
from framestyle.train.losses import grid_energy, random_motion, warp  # noqa: E402
from framestyle.train.net import FastStyleConfig, FastStyleNet, JohnsonNet, count_macs_per_pixel  # noqa: E402
from framestyle.train.vgg import Vgg16  # noqa: E402

from .tiny_models import write_grid_model  # noqa: E402


@pytest.fixture()
def kit(tmp_path: Path) -> dict[str, Path]:
    """A painting, four photos, a validation photo and random VGG weights, all generated."""
    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        yy, xx = np.mgrid[0:60, 0:80]
        image = np.stack([(xx * 3 + i * 40) % 256, (yy * 4) % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)
        write_image(photos / f"p{i}.png", image)
    painting = tmp_path / "painting.png"
    write_image(painting, rng.integers(0, 256, size=(70, 90, 3), dtype=np.uint8))
    validation = tmp_path / "val.png"
    write_image(validation, rng.integers(0, 256, size=(50, 41, 3), dtype=np.uint8))
    torch.manual_seed(0)
    vgg = tmp_path / "vgg.pth"
    torch.save(Vgg16().features.state_dict(), vgg)
    return {"photos": photos, "painting": painting, "validation": validation, "vgg": vgg, "root": tmp_path}


def _train(kit: dict[str, Path], *extra: str) -> int:
    return main(["train", "--style", str(kit["painting"]), "--content", str(kit["photos"]), "--name", "tiny",
                 "--out", str(kit["root"] / "tiny.onnx"), "--vgg-weights", str(kit["vgg"]), "--crop", "32",
                 "--batch", "2", "--validation", str(kit["validation"]), "--title", "Noise", *extra])


@pytest.mark.slow
def test_tiny_training_run_exports_models_and_a_complete_card(kit: dict[str, Path]) -> None:
    assert _train(kit, "--steps", "3") == 0
    card = json.loads((kit["root"] / "tiny.json").read_text())
    assert card["training"]["steps_done"] == 3 and card["training"]["finished"]
    assert card["export_check"]["max_abs_diff"] <= 1
    architecture = card["architecture"]
    net = FastStyleNet(FastStyleConfig(**architecture["options"]))
    weights = onnx.load(str(kit["root"] / "tiny.onnx")).graph.initializer
    assert architecture["parameters"] == sum(onnx.numpy_helper.to_array(tensor).size for tensor in weights)
    assert architecture["mac_per_pixel"] == round(count_macs_per_pixel(net))
    assert set(card["validation"]) >= {"style_ratio", "content_distance"}
    import hashlib

    for entry in card["files"].values():
        data = (kit["root"] / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert (kit["root"] / "tiny.ckpt").exists()


@pytest.mark.slow
def test_network_options_and_grid_weight_reach_the_card(kit: dict[str, Path]) -> None:
    assert _train(kit, "--steps", "1", "--width", "8", "16", "24", "--blocks", "2", "--detail", "4",
                  "--grid-weight", "100") == 0
    card = json.loads((kit["root"] / "tiny.json").read_text())
    assert card["architecture"]["options"] == {"width": [8, 16, 24], "blocks": 2, "detail": 4}
    assert card["training"]["width"] == [8, 16, 24] and card["training"]["blocks"] == 2
    assert card["training"]["detail"] == 4 and card["training"]["grid_weight"] == 100
    assert card["architecture"]["mac_per_pixel"] > count_macs_per_pixel(
        FastStyleNet(FastStyleConfig(width=(8, 16, 24), blocks=2)))


@pytest.mark.slow
def test_face_weight_reads_the_face_boxes_and_reaches_the_card(kit: dict[str, Path]) -> None:
    photos = sorted(kit["photos"].iterdir())
    # The boxes cache beside the output stands in for the detector (no facenet-pytorch needed here).
    boxes = {str(p): [[10.0, 10.0, 40.0, 50.0]] if i == 0 else [] for i, p in enumerate(photos)}
    (kit["root"] / "tiny.faces.json").write_text(json.dumps(boxes))
    assert _train(kit, "--steps", "2", "--face-weight", "4") == 0
    card = json.loads((kit["root"] / "tiny.json").read_text())
    assert card["training"]["face_weight"] == 4 and card["training"]["steps_done"] == 2


@pytest.mark.slow
def test_face_keep_weight_adds_the_face_keeping_loss_and_reaches_the_card(kit: dict[str, Path]) -> None:
    if importlib.util.find_spec("facenet_pytorch") is None:
        pytest.skip("facenet-pytorch is not installed (`make test` installs it)")
    # A face in the middle of every photo. The sampler stores the 60x80 photos at 384x512, so a 384 px crop holds
    # the face whole wherever it falls (faces cut by the crop's border are left out).
    boxes = {str(p): [[30.0, 20.0, 50.0, 40.0]] for p in sorted(kit["photos"].iterdir())}
    (kit["root"] / "tiny.faces.json").write_text(json.dumps(boxes))
    assert _train(kit, "--steps", "2", "--crop", "384", "--batch", "1", "--face-keep-weight", "2") == 0
    training = json.loads((kit["root"] / "tiny.json").read_text())["training"]
    assert training["face_keep_weight"] == 2 and training["face_weight"] == 0
    assert training["final_running_losses"]["face_keep"] > 0


@pytest.mark.slow
def test_structure_weight_adds_the_structure_loss_and_reaches_the_card(kit: dict[str, Path]) -> None:
    # An allowance of 0 makes any structure cost, so the term is in the final losses.
    assert _train(kit, "--steps", "2", "--structure-weight", "0.5", "--structure-allowance", "0") == 0
    training = json.loads((kit["root"] / "tiny.json").read_text())["training"]
    assert training["structure_weight"] == 0.5 and training["structure_allowance"] == 0
    assert training["final_running_losses"]["structure"] > 0


def test_structure_penalty_is_zero_under_its_allowance_and_grows_beyond() -> None:
    from framestyle.train.losses import invented_structure, structure_penalty

    photos = torch.full((2, 3, 48, 48), 0.5)
    stylized = photos.clone()
    stylized[:, :, :24] = 0.2  # a dark band the flat photo's colour cannot explain
    invented = invented_structure(photos, stylized)
    assert float(invented.min()) > 10
    assert structure_penalty(photos, stylized, allowance=float(invented.max()) + 1).item() == 0
    assert structure_penalty(photos, stylized, allowance=0).item() == pytest.approx(float(invented.pow(2).mean()))


def test_relative_style_weights_favour_the_photo_nearest_the_painting() -> None:
    from framestyle.train.losses import gram, perceptual_terms, relative_style_weights
    from framestyle.train.vgg import STYLE_LAYERS

    torch.manual_seed(0)
    vgg = Vgg16().eval()
    painting = torch.rand(1, 3, 48, 48)
    grams = {name: gram(getattr(vgg(painting), name)) for name in STYLE_LAYERS}
    photos = torch.cat([painting, torch.full((1, 3, 48, 48), 0.5)])  # the painting itself, a flat grey
    weights = relative_style_weights(vgg(photos), grams)
    assert weights.mean().item() == pytest.approx(1.0)
    assert weights[0] > 10 * weights[1]
    stylized = torch.rand(2, 3, 48, 48)
    terms = {relative: perceptual_terms(vgg, photos, stylized, grams, face=None, content_weight=1, style_weight=1,
                                        tv_weight=0, relative_style=relative) for relative in (False, True)}
    assert terms[True]["content"].item() == pytest.approx(terms[False]["content"].item(), rel=1e-5)
    assert terms[True]["style"].item() != pytest.approx(terms[False]["style"].item(), rel=1e-3)


@pytest.mark.slow
def test_relative_style_reaches_the_card(kit: dict[str, Path]) -> None:
    assert _train(kit, "--steps", "2", "--relative-style") == 0
    assert json.loads((kit["root"] / "tiny.json").read_text())["training"]["relative_style"] is True


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint(kit: dict[str, Path]) -> None:
    assert _train(kit, "--steps", "2") == 0
    assert _train(kit, "--steps", "4", "--resume") == 0
    card = json.loads((kit["root"] / "tiny.json").read_text())
    assert card["training"]["steps_done"] == 4


@pytest.mark.slow
def test_average_decay_exports_the_moving_average_and_resumes_it(kit: dict[str, Path]) -> None:
    from framestyle.train.export import weights_from_onnx
    from framestyle.train.loop import initial_weights

    assert _train(kit, "--steps", "2", "--average-decay", "0.5") == 0
    checkpoint = torch.load(kit["root"] / "tiny.ckpt", weights_only=False)
    last, averaged = checkpoint["net"], initial_weights(kit["root"] / "tiny.ckpt")
    exported = weights_from_onnx((kit["root"] / "tiny.onnx").read_bytes())
    assert all(torch.allclose(exported[key], averaged[key], atol=1e-6) for key in exported)
    assert not all(torch.allclose(exported[key], last[key], atol=1e-6) for key in exported)
    # Two more steps resumed: the average goes on from the checkpoint's, half-way to each new step's weights.
    assert _train(kit, "--steps", "4", "--average-decay", "0.5", "--resume") == 0
    card = json.loads((kit["root"] / "tiny.json").read_text())
    assert card["training"]["average_decay"] == 0.5 and card["training"]["steps_done"] == 4
    resumed = torch.load(kit["root"] / "tiny.ckpt", weights_only=False)
    assert int(resumed["averaged"]["n_averaged"]) == 4


def test_average_decay_outside_zero_to_one_is_one_line_error(kit: dict[str, Path],
                                                             capsys: pytest.CaptureFixture) -> None:
    assert _train(kit, "--steps", "1", "--average-decay", "1") == 2
    assert "--average-decay must be at least 0 and under 1" in capsys.readouterr().err


@pytest.mark.slow
def test_init_starts_from_a_trained_models_weights(kit: dict[str, Path]) -> None:
    from framestyle.train.export import weights_from_onnx

    assert _train(kit, "--steps", "2") == 0
    first = kit["root"] / "first.onnx"
    (kit["root"] / "tiny.onnx").rename(first)
    assert _train(kit, "--steps", "0", "--init", str(first)) == 0
    before, after = weights_from_onnx(first.read_bytes()), weights_from_onnx((kit["root"] / "tiny.onnx").read_bytes())
    assert before.keys() == after.keys()
    assert all(torch.equal(before[key], after[key]) for key in before)
    # Without --init the same zero-step run starts from random weights.
    assert _train(kit, "--steps", "0") == 0
    fresh = weights_from_onnx((kit["root"] / "tiny.onnx").read_bytes())
    assert not all(torch.equal(before[key], fresh[key]) for key in before)


@pytest.mark.slow
def test_init_from_another_architecture_is_one_line_error(kit: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert _train(kit, "--steps", "1", "--blocks", "2") == 0
    first = kit["root"] / "first.onnx"
    (kit["root"] / "tiny.onnx").rename(first)
    capsys.readouterr()
    assert _train(kit, "--steps", "1", "--init", str(first)) == 2
    error = capsys.readouterr().err.strip()
    assert "do not fit this network" in error and error.count("\n") == 0
    (kit["root"] / "junk.onnx").write_bytes(b"not a model")
    assert _train(kit, "--steps", "1", "--init", str(kit["root"] / "junk.onnx")) == 2


def test_a_grown_network_computes_what_the_narrow_one_did() -> None:
    from framestyle.train.net import grown_state

    torch.manual_seed(0)
    narrow = FastStyleNet(FastStyleConfig(width=(8, 16, 32), blocks=2))
    with torch.no_grad():
        for parameter in narrow.parameters():  # norms off their identity start, so every tensor matters
            parameter.add_(0.3 * torch.randn_like(parameter))
    wide = FastStyleNet(FastStyleConfig(width=(12, 24, 40), blocks=2, detail=4))
    wide.load_state_dict(grown_state(wide.state_dict(), narrow.state_dict()))
    image = torch.rand(1, 3, 37, 50)
    with torch.no_grad():
        expected, grown = narrow.eval()(image), wide.eval()(image)
    assert torch.allclose(grown, expected, atol=1e-5)
    # The added channels are not dead: their weights read the old ones and training reaches them.
    assert wide.enc1[0].weight[8:].abs().sum() > 0 and wide.detail.maps.weight.abs().sum() > 0


def test_a_network_does_not_grow_narrower() -> None:
    from framestyle.train.net import grown_state

    wide = FastStyleNet(FastStyleConfig(width=(12, 24, 40), blocks=2)).state_dict()
    with pytest.raises(ValueError, match="does not fit"):
        grown_state(FastStyleNet(FastStyleConfig(width=(8, 24, 40), blocks=2)).state_dict(), wide)
    with pytest.raises(ValueError, match="has no"):
        grown_state(FastStyleNet(FastStyleConfig(width=(12, 24, 40), blocks=1)).state_dict(), wide)


@pytest.mark.slow
def test_grow_starts_a_wider_run_from_a_narrow_model(kit: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    from framestyle.stylizer import Stylizer

    assert _train(kit, "--steps", "1", "--width", "8", "16", "32", "--blocks", "2") == 0
    narrow = kit["root"] / "narrow.onnx"
    (kit["root"] / "tiny.onnx").rename(narrow)
    (kit["root"] / "tiny.json").rename(narrow.with_suffix(".json"))
    wider = ("--width", "8", "24", "48", "--blocks", "2", "--detail", "4", "--init", str(narrow))
    capsys.readouterr()
    assert _train(kit, "--steps", "0", *wider) == 2  # without --grow the shapes must match
    assert "--grow" in capsys.readouterr().err
    assert _train(kit, "--steps", "0", "--grow", *wider) == 0
    card = json.loads((kit["root"] / "tiny.json").read_text())
    assert card["architecture"]["options"] == {"width": [8, 24, 48], "blocks": 2, "detail": 4}
    frame = np.random.default_rng(1).integers(0, 256, size=(40, 56, 3), dtype=np.uint8)
    before = Stylizer(str(narrow), temporal=0.0).stylize_only(frame).astype(int)
    after = Stylizer(str(kit["root"] / "tiny.onnx"), temporal=0.0).stylize_only(frame).astype(int)
    assert np.abs(after - before).max() <= 1


def test_train_reports_a_missing_painting_in_one_line(kit: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    status = main(["train", "--style", str(kit["root"] / "nope.jpg"), "--content", str(kit["photos"]),
                   "--name", "x", "--out", str(kit["root"] / "x.onnx")])
    assert status == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_train_refuses_an_output_folder_that_does_not_exist_before_training(
        kit: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    status = main(["train", "--style", str(kit["painting"]), "--content", str(kit["photos"]), "--name", "x",
                   "--out", str(kit["root"] / "nowhere" / "x.onnx")])
    assert status == 2
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.parametrize("net", [FastStyleNet(), FastStyleNet(FastStyleConfig(detail=4)), JohnsonNet()],
                         ids=["fast", "fast-detail", "johnson"])
def test_onnx_export_matches_torch_on_random_and_odd_sizes(net: torch.nn.Module) -> None:
    torch.manual_seed(1)
    for parameter in net.parameters():  # move away from the near-constant initial output
        parameter.data.add_(torch.randn_like(parameter) * 0.05)
    check = check_export(net, to_onnx_bytes(net), seed=3, trials=3)
    assert check.max_abs_diff <= 1
    assert any(h % 2 or w % 2 for h, w in check.sizes)


@pytest.mark.parametrize("detail", [0, 4])
@pytest.mark.parametrize("size", [(9, 9), (9, 40), (17, 11), (33, 65)])
def test_fast_network_keeps_any_size_from_its_minimum(size: tuple[int, int], detail: int) -> None:
    net = FastStyleNet(FastStyleConfig(detail=detail)).eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, *size))
    assert out.shape == (1, 3, *size)


def test_fast_network_is_far_cheaper_than_johnsons() -> None:
    ours, reference = count_macs_per_pixel(FastStyleNet(), 64, 64), count_macs_per_pixel(JohnsonNet(), 64, 64)
    assert ours * 20 < reference


def test_synthetic_motion_warp_keeps_the_frame_and_masks_what_left_it() -> None:
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 40, 50)
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    same, mask = warp(image, identity)
    assert torch.allclose(same, image, atol=1e-5) and bool(mask.all())
    moved, mask = warp(image, random_motion(2, 4.0, 1.5, 0.02, generator, 40, 50))
    assert 0.5 < float(mask.mean()) < 1.0


def test_grid_energy_catches_a_pattern_locked_to_the_pixel_grid_not_texture() -> None:
    torch.manual_seed(0)
    texture = 0.5 + 0.1 * torch.randn(4, 3, 128, 128)
    stripes = 0.02 * torch.tensor([1.0, 0.0, -1.0, 0.0]).repeat(32).view(1, 1, 128, 1)
    assert float(grid_energy(texture)) < 3e-5
    assert float(grid_energy(texture + stripes)) > 10 * float(grid_energy(texture))


@pytest.mark.slow
def test_evaluate_style_reports_distances_their_ratio_and_grid_texture(kit: dict[str, Path],
                                                                      capsys: pytest.CaptureFixture) -> None:
    photos = sorted(kit["photos"].iterdir())
    assert main(["evaluate-style", *map(str, photos), "--style", "composition_vii", "--painting",
                 str(kit["painting"]), "--vgg-weights", str(kit["vgg"]), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["style"] == "composition_vii" and scores["photos"] == len(photos)
    assert 0 < scores["style_ratio"] and "face_survival" not in scores and scores["content_distance"] > 0
    assert scores["photo_side"] == 512 and list(scores["layers"]) == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    assert sum(out for out, _ in scores["layers"].values()) == pytest.approx(scores["style_distance"])
    assert main(["evaluate-style", *map(str, photos), "--style", "composition_vii", "--painting",
                 str(kit["painting"]), "--vgg-weights", str(kit["vgg"]), "--photo-side", "96"]) == 0
    printed = capsys.readouterr().out
    assert "photos at 96 px" in printed and "style distance per layer, output/photos: relu1_2 " in printed


@pytest.mark.slow
def test_evaluate_style_measures_a_planted_grid_at_its_amplitude(kit: dict[str, Path], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    photos = [tmp_path / f"flat{level}.png" for level in (60, 120, 180)]
    for level, photo in zip((60, 120, 180), photos, strict=True):
        write_image(photo, np.full((48, 64, 3), level, np.uint8))
    model = write_grid_model(tmp_path / "grid.onnx", period=8, amplitude=6)
    assert main(["evaluate-style", *map(str, photos), "--style", str(model), "--painting", str(kit["painting"]),
                 "--vgg-weights", str(kit["vgg"]), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    # One phase of 64 is 6 levels brighter: the phase means' standard deviation is 6 sqrt(63) / 64; a flat photo
    # has none.
    assert scores["grid_amplitude"] == pytest.approx(6 * np.sqrt(63) / 64, abs=0.01)
    assert scores["photo_grid_amplitude"] == 0


def test_evaluate_style_refuses_a_tiny_photo_side_in_one_line(kit: dict[str, Path],
                                                             capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate-style", str(next(kit["photos"].iterdir())), "--painting", str(kit["painting"]),
                 "--vgg-weights", str(kit["vgg"]), "--photo-side", "8"]) == 2
    error = capsys.readouterr().err.strip()
    assert "--photo-side must be at least 32 pixels" in error and "\n" not in error


def test_evaluate_style_reports_a_missing_photo_in_one_line(kit: dict[str, Path],
                                                           capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate-style", str(kit["root"] / "nope.jpg"), "--painting", str(kit["painting"]),
                 "--vgg-weights", str(kit["vgg"])]) != 0
    error = capsys.readouterr().err.strip()
    assert "nope.jpg: no such file" in error and "\n" not in error
