"""Encoding with the writers: formats, audio copy or re-encode, timestamps, odd sizes, and atomic output."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from framestyle.errors import OutputError
from framestyle.media.reader import Frame, VideoReader
from framestyle.media.writer import FrameWriter, open_writer

from .media_samples import frame_index, make_video, probe


def transcode(source: Path, output: Path, **options: object) -> FrameWriter:
    """Copy ``source`` to ``output`` through a reader and a writer, frames untouched."""
    with VideoReader(source) as reader:
        writer = open_writer(output, width=reader.width, height=reader.height, time_base=reader.time_base,
                             frame_rate=reader.frame_rate, audio_streams=reader.audio_streams, source=source,
                             **options)
        with writer:
            for item in reader.items():
                if isinstance(item, Frame):
                    writer.write(item)
                else:
                    writer.write_audio(item)
    return writer


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary files or folders a writer may have left in ``folder``."""
    return sorted(name for name in os.listdir(folder) if name.startswith("."))


@pytest.mark.parametrize(("source_name", "audio", "output_name", "expected_audio"), [
    ("in.mp4", "aac", "out.mp4", "aac"),        # copied
    ("in.mp4", "aac", "out.mkv", "aac"),        # copied
    ("in.mp4", "aac", "out.webm", "opus"),      # WebM takes no AAC: re-encoded
    ("in.webm", "libopus", "out.mp4", "aac"),   # Opus into MP4: re-encoded to AAC
    ("in.webm", "libopus", "out.webm", "opus"),  # copied
    ("in.mkv", "vorbis", "out.mov", "aac"),     # Vorbis into MOV: re-encoded to AAC
])
def test_audio_is_kept_and_video_matches_in_count_size_and_duration(
        tmp_path: Path, source_name: str, audio: str, output_name: str, expected_audio: str) -> None:
    source = make_video(tmp_path / source_name, frames=12, fps=10, audio=audio)
    output = tmp_path / output_name
    transcode(source, output)
    before, after = probe(source), probe(output)
    assert (after["width"], after["height"]) == (64, 48)
    assert len(after["images"]) == len(before["images"]) == 12
    assert [frame_index(image) for image in after["images"]] == list(range(12))
    assert [codec for codec, _ in after["audio"]] == [expected_audio]
    # Same length (within a frame); Matroska may start everything a few ms late to stay non-negative.
    assert after["times"][-1] - after["times"][0] == pytest.approx(before["times"][-1] - before["times"][0], abs=0.01)
    assert after["audio_ends"][0] == pytest.approx(before["audio_ends"][0], abs=0.1)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("output_name", ["out.mp4", "out.webm"])
def test_variable_frame_rate_timestamps_survive(tmp_path: Path, output_name: str) -> None:
    stamps = [0, 100, 150, 400, 420, 900]
    source = make_video(tmp_path / "vfr.mkv", pts=stamps, time_base=Fraction(1, 1000))
    transcode(source, tmp_path / output_name)
    assert [round(t * 1000) for t in probe(tmp_path / output_name)["times"]] == stamps


@pytest.mark.parametrize(("output_name", "noted"), [("odd.mp4", True), ("odd.webm", False)])
def test_odd_sizes_are_kept_exactly(tmp_path: Path, output_name: str, noted: bool) -> None:
    source = make_video(tmp_path / "odd.mkv", size=(63, 37), frames=4)
    writer = transcode(source, tmp_path / output_name)
    after = probe(tmp_path / output_name)
    assert (after["width"], after["height"], len(after["images"])) == (63, 37, 4)
    assert any("4:4:4" in note for note in writer.notes) == noted


def test_an_image_sequence_gets_one_numbered_picture_per_frame(tmp_path: Path) -> None:
    source = make_video(tmp_path / "in.mp4", frames=5, audio="aac")
    (tmp_path / "frames").mkdir()
    writer = transcode(source, tmp_path / "frames" / "%05d.png")
    assert sorted(os.listdir(tmp_path / "frames")) == [f"{i:05d}.png" for i in range(1, 6)]
    assert any("no sound" in note for note in writer.notes)


@pytest.mark.parametrize("output_name", ["out.mp4", "frames%03d.png"])
def test_a_failed_run_leaves_nothing_under_the_output_name(tmp_path: Path, output_name: str) -> None:
    frame = Frame(np.zeros((48, 64, 3), np.uint8), 0, Fraction(1, 10))
    with pytest.raises(RuntimeError, match="stop"):
        with open_writer(tmp_path / output_name, width=64, height=48, time_base=Fraction(1, 10)) as writer:
            writer.write(frame)
            raise RuntimeError("stop")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("output_name", ["out.mp4", "out.webm"])
def test_the_encoder_thread_cap_is_applied_and_the_video_still_complete(tmp_path: Path, output_name: str) -> None:
    with open_writer(tmp_path / output_name, width=64, height=48, time_base=Fraction(1, 10), frame_rate=Fraction(10),
                     encoder_threads=1) as writer:
        assert writer._video.codec_context.thread_count == 1
        for index in range(6):
            writer.write(Frame(np.full((48, 64, 3), 20 * index, np.uint8), index, Fraction(1, 10)))
    assert len(probe(tmp_path / output_name)["images"]) == 6


@pytest.mark.parametrize("output_name", ["out.webm", "out.mp4"])
def test_no_frame_rate_and_a_coarse_time_base_still_encode(tmp_path: Path, output_name: str) -> None:
    with open_writer(tmp_path / output_name, width=64, height=48, time_base=Fraction(1, 10)) as writer:
        for index in range(6):
            writer.write(Frame(np.full((48, 64, 3), 20 * index, np.uint8), index, Fraction(1, 10)))
    assert len(probe(tmp_path / output_name)["images"]) == 6


def test_the_x264_preset_can_be_chosen(tmp_path: Path) -> None:
    sizes = {}
    for preset in ("ultrafast", "slow"):
        output = tmp_path / f"{preset}.mp4"
        with open_writer(output, width=64, height=48, time_base=Fraction(1, 10), preset=preset) as writer:
            assert writer._video.codec_context.options["preset"] == preset
            for index in range(6):
                writer.write(Frame(np.full((48, 64, 3), 20 * index, np.uint8), index, Fraction(1, 10)))
        assert len(probe(output)["images"]) == 6
        sizes[preset] = output.stat().st_size
    assert sizes["ultrafast"] > sizes["slow"]


def test_an_existing_output_is_replaced_only_when_the_new_one_is_complete(tmp_path: Path) -> None:
    output = tmp_path / "out.mp4"
    output.write_bytes(b"previous")
    writer = open_writer(output, width=64, height=48, time_base=Fraction(1, 10))
    writer.write(Frame(np.zeros((48, 64, 3), np.uint8), 0, Fraction(1, 10)))
    assert output.read_bytes() == b"previous"
    writer.close()
    assert len(probe(output)["images"]) == 1 and leftovers(tmp_path) == []


def test_the_output_may_not_be_the_input(tmp_path: Path) -> None:
    source = make_video(tmp_path / "in.mp4", frames=2)
    (tmp_path / "link.mp4").symlink_to(source)
    for output in (source, tmp_path / "." / "in.mp4", tmp_path / "link.mp4"):
        with pytest.raises(OutputError, match="input file"):
            open_writer(output, width=64, height=48, time_base=Fraction(1, 10), source=source)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("output", "options", "message"), [
    ("out.avi", {}, "unsupported output type"),
    ("missing/out.mp4", {}, "no such folder"),
    ("a_file/out.mp4", {}, "no such folder"),
    ("folder", {}, "is a folder"),
    ("out.mp4", {"codec": "no-such-codec"}, "unknown video encoder"),
    ("out.webm", {"codec": "libx264"}, "cannot hold libx264"),
    ("out.mp4", {"crf": 99}, "between 0 and 51"),
    ("out.mkv", {"codec": "ffv1", "crf": 20}, "--crf applies to"),
    ("frames.png", {}, "unsupported output type"),
    ("frames%d.txt", {}, "picture suffix"),
    ("frames%d.png", {"crf": 20}, "not to image sequences"),
    ("out.mp4", {"preset": "warp9"}, "unknown --preset"),
    ("out.webm", {"preset": "fast"}, "--preset applies to"),
    ("frames%d.png", {"preset": "fast"}, "not to image sequences"),
])
def test_bad_outputs_are_refused_up_front(tmp_path: Path, output: str, options: dict, message: str) -> None:
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "folder.mp4").mkdir()
    (tmp_path / "folder").mkdir()
    path = tmp_path / ("folder.mp4" if output == "folder" else output)
    with pytest.raises(OutputError, match=message):
        open_writer(path, width=64, height=48, time_base=Fraction(1, 10), **options)
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a user that permissions apply to")
def test_an_unwritable_folder_is_an_output_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(OutputError, match="cannot write here"):
        open_writer(locked / "out.mp4", width=64, height=48, time_base=Fraction(1, 10))
