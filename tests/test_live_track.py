"""The live filter's pieces without a browser: the frame-counter stamp, the Y4M fake camera, the stylizer's
temporal setter and the stylized track (newest frame only, timestamps kept, settings between frames, style changes
that fade on the page's one stylizer, mixes)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from framestyle.bank import StyleBank
from framestyle.catalog import resolve_style
from framestyle.errors import InputError, ModelError, OutputError, StyleError
from framestyle.live.stamp import COUNTER_BITS, keep_stamp, read_stamp, stamp, stamp_box, write_y4m
from framestyle.stylizer import Stylizer

from .tiny_models import STYLES, write_invert_model, write_tiny_shared

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
    """Frames numbered in their first pixel, as fast as asked or at ``fps``; ends after ``count``. ``still``: the
    same picture every time, unnumbered."""

    kind = "video"

    def __init__(self, count: int, fps: float | None = None, still: bool = False) -> None:
        super().__init__()
        self.count, self.fps, self.still, self.sent = count, fps, still, 0

    async def recv(self) -> av.VideoFrame:
        if self.sent >= self.count:
            raise MediaStreamError
        if self.fps:
            await asyncio.sleep(1 / self.fps)
        image = _picture(0 if self.still else self.sent)
        if not self.still:
            image[0, 0] = (self.sent, 0, 0)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = 3000 * self.sent, TIME_BASE
        self.sent += 1
        return frame


def _bank(tmp_path: Path) -> StyleBank:
    """Two offered single-style networks, ``invert`` and ``other`` (which inverts too)."""
    names = ("invert", "other")
    return StyleBank([resolve_style(str(write_invert_model(tmp_path / f"{name}.onnx"))) for name in names])


def _track(tmp_path: Path, camera: MediaStreamTrack) -> StylizedTrack:
    bank = _bank(tmp_path)
    return StylizedTrack(camera, bank.stylizer("invert", temporal=0.0), Settings("invert", 1.0, 0.0), bank)


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
        track = StylizedTrack(camera, stylizer, Settings("invert", 1.0, 0.0), _bank(tmp_path))
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
        track = StylizedTrack(_FakeCamera(100, fps=100), stylizer, Settings("invert", 1.0, 0.0), _bank(tmp_path))
        with pytest.raises(MediaStreamError):
            await asyncio.wait_for(track.recv(), 10)
        return track

    track = asyncio.run(run())
    assert track.error == "stylizing stopped: the network failed" and track.readyState == "ended"


@pytest.fixture(scope="module")
def shared_bank(tmp_path_factory: pytest.TempPathFactory) -> StyleBank:
    """The styles ``red``, ``green`` and ``blue`` of a tiny shared network, and ``invert`` (a network of its own)."""
    folder = tmp_path_factory.mktemp("shared")
    cards = write_tiny_shared(folder)
    return StyleBank([*(resolve_style(str(cards[name])) for name in STYLES),
                      resolve_style(str(write_invert_model(folder / "invert.onnx")))])


def _shared_track(bank: StyleBank, fade: float, now: list[float]) -> tuple[StylizedTrack, Stylizer]:
    """A track of a still camera in style ``red`` (no smoothing), its fades timed by ``now[0]``."""
    stylizer = bank.stylizer("red", temporal=0.0)
    track = StylizedTrack(_FakeCamera(100_000, fps=200, still=True), stylizer, Settings("red", 1.0, 0.0), bank,
                          fade=fade, clock=lambda: now[0])
    return track, stylizer


async def _newest(track: StylizedTrack) -> np.ndarray:
    """A frame stylized wholly after this call (the one in the output slot and the one in the network may be
    older)."""
    for _ in range(2):
        await asyncio.wait_for(track.recv(), 20)
    return (await asyncio.wait_for(track.recv(), 20)).to_ndarray(format="rgb24")


def _largest_step(outputs: list[np.ndarray]) -> float:
    return max(float(np.abs(b.astype(np.int16) - a.astype(np.int16)).mean()) for a, b in itertools.pairwise(outputs))


@pytest.mark.parametrize("target", ["blue", "invert"])
def test_a_style_change_fades_on_the_pages_own_stylizer(shared_bank: StyleBank, target: str) -> None:
    """Frames a tenth of the fade apart: the largest change between two of them is far below the cut's, and the
    page's stylizer (its temporal history) is the same object throughout, within the shared network or not."""
    async def run(fade: float) -> tuple[list[np.ndarray], bool]:
        now = [0.0]
        track, stylizer = _shared_track(shared_bank, fade, now)
        outputs = [await _newest(track)]
        await track.apply(Settings(target, 1.0, 0.0))
        for step in range(12):
            now[0] = step * 0.05
            outputs.append(await _newest(track))
        kept = track._stylizer is stylizer and stylizer.model.name == target
        track.stop()
        return outputs, kept

    cut, cut_kept = asyncio.run(run(0.0))
    faded, fade_kept = asyncio.run(run(0.5))
    assert cut_kept and fade_kept
    np.testing.assert_array_equal(cut[-1], faded[-1])  # the fade ends on the new style
    assert not np.array_equal(cut[0], cut[-1])
    assert _largest_step(faded) < 0.3 * _largest_step(cut)


def test_a_mix_is_a_style_its_weights_move_at_once_and_an_unknown_name_changes_nothing(
        shared_bank: StyleBank) -> None:
    """A new style fades; new weights of the same styles apply at once, or, during a fade, become where the fade
    goes (a mixer's slider moved while the picker's fade runs must not cut it short)."""
    still = _picture(0)
    now = [0.0]

    def expected(spec: str) -> np.ndarray:
        return shared_bank.stylizer(spec, temporal=0.0)(still)

    async def run() -> tuple[list[np.ndarray], Settings, Stylizer]:
        track, stylizer = _shared_track(shared_bank, 0.5, now)
        shown = [await _newest(track)]
        await track.apply(Settings("red=0.7,blue=0.3", 1.0, 0.0))  # another style: a fade (the clock stands still)
        shown.append(await _newest(track))
        await track.apply(Settings("red=0.2,blue=0.8", 1.0, 0.0))  # reweighted during the fade: its new end
        shown.append(await _newest(track))
        now[0] = 1.0  # the fade is over
        shown.append(await _newest(track))
        await track.apply(Settings("red=0.4,blue=0.6", 1.0, 0.0))  # reweighted with no fade running: at once
        shown.append(await _newest(track))
        with pytest.raises(ModelError, match="unknown style 'purple'"):
            await track.apply(Settings("red=0.5,purple=0.5", 1.0, 0.0))
        with pytest.raises(ModelError, match="cannot be mixed"):
            await track.apply(Settings("red=0.5,invert=0.5", 1.0, 0.0))
        with pytest.raises(InputError, match="not a number"):
            await track.apply(Settings("red=x,blue=1", 1.0, 0.0))
        shown.append(await _newest(track))
        settings = track.settings
        track.stop()
        return shown, settings, stylizer

    shown, settings, stylizer = asyncio.run(run())
    np.testing.assert_array_equal(shown[0], expected("red"))
    np.testing.assert_array_equal(shown[1], expected("red"))
    np.testing.assert_array_equal(shown[2], expected("red"))
    np.testing.assert_array_equal(shown[3], expected("red=0.2,blue=0.8"))
    np.testing.assert_array_equal(shown[4], expected("red=0.4,blue=0.6"))
    np.testing.assert_array_equal(shown[5], shown[4])
    assert settings == Settings("red=0.4,blue=0.6", 1.0, 0.0) and stylizer.model.name == "red=0.4,blue=0.6"
