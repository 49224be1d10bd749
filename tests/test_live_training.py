"""New styles from the live page's pictures (POST /api/train): off without --vgg-weights or torch, bad pictures and
names refused in one line, one training at a time, and a finished training offered at once (listed, with a
thumbnail, usable by a page and in mixes). The training runs as a child process that takes the tiny shared network
as the installation's bundled styles."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("aiortc", reason="the [live] extra (aiortc) is not installed")

from aiohttp import FormData  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from framestyle.catalog import offered_styles  # noqa: E402
from framestyle.cli import main  # noqa: E402
from framestyle.live.server import LiveConfig, LiveServer  # noqa: E402
from framestyle.live.track import Settings  # noqa: E402
from framestyle.live.training import MAX_PICTURE_BYTES, TrainingOptions  # noqa: E402

from .test_live_server import _Browser  # noqa: E402
from .tiny_models import bundled_in_subprocesses, write_tiny_shared  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_shared(tmp_path_factory.mktemp("shared"))["red"].parent


@pytest.fixture()
def installed(models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny shared network's styles as the bundled styles, here and in subprocesses; the user-style folder."""
    import framestyle.catalog

    monkeypatch.setattr(framestyle.catalog, "_models_folder", lambda: models)
    monkeypatch.setenv("PYTHONPATH", bundled_in_subprocesses(models, tmp_path / "site"))
    return framestyle.catalog.user_styles_dir()


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from framestyle.train.vgg import Vgg16

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg.pth"
    torch.save(Vgg16().features.state_dict(), path)
    return path


def _picture(height: int = 80, width: int = 96) -> bytes:
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return cv2.imencode(".png", image)[1].tobytes()


def _form(name: str, picture: bytes, filename: str = "painting.png") -> FormData:
    form = FormData()
    form.add_field("name", name)
    form.add_field("picture", picture, filename=filename, content_type="application/octet-stream")
    return form


def _run(body, training: TrainingOptions) -> None:
    async def go() -> None:
        models = offered_styles(None)
        config = LiveConfig(styles=models, defaults=Settings(models[0].name, 1.0, 0.0), training=training)
        server = LiveServer(config, report=lambda line: None)
        async with TestClient(TestServer(server.app, host="127.0.0.1")) as client:
            await body(server, client)

    asyncio.run(go())


async def _refused(client: TestClient, data: object, status: int = 400) -> str:
    response = await client.post("/api/train", data=data)
    error = (await response.json())["error"]
    assert response.status == status and "\n" not in error, (response.status, error)
    return error


def test_training_is_off_without_vgg_weights_or_torch(installed: Path, vgg_file: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    async def off(server: LiveServer, client: TestClient) -> None:
        training = (await (await client.get("/api/styles")).json())["training"]
        assert not training["available"] and "--vgg-weights" in training["reason"]
        assert "--vgg-weights" in await _refused(client, _form("mine", _picture()), 503)

    _run(off, TrainingOptions())

    async def no_torch(server: LiveServer, client: TestClient) -> None:
        training = (await (await client.get("/api/status")).json())["training"]
        assert not training["available"] and "torch is missing" in training["reason"]
        assert "[train] extra" in await _refused(client, _form("mine", _picture()), 503)

    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    _run(no_torch, TrainingOptions(vgg_file))


def test_bad_pictures_and_names_are_refused_in_one_line(installed: Path, vgg_file: Path) -> None:
    async def body(server: LiveServer, client: TestClient) -> None:
        training = (await (await client.get("/api/styles")).json())["training"]
        assert training["available"] and training["state"] == "idle" and training["minutes"] == 15
        assert "multipart" in await _refused(client, b"just bytes")
        assert "multipart" in await _refused(client, _form("", _picture()))
        assert "too small" in await _refused(client, _form("mine", _picture(40, 300)))
        assert "not a picture" in await _refused(client, _form("mine", b"not a picture", "notes.png"))
        assert "larger than 20 MB" in await _refused(client, _form("mine", bytes(MAX_PICTURE_BYTES + 1)))
        assert "not usable" in await _refused(client, _form("Bad Name", _picture()))
        assert "already offered or bundled" in await _refused(client, _form("red", _picture()))
        installed.mkdir(parents=True, exist_ok=True)
        (installed / "mine.json").write_text("{}")
        assert "exists already" in await _refused(client, _form("mine", _picture()))
        assert (await (await client.get("/api/status")).json())["training"]["state"] == "idle"
        assert server.trainer._process is None

    _run(body, TrainingOptions(vgg_file))


def test_one_training_at_a_time_and_it_stops_with_the_server(installed: Path, vgg_file: Path) -> None:
    servers: list[LiveServer] = []

    async def body(server: LiveServer, client: TestClient) -> None:
        servers.append(server)
        response = await client.post("/api/train", data=_form("mine", _picture()))
        assert response.status == 202 and (await response.json())["state"] == "running"
        error = await _refused(client, _form("other", _picture()), 409)
        assert "'mine' is being trained" in error and "one at a time" in error
        training = (await (await client.get("/api/status")).json())["training"]
        assert training["state"] == "running" and training["name"] == "mine" and training["steps"] == 1500

    _run(body, TrainingOptions(vgg_file))
    assert servers[0].trainer._process.returncode is not None  # stopped when the server stopped
    assert not (installed / "mine.json").exists()


@pytest.mark.slow
def test_a_trained_style_is_offered_listed_and_usable_by_a_page(installed: Path, vgg_file: Path) -> None:
    async def body(server: LiveServer, client: TestClient) -> None:
        response = await client.post("/api/train", data=_form("mine", _picture()))
        assert response.status == 202, await response.text()
        for _ in range(1200):
            training = (await (await client.get("/api/status")).json())["training"]
            if training["state"] != "running":
                break
            await asyncio.sleep(0.25)
        assert training["state"] == "done", training
        assert training["step"] == training["steps"] == 2 and training["seconds_left"] == 0
        assert set(training["losses"]) == {"content", "style", "tv"}
        styles = {style["name"]: style for style in (await (await client.get("/api/styles")).json())["styles"]}
        assert styles["mine"]["network"] == styles["red"]["network"] is not None
        thumb = await client.get("/api/thumb/mine.jpg")
        assert thumb.status == 200 and (await thumb.read())[:2] == b"\xff\xd8"
        browser = _Browser(client)
        status, _ = await browser.connect(style="mine")
        assert status == 200
        await browser.frame()
        browser.channel.send(json.dumps({"style": "mine=0.5,red=0.5"}))
        assert (await browser.reply())["applied"]["style"] == "mine=0.5,red=0.5"
        await browser.pc.close()

    _run(body, TrainingOptions(vgg_file, steps=2))
    card = json.loads((installed / "mine.json").read_text())
    assert card["painting"]["file"] == "painting.png" and card["training"]["steps_done"] == 2


def test_the_command_checks_the_training_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["live", "--vgg-weights", str(tmp_path / "nothing.pth")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["live", "--train-steps", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err
