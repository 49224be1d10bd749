"""The frame server: TCP and Unix-socket listeners, an accept thread, one :class:`Connection` per client, and
periodic per-client reports."""

from __future__ import annotations

import os
import selectors
import socket
import stat
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from framestyle.errors import StyleError
from framestyle.serve.config import ServerConfig
from framestyle.serve.connection import Connection, Service
from framestyle.serve.pipeline import ProcessorFactory
from framestyle.serve.protocol import Capability, ErrorCode, ErrorMessage, StyleEntry, encode_error
from framestyle.serve.shm import shm_available
from framestyle.serve.stats import ClientStats
from framestyle.serve.wire import UNIX_BUFFER, is_loopback, send_parts

#: Finished clients remembered for the final report.
_KEEP_FINISHED = 256
#: Seconds the server waits for each client's threads when it shuts down.
_JOIN_TIMEOUT = 5.0


class Server:
    """Serves stylized frames to many clients at once, each with its own processor (so its own temporal history).

    Args:
        styles: the styles clients may choose, by index, in the order listed in the handshake.
        processors: makes the frame processor of each new client (see :mod:`framestyle.serve.pipeline`).
        config: limits, timeouts, token, worker count.
        default_style: the index of the style frames get when they name none.
        report: receives one-line reports (connections, errors, per-client statistics).
        stats_interval: seconds between periodic per-client statistics lines (0: none).
    """

    def __init__(self, styles: Sequence[StyleEntry], processors: ProcessorFactory,
                 config: ServerConfig | None = None, *, default_style: int = 0,
                 report: Callable[[str], None] | None = None, stats_interval: float = 0.0) -> None:
        if not styles or not 0 <= default_style < len(styles):
            raise StyleError("a server needs at least one style, and its default among them")
        self.config = config or ServerConfig()
        capabilities = (Capability.MOTION | Capability.DEPTH | Capability.LATEST | Capability.FLOAT16
                        | Capability.STYLE_MIX)
        if self.config.shared_memory and shm_available():
            capabilities |= Capability.SHARED_MEMORY
        self._report = report or (lambda line: None)
        self._service = Service(tuple(styles), default_style, processors, self.config,
                                threading.BoundedSemaphore(self.config.workers), capabilities, self._report,
                                self._finished)
        self._stats_interval = stats_interval
        self._listeners: list[tuple[socket.socket, str]] = []
        self._unix_paths: list[Path] = []
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._active: set[Connection] = set()
        self._done: deque[ClientStats] = deque(maxlen=_KEEP_FINISHED)
        self._summarised: set[int] = set()
        self._count = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- listening ----------------------------------------------------------------------------------------------

    def listen_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (port 0: any free one); returns the address. Anything but a loopback address
        needs a token."""
        check_exposure(host, self.config.token)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            sock.close()
            raise StyleError(f"cannot listen on {host}:{port}: {error.strerror}") from error
        bound = sock.getsockname()
        address = f"[{bound[0]}]:{bound[1]}" if family == socket.AF_INET6 else f"{bound[0]}:{bound[1]}"
        self._add_listener(sock, address)
        return address

    def listen_unix(self, path: str | Path) -> str:
        """Listen on a Unix socket at ``path`` (mode 0600; a stale socket file there is replaced)."""
        path = Path(path)
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise StyleError(f"{path} exists and is not a socket")
            if _socket_in_use(path):
                raise StyleError(f"{path}: another server is listening there")
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(path))
            os.chmod(path, 0o600)
        except OSError as error:
            sock.close()
            raise StyleError(f"cannot listen on {path}: {error.strerror}") from error
        self._unix_paths.append(path)
        address = f"unix:{path}"
        self._add_listener(sock, address)
        return address

    def _add_listener(self, sock: socket.socket, address: str) -> None:
        sock.listen(64)
        sock.setblocking(False)
        self._listeners.append((sock, address))
        self._selector.register(sock, selectors.EVENT_READ, address)

    @property
    def addresses(self) -> list[str]:
        """Where the server listens: ``HOST:PORT`` and ``unix:PATH`` strings, as clients take them."""
        return [address for _, address in self._listeners]

    # --- running ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start accepting clients (and reporting, if a stats interval was given); returns at once."""
        if not self._listeners:
            raise StyleError("the server listens nowhere: call listen_tcp or listen_unix first")
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._threads.append(threading.Thread(target=self._accept_loop, name="serve-accept", daemon=True))
        if self._stats_interval > 0:
            self._threads.append(threading.Thread(target=self._report_loop, name="serve-stats", daemon=True))
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        """Stop accepting, disconnect every client (telling it why), report the summary of each client not yet
        reported, and remove the Unix socket files."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake_w.send(b"x")
        for thread in self._threads:
            thread.join()
        for sock, _ in self._listeners:
            sock.close()
        for path in self._unix_paths:
            path.unlink(missing_ok=True)
        with self._lock:
            active = list(self._active)
        for connection in active:
            connection.shutdown()
        for connection in active:
            connection.join(_JOIN_TIMEOUT)
        for stats in self.clients():  # those whose connection has not ended by itself yet
            self._summarise(stats)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def clients(self) -> list[ClientStats]:
        """Statistics of every client that completed its handshake: finished ones first, then active ones."""
        with self._lock:
            active = sorted((c for c in self._active if c.welcomed), key=lambda c: c.number)
            return [*self._done, *(c.stats for c in active)]

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select():
                if key.data is None:
                    return
                self._accept(key.fileobj, key.data)  # type: ignore[arg-type]

    def _accept(self, listener: socket.socket, address: str) -> None:
        try:
            sock, peer = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._report(f"accept on {address} failed: {error.strerror}")
            return
        sock.setblocking(True)
        local = sock.family == socket.AF_UNIX
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            local = is_loopback(peer[0])
            peer = f"{peer[0]}:{peer[1]}"
        else:
            peer = "unix"
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):  # whole frames in one go (capped by the kernel)
                sock.setsockopt(socket.SOL_SOCKET, option, UNIX_BUFFER)
        with self._lock:
            busy = len(self._active) >= self.config.max_clients
            if not busy:
                self._count += 1
                connection = Connection(sock, peer, local, self._count, self._service)
                self._active.add(connection)
        if busy:
            _refuse(sock, f"the server already has {self.config.max_clients} clients")
            self._report(f"refused a client from {peer}: {self.config.max_clients} clients already")
            return
        connection.start()

    def _finished(self, connection: Connection) -> None:
        with self._lock:
            self._active.discard(connection)
            if connection.welcomed:
                self._done.append(connection.stats)
        if connection.welcomed:
            self._summarise(connection.stats)

    def _summarise(self, stats: ClientStats) -> None:
        """Report a client's summary line, once: when its connection ends or when the server closes, whichever
        comes first."""
        with self._lock:
            if stats.number not in self._summarised:
                self._summarised.add(stats.number)
                self._report(stats.summary_line())

    def _report_loop(self) -> None:
        while not self._stop.wait(self._stats_interval):
            with self._lock:
                active = sorted((c for c in self._active if c.welcomed), key=lambda c: c.number)
            for connection in active:
                self._report(connection.stats.interval_line())


def check_exposure(host: str, token: str) -> None:
    """Refuse to listen on anything but loopback without a token."""
    if not token and not is_loopback(host):
        raise StyleError(f"refusing to listen on {host} without a token: clients on other machines could use the "
                         f"server; give --token (or listen on 127.0.0.1)")


def _refuse(sock: socket.socket, message: str) -> None:
    try:
        send_parts(sock, [encode_error(ErrorMessage(ErrorCode.BUSY, message))], 0.5)
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _socket_in_use(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
