"""The recipe runner's stages: which model each stage writes and which model it starts from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .tool_module import load_tool


@pytest.fixture(scope="module")
def train_zoo():
    return load_tool("train_zoo")


def test_a_recipe_without_stages_is_one_run_writing_the_model(train_zoo, tmp_path: Path) -> None:
    runs = train_zoo.stage_runs({"name": "wave", "steps": 480}, tmp_path)
    assert runs == [({"name": "wave", "steps": 480}, tmp_path / "wave.onnx")]


def test_each_stage_overrides_the_recipe_and_starts_from_the_stage_before(train_zoo, tmp_path: Path) -> None:
    recipe = {"name": "wave", "steps": 480, "style_weight": 8.0, "crop": 128,
              "stages": [{}, {"steps": 300, "style_weight": 3.0}, {"steps": 450, "crop": 192}]}
    runs = train_zoo.stage_runs(recipe, tmp_path)
    assert [model for _, model in runs] == [tmp_path / ".stages" / "wave.1.onnx", tmp_path / ".stages" / "wave.2.onnx",
                                            tmp_path / "wave.onnx"]
    first, second, third = (stage for stage, _ in runs)
    assert "init" not in first and first["steps"] == 480 and first["style_weight"] == 8.0
    assert second["init"] == tmp_path / ".stages" / "wave.1.onnx"
    assert (second["steps"], second["style_weight"], second["crop"]) == (300, 3.0, 128)
    assert third["init"] == tmp_path / ".stages" / "wave.2.onnx"
    assert (third["steps"], third["style_weight"], third["crop"]) == (450, 8.0, 192)
    assert all("stages" not in stage for stage, _ in runs)


def test_stage_arguments_carry_the_init_model(train_zoo, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "content").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg", "val.jpg"):
        (data / "content" / name).write_bytes(b"")
    recipe = {"name": "wave", "style": "styles/wave.jpg", "content": "content", "validation": ["val.jpg"],
              "videos": [], "steps": 300, "init": tmp_path / "wave.1.onnx"}
    args = train_zoo.recipe_arguments(recipe, data, tmp_path / "vgg.pth", tmp_path / "wave.onnx", None)
    assert args[args.index("--init") + 1] == str(tmp_path / "wave.1.onnx")
    assert args[args.index("--out") + 1] == str(tmp_path / "wave.onnx")
    content = args[args.index("--content") + 1 : args.index("--validation")]
    assert content == [str(data / "content" / "a.jpg"), str(data / "content" / "b.jpg")]


def test_a_stage_is_finished_only_when_its_card_says_so(train_zoo, tmp_path: Path) -> None:
    model = tmp_path / "wave.1.onnx"
    assert not train_zoo.stage_finished(model)
    model.with_suffix(".json").write_text(json.dumps({"training": {"finished": False}}))
    assert not train_zoo.stage_finished(model)
    model.with_suffix(".json").write_text(json.dumps({"training": {"finished": True}}))
    assert train_zoo.stage_finished(model)


def test_the_last_stage_card_records_the_stages_before_it(train_zoo, tmp_path: Path) -> None:
    models = [tmp_path / "wave.1.onnx", tmp_path / "wave.2.onnx", tmp_path / "wave.onnx"]
    trainings = [{"steps": 480, "crop": 128, "style_weight": 12.0, "steps_done": 480, "seconds": 800.0, "seed": 0},
                 {"steps": 600, "crop": 160, "face_weight": 8.0, "steps_done": 600, "seconds": 600.5, "seed": 0},
                 {"steps": 600, "crop": 160, "face_weight": 15.0, "steps_done": 600, "seconds": 590.0, "seed": 0}]
    for model, training in zip(models, trainings, strict=True):
        model.with_suffix(".json").write_text(json.dumps({"name": "wave", "training": training}))
    train_zoo.record_stages(models)
    card = json.loads(models[-1].with_suffix(".json").read_text())
    assert card["training"]["earlier_stages"] == [
        {"steps": 480, "crop": 128, "style_weight": 12.0, "steps_done": 480, "seconds": 800.0},
        {"steps": 600, "crop": 160, "face_weight": 8.0, "steps_done": 600, "seconds": 600.5}]
    assert card["training"]["total_steps"] == 1680
    assert card["training"]["total_seconds"] == 1990.5
    assert card["training"]["face_weight"] == 15.0 and card["name"] == "wave"
