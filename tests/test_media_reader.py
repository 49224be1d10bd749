"""Decoding with ``VideoReader``: frames, timestamps, audio packets, rotation, and every kind of bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from framestyle import limits
from framestyle.errors import InputError
from framestyle.media.reader import Frame, TruncatedInputError, VideoReader

from .media_samples import (
    QUADRANTS,
    cut_in_half,
    frame_index,
    make_silent_video_stream,
    make_video,
    quadrant_colours,
    quadrant_picture,
)


def test_frames_come_in_order_with_their_timestamps_and_audio_beside_them(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4", frames=12, fps=10, audio="aac")
    with VideoReader(path) as reader:
        assert (reader.width, reader.height, reader.frame_count) == (64, 48, 12)
        assert reader.frame_rate == 10 and reader.duration == pytest.approx(1.2)
        assert [stream.codec_context.name for stream in reader.audio_streams] == ["aac"]
        items = list(reader.items())
        packets = [item for item in items if isinstance(item, av.Packet)]
        assert packets and all(packet.stream.type == "audio" for packet in packets)  # (only while the file is open)
    frames = [item for item in items if isinstance(item, Frame)]
    assert [frame_index(frame.image) for frame in frames] == list(range(12))
    assert [frame.time for frame in frames] == pytest.approx([i / 10 for i in range(12)])
    assert all(frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8 for frame in frames)


def test_a_capped_decoder_gives_the_same_frames(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.webm", frames=8, fps=10)
    with VideoReader(path) as default, VideoReader(path, decoder_threads=1) as capped:
        assert capped._stream.codec_context.thread_count == 1
        pairs = zip(default.frames(), capped.frames(), strict=True)
        assert all(np.array_equal(a.image, b.image) and a.pts == b.pts for a, b in pairs)


def test_variable_frame_rate_timestamps_come_through(tmp_path: Path) -> None:
    stamps = [0, 100, 150, 400, 420, 900]
    path = make_video(tmp_path / "vfr.mkv", pts=stamps, time_base=Fraction(1, 1000))
    with VideoReader(path) as reader:
        frames = list(reader.frames())
    assert [round(frame.time * 1000) for frame in frames] == stamps


@pytest.mark.parametrize(("rotation", "hflip"), [(90, False), (180, False), (270, False), (90, True)])
def test_rotated_video_comes_out_upright(tmp_path: Path, rotation: int, hflip: bool) -> None:
    # The file stores the picture turned back, and a display matrix that turns it upright when shown.
    upright = quadrant_picture(64, 48)
    stored = np.ascontiguousarray(np.rot90(upright[:, ::-1] if hflip else upright, -rotation // 90))
    height, width = stored.shape[:2]
    path = make_video(tmp_path / "turned.mp4", size=(width, height), frames=3, rotation=rotation, hflip=hflip,
                      picture=lambda w, h, i: stored)
    with VideoReader(path) as reader:
        assert (reader.width, reader.height) == (64, 48)
        frame = next(reader.frames())
    assert quadrant_colours(frame.image) == QUADRANTS


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        VideoReader(tmp_path / "nothing.mp4")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("notes.mp4", b"these are not the frames you are looking for\n" * 50, "not a video file"),
    ("empty.mp4", b"", "empty file"),
])
def test_a_file_that_is_not_a_video_is_an_input_error(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        VideoReader(path)


def test_a_still_picture_is_not_taken_for_a_video(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "still.png"
    cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(InputError, match="still image"):
        VideoReader(path)


def test_audio_only_is_no_video(tmp_path: Path) -> None:
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        sound = container.add_stream("aac", rate=48000)
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 4800), np.float32), format="fltp", layout="mono")
        samples.sample_rate, samples.pts = 48000, 0
        container.mux(sound.encode(samples))
        container.mux(sound.encode(None))
    with pytest.raises(InputError, match="no video stream"):
        VideoReader(path)


def test_a_video_stream_without_frames_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no frames"):
        VideoReader(make_silent_video_stream(tmp_path / "silent.mkv"))


def test_a_side_over_the_limit_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_FRAME_SIDE", 32)
    with pytest.raises(InputError, match=r"declares frames of 64x48 pixels, over the limit of 32 pixels a side"):
        VideoReader(make_video(tmp_path / "big.mp4", frames=2))


def test_an_absurd_declared_frame_size_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "absurd.y4m"  # a raw stream whose header declares 16000x16000 frames (256 million pixels)
    path.write_bytes(b"YUV4MPEG2 W16000 H16000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(64))
    with pytest.raises(InputError, match=r"absurd\.y4m: the video stream declares frames of 16000x16000 pixels, "
                       r"over the limit of 16384 pixels a side and 134,217,728 pixels in all"):
        VideoReader(path)


def test_an_mp4_cut_in_half_without_its_index_does_not_open(tmp_path: Path) -> None:
    cut = cut_in_half(make_video(tmp_path / "clip.mp4", frames=30), "cut.mp4")
    with pytest.raises(InputError, match="not a video file"):
        VideoReader(cut)


@pytest.mark.parametrize("name", ["clip.mkv", "clip.mp4"])
def test_a_stream_that_breaks_off_midway_raises_unless_partial_output_is_wanted(tmp_path: Path, name: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (30, 48, 64, 3), dtype=np.uint8)  # big frames: a real cut
    path = make_video(tmp_path / name, frames=30, faststart=True, picture=lambda w, h, i: noise[i])
    cut = cut_in_half(path, f"cut-{name}")
    with VideoReader(cut) as reader, pytest.raises(TruncatedInputError, match="breaks off after"):
        list(reader.frames())
    with VideoReader(cut, keep_partial=True) as reader:
        frames = list(reader.frames())
        assert reader.truncated
    assert 0 < len(frames) < 30


def test_a_complete_file_is_not_called_truncated(tmp_path: Path) -> None:
    with VideoReader(make_video(tmp_path / "clip.webm", frames=10, audio="libopus"), keep_partial=True) as reader:
        assert len(list(reader.frames())) == 10
        assert not reader.truncated
