"""``StylizedTrack``: the stylized video track sent back to one browser page.

A pump task takes every frame the browser's track delivers and keeps only the newest; a stylizing task stylizes
that newest frame in a worker thread, again and again, and keeps only the newest result; ``recv`` (called by the
WebRTC sender whenever it is ready for a frame) returns that result with the incoming frame's timestamp. So the
network runs while the sender encodes the previous frame, and a frame replaced before it was taken, at either
step, is dropped and counted, never queued: on a slow machine the frame rate falls and the latency stays flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from framestyle.bank import StyleBank
from framestyle.catalog import StyleModel, parse_mix
from framestyle.crossfade import DEFAULT_FADE
from framestyle.engine import StyleEngine
from framestyle.errors import InputError
from framestyle.live.stamp import keep_stamp
from framestyle.stylizer import Stylizer
from framestyle.temporal import DEFAULT_TEMPORAL


@dataclass
class Settings:
    """What the page chose: an offered style or a mix of them (``"red=0.7,blue=0.3"``), strength 0..1, temporal
    smoothing 0..1."""

    style: str
    strength: float = 1.0
    temporal: float = DEFAULT_TEMPORAL

    def check(self) -> None:
        """Refuse out-of-range numbers with a one-line message."""
        if not 0.0 <= self.strength <= 1.0:
            raise InputError(f"strength must be between 0 and 1, got {self.strength}")
        if not 0.0 <= self.temporal <= 1.0:
            raise InputError(f"temporal smoothing must be between 0 and 1, got {self.temporal}")


@dataclass
class TrackStats:
    """Counts since the track started, and the newest frame's time in the server."""

    received: int = 0
    stylized: int = 0
    dropped: int = 0
    server_ms: float = 0.0
    size: tuple[int, int] = (0, 0)
    started: float = field(default_factory=time.monotonic)


class StylizedTrack(MediaStreamTrack):
    """The stylized version of ``source`` (a browser's camera track), newest frame first.

    Args:
        source: the incoming video track.
        stylizer: the page's stylizer for the whole stream (it holds the page's temporal history; a style change
            switches its style).
        settings: what ``stylizer`` was made with.
        bank: the offered styles and their loaded networks, for :meth:`apply`.
        fade: seconds a style change fades over (0: a cut); a change of a mix's weights alone applies at once.
        clock: the clock of the fades.
        measure: keep the frame-counter stamp of a test clip unstylized (see ``framestyle.live.stamp``).
    """

    kind = "video"

    def __init__(self, source: MediaStreamTrack, stylizer: Stylizer, settings: Settings, bank: StyleBank, *,
                 fade: float = DEFAULT_FADE, clock: Callable[[], float] = time.monotonic,
                 measure: bool = False) -> None:
        super().__init__()
        self.source = source
        self.settings = settings
        self.stats = TrackStats()
        #: Why the stylizing stopped, when it failed.
        self.error: str | None = None
        self._stylizer = stylizer
        self._bank = bank
        self._fade = fade
        self._clock = clock
        self._measure = measure
        self._pending: Settings | None = None
        self._switch: tuple[StyleModel, StyleEngine, float] | None = None
        self._latest: tuple[av.VideoFrame, float] | None = None
        self._arrived = asyncio.Event()
        self._source_ended = False
        self._output: tuple[av.VideoFrame, float] | None = None
        self._ready = asyncio.Event()
        self._stylizer_ended = False
        self._pump = asyncio.ensure_future(self._take_frames())
        self._work = asyncio.ensure_future(self._stylize_frames())

    async def _take_frames(self) -> None:
        """Keep the newest incoming frame; count the ones replaced before they were stylized."""
        try:
            while True:
                frame = await self.source.recv()
                self.stats.received += 1
                if self._latest is not None:
                    self.stats.dropped += 1
                self._latest = (frame, time.monotonic())
                self._arrived.set()
        except MediaStreamError:
            pass
        finally:
            self._source_ended = True
            self._arrived.set()

    async def _stylize_frames(self) -> None:
        """Stylize the newest incoming frame, over and over, into the output slot (a result ``recv`` has not taken
        when the next is ready is dropped), so the network runs while the sender encodes the previous frame."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                while self._latest is None:
                    if self._source_ended:
                        return
                    self._arrived.clear()
                    await self._arrived.wait()
                frame, arrived = self._latest
                self._latest = None
                self._take_settings()  # between frames: the stylizer is not in use
                try:
                    image = await loop.run_in_executor(None, self._stylize, self._stylizer, frame)
                except Exception as error:  # a model that fails on this stream: say so and end the track
                    self.error = f"stylizing stopped: {error}"
                    return
                out = av.VideoFrame.from_ndarray(image, format="rgb24")
                out.pts, out.time_base = frame.pts, frame.time_base
                if self._output is not None:
                    self.stats.dropped += 1
                self._output = (out, arrived)
                self._ready.set()
        finally:
            self._stylizer_ended = True
            self._ready.set()

    async def recv(self) -> av.VideoFrame:
        """The newest stylized frame, with its incoming timestamp."""
        while self._output is None:
            if self._stylizer_ended or self.readyState != "live":
                self.stop()
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        out, arrived = self._output
        self._output = None
        self.stats.stylized += 1
        self.stats.server_ms = 1000 * (time.monotonic() - arrived)
        self.stats.size = (out.width, out.height)
        return out

    def _take_settings(self) -> None:
        """Give the stylizer the settings applied since the last frame, and the style change among them."""
        settings, self._pending = self._pending, None
        if settings is None:
            return
        self._stylizer.strength = settings.strength
        self._stylizer.set_temporal(settings.temporal)
        if self._switch is not None:
            model, engine, fade = self._switch
            self._switch = None
            self._stylizer.set_style(model, engine=engine, fade=fade, clock=self._clock)

    def _stylize(self, stylizer: Stylizer, frame: av.VideoFrame) -> np.ndarray:
        image = frame.to_ndarray(format="rgb24")
        styled = stylizer(image)
        return keep_stamp(image, styled) if self._measure else styled

    async def apply(self, settings: Settings) -> None:
        """Switch to new settings: strength and smoothing from the next frame on; a new style or mix as soon as its
        network is loaded (frames keep flowing in the old style meanwhile), fading over the track's ``fade``, but
        new weights of the same styles at once (a mixer's slider is its own fade; during a fade they become where it
        goes). The stylizer and its temporal history stay. Raises ``StyleError`` for a bad value or an unknown
        style, leaving the settings as they were."""
        settings.check()
        if settings.style != self.settings.style:
            model, engine = await asyncio.get_running_loop().run_in_executor(None, self._load, settings.style)
            fade = 0.0 if _same_styles(settings.style, self.settings.style) else self._fade
            self._switch = (model, engine, fade)
        self._pending, self.settings = settings, settings

    def _load(self, spec: str) -> tuple[StyleModel, StyleEngine]:
        """The offered style or mix ``spec`` and its network (loaded on first use: call it off the event loop)."""
        model = self._bank.style(spec)
        return model, self._bank.engine_for(model)

    def stop(self) -> None:
        """End the track and its pump."""
        super().stop()
        self._pump.cancel()
        self._work.cancel()
        with contextlib.suppress(Exception):
            self.source.stop()


def _same_styles(spec: str, other: str) -> bool:
    """Whether two style specs name the same styles (a mix's weights moved, nothing else)."""
    return {name for name, _ in parse_mix(spec)} == {name for name, _ in parse_mix(other)}
