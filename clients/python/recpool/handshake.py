"""A socket's security handshakes, as libzmq's socket monitor reports them (``zmq_socket_monitor(3)``).

libzmq ends a connecting session for good when the broker refuses its CURVE key (ZAP, RFC 27) or when only one
side uses CURVE (ZMTP 3.1, RFC 23), and tells only a monitor. The clients watch one so that every call waiting on
such a connection fails at once with :class:`~recpool.HandshakeFailed`, naming the cause, and so that the next call
goes out on a new socket (at most once a second): a key the broker admits later, after SIGHUP, is used without a
restart (docs/SECURITY.md, "Threat model").
"""
from __future__ import annotations

import struct
import time
from typing import Iterable, Optional

import zmq

from .errors import HandshakeFailed

#: The monitor events watched: every handshake failure, and success (which clears a failure libzmq retries past).
EVENTS = int(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
             | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_SUCCEEDED)
#: ``ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH``: CURVE on one side only.
MECHANISM_MISMATCH = 0x11000002
#: ``ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC``: a CURVE box that does not open.
CRYPTOGRAPHIC = 0x11000001
#: The shortest time between two sockets opened after refused handshakes, in seconds: each attempt costs the
#: broker a ZAP request and a log line.
REOPEN_INTERVAL = 1.0


def explain(endpoint: str, reason: str, code: int) -> str:
    """A sentence for an operator: what failed and the usual cause."""
    if reason == "refused":
        return (f"the broker at {endpoint} refused this client's CURVE key (ZAP status {code}): is its public key on "
                "the broker's clients or trainers allow-list? (the broker re-reads the lists on SIGHUP)")
    if reason == "protocol" and code == MECHANISM_MISMATCH:
        return (f"the security handshake with {endpoint} failed: only one side uses CURVE (give server_key and "
                "client_key exactly when the broker has --curve-key)")
    if reason == "protocol" and code == CRYPTOGRAPHIC:
        return (f"the security handshake with {endpoint} failed: a CURVE message did not open (is server_key the "
                "broker's public key?)")
    if reason == "protocol":
        return f"the security handshake with {endpoint} failed: ZMTP protocol error 0x{code:x}"
    return (f"the broker at {endpoint} closed the connection during the security handshake (errno {code}): is "
            "server_key the broker's public key?")


def parse(frames: Iterable) -> Optional[tuple]:
    """``(event, value)`` of a monitor message (a 6-byte frame, a 16-bit event and a 32-bit value in host order,
    then the endpoint), or None for another shape."""
    frames = [bytes(f.bytes if hasattr(f, "bytes") else f) for f in frames]
    if len(frames) != 2 or len(frames[0]) != 6:
        return None
    return struct.unpack("=HI", frames[0])


class HandshakeState:
    """What the monitor of one socket has shown: the last failure since the last success, and whether libzmq ended
    the session (a refusal or a protocol error), in which case the socket must be replaced, not before
    ``reopen_at`` (monotonic seconds). ``curve``: whether the socket uses CURVE (a connection closed mid-handshake
    means a wrong server key only then)."""

    def __init__(self, endpoint: str, curve: bool):
        self.endpoint = endpoint
        self.curve = curve
        self.failure: Optional[HandshakeFailed] = None
        self.reopen_at: Optional[float] = None

    def apply(self, frames) -> Optional[HandshakeFailed]:
        """Applies one monitor message; returns the error when it ended the session."""
        parsed = parse(frames)
        if parsed is None:
            return None
        event, value = parsed
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self.failure = None
            return None
        reason = {int(zmq.EVENT_HANDSHAKE_FAILED_AUTH): "refused", int(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL): "protocol",
                  int(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL): "closed"}.get(event)
        if reason is None:
            return None
        if reason == "closed" and not self.curve:
            # Without CURVE a peer that closes during the greeting is a broker that requires CURVE (it saw the other
            # mechanism first) or a port that is not a broker's (an HTTP server): no server key is to blame.
            message = (f"the peer at {self.endpoint} closed the connection during the ZMTP handshake (errno {value}): it "
                       "requires CURVE (give server_key and client_key), or it is not a RecPool broker's frontend, or it "
                       "stopped during the handshake (killed or restarting: retry)")
        else:
            message = explain(self.endpoint, reason, value)
        self.failure = HandshakeFailed(message, reason=reason, code=value)
        if reason == "closed":
            return None  # libzmq reconnects by itself; a call that times out meanwhile is told this instead
        self.reopen_at = time.monotonic() + REOPEN_INTERVAL
        return self.failure

    def fresh_error(self) -> Optional[HandshakeFailed]:
        """A new exception for the last failure (one exception object is not raised in two calls), or None."""
        if self.failure is None:
            return None
        return HandshakeFailed(self.failure.message, reason=self.failure.reason, code=self.failure.code)
