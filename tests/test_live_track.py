"""The live filter's pieces without a browser: the frame-counter stamp, the Y4M fake camera, the stylizer's
temporal setter and the stylized track (newest frame only, timestamps kept, settings between frames)."""

from __future__ import annotations

import asyncio
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from framestyle.errors import InputError, OutputError, StyleError
from framestyle.live.stamp import COUNTER_BITS, keep_stamp, read_stamp, stamp, stamp_box, write_y4m
from framestyle.stylizer import Stylizer

from .tiny_models import write_invert_model

pytest.importorskip("aiortc", reason="the [live] extra (aiortc) is not installed")

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402

from framestyle.live.track import Settings, StylizedTrack  # noqa: E402

TIME_BASE = Fraction(1, 90000)


def _picture(seed: int, width: int = 160, height: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return np.kron(small, np.ones((8, 8, 1), np.uint8))


@pytest.mark.parametrize("counter", [0, 1, 700, 2047])
def test_a_stamp_reads_back_its_counter(counter: int) -> None:
    assert read_stamp(stamp(_picture(counter, 640, 360), counter)) == counter


def test_counters_wrap_at_the_counter_bits() -> None:
    assert read_stamp(stamp(_picture(1, 640, 360), (1 << COUNTER_BITS) + 5)) == 5


def test_a_stamp_survives_vp8_compression(tmp_path: Path) -> None:
    frames = [stamp(_picture(i, 640, 360), 100 + i) for i in range(10)]
    path = tmp_path / "stamped.webm"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libvpx", rate=30)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = 640, 360, "yuv420p", 600_000
        for image in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
    with av.open(str(path)) as container:
        read = [read_stamp(frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]
    assert read == list(range(100, 110))


def test_pictures_without_a_stamp_read_as_none() -> None:
    assert [read_stamp(_picture(seed, 640, 360)) for seed in range(20)] == [None] * 20
    assert read_stamp(np.zeros((360, 640, 3), np.uint8)) is None
    assert read_stamp(np.zeros((8, 8, 3), np.uint8)) is None


def test_keep_stamp_copies_only_the_stamp_corner_and_only_when_there_is_one() -> None:
    source, styled = stamp(_picture(3, 640, 360), 42), np.full((360, 640, 3), 7, np.uint8)
    kept = keep_stamp(source, styled)
    height, width = stamp_box(640)
    assert read_stamp(kept) == 42
    assert np.array_equal(kept[:height, :width], source[:height, :width])
    assert (kept[height:] == 7).all() and (kept[:, width:] == 7).all()
    assert keep_stamp(_picture(3, 640, 360), styled) is styled


def test_write_y4m_stamps_every_frame_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "camera.y4m"
    assert write_y4m((_picture(i) for i in range(3)), path, fps=30) == 3
    data = path.read_bytes()
    header, _, rest = data.partition(b"\n")
    assert header == b"YUV4MPEG2 W160 H96 F30:1 Ip A1:1 C420jpeg"
    frame_bytes = 160 * 96 * 3 // 2
    assert len(rest) == 3 * (len(b"FRAME\n") + frame_bytes)
    import cv2

    second = rest[len(b"FRAME\n") + frame_bytes + len(b"FRAME\n"):][:frame_bytes]
    rgb = cv2.cvtColor(np.frombuffer(second, np.uint8).reshape(96 * 3 // 2, 160), cv2.COLOR_YUV2RGB_I420)
    assert read_stamp(rgb) == 1
    with pytest.raises(OutputError, match="even frame size"):
        write_y4m([np.zeros((95, 160, 3), np.uint8)], tmp_path / "odd.y4m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camera.y4m"]


def test_set_temporal_checks_the_range_and_restarts_the_history_when_switched_on(tmp_path: Path) -> None:
    stylizer = Stylizer(str(write_invert_model(tmp_path / "invert.onnx")), temporal=0.8)
    frame = _picture(0)
    stylizer(frame)
    stylizer.set_temporal(0.0)
    assert stylizer.temporal.weight == 0.0
    stylizer.temporal._output = np.zeros_like(frame)  # what a stale history would be
    stylizer.set_temporal(0.5)
    assert stylizer.temporal.weight == 0.5 and stylizer.temporal._output is None
    with pytest.raises(InputError, match="between 0 and 1"):
        stylizer.set_temporal(1.5)


def test_settings_refuse_out_of_range_numbers() -> None:
    Settings("x", 0.0, 1.0).check()
    with pytest.raises(InputError, match="strength"):
        Settings("x", strength=-0.1).check()
    with pytest.raises(InputError, match="temporal"):
        Settings("x", temporal=2).check()


class _FakeCamera(MediaStreamTrack):
    """Frames numbered in their first pixel, as fast as asked or at ``fps``; ends after ``count``."""

    kind = "video"

    def __init__(self, count: int, fps: float | None = None) -> None:
        super().__init__()
        self.count, self.fps, self.sent = count, fps, 0

    async def recv(self) -> av.VideoFrame:
        if self.sent >= self.count:
            raise MediaStreamError
        if self.fps:
            await asyncio.sleep(1 / self.fps)
        image = _picture(self.sent)
        image[0, 0] = (self.sent, 0, 0)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = 3000 * self.sent, TIME_BASE
        self.sent += 1
        return frame


def _track(tmp_path: Path, camera: MediaStreamTrack) -> StylizedTrack:
    model = str(write_invert_model(tmp_path / "invert.onnx"))

    def make(style: str, strength: float, temporal: float) -> Stylizer:
        if style not in ("invert", "other"):
            raise StyleError(f"unknown style {style!r}")
        return Stylizer(model, strength=strength, temporal=temporal)

    return StylizedTrack(camera, make("invert", 1.0, 0.0), Settings("invert", 1.0, 0.0), make)


def test_the_track_stylizes_and_keeps_the_timestamps(tmp_path: Path) -> None:
    async def run() -> list[av.VideoFrame]:
        track = _track(tmp_path, _FakeCamera(5, fps=50))
        out = []
        try:
            while True:
                out.append(await track.recv())
        except MediaStreamError:
            return out

    frames = asyncio.run(run())
    assert frames
    for frame in frames:
        image = frame.to_ndarray(format="rgb24")
        number = 255 - int(image[0, 0, 0])
        assert frame.pts == 3000 * number and frame.time_base == TIME_BASE
        assert np.array_equal(image[1:], 255 - _picture(number)[1:])


class _HandFedCamera(MediaStreamTrack):
    """Numbered frames, delivered when the test hands them over; ends at None."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.numbers: asyncio.Queue[int | None] = asyncio.Queue()

    async def recv(self) -> av.VideoFrame:
        number = await self.numbers.get()
        if number is None:
            raise MediaStreamError
        image = _picture(number)
        image[0, 0] = (number, 0, 0)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = 3000 * number, TIME_BASE
        return frame


def test_a_busy_stylizer_takes_the_newest_frame_and_drops_the_rest(tmp_path: Path) -> None:
    busy, release = threading.Event(), threading.Event()
    stylized: list[int] = []

    class Gated(Stylizer):
        def __call__(self, frame: np.ndarray, motion: np.ndarray | None = None) -> np.ndarray:
            stylized.append(int(frame[0, 0, 0]))
            busy.set()
            assert release.wait(30), "the test never let the stylizer go on"
            return super().__call__(frame, motion)

    async def run() -> tuple[list[int], StylizedTrack]:
        camera = _HandFedCamera()
        stylizer = Gated(str(write_invert_model(tmp_path / "invert.onnx")), temporal=0.0)
        track = StylizedTrack(camera, stylizer, Settings("invert", 1.0, 0.0), lambda *args: stylizer)
        loop = asyncio.get_running_loop()
        camera.numbers.put_nowait(0)
        assert await loop.run_in_executor(None, busy.wait, 30)  # the stylizer holds frame 0
        for number in range(1, 10):  # nine more arrive meanwhile
            camera.numbers.put_nowait(number)
        for _ in range(1000):
            if track.stats.received == 10:
                break
            await asyncio.sleep(0)
        first = asyncio.ensure_future(track.recv())  # the sender waits for a frame, as WebRTC's does
        await asyncio.sleep(0)
        release.set()
        frames = [await first, await track.recv()]
        camera.numbers.put_nowait(None)
        with pytest.raises(MediaStreamError):
            await asyncio.wait_for(track.recv(), 30)  # the camera ended, and so does the track
        return [255 - int(frame.to_ndarray(format="rgb24")[0, 0, 0]) for frame in frames], track

    sent, track = asyncio.run(run())
    assert stylized == [0, 9]  # the frame in hand, then the newest: never the eight in between
    assert sent == [0, 9] and (track.stats.received, track.stats.dropped) == (10, 8)


def test_settings_apply_between_frames_and_a_bad_style_changes_nothing(tmp_path: Path) -> None:
    async def run() -> tuple[np.ndarray, np.ndarray, Settings]:
        track = _track(tmp_path, _FakeCamera(1000, fps=100))
        first = (await track.recv()).to_ndarray(format="rgb24")
        await track.apply(Settings("invert", strength=0.0, temporal=0.0))
        await track.recv()  # may have been stylized before the change
        after = (await track.recv()).to_ndarray(format="rgb24")
        with pytest.raises(StyleError, match="unknown style"):
            await track.apply(Settings("nope", 0.5, 0.0))
        with pytest.raises(InputError, match="strength"):
            await track.apply(Settings("invert", 3.0, 0.0))
        await track.apply(Settings("other", 1.0, 0.5))
        settings = track.settings
        track.stop()
        return first, after, settings

    first, after, settings = asyncio.run(run())
    number = int(after[0, 0, 0])
    assert np.array_equal(after[1:], _picture(number)[1:])  # strength 0: the camera frame itself
    assert not np.array_equal(first[1:], _picture(255 - int(first[0, 0, 0]))[1:])
    assert settings == Settings("other", 1.0, 0.5)


def test_a_stylizer_that_fails_ends_the_track_with_the_reason(tmp_path: Path) -> None:
    class Broken(Stylizer):
        def __call__(self, frame: np.ndarray, motion: np.ndarray | None = None) -> np.ndarray:
            raise RuntimeError("the network failed")

    async def run() -> StylizedTrack:
        stylizer = Broken(str(write_invert_model(tmp_path / "invert.onnx")), temporal=0.0)
        track = StylizedTrack(_FakeCamera(100, fps=100), stylizer, Settings("invert", 1.0, 0.0),
                              lambda *args: stylizer)
        with pytest.raises(MediaStreamError):
            await asyncio.wait_for(track.recv(), 10)
        return track

    track = asyncio.run(run())
    assert track.error == "stylizing stopped: the network failed" and track.readyState == "ended"
