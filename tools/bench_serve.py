"""Benchmarks of ``stylize serve``: a latency table per transport, a multi-client load test, and a long fuzz.

    python tools/bench_serve.py latency [--frames 200] [--sizes 640x360 1280x720]
    python tools/bench_serve.py load [--clients 8] [--seconds 60] [--size 640x360]
    python tools/bench_serve.py fuzz [--examples 10000]

Each command starts ``stylize serve`` as a subprocess on 127.0.0.1 and a Unix socket, with a tiny ONNX model built
here (identity, or colour negative for checksums), so the numbers are those of the server and the transport, not
of a style network. ``latency`` compares each round trip with the network time: the same bytes echoed by a bare
socket server over the same transport. Everything stays on this machine and stops by itself.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from framestyle.cli.bench import parse_size
from framestyle.serve.client import Client, Result
from framestyle.serve.protocol import HEADER, Hello, PixelFormat, encode_hello
from framestyle.serve.wire import recv_bytes, recv_into

ECHO_SERVER = r"""
import socket, sys, threading
def serve(conn):
    with conn:
        while True:
            header = b""
            while len(header) < 8:
                part = conn.recv(8 - len(header))
                if not part:
                    return
                header += part
            size, reply = int.from_bytes(header[:4], "little"), int.from_bytes(header[4:], "little")
            buffer = bytearray(max(size, reply))
            view = memoryview(buffer)
            got = 0
            while got < size:
                got += conn.recv_into(view[got:size])
            conn.sendall(view[:reply])
def accept(listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
unix = socket.socket(socket.AF_UNIX); unix.bind(sys.argv[1]); unix.listen()
tcp = socket.socket(); tcp.bind(("127.0.0.1", 0)); tcp.listen()
print(tcp.getsockname()[1], flush=True)
threading.Thread(target=accept, args=(unix,), daemon=True).start()
accept(tcp)
"""


def build_model(path: Path, negative: bool) -> Path:
    """A model with the style networks' I/O: the identity, or 255 - frame."""
    import onnx
    from onnx import TensorProto, helper

    frame = helper.make_tensor_value_info("frame", TensorProto.UINT8, [1, "height", "width", 3])
    out = helper.make_tensor_value_info("stylized", TensorProto.UINT8, [1, "height", "width", 3])
    if negative:
        nodes = [helper.make_node("Sub", ["c255", "frame"], ["stylized"])]
        initializers = [helper.make_tensor("c255", TensorProto.UINT8, [], [255])]
    else:
        nodes, initializers = [helper.make_node("Identity", ["frame"], ["stylized"])], []
    model = helper.make_model(helper.make_graph(nodes, "bench", [frame], [out], initializers),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@contextmanager
def running_server(folder: Path, model: Path, *options: str,
                   quiet: bool = False) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """``stylize serve`` on a Unix socket and a free TCP port; yields the process and both addresses, and prints
    the server's final report when it stops (only its last line if ``quiet``)."""
    path = folder / "serve.sock"
    command = [sys.executable, "-m", "framestyle", "serve", "--unix", str(path), "--port", "0", "--style",
               str(model), "--stats-interval", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    line = ""
    while "listening on" not in line:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise SystemExit(f"stylize serve did not start (exit {process.returncode})")
    tcp = re.search(r"listening on .*?(127\.0\.0\.1:\d+)", line)
    assert tcp, line
    lines: list[str] = []  # read all along: a full pipe would stall the server's reports, and so the server
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        yield process, f"unix:{path}", tcp[1]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        reader.join(timeout=10)
        report = [line.rstrip() for line in lines if "stylize serve:" in line]
        stopped = next((index for index, line in enumerate(report) if "stopped;" in line), 0)
        report = report[stopped:stopped + 1] if quiet else report[stopped:]  # the final report
        print("".join(f"  | {line}\n" for line in report), end="")


def echo_round_trips(address: str, send: int, receive: int, count: int) -> list[float]:
    """Round trips of ``send`` bytes out and ``receive`` bytes back through a bare echo server."""
    kind, target = address.split(":", 1)
    sock = socket.socket(socket.AF_UNIX) if kind == "unix" else socket.create_connection(("127.0.0.1", int(target)))
    if kind == "unix":
        sock.connect(target)
    else:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = bytes(send)
    buffer = bytearray(receive)
    times = []
    with sock:
        for _ in range(count):
            start = time.perf_counter()
            sock.sendall(send.to_bytes(4, "little") + receive.to_bytes(4, "little") + payload)
            recv_into(sock, memoryview(buffer), time.monotonic() + 30)
            times.append(time.perf_counter() - start)
    return times


def frame_round_trips(client: Client, image: np.ndarray, count: int) -> tuple[list[float], list[float]]:
    """Round trips of single frames (one in flight), and the server's time for each."""
    times, server = [], []
    for _ in range(count):
        start = time.perf_counter()
        client.submit(image, pixel_format=PixelFormat.RGBA8, temporal=False)
        reply = client.receive()
        times.append(time.perf_counter() - start)
        assert isinstance(reply, Result), reply
        server.append((reply.queue_us + reply.process_us) / 1e6)
    return times, server


def ms(values: list[float], q: float = 50) -> float:
    return float(np.percentile(values, q) * 1000)


def latency(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="fsb-") as tmp:
        folder = Path(tmp)
        model = build_model(folder / "identity.onnx", negative=False)
        echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, str(folder / "echo.sock")],
                                stdout=subprocess.PIPE, text=True)
        assert echo.stdout is not None
        echo_tcp = f"tcp:{echo.stdout.readline().strip()}"
        rows = []
        try:
            with running_server(folder, model, "--threads", str(args.threads)) as (process, unix, tcp):
                for width, height in args.sizes:
                    image = np.random.default_rng(0).integers(0, 256, (height, width, 4), np.uint8)
                    body = width * height * 4
                    for name, address, echo_address, shared in (("unix", unix, f"unix:{folder / 'echo.sock'}", False),
                                                                 ("tcp", tcp, echo_tcp, False),
                                                                 ("shm", unix, None, True)):
                        with Client(address, in_flight=1, shared_memory=shared, slot_bytes=body + 64,
                                    name=f"bench-{name}") as client:
                            frame_round_trips(client, image, 5)  # warm-up
                            cpu = cpu_seconds(process.pid), time.process_time()
                            times, server = frame_round_trips(client, image, args.frames)
                            cpu = ((cpu_seconds(process.pid) - cpu[0]) / args.frames,
                                   (time.process_time() - cpu[1]) / args.frames)
                        network = (echo_round_trips(echo_address, body + 68, body + 60, args.frames)
                                   if echo_address else None)
                        rows.append((f"{width}x{height}", name, ms(times), ms(times, 95), ms(server),
                                     ms(network) if network else None, cpu[0] * 1000, cpu[1] * 1000))
        finally:
            echo.kill()
            echo.wait()
    print(f"{'size':>10} {'transport':>9} {'p50 ms':>8} {'p95 ms':>8} {'server ms':>10} {'network ms':>11} "
          f"{'p50-network':>12} {'server CPU':>11} {'client CPU':>11}")
    for size, name, p50, p95, server, network, server_cpu, client_cpu in rows:
        net = f"{network:11.2f} {p50 - network:12.2f}" if network is not None else f"{'-':>11} {'-':>12}"
        print(f"{size:>10} {name:>9} {p50:8.2f} {p95:8.2f} {server:10.2f} {net} {server_cpu:11.2f} "
              f"{client_cpu:11.2f}")
    print("(milliseconds per frame; CPU: process time of the server and of this client per frame)")
    by_key = {(size, name): p50 for size, name, p50, *_ in rows}
    for size, name, p50, _, _, network, *_ in rows:
        if name == "unix" and network is not None:
            print(f"{size} unix: round trip p50 {p50:.2f} ms vs network {network:.2f} ms + 5 ms: "
                  f"{'PASS' if p50 <= network + 5 else 'FAIL'}")
        if name == "shm" and (size, "tcp") in by_key:
            print(f"{size}: shared memory {p50:.2f} ms vs TCP {by_key[(size, 'tcp')]:.2f} ms: "
                  f"{'PASS' if p50 < by_key[(size, 'tcp')] else 'FAIL'}")
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_rss(pid: int) -> int:
    """Resident memory of a process in KiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text)[1])  # type: ignore[index]


def load(args: argparse.Namespace) -> int:
    width, height = args.size
    with tempfile.TemporaryDirectory(prefix="fsb-") as tmp:
        folder = Path(tmp)
        model = build_model(folder / "negative.onnx", negative=True)
        with running_server(folder, model, "--threads", str(args.threads), "--max-clients",
                            str(args.clients)) as (process, unix, tcp):
            stop = time.monotonic() + args.seconds
            results: dict[int, tuple[int, int, list[float]]] = {}
            errors: list[str] = []

            def drive(number: int) -> None:
                rng = np.random.default_rng(number)
                frames = [rng.integers(0, 256, (height, width, 3), np.uint8) for _ in range(4)]
                frames_done, mismatches, times = 0, 0, []
                address = unix if number % 2 else tcp
                try:
                    with Client(address, in_flight=2, name=f"load-{number}", shared_memory=number % 4 == 1,
                                slot_bytes=width * height * 3 + 64) as client:
                        sent: dict[int, tuple[float, np.ndarray]] = {}
                        index = 0
                        while time.monotonic() < stop or client.pending:
                            if time.monotonic() < stop and client.pending < client.in_flight:
                                frame = frames[index % len(frames)]
                                index += 1
                                sent[client.submit(frame, temporal=False)] = (time.perf_counter(), frame)
                                continue
                            reply = client.receive()
                            assert isinstance(reply, Result), reply
                            started, frame = sent.pop(reply.frame_id)
                            times.append(time.perf_counter() - started)
                            mismatches += not np.array_equal(reply.image, 255 - frame)
                            frames_done += 1
                except Exception as error:  # reported with the results
                    errors.append(f"client {number}: {error}")
                results[number] = (frames_done, mismatches, times)

            threads = [threading.Thread(target=drive, args=(n,)) for n in range(args.clients)]
            memory = [server_rss(process.pid)]
            for thread in threads:
                thread.start()
            while any(thread.is_alive() for thread in threads):
                time.sleep(1.0)
                memory.append(server_rss(process.pid))
            for thread in threads:
                thread.join()
    total = sum(frames for frames, _, _ in results.values())
    bad = sum(mismatches for _, mismatches, _ in results.values())
    print(f"{args.clients} clients, {args.seconds:g} s, {width}x{height} RGB8: {total} frames, "
          f"{total / args.seconds:.1f} frames/s in all, {bad} checksum mismatches, {len(errors)} client errors")
    for number, (frames, _, times) in sorted(results.items()):
        transport = "shm" if number % 4 == 1 else "unix" if number % 2 else "tcp"
        print(f"  client {number} ({transport}): {frames} frames, {frames / args.seconds:.1f} frames/s, "
              f"p50 {ms(times) if times else 0:.1f} ms, p95 {ms(times, 95) if times else 0:.1f} ms")
    for error in errors:
        print(f"  {error}")
    half = memory[len(memory) // 2:]
    print(f"server memory (RSS): start {memory[0] / 1024:.0f} MiB, mid {half[0] / 1024:.0f} MiB, end "
          f"{memory[-1] / 1024:.0f} MiB, max {max(memory) / 1024:.0f} MiB; second-half growth "
          f"{(max(half) - half[0]) / 1024:.1f} MiB")
    return 1 if bad or errors else 0


def fuzz(args: argparse.Namespace) -> int:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from framestyle.serve.protocol import FrameHeader, MessageType, Origin, PlaneType, encode_frame_header, encode_nonce

    def frame(**fields: object) -> bytes:
        header = FrameHeader(**{"frame_id": 1, "width": 8, "height": 4, "pixel_format": PixelFormat.RGB8, **fields})
        return encode_frame_header(header) + bytes(header.body_length)

    valid = [frame(), frame(pixel_format=PixelFormat.BGRA8, stride=40, motion=PlaneType.FLOAT16,
                            depth=PlaneType.FLOAT32, origin=Origin.BOTTOM_UP), encode_nonce(MessageType.PING, 1)]
    hello = encode_hello(Hello(name="fuzz"))

    @st.composite
    def session(draw: st.DrawFn) -> tuple[bool, bytes]:
        after_hello = draw(st.booleans())
        message = bytearray(draw(st.sampled_from(valid)) if after_hello else hello)
        if draw(st.integers(0, 9)) == 0:
            message = bytearray(draw(st.binary(max_size=300)))
        for _ in range(draw(st.integers(1, 4))):
            if not message:
                message = bytearray(b"\0")
            position = draw(st.integers(0, len(message) - 1))
            action = draw(st.sampled_from(["flip", "cut", "insert", "append"]))
            if action == "flip":
                message[position] = draw(st.integers(0, 255))
            elif action == "cut":
                del message[position:]
            elif action == "insert":
                message[position:position] = draw(st.binary(min_size=1, max_size=16))
            else:
                message += draw(st.binary(min_size=1, max_size=64))
        return after_hello, bytes(message)

    counts = {"examples": 0, "errors": 0, "slowest": 0.0}
    with tempfile.TemporaryDirectory(prefix="fsb-") as tmp:
        folder = Path(tmp)
        model = build_model(folder / "identity.onnx", negative=False)
        with running_server(folder, model, "--threads", "1", "--handshake-timeout", "2", "--message-timeout",
                            "2", quiet=True) as (process, unix, _):
            path = unix[len("unix:"):]

            @settings(max_examples=args.examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(session())
            def exchange(case: tuple[bool, bytes]) -> None:
                after_hello, message = case
                start = time.perf_counter()
                with socket.socket(socket.AF_UNIX) as sock:
                    sock.settimeout(10)
                    sock.connect(path)
                    if after_hello:
                        sock.sendall(hello)
                        _, _, _, length = HEADER.unpack(recv_bytes(sock, HEADER.size, time.monotonic() + 10))
                        recv_bytes(sock, length, time.monotonic() + 10)  # the WELCOME
                    try:
                        sock.sendall(message)
                        sock.shutdown(socket.SHUT_WR)
                        while sock.recv(65536):
                            pass
                    except ConnectionResetError:
                        pass  # the server closed on a fatal error while bytes were still unread: fine
                counts["examples"] += 1
                counts["slowest"] = max(counts["slowest"], time.perf_counter() - start)
                assert process.poll() is None, "the server died"

            started = time.perf_counter()
            exchange()
            with Client(unix) as client:
                image = np.zeros((16, 16, 3), np.uint8)
                alive = np.array_equal(client.stylize(image, temporal=False), image)
            print(f"{counts['examples']} malformed or truncated sessions in {time.perf_counter() - started:.0f} s; "
                  f"slowest closed after {counts['slowest'] * 1000:.0f} ms; server alive and serving: {alive}")
    return 0 if alive else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("latency", help="round trips per transport and size, against the network time")
    one.add_argument("--frames", type=int, default=200)
    one.add_argument("--sizes", type=parse_size, nargs="+", default=[(640, 360), (1280, 720)], metavar="WxH")
    one.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads of the server")
    two = commands.add_parser("load", help="many clients at once, with checksums and the server's memory")
    two.add_argument("--clients", type=int, default=8)
    two.add_argument("--seconds", type=float, default=60)
    two.add_argument("--size", type=parse_size, default=(640, 360), metavar="WxH")
    two.add_argument("--threads", type=int, default=1)
    three = commands.add_parser("fuzz", help="malformed and truncated messages against a live server")
    three.add_argument("--examples", type=int, default=10000)
    args = parser.parse_args()
    return {"latency": latency, "load": load, "fuzz": fuzz}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
