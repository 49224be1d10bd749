"""One client of a server: the handshake, a reader thread that validates each message and queues frames, and a
worker thread that stylizes them in order and sends the replies."""

from __future__ import annotations

import hmac
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from framestyle.errors import StyleError
from framestyle.kernels.warp import compose_motion
from framestyle.serve.config import ServerConfig
from framestyle.serve.pipeline import FrameJob, FrameProcessor, ProcessorFactory
from framestyle.serve.planes import Buffer, read_depth, read_motion, read_pixels, write_pixels
from framestyle.serve.protocol import (
    DEFAULT_STYLE,
    FRAME,
    MIN_VERSION,
    NO_SLOT,
    VERSION,
    Capability,
    Dropped,
    ErrorCode,
    ErrorMessage,
    FrameFlags,
    FrameHeader,
    MessageType,
    Mode,
    PlaneType,
    ProtocolError,
    ResultHeader,
    StyleEntry,
    Welcome,
    decode_frame_header,
    decode_hello,
    decode_nonce,
    encode_dropped,
    encode_error,
    encode_nonce,
    encode_result_header,
    encode_welcome,
    mix_weights,
)
from framestyle.serve.shm import SlotMemory, shm_available
from framestyle.serve.stats import ClientStats
from framestyle.serve.wire import PeerClosed, recv_bytes, recv_header, recv_into, send_parts

log = logging.getLogger(__name__)

_AFTER_HELLO = frozenset({MessageType.FRAME, MessageType.PING, MessageType.BYE})
#: How often a reader waiting for a message wakes to check for idleness.
_POLL = 0.5
#: How long a fatal error message may take to go out before the connection is cut.
_FAREWELL_TIMEOUT = 1.0
_PAGE = 4096


@dataclass(frozen=True)
class Service:
    """What every connection of a server shares."""

    styles: tuple[StyleEntry, ...]
    default_style: int
    processors: ProcessorFactory
    config: ServerConfig
    processing: threading.Semaphore
    capabilities: Capability
    report: Callable[[str], None]
    finished: Callable[[Connection], None]


@dataclass(eq=False)
class _Frame:
    header: FrameHeader
    body: Buffer
    received: float
    #: Backward motion from the frame before this one to the last frame given to the processor, when frames in
    #: between were dropped; ``chain_broken`` when one of them had no motion vectors.
    carry: np.ndarray | None = None
    chain_broken: bool = False
    reset: bool = False


@dataclass(eq=False)
class _Ping:
    nonce: int


@dataclass
class _State:
    queue: deque[_Frame | _Ping] = field(default_factory=deque)
    in_flight: int = 0
    busy_slots: set[int] = field(default_factory=set)
    draining: bool = False
    aborting: bool = False


def _drain(sock: socket.socket, deadline: float) -> None:
    scratch = bytearray(65536)
    for _ in range(64):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        sock.settimeout(remaining)
        if not sock.recv_into(scratch):
            return


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:64]


class Connection:
    """Serves one accepted socket on two threads; :meth:`start` returns at once."""

    def __init__(self, sock: socket.socket, peer: str, local: bool, number: int, service: Service) -> None:
        self.peer = peer
        self.number = number
        self.stats = ClientStats(number, "", peer)
        #: Whether the handshake succeeded (the client then appears in the server's reports).
        self.welcomed = False
        self._sock = sock
        self._wsock = sock.dup()
        self._local = local
        self._service = service
        self._config = service.config
        self._mode = Mode.ORDERED
        self._granted = 1
        self._shm: SlotMemory | None = None
        self._processor: FrameProcessor | None = None
        self._spare: list[np.ndarray] = []
        self._reply: np.ndarray | None = None
        self._state = _State()
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._dead = False
        self._last_activity = time.monotonic()
        self._reader = threading.Thread(target=self._run, name=f"serve-client-{number}", daemon=True)
        self._worker = threading.Thread(target=self._work, name=f"serve-worker-{number}", daemon=True)

    def start(self) -> None:
        self._reader.start()

    def join(self, timeout: float) -> None:
        self._reader.join(timeout)

    def shutdown(self) -> None:
        """Stop at once (server shutdown): tell the client, drop queued frames, close the socket."""
        self._abort()
        self._send([encode_error(ErrorMessage(ErrorCode.SHUTTING_DOWN, "the server is shutting down"))],
                   _FAREWELL_TIMEOUT)
        self._cut()

    # --- reader thread ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._handshake()
            self._worker.start()
            self._read_messages()
        except ProtocolError as error:
            self._fail(error.code, str(error))
        except TimeoutError as error:
            self._fail(ErrorCode.TIMEOUT, str(error) or "timed out")
        except PeerClosed as error:
            if not error.clean:
                self._abort()
        except OSError:
            self._abort()
        except Exception:
            log.exception("%s: internal error", self.stats.label)
            self._fail(ErrorCode.INTERNAL, "internal server error")
        finally:
            self._finish()

    def _handshake(self) -> None:
        config = self._config
        deadline = time.monotonic() + config.handshake_timeout
        header = recv_header(self._sock, frozenset({MessageType.HELLO}), config.limits, config.handshake_timeout,
                             max(deadline - time.monotonic(), 0.001))
        if header is None:
            raise TimeoutError(f"no HELLO within {config.handshake_timeout:g} s")
        hello = decode_hello(recv_bytes(self._sock, header[1], deadline))
        version = min(VERSION, hello.max_version)
        if version < max(MIN_VERSION, hello.min_version):
            raise ProtocolError(ErrorCode.UNSUPPORTED_VERSION, f"the server speaks protocol versions {MIN_VERSION}.."
                                                               f"{VERSION}, the client {hello.min_version}.."
                                                               f"{hello.max_version}")
        if config.token and not hmac.compare_digest(hello.token.encode("utf-8"), config.token.encode("utf-8")):
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "wrong or missing token")
        self.stats = ClientStats(self.number, _printable(hello.name), self.peer)
        self._mode = hello.mode
        self._granted = min(hello.in_flight, config.max_in_flight)
        if hello.shared_memory and config.shared_memory and self._local and shm_available():
            if hello.slot_bytes > config.limits.max_body:
                raise ProtocolError(ErrorCode.TOO_LARGE, f"slots of {hello.slot_bytes} bytes exceed the largest "
                                                         f"frame body, {config.limits.max_body}")
            try:
                self._shm = SlotMemory.create(self._granted, -(-hello.slot_bytes // _PAGE) * _PAGE)
            except OSError as error:  # the client is told by WELCOME and sends its frames on the socket
                self._service.report(f"{self.stats.label}: no shared memory: {error.strerror}")
        self._processor = self._service.processors()
        welcome = Welcome(
            version=version, mode=self._mode, in_flight=self._granted, capabilities=self._service.capabilities,
            limits=config.limits, styles=self._service.styles, default_style=self._service.default_style,
            shm_name=self._shm.name if self._shm else "", shm_slots=self._shm.slots if self._shm else 0,
            shm_slot_bytes=self._shm.slot_bytes if self._shm else 0, server=f"framestyle protocol {VERSION}")
        if not self._send([encode_welcome(welcome)], config.message_timeout):
            raise PeerClosed(clean=False)
        self.welcomed = True
        transport = "shared memory" if self._shm else "socket"
        self._service.report(f"{self.stats.label}: connected ({self._mode.name.lower()}, {self._granted} in flight, "
                             f"{transport})")

    def _read_messages(self) -> None:
        config = self._config
        while True:
            header = recv_header(self._sock, _AFTER_HELLO, config.limits, _POLL, config.message_timeout)
            if header is None:
                with self._cond:
                    if self._state.aborting:
                        return
                    idle = self._state.in_flight == 0
                if idle and time.monotonic() - self._last_activity > config.idle_timeout:
                    raise TimeoutError(f"idle for more than {config.idle_timeout:g} s")
                continue
            kind, length = header
            deadline = time.monotonic() + config.message_timeout
            self._last_activity = time.monotonic()
            if kind == MessageType.BYE:
                if length:
                    raise ProtocolError(ErrorCode.MALFORMED, "BYE has no payload")
                return
            self._admit()
            if kind == MessageType.PING:
                self._enqueue(_Ping(decode_nonce(recv_bytes(self._sock, length, deadline), kind)))
            else:
                self._enqueue(self._receive_frame(length, deadline))

    def _admit(self) -> None:
        with self._cond:
            if self._state.in_flight >= self._granted:
                raise ProtocolError(ErrorCode.TOO_MANY_IN_FLIGHT, f"more than {self._granted} frames in flight")

    def _receive_frame(self, length: int, deadline: float) -> _Frame:
        def read_mix(size: int) -> bytes:
            return recv_bytes(self._sock, size, deadline)

        mixes = bool(self._service.capabilities & Capability.STYLE_MIX)
        header = decode_frame_header(recv_bytes(self._sock, FRAME.size, deadline), length, self._config.limits,
                                     read_mix if mixes else None)
        for style in (header.style, *(index for index, _ in header.mix)):
            if style != DEFAULT_STYLE and style >= len(self._service.styles):
                raise ProtocolError(ErrorCode.UNKNOWN_STYLE, f"style {style} is not one of the "
                                                             f"{len(self._service.styles)} listed")
        if header.slot == NO_SLOT:
            body = self._buffer(header.body_length)
            recv_into(self._sock, memoryview(body), deadline)
            return _Frame(header, body, time.monotonic())
        if self._shm is None:
            raise ProtocolError(ErrorCode.BAD_SLOT, "a frame names a shared-memory slot, but none was granted")
        if header.slot >= self._shm.slots:
            raise ProtocolError(ErrorCode.BAD_SLOT, f"slot {header.slot} is outside 0..{self._shm.slots - 1}")
        if header.layout.total > self._shm.slot_bytes:
            raise ProtocolError(ErrorCode.TOO_LARGE, f"frame body of {header.layout.total} bytes exceeds the "
                                                     f"{self._shm.slot_bytes}-byte slot")
        with self._cond:
            if header.slot in self._state.busy_slots:
                raise ProtocolError(ErrorCode.BAD_SLOT, f"slot {header.slot} is still in use by an earlier frame")
            self._state.busy_slots.add(header.slot)
        return _Frame(header, self._shm.slot(header.slot), time.monotonic())

    def _enqueue(self, item: _Frame | _Ping) -> None:
        superseded = None
        with self._cond:
            self._state.in_flight += 1
            if isinstance(item, _Frame) and self._mode == Mode.LATEST:
                superseded = next((old for old in reversed(self._state.queue) if isinstance(old, _Frame)), None)
                if superseded is not None:
                    self._state.queue.remove(superseded)
        if superseded is not None:
            self._chain(superseded, item)  # type: ignore[arg-type]
            self._release(superseded)
            self._send([encode_dropped(Dropped(superseded.header.frame_id, superseded.header.timestamp,
                                               superseded.header.slot))], self._config.message_timeout)
            self.stats.record_drop()
        with self._cond:
            self._state.queue.append(item)
            self._cond.notify_all()

    def _buffer(self, size: int) -> np.ndarray:
        """A receive buffer of ``size`` bytes, reused when one is free (big fresh allocations fault in every page)."""
        with self._cond:
            for index, buffer in enumerate(self._spare):
                if buffer.size == size:
                    return self._spare.pop(index)
        return np.empty(size, np.uint8)

    @staticmethod
    def _chain(dropped: _Frame, frame: _Frame) -> None:
        """Carry what a dropped frame meant for the history over to the frame that superseded it."""
        frame.reset = dropped.reset or bool(dropped.header.flags & FrameFlags.RESET)
        if dropped.chain_broken or dropped.header.motion == PlaneType.NONE:
            frame.chain_broken = True
            return
        motion = read_motion(dropped.body, dropped.header)
        frame.carry = motion if dropped.carry is None else compose_motion(motion, dropped.carry)

    # --- worker thread ------------------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._state.queue and not (self._state.draining or self._state.aborting):
                    self._cond.wait()
                if self._state.aborting or not self._state.queue:
                    return
                item = self._state.queue.popleft()
            if isinstance(item, _Ping):
                self._send([encode_nonce(MessageType.PONG, item.nonce)], self._config.message_timeout)
                self._release(None)
            else:
                self._answer(item)

    def _answer(self, frame: _Frame) -> None:
        header = frame.header
        started = time.monotonic()
        try:
            with self._service.processing:
                parts = self._stylize(frame, started)
            stylized = True
        except Exception as error:
            if not isinstance(error, StyleError):
                log.exception("%s: frame %d failed", self.stats.label, header.frame_id)
            parts = [encode_error(ErrorMessage(ErrorCode.PROCESSING_FAILED, str(error) or type(error).__name__,
                                               fatal=False, frame_id=header.frame_id, slot=header.slot))]
            stylized = False
        self._release(frame)
        if not self._send(parts, self._config.message_timeout):
            return
        if stylized:
            self.stats.record(time.monotonic() - frame.received)
        else:
            self.stats.record_failure()

    def _stylize(self, frame: _Frame, started: float) -> list[Buffer]:
        header, body = frame.header, frame.body
        rgb, alpha = read_pixels(body, header)
        motion = read_motion(body, header) if header.motion != PlaneType.NONE else None
        depth = read_depth(body, header) if header.depth != PlaneType.NONE else None
        if frame.chain_broken:
            motion = depth = None
        elif motion is not None and frame.carry is not None:
            motion = compose_motion(motion, frame.carry)
        styles = self._service.styles
        style = self._service.default_style if header.style == DEFAULT_STYLE else header.style
        job = FrameJob(rgb=rgb, style=styles[style].name, strength=header.strength,
                       temporal=bool(header.flags & FrameFlags.TEMPORAL),
                       reset=frame.reset or bool(header.flags & FrameFlags.RESET),
                       preserve_color=bool(header.flags & FrameFlags.PRESERVE_COLOR), motion=motion, depth=depth,
                       mix=tuple((styles[index].name, weight) for index, weight in mix_weights(header.mix)))
        assert self._processor is not None
        output = self._processor(job)
        if not isinstance(output, np.ndarray) or output.shape != rgb.shape or output.dtype != np.uint8:
            raise TypeError(f"the frame processor returned {getattr(output, 'dtype', type(output).__name__)} "
                            f"{getattr(output, 'shape', '')} for a {rgb.shape} uint8 frame")
        inline = header.slot == NO_SLOT
        if inline and (self._reply is None or self._reply.size != header.stride * header.height):
            self._reply = np.zeros(header.stride * header.height, np.uint8)  # reused: sent before the next frame
        out: Buffer = self._reply if inline else body
        write_pixels(out, output, alpha, header.width, header.height, header.stride, header.pixel_format,
                     header.origin)
        result = ResultHeader(header.frame_id, header.timestamp, header.width, header.height, header.stride,
                              header.pixel_format, header.origin, DEFAULT_STYLE if header.mix else style,
                              header.slot,
                              queue_us=round((started - frame.received) * 1e6),
                              process_us=round((time.monotonic() - started) * 1e6))
        return [encode_result_header(result), out] if inline else [encode_result_header(result)]

    # --- both threads -------------------------------------------------------------------------------------------

    def _release(self, frame: _Frame | None) -> None:
        """A frame or ping has its reply: it no longer counts in flight, and its slot is free once sent."""
        with self._cond:
            self._state.in_flight -= 1
            if frame is not None:
                self._state.busy_slots.discard(frame.header.slot)
                if isinstance(frame.body, np.ndarray) and len(self._spare) <= self._granted:
                    self._spare.append(frame.body)
                frame.body = b""
                frame.carry = None

    def _send(self, parts: Sequence[Buffer], timeout: float) -> bool:
        if not self._send_lock.acquire(timeout=timeout):
            return False
        try:
            if self._dead:
                return False
            send_parts(self._wsock, parts, timeout)
        except OSError:  # includes TimeoutError: a client that does not take its replies is cut off
            self._dead = True
            self._abort()
            self._cut()
            return False
        finally:
            self._send_lock.release()
        self._last_activity = time.monotonic()
        return True

    def _fail(self, code: ErrorCode, message: str) -> None:
        """Send a fatal error and close, reading (and discarding) what the client still sends for a moment so
        that the error is not lost to a connection reset."""
        self._service.report(f"{self.stats.label}: closing: {message}")
        self._abort()
        if self._send([encode_error(ErrorMessage(code, message))], _FAREWELL_TIMEOUT):
            try:
                self._sock.shutdown(socket.SHUT_WR)
                _drain(self._sock, time.monotonic() + _FAREWELL_TIMEOUT)
            except OSError:
                pass
        self._cut()

    def _abort(self) -> None:
        with self._cond:
            self._state.aborting = True
            self._state.queue.clear()
            self._cond.notify_all()

    def _cut(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _finish(self) -> None:
        with self._cond:
            self._state.draining = True
            self._cond.notify_all()
        if self._worker.is_alive():
            self._worker.join()
        self._cut()
        self._sock.close()
        self._wsock.close()
        if self._shm is not None:
            self._shm.close()
        self._processor = None
        self.stats.finish()
        self._service.finished(self)
