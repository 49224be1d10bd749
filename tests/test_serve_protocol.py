"""The serve protocol's pure parts: message encoding and decoding, header validation, plane layout and conversion,
motion-vector reprojection; plus a hypothesis fuzz of the decoders with malformed and truncated messages."""

from __future__ import annotations

import itertools
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framestyle.kernels.occlusion import depth_confidence
from framestyle.kernels.warp import compose_motion
from framestyle.serve.planes import read_depth, read_motion, read_pixels, write_body, write_pixels
from framestyle.serve.protocol import (
    CLIENT_MESSAGES,
    FRAME,
    HEADER,
    NO_SLOT,
    RESULT,
    SERVER_MESSAGES,
    Capability,
    Dropped,
    ErrorCode,
    ErrorMessage,
    FrameFlags,
    FrameHeader,
    Hello,
    Limits,
    MessageType,
    Mode,
    Origin,
    PixelFormat,
    PlaneType,
    ProtocolError,
    ResultHeader,
    StyleEntry,
    Welcome,
    align,
    decode_dropped,
    decode_error,
    decode_frame_header,
    decode_header,
    decode_hello,
    decode_nonce,
    decode_result_header,
    decode_welcome,
    encode_bye,
    encode_dropped,
    encode_error,
    encode_frame_header,
    encode_hello,
    encode_nonce,
    encode_result_header,
    encode_welcome,
)
from framestyle.temporal import TemporalFilter

LIMITS = Limits(max_width=256, max_height=256, max_pixels=256 * 128)
DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"


def split(message: bytes, allowed: frozenset[MessageType] = CLIENT_MESSAGES) -> tuple[MessageType, bytes]:
    kind, length = decode_header(message[:HEADER.size], allowed, LIMITS)
    payload = message[HEADER.size:]
    assert len(payload) == length
    return kind, payload


def parse(message: bytes, allowed: frozenset[MessageType], limits: Limits = LIMITS) -> object:
    """Parse one whole message as a peer reading it from a stream would; ProtocolError when it is refused."""
    if len(message) < HEADER.size:
        raise ProtocolError(ErrorCode.MALFORMED, "truncated header")
    kind, length = decode_header(message[:HEADER.size], allowed, limits)
    payload = message[HEADER.size:HEADER.size + length]
    if len(payload) < length:
        raise ProtocolError(ErrorCode.MALFORMED, "truncated payload")
    after_fixed = iter(payload[FRAME.size:])

    def read_mix(size: int) -> bytes:  # the style-mix block, read from the stream as a server reads it
        return bytes(itertools.islice(after_fixed, size))

    decoders = {
        MessageType.HELLO: decode_hello,
        MessageType.WELCOME: decode_welcome,
        MessageType.DROPPED: decode_dropped,
        MessageType.ERROR: decode_error,
        MessageType.PING: lambda p: decode_nonce(p, MessageType.PING),
        MessageType.PONG: lambda p: decode_nonce(p, MessageType.PONG),
        MessageType.BYE: lambda p: p,
        MessageType.FRAME: lambda p: decode_frame_header(p[:FRAME.size], length, limits, read_mix),
        MessageType.RESULT: lambda p: decode_result_header(p[:RESULT.size], length, limits),
    }
    return decoders[kind](payload)


def frame_message(**fields: object) -> bytes:
    header = FrameHeader(**{"frame_id": 1, "width": 4, "height": 2, "pixel_format": PixelFormat.RGB8, **fields})
    return encode_frame_header(header) + bytes(header.body_length)


# --- round trips --------------------------------------------------------------------------------------------------


def test_hello_round_trip() -> None:
    hello = Hello(mode=Mode.LATEST, in_flight=3, shared_memory=True, slot_bytes=4096, token="sécret", name="engine")
    kind, payload = split(encode_hello(hello))
    assert kind == MessageType.HELLO and decode_hello(payload) == hello


def test_welcome_round_trip() -> None:
    welcome = Welcome(version=1, mode=Mode.ORDERED, in_flight=2, capabilities=Capability.MOTION | Capability.DEPTH,
                      limits=LIMITS, styles=(StyleEntry("a", "A"), StyleEntry("b", "")), default_style=1,
                      shm_name="framestyle-1-ab", shm_slots=2, shm_slot_bytes=8192, server="test")
    kind, payload = split(encode_welcome(welcome), SERVER_MESSAGES)
    assert kind == MessageType.WELCOME and decode_welcome(payload) == welcome


def test_frame_round_trip() -> None:
    header = FrameHeader(frame_id=2**64 - 1, width=5, height=3, pixel_format=PixelFormat.BGRA8, stride=24,
                         timestamp=123, origin=Origin.BOTTOM_UP, motion=PlaneType.FLOAT16, depth=PlaneType.FLOAT32,
                         style=1, flags=FrameFlags.TEMPORAL | FrameFlags.RESET, strength=0.5,
                         motion_scale=(-5.0, 3.0))
    message = encode_frame_header(header) + bytes(header.body_length)
    kind, payload = split(message)
    assert kind == MessageType.FRAME
    assert decode_frame_header(payload[:FRAME.size], len(payload), LIMITS) == header


def test_other_replies_round_trip() -> None:
    result = ResultHeader(9, 8, 4, 2, 12, PixelFormat.RGB8, Origin.TOP_DOWN, 0, NO_SLOT, 5, 6)
    kind, payload = split(encode_result_header(result) + bytes(24), SERVER_MESSAGES)
    assert decode_result_header(payload[:RESULT.size], len(payload), LIMITS) == result
    assert decode_dropped(split(encode_dropped(Dropped(3, 4, 1)), SERVER_MESSAGES)[1]) == Dropped(3, 4, 1)
    error = ErrorMessage(ErrorCode.PROCESSING_FAILED, "boom ☃", fatal=False, frame_id=0, slot=2)
    assert decode_error(split(encode_error(error), SERVER_MESSAGES)[1]) == error
    assert decode_nonce(split(encode_nonce(MessageType.PING, 77))[1], MessageType.PING) == 77
    assert split(encode_bye()) == (MessageType.BYE, b"")


def test_error_text_is_cut_at_a_character_boundary() -> None:
    error = decode_error(split(encode_error(ErrorMessage(ErrorCode.INTERNAL, "é" * 600)), SERVER_MESSAGES)[1])
    assert error.message == "é" * 512


def test_examples_in_the_specification_decode() -> None:
    blocks = re.findall(r"```\n((?:[0-9a-f]{2}[ \n].*\n)+)```", DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 3
    hello, frame, mixed = (bytes.fromhex(" ".join(re.findall(r"^((?:[0-9a-f]{2} ?)+)", line)[0]
                                                  for line in block.splitlines())) for block in blocks)
    assert parse(hello, CLIENT_MESSAGES) == Hello(in_flight=2, name="t")
    header = parse(frame, CLIENT_MESSAGES)
    assert isinstance(header, FrameHeader) and (header.frame_id, header.width, header.height) == (7, 2, 1)
    assert frame[-6:] == bytes([255, 0, 0, 0, 255, 0])
    assert parse(mixed, CLIENT_MESSAGES) == FrameHeader(frame_id=8, width=2, height=1, pixel_format=PixelFormat.RGB8,
                                                        mix=((0, 1.0), (2, 3.0)))
    assert mixed[-6:] == frame[-6:]


# --- validation ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("message", "code"), [
    (b"XXXX" + bytes(8), ErrorCode.MALFORMED),
    (HEADER.pack(b"FSTY", 0x7F, 0, 0), ErrorCode.MALFORMED),
    (HEADER.pack(b"FSTY", MessageType.RESULT, 0, 0), ErrorCode.UNEXPECTED),
    (HEADER.pack(b"FSTY", MessageType.BYE, 1, 0), ErrorCode.MALFORMED),
    (HEADER.pack(b"FSTY", MessageType.PING, 0, 9), ErrorCode.TOO_LARGE),
    (HEADER.pack(b"FSTY", MessageType.FRAME, 0, 0xFFFFFFFF), ErrorCode.TOO_LARGE),
])
def test_bad_headers_are_refused(message: bytes, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_header(message, CLIENT_MESSAGES, LIMITS)
    assert caught.value.code == code


@pytest.mark.parametrize(("fields", "code"), [
    ({"width": 257}, ErrorCode.TOO_LARGE),
    ({"width": 0}, ErrorCode.MALFORMED),
    ({"width": 256, "height": 256}, ErrorCode.TOO_LARGE),
    ({"stride": 11}, ErrorCode.MALFORMED),
    ({"stride": 12 + 1024}, ErrorCode.MALFORMED),
    ({"strength": 1.5}, ErrorCode.MALFORMED),
    ({"strength": float("nan")}, ErrorCode.MALFORMED),
    ({"motion": PlaneType.FLOAT32, "motion_scale": (float("inf"), 1.0)}, ErrorCode.MALFORMED),
    ({"depth": PlaneType.FLOAT32}, ErrorCode.MALFORMED),
])
def test_bad_frame_headers_are_refused(fields: dict[str, object], code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse(frame_message(**fields), CLIENT_MESSAGES)
    assert caught.value.code == code


@pytest.mark.parametrize("offset", [28, 29, 30, 31, 34, 52])
def test_unknown_enum_flag_and_reserved_values_are_refused(offset: int) -> None:
    message = bytearray(frame_message())
    message[HEADER.size + offset] = 0x7F
    with pytest.raises(ProtocolError) as caught:
        parse(bytes(message), CLIENT_MESSAGES)
    assert caught.value.code == ErrorCode.MALFORMED


def test_frame_length_must_match_its_body() -> None:
    message = frame_message()
    for wrong in (message[:-1] , message + b"\0"):
        kind, length = decode_header(wrong[:HEADER.size], CLIENT_MESSAGES, LIMITS)
        fixed = wrong[HEADER.size:HEADER.size + FRAME.size]
        with pytest.raises(ProtocolError, match="payload is"):
            decode_frame_header(fixed, length + len(wrong) - len(message), LIMITS)


def test_a_huge_frame_is_refused_from_its_fixed_header_alone() -> None:
    header = FRAME.pack(1, 0, 60000, 60000, 240000, PixelFormat.RGBA8, 0, 0, 0, 0xFFFF, 1, 1.0, 1.0, 1.0, NO_SLOT, 0)
    with pytest.raises(ProtocolError) as caught:
        decode_frame_header(header, FRAME.size + 60000 * 240000, Limits())
    assert caught.value.code == ErrorCode.TOO_LARGE


def test_hello_fields_are_checked() -> None:
    good = encode_hello(Hello(name="x"))[HEADER.size:]
    for broken in (good[:-1], good + b"y", struct.pack("<HH", 2, 1) + good[4:],
                   good[:8] + struct.pack("<H", 1) + good[10:], good[:-1] + b"\xff"):
        with pytest.raises(ProtocolError):
            decode_hello(broken)


# --- planes -------------------------------------------------------------------------------------------------------


def test_plane_layout_aligns_motion_and_depth() -> None:
    header = FrameHeader(frame_id=1, width=3, height=3, pixel_format=PixelFormat.RGB8, stride=10,
                         motion=PlaneType.FLOAT16, depth=PlaneType.FLOAT32)
    layout = header.layout
    assert (layout.pixels, layout.motion_offset, layout.motion, layout.depth_offset, layout.depth) == (30, 32, 36, 80,
                                                                                                        36)
    assert layout.total == 116 and align(116) == 128


@pytest.mark.parametrize("pixel_format", list(PixelFormat))
@pytest.mark.parametrize("origin", list(Origin))
def test_pixels_convert_to_top_down_rgb_and_back(pixel_format: PixelFormat, origin: Origin) -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (3, 5, 3), np.uint8)
    alpha = rng.integers(0, 256, (3, 5), np.uint8)
    channels = pixel_format.channels
    stride = 5 * channels + 7
    body = bytearray(stride * 3)
    write_pixels(body, rgb, alpha, 5, 3, stride, pixel_format, origin)
    rows = np.frombuffer(body, np.uint8).reshape(3, stride)[:, :5 * channels].reshape(3, 5, channels)
    stored = rows[::-1] if origin == Origin.BOTTOM_UP else rows
    expected = rgb[..., ::-1] if pixel_format.is_bgr else rgb
    assert np.array_equal(stored[..., :3], expected)
    header = FrameHeader(frame_id=1, width=5, height=3, pixel_format=pixel_format, stride=stride, origin=origin)
    back, back_alpha = read_pixels(body, header)
    assert np.array_equal(back, rgb)
    assert (back_alpha is None) == (channels == 3)
    if back_alpha is not None:
        assert np.array_equal(back_alpha, alpha)


def test_motion_of_a_bottom_up_frame_is_flipped_and_scaled() -> None:
    header = FrameHeader(frame_id=1, width=2, height=2, pixel_format=PixelFormat.RGB8, origin=Origin.BOTTOM_UP,
                         motion=PlaneType.FLOAT16, depth=PlaneType.FLOAT32, motion_scale=(2.0, 3.0))
    motion = np.array([[[1, 1], [0, 0]], [[0, 1], [np.nan, 0]]], np.float16)  # row 0 is the bottom row
    depth = np.array([[1.0, 0.0], [-1.0, 5.0]], np.float32)
    body = bytearray(header.layout.total)
    write_body(body, header, np.zeros((2, 2, 3), np.uint8), motion, depth)
    read = read_motion(body, header)
    assert read.dtype == np.float32 and read.shape == (2, 2, 2)
    assert np.array_equal(read[1, 0], [2.0, -3.0])  # the bottom row's first pixel, now the last row; y flipped
    assert np.array_equal(read[0, 0], [0.0, -3.0])
    assert read[0, 1, 0] == 8.0  # a NaN vector points far outside the frame
    assert np.array_equal(read_depth(body, header), [[np.inf, 5.0], [1.0, np.inf]])


# --- reprojection -------------------------------------------------------------------------------------------------


def test_compose_motion_chains_two_steps() -> None:
    newer = np.zeros((4, 6, 2), np.float32)
    newer[..., 0] = 1.0
    older = np.zeros((4, 6, 2), np.float32)
    older[..., 1] = 2.0
    assert np.allclose(compose_motion(newer, older), [1.0, 2.0])


def test_depth_test_rejects_disocclusions_and_sources_outside_the_frame() -> None:
    depth = np.full((4, 4), 10.0, np.float32)
    previous = depth.copy()
    previous[1, 2] = 2.0  # something near covered this point in the previous frame
    motion = np.zeros((4, 4, 2), np.float32)
    motion[1, 1] = (1.0, 0.0)  # pixel (x=1, y=1) was at (2, 1): behind the near object then
    motion[3, 3] = (5.0, 0.0)  # came from outside the frame
    confidence = depth_confidence(depth, previous, motion, 0.1)
    assert confidence[1, 1] == 0.0 and confidence[3, 3] == 0.0 and confidence[0, 0] == 1.0
    sky = np.full((4, 4), np.inf, np.float32)
    assert depth_confidence(sky, sky, np.zeros((4, 4, 2), np.float32)).min() == 1.0


def test_the_temporal_filter_with_depth_keeps_history_only_where_the_surface_was_seen() -> None:
    frame = np.full((64, 64, 3), 128, np.uint8)
    depth = np.full((64, 64), 5.0, np.float32)
    still = np.zeros((64, 64, 2), np.float32)
    smoother = TemporalFilter(weight=0.5)
    assert np.array_equal(smoother(frame, np.zeros_like(frame), still, depth), np.zeros_like(frame))
    new_depth = depth.copy()
    new_depth[:, 32:] = 1.0  # a near object appeared on the right half: disoccluded there
    out = smoother(frame, np.full_like(frame, 200), still, new_depth)
    assert abs(int(out[0, 0, 0]) - 100) <= 1 and out[0, 63, 0] == 200
    smoother.reset()
    assert np.array_equal(smoother(frame, np.full_like(frame, 50), still, depth), np.full_like(frame, 50))


# --- fuzzing ------------------------------------------------------------------------------------------------------

_VALID = [
    encode_hello(Hello(token="t", name="fuzz")),
    encode_hello(Hello(shared_memory=True, slot_bytes=100)),
    frame_message(),
    frame_message(pixel_format=PixelFormat.BGRA8, width=3, height=3, stride=13, motion=PlaneType.FLOAT16,
                  depth=PlaneType.FLOAT32, origin=Origin.BOTTOM_UP, slot=1),
    frame_message(mix=((0, 0.5), (3, 2.0))),
    encode_nonce(MessageType.PING, 5),
    encode_bye(),
    encode_welcome(Welcome(1, Mode.LATEST, 2, Capability(63), LIMITS, (StyleEntry("a", "b"),), 0, "framestyle-x",
                           2, 4096, "s")),
    encode_result_header(ResultHeader(1, 2, 4, 2, 12, PixelFormat.RGB8, Origin.TOP_DOWN, 0)) + bytes(24),
    encode_dropped(Dropped(1, 2)),
    encode_error(ErrorMessage(ErrorCode.BUSY, "busy")),
]


@st.composite
def malformed(draw: st.DrawFn) -> bytes:
    """A valid message mutated (bytes changed, cut, inserted, extended), or random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    message = bytearray(draw(st.sampled_from(_VALID)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "grow"]))
        position = draw(st.integers(0, max(0, len(message) - 1)))
        if action == "flip" and message:
            message[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del message[position:position + draw(st.integers(1, 16))]
        elif action == "insert":
            message[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            message += draw(st.binary(min_size=1, max_size=32))
    return bytes(message)


def check_parse(message: bytes) -> None:
    """A mutated message either parses or is refused with ProtocolError, on either side."""
    for allowed in (CLIENT_MESSAGES, SERVER_MESSAGES):
        try:
            parse(message, allowed)
        except ProtocolError as error:
            assert error.code in ErrorCode.__members__.values() and str(error)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(malformed())
def test_decoders_refuse_malformed_messages_cleanly(message: bytes) -> None:
    check_parse(message)
