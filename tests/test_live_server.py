"""The ``stylize live`` server over HTTP and WebRTC, with an aiortc peer standing in for the browser (the real
browser is in test_live_browser.py): answers, stylized frames back, settings over the data channel, the page cap,
the token, unknown styles, mixes of a shared network's styles, thumbnails, and the command's one-line errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np
import pytest

from framestyle.catalog import resolve_style
from framestyle.cli import main

from .test_live_track import _FakeCamera, _picture
from .tiny_models import STYLES, write_invert_model, write_tiny_shared

pytest.importorskip("aiortc", reason="the [live] extra (aiortc) is not installed")
pytest.importorskip("aiohttp", reason="the [live] extra (aiohttp) is not installed")

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402

from framestyle.live.server import LiveConfig, LiveServer  # noqa: E402
from framestyle.live.track import Settings  # noqa: E402


def _server(tmp_path: Path, styles: list[str] | None = None, **options: object) -> LiveServer:
    """A server of ``styles`` (default: an inverting network and composition_vii), the first the default."""
    models = [resolve_style(spec) for spec in styles or [str(write_invert_model(tmp_path / "invert.onnx")),
                                                         "composition_vii"]]
    config = LiveConfig(styles=models, defaults=Settings(models[0].name, 1.0, 0.0), **options)
    return LiveServer(config, report=lambda line: None)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The cards of the tiny shared network's styles (red, green, blue) and an inverting network of its own."""
    folder = tmp_path_factory.mktemp("shared")
    cards = write_tiny_shared(folder)
    return [*(str(cards[name]) for name in STYLES), str(write_invert_model(folder / "invert.onnx"))]


class _Browser:
    """An aiortc peer that does what the page does: camera track, data channel, offer, stylized track back."""

    def __init__(self, client: TestClient, token: str = "") -> None:
        self.client, self.token = client, token
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel = self.pc.createDataChannel("control")
        self.messages: list[dict] = []
        self.channel.on("message", lambda message: self.messages.append(json.loads(message)))
        self.remote: asyncio.Future = asyncio.get_running_loop().create_future()
        self.pc.on("track", lambda track: self.remote.done() or self.remote.set_result(track))
        self.pc.addTransceiver(_FakeCamera(100_000, fps=30), direction="sendrecv")

    async def connect(self, **settings: object) -> tuple[int, dict]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        query = f"?token={self.token}" if self.token else ""
        response = await self.client.post(f"/api/offer{query}", json={
            "sdp": self.pc.localDescription.sdp, "type": self.pc.localDescription.type, **settings})
        body = await response.json()
        if response.status == 200:
            await self.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
        return response.status, body

    async def frame(self) -> np.ndarray:
        track = await asyncio.wait_for(self.remote, 20)
        return (await asyncio.wait_for(track.recv(), 20)).to_ndarray(format="rgb24")

    async def reply(self, timeout: float = 20) -> dict:
        for _ in range(int(timeout / 0.05)):
            for message in self.messages:
                if "applied" in message or "error" in message:
                    self.messages.remove(message)
                    return message
            await asyncio.sleep(0.05)
        raise TimeoutError("no reply on the data channel")


def _run(tmp_path: Path, body, styles: list[str] | None = None, **options: object) -> None:
    async def go() -> None:
        server = _server(tmp_path, styles, **options)
        async with TestClient(TestServer(server.app, host="127.0.0.1")) as client:
            await body(server, client)

    asyncio.run(go())


def _is_inverted(image: np.ndarray) -> bool:
    """Whether a received frame is the fake camera's picture inverted (number in the first pixel; VP8 is lossy)."""
    number = 255 - int(image[0, 0, 0])
    expected = 255 - _picture(number).astype(np.int16)
    return float(np.abs(image[8:, 8:].astype(np.int16) - expected[8:, 8:]).mean()) < 20


def test_a_page_gets_its_camera_back_stylized_and_changes_settings(tmp_path: Path) -> None:
    async def body(server: LiveServer, client: TestClient) -> None:
        browser = _Browser(client)
        status, _ = await browser.connect()
        assert status == 200
        assert _is_inverted(await browser.frame())
        browser.channel.send(json.dumps({"strength": 0.0}))
        assert (await browser.reply())["applied"]["strength"] == 0.0
        for _ in range(5):
            await browser.frame()
        assert not _is_inverted(await browser.frame())
        browser.channel.send(json.dumps({"style": "starry_night"}))
        reply = await browser.reply()
        assert "unknown style 'starry_night'" in reply["error"] and reply["applied"]["strength"] == 0.0
        browser.channel.send("not json")
        assert "must be JSON" in (await browser.reply())["error"]
        await browser.frame()  # still streaming
        await browser.pc.close()

    _run(tmp_path, body)


def test_a_page_beyond_the_cap_gets_a_clear_refusal_and_the_first_keeps_streaming(tmp_path: Path) -> None:
    async def body(server: LiveServer, client: TestClient) -> None:
        first, second = _Browser(client), _Browser(client)
        assert (await first.connect())[0] == 200
        await first.frame()
        status, refusal = await second.connect()
        assert status == 503 and "limit" in refusal["error"] and "--max-pages" in refusal["error"]
        await first.frame()
        assert (await (await client.get("/api/status")).json())["pages"] == 1
        await first.pc.close()
        for _ in range(100):  # the server notices the closed page and frees its place
            if not server.pages:
                break
            await asyncio.sleep(0.1)
        assert not server.pages
        third = _Browser(client)
        status, answer = await third.connect()
        assert status == 200
        await third.frame()
        assert (await client.post("/api/bye", json={"key": "not-its-key"})).status == 204
        assert len(server.pages) == 1  # a wrong key closes nothing
        assert (await client.post("/api/bye", json={"key": answer["key"]})).status == 204
        assert not server.pages  # a page that says goodbye frees its place at once
        await third.pc.close()
        await second.pc.close()

    _run(tmp_path, body, max_pages=1)


def test_unknown_style_and_bad_offers_are_refused_with_a_message(tmp_path: Path) -> None:
    async def body(server: LiveServer, client: TestClient) -> None:
        browser = _Browser(client)
        status, refusal = await browser.connect(style="nope")
        assert status == 400 and "unknown style 'nope'" in refusal["error"]
        status, refusal = await browser.connect(style="invert", strength=4)
        assert status == 400 and "strength" in refusal["error"]
        response = await client.post("/api/offer", data=b"{")
        assert response.status == 400 and "must be JSON" in (await response.json())["error"]
        response = await client.post("/api/offer", json={"sdp": "garbage", "type": "offer"})
        assert response.status == 400 and "could not be answered" in (await response.json())["error"]
        assert not server.pages
        await browser.pc.close()

    _run(tmp_path, body)


def test_the_token_guards_the_api_but_not_the_page(tmp_path: Path) -> None:
    async def body(server: LiveServer, client: TestClient) -> None:
        assert (await client.get("/")).status == 200
        assert (await client.get("/static/live.js")).status == 200
        response = await client.get("/api/styles")
        assert response.status == 403 and "token" in (await response.json())["error"]
        assert (await client.get("/api/styles?token=wrong")).status == 403
        styles = await (await client.get("/api/styles?token=s3cret")).json()
        assert [style["name"] for style in styles["styles"]] == ["invert", "composition_vii"]
        browser = _Browser(client, token="s3cret")
        assert (await browser.connect())[0] == 200
        await browser.frame()
        await browser.pc.close()

    _run(tmp_path, body, token="s3cret")


def test_the_page_its_files_and_thumbnails_come_from_the_package(tmp_path: Path) -> None:
    async def body(server: LiveServer, client: TestClient) -> None:
        page = await (await client.get("/")).text()
        assert "/static/live.js" in page and "/static/live.css" in page and "://" not in page
        script = await (await client.get("/static/live.js")).text()
        assert "iceServers: []" in script and "://" not in script.replace("(http://127.0.0.1)", "")
        assert "://" not in await (await client.get("/static/live.css")).text()
        thumb = await client.get("/api/thumb/composition_vii.jpg")
        assert thumb.status == 200 and (await thumb.read())[:2] == b"\xff\xd8"
        assert (await client.get("/api/thumb/nope.jpg")).status == 400
        assert (await client.get("/static/../server.py")).status == 404
        assert (await client.get("/static/thumb_source")).status == 404

    _run(tmp_path, body)


def test_a_page_mixes_styles_of_a_shared_network_and_an_unknown_name_in_a_mix_is_refused(
        tmp_path: Path, shared: list[str]) -> None:
    async def body(server: LiveServer, client: TestClient) -> None:
        styles = await (await client.get("/api/styles")).json()
        networks = {style["name"]: style["network"] for style in styles["styles"]}
        assert networks["red"] == networks["green"] == networks["blue"] is not None and networks["invert"] is None
        browser = _Browser(client)
        status, _ = await browser.connect(style="red=0.5,green=0.5")
        assert status == 200
        await browser.frame()
        stylizer = server.pages[1].track._stylizer
        browser.channel.send(json.dumps({"style": "red=0.7,blue=0.3"}))
        assert (await browser.reply())["applied"]["style"] == "red=0.7,blue=0.3"
        for spec, error in (("red=0.5,purple=0.5", "unknown style 'purple'"), ("red=0.5,invert=0.5", "cannot be mixed"),
                            ("red=x,blue=1", "not a number")):
            browser.channel.send(json.dumps({"style": spec}))
            reply = await browser.reply()
            assert error in reply["error"] and reply["applied"]["style"] == "red=0.7,blue=0.3", reply
        status = await (await client.get("/api/status")).json()
        assert [(page["page"], page["style"]) for page in status["settings"]] == [(1, "red=0.7,blue=0.3")]
        browser.channel.send(json.dumps({"style": "invert"}))  # another network: loaded, and faded to
        assert (await browser.reply())["applied"]["style"] == "invert"
        await browser.frame()
        assert server.pages[1].track._stylizer is stylizer  # one stylizer all along: the history is kept
        await browser.pc.close()

    _run(tmp_path, body, shared)


def test_thumbnails_of_a_shared_networks_styles_and_their_mixes(tmp_path: Path, shared: list[str]) -> None:
    async def body(server: LiveServer, client: TestClient) -> None:
        thumbs = {}
        for spec in ("red", "blue", "red=0.5,blue=0.5", "red", "invert"):
            response = await client.get(f"/api/thumb/{quote(spec)}.jpg")
            assert response.status == 200, await response.text()
            thumbs[spec] = cv2.imdecode(np.frombuffer(await response.read(), np.uint8), cv2.IMREAD_COLOR)
        assert not np.array_equal(thumbs["red"], thumbs["blue"])  # each style in its own vector
        mix = thumbs["red=0.5,blue=0.5"]
        assert not np.array_equal(mix, thumbs["red"]) and not np.array_equal(mix, thumbs["blue"])
        assert sorted(server._thumbs) == ["blue", "invert", "red"]  # offered styles are kept, mixes are not
        response = await client.get(f"/api/thumb/{quote('red=0.5,purple=0.5')}.jpg")
        assert response.status == 400 and "unknown style 'purple'" in (await response.json())["error"]

    _run(tmp_path, body, shared)


def test_the_command_refuses_an_outside_address_without_a_token_and_bad_options(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["live", "--host", "0.0.0.0"]) == 2
    assert "without a token" in capsys.readouterr().err
    assert main(["live", "--style", "nope"]) == 2
    assert "unknown style 'nope'" in capsys.readouterr().err
    assert main(["live", "--max-pages", "0"]) == 2
    assert "--max-pages" in capsys.readouterr().err
    assert main(["live", "--certfile", "x.pem"]) == 2
    assert "--keyfile" in capsys.readouterr().err
    assert main(["live", "--fade", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--fade takes 0 seconds or more, got -1" in err and len(err.strip().splitlines()) == 1


def test_without_the_live_extra_the_command_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "aiohttp", None)  # as if aiohttp were not installed
    monkeypatch.delitem(sys.modules, "framestyle.live.server")
    assert main(["live"]) == 2
    err = capsys.readouterr().err
    assert "needs the [live] extra (aiohttp is missing)" in err and "pip install 'framestyle[live]'" in err


def test_the_page_is_told_the_camera_size_to_ask_for(tmp_path: Path) -> None:
    async def body(server: LiveServer, client: TestClient) -> None:
        assert (await (await client.get("/api/styles")).json())["camera"] == {"width": 1280, "height": 720}

    _run(tmp_path, body, camera_size=(1280, 720))


def test_a_bad_camera_size_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from framestyle.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["live", "--camera-size", "big"])
    assert stopped.value.code == 2 and "size must look like 640x360" in capsys.readouterr().err
