"""Typed errors: one exception class per reply status of docs/PROTOCOL.md, plus the client's own.

Every broker or worker refusal is a :class:`RecPoolError` subclass carrying the status code, the
message the peer sent (which names the problem) and the reply header's fields.
"""
from __future__ import annotations

from typing import Optional

from .wire import Header, Status


class RecPoolError(Exception):
    """Base class of every error this package raises about a request.

    Attributes:
        status: the protocol status (:class:`~recpool.wire.Status`), or ``None`` for client-side errors.
        message: the peer's UTF-8 message naming the problem (or the client's own).
        header: the reply header, when there was a reply.
    """

    status: Optional[Status] = None

    def __init__(self, message: str, header: Optional[Header] = None):
        super().__init__(message)
        self.message = message
        self.header = header

    @property
    def request_id(self) -> Optional[int]:
        """The id of the request the reply answered, when there was a reply."""
        return self.header.request_id if self.header else None

    def __str__(self) -> str:
        name = self.status.name if self.status is not None else type(self).__name__
        return f"{name}: {self.message}"


class BadRequest(RecPoolError, ValueError):
    """``BAD_REQUEST`` (1): malformed or invalid content; the message names the field or value."""

    status = Status.BAD_REQUEST


class TooLarge(RecPoolError, ValueError):
    """``TOO_LARGE`` (2): over the frame, byte, row or column limits; the message names the limit."""

    status = Status.TOO_LARGE


class Busy(RecPoolError):
    """``BUSY`` (3): the queue is full or would not reach the request in time.

    Attributes:
        retry_after: the broker's suggested wait before retrying, in seconds.
    """

    status = Status.BUSY

    @property
    def retry_after(self) -> float:
        """The header's ``retry_after_ms`` in seconds (0 when the broker gave none)."""
        return (self.header.retry_after_ms if self.header else 0) / 1000.0


class Expired(RecPoolError, TimeoutError):
    """``EXPIRED`` (4): the deadline passed before the request was served (or feedback came too late)."""

    status = Status.EXPIRED


class Cancelled(RecPoolError):
    """``CANCELLED`` (5): cancelled by this client."""

    status = Status.CANCELLED


class NoWorker(RecPoolError):
    """``NO_WORKER`` (6): no live worker offers the service."""

    status = Status.NO_WORKER


class Unauthorized(RecPoolError, PermissionError):
    """``UNAUTHORIZED`` (7): this key's role may not send the command."""

    status = Status.UNAUTHORIZED


class Internal(RecPoolError):
    """``INTERNAL`` (8): an unexpected failure inside RecPool."""

    status = Status.INTERNAL


class UnsupportedVersion(RecPoolError):
    """``UNSUPPORTED_VERSION`` (9): the peer does not speak this protocol version."""

    status = Status.UNSUPPORTED_VERSION


class NotFound(RecPoolError, LookupError):
    """``NOT_FOUND`` (10): the named object (job, model, impression, request) does not exist."""

    status = Status.NOT_FOUND


class Conflict(RecPoolError):
    """``CONFLICT`` (11): a duplicate request id, no worker serving the pinned version, or a busy state."""

    status = Status.CONFLICT


class WorkerLost(RecPoolError):
    """``WORKER_LOST`` (12): the worker died and the broker's re-dispatch budget was spent."""

    status = Status.WORKER_LOST


class Timeout(RecPoolError, TimeoutError):
    """No reply arrived by the deadline plus the client's grace (the broker may be unreachable,
    or, with CURVE, may not have admitted this key: a refused handshake gets no reply at all)."""


class ProtocolViolation(RecPoolError):
    """A reply that does not follow docs/PROTOCOL.md; the message says how."""


class Closed(RecPoolError):
    """A call on a client after :meth:`~recpool.Client.close`, or one still waiting when the client was closed."""


class InvalidRequest(RecPoolError, ValueError):
    """Refused by the client before sending (wrong shape, NaN, bad argument); names the problem."""


class JobFailed(RecPoolError):
    """A followed training job ended ``failed`` or ``cancelled``; ``job`` holds its last state."""

    def __init__(self, message: str, job: dict):
        super().__init__(message)
        self.job = job


_BY_STATUS = {cls.status: cls for cls in (
    BadRequest, TooLarge, Busy, Expired, Cancelled, NoWorker, Unauthorized, Internal,
    UnsupportedVersion, NotFound, Conflict, WorkerLost)}


def error_for(header: Header, message: str) -> RecPoolError:
    """The typed exception for a reply whose status is not ``OK``."""
    cls = _BY_STATUS.get(Status(header.status), ProtocolViolation)
    return cls(message, header)
