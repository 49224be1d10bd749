"""Joining the chunk files into the output without re-encoding, with the source's audio streams (and their
language tags) handled as ``stylize video`` handles them: copied when the container takes their codec, re-encoded
otherwise."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av

from framestyle.errors import OutputError
from framestyle.media.container import open_input
from framestyle.media.writer import FrameWriter, VideoWriter


def join_chunks(chunks: Sequence[Path], source: Path, output: Path) -> int:
    """Write ``output`` from the video packets of ``chunks`` (in order; each starts with a keyframe and keeps the
    source's timestamps) and the audio of ``source``; it appears under its name only when complete. Returns the
    number of video packets written."""
    with av.open(str(chunks[0])) as first, open_input(source) as audio_source:
        template = first.streams.video[0]
        audio_streams = tuple(audio_source.streams.audio)
        writer = VideoWriter(output, width=template.width, height=template.height, time_base=template.time_base,
                             frame_rate=None, audio_streams=audio_streams, crf=None, codec=None,
                             video_template=template)
        with writer:  # removed on any error or interruption
            return _interleave(writer, _video_packets(chunks), _audio_packets(audio_source, audio_streams))


def _interleave(writer: FrameWriter, video: Iterator[av.Packet], audio: Iterator[av.Packet]) -> int:
    """Write both packet streams, earliest decoding time first (so the muxer never holds much)."""
    count = 0
    merged = heapq.merge(((_time(p), 0, n, p) for n, p in enumerate(video)),
                         ((_time(p), 1, n, p) for n, p in enumerate(audio)), key=lambda item: item[:3])
    for _, kind, _, packet in merged:
        if kind == 0:
            assert isinstance(writer, VideoWriter)
            writer.write_video_packet(packet)
            count += 1
        else:
            writer.write_audio(packet)
    return count


def _time(packet: av.Packet) -> Fraction:
    stamp = packet.dts if packet.dts is not None else packet.pts
    return Fraction(stamp or 0) * packet.time_base


def _video_packets(chunks: Sequence[Path]) -> Iterator[av.Packet]:
    """The chunks' video packets in order, with decoding times kept increasing across the seams (each chunk's
    encoder starts its own decoding clock a few frames before its first picture)."""
    last_dts: Fraction | None = None
    for path in chunks:
        try:
            container = av.open(str(path))
        except av.error.FFmpegError as error:
            raise OutputError(f"{path}: chunk file unreadable ({error.strerror})") from error
        with container:
            packets = (packet for packet in container.demux(container.streams.video[0]) if packet.size)
            for packet in _with_decoding_times(packets):
                if last_dts is not None and packet.dts * packet.time_base <= last_dts:
                    packet.dts = int(last_dts / packet.time_base) + 1
                    if packet.pts is not None and packet.dts > packet.pts:
                        raise OutputError(f"{path}: cannot join: its decoding times overlap the previous chunk's")
                last_dts = packet.dts * packet.time_base
                yield packet


def _with_decoding_times(packets: Iterable[av.Packet]) -> Iterator[av.Packet]:
    """The packets, each with a decoding time. Matroska stores none: its demuxer derives them from the
    presentation times, except on the first packets of a stream whose codec reorders frames (H.264 with B-frames),
    which get times just before the first derived one, a frame apart (each still at or before its own
    presentation time)."""
    waiting: list[av.Packet] = []
    for packet in packets:
        if packet.dts is None:
            waiting.append(packet)
            continue
        yield from _lead_up(waiting, packet.dts)
        waiting = []
        yield packet
    if waiting:  # no packet had a decoding time: end them just before the earliest picture
        yield from _lead_up(waiting, min(p.pts for p in waiting if p.pts is not None))


def _lead_up(packets: list[av.Packet], before: int) -> Iterator[av.Packet]:
    """``packets`` with decoding times counting up to ``before`` (excluded), a frame's duration apart."""
    step = max(1, min((p.duration or 1) for p in packets)) if packets else 1
    for index, packet in enumerate(packets):
        packet.dts = before - (len(packets) - index) * step
        yield packet


def _audio_packets(container: av.container.InputContainer, streams: Sequence[av.AudioStream]) -> Iterator[av.Packet]:
    if not streams:
        return
    for packet in container.demux(*streams):
        if packet.size:
            yield packet
