"""A style of a shared network folded into a single-style network: the same pictures, one input, a card the catalog
takes as a single style."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from framestyle.catalog import resolve_style, single_styles  # noqa: E402
from framestyle.train.export import STYLE_INPUT_NAME, to_onnx_bytes  # noqa: E402
from framestyle.train.fold import fold_style, folded_network  # noqa: E402
from framestyle.train.mixnet import MixStyleNet  # noqa: E402
from framestyle.train.net import FastStyleConfig  # noqa: E402
from framestyle.train.publish import sha256  # noqa: E402


def _style_card(folder: Path) -> tuple[Path, np.ndarray]:
    """A tiny shared network's file and the card of one of its styles, in ``folder``."""
    torch.manual_seed(0)
    net = MixStyleNet(FastStyleConfig(width=(4, 8, 8), blocks=1))
    network = to_onnx_bytes(net, net.style_size)
    (folder / "tiny.onnx").write_bytes(network)
    vector = (torch.randn(net.style_size) * 0.2 + 1.0).numpy()
    card = {"schema": 1, "name": "tiny_style", "title": "Tiny", "artist": "A", "year": "1900",
            "painting": {"file": "p.jpg", "credit": "c", "licence": "l"}, "default": True,
            "architecture": {"name": "shared", "options": {"width": [4, 8, 8], "blocks": 1}, "mac_per_pixel": 1,
                             "parameters": sum(p.numel() for p in net.parameters())},
            "io": {}, "opset": 17, "files": {"fp32": {"file": "tiny.onnx", "sha256": sha256(network)}},
            "shared": {"network": "tiny", "sha256": sha256(network), "vector": vector.tolist()},
            "training": {"finished": True}, "validation": {"style_ratio": 0.3}}
    path = folder / "tiny_style.json"
    path.write_text(json.dumps(card))
    return path, vector


def test_a_folded_style_draws_what_the_shared_network_draws_with_its_vector(tmp_path: Path) -> None:
    import onnxruntime as ort

    card_path, vector = _style_card(tmp_path)
    out = tmp_path / "bundle" / "folded.onnx"
    out.parent.mkdir()
    card = fold_style(card_path, out)
    frame = np.random.default_rng(0).integers(0, 256, (1, 41, 57, 3), np.uint8)
    cpu = ["CPUExecutionProvider"]
    shared = ort.InferenceSession(str(tmp_path / "tiny.onnx"), providers=cpu)
    folded = ort.InferenceSession(str(out), providers=cpu)
    assert [i.name for i in folded.get_inputs()] == ["frame"]
    expected = shared.run(None, {"frame": frame, STYLE_INPUT_NAME: vector.astype(np.float32)})[0]
    got = folded.run(None, {"frame": frame})[0]
    assert np.abs(got.astype(int) - expected).max() <= 1
    assert "shared" not in card and not card["default"]  # the default mark stays with the style it was on
    assert card["name"] == "folded" and card["training"]["folded_from"]["sha256"] == sha256(
        (tmp_path / "tiny.onnx").read_bytes())
    assert card["files"]["fp32"]["sha256"] == sha256(out.read_bytes())
    assert (out.parent / card["files"]["fp16"]["file"]).exists()
    as_style = resolve_style(str(out.with_suffix(".json")))
    assert as_style.vector is None and as_style.fp32 == out and as_style.name == "folded"
    rebuilt = folded_network(card, out.read_bytes())
    with torch.no_grad():
        again = rebuilt(torch.from_numpy(frame).permute(0, 3, 1, 2).float() / 255.0)
    assert np.abs(again.permute(0, 2, 3, 1).numpy() * 255.0 - got).max() <= 1.01


def test_a_card_that_is_no_shared_style_is_refused(tmp_path: Path) -> None:
    card = next(style for style in single_styles() if "shared" not in style.card)
    path = tmp_path / "single.json"
    path.write_text(json.dumps(card.card))
    with pytest.raises(ValueError, match="not the card of a style of a shared network"):
        fold_style(path, tmp_path / "out.onnx")


def test_folding_never_overwrites_its_inputs(tmp_path: Path) -> None:
    card_path, _ = _style_card(tmp_path)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    for out in (tmp_path / "tiny.onnx", tmp_path / "tiny_style.onnx"):
        with pytest.raises(ValueError, match="would overwrite"):
            fold_style(card_path, out)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before
