"""The settings of a server: size limits, client and in-flight caps, timeouts, token, worker count."""

from __future__ import annotations

from dataclasses import dataclass, field

from framestyle.errors import StyleError
from framestyle.serve.protocol import Limits


@dataclass(frozen=True)
class ServerConfig:
    """How a server treats its clients.

    Args:
        limits: the largest frame accepted (every header is checked against it before anything is allocated).
        token: a secret every client must present in its HELLO ("" for none; required off loopback).
        max_clients: connections served at once; more are refused with BUSY.
        max_in_flight: the most frames a client may have sent without having their replies.
        workers: frames stylized at once across all clients.
        idle_timeout: seconds a client may stay silent while it is owed no reply.
        message_timeout: seconds a message may take to arrive once begun, and a reply to be taken.
        handshake_timeout: seconds from connecting to a complete HELLO.
        shared_memory: offer shared-memory slots to clients on this machine.
    """

    limits: Limits = field(default_factory=Limits)
    token: str = ""
    max_clients: int = 16
    max_in_flight: int = 8
    workers: int = 2
    idle_timeout: float = 60.0
    message_timeout: float = 10.0
    handshake_timeout: float = 5.0
    shared_memory: bool = True

    def __post_init__(self) -> None:
        for name, low, high in (("max_clients", 1, 4096), ("max_in_flight", 1, 1024), ("workers", 1, 256)):
            if not low <= getattr(self, name) <= high:
                raise StyleError(f"{name.replace('_', ' ')} must be {low}..{high}, got {getattr(self, name)}")
        for name in ("idle_timeout", "message_timeout", "handshake_timeout"):
            if not getattr(self, name) > 0:
                raise StyleError(f"{name.replace('_', ' ')} must be positive, got {getattr(self, name)}")
        if len(self.token.encode("utf-8")) > 255:
            raise StyleError("the token must be at most 255 bytes")
