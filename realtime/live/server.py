"""The ``stylize live`` web server: one page, and a WebRTC peer per browser tab that sends back its camera stylized.

Routes: ``/`` the page and ``/static/*`` its script and style sheet (all shipped in the package: no outside
scripts or fonts); ``/api/styles`` the offered styles (with the shared network of each that can be mixed) and
defaults; ``/api/thumb/SPEC.jpg`` the thumbnail of a style or a mix of them; ``/api/offer`` the WebRTC offer/answer;
``/api/status`` the pages served and their settings, and the page's training; ``/api/train`` (POST, multipart
fields ``picture`` and ``name``) trains a new style from a picture in the background (:mod:`.training`) and offers
it when done. The ``/api`` routes need the token when the server has one. Settings changes and once-a-second
statistics go over the page's data channel.
No STUN or TURN server is configured: the browser and the server reach each other on the machine's own addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import cv2
import numpy as np
from aiohttp import BodyPartReader, web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from framestyle.bank import StyleBank
from framestyle.catalog import StyleModel, mixable
from framestyle.crossfade import DEFAULT_FADE
from framestyle.engine import EngineOptions, StyleEngine
from framestyle.errors import InputError, StyleError
from framestyle.live.lowlatency import release_frames_early
from framestyle.live.track import Settings, StylizedTrack
from framestyle.live.training import MAX_PICTURE_BYTES, Trainer, TrainingOptions
from framestyle.stylizer import Stylizer

_STATIC = resources.files("framestyle.live") / "static"
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".jpg": "image/jpeg",
          ".png": "image/png", ".svg": "image/svg+xml"}
_THUMB_HEIGHT = 72
#: Seconds a page's peer has to connect after its offer was answered before its place is freed.
CONNECT_SECONDS = 20.0


@dataclass
class LiveConfig:
    """What ``stylize live`` was started with."""

    styles: list[StyleModel]
    defaults: Settings
    token: str = ""
    max_pages: int = 4
    max_side: int | None = None
    engine_options: EngineOptions = field(default_factory=EngineOptions)
    measure: bool = False
    #: Seconds a style change fades over (0: a cut).
    fade: float = DEFAULT_FADE
    #: Frames in the style networks at once, across every page (the networks are shared: see StyleBank).
    max_concurrent: int = 2
    #: New styles from the page's pictures (off without VGG weights).
    training: TrainingOptions = field(default_factory=TrainingOptions)
    #: The camera size (width, height) the page asks the browser for.
    camera_size: tuple[int, int] = (640, 360)


@dataclass
class Page:
    """One browser tab: its peer connection and stylized track."""

    number: int
    pc: RTCPeerConnection
    key: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    track: StylizedTrack | None = None


class LiveServer:
    """The aiohttp application and the pages it serves; ``report`` gets one line per event."""

    def __init__(self, config: LiveConfig, report: Callable[[str], None] = print) -> None:
        self.config = config
        self.report = report
        self.pages: dict[int, Page] = {}
        self.served = 0
        self.bank = StyleBank(config.styles, max_side=config.max_side, engine_options=config.engine_options,
                              max_concurrent=config.max_concurrent)
        self.trainer = Trainer(config.training, on_done=self.bank.add, report=report)
        self._thumbs: dict[str, bytes] = {}
        self.app = web.Application(middlewares=[self._errors])
        self.app.add_routes([
            web.get("/", self._index), web.get("/static/{name}", self._static),
            web.get("/favicon.ico", self._no_icon),
            web.get("/api/styles", self._list_styles), web.get("/api/thumb/{name}.jpg", self._thumb),
            web.post("/api/offer", self._offer), web.post("/api/bye", self._bye),
            web.get("/api/status", self._status), web.post("/api/train", self._train)])
        self.app.on_shutdown.append(self._close_all)
        self.app.on_shutdown.append(self._stop_training)

    # -- plumbing --------------------------------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        """Token check on /api, and every refusal as JSON ``{"error": "..."}`` with its status."""
        if request.path.startswith("/api/") and self.config.token:
            given = request.query.get("token") or request.headers.get("X-Token", "")
            if not hmac.compare_digest(given.encode(), self.config.token.encode()):
                return _refusal(403, "this server needs its token: open the address it printed when it started "
                                "(the one ending in ?token=...)")
        try:
            return await handler(request)
        except StyleError as error:
            return _refusal(400, str(error))

    def make_stylizer(self, style: str, strength: float, temporal: float) -> Stylizer:
        """A stylizer of its own over the offered style's (or mix's) shared network (an unknown name is a
        ``StyleError``)."""
        return self.bank.stylizer(style, strength=strength, temporal=temporal)

    # -- routes ----------------------------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(body=(_STATIC / "index.html").read_bytes(), content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    async def _no_icon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = _TYPES.get(name[name.rfind("."):]) if "." in name else None
        entry = _STATIC / name
        if kind is None or "/" in name or name.startswith(".") or not entry.is_file():
            raise web.HTTPNotFound()
        return web.Response(body=entry.read_bytes(), content_type=kind)

    async def _list_styles(self, request: web.Request) -> web.Response:
        defaults, styles = self.config.defaults, list(self.bank.models.values())
        networks = _mixable_networks(styles)
        return web.json_response({
            "styles": [{"name": m.name, "title": m.title, "artist": m.artist, "network": networks.get(_mix_network(m))}
                       for m in styles],
            "style": defaults.style, "strength": defaults.strength, "temporal": defaults.temporal,
            "max_pages": self.config.max_pages, "training": self.trainer.status(),
            "camera": {"width": self.config.camera_size[0], "height": self.config.camera_size[1]}})

    async def _thumb(self, request: web.Request) -> web.Response:
        """An offered style's thumbnail (kept once made), or a mix's (made on each request; the page's browser
        keeps it)."""
        spec = request.match_info["name"]
        thumb = self._thumbs.get(spec)
        if thumb is None:
            model = self.bank.style(spec)
            loop = asyncio.get_running_loop()
            engine = await loop.run_in_executor(None, self.bank.engine_for, model)
            thumb = await loop.run_in_executor(None, _render_thumb, engine, model)
            if spec in self.bank.models:
                self._thumbs[spec] = thumb
        return web.Response(body=thumb, content_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    async def _status(self, request: web.Request) -> web.Response:
        settings = [{"page": page.number, **vars(page.track.settings)}
                    for page in self.pages.values() if page.track is not None]
        return web.json_response({"pages": len(self.pages), "max_pages": self.config.max_pages,
                                  "served": self.served, "settings": settings, "training": self.trainer.status()})

    async def _train(self, request: web.Request) -> web.Response:
        """A new style from the picture the page sent, trained in the background; 202 once it runs."""
        refused = self.trainer.refusal()
        if refused is not None:
            return _refusal(*refused)
        name, picture, filename = await _read_upload(request)
        await self.trainer.start(name, picture, filename, self.bank.models)
        return web.json_response(self.trainer.status(), status=202)

    async def _offer(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            offer = RTCSessionDescription(sdp=str(body["sdp"]), type=str(body["type"]))
            settings = Settings(str(body.get("style") or self.config.defaults.style),
                                float(body.get("strength", self.config.defaults.strength)),
                                float(body.get("temporal", self.config.defaults.temporal)))
        except (ValueError, KeyError, TypeError):
            return _refusal(400, "the offer must be JSON with sdp, type and optional style, strength, temporal")
        settings.check()
        if "m=video" not in offer.sdp:
            return _refusal(400, "the WebRTC offer could not be answered: it sends no video")
        if len(self.pages) >= self.config.max_pages:
            return _refusal(503, f"this server already serves {len(self.pages)} page"
                            f"{'s' if len(self.pages) != 1 else ''}, its limit (stylize live --max-pages); "
                            "close one of them and reload this page")
        # The page takes its place before the first wait, so offers arriving together cannot pass the limit.
        self.served += 1
        page = Page(self.served, RTCPeerConnection(RTCConfiguration(iceServers=[])))
        self.pages[page.number] = page
        try:
            stylizer = await asyncio.get_running_loop().run_in_executor(
                None, self.make_stylizer, settings.style, settings.strength, settings.temporal)
        except BaseException:
            await self._close(page, "was refused")
            raise
        self._wire(page, stylizer, settings)
        try:
            await page.pc.setRemoteDescription(offer)
            await page.pc.setLocalDescription(await page.pc.createAnswer())
        except Exception as error:  # a malformed SDP: aiortc raises ValueError and friends
            await self._close(page, "its offer was refused")
            return _refusal(400, f"the WebRTC offer could not be answered: {error}")
        asyncio.ensure_future(self._expect_connection(page))
        self.report(f"page {page.number} answered ({len(self.pages)}/{self.config.max_pages}); "
                    f"style {settings.style}")
        return web.json_response({"sdp": page.pc.localDescription.sdp, "type": page.pc.localDescription.type,
                                  "page": page.number, "key": page.key})

    async def _bye(self, request: web.Request) -> web.Response:
        """A page going away (its tab closed or reloaded) frees its place at once."""
        try:
            key = str((await request.json())["key"])
        except (ValueError, KeyError, TypeError):
            return _refusal(400, "bye needs JSON {\"key\": ...}")
        for page in list(self.pages.values()):
            if hmac.compare_digest(page.key.encode(), key.encode()):
                await self._close(page, "closed")
        return web.Response(status=204)

    # -- one page --------------------------------------------------------------------------------------------------

    def _wire(self, page: Page, stylizer: Stylizer, settings: Settings) -> None:
        pc = page.pc

        @pc.on("track")
        def on_track(source: MediaStreamTrack) -> None:
            if source.kind != "video" or page.track is not None:
                return
            for transceiver in pc.getTransceivers():
                if transceiver.receiver.track is source:
                    release_frames_early(transceiver.receiver)
            page.track = StylizedTrack(source, stylizer, settings, self.bank, fade=self.config.fade,
                                       measure=self.config.measure)
            pc.addTrack(page.track)

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            lock = asyncio.Lock()
            stats_task = asyncio.ensure_future(self._send_stats(page, channel))
            channel.on("close", stats_task.cancel)

            @channel.on("message")
            def on_message(message: str | bytes) -> None:
                asyncio.ensure_future(self._apply(page, channel, message, lock))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._close(page, "disconnected" if pc.connectionState == "failed" else "closed")

    async def _apply(self, page: Page, channel: Any, message: str | bytes, lock: asyncio.Lock) -> None:
        """A settings message from the page: ``{"style", "strength", "temporal"}``; answers applied or error."""
        async with lock:
            track = page.track
            try:
                asked = json.loads(message)
                if track is None:
                    raise StyleError("no camera stream yet")
                current = track.settings
                settings = Settings(str(asked.get("style", current.style)),
                                    float(asked.get("strength", current.strength)),
                                    float(asked.get("temporal", current.temporal)))
                await track.apply(settings)
                reply: dict[str, Any] = {"applied": vars(settings)}
            except StyleError as error:
                reply = {"error": str(error), "applied": vars(track.settings) if track else None}
            except (ValueError, TypeError, AttributeError):
                reply = {"error": "a settings message must be JSON like {\"style\": NAME, \"strength\": 0..1, "
                         "\"temporal\": 0..1}"}
            if channel.readyState == "open":
                channel.send(json.dumps(reply))

    async def _send_stats(self, page: Page, channel: Any) -> None:
        """Once a second: the server's side of the readout."""
        last = (0, time.monotonic())
        while True:
            await asyncio.sleep(1.0)
            track = page.track
            if track is None or channel.readyState != "open":
                continue
            if track.error is not None:
                channel.send(json.dumps({"error": track.error}))
                self.report(f"page {page.number}: {track.error}")
                return
            now, stats = time.monotonic(), track.stats
            fps = (stats.stylized - last[0]) / (now - last[1])
            last = (stats.stylized, now)
            channel.send(json.dumps({"stats": {
                "fps": round(fps, 1), "server_ms": round(stats.server_ms, 1), "received": stats.received,
                "stylized": stats.stylized, "dropped": stats.dropped, "width": stats.size[0],
                "height": stats.size[1]}}))

    async def _expect_connection(self, page: Page) -> None:
        """Free the place of a page whose peer never connects (a closed tab, a blocked network)."""
        await asyncio.sleep(CONNECT_SECONDS)
        if page.pc.connectionState != "connected":
            await self._close(page, f"did not connect within {CONNECT_SECONDS:.0f} s")

    async def _close(self, page: Page, why: str) -> None:
        if self.pages.pop(page.number, None) is None:
            return
        if page.track is not None:
            page.track.stop()
            stats = page.track.stats
            seconds = time.monotonic() - stats.started
            self.report(f"page {page.number} {why} after {seconds:.0f} s: {stats.stylized} frames stylized "
                        f"({stats.stylized / max(seconds, 1e-9):.1f}/s), {stats.dropped} dropped")
        else:
            self.report(f"page {page.number} {why}")
        with contextlib.suppress(Exception):
            await page.pc.close()

    async def _stop_training(self, app: web.Application) -> None:
        await self.trainer.stop()

    async def _close_all(self, app: web.Application) -> None:
        await asyncio.gather(*(self._close(page, "closed by the server") for page in list(self.pages.values())))


def _refusal(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _read_upload(request: web.Request) -> tuple[str, bytes, str]:
    """The ``name``, ``picture`` and picture's file name of a multipart/form-data request (the picture read to one
    byte over the cap at most)."""
    fields: dict[str, bytes] = {}
    filename = ""
    try:
        async for part in await request.multipart():
            if isinstance(part, BodyPartReader) and part.name in ("name", "picture"):
                fields[part.name] = await _read_part(part, MAX_PICTURE_BYTES + 1 if part.name == "picture" else 256)
                filename = part.filename or filename
    except (ValueError, AssertionError, KeyError):  # not multipart, or a malformed body
        fields = {}
    if "picture" not in fields or not fields.get("name", b"").strip():
        raise InputError("send the picture and its name as multipart/form-data (fields picture and name)")
    return fields["name"].decode("utf-8", "replace").strip(), fields["picture"], filename


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    """A part's bytes, at most ``limit`` of them."""
    data = bytearray()
    while len(data) < limit and (chunk := await part.read_chunk()):
        data += chunk
    return bytes(data[:limit])


def _mix_network(model: StyleModel) -> str | None:
    """The shared network a style mixes on (its own, or that of its counterpart: :func:`catalog.mixable`)."""
    counterpart = mixable(model)
    return None if counterpart is None else counterpart.network


def _mixable_networks(styles: list[StyleModel]) -> dict[str, int]:
    """A number for each shared network of which at least two styles are offered (the styles a page can mix)."""
    counts = Counter(network for network in map(_mix_network, styles) if network is not None)
    return {network: number for number, network in enumerate(n for n, count in counts.items() if count > 1)}


def _render_thumb(engine: StyleEngine, model: StyleModel) -> bytes:
    """A JPEG of the shipped thumbnail picture in the style (or mix) ``model`` run by ``engine``."""
    picture = cv2.imdecode(np.frombuffer((_STATIC / "thumb_source.jpg").read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)
    styled = engine(rgb, model.vector)
    width = round(styled.shape[1] * _THUMB_HEIGHT / styled.shape[0])
    small = cv2.resize(cv2.cvtColor(styled, cv2.COLOR_RGB2BGR), (width, _THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise StyleError(f"cannot encode the thumbnail of {model.name}")
    return data.tobytes()
