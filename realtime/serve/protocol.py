"""The ``stylize serve`` wire protocol, version 1: framing, the messages as dataclasses, and pure encode and decode
functions that check every field of a header before anything is allocated for what follows it.

docs/protocol.md is the specification; this module follows it field for field. All integers are little-endian.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import IntEnum, IntFlag
from typing import TypeVar

from framestyle.errors import StyleError

MAGIC = b"FSTY"
#: The protocol versions this implementation speaks.
VERSION = 1
MIN_VERSION = 1

#: Every message: magic, message type, flags (0), payload length in bytes.
HEADER = struct.Struct("<4sHHI")
HELLO = struct.Struct("<HHHHHHHHI")
WELCOME = struct.Struct("<HHHHIIIIIHHHHHH")
FRAME = struct.Struct("<QQIIIBBBBHHfffII")
RESULT = struct.Struct("<QQIIIBBHIIII")
DROPPED = struct.Struct("<QQIHH")
ERROR = struct.Struct("<HHIQ")
NONCE = struct.Struct("<Q")
TEXT_LENGTH = struct.Struct("<H")
#: The style-mix block of a FRAME with the MIX flag: entry count and reserved, then the entries.
MIX_HEAD = struct.Struct("<HH")
#: One entry of a style mix: style index, reserved, weight.
MIX_ENTRY = struct.Struct("<HHf")

#: ``slot`` of a frame whose planes follow its header on the socket (not in shared memory).
NO_SLOT = 0xFFFFFFFF
#: ``style`` of a frame that takes the server's default style.
DEFAULT_STYLE = 0xFFFF
#: Longest token, client name, style name or style title, in UTF-8 bytes.
MAX_TEXT = 255
#: Longest error message, in UTF-8 bytes.
MAX_ERROR_TEXT = 1024
#: Most styles a server lists.
MAX_STYLES = 1024
#: Most styles in one frame's style mix.
MAX_MIX = 4
#: Longest style-mix block.
MAX_MIX_BLOCK = MIX_HEAD.size + MAX_MIX * MIX_ENTRY.size
#: The largest finite f32 (a larger mix weight cannot be sent).
F32_MAX = 3.4028234663852886e38
#: Planes after the first start at a multiple of this many bytes from the start of the frame's body.
PLANE_ALIGN = 16
#: A pixel row may carry fewer than this many padding bytes (D3D12 read-backs pad rows to 256 bytes).
MAX_ROW_PADDING = 1024
#: Largest motion-vector scale factor (a UV-unit vector at 16384 pixels needs 16384).
MAX_MOTION_SCALE = 65536.0


class MessageType(IntEnum):
    HELLO = 0x01
    FRAME = 0x02
    PING = 0x03
    BYE = 0x04
    WELCOME = 0x81
    RESULT = 0x82
    DROPPED = 0x83
    ERROR = 0x84
    PONG = 0x85


CLIENT_MESSAGES = frozenset({MessageType.HELLO, MessageType.FRAME, MessageType.PING, MessageType.BYE})
SERVER_MESSAGES = frozenset(set(MessageType) - CLIENT_MESSAGES)


class PixelFormat(IntEnum):
    RGBA8 = 1
    BGRA8 = 2
    RGB8 = 3
    BGR8 = 4

    @property
    def channels(self) -> int:
        return 4 if self in (PixelFormat.RGBA8, PixelFormat.BGRA8) else 3

    @property
    def is_bgr(self) -> bool:
        return self in (PixelFormat.BGRA8, PixelFormat.BGR8)


class Origin(IntEnum):
    TOP_DOWN = 0
    BOTTOM_UP = 1


class PlaneType(IntEnum):
    """The element type of the optional motion-vector and depth planes."""

    NONE = 0
    FLOAT16 = 1
    FLOAT32 = 2

    @property
    def itemsize(self) -> int:
        return {PlaneType.NONE: 0, PlaneType.FLOAT16: 2, PlaneType.FLOAT32: 4}[self]

    @property
    def dtype(self) -> str:
        """The numpy dtype of the elements (little-endian)."""
        return {PlaneType.FLOAT16: "<f2", PlaneType.FLOAT32: "<f4"}[self]


class Mode(IntEnum):
    """ORDERED: every frame is stylized. LATEST: a frame still waiting when a newer one arrives is dropped."""

    ORDERED = 0
    LATEST = 1


class FrameFlags(IntFlag):
    TEMPORAL = 1
    RESET = 2
    PRESERVE_COLOR = 4
    #: A style-mix block follows the fixed frame header (only to a server offering :attr:`Capability.STYLE_MIX`).
    MIX = 8


class HelloFlags(IntFlag):
    SHARED_MEMORY = 1


class WelcomeFlags(IntFlag):
    SHARED_MEMORY = 1


class Capability(IntFlag):
    MOTION = 1
    DEPTH = 2
    SHARED_MEMORY = 4
    LATEST = 8
    FLOAT16 = 16
    STYLE_MIX = 32


class ErrorFlags(IntFlag):
    FATAL = 1
    HAS_FRAME = 2


class DropReason(IntEnum):
    SUPERSEDED = 1


class ErrorCode(IntEnum):
    MALFORMED = 1
    UNSUPPORTED_VERSION = 2
    UNAUTHORIZED = 3
    TOO_LARGE = 4
    UNEXPECTED = 5
    TOO_MANY_IN_FLIGHT = 6
    UNKNOWN_STYLE = 7
    BAD_SLOT = 8
    TIMEOUT = 9
    BUSY = 10
    SHUTTING_DOWN = 11
    PROCESSING_FAILED = 12
    INTERNAL = 13


class ProtocolError(StyleError, ValueError):
    """A message breaks the protocol; ``code`` is the :class:`ErrorCode` the peer is told."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Limits:
    """The largest frame a server accepts. Every size in a header is checked against these before allocation."""

    max_width: int = 4096
    max_height: int = 4096
    max_pixels: int = 4096 * 2160

    def __post_init__(self) -> None:
        for name in ("max_width", "max_height", "max_pixels"):
            if not 1 <= getattr(self, name) <= 0x7FFFFFFF:
                raise StyleError(f"{name.replace('_', ' ')} must be between 1 and {0x7FFFFFFF}")

    @property
    def max_body(self) -> int:
        """The largest frame body: RGBA pixels with the most row padding, float32 motion and depth."""
        rows = min(self.max_height, self.max_pixels)
        return self.max_pixels * (4 + 8 + 4) + rows * (MAX_ROW_PADDING - 1) + 2 * PLANE_ALIGN


# --- framing ------------------------------------------------------------------------------------------------------


def encode_header(kind: MessageType, length: int) -> bytes:
    """The 12-byte header of a message whose payload is ``length`` bytes."""
    return HEADER.pack(MAGIC, kind, 0, length)


def max_payload(kind: MessageType, limits: Limits) -> int:
    """The longest payload a message of this type may have."""
    return {
        MessageType.HELLO: HELLO.size + 2 * MAX_TEXT,
        MessageType.FRAME: FRAME.size + MAX_MIX_BLOCK + limits.max_body,
        MessageType.PING: NONCE.size,
        MessageType.BYE: 0,
        MessageType.WELCOME: WELCOME.size + 2 * MAX_TEXT + MAX_STYLES * 2 * (TEXT_LENGTH.size + MAX_TEXT),
        MessageType.RESULT: RESULT.size + limits.max_body,
        MessageType.DROPPED: DROPPED.size,
        MessageType.ERROR: ERROR.size + MAX_ERROR_TEXT,
        MessageType.PONG: NONCE.size,
    }[kind]


def decode_header(data: bytes, allowed: frozenset[MessageType], limits: Limits) -> tuple[MessageType, int]:
    """The type and payload length of a message from its 12 header bytes, checked against ``allowed`` types and
    the size limit of its type."""
    if len(data) != HEADER.size:
        raise ProtocolError(ErrorCode.MALFORMED, f"a message header is {HEADER.size} bytes, got {len(data)}")
    magic, kind, flags, length = HEADER.unpack(data)
    if magic != MAGIC:
        raise ProtocolError(ErrorCode.MALFORMED, f"bad magic {magic!r} (expected {MAGIC!r})")
    try:
        kind = MessageType(kind)
    except ValueError:
        raise ProtocolError(ErrorCode.MALFORMED, f"unknown message type 0x{kind:02x}") from None
    if kind not in allowed:
        raise ProtocolError(ErrorCode.UNEXPECTED, f"{kind.name} is not a message this side accepts")
    if flags != 0:
        raise ProtocolError(ErrorCode.MALFORMED, f"header flags must be 0, got {flags}")
    limit = max_payload(kind, limits)
    if length > limit:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"{kind.name} payload of {length} bytes exceeds {limit}")
    return kind, length


_Enum = TypeVar("_Enum", bound=IntEnum)
_Flag = TypeVar("_Flag", bound=IntFlag)


def _enum(kind: type[_Enum], value: int, what: str) -> _Enum:
    try:
        return kind(value)
    except ValueError:
        raise ProtocolError(ErrorCode.MALFORMED, f"unknown {what} {value}") from None


def _flags(kind: type[_Flag], value: int, what: str, known: int | None = None) -> _Flag:
    """``value`` as flags of ``kind``; bits outside ``known`` (default: every member's) are refused."""
    if known is None:
        known = 0
        for member in kind:
            known |= int(member)
    if value & ~known:
        raise ProtocolError(ErrorCode.MALFORMED, f"unknown {what} bits 0x{value & ~known:x}")
    return kind(value)


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(ErrorCode.MALFORMED, f"{what} is not UTF-8") from None


def _encode_text(text: str, what: str, limit: int = MAX_TEXT) -> bytes:
    data = text.encode("utf-8")
    if len(data) > limit:
        raise ProtocolError(ErrorCode.MALFORMED, f"{what} is longer than {limit} bytes")
    return data


def _exact(payload: bytes, size: int, kind: MessageType) -> None:
    if len(payload) != size:
        raise ProtocolError(ErrorCode.MALFORMED, f"{kind.name} payload must be {size} bytes, got {len(payload)}")


# --- handshake ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """The client's first message: the versions it speaks, how it wants frames handled, and who it is."""

    min_version: int = MIN_VERSION
    max_version: int = VERSION
    mode: Mode = Mode.ORDERED
    in_flight: int = 4
    shared_memory: bool = False
    slot_bytes: int = 0
    token: str = ""
    name: str = ""


def encode_hello(hello: Hello) -> bytes:
    token = _encode_text(hello.token, "token")
    name = _encode_text(hello.name, "client name")
    flags = HelloFlags.SHARED_MEMORY if hello.shared_memory else 0
    payload = HELLO.pack(hello.min_version, hello.max_version, hello.mode, hello.in_flight, flags, len(token),
                         len(name), 0, hello.slot_bytes) + token + name
    return encode_header(MessageType.HELLO, len(payload)) + payload


def decode_hello(payload: bytes) -> Hello:
    if len(payload) < HELLO.size:
        raise ProtocolError(ErrorCode.MALFORMED, f"HELLO payload is at least {HELLO.size} bytes")
    low, high, mode, in_flight, flags, token_length, name_length, reserved, slot_bytes = HELLO.unpack_from(payload)
    if token_length > MAX_TEXT or name_length > MAX_TEXT:
        raise ProtocolError(ErrorCode.MALFORMED, f"token and client name are at most {MAX_TEXT} bytes")
    _exact(payload, HELLO.size + token_length + name_length, MessageType.HELLO)
    if reserved != 0:
        raise ProtocolError(ErrorCode.MALFORMED, "HELLO reserved field must be 0")
    if not 1 <= low <= high:
        raise ProtocolError(ErrorCode.MALFORMED, f"bad version range {low}..{high}")
    if in_flight < 1:
        raise ProtocolError(ErrorCode.MALFORMED, "in-flight frames must be at least 1")
    shared = bool(_flags(HelloFlags, flags, "HELLO flag") & HelloFlags.SHARED_MEMORY)
    if shared != (slot_bytes > 0):
        raise ProtocolError(ErrorCode.MALFORMED, "slot bytes must be given exactly when shared memory is asked for")
    token = _text(payload[HELLO.size:HELLO.size + token_length], "token")
    name = _text(payload[HELLO.size + token_length:], "client name")
    return Hello(low, high, _enum(Mode, mode, "mode"), in_flight, shared, slot_bytes, token, name)


@dataclass(frozen=True)
class StyleEntry:
    """A style a server offers: its name (what frames select by index) and a human title."""

    name: str
    title: str = ""


@dataclass(frozen=True)
class Welcome:
    """The server's answer to HELLO: what was granted, the limits, the shared memory, and the styles."""

    version: int
    mode: Mode
    in_flight: int
    capabilities: Capability
    limits: Limits
    styles: tuple[StyleEntry, ...]
    default_style: int = 0
    shm_name: str = ""
    shm_slots: int = 0
    shm_slot_bytes: int = 0
    server: str = ""

    @property
    def shared_memory(self) -> bool:
        return bool(self.shm_name)


def encode_welcome(welcome: Welcome) -> bytes:
    shm_name = _encode_text(welcome.shm_name, "shared memory name")
    server = _encode_text(welcome.server, "server name")
    flags = WelcomeFlags.SHARED_MEMORY if welcome.shm_name else 0
    styles = b"".join(TEXT_LENGTH.pack(len(text)) + text for entry in welcome.styles
                      for text in (_encode_text(entry.name, "style name"), _encode_text(entry.title, "style title")))
    limits = welcome.limits
    payload = WELCOME.pack(welcome.version, welcome.mode, welcome.in_flight, flags, welcome.capabilities,
                           limits.max_width, limits.max_height, limits.max_pixels, welcome.shm_slot_bytes,
                           welcome.shm_slots, welcome.default_style, len(welcome.styles), len(shm_name), len(server),
                           0) + shm_name + server + styles
    return encode_header(MessageType.WELCOME, len(payload)) + payload


def decode_welcome(payload: bytes) -> Welcome:
    if len(payload) < WELCOME.size:
        raise ProtocolError(ErrorCode.MALFORMED, f"WELCOME payload is at least {WELCOME.size} bytes")
    (version, mode, in_flight, flags, capabilities, max_width, max_height, max_pixels, slot_bytes, slots,
     default_style, style_count, shm_length, server_length, _reserved) = WELCOME.unpack_from(payload)
    if shm_length > MAX_TEXT or server_length > MAX_TEXT or style_count > MAX_STYLES:
        raise ProtocolError(ErrorCode.MALFORMED, "WELCOME text or style count out of range")
    offset = WELCOME.size
    shm_name = _text(payload[offset:offset + shm_length], "shared memory name")
    offset += shm_length
    server = _text(payload[offset:offset + server_length], "server name")
    offset += server_length
    texts = []
    for _ in range(2 * style_count):
        if offset + TEXT_LENGTH.size > len(payload):
            raise ProtocolError(ErrorCode.MALFORMED, "WELCOME style list is truncated")
        (length,) = TEXT_LENGTH.unpack_from(payload, offset)
        offset += TEXT_LENGTH.size
        if length > MAX_TEXT or offset + length > len(payload):
            raise ProtocolError(ErrorCode.MALFORMED, "WELCOME style list is truncated")
        texts.append(_text(payload[offset:offset + length], "style text"))
        offset += length
    _exact(payload, offset, MessageType.WELCOME)
    if bool(flags & WelcomeFlags.SHARED_MEMORY) != bool(shm_name) or (shm_name and (slots < 1 or slot_bytes < 1)):
        raise ProtocolError(ErrorCode.MALFORMED, "WELCOME shared memory fields disagree")
    if in_flight < 1 or style_count < 1 or default_style >= style_count:
        raise ProtocolError(ErrorCode.MALFORMED, "WELCOME in-flight, styles or default style out of range")
    try:
        limits = Limits(max_width, max_height, max_pixels)
    except StyleError as error:
        raise ProtocolError(ErrorCode.MALFORMED, f"WELCOME limits: {error}") from None
    styles = tuple(StyleEntry(texts[i], texts[i + 1]) for i in range(0, len(texts), 2))
    return Welcome(version, _enum(Mode, mode, "mode"), in_flight, Capability(capabilities), limits,
                   styles, default_style, shm_name, slots, slot_bytes, server)


# --- frames -------------------------------------------------------------------------------------------------------


def align(offset: int) -> int:
    """``offset`` rounded up to a multiple of :data:`PLANE_ALIGN`."""
    return (offset + PLANE_ALIGN - 1) // PLANE_ALIGN * PLANE_ALIGN


@dataclass(frozen=True)
class Layout:
    """Byte offsets and sizes of a frame body's planes; a missing plane has size 0."""

    pixels: int
    motion_offset: int
    motion: int
    depth_offset: int
    depth: int

    @property
    def total(self) -> int:
        return max(self.pixels, self.motion_offset + self.motion, self.depth_offset + self.depth)


def plane_layout(width: int, height: int, stride: int, motion: PlaneType, depth: PlaneType) -> Layout:
    """Where the pixel, motion and depth planes lie in a frame body (see docs/protocol.md, "Frame body")."""
    pixels = stride * height
    motion_size = width * height * 2 * motion.itemsize
    motion_offset = align(pixels) if motion_size else pixels
    depth_size = width * height * depth.itemsize
    depth_offset = align(motion_offset + motion_size) if depth_size else motion_offset + motion_size
    return Layout(pixels, motion_offset, motion_size, depth_offset, depth_size)


@dataclass(frozen=True)
class FrameHeader:
    """A frame's fixed header: identity, geometry, optional planes, and per-frame controls; ``mix`` (style index,
    weight) pairs, when given, are its style-mix block (``style`` is then :data:`DEFAULT_STYLE`, and ``flags``
    always carry :attr:`FrameFlags.MIX` exactly when there is a mix)."""

    frame_id: int
    width: int
    height: int
    pixel_format: PixelFormat
    stride: int = 0
    timestamp: int = 0
    origin: Origin = Origin.TOP_DOWN
    motion: PlaneType = PlaneType.NONE
    depth: PlaneType = PlaneType.NONE
    style: int = DEFAULT_STYLE
    flags: FrameFlags = FrameFlags.TEMPORAL
    strength: float = 1.0
    motion_scale: tuple[float, float] = (1.0, 1.0)
    slot: int = NO_SLOT
    mix: tuple[tuple[int, float], ...] = ()
    layout: Layout = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        flags = self.flags | FrameFlags.MIX if self.mix else self.flags & ~FrameFlags.MIX
        object.__setattr__(self, "flags", FrameFlags(flags))
        if self.stride == 0:
            object.__setattr__(self, "stride", self.width * self.pixel_format.channels)
        object.__setattr__(self, "layout", plane_layout(self.width, self.height, self.stride, self.motion,
                                                        self.depth))

    @property
    def body_length(self) -> int:
        """Bytes of body that follow the header on the socket: none when the planes are in shared memory."""
        return 0 if self.slot != NO_SLOT else self.layout.total

    @property
    def mix_length(self) -> int:
        """Bytes of the style-mix block between the fixed header and the body (0 without a mix)."""
        return MIX_HEAD.size + len(self.mix) * MIX_ENTRY.size if self.mix else 0


def check_geometry(width: int, height: int, stride: int, pixel_format: PixelFormat, limits: Limits) -> None:
    """Refuse a frame size or row stride outside ``limits``."""
    if width < 1 or height < 1:
        raise ProtocolError(ErrorCode.MALFORMED, f"frame {width}x{height} has no pixels")
    if width > limits.max_width or height > limits.max_height:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"frame {width}x{height} exceeds {limits.max_width}x"
                                                 f"{limits.max_height}")
    if width * height > limits.max_pixels:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"frame {width}x{height} has more than {limits.max_pixels} pixels")
    row = width * pixel_format.channels
    if not row <= stride < row + MAX_ROW_PADDING:
        raise ProtocolError(ErrorCode.MALFORMED, f"row stride {stride} must be {row}..{row + MAX_ROW_PADDING - 1} "
                                                 f"for {width} {pixel_format.name} pixels")


def check_frame_header(header: FrameHeader, limits: Limits) -> None:
    """Refuse a frame header whose geometry or controls are out of range."""
    check_geometry(header.width, header.height, header.stride, header.pixel_format, limits)
    if not (math.isfinite(header.strength) and 0.0 <= header.strength <= 1.0):
        raise ProtocolError(ErrorCode.MALFORMED, f"strength must be 0..1, got {header.strength}")
    if not all(math.isfinite(s) and abs(s) <= MAX_MOTION_SCALE for s in header.motion_scale):
        raise ProtocolError(ErrorCode.MALFORMED, f"motion scale must be finite and at most {MAX_MOTION_SCALE:g}")
    if header.depth != PlaneType.NONE and header.motion == PlaneType.NONE:
        raise ProtocolError(ErrorCode.MALFORMED, "a depth plane needs a motion-vector plane")
    if header.mix:
        check_mix(header.mix, header.style)


def check_mix(mix: tuple[tuple[int, float], ...], style: int) -> None:
    """Refuse a style mix of no or too many styles, with a weight that is negative or not finite, whose weights
    sum to zero, or sent with a style index in the fixed header. Style indices are checked against the server's list
    by the server."""
    if not 1 <= len(mix) <= MAX_MIX:
        raise ProtocolError(ErrorCode.MALFORMED, f"a style mix has 1..{MAX_MIX} styles, got {len(mix)}")
    if style != DEFAULT_STYLE:
        raise ProtocolError(ErrorCode.MALFORMED, f"a frame with a style mix must have style 0x{DEFAULT_STYLE:X}, "
                                                 f"got {style}")
    for index, weight in mix:
        if not 0.0 <= weight <= F32_MAX:  # NaN fails too
            raise ProtocolError(ErrorCode.MALFORMED, f"style mix weight {weight} of style {index} must be finite "
                                                     f"and not negative")
    if not sum(weight for _, weight in mix) > 0.0:
        raise ProtocolError(ErrorCode.MALFORMED, "style mix weights sum to zero")


def mix_weights(mix: tuple[tuple[int, float], ...]) -> tuple[tuple[int, float], ...]:
    """A checked style mix with its weights scaled to sum to 1."""
    total = sum(weight for _, weight in mix)
    return tuple((index, weight / total) for index, weight in mix)


def encode_mix(mix: tuple[tuple[int, float], ...]) -> bytes:
    """The style-mix block (empty without a mix)."""
    if not mix:
        return b""
    return MIX_HEAD.pack(len(mix), 0) + b"".join(MIX_ENTRY.pack(index, 0, weight) for index, weight in mix)


def decode_mix(read: Callable[[int], bytes], available: int) -> tuple[tuple[int, float], ...]:
    """A style-mix block taken with ``read(n)`` (which returns the next ``n`` bytes of the payload) from the
    ``available`` bytes that follow the fixed frame header; nothing beyond them is read."""
    if available < MIX_HEAD.size:
        raise ProtocolError(ErrorCode.MALFORMED, "FRAME has the MIX flag but no style-mix block")
    count, reserved = MIX_HEAD.unpack(read(MIX_HEAD.size))
    if reserved != 0:
        raise ProtocolError(ErrorCode.MALFORMED, "style-mix block reserved field must be 0")
    if not 1 <= count <= MAX_MIX:
        raise ProtocolError(ErrorCode.MALFORMED, f"a style mix has 1..{MAX_MIX} styles, got {count}")
    if available < MIX_HEAD.size + count * MIX_ENTRY.size:
        raise ProtocolError(ErrorCode.MALFORMED, f"FRAME payload is too short for a mix of {count} styles")
    entries = read(count * MIX_ENTRY.size)
    mix = []
    for offset in range(0, len(entries), MIX_ENTRY.size):
        index, reserved, weight = MIX_ENTRY.unpack_from(entries, offset)
        if reserved != 0:
            raise ProtocolError(ErrorCode.MALFORMED, "style-mix entry reserved field must be 0")
        mix.append((index, weight))
    return tuple(mix)


def encode_frame_header(header: FrameHeader) -> bytes:
    """The message header, fixed frame header and style-mix block; the body (if not in shared memory) follows
    them."""
    payload = FRAME.pack(header.frame_id, header.timestamp, header.width, header.height, header.stride,
                         header.pixel_format, header.origin, header.motion, header.depth, header.style, header.flags,
                         header.strength, header.motion_scale[0], header.motion_scale[1], header.slot,
                         0) + encode_mix(header.mix)
    return encode_header(MessageType.FRAME, len(payload) + header.body_length) + payload


def decode_frame_header(fixed: bytes, length: int, limits: Limits,
                        read_mix: Callable[[int], bytes] | None = None) -> FrameHeader:
    """The frame header from the first :data:`FRAME` bytes of a payload of ``length`` bytes, checked against
    ``limits`` and against ``length`` (which must be exactly the header, its style-mix block and its inline body).

    ``read_mix(n)`` returns the next ``n`` bytes of the payload, for the style-mix block: without it (a server not
    offering :attr:`Capability.STYLE_MIX`) the MIX flag is refused as unknown. The fixed header is checked before
    anything more is read."""
    if len(fixed) != FRAME.size or length < FRAME.size:
        raise ProtocolError(ErrorCode.MALFORMED, f"FRAME payload is at least {FRAME.size} bytes")
    (frame_id, timestamp, width, height, stride, pixel_format, origin, motion, depth, style, flags, strength,
     scale_x, scale_y, slot, reserved) = FRAME.unpack(fixed)
    if reserved != 0:
        raise ProtocolError(ErrorCode.MALFORMED, "FRAME reserved field must be 0")
    known = FrameFlags.TEMPORAL | FrameFlags.RESET | FrameFlags.PRESERVE_COLOR
    flags = _flags(FrameFlags, flags, "frame flag", known if read_mix is None else known | FrameFlags.MIX)
    header = FrameHeader(
        frame_id=frame_id, width=width, height=height, stride=stride,
        pixel_format=_enum(PixelFormat, pixel_format, "pixel format"), timestamp=timestamp,
        origin=_enum(Origin, origin, "origin"), motion=_enum(PlaneType, motion, "motion type"),
        depth=_enum(PlaneType, depth, "depth type"), style=style, flags=flags, strength=strength,
        motion_scale=(scale_x, scale_y), slot=slot)
    check_frame_header(header, limits)
    if stride == 0:
        raise ProtocolError(ErrorCode.MALFORMED, "row stride must not be 0")
    if flags & FrameFlags.MIX and read_mix is not None:
        header = replace(header, mix=decode_mix(read_mix, length - FRAME.size))
        check_mix(header.mix, header.style)
    expected = FRAME.size + header.mix_length + header.body_length
    if length != expected:
        raise ProtocolError(ErrorCode.MALFORMED, f"FRAME payload is {length} bytes; its header says {expected}")
    return header


@dataclass(frozen=True)
class ResultHeader:
    """The fixed header of a stylized frame: same size, format, origin and stride as the frame sent."""

    frame_id: int
    timestamp: int
    width: int
    height: int
    stride: int
    pixel_format: PixelFormat
    origin: Origin
    style: int
    slot: int = NO_SLOT
    queue_us: int = 0
    process_us: int = 0

    @property
    def body_length(self) -> int:
        return 0 if self.slot != NO_SLOT else self.stride * self.height


def encode_result_header(result: ResultHeader) -> bytes:
    payload = RESULT.pack(result.frame_id, result.timestamp, result.width, result.height, result.stride,
                          result.pixel_format, result.origin, result.style, result.slot,
                          min(result.queue_us, 0xFFFFFFFF), min(result.process_us, 0xFFFFFFFF), 0)
    return encode_header(MessageType.RESULT, len(payload) + result.body_length) + payload


def decode_result_header(fixed: bytes, length: int, limits: Limits) -> ResultHeader:
    if len(fixed) != RESULT.size or length < RESULT.size:
        raise ProtocolError(ErrorCode.MALFORMED, f"RESULT payload is at least {RESULT.size} bytes")
    (frame_id, timestamp, width, height, stride, pixel_format, origin, style, slot, queue_us, process_us,
     _reserved) = RESULT.unpack(fixed)
    result = ResultHeader(frame_id, timestamp, width, height, stride,
                          _enum(PixelFormat, pixel_format, "pixel format"),
                          _enum(Origin, origin, "origin"), style, slot, queue_us, process_us)
    check_geometry(width, height, stride, result.pixel_format, limits)
    if length != RESULT.size + result.body_length:
        raise ProtocolError(ErrorCode.MALFORMED, f"RESULT payload is {length} bytes; its header says "
                                                 f"{RESULT.size + result.body_length}")
    return result


# --- other replies ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dropped:
    """A frame the server did not stylize because a newer one superseded it (latest-wins mode)."""

    frame_id: int
    timestamp: int
    slot: int = NO_SLOT
    reason: DropReason = DropReason.SUPERSEDED


def encode_dropped(dropped: Dropped) -> bytes:
    return encode_header(MessageType.DROPPED, DROPPED.size) + DROPPED.pack(
        dropped.frame_id, dropped.timestamp, dropped.slot, dropped.reason, 0)


def decode_dropped(payload: bytes) -> Dropped:
    _exact(payload, DROPPED.size, MessageType.DROPPED)
    frame_id, timestamp, slot, reason, _reserved = DROPPED.unpack(payload)
    return Dropped(frame_id, timestamp, slot, _enum(DropReason, reason, "drop reason"))


@dataclass(frozen=True)
class ErrorMessage:
    """An error: fatal ones close the connection; a non-fatal one replaces the reply to frame ``frame_id``."""

    code: ErrorCode
    message: str
    fatal: bool = True
    frame_id: int | None = None
    slot: int = NO_SLOT


def encode_error(error: ErrorMessage) -> bytes:
    text = error.message.encode("utf-8")[:MAX_ERROR_TEXT].decode("utf-8", "ignore").encode("utf-8")
    flags = (ErrorFlags.FATAL if error.fatal else 0) | (ErrorFlags.HAS_FRAME if error.frame_id is not None else 0)
    payload = ERROR.pack(error.code, flags, error.slot, error.frame_id or 0) + text
    return encode_header(MessageType.ERROR, len(payload)) + payload


def decode_error(payload: bytes) -> ErrorMessage:
    if len(payload) < ERROR.size:
        raise ProtocolError(ErrorCode.MALFORMED, f"ERROR payload is at least {ERROR.size} bytes")
    code, flags, slot, frame_id = ERROR.unpack_from(payload)
    flags = _flags(ErrorFlags, flags, "error flag")
    return ErrorMessage(_enum(ErrorCode, code, "error code"), _text(payload[ERROR.size:], "error text"),
                        bool(flags & ErrorFlags.FATAL), frame_id if flags & ErrorFlags.HAS_FRAME else None, slot)


def encode_nonce(kind: MessageType, nonce: int) -> bytes:
    """A PING or a PONG."""
    return encode_header(kind, NONCE.size) + NONCE.pack(nonce)


def decode_nonce(payload: bytes, kind: MessageType) -> int:
    _exact(payload, NONCE.size, kind)
    return int(NONCE.unpack(payload)[0])


def encode_bye() -> bytes:
    return encode_header(MessageType.BYE, 0)
