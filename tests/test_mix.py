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
from framestyle.train.mixpublish import shared_io  # noqa: E402
from framestyle.train.net import FastStyleConfig  # noqa: E402
from framestyle.train.publish import sha256  # noqa: E402

from .tiny_models import write_invert_model  # noqa: E402

STYLES = ("red", "green", "blue")


def _tiny_shared(folder: Path) -> dict[str, Path]:
    """A small random shared network and three style cards with distinct vectors; returns the cards by name."""
    torch.manual_seed(0)
    net = MixStyleNet(FastStyleConfig(width=(4, 8, 8), blocks=1)).eval()
    model = to_onnx_bytes(net, net.style_size)
    (folder / "net.onnx").write_bytes(model)
    files = {"fp32": {"file": "net.onnx", "sha256": sha256(model), "bytes": len(model)}}
    rng = np.random.default_rng(1)
    cards = {}
    for index, name in enumerate(STYLES):
        vector = rng.normal(0.0, 1.0, net.style_size) + (index - 1) * 2.0
        card = {"schema": 1, "name": name, "title": name.title(), "artist": "Test", "year": "2026", "default": False,
                "io": shared_io(net.style_size), "files": files,
                "shared": {"network": "net", "sha256": files["fp32"]["sha256"], "vector": vector.tolist()}}
        cards[name] = folder / f"{name}.json"
        cards[name].write_text(json.dumps(card))
    return cards


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _tiny_shared(tmp_path_factory.mktemp("shared"))


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
