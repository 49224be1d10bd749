"""Messages on a stream socket: exact reads against a deadline, header reads that tell idleness from a slow peer,
whole-message sends, and the ``HOST:PORT`` / ``unix:PATH`` address syntax."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Sequence

from framestyle.errors import StyleError
from framestyle.serve.protocol import HEADER, Limits, MessageType, decode_header

Buffer = bytes | bytearray | memoryview
#: Socket buffer both ends ask for on Unix-socket connections: the default, about 200 KiB, splits a frame into many
#: system calls (the kernel caps the request at its maximum).
UNIX_BUFFER = 4 << 20


class PeerClosed(ConnectionError):
    """The peer closed the connection (between messages when ``clean``)."""

    def __init__(self, clean: bool) -> None:
        super().__init__("the peer closed the connection" + ("" if clean else " in the middle of a message"))
        self.clean = clean


def recv_into(sock: socket.socket, buffer: memoryview, deadline: float) -> None:
    """Fill ``buffer`` from ``sock`` by ``deadline`` (a :func:`time.monotonic` time); TimeoutError past it."""
    while buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the peer is too slow: a message did not arrive in time")
        sock.settimeout(remaining)
        received = sock.recv_into(buffer)
        if received == 0:
            raise PeerClosed(clean=False)
        buffer = buffer[received:]


def recv_bytes(sock: socket.socket, size: int, deadline: float) -> bytes:
    """Exactly ``size`` bytes from ``sock`` by ``deadline``."""
    data = bytearray(size)
    recv_into(sock, memoryview(data), deadline)
    return bytes(data)


def recv_header(sock: socket.socket, allowed: frozenset[MessageType], limits: Limits, wait: float | None,
                message_timeout: float) -> tuple[MessageType, int] | None:
    """The next message's type and payload length, or None if no byte of it arrived within ``wait`` seconds
    (None: wait forever). Once its first byte is in, the whole header must arrive within ``message_timeout``."""
    data = bytearray(HEADER.size)
    view = memoryview(data)
    sock.settimeout(wait)
    try:
        received = sock.recv_into(view)
    except (TimeoutError, BlockingIOError):
        return None
    if received == 0:
        raise PeerClosed(clean=True)
    recv_into(sock, view[received:], time.monotonic() + message_timeout)
    return decode_header(bytes(data), allowed, limits)


def send_parts(sock: socket.socket, parts: Sequence[Buffer], timeout: float) -> None:
    """Send ``parts`` as one message (scatter-gather), all of it within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    views = [memoryview(part).cast("B") for part in parts if len(part)]
    while views:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the peer is too slow: it does not take its replies")
        sock.settimeout(remaining)
        sent = sock.sendmsg(views[:64])
        while sent and views:
            if sent >= len(views[0]):
                sent -= len(views.pop(0))
            else:
                views[0] = views[0][sent:]
                sent = 0


def parse_address(address: str) -> tuple[str, str | tuple[str, int]]:
    """``("unix", path)`` for ``unix:PATH``, ``("tcp", (host, port))`` for ``HOST:PORT`` or ``[IPv6]:PORT``."""
    if address.startswith("unix:"):
        path = address[len("unix:"):]
        if not path:
            raise StyleError(f"{address!r}: give a socket path after 'unix:'")
        return "unix", path
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise StyleError(f"{address!r} is not an address: give HOST:PORT or unix:PATH")
    return "tcp", (host.strip("[]"), int(port))


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` resolves to is a loopback address (127.0.0.0/8, ::1)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise StyleError(f"cannot resolve host {host!r}: {error.strerror}") from error
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)
