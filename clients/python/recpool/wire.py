"""The bytes of RecPool protocol v1 (docs/PROTOCOL.md): the 56-byte header, commands, statuses,
tensor frames. No sockets here, so everything in this module is testable on bytes.
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

import numpy as np

#: Protocol version this client speaks (header byte 3).
PROTOCOL_VERSION = 1
#: ASCII ``RPL``, header bytes 0-2.
MAGIC = b"RPL"
#: Bit 7 of the command byte marks a reply.
REPLY_BIT = 0x80
#: Header flag bit 0: ``model_version`` is an exact pin.
FLAG_EXACT_VERSION = 0x0001

# magic(3) version(1) command(1) reserved(1) flags(2) request_id(8) deadline_ms(8)
# model_version(8) status(2) attempt(2) broker_queue_us(4) worker_queue_us(4) compute_us(4)
# retry_after_ms(4) reserved(4), all little-endian.
_HEADER = struct.Struct("<3sBBBHQQQHHIIIII")
#: Length of frame 0.
HEADER_BYTES = _HEADER.size
assert HEADER_BYTES == 56

_TENSOR_SHAPE = struct.Struct("<II")
#: Length of a tensor frame's ``[rows u32][cols u32]`` shape.
TENSOR_SHAPE_BYTES = _TENSOR_SHAPE.size
#: Bytes per message the broker accepts, every frame after the routing identity counted, the 56-byte
#: header included (PROTOCOL.md, "Limits"); one byte more is answered ``TOO_LARGE``.
MESSAGE_LIMIT_BYTES = 16 * 1024 * 1024
#: Frames per message the broker accepts, the header included (PROTOCOL.md, "Limits").
MESSAGE_LIMIT_FRAMES = 8
#: The little-endian float32 every tensor frame holds.
FLOAT32_LE = np.dtype("<f4")


class Command(enum.IntEnum):
    """Client-side command codes (PROTOCOL.md, "Commands"); worker commands are not sent here."""

    SCORE = 0x01
    RECOMMEND = 0x02
    FEEDBACK = 0x03
    STATUS = 0x04
    CANCEL = 0x05
    CONTROL = 0x06


#: The commands only a broker and its workers send each other (PROTOCOL.md, "Commands"), by code.
_WORKER_COMMAND_NAMES = {0x20: "READY", 0x21: "HEARTBEAT", 0x22: "DISCONNECT", 0x23: "ROUND_RESULT",
                         0x24: "POLICY_STATE", 0x25: "CATALOGUE_STATE", 0x30: "WEIGHTS", 0x31: "TRAIN_ROUND",
                         0x32: "LEARN", 0x33: "POLICY", 0x34: "POLICY_PULL", 0x35: "CATALOGUE"}


class Status(enum.IntEnum):
    """Reply status codes (PROTOCOL.md, "Status codes")."""

    OK = 0
    BAD_REQUEST = 1
    TOO_LARGE = 2
    BUSY = 3
    EXPIRED = 4
    CANCELLED = 5
    NO_WORKER = 6
    UNAUTHORIZED = 7
    INTERNAL = 8
    UNSUPPORTED_VERSION = 9
    NOT_FOUND = 10
    CONFLICT = 11
    WORKER_LOST = 12


@dataclass(frozen=True)
class Header:
    """A decoded frame 0. Times are as on the wire: ms since the Unix epoch, µs of waiting."""

    command: int
    request_id: int
    flags: int = 0
    deadline_ms: int = 0
    model_version: int = 0
    status: int = 0
    attempt: int = 0
    broker_queue_us: int = 0
    worker_queue_us: int = 0
    compute_us: int = 0
    retry_after_ms: int = 0

    def encode(self) -> bytes:
        """The 56 bytes of this header, reserved fields zero."""
        return _HEADER.pack(
            MAGIC, PROTOCOL_VERSION, self.command, 0, self.flags, self.request_id, self.deadline_ms,
            self.model_version, self.status, self.attempt, self.broker_queue_us, self.worker_queue_us,
            self.compute_us, self.retry_after_ms, 0)

    @property
    def is_reply(self) -> bool:
        """Whether bit 7 of the command is set."""
        return bool(self.command & REPLY_BIT)

    @property
    def command_name(self) -> str:
        """The command's name without the reply bit (a worker command's too: READY, HEARTBEAT, DISCONNECT), or its
        code in hex."""
        code = self.command & ~REPLY_BIT
        try:
            return Command(code).name
        except ValueError:
            return _WORKER_COMMAND_NAMES.get(code, f"command 0x{code:02x}")


class MalformedReply(ValueError):
    """A frame that does not follow PROTOCOL.md; the message names what is wrong."""


def decode_header(frame) -> Header:
    """Decodes frame 0.

    Raises:
        MalformedReply: wrong length, magic or version. Reserved fields that are not zero and unknown
            statuses are reported too, since a peer speaking v1 never sends them.
    """
    data = bytes(frame)
    if len(data) != HEADER_BYTES:
        raise MalformedReply(f"header has {len(data)} bytes, expected {HEADER_BYTES}")
    (magic, version, command, reserved, flags, request_id, deadline_ms, model_version, status,
     attempt, broker_us, worker_us, compute_us, retry_ms, reserved2) = _HEADER.unpack(data)
    if magic != MAGIC:
        raise MalformedReply(f"header magic is {magic!r}, expected {MAGIC!r}")
    if version != PROTOCOL_VERSION:
        raise MalformedReply(f"header protocol version is {version}, expected {PROTOCOL_VERSION}")
    if reserved != 0 or reserved2 != 0:
        raise MalformedReply("a reserved header field is not zero")
    if status not in Status._value2member_map_:
        raise MalformedReply(f"unknown status {status}")
    return Header(command, request_id, flags, deadline_ms, model_version, status, attempt, broker_us,
                  worker_us, compute_us, retry_ms)


def salvage_request_id(frame):
    """The request id in bytes 8-15 of a frame 0 that does not decode, as the broker salvages it
    (PROTOCOL.md, "Status codes"): ``None`` unless the frame has at least 16 bytes and starts with ``RPL``."""
    data = bytes(frame)
    if len(data) < 16 or data[:3] != MAGIC:
        return None
    return struct.unpack_from("<Q", data, 8)[0]


def tensor_frame(rows: np.ndarray) -> bytearray:
    """Encodes a 2-D array as a tensor frame ``[rows u32][cols u32][float32 LE, row-major]``.

    The frame is allocated once and the values are written into it by one numpy copy (which also
    converts dtype and byte order when needed): no Python loop touches the elements. A value beyond
    float32's range becomes infinity here, silently: ``operations.as_rows`` refuses such rows first.
    """
    n, cols = rows.shape
    frame = bytearray(_TENSOR_SHAPE.size + n * cols * 4)
    _TENSOR_SHAPE.pack_into(frame, 0, n, cols)
    body = np.frombuffer(frame, dtype=FLOAT32_LE, offset=_TENSOR_SHAPE.size).reshape(n, cols)
    with np.errstate(over="ignore"):
        np.copyto(body, rows, casting="same_kind")
    return frame


def decode_tensor(frame) -> np.ndarray:
    """Decodes a tensor frame to a ``rows × cols`` float32 array (a fresh, writable copy).

    Raises:
        MalformedReply: the length is not ``8 + rows × cols × 4`` or a dimension is 0.
    """
    buffer = memoryview(frame)
    if len(buffer) < _TENSOR_SHAPE.size:
        raise MalformedReply(f"tensor frame has {len(buffer)} bytes, less than its 8-byte shape")
    n, cols = _TENSOR_SHAPE.unpack_from(buffer, 0)
    if n < 1 or cols < 1:
        raise MalformedReply(f"tensor shape {n} × {cols} has a zero dimension")
    if len(buffer) != _TENSOR_SHAPE.size + n * cols * 4:
        raise MalformedReply(f"tensor frame of {n} × {cols} has {len(buffer)} bytes, "
                             f"expected {_TENSOR_SHAPE.size + n * cols * 4}")
    values = np.frombuffer(buffer, dtype=FLOAT32_LE, offset=_TENSOR_SHAPE.size).reshape(n, cols)
    return values.astype(np.float32, copy=True)


def resolve_endpoint(endpoint) -> tuple:
    """``(endpoint for libzmq, needs ZMQ_IPV6)`` for a broker endpoint, as PROTOCOL.md ("Transport") defines
    one: ``tcp://HOST:PORT`` (an IPv4 address, a host name, ``localhost``, which is always 127.0.0.1, or an
    IPv6 address in brackets, for which the socket must set ``ZMQ_IPV6``: libzmq refuses IPv6 otherwise and
    the client would only time out), ``ipc://PATH`` or ``inproc://NAME``.

    Raises:
        ValueError: not a string, another scheme, no host, or a port that is not 1-65535 (a connect
            needs a real port: ``*`` is for binds); the message names the endpoint and the rule.
    """
    if not isinstance(endpoint, str):
        raise ValueError(f"endpoint must be a string such as tcp://127.0.0.1:5555, got {endpoint!r}")
    for scheme in ("ipc://", "inproc://"):
        if endpoint.startswith(scheme):
            if len(endpoint) == len(scheme):
                raise ValueError(f"endpoint {endpoint!r} names no {scheme[:-3]} path")
            return endpoint, False
    if not endpoint.startswith("tcp://"):
        raise ValueError(f"endpoint must be tcp://HOST:PORT, ipc://PATH or inproc://NAME, got {endpoint!r}")
    rest = endpoint[len("tcp://"):]
    host, colon, port = rest.rpartition(":")
    # ASCII digits only: str.isdigit() also takes "²" or "٣", which int() then refuses or reads as another number.
    if not colon or not host or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError(f"endpoint {endpoint!r} must be tcp://HOST:PORT with a port in 1-65535")
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 3:
            raise ValueError(f"endpoint {endpoint!r}: an IPv6 address goes in brackets, as tcp://[::1]:5555")
        return endpoint, True
    if ":" in host or "[" in host or "]" in host or "*" in host or any(c.isspace() for c in host):
        raise ValueError(f"endpoint {endpoint!r}: the host must be an IPv4 address, a host name or an IPv6 "
                         "address in brackets")
    if host.lower() == "localhost":
        return f"tcp://127.0.0.1:{port}", False
    return endpoint, False


def unresolved_host(endpoint: str):
    """Why the host of a ``tcp://HOST:PORT`` endpoint named by a host name cannot be resolved (``"the host 'h' cannot
    be resolved: why"``), or ``None``: for an address, ``localhost``, another scheme, or a name that resolves. libzmq
    resolves a connect's host in the background and retries, so a name that never resolves shows only as a call
    with no connection; this names it."""
    import ipaddress
    import socket

    if not isinstance(endpoint, str) or not endpoint.startswith("tcp://"):
        return None
    host, _, port = endpoint[len("tcp://"):].rpartition(":")
    if not host or host.startswith("[") or host.lower() == "localhost":
        return None
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    # Asked in a thread and waited for briefly: the call's deadline has passed, and a resolver that does not answer
    # must not hold the caller (or an AsyncClient's event loop) for its own timeout.
    import threading

    found = []

    def resolve():
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            found.append(f"the host {host!r} cannot be resolved: {error.strerror}")
        except (OSError, UnicodeError):
            pass

    worker = threading.Thread(target=resolve, daemon=True)
    worker.start()
    worker.join(0.5)
    return found[0] if found else None


def cancel_payload(request_id: int) -> bytes:
    """The CANCEL payload: the id of the request to cancel, u64 LE."""
    return struct.pack("<Q", request_id)
