"""The frame server with the Python client: transports, formats, pipelining, latest-wins, shared memory, motion and
depth, validation, timeouts, token, client cap, failures, shutdown, the CLI, and a fuzz of a live server.

Servers bind 127.0.0.1 on ports from the OS (or Unix sockets in a temporary folder); most use a numpy processor.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framestyle.catalog import resolve_style
from framestyle.cli import main
from framestyle.errors import StyleError
from framestyle.serve import (
    Client,
    FrameJob,
    Mode,
    Origin,
    PixelFormat,
    Result,
    Server,
    ServerConfig,
    ServerError,
    StyleBank,
    StyleEntry,
    style_entries,
    style_pipelines,
)
from framestyle.serve.protocol import (
    SERVER_MESSAGES,
    Dropped,
    ErrorCode,
    ErrorMessage,
    FrameHeader,
    Hello,
    Limits,
    MessageType,
    PlaneType,
    decode_error,
    encode_frame_header,
    encode_hello,
    encode_nonce,
)
from framestyle.serve.shm import SHM_DIR
from framestyle.serve.wire import recv_bytes, recv_header

from .tiny_models import write_invert_model

H, W = 16, 32
IMAGE = np.random.default_rng(0).integers(0, 256, (H, W, 3), np.uint8)


def invert(job: FrameJob) -> np.ndarray:
    return 255 - job.rgb


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short temporary folder (Unix socket paths are limited to about 100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="fs-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start servers on 127.0.0.1 (and a Unix socket if asked); all are closed after the test."""
    servers: list[Server] = []

    def start(processor: Callable[[FrameJob], np.ndarray] = invert, config: ServerConfig | None = None,
              unix: Path | None = None, styles: tuple[str, ...] = ("invert",)) -> Server:
        server = Server([StyleEntry(name, name.title()) for name in styles], lambda: processor, config)
        server.listen_tcp("127.0.0.1", 0)
        if unix is not None:
            server.listen_unix(unix)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def connect_raw(server: Server) -> socket.socket:
    host, port = server.addresses[0].rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def read(sock: socket.socket) -> tuple[MessageType, bytes]:
    header = recv_header(sock, SERVER_MESSAGES, Limits(), 10.0, 10.0)
    assert header is not None, "no message from the server"
    return header[0], recv_bytes(sock, header[1], time.monotonic() + 10)


def hello(sock: socket.socket, **fields: object) -> None:
    sock.sendall(encode_hello(Hello(**fields)))  # type: ignore[arg-type]
    kind, payload = read(sock)
    assert kind == MessageType.WELCOME, decode_error(payload)


def expect_fatal(sock: socket.socket, code: ErrorCode) -> str:
    """Read until a fatal ERROR, which must have ``code``; then the server must close the connection."""
    while True:
        kind, payload = read(sock)
        if kind == MessageType.ERROR:
            break
    error = decode_error(payload)
    assert (error.code, error.fatal) == (code, True), error
    sock.settimeout(10)
    assert sock.recv(1) == b""
    return error.message


def frame_bytes(body: bool = True, **fields: object) -> bytes:
    header = FrameHeader(**{"frame_id": 1, "width": W, "height": H, "pixel_format": PixelFormat.RGB8, **fields})
    return encode_frame_header(header) + bytes(header.body_length if body else 0)


# --- transports and formats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "unix", "shm"])
def test_every_format_and_origin_comes_back_stylized(serve, folder: Path, transport: str) -> None:
    server = serve(unix=folder / "s")
    address = server.addresses[0] if transport == "tcp" else f"unix:{folder / 's'}"
    rng = np.random.default_rng(1)
    with Client(address, shared_memory=transport == "shm", slot_bytes=H * W * 4) as client:
        assert client.shared_memory == (transport == "shm")
        assert client.styles == ["invert"]
        for pixel_format in PixelFormat:
            for origin in Origin:
                image = rng.integers(0, 256, (H, W, pixel_format.channels), np.uint8)
                out = client.stylize(image, pixel_format=pixel_format, origin=origin)
                expected = image.copy()
                expected[..., :3] = 255 - image[..., :3]  # alpha comes back unchanged
                assert np.array_equal(out, expected), (pixel_format, origin)


def test_a_style_model_runs_through_the_default_pipeline(tmp_path: Path) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    bank = StyleBank([resolve_style(str(model))])
    server = Server(style_entries(bank), style_pipelines(bank))
    server.listen_tcp("127.0.0.1", 0)
    with server, Client(server.addresses[0]) as client:
        assert client.styles == ["invert"]
        assert np.array_equal(client.stylize(IMAGE, style="invert"), 255 - IMAGE)
        assert np.array_equal(client.stylize(IMAGE, strength=0.0, reset=True), IMAGE)
        depth = np.ones((H, W), np.float32)
        motion = np.zeros((H, W, 2), np.float16)
        for _ in range(2):  # the second frame blends with the reprojected first: both are 255 - IMAGE
            assert np.array_equal(client.stylize(IMAGE, motion=motion, depth=depth), 255 - IMAGE)
        assert client.stylize(IMAGE, preserve_color=True, temporal=False).shape == IMAGE.shape


# --- pipelining ---------------------------------------------------------------------------------------------------


def test_pipelined_frames_are_answered_in_order(serve) -> None:
    server = serve()
    with Client(server.addresses[0], in_flight=4) as client:
        assert client.in_flight == 4
        frames = [np.full((H, W, 3), i * 10, np.uint8) for i in range(12)]
        ids = [client.submit(frame) for frame in frames]  # waits for replies only when 4 are in flight
        replies = []
        while client.pending:
            replies.append(client.receive())
        assert [reply.frame_id for reply in replies] == ids
        for reply, frame in zip(replies, frames, strict=True):
            assert isinstance(reply, Result) and np.array_equal(reply.image, 255 - frame)


def test_ping_comes_after_the_replies_to_earlier_frames(serve) -> None:
    server = serve()
    with Client(server.addresses[0], in_flight=4) as client:
        ids = [client.submit(IMAGE) for _ in range(3)]
        client.ping()
        assert [client.receive().frame_id for _ in ids] == ids


def test_latest_wins_drops_waiting_frames_and_carries_their_history(serve) -> None:
    started, release = threading.Event(), threading.Event()
    jobs: list[FrameJob] = []

    def gated(job: FrameJob) -> np.ndarray:
        jobs.append(job)
        started.set()
        release.wait(10)
        return 255 - job.rgb

    server = serve(gated)
    motion = np.zeros((H, W, 2), np.float32)
    motion[..., 0] = 1.0  # every frame moved one pixel left: each pixel was one to the right before
    with Client(server.addresses[0], mode=Mode.LATEST, in_flight=8) as client:
        first = client.submit(IMAGE, motion=motion)
        assert started.wait(10)
        later = [client.submit(IMAGE, motion=motion, reset=i == 0) for i in range(3)]
        dropped = [client.receive(), client.receive()]  # sent while the first frame is still being stylized
        assert all(isinstance(reply, Dropped) for reply in dropped)
        assert [reply.frame_id for reply in dropped] == later[:2]
        release.set()
        results = [client.receive(), client.receive()]
        assert [reply.frame_id for reply in results] == [first, later[2]]
        assert all(isinstance(reply, Result) for reply in results)
    assert len(jobs) == 2 and jobs[1].reset and not jobs[0].reset
    assert jobs[1].motion is not None and np.allclose(jobs[1].motion[4:12, 4:24], [3.0, 0.0])
    server.close()
    assert server.clients()[0].dropped == 2


def test_more_frames_in_flight_than_granted_is_fatal(serve) -> None:
    release = threading.Event()
    server = serve(lambda job: (release.wait(10), 255 - job.rgb)[1])
    with connect_raw(server) as sock:
        hello(sock, in_flight=1)
        sock.sendall(frame_bytes(frame_id=1) + frame_bytes(frame_id=2))
        expect_fatal(sock, ErrorCode.TOO_MANY_IN_FLIGHT)
    release.set()


# --- shared memory, motion and depth ------------------------------------------------------------------------------


def test_shared_memory_carries_motion_and_depth_in_the_servers_conventions(serve, folder: Path) -> None:
    jobs: list[FrameJob] = []
    server = serve(lambda job: (jobs.append(job), 255 - job.rgb)[1], unix=folder / "s")
    motion = np.zeros((H, W, 2), np.float16)
    motion[0, :, 1] = 0.5  # the first row stored (the bottom one) moved half a UV unit
    depth = np.full((H, W), 4.0, np.float32)
    depth[0] = 0.0  # sky on the bottom row
    with Client(f"unix:{folder / 's'}", shared_memory=True, slot_bytes=H * W * 16 + 32, in_flight=2) as client:
        name = client.welcome.shm_name
        assert (SHM_DIR / name).exists() and client.welcome.shm_slots == 2
        for _ in range(5):  # more frames than slots: slots are reused
            image = np.full((H, W, 4), 9, np.uint8)
            out = client.stylize(image, pixel_format=PixelFormat.BGRA8, origin=Origin.BOTTOM_UP, motion=motion,
                                 depth=depth, motion_scale=(-W, -H))
            assert np.array_equal(out[..., :3], np.full((H, W, 3), 246, np.uint8))
    job = jobs[0]
    assert job.motion is not None and job.depth is not None
    assert np.allclose(job.motion[-1, :, 1], 0.5 * H) and np.allclose(job.motion[:-1], 0.0)  # flipped, scaled
    assert np.isinf(job.depth[-1]).all() and np.all(job.depth[:-1] == 4.0)
    server.close()
    assert not (SHM_DIR / name).exists()


def test_bad_slots_are_fatal(serve) -> None:
    server = serve()
    with connect_raw(server) as sock:
        hello(sock)
        sock.sendall(encode_frame_header(FrameHeader(frame_id=1, width=W, height=H, pixel_format=PixelFormat.RGB8,
                                                     slot=0)))
        assert "none was granted" in expect_fatal(sock, ErrorCode.BAD_SLOT)
    with connect_raw(server) as sock:
        hello(sock, shared_memory=True, slot_bytes=H * W * 3, in_flight=2)
        sock.sendall(encode_frame_header(FrameHeader(frame_id=1, width=W, height=H, pixel_format=PixelFormat.RGB8,
                                                     slot=2)))
        expect_fatal(sock, ErrorCode.BAD_SLOT)


# --- validation and security --------------------------------------------------------------------------------------


def test_a_malformed_message_closes_only_its_own_connection(serve) -> None:
    server = serve()
    with Client(server.addresses[0]) as good:
        with connect_raw(server) as sock:
            sock.sendall(frame_bytes())  # a frame before HELLO
            expect_fatal(sock, ErrorCode.UNEXPECTED)
        with connect_raw(server) as sock:
            hello(sock)
            sock.sendall(b"GARBAGE!" * 4)
            expect_fatal(sock, ErrorCode.MALFORMED)
        with connect_raw(server) as sock:
            hello(sock)
            sock.sendall(frame_bytes(body=False, width=100000))  # refused from the header: nothing is allocated
            expect_fatal(sock, ErrorCode.TOO_LARGE)
        with connect_raw(server) as sock:
            hello(sock)
            sock.sendall(frame_bytes(body=False, style=3))
            expect_fatal(sock, ErrorCode.UNKNOWN_STYLE)
        assert np.array_equal(good.stylize(IMAGE), 255 - IMAGE)


def test_unsupported_versions_are_refused(serve) -> None:
    server = serve()
    with connect_raw(server) as sock:
        sock.sendall(encode_hello(Hello(min_version=2, max_version=3)))
        expect_fatal(sock, ErrorCode.UNSUPPORTED_VERSION)


def test_a_token_is_required_when_set(serve) -> None:
    server = serve(config=ServerConfig(token="s3cret"))
    for token in ("", "wrong"):
        with pytest.raises(ServerError) as caught:
            Client(server.addresses[0], token=token)
        assert caught.value.code == ErrorCode.UNAUTHORIZED
    with Client(server.addresses[0], token="s3cret") as client:
        assert np.array_equal(client.stylize(IMAGE), 255 - IMAGE)


def test_listening_beyond_loopback_needs_a_token() -> None:
    server = Server([StyleEntry("invert")], lambda: invert)
    with pytest.raises(StyleError, match="without a token"):
        server.listen_tcp("0.0.0.0", 0)
    assert main(["serve", "--host", "0.0.0.0", "--style", "none.onnx"]) == 2


@pytest.mark.parametrize("stage", ["hello", "message", "idle"])
def test_silent_and_slow_clients_time_out(serve, stage: str) -> None:
    server = serve(config=ServerConfig(handshake_timeout=0.3, message_timeout=0.3, idle_timeout=0.3))
    with connect_raw(server) as sock:
        if stage != "hello":
            hello(sock)
        if stage == "message":
            sock.sendall(frame_bytes()[:20])
        expect_fatal(sock, ErrorCode.TIMEOUT)


def test_a_client_that_does_not_take_its_replies_is_cut_off(serve, folder: Path) -> None:
    server = serve(config=ServerConfig(message_timeout=0.3), unix=folder / "s")
    header = FrameHeader(frame_id=0, width=1024, height=512, pixel_format=PixelFormat.RGBA8)
    with socket.socket(socket.AF_UNIX) as sock:  # the socket buffers hold far less than 8 replies of 2 MiB
        sock.connect(str(folder / "s"))
        hello(sock, in_flight=8)
        try:
            for frame_id in range(8):
                sock.sendall(encode_frame_header(FrameHeader(frame_id=frame_id, width=1024, height=512,
                                                             pixel_format=PixelFormat.RGBA8))
                             + bytes(header.body_length))
        except (BrokenPipeError, ConnectionResetError):
            pass  # cut off already, while still sending
        deadline = time.monotonic() + 20
        while not server.clients() or server.clients()[0].ended is None:
            assert time.monotonic() < deadline, "the server kept a client that does not read"
            time.sleep(0.1)
        assert server.clients()[0].frames < 8


def test_clients_beyond_the_cap_are_told_the_server_is_busy(serve) -> None:
    server = serve(config=ServerConfig(max_clients=1))
    with Client(server.addresses[0]):
        with pytest.raises(ServerError) as caught:
            Client(server.addresses[0])
        assert caught.value.code == ErrorCode.BUSY


# --- failures, shutdown, statistics -------------------------------------------------------------------------------


def test_a_frame_that_fails_gets_an_error_in_its_place(serve) -> None:
    def fragile(job: FrameJob) -> np.ndarray:
        if job.strength < 1.0:
            raise StyleError("cannot stylize this one")
        return 255 - job.rgb

    server = serve(fragile)
    with Client(server.addresses[0]) as client:
        bad = client.submit(IMAGE, strength=0.5)
        good = client.submit(IMAGE)
        error = client.receive()
        assert isinstance(error, ErrorMessage) and error.frame_id == bad and not error.fatal
        assert error.code == ErrorCode.PROCESSING_FAILED and "cannot stylize" in error.message
        result = client.receive()
        assert isinstance(result, Result) and result.frame_id == good
    server.close()
    stats = server.clients()[0]
    assert (stats.frames, stats.failed) == (1, 1)
    assert "1 frames in" in stats.summary_line() and "p50" in stats.summary_line()


def test_clients_are_told_when_the_server_shuts_down(serve) -> None:
    server = serve()
    client = Client(server.addresses[0])
    client.stylize(IMAGE)
    server.close()
    with pytest.raises(ServerError) as caught:
        client.ping()
    assert caught.value.code == ErrorCode.SHUTTING_DOWN
    client.close()


def test_the_cli_serves_and_reports_per_client_statistics(tmp_path: Path, folder: Path) -> None:
    model = write_invert_model(tmp_path / "invert.onnx")
    socket_path = folder / "cli.sock"
    command = [sys.executable, "-m", "framestyle", "serve", "--unix", str(socket_path), "--style", str(model),
               "--stats-interval", "0.3", "--threads", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not socket_path.exists():
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()  # type: ignore
            time.sleep(0.1)
        with Client(f"unix:{socket_path}", name="cli-test") as client:
            for _ in range(3):
                assert np.array_equal(client.stylize(IMAGE), 255 - IMAGE)
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "listening on unix:" in output and "frames/s" in output
    assert "client 1 (cli-test, unix): 3 frames in" in output
    assert not socket_path.exists()


# --- fuzzing a live server ----------------------------------------------------------------------------------------

_VALID_AFTER_HELLO = [
    frame_bytes(),
    frame_bytes(pixel_format=PixelFormat.BGRA8, width=4, height=3, stride=20, motion=PlaneType.FLOAT16,
                depth=PlaneType.FLOAT32, origin=Origin.BOTTOM_UP),
    encode_nonce(MessageType.PING, 3),
]


@st.composite
def session(draw: st.DrawFn) -> tuple[bool, bytes]:
    """Whether to send a valid HELLO first, and then a valid message with a few bytes changed, cut or added."""
    after_hello = draw(st.booleans())
    message = bytearray(draw(st.sampled_from(_VALID_AFTER_HELLO if after_hello else [encode_hello(Hello())])))
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(message) - 1))
        action = draw(st.sampled_from(["flip", "cut", "add"]))
        if action == "flip":
            message[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del message[position:]
        else:
            message[position:position] = draw(st.binary(min_size=1, max_size=8))
        if not message:
            message = bytearray(b"\0")
    return after_hello, bytes(message)


def test_a_live_server_survives_malformed_and_truncated_messages(serve) -> None:
    before = set(threading.enumerate())
    server = serve(config=ServerConfig(handshake_timeout=2, message_timeout=2))

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])
    @given(session())
    def exchange(case: tuple[bool, bytes]) -> None:
        after_hello, message = case
        with connect_raw(server) as sock:
            if after_hello:
                hello(sock)
            sock.sendall(message)
            sock.shutdown(socket.SHUT_WR)  # the server then sees the end of the stream, wherever it is
            sock.settimeout(10)
            while sock.recv(65536):  # whatever it answers, it must close the connection in time
                pass

    exchange()
    with Client(server.addresses[0]) as client:
        assert np.array_equal(client.stylize(IMAGE), 255 - IMAGE)
    # Every connection's threads end once its client is gone (the timeout only stops a hang); threads of other
    # tests' servers are not this server's.
    connections = [thread for thread in threading.enumerate()
                   if thread not in before and thread.name.startswith(("serve-client", "serve-work"))]
    deadline = time.monotonic() + 10
    for thread in connections:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not [thread.name for thread in connections if thread.is_alive()], "connection threads were left behind"
