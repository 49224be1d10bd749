"""The marker-bit jitter buffer: a video frame leaves as soon as its last packet is in, not one frame later."""

from __future__ import annotations

import pytest

pytest.importorskip("aiortc", reason="the [live] extra (aiortc) is not installed")

from aiortc import RTCRtpReceiver  # noqa: E402
from aiortc.rtp import RtpPacket  # noqa: E402

from framestyle.live.lowlatency import MarkerJitterBuffer, release_frames_early  # noqa: E402


def _packet(sequence: int, timestamp: int, marker: bool, data: bytes) -> RtpPacket:
    packet = RtpPacket(payload_type=96, marker=int(marker), sequence_number=sequence, timestamp=timestamp)
    packet._data = data
    return packet


def test_a_frame_leaves_at_its_marked_last_packet() -> None:
    buffer = MarkerJitterBuffer()
    assert buffer.add(_packet(10, 3000, False, b"a"))[1] is None
    frame = buffer.add(_packet(11, 3000, True, b"b"))[1]
    assert frame is not None and frame.data == b"ab" and frame.timestamp == 3000
    frame = buffer.add(_packet(12, 6000, True, b"c"))[1]
    assert frame is not None and frame.data == b"c" and frame.timestamp == 6000


def test_packets_out_of_order_wait_for_the_gap_to_fill() -> None:
    buffer = MarkerJitterBuffer()
    buffer.add(_packet(20, 3000, False, b"a"))
    assert buffer.add(_packet(22, 3000, True, b"c"))[1] is None  # 21 is missing
    frame = buffer.add(_packet(21, 3000, False, b"b"))[1]
    assert frame is not None and frame.data == b"abc"


def test_a_frame_whose_marked_packet_was_lost_leaves_when_the_next_begins() -> None:
    buffer = MarkerJitterBuffer()
    buffer.add(_packet(30, 3000, False, b"a"))
    buffer.add(_packet(31, 3000, False, b"b"))
    frame = buffer.add(_packet(32, 6000, False, b"c"))[1]
    assert frame is not None and frame.data == b"ab" and frame.timestamp == 3000
    frame = buffer.add(_packet(33, 6000, True, b"d"))[1]
    assert frame is not None and frame.data == b"cd"


def test_only_video_receivers_get_the_buffer() -> None:
    class Transport:
        _rtp_router = None
        transport = None
        state = "new"

    video, audio = RTCRtpReceiver("video", Transport()), RTCRtpReceiver("audio", Transport())
    assert release_frames_early(video)
    assert isinstance(video._RTCRtpReceiver__jitter_buffer, MarkerJitterBuffer)
    assert not release_frames_early(audio)
    assert not isinstance(audio._RTCRtpReceiver__jitter_buffer, MarkerJitterBuffer)
    assert not release_frames_early(object())
