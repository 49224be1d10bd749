"""Styles of one shared network: mixes in one pass, style switches without a reload, crossfades without a jump."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from framestyle.bank import StyleBank  # noqa: E402
from framestyle.catalog import parse_mix, resolve_style  # noqa: E402
from framestyle.cli import main  # noqa: E402
from framestyle.engine import StyleEngine  # noqa: E402
from framestyle.errors import InputError, ModelError  # noqa: E402
from framestyle.imageio import read_rgb, write_image  # noqa: E402
from framestyle.stylizer import Stylizer  # noqa: E402
from framestyle.train.export import check_export, to_onnx_bytes  # noqa: E402
from framestyle.train.mixnet import MixStyleNet  # noqa: E402
from framestyle.train.net import FastStyleConfig  # noqa: E402

from .tiny_models import STYLES, write_invert_model, write_tiny_shared  # noqa: E402


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_shared(tmp_path_factory.mktemp("shared"))


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    yy, xx = np.mgrid[0:48, 0:64]
    return np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=-1).astype(np.uint8)


def test_mix_weights_are_normalised_and_bad_ones_refused() -> None:
    assert parse_mix("a=0.7,b=0.3") == [("a", 0.7), ("b", 0.3)]
    assert parse_mix("a=3, b=1") == [("a", 0.75), ("b", 0.25)]
    assert parse_mix("a,b") == [("a", 0.5), ("b", 0.5)]
    for bad in ("a=-1,b=1", "a=x,b=1", "a=0,b=0", "=1,b=1", "a=nan,b=1"):
        with pytest.raises(InputError):
            parse_mix(bad)


def test_a_mix_runs_in_one_pass_with_the_weighted_vector(cards: dict[str, Path], frame: np.ndarray) -> None:
    red, blue = resolve_style(str(cards["red"])), resolve_style(str(cards["blue"]))
    mix = resolve_style(f"{cards['red']}=0.7,{cards['blue']}=0.3")
    assert mix.name == "red=0.7,blue=0.3" and mix.network == red.network
    np.testing.assert_allclose(mix.vector, 0.7 * red.vector + 0.3 * blue.vector, atol=1e-5)
    engine = StyleEngine(red)
    mixed = Stylizer(mix, engine=engine, temporal=0.0)(frame)
    np.testing.assert_array_equal(mixed, engine(frame, mix.vector))
    assert not np.array_equal(mixed, engine(frame)) and not np.array_equal(mixed, engine(frame, blue.vector))
    same = resolve_style(f"{cards['red']}=1,{cards['red']}=2")
    assert same.name == "red"


def test_single_style_networks_cannot_be_mixed(cards: dict[str, Path], tmp_path: Path) -> None:
    single = write_invert_model(tmp_path / "invert.onnx")
    with pytest.raises(ModelError, match="single-style"):
        resolve_style(f"{single}=0.5,{cards['red']}=0.5")


def test_switching_within_the_shared_network_loads_nothing(cards: dict[str, Path], frame: np.ndarray) -> None:
    stylizer = Stylizer(str(cards["red"]), temporal=0.0)
    engine, session = stylizer.engine, stylizer.engine._session
    stylizer.set_style(f"{cards['green']}=0.5,{cards['blue']}=0.5")
    stylizer.set_style(str(cards["blue"]))
    assert stylizer.engine is engine and stylizer.engine._session is session
    np.testing.assert_array_equal(stylizer(frame), StyleEngine(resolve_style(str(cards["blue"])))(frame))


def _largest_step(outputs: list[np.ndarray]) -> float:
    return max(float(np.abs(b.astype(np.int16) - a.astype(np.int16)).mean()) for a, b in itertools.pairwise(outputs))


@pytest.mark.parametrize("across_networks", [False, True])
def test_a_crossfade_has_no_jump(cards: dict[str, Path], frame: np.ndarray, tmp_path: Path,
                                 across_networks: bool) -> None:
    """Frames a tenth of the fade apart: the largest change between two of them is far below the cut's."""
    target = str(write_invert_model(tmp_path / "invert.onnx")) if across_networks else str(cards["blue"])
    now = [0.0]

    def run(fade: float) -> list[np.ndarray]:
        now[0] = 0.0
        stylizer = Stylizer(str(cards["red"]), temporal=0.0)
        outputs = [stylizer(frame)]
        stylizer.set_style(target, fade=fade, clock=lambda: now[0])
        for step in range(11):
            now[0] = step * 0.05
            outputs.append(stylizer(frame))
        return outputs

    cut, faded = run(0.0), run(0.5)
    np.testing.assert_array_equal(cut[-1], faded[-1])  # the fade ends on the new style
    assert _largest_step(faded) < 0.3 * _largest_step(cut)


def test_styles_of_a_shared_network_share_one_engine_in_a_bank(cards: dict[str, Path], frame: np.ndarray) -> None:
    bank = StyleBank([resolve_style(str(cards[name])) for name in STYLES])
    assert bank.engine("red") is bank.engine("blue")
    red, blue = bank.stylizer("red", temporal=0.0), bank.stylizer("blue", temporal=0.0)
    assert not np.array_equal(red(frame), blue(frame))
    mix = bank.stylizer("red=0.5,blue=0.5", temporal=0.0)
    assert mix.engine is red.engine and mix.model.name == "red=0.5,blue=0.5"
    with pytest.raises(ModelError, match="offered"):
        bank.style("red=0.5,purple=0.5")


def test_the_command_line_takes_a_mix(cards: dict[str, Path], frame: np.ndarray, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    source, out = tmp_path / "in.png", tmp_path / "out.png"
    write_image(source, frame)
    mix = f"{cards['red']}=0.7,{cards['blue']}=0.3"
    assert main(["image", str(source), str(out), "--style", mix]) == 0
    expected = StyleEngine(resolve_style(mix))(frame)
    assert np.abs(read_rgb(out).astype(int) - expected.astype(int)).max() <= 1
    assert main(["image", str(source), str(tmp_path / "bad.png"), "--style", f"{cards['red']}=-1"]) == 2
    assert main(["image", str(source), str(tmp_path / "bad.png"), "--style", f"{cards['red']}=1,nosuch=1"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "not negative" in errors[0] and "unknown style 'nosuch'" in errors[1]
    assert not (tmp_path / "bad.png").exists()


def test_the_shared_network_exports_with_its_style_input() -> None:
    torch.manual_seed(0)
    net = MixStyleNet(FastStyleConfig(width=(4, 8, 8), blocks=1))
    vector = np.random.default_rng(0).normal(size=net.style_size).astype(np.float32)
    check = check_export(net, to_onnx_bytes(net, net.style_size), style=vector)
    assert check.max_abs_diff <= 1
    x = torch.rand(2, 3, 21, 30)
    with torch.no_grad():  # one vector for the batch equals that vector given per item
        torch.testing.assert_close(net(x, torch.from_numpy(vector)), net(x, torch.from_numpy(vector).expand(2, -1)))


@pytest.fixture()
def installed(cards: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny shared network's styles as the installation's bundled styles, and an empty user-style folder."""
    import framestyle.catalog

    monkeypatch.setattr(framestyle.catalog, "_models_folder", lambda: cards["red"].parent)
    user = tmp_path / "user-styles"
    monkeypatch.setenv("FRAMESTYLE_STYLES_DIR", str(user))
    return user


@pytest.fixture()
def vgg_file(tmp_path: Path) -> Path:
    from framestyle.train.vgg import Vgg16

    torch.manual_seed(0)
    path = tmp_path / "vgg.pth"
    torch.save(Vgg16().features.state_dict(), path)
    return path


def _add_style(picture: Path, vgg: Path, *extra: str) -> int:
    return main(["add-style", str(picture), "--name", "mine", "--vgg-weights", str(vgg), "--steps", "2", *extra])


def test_add_style_refuses_bad_input_in_one_line(installed: Path, vgg_file: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    tiny, text = tmp_path / "tiny.png", tmp_path / "notes.png"
    write_image(tiny, np.zeros((40, 300, 3), np.uint8))
    text.write_text("not a picture")
    painting = tmp_path / "painting.png"
    write_image(painting, np.random.default_rng(0).integers(0, 256, (80, 96, 3), dtype=np.uint8))
    assert _add_style(tiny, vgg_file) == 2
    assert _add_style(text, vgg_file) == 2
    assert main(["add-style", str(painting), "--name", "Bad Name", "--vgg-weights", str(vgg_file)]) == 2
    assert main(["add-style", str(painting), "--name", "red", "--vgg-weights", str(vgg_file)]) == 2
    assert _add_style(painting, vgg_file, "--content", str(tmp_path / "nothing")) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 5 and all(line.startswith("stylize add-style: error: ") for line in errors)
    assert "too small" in errors[0] and "bundled style" in errors[3]
    assert not installed.exists() or not list(installed.iterdir())


def test_add_style_without_torch_says_which_extra_in_one_line(installed: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    painting = tmp_path / "painting.png"
    write_image(painting, np.random.default_rng(0).integers(0, 256, (80, 96, 3), dtype=np.uint8))
    for name in [name for name in sys.modules if name.startswith("framestyle.train")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    assert main(["add-style", str(painting), "--name", "mine"]) == 2
    (error,) = capsys.readouterr().err.strip().splitlines()
    assert error.startswith("stylize add-style: error: ") and "pip install 'framestyle[train]'" in error
    assert not installed.exists()


@pytest.mark.slow
def test_a_new_style_is_usable_by_name_and_in_mixes_and_resumes_after_ctrl_c(
        installed: Path, vgg_file: Path, tmp_path: Path, frame: np.ndarray, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import framestyle.train.newstyle as newstyle

    painting = tmp_path / "painting.png"
    write_image(painting, np.random.default_rng(0).integers(0, 256, (80, 96, 3), dtype=np.uint8))
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        write_image(photos / f"p{i}.png", np.roll(frame, 7 * i, axis=1))
    calls, real = [0], newstyle.perceptual_terms

    def interrupted(*args: object, **kwargs: object) -> dict:
        calls[0] += 1
        if calls[0] == 2:  # during the second training step
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(newstyle, "perceptual_terms", interrupted)
    content = ("--content", str(photos), "--steps", "3")
    assert _add_style(painting, vgg_file, *content) == 130
    assert (installed / "mine.partial.pt").exists() and not (installed / "mine.json").exists()
    monkeypatch.setattr(newstyle, "perceptual_terms", real)
    assert _add_style(painting, vgg_file, *content) == 0
    assert "resuming mine" in capsys.readouterr().out
    card = json.loads((installed / "mine.json").read_text())
    assert card["training"]["steps_done"] == 3 and not (installed / "mine.partial.pt").exists()

    listed = {row["name"]: row for row in json.loads(_run_styles_json(capsys))}
    assert listed["mine"]["origin"] == "user" and listed["red"]["origin"] == "bundled"
    mine = resolve_style("mine")
    assert mine.origin == "user" and mine.network == resolve_style("red").network
    mixed = Stylizer("mine=0.5,red=0.5", temporal=0.0)(frame)
    assert mixed.shape == frame.shape
    assert _add_style(painting, vgg_file, *content) == 2  # exists: needs --replace
    assert "--replace" in capsys.readouterr().err


def _run_styles_json(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["styles", "--json"]) == 0
    return capsys.readouterr().out


def test_bench_times_a_mix_beside_its_style(cards: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    mix = f"{cards['red']}=0.5,{cards['blue']}=0.5"
    assert main(["bench", "--style", str(cards["red"]), "--compare", mix, "--size", "64x48", "--frames", "6",
                 "--device", "cpu", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    (compared,) = row["compared"]
    assert compared["style"] == "red=0.5,blue=0.5" and compared["fps"] > 0
    assert compared["ratio"] == pytest.approx(compared["fps"] / row["network"]["fps"])


def test_mixes_of_single_style_names_take_the_shared_networks_styles(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Bundled single-style networks stay what a name alone selects; a mix takes the shared network's style of each
    name, and ``NAME=1`` that style alone."""
    import framestyle.catalog

    models = tmp_path / "models"
    (models / "shared").mkdir(parents=True)
    shared = write_tiny_shared(models / "shared")
    write_invert_model(models / "red.onnx")
    (models / "red.json").write_text(json.dumps({"name": "red", "files": {"fp32": {"file": "red.onnx"}}}))
    monkeypatch.setattr(framestyle.catalog, "_models_folder", lambda: models)
    single = resolve_style("red")
    assert single.vector is None and single.fp32 == models / "red.onnx"
    alone = resolve_style("red=1")
    assert alone.vector is not None and alone.network == resolve_style(str(shared["red"])).network
    mix = resolve_style("red=0.5,blue=0.5")
    assert mix.name == "red=0.5,blue=0.5" and mix.network == alone.network
    assert [style.name for style in framestyle.catalog.all_styles()] == ["blue", "green", "red"]
    assert [style.vector is None for style in framestyle.catalog.all_styles()] == [False, False, True]


def test_a_change_at_once_during_a_fade_changes_where_it_goes_not_its_time(cards: dict[str, Path],
                                                                            frame: np.ndarray) -> None:
    """A mixer's slider moved while the picker's fade runs: the fade goes on, toward the new mix."""
    now = [0.0]
    stylizer = Stylizer(str(cards["red"]), temporal=0.0)
    engine = stylizer.engine
    red, blue, green = (resolve_style(str(cards[name])) for name in ("red", "blue", "green"))
    stylizer.set_style(str(cards["blue"]), fade=1.0, clock=lambda: now[0])
    now[0] = 0.25
    stylizer(frame)
    mix = f"{cards['blue']}=0.5,{cards['green']}=0.5"
    stylizer.set_style(mix, fade=0.0)
    now[0] = 0.5
    halfway = 0.5 * red.vector + 0.5 * (0.5 * blue.vector + 0.5 * green.vector)
    np.testing.assert_array_equal(stylizer(frame), engine(frame, halfway.astype(np.float32)))
    now[0] = 1.0
    np.testing.assert_array_equal(stylizer(frame), engine(frame, resolve_style(mix).vector))
