"""The recipe runner's stages: which model each stage writes and which model it starts from."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from framestyle.errors import InputError
from framestyle.train.config import TrainConfig, add_arguments, config_from_args, config_from_recipe

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


def test_a_recipe_init_starts_its_first_stage_from_another_model_of_the_zoo(train_zoo, tmp_path: Path) -> None:
    recipe = {"name": "night", "init": "wave.onnx", "stages": [{}, {"steps": 300}]}
    (first, _), (second, _) = train_zoo.stage_runs(recipe, tmp_path)
    assert first["init"] == tmp_path / "wave.onnx"
    assert second["init"] == tmp_path / ".stages" / "night.1.onnx"


def test_a_stage_loads_straight_into_the_training_configuration(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "content").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg", "val.jpg"):
        (data / "content" / name).write_bytes(b"")
    recipe = {"name": "wave", "style": "styles/wave.jpg", "content": "content", "validation": ["val.jpg"],
              "videos": ["video/clip.mp4"], "steps": 300, "width": [8, 16, 32], "init": tmp_path / "wave.1.onnx"}
    config = config_from_recipe(recipe, data=data, out=tmp_path / "wave.onnx", vgg_weights=tmp_path / "vgg.pth")
    assert config.init == tmp_path / "wave.1.onnx" and config.out == tmp_path / "wave.onnx"
    assert config.content == [data / "content" / "a.jpg", data / "content" / "b.jpg"]
    assert config.validation == [data / "content" / "val.jpg"]
    assert config.style == data / "styles" / "wave.jpg" and config.videos == [data / "video" / "clip.mp4"]
    assert (config.steps, config.width, config.vgg_weights) == (300, (8, 16, 32), tmp_path / "vgg.pth")
    assert config.crop == TrainConfig.__dataclass_fields__["crop"].default  # defaults from the one dataclass


def test_an_unknown_recipe_key_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    with pytest.raises(InputError, match="unknown recipe keys: style_wieght"):
        config_from_recipe({"name": "x", "style": "s.jpg", "content": "content", "style_wieght": 2.0},
                           data=tmp_path, out=tmp_path / "x.onnx")


def test_the_command_line_flags_are_the_configuration_fields() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--style", "s.jpg", "--content", "c", "--name", "n", "--out", "n.onnx", "--lr", "0.01",
                              "--video", "v.mp4", "--width", "8", "16", "24"])
    config = config_from_args(args)
    assert (config.learning_rate, config.videos, config.width) == (0.01, [Path("v.mp4")], (8, 16, 24))
    assert config.steps == TrainConfig.__dataclass_fields__["steps"].default
    dests = {action.dest for action in parser._actions} - {"help"}
    assert dests == set(TrainConfig.__dataclass_fields__)


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
                 {"steps": 600, "crop": 160, "face_weight": 8.0, "structure_weight": 0.01, "gray_fraction": 0.25,
                  "steps_done": 600, "seconds": 600.5, "seed": 0},
                 {"steps": 600, "crop": 160, "face_weight": 15.0, "steps_done": 600, "seconds": 590.0, "seed": 0}]
    for model, training in zip(models, trainings, strict=True):
        model.with_suffix(".json").write_text(json.dumps({"name": "wave", "training": training}))
    train_zoo.record_stages(models)
    card = json.loads(models[-1].with_suffix(".json").read_text())
    assert card["training"]["earlier_stages"] == [
        {"steps": 480, "crop": 128, "style_weight": 12.0, "steps_done": 480, "seconds": 800.0},
        {"steps": 600, "crop": 160, "face_weight": 8.0, "structure_weight": 0.01, "gray_fraction": 0.25,
         "steps_done": 600, "seconds": 600.5}]
    assert card["training"]["total_steps"] == 1680
    assert card["training"]["total_seconds"] == 1990.5
    assert card["training"]["face_weight"] == 15.0 and card["name"] == "wave"
