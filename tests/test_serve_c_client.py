"""The header-only C client: its example program, built with the machine's C compiler, against a live server (an
inverting numpy processor) over TCP, a Unix socket and shared memory, in both pipelining modes."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from framestyle.serve import FrameJob, Server, ServerConfig, StyleEntry

CLIENT = Path(__file__).resolve().parents[1] / "tools" / "clients" / "c"
CC = shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc)")


def invert(job: FrameJob) -> np.ndarray:
    return 255 - job.rgb


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    binary = tmp_path_factory.mktemp("c") / "framestyle_example"
    build = subprocess.run([CC, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O1", "-o", str(binary),
                            str(CLIENT / "example.c")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return binary


@pytest.fixture
def server() -> Iterator[Server]:
    folder = Path(tempfile.mkdtemp(prefix="fs-"))
    server = Server([StyleEntry("invert"), StyleEntry("other")], lambda: invert)
    server.listen_tcp("127.0.0.1", 0)
    server.listen_unix(folder / "s")
    with server:
        yield server
    shutil.rmtree(folder, ignore_errors=True)


def run(example: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(example), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("options", [[], ["--shm"], ["--shm", "--latest"], ["--size", "33x17"]])
@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_the_c_example_gets_every_frame_back_inverted(example: Path, server: Server, tmp_path: Path,
                                                      transport: str, options: list[str]) -> None:
    address = server.addresses[0 if transport == "tcp" else 1]
    picture = tmp_path / "last.ppm"
    done = run(example, address, "--frames", "12", "--check-invert", "--style", "other", "--out", str(picture),
               *options)
    assert done.returncode == 0, done.stderr
    shared = "--shm" in options  # granted over loopback TCP as well as Unix sockets
    assert ("shared memory" if shared else "socket") in done.stdout and "styles: invert other" in done.stdout
    counts = re.search(r"frames 12: (\d+) stylized, (\d+) dropped, 0 failed", done.stdout)
    assert counts, done.stdout
    stylized, dropped = int(counts[1]), int(counts[2])
    assert stylized + dropped == 12 and stylized >= 1 and (dropped == 0 or "--latest" in options)
    width, height = (33, 17) if "--size" in options else (64, 36)
    assert picture.read_bytes().startswith(f"P6\n{width} {height}\n255\n".encode())


def test_the_c_client_reports_a_refusal_in_one_line(example: Path) -> None:
    guarded = Server([StyleEntry("invert")], lambda: invert, ServerConfig(token="s3cret"))
    guarded.listen_tcp("127.0.0.1", 0)
    with guarded:
        refused = run(example, guarded.addresses[0])
        assert refused.returncode == 1
        assert refused.stderr.strip() == "framestyle_example: server error UNAUTHORIZED: wrong or missing token"
        assert run(example, guarded.addresses[0], "--token", "s3cret", "--check-invert").returncode == 0


def test_the_c_client_sends_a_style_mix(example: Path) -> None:
    mixes: list[tuple[tuple[str, float], ...]] = []

    def record(job: FrameJob) -> np.ndarray:
        mixes.append(job.mix)
        return invert(job)

    recording = Server([StyleEntry("invert"), StyleEntry("other")], lambda: record)
    recording.listen_tcp("127.0.0.1", 0)
    with recording:
        for options in ([], ["--shm"]):
            done = run(example, recording.addresses[0], "--frames", "3", "--check-invert", "--mix",
                       "invert=1,other=3", *options)
            assert done.returncode == 0, done.stderr
        refused = run(example, recording.addresses[0], "--mix", "invert=1,purple=1")
        assert refused.returncode == 1 and "--mix invert=1,purple=1" in refused.stderr
    assert mixes == [(("invert", 0.25), ("other", 0.75))] * 6
