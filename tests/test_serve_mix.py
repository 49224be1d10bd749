"""Per-frame style mixes and fading style switches in the frame server: the mix block of the protocol, its
validation, mixes served in one pass of a shared network, switches without a jump, and clients that know nothing of
mixes."""

from __future__ import annotations

import itertools
import socket
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from framestyle.bank import StyleBank
from framestyle.catalog import resolve_style
from framestyle.cli import main
from framestyle.errors import StyleError
from framestyle.serve import Client, Server, style_entries, style_pipelines
from framestyle.serve.protocol import (
    FRAME,
    HEADER,
    MIX_ENTRY,
    MIX_HEAD,
    RESULT,
    SERVER_MESSAGES,
    Capability,
    ErrorCode,
    FrameFlags,
    FrameHeader,
    Limits,
    MessageType,
    PixelFormat,
    ProtocolError,
    check_frame_header,
    decode_error,
    decode_frame_header,
    decode_welcome,
    encode_frame_header,
)
from framestyle.serve.wire import recv_bytes, recv_header

from .tiny_models import STYLES, write_invert_model, write_tiny_shared

LIMITS = Limits(256, 256, 256 * 256)
H, W = 24, 32
yy, xx = np.mgrid[0:H, 0:W]
FRAME_RGB = np.stack([xx * 8, yy * 10, (xx + yy) * 4], axis=-1).astype(np.uint8)


def mix_frame(mix: tuple[tuple[int, float], ...], **fields: object) -> bytes:
    """A whole FRAME message of a 4x2 RGB8 frame with a style mix."""
    header = FrameHeader(**{"frame_id": 1, "width": 4, "height": 2, "pixel_format": PixelFormat.RGB8, "mix": mix,
                            **fields})
    return encode_frame_header(header) + bytes(header.body_length)


def decode(message: bytes, mixes: bool = True) -> FrameHeader:
    """Decode a FRAME as a server reads it from a stream: the fixed header, then the mix block piece by piece."""
    length = struct.unpack_from("<I", message, 8)[0]
    payload = message[HEADER.size:]
    position = [FRAME.size]

    def read(size: int) -> bytes:
        start = position[0]
        position[0] += size
        assert position[0] <= length, "read beyond the payload"
        return payload[start:position[0]]

    return decode_frame_header(payload[:FRAME.size], length, LIMITS, read if mixes else None)


# --- the mix block ------------------------------------------------------------------------------------------------


def test_the_mix_block_round_trips_and_has_the_documented_layout() -> None:
    mix = ((2, 0.75), (0, 0.25))
    message = mix_frame(mix, slot=3)
    header = decode(message)
    assert header.mix == mix and header.flags == FrameFlags.TEMPORAL | FrameFlags.MIX
    assert header == FrameHeader(frame_id=1, width=4, height=2, pixel_format=PixelFormat.RGB8, mix=mix, slot=3)
    block = message[HEADER.size + FRAME.size:]
    assert block == struct.pack("<HH", 2, 0) + struct.pack("<HHf", 2, 0, 0.75) + struct.pack("<HHf", 0, 0, 0.25)
    assert len(block) == header.mix_length == MIX_HEAD.size + 2 * MIX_ENTRY.size
    assert struct.unpack_from("<I", message, 8)[0] == FRAME.size + len(block)  # in shared memory: no body
    inline = mix_frame(mix)
    assert decode(inline).body_length == 24 and len(inline) == HEADER.size + FRAME.size + len(block) + 24


def test_a_frame_without_a_mix_is_encoded_as_before() -> None:
    plain = FrameHeader(frame_id=1, width=4, height=2, pixel_format=PixelFormat.RGB8)
    assert plain.mix_length == 0 and encode_frame_header(plain) == HEADER.pack(b"FSTY", 2, 0, FRAME.size + 24) + \
        FRAME.pack(1, 0, 4, 2, 12, 3, 0, 0, 0, 0xFFFF, 1, 1.0, 1.0, 1.0, 0xFFFFFFFF, 0)


def test_the_mix_flag_is_unknown_where_mixes_are_not_offered() -> None:
    with pytest.raises(ProtocolError, match="unknown frame flag bits 0x8") as caught:
        decode(mix_frame(((0, 1.0),)), mixes=False)
    assert caught.value.code == ErrorCode.MALFORMED


def _entries(*entries: tuple[int, int, float]) -> bytes:
    return b"".join(MIX_ENTRY.pack(*entry) for entry in entries)


@pytest.mark.parametrize(("block", "message"), [
    (MIX_HEAD.pack(0, 0), "1..4 styles, got 0"),
    (MIX_HEAD.pack(5, 0) + _entries(*[(0, 0, 1.0)] * 5), "1..4 styles, got 5"),
    (MIX_HEAD.pack(1, 1) + _entries((0, 0, 1.0)), "reserved"),
    (MIX_HEAD.pack(1, 0) + _entries((0, 7, 1.0)), "reserved"),
    (MIX_HEAD.pack(2, 0) + _entries((0, 0, 1.0), (1, 0, -0.5)), "finite and not negative"),
    (MIX_HEAD.pack(1, 0) + _entries((0, 0, float("nan"))), "finite and not negative"),
    (MIX_HEAD.pack(1, 0) + _entries((0, 0, float("inf"))), "finite and not negative"),
    (MIX_HEAD.pack(2, 0) + _entries((0, 0, 0.0), (1, 0, 0.0)), "sum to zero"),
    (MIX_HEAD.pack(2, 0) + _entries((0, 0, 1.0)), "too short for a mix of 2"),
    (b"\x01", "no style-mix block"),
    (MIX_HEAD.pack(1, 0) + _entries((0, 0, 1.0)) + b"\0", "payload is"),
])
def test_bad_mix_blocks_are_refused(block: bytes, message: str) -> None:
    fixed = FRAME.pack(1, 0, 4, 2, 12, PixelFormat.RGB8, 0, 0, 0, 0xFFFF, FrameFlags.MIX, 1.0, 1.0, 1.0, 0, 0)
    frame = HEADER.pack(b"FSTY", MessageType.FRAME, 0, FRAME.size + len(block)) + fixed + block
    with pytest.raises(ProtocolError, match=message) as caught:
        decode(frame)
    assert caught.value.code == ErrorCode.MALFORMED


def test_a_mix_comes_with_the_default_style_and_at_most_four_styles() -> None:
    with pytest.raises(ProtocolError, match="must have style 0xFFFF"):
        decode(mix_frame(((0, 1.0),), style=1))
    five = FrameHeader(frame_id=1, width=4, height=2, pixel_format=PixelFormat.RGB8, mix=((0, 1.0),) * 5)
    with pytest.raises(ProtocolError, match="1..4 styles"):
        check_frame_header(five, LIMITS)


# --- served mixes and switches ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> StyleBank:
    """The tiny shared network's three styles, and a single-style network."""
    folder = tmp_path_factory.mktemp("shared")
    cards = write_tiny_shared(folder)
    invert = write_invert_model(folder / "invert.onnx")
    return StyleBank([resolve_style(str(cards[name])) for name in STYLES] + [resolve_style(str(invert))])


@pytest.fixture
def serve(bank: StyleBank) -> Iterator[Callable[..., Server]]:
    """Start servers of the bank's styles (fading over ``fade`` seconds of ``clock``); all closed after the test."""
    servers: list[Server] = []

    def start(fade: float = 0.0, clock: Callable[[], float] = time.monotonic) -> Server:
        server = Server(style_entries(bank), style_pipelines(bank, fade=fade, clock=clock))
        server.listen_tcp("127.0.0.1", 0)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_a_served_mix_is_one_pass_of_the_shared_network_on_the_weighted_vector(serve, bank: StyleBank) -> None:
    red, blue = bank.style("red"), bank.style("blue")
    expected = bank.engine_for(red)(FRAME_RGB, 0.5 * red.vector + 0.5 * blue.vector)
    with Client(serve().addresses[0]) as client:
        assert client.style_mix
        client.submit(FRAME_RGB, mix=[("red", 1.0), (2, 1.0)], temporal=False)
        reply = client.receive()
        assert reply.style == "red=1,blue=1"
        np.testing.assert_array_equal(reply.image, expected)
        assert not np.array_equal(reply.image, bank.engine_for(red)(FRAME_RGB, red.vector))


def test_a_mix_across_networks_fails_its_frame_only(serve) -> None:
    with Client(serve().addresses[0]) as client:
        with pytest.raises(StyleError, match="cannot be mixed: it is a single-style network"):
            client.stylize(FRAME_RGB, mix=[("red", 0.5), ("invert", 0.5)])
        assert np.array_equal(client.stylize(FRAME_RGB, style="invert"), 255 - FRAME_RGB)


def test_the_client_refuses_what_the_server_would(serve) -> None:
    with Client(serve().addresses[0]) as client:
        for mix, style, message in (([("purple", 1.0)], None, "no style 'purple'"), ([(9, 1.0)], None, "outside"),
                                    ([("red", -1.0)], None, "not negative"), ([("red", 1.0)], "blue", "not both")):
            with pytest.raises(StyleError, match=message):
                client.submit(FRAME_RGB, mix=mix, style=style)
        assert client.pending == 0


def _largest_step(outputs: list[np.ndarray]) -> float:
    return max(float(np.abs(b.astype(np.int16) - a.astype(np.int16)).mean()) for a, b in itertools.pairwise(outputs))


def test_a_style_switch_fades_without_a_jump(serve) -> None:
    """Frames a tenth of the fade apart, from red to a mix of green and blue: the largest change between two frames
    is far below the cut's, and the fade ends on the mix."""
    now = [0.0]

    def run(fade: float) -> list[np.ndarray]:
        now[0] = 0.0
        with Client(serve(fade, lambda: now[0]).addresses[0]) as client:
            outputs = [client.stylize(FRAME_RGB, style="red", temporal=False)]
            for step in range(12):
                now[0] = step * 0.05
                outputs.append(client.stylize(FRAME_RGB, mix=[("green", 0.5), ("blue", 0.5)], temporal=False))
        return outputs

    cut, faded = run(0.0), run(0.5)
    np.testing.assert_array_equal(cut[-1], faded[-1])
    assert _largest_step(cut) > 5.0 and _largest_step(faded) < 0.3 * _largest_step(cut)


def test_new_weights_of_the_same_styles_apply_at_once(serve, bank: StyleBank) -> None:
    green, blue = bank.style("green"), bank.style("blue")
    with Client(serve(fade=100.0).addresses[0]) as client:
        client.stylize(FRAME_RGB, mix=[("green", 0.5), ("blue", 0.5)], temporal=False)
        moved = client.stylize(FRAME_RGB, mix=[("green", 0.25), ("blue", 0.75)], temporal=False)
    np.testing.assert_array_equal(moved, bank.engine_for(green)(FRAME_RGB, 0.25 * green.vector + 0.75 * blue.vector))


def test_the_temporal_history_survives_a_switch_and_reset_still_forgets_it(serve, bank: StyleBank) -> None:
    blue = bank.style("blue")
    plain_blue = bank.engine_for(blue)(FRAME_RGB, blue.vector)
    with Client(serve().addresses[0]) as client:
        client.stylize(FRAME_RGB, style="red")
        settled = client.stylize(FRAME_RGB, style="blue")  # a cut, blended with the red history
        assert float(np.abs(settled.astype(np.int16) - plain_blue).mean()) > 1.0
        np.testing.assert_array_equal(client.stylize(FRAME_RGB, style="blue", reset=True), plain_blue)


# --- the wire, as clients of today's protocol and bad clients send it ---------------------------------------------


def _read(sock: socket.socket) -> tuple[MessageType, bytes]:
    header = recv_header(sock, SERVER_MESSAGES, Limits(), 10.0, 10.0)
    assert header is not None
    return header[0], recv_bytes(sock, header[1], time.monotonic() + 10)


def _raw_client(server: Server) -> socket.socket:
    """A client that speaks version 1 as first specified, from hand-packed bytes: HELLO, then the WELCOME."""
    host, port = server.addresses[0].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(b"FSTY" + struct.pack("<HHI", 1, 0, 23) + struct.pack("<HHHHHHHHI", 1, 1, 0, 2, 0, 0, 3, 0, 0)
                 + b"old")
    kind, payload = _read(sock)
    assert kind == MessageType.WELCOME and decode_welcome(payload).capabilities & Capability.STYLE_MIX
    return sock


def _raw_frame(frame_id: int, style: int, flags: int = 0) -> bytes:
    """A FRAME of FRAME_RGB as a version 1 client packs it, inline, not smoothed."""
    fixed = struct.pack("<QQIIIBBBBHHfffII", frame_id, 0, W, H, W * 3, 3, 0, 0, 0, style, flags, 1.0, 1.0, 1.0,
                        0xFFFFFFFF, 0)
    return b"FSTY" + struct.pack("<HHI", 2, 0, len(fixed) + FRAME_RGB.nbytes) + fixed + FRAME_RGB.tobytes()


def test_a_client_of_todays_protocol_works_as_before(serve, bank: StyleBank) -> None:
    server = serve()
    with _raw_client(server) as sock:
        for frame_id, style in ((1, 0xFFFF), (2, 2)):
            sock.sendall(_raw_frame(frame_id, style))
            kind, payload = _read(sock)
            assert kind == MessageType.RESULT and len(payload) == RESULT.size + FRAME_RGB.nbytes
            fields = RESULT.unpack_from(payload)
            assert fields[0] == frame_id and fields[7] == (0 if style == 0xFFFF else style)
            model = bank.style(STYLES[fields[7]])
            image = np.frombuffer(payload, np.uint8, offset=RESULT.size).reshape(H, W, 3)
            np.testing.assert_array_equal(image, bank.engine_for(model)(FRAME_RGB, model.vector))


@pytest.mark.parametrize(("block", "code", "message"), [
    (MIX_HEAD.pack(2, 0) + _entries((0, 0, 1.0), (9, 0, 1.0)), ErrorCode.UNKNOWN_STYLE, "style 9 is not one of"),
    (MIX_HEAD.pack(1, 0) + _entries((0, 0, -1.0)), ErrorCode.MALFORMED, "must be finite and not negative"),
    (MIX_HEAD.pack(2, 0) + _entries((0, 0, 0.0), (1, 0, 0.0)), ErrorCode.MALFORMED, "sum to zero"),
])
def test_bad_mixes_close_the_connection_with_a_clear_error(serve, block: bytes, code: ErrorCode,
                                                           message: str) -> None:
    with _raw_client(serve()) as sock:
        fixed = FRAME.pack(1, 0, W, H, W * 3, PixelFormat.RGB8, 0, 0, 0, 0xFFFF, FrameFlags.MIX, 1.0, 1.0, 1.0,
                           0xFFFFFFFF, 0)
        sock.sendall(HEADER.pack(b"FSTY", MessageType.FRAME, 0, FRAME.size + len(block) + FRAME_RGB.nbytes) + fixed
                     + block + FRAME_RGB.tobytes())
        kind, payload = _read(sock)
        error = decode_error(payload)
        assert kind == MessageType.ERROR and error.code == code and error.fatal and message in error.message


def test_the_cli_refuses_a_negative_fade(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--fade", "-1", "--style", str(tmp_path / "none.onnx")]) == 2
    assert capsys.readouterr().err == "stylize serve: error: --fade takes 0 seconds or more, got -1.0\n"
