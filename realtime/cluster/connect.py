"""Starting or joining a Ray cluster, and checking, before any work is spread, that every node can reach the files."""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from framestyle.errors import ClusterError, MissingExtraError

#: Object store of a local instance: the tasks pass only small records, never frames.
LOCAL_OBJECT_STORE = 100 * 1024 * 1024
#: Seconds given to the nodes to answer the file check.
PROBE_TIMEOUT = 120.0


def import_ray() -> ModuleType:
    """The ``ray`` module, or a one-line error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise MissingExtraError("--ray needs Ray: pip install 'framestyle[cluster]'") from None
    return ray


def connect(address: str | None) -> ModuleType:
    """Join the cluster at ``address`` (``HOST:PORT`` of a ``ray start --head``, or ``auto``), or start a local
    instance with one CPU slot per core when ``address`` is None. Returns the connected ``ray`` module."""
    if address is not None:
        _check_reachable(address)
        _use_local_token()
    if address is None or _host(address) in _LOOPBACK:
        # Ray swaps a loopback address for this machine's network address, where a head bound to the loopback
        # does not listen; this switch (read when Ray is imported) keeps it, and a local instance on the loopback.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = import_ray()
    try:
        with _quiet_stderr():  # Ray's core prints a warning a second while it cannot connect; the error says why
            _init(ray, address)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        hint = f" ({TOKEN_HINT})" if address else ""
        raise ClusterError(f"cannot join {where}: {_first_line(error)}{hint}") from error
    return ray


def _init(ray: ModuleType, address: str | None) -> None:
    """``ray.init`` for a local instance (``address`` None) or the cluster at ``address``."""
    if address is None:
        ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False,
                 object_store_memory=LOCAL_OBJECT_STORE, logging_level=logging.ERROR, log_to_driver=False)
    else:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send what is written to the process's stderr (file descriptor 2, where Ray's core logs) nowhere."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "wb") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


#: What a driver that cannot join is told about Ray's token authentication (on since Ray 2.60 when the head has a
#: token).
TOKEN_HINT = ("a head with Ray's token authentication needs its token on this machine too: copy the head's "
              "~/.ray/auth_token here, or set RAY_AUTH_TOKEN to what `ray get-auth-token` prints there")


def _use_local_token() -> None:
    """Turn on Ray's token authentication for this driver when a token is at hand and nothing says otherwise, as
    `ray start` and a local ``ray.init`` do (Ray leaves it off for an explicit address); a head without
    authentication still accepts such a driver."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    token_file = Path(path) if path else Path.home() / ".ray" / "auth_token"
    if os.environ.get("RAY_AUTH_TOKEN") or token_file.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _host(address: str) -> str | None:
    match = re.fullmatch(r"\[?([^\]]+?)\]?:(\d+)", address)
    return match.group(1) if match else None


def _check_reachable(address: str) -> None:
    match = re.fullmatch(r"\[?([^\]]+?)\]?:(\d+)", address)
    if not match:
        if address == "auto":
            return
        raise ClusterError(f"--ray {address}: give the head node as HOST:PORT (as `ray start --head` prints it)")
    host, port = match.group(1), int(match.group(2))
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except OSError as error:
        raise ClusterError(f"cannot reach the Ray cluster at {address} ({error.strerror or error}); is `ray start "
                           "--head` running there, and the port open?") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def check_nodes(ray: ModuleType, source: Path, work: Path, style: str | None) -> list[str]:
    """Run a check on every node with CPUs: the input readable, the work folder writable, the style loadable.
    Returns the nodes' addresses; raises :class:`ClusterError` naming the first node that fails."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [node for node in ray.nodes() if node.get("Alive") and node.get("Resources", {}).get("CPU", 0) > 0]
    if not nodes:
        raise ClusterError("the Ray cluster has no node with CPUs")
    probe = ray.remote(num_cpus=0, max_retries=1)(_probe)
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote(
        str(source), str(work), style) for node in nodes]
    try:
        answers = ray.get(refs, timeout=PROBE_TIMEOUT)
    except ray.exceptions.GetTimeoutError:
        raise ClusterError(f"the Ray nodes did not answer the file check within {PROBE_TIMEOUT:.0f} s") from None
    except ray.exceptions.RayError as error:
        cause = getattr(error, "cause", None) or error  # a task's own exception, rather than Ray's header
        raise ClusterError(f"the file check failed on a Ray node: {type(cause).__name__}: {_first_line(cause)} (is "
                           "framestyle installed there, in the same version?)") from None
    addresses = [node.get("NodeManagerAddress", node["NodeID"]) for node in nodes]
    for address, problem in zip(addresses, answers, strict=True):
        if problem:
            raise ClusterError(f"node {address}: {problem} (every node needs the input and the output's folder on a "
                               "shared file system, at the same path)")
    return addresses


def _probe(source: str, work: str, style: str | None) -> str | None:
    """On one node: what keeps it from rendering, or None."""
    from framestyle.catalog import resolve_style
    from framestyle.errors import StyleError

    try:
        with open(source, "rb") as file:
            file.read(1)
    except OSError as error:
        return f"cannot read {source} ({error.strerror})"
    probe = Path(work) / f".probe-{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        return f"cannot write in {work} ({error.strerror})"
    try:
        resolve_style(style).model_bytes()
    except (StyleError, OSError) as error:
        return f"cannot load the style ({error})"
    return None
