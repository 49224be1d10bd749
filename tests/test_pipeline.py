"""The threaded pipeline: order, back-pressure, audio pass-through, progress, errors and Ctrl-C."""

from __future__ import annotations

import _thread
import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from framestyle.media.pipeline import run_pipeline
from framestyle.media.reader import Frame, VideoReader
from framestyle.media.writer import FrameWriter, open_writer

from .media_samples import make_video


class FakeReader:
    """``frames`` numbered frames with an audio stand-in after every third; counts what was handed out."""

    def __init__(self, frames: int) -> None:
        self.frame_count, self.truncated, self.handed_out = frames, False, 0

    def items(self) -> Iterator[Frame | str]:
        for index in range(self.frame_count):
            self.handed_out += 1
            yield Frame(np.full((4, 4, 3), index, np.uint8), pts=index, time_base=Fraction(1, 25))
            if index % 3 == 0:
                yield f"audio {index}"


class ListWriter(FrameWriter):
    """Keeps what it is given in memory."""

    def __init__(self) -> None:
        super().__init__(Path("memory"))
        self.items: list[object] = []
        self.state = "open"

    def write(self, frame: Frame) -> None:
        self.items.append(frame)

    def write_audio(self, packet: object) -> None:
        self.items.append(packet)

    def close(self) -> None:
        self.state = "closed"

    def abort(self) -> None:
        self.state = "aborted"


def assert_no_stage_left(before: set[threading.Thread]) -> None:
    """Every pipeline thread started since ``before`` was taken has ended (they may need a moment to unwind after
    signalling they are done; the timeout only stops a hang)."""
    deadline = time.monotonic() + 10
    for thread in threading.enumerate():
        if thread not in before and thread.name.startswith("framestyle-"):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
            assert not thread.is_alive(), thread.name


def test_slow_processing_gets_every_frame_in_order_with_bounded_read_ahead() -> None:
    reader, writer = FakeReader(40), ListWriter()
    ahead: list[int] = []

    def slow(image: np.ndarray) -> np.ndarray:
        ahead.append(reader.handed_out - int(image[0, 0, 0]))
        time.sleep(0.005)
        return image + 1

    stats = run_pipeline(reader, partial(map, slow), writer, queue_size=4, progress=False)
    frames = [item for item in writer.items if isinstance(item, Frame)]
    assert [int(frame.image[0, 0, 0]) for frame in frames] == list(range(1, 41))
    assert [frame.pts for frame in frames] == list(range(40))
    assert [item for item in writer.items if isinstance(item, str)] == [f"audio {i}" for i in range(0, 40, 3)]
    assert writer.state == "closed"
    assert (stats.frames, stats.audio_packets, stats.truncated) == (40, 14, False)
    # The decoder waits on the full queue: it never runs more than the queue (plus the items in hand) ahead.
    assert max(ahead) <= 4 + 3


def lagging(images: Iterator[np.ndarray], behind: int = 3) -> Iterator[np.ndarray]:
    """Yields each image only after reading ``behind`` more, as a stylizer with frames in flight does."""
    held: list[np.ndarray] = []
    for image in images:
        held.append(image)
        if len(held) > behind:
            yield held.pop(0)
    yield from held


@pytest.mark.parametrize("process", [partial(map, lambda image: image), lagging], ids=["per-frame", "lagging"])
def test_audio_stays_interleaved_where_it_was(process: Callable) -> None:
    writer = ListWriter()
    run_pipeline(FakeReader(7), process, writer, progress=False)
    kinds = ["a" if isinstance(item, str) else "v" for item in writer.items]
    assert "".join(kinds) == "vavvvavvva"
    assert [item.pts for item in writer.items if isinstance(item, Frame)] == list(range(7))


def test_an_error_in_processing_stops_everything_and_aborts_the_output() -> None:
    writer = ListWriter()

    def broken(image: np.ndarray) -> np.ndarray:
        if image[0, 0, 0] == 5:
            raise ValueError("model failed")
        return image

    before = set(threading.enumerate())
    with pytest.raises(ValueError, match="model failed"):
        run_pipeline(FakeReader(50), partial(map, broken), writer, queue_size=2, progress=False)
    assert writer.state == "aborted"
    assert_no_stage_left(before)


def test_progress_shows_frames_rate_and_time_left_only_when_asked() -> None:
    shown, hidden = io.StringIO(), io.StringIO()
    slow = partial(map, lambda image: time.sleep(0.03) or image)
    run_pipeline(FakeReader(12), slow, ListWriter(), progress=True, stream=shown)
    run_pipeline(FakeReader(3), slow, ListWriter(), stream=hidden)  # not a terminal: no progress
    assert "frames" in shown.getvalue() and "/12" in shown.getvalue() and "frames/s" in shown.getvalue()
    assert shown.getvalue().endswith("\n")
    assert hidden.getvalue() == ""


def test_ctrl_c_stops_all_threads_and_removes_the_temporary_file(tmp_path: Path) -> None:
    source = make_video(tmp_path / "in.mp4", frames=20, audio="aac")
    output = tmp_path / "out" / "stylized.mp4"
    output.parent.mkdir()
    seen = []

    def interrupt_at_third_frame(image: np.ndarray) -> np.ndarray:
        seen.append(1)
        if len(seen) == 3:
            _thread.interrupt_main()
        time.sleep(0.02)
        return image

    # interrupt_main does nothing when SIGINT is ignored, as it is in a shell's background job (`make test &`).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = set(threading.enumerate())
    try:
        with VideoReader(source) as reader:
            writer = open_writer(output, width=reader.width, height=reader.height, time_base=reader.time_base,
                                 audio_streams=reader.audio_streams)
            with pytest.raises(KeyboardInterrupt):
                run_pipeline(reader, partial(map, interrupt_at_third_frame), writer, progress=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert os.listdir(output.parent) == []
    assert len(seen) < 20
    assert_no_stage_left(before)
