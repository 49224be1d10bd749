"""A real Ray cluster for tests, started the documented way (`ray get-auth-token --generate`, `ray start --head`,
`RAY_AUTH_MODE=token ray start --address=...`) but on 127.0.0.1 only: Ray's command line otherwise swaps a
loopback address for the machine's network address and listens on every interface. Its home folder is the test's
own, so the authentication token is too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

LOOPBACK = "127.0.0.1"
#: Ray's own command line, with loopback addresses kept as given.
RAY = [sys.executable, "-c", "import sys, ray._private.services as services; "
       "services.resolve_ip_for_localhost = lambda host: host; "
       "from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"]
#: Added to every `ray start`: loopback only, one CPU, a small object store (the tasks pass small records), and in
#: the foreground, so that stopping the process stops exactly this node.
NODE = [f"--node-ip-address={LOOPBACK}", "--num-cpus=1", "--object-store-memory=80000000", "--block"]
STARTED = "Ray runtime started"


def ray_environment(home: Path) -> dict[str, str]:
    """The environment of a node or driver of this test's cluster: its own home folder (for the token)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    env["HOME"] = str(home)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@contextmanager
def ray_nodes(home: Path, *, workers: int = 1) -> Iterator[str]:
    """A head and ``workers`` worker nodes with Ray's token authentication on; yields the head's address."""
    env = ray_environment(home)
    subprocess.run([*RAY, "get-auth-token", "--generate"], env=env, check=True, capture_output=True, timeout=60)
    port = free_port()
    address = f"{LOOPBACK}:{port}"
    nodes: list[subprocess.Popen] = []
    try:
        nodes.append(start_node(["--head", f"--port={port}", "--include-dashboard=false"], env))
        for _ in range(workers):
            nodes.append(start_node([f"--address={address}"], {**env, "RAY_AUTH_MODE": "token"}))
        yield address
    finally:
        stop_nodes(nodes)


def start_node(arguments: Sequence[str], env: dict[str, str]) -> subprocess.Popen:
    """`ray start` with ``arguments`` (and :data:`NODE`) in the background, once it says the node runs."""
    node = subprocess.Popen([*RAY, "start", *arguments, *NODE], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen: list[str] = []
    deadline = time.monotonic() + 120
    assert node.stdout is not None
    while time.monotonic() < deadline:
        line = node.stdout.readline()
        if not line:
            break
        seen.append(line)
        if STARTED in line:
            threading.Thread(target=node.stdout.read, daemon=True).start()  # the rest, so the pipe never fills
            return node
    stop_nodes([node])
    pytest.fail(f"`ray start {' '.join(arguments)}` did not start:\n{''.join(seen[-20:])}")


def stop_nodes(nodes: Sequence[subprocess.Popen]) -> None:
    """Stop these nodes (workers first), each with the processes it started."""
    for node in reversed(nodes):
        if node.poll() is None:
            node.send_signal(signal.SIGTERM)
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait()
