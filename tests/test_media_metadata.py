"""Files whose tags are not UTF-8 (Latin-1, as old muxers wrote them) are read, stylized, planned and joined like
any other, with every PyAV release the project supports."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from framestyle.cli import main
from framestyle.cluster.join import join_chunks
from framestyle.cluster.plan import scan_video
from framestyle.media.container import PYAV_MAJOR, open_input
from framestyle.media.reader import VideoReader

from .media_samples import make_video, probe

#: Tag values as Latin-1 bytes (each invalid as UTF-8): the file's title, and the audio stream's title and language.
TITLE = "Caf\xe9 cr\xe8me".encode("latin-1")
AUDIO_TITLE = "Voix fran\xe7aise".encode("latin-1")
LANGUAGE = "fr\xe9".encode("latin-1")


def as_read(raw: bytes) -> str:
    """What PyAV gives for a tag holding ``raw``: UTF-8 with ``surrogateescape`` from PyAV 19 on (byte exact), and
    U+FFFD for each bad byte before it (``metadata_errors="replace"``)."""
    return raw.decode("utf-8", "surrogateescape" if PYAV_MAJOR >= 19 else "replace")


def placeholder(raw: bytes, mark: str) -> str:
    """An ASCII stand-in of ``raw``'s length, replaced in the written file by ``raw``."""
    return mark * len(raw)


@pytest.fixture
def tagged(tmp_path: Path) -> Path:
    """A Matroska video with sound whose tags are Latin-1: written with ASCII placeholders of the same length, whose
    bytes are then replaced in the file (the muxer writes no checksums, so the file stays valid)."""
    source = make_video(tmp_path / "plain.mkv", frames=6, fps=10, audio="vorbis")
    path = tmp_path / "tagged.mkv"
    tags = {TITLE: "T", AUDIO_TITLE: "A", LANGUAGE: "L"}
    with av.open(str(source)) as src, av.open(str(path), "w", options={"write_crc32": "0"}) as out:
        streams = {stream.index: out.add_stream_from_template(stream) for stream in (*src.streams.video,
                                                                                     *src.streams.audio)}
        audio = streams[src.streams.audio[0].index]
        out.metadata["title"] = placeholder(TITLE, tags[TITLE])
        audio.metadata["title"] = placeholder(AUDIO_TITLE, tags[AUDIO_TITLE])
        audio.metadata["language"] = placeholder(LANGUAGE, tags[LANGUAGE])
        for packet in src.demux():
            if packet.size:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    data = path.read_bytes()
    for raw, mark in tags.items():
        assert data.count(placeholder(raw, mark).encode()) == 1
        data = data.replace(placeholder(raw, mark).encode(), raw)
    path.write_bytes(data)
    return path


def test_the_tags_are_read(tagged: Path) -> None:
    with open_input(tagged) as container:
        audio = container.streams.audio[0]
        assert container.metadata["title"] == as_read(TITLE)
        assert (audio.metadata["title"], audio.language) == (as_read(AUDIO_TITLE), as_read(LANGUAGE))
    with VideoReader(tagged) as reader:
        assert len(list(reader.frames())) == 6 and len(reader.audio_streams) == 1


def test_such_a_video_is_stylized_with_its_sound_and_language(tagged: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.mkv"
    assert main(["video", str(tagged), str(output), "--quiet"]) == 0
    assert len(probe(output)["images"]) == 6
    with av.open(str(output)) as container:
        assert container.streams.audio[0].language == as_read(LANGUAGE)


def test_such_a_video_is_planned_and_joined_for_a_cluster(tagged: Path, tmp_path: Path) -> None:
    assert len(scan_video(tagged).times) == 6
    chunk = make_video(tmp_path / "chunk.mkv", frames=6, fps=10)  # stands in for the stylized chunk
    output = tmp_path / "joined.mkv"
    assert join_chunks([chunk], tagged, output) == 6
    with av.open(str(output)) as container:
        assert container.streams.audio[0].language == as_read(LANGUAGE)
