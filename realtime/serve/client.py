"""A Python client for ``stylize serve``: connect, see the styles, send frames (several in flight, over the socket
or through shared memory) and receive the stylized frames.

    with Client("unix:/tmp/framestyle.sock") as client:
        stylized = client.stylize(frame)                 # one frame, synchronously
        client.submit(frame, motion=mv, depth=depth)     # pipelined: submit several, then
        reply = client.receive()                         # Result, Dropped or ErrorMessage, in order
        client.stylize(frame, mix=[("red", 0.7), ("blue", 0.3)])  # a mix of styles of one shared network
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from framestyle.errors import StyleError
from framestyle.serve.planes import pixel_view, write_body
from framestyle.serve.protocol import (
    DEFAULT_STYLE,
    NO_SLOT,
    RESULT,
    SERVER_MESSAGES,
    Capability,
    Dropped,
    ErrorCode,
    ErrorMessage,
    FrameFlags,
    FrameHeader,
    Hello,
    Limits,
    MessageType,
    Mode,
    Origin,
    PixelFormat,
    PlaneType,
    ProtocolError,
    ResultHeader,
    Welcome,
    check_frame_header,
    decode_dropped,
    decode_error,
    decode_nonce,
    decode_result_header,
    decode_welcome,
    encode_bye,
    encode_frame_header,
    encode_hello,
    encode_nonce,
)
from framestyle.serve.shm import SlotMemory
from framestyle.serve.wire import UNIX_BUFFER, parse_address, recv_bytes, recv_header, recv_into, send_parts

#: Limits the client holds the server's messages to before the handshake tells it the server's own.
_CLIENT_LIMITS = Limits(16384, 16384, 16384 * 16384)


class ServerError(StyleError, ConnectionError):
    """The server sent a fatal error (the connection is closed); ``code`` is its :class:`ErrorCode`."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"server error {code.name}: {message}")
        self.code = code


@dataclass(frozen=True)
class Result:
    """A stylized frame: ``image`` is (H, W, C) uint8 in the pixel format and row order the frame was sent in;
    ``style`` the name of its style, or for a mix ``name=weight,...`` as sent."""

    frame_id: int
    timestamp: int
    image: np.ndarray
    style: str
    queue_us: int
    process_us: int


#: What :meth:`Client.receive` returns for each frame: its result, the news that it was dropped (latest-wins
#: mode), or a non-fatal error about it.
Reply = Result | Dropped | ErrorMessage


def _plane(values: np.ndarray | None, shape: tuple[int, ...], what: str) -> tuple[np.ndarray | None, PlaneType]:
    if values is None:
        return None, PlaneType.NONE
    if values.shape != shape:
        raise StyleError(f"{what} must have shape {shape}, got {values.shape}")
    if values.dtype == np.float16:
        return values, PlaneType.FLOAT16
    return values.astype(np.float32, copy=False), PlaneType.FLOAT32


class Client:
    """A connection to a frame server.

    Args:
        address: ``HOST:PORT`` or ``unix:PATH``.
        token: the server's token, if it has one.
        mode: ``Mode.ORDERED`` (every frame stylized) or ``Mode.LATEST`` (frames superseded while waiting are
            dropped and reported as :class:`Dropped`).
        in_flight: frames to keep in flight at most (the server may grant fewer; see :attr:`in_flight`).
        shared_memory: put frames in shared memory (same machine only; falls back to the socket when refused).
        slot_bytes: the largest frame body to be sent through shared memory (required with it): for RGBA with
            float32 motion and depth, ``width * height * 16 + 32``.
        name: shown in the server's reports.
        timeout: seconds to connect, and to wait for a reply.
    """

    def __init__(self, address: str, *, token: str = "", mode: Mode = Mode.ORDERED, in_flight: int = 4,
                 shared_memory: bool = False, slot_bytes: int = 0, name: str = "framestyle-python",
                 timeout: float = 30.0) -> None:
        if not 1 <= in_flight <= 1024:
            raise StyleError(f"in_flight must be 1..1024, got {in_flight}")
        if shared_memory and slot_bytes <= 0:
            raise StyleError("shared memory needs slot_bytes: the largest frame body to be sent")
        self.timeout = timeout
        self._sock = _connect(address, timeout)
        self._pending: dict[int, FrameHeader] = {}
        self._ready: list[Reply] = []
        self._ids = itertools.count(1)
        self._shm: SlotMemory | None = None
        self._body = np.zeros(0, np.uint8)
        try:
            hello = Hello(mode=Mode(mode), in_flight=in_flight, shared_memory=shared_memory,
                          slot_bytes=slot_bytes if shared_memory else 0, token=token, name=name)
            send_parts(self._sock, [encode_hello(hello)], timeout)
            self.welcome = self._read_welcome()
            if self.welcome.shared_memory:
                self._shm = SlotMemory.attach(self.welcome.shm_name, self.welcome.shm_slots,
                                              self.welcome.shm_slot_bytes)
        except BaseException:
            self._sock.close()
            raise
        self._free_slots = list(range(self._shm.slots)) if self._shm else []

    @property
    def styles(self) -> list[str]:
        """The names of the styles the server offers, in its order (frames may name one)."""
        return [entry.name for entry in self.welcome.styles]

    @property
    def in_flight(self) -> int:
        """The most frames this client may have sent without their replies (as granted by the server)."""
        return self.welcome.in_flight

    @property
    def shared_memory(self) -> bool:
        """Whether frames go through shared memory."""
        return self._shm is not None

    @property
    def style_mix(self) -> bool:
        """Whether the server takes a mix of styles with each frame (``submit(mix=...)``)."""
        return bool(self.welcome.capabilities & Capability.STYLE_MIX)

    @property
    def pending(self) -> int:
        """Frames sent whose replies have not been returned by :meth:`receive` yet."""
        return len(self._pending) + len(self._ready)

    def submit(self, image: np.ndarray, *, pixel_format: PixelFormat | None = None,
               origin: Origin = Origin.TOP_DOWN, motion: np.ndarray | None = None, depth: np.ndarray | None = None,
               motion_scale: tuple[float, float] = (1.0, 1.0), style: str | int | None = None,
               strength: float = 1.0, temporal: bool = True, reset: bool = False, preserve_color: bool = False,
               timestamp: int | None = None, mix: Sequence[tuple[str | int, float]] = ()) -> int:
        """Send one frame and return its frame id; waits only while :attr:`in_flight` frames await replies.

        ``image`` is (H, W, 3) or (H, W, 4) uint8, in ``pixel_format`` (default RGB8 or RGBA8 by channel count),
        rows in ``origin`` order. ``motion`` (H, W, 2) and ``depth`` (H, W) float16 or float32 follow the
        conventions of docs/protocol.md (backward motion in pixels times ``motion_scale``; linear depth).
        ``mix``: up to four (style name or index, weight) pairs, in place of ``style``, for a server that takes
        style mixes (:attr:`style_mix`); the weights are scaled to sum to 1 by the server.
        """
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
            raise StyleError(f"expected an (H, W, 3) or (H, W, 4) uint8 image, got {image.dtype} {image.shape}")
        height, width, channels = image.shape
        pixel_format = pixel_format or (PixelFormat.RGBA8 if channels == 4 else PixelFormat.RGB8)
        if pixel_format.channels != channels:
            raise StyleError(f"{pixel_format.name} has {pixel_format.channels} channels, the image {channels}")
        motion, motion_type = _plane(motion, (height, width, 2), "motion")
        depth, depth_type = _plane(depth, (height, width), "depth")
        while len(self._pending) >= self.in_flight:
            self._ready.append(self._read_reply(time.monotonic() + self.timeout))
        flags = ((FrameFlags.TEMPORAL if temporal else 0) | (FrameFlags.RESET if reset else 0)
                 | (FrameFlags.PRESERVE_COLOR if preserve_color else 0))
        frame_id = next(self._ids)
        header = FrameHeader(
            frame_id=frame_id, width=width, height=height, pixel_format=pixel_format,
            timestamp=time.monotonic_ns() // 1000 if timestamp is None else timestamp, origin=origin,
            motion=motion_type, depth=depth_type, style=self._style_index(style), flags=FrameFlags(flags),
            strength=strength, motion_scale=motion_scale, slot=self._free_slots[-1] if self._shm else NO_SLOT,
            mix=self._mix(mix, style))
        check_frame_header(header, self.welcome.limits)
        if self._shm is not None:
            if header.layout.total > self._shm.slot_bytes:
                raise StyleError(f"a {width}x{height} frame needs {header.layout.total} bytes; the shared memory "
                                 f"slots have {self._shm.slot_bytes} (connect with a larger slot_bytes)")
            write_body(self._shm.slot(self._free_slots.pop()), header, image, motion, depth)
            parts: list[bytes | np.ndarray] = [encode_frame_header(header)]
        else:
            if self._body.size != header.layout.total:
                self._body = np.zeros(header.layout.total, np.uint8)  # reused: sent before submit returns
            write_body(self._body, header, image, motion, depth)
            parts = [encode_frame_header(header), self._body]
        self._pending[frame_id] = header
        send_parts(self._sock, parts, self.timeout)
        return frame_id

    def receive(self, timeout: float | None = None) -> Reply | None:
        """The next reply: a :class:`Result`, :class:`Dropped` or non-fatal :class:`ErrorMessage`, or None if none
        came within ``timeout`` seconds (default: the client's timeout). Raises :class:`ServerError` on a fatal
        error."""
        if self._ready:
            return self._ready.pop(0)
        if not self._pending:
            raise StyleError("no frame is awaiting a reply")
        return self._read_reply(time.monotonic() + (self.timeout if timeout is None else timeout), wait=True)

    def stylize(self, image: np.ndarray, **controls: object) -> np.ndarray:
        """Send one frame and wait for its stylized image (same shape and format); see :meth:`submit`."""
        frame_id = self.submit(image, **controls)  # type: ignore[arg-type]
        while True:
            reply = self.receive()
            if reply is None:
                raise TimeoutError(f"no reply from the server within {self.timeout:g} s")
            if reply.frame_id != frame_id:
                continue
            if isinstance(reply, Result):
                return reply.image
            raise StyleError(f"frame {frame_id} was not stylized: {getattr(reply, 'message', 'dropped')}")

    def ping(self) -> float:
        """Seconds for a PING to come back; it comes after the replies to every frame sent before it, which
        :meth:`receive` then returns."""
        while len(self._pending) >= self.in_flight:
            self._ready.append(self._read_reply(time.monotonic() + self.timeout))
        nonce = next(self._ids)
        start = time.perf_counter()
        send_parts(self._sock, [encode_nonce(MessageType.PING, nonce)], self.timeout)
        while True:
            reply = self._read_message(time.monotonic() + self.timeout)
            if isinstance(reply, int):
                if reply != nonce:
                    raise ProtocolError(ErrorCode.MALFORMED, f"PONG {reply} does not answer PING {nonce}")
                return time.perf_counter() - start
            self._ready.append(reply)

    def close(self) -> None:
        """Say goodbye and close the connection (replies not yet received are lost)."""
        try:
            send_parts(self._sock, [encode_bye()], 1.0)
        except OSError:
            pass
        self._sock.close()
        if self._shm is not None:
            self._shm.close()
            self._shm = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ----------------------------------------------------------------------------------------------

    def _style_index(self, style: str | int | None) -> int:
        if style is None:
            return DEFAULT_STYLE
        if isinstance(style, int):
            if not 0 <= style < len(self.welcome.styles):
                raise StyleError(f"style index {style} is outside 0..{len(self.welcome.styles) - 1}")
            return style
        if style not in self.styles:
            raise StyleError(f"the server has no style {style!r}; it has: {', '.join(self.styles)}")
        return self.styles.index(style)

    def _mix(self, mix: Sequence[tuple[str | int, float]], style: str | int | None) -> tuple[tuple[int, float], ...]:
        """A frame's style mix as (style index, weight) pairs (checked further with the rest of the header)."""
        if not mix:
            return ()
        if not self.style_mix:
            raise StyleError("the server does not take style mixes")
        if style is not None:
            raise StyleError("give a frame a style or a mix, not both")
        return tuple((self._style_index(name), float(weight)) for name, weight in mix)

    def _read_welcome(self) -> Welcome:
        header = recv_header(self._sock, frozenset({MessageType.WELCOME, MessageType.ERROR}), _CLIENT_LIMITS,
                             self.timeout, self.timeout)
        if header is None:
            raise TimeoutError(f"no answer to HELLO within {self.timeout:g} s")
        payload = recv_bytes(self._sock, header[1], time.monotonic() + self.timeout)
        if header[0] == MessageType.ERROR:
            error = decode_error(payload)
            raise ServerError(error.code, error.message)
        return decode_welcome(payload)

    def _read_reply(self, deadline: float, wait: bool = False) -> Reply | None:  # type: ignore[return]
        while True:
            message = self._read_message(deadline, wait)
            if message is None or not isinstance(message, int):
                return message
            raise ProtocolError(ErrorCode.UNEXPECTED, "a PONG came with no PING outstanding")

    def _read_message(self, deadline: float, wait: bool = False) -> Reply | int | None:
        """The next message from the server; None only if ``wait`` and nothing arrived by ``deadline``."""
        try:
            header = recv_header(self._sock, SERVER_MESSAGES, self.welcome.limits,
                                 max(0.0, deadline - time.monotonic()), self.timeout)
            if header is None:
                if wait:
                    return None
                raise TimeoutError(f"no reply from the server within {self.timeout:g} s")
            kind, length = header
            message_deadline = time.monotonic() + self.timeout
            if kind == MessageType.RESULT:
                return self._read_result(length, message_deadline)
            payload = recv_bytes(self._sock, length, message_deadline)
        except BaseException:
            self._sock.close()
            raise
        if kind == MessageType.PONG:
            return decode_nonce(payload, kind)
        if kind == MessageType.DROPPED:
            dropped = decode_dropped(payload)
            self._settle(dropped.frame_id, dropped.slot, kind)
            return dropped
        if kind == MessageType.ERROR:
            error = decode_error(payload)
            if error.fatal or error.frame_id is None:
                self._sock.close()
                raise ServerError(error.code, error.message)
            self._settle(error.frame_id, error.slot, kind)
            return error
        raise ProtocolError(ErrorCode.UNEXPECTED, f"unexpected {kind.name} from the server")

    def _read_result(self, length: int, deadline: float) -> Result:
        result = decode_result_header(recv_bytes(self._sock, RESULT.size, deadline), length, self.welcome.limits)
        sent = self._settle(result.frame_id, result.slot, MessageType.RESULT)
        if (result.width, result.height, result.stride, result.pixel_format) != (
                sent.width, sent.height, sent.stride, sent.pixel_format):
            raise ProtocolError(ErrorCode.MALFORMED, f"the result of frame {result.frame_id} does not match it")
        if result.slot == NO_SLOT:
            body = np.empty(result.body_length, np.uint8)
            recv_into(self._sock, memoryview(body), deadline)
            image = pixel_view(body, result.width, result.height, result.stride, result.pixel_format)
        else:
            assert self._shm is not None
            image = pixel_view(self._shm.slot(result.slot), result.width, result.height, result.stride,
                               result.pixel_format).copy()
            self._free_slots.append(result.slot)
        return _result(result, image, self.welcome, sent.mix)

    def _settle(self, frame_id: int, slot: int, kind: MessageType) -> FrameHeader:
        """Take a frame off the pending list, freeing its slot unless the caller still has to read the result from
        it. Replies come in frame order, except that a DROPPED may overtake the RESULT of an earlier frame."""
        sent = self._pending.get(frame_id)
        if sent is None:
            raise ProtocolError(ErrorCode.MALFORMED, f"a reply to frame {frame_id}, which is not in flight")
        if frame_id != next(iter(self._pending)) and kind != MessageType.DROPPED:
            raise ProtocolError(ErrorCode.MALFORMED, f"the reply to frame {frame_id} came out of order")
        if slot != sent.slot:
            raise ProtocolError(ErrorCode.MALFORMED, f"the reply to frame {frame_id} names slot {slot}")
        del self._pending[frame_id]
        if sent.slot != NO_SLOT and kind != MessageType.RESULT:
            self._free_slots.append(sent.slot)
        return sent


def _result(header: ResultHeader, image: np.ndarray, welcome: Welcome, mix: tuple[tuple[int, float], ...]) -> Result:
    if mix:
        style = ",".join(f"{welcome.styles[index].name}={weight:g}" for index, weight in mix)
    else:
        style = welcome.styles[header.style].name if header.style < len(welcome.styles) else ""
    return Result(header.frame_id, header.timestamp, image, style, header.queue_us, header.process_us)


def _connect(address: str, timeout: float) -> socket.socket:
    kind, target = parse_address(address)
    try:
        if kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, UNIX_BUFFER)
            sock.settimeout(timeout)
            try:
                sock.connect(target)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection(target, timeout=timeout)  # type: ignore[arg-type]
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as error:
        raise StyleError(f"cannot connect to {address}: {error.strerror or error}") from error
    return sock
