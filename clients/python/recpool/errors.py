"""Typed errors: one exception class per reply status of docs/PROTOCOL.md, plus the client's own.

Every broker or worker refusal is a :class:`RecPoolError` subclass carrying the status code, the
message the peer sent (which names the problem) and the reply header's fields.
"""
from __future__ import annotations

import errno
from typing import Optional

from .wire import Header, Status


class RecPoolError(Exception):
    """Base class of every error this package raises about a request.

    Attributes:
        status: the protocol status (:class:`~recpool.wire.Status`), or ``None`` for client-side errors.
        message: the peer's UTF-8 message naming the problem (or the client's own).
        header: the reply header, when there was a reply.
        batch: for an error about one batch of ``score_many`` (a refusal of its request, a reply that breaks the
            protocol, or the client's own refusal of the batch), the batch's 0-based index, which the message names
            too (``score_many batch 3: …``); ``None`` otherwise.
    """

    status: Optional[Status] = None
    batch: Optional[int] = None

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
        # A reply with no text said "BAD_REQUEST: " and nothing else; its control characters (an escape sequence from
        # a faulty peer) would act on a terminal.
        if not self.message:
            return f"{name} (the reply carried no message)"
        return f"{name}: {_escaping_controls(self.message)}"


def _escaping_controls(text: str) -> str:
    """``text`` with its C0 controls but tab and line feed, DEL and the C1 controls written as ``\\u{XX}``, as the
    broker writes them in its own error texts (docs/PROTOCOL.md)."""
    def shown(ch: str) -> str:
        code = ord(ch)
        if (code < 0x20 and ch not in "\n\t") or 0x7F <= code <= 0x9F:
            return "\\u{%X}" % code
        return ch
    return "".join(shown(ch) for ch in text)


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


class HandshakeFailed(RecPoolError, ConnectionError):
    """The security handshake with the broker failed, so no reply can come (docs/SECURITY.md): ``reason`` is
    ``"refused"`` (the broker's ZAP handler refused this client's CURVE key; ``code`` the ZAP status, 400),
    ``"protocol"`` (``code`` a ``ZMQ_PROTOCOL_ERROR_*`` value, such as 0x11000002 when only one side uses CURVE) or
    ``"closed"`` (the broker closed the connection mid-handshake, as for a ``server_key`` that is not its key;
    ``code`` the errno). The first two fail every waiting call at once; ``"closed"`` is raised instead of
    :class:`Timeout` when a call's time runs out while libzmq keeps retrying."""

    def __init__(self, message: str, *, reason: str, code: int):
        super().__init__(message)
        self.reason = reason
        self.code = code


class TooManyOpenFiles(RecPoolError, OSError):
    """This process has run out of file descriptors (``EMFILE``, ``errno`` set; ``ENFILE`` when the whole system has):
    libzmq could not open a client's socket, or the connection to the broker, so a call could not be sent. Every
    open client holds a few (its socket, its handshake monitor, the connection): close the clients you no longer use,
    or raise the limit (``ulimit -n``)."""

    def __init__(self, message: str, code: int = errno.EMFILE):
        super().__init__(message)
        self.errno = code


class ProtocolViolation(RecPoolError):
    """A reply that does not follow docs/PROTOCOL.md; the message says how."""


class Closed(RecPoolError):
    """A call on a client after :meth:`~recpool.Client.close`, or one still waiting when the client was closed."""


class InvalidRequest(RecPoolError, ValueError):
    """Refused by the client before sending (wrong shape, NaN, bad argument); names the problem."""


class DatasetFormatError(InvalidRequest):
    """A local feature-matrix CSV that ``train`` refuses before uploading it, as ``recpool train --dataset FILE.csv``
    refuses it (a job on it would fail on the workers). The message is the CLI's, naming the file, the 1-based line
    (the header is line 1, blank lines count) and the 1-based column, e.g. ``nan.csv:3:1: not a finite number:
    "nan"``.

    Attributes:
        path: the file, as given.
        line: the 1-based line of the problem, or ``None`` for a problem of the whole file (no data rows, no feature
            column, JSON).
        column: the 1-based column (field) number, or ``None`` when the problem is not one field's (a ragged row).
        column_name: that column's name in the header, when it has one.
        text: the offending field (spaces and tabs around it removed), or ``None``.
    """

    def __init__(self, message: str, *, path: str, line: Optional[int] = None, column: Optional[int] = None,
                 column_name: Optional[str] = None, text: Optional[str] = None):
        super().__init__(message)
        self.path = path
        self.line = line
        self.column = column
        self.column_name = column_name
        self.text = text


class JobFailed(RecPoolError):
    """A followed training job ended ``failed`` or ``cancelled``; ``job`` holds its last state."""

    def __init__(self, message: str, job: dict):
        super().__init__(message)
        self.job = job


class ExportFormatError(ValueError):
    """A file :func:`recpool.frames.read_export` refuses: not an impression log as ``recpool logs export`` (or the
    Open Bandit Dataset) writes one. Raised before any DataFrame is returned, for the first problem in file order.

    The message names the file, the 1-based line (the header is line 1, blank lines count, and a record whose
    quoted field spans lines is named by the line it starts on, as the Swift CLI names CSV lines), the column
    and the offending text, and says what the column must hold, e.g.
    ``impressions.csv, line 7, column 'click': '2' is not 0 or 1: a click is 0 or 1 (or blank on an unobserved
    row)``.

    Attributes:
        path: the file, as given.
        line: the 1-based file line of the problem; ``None`` only when no line can be named (an empty file is
            named at line 1).
        column: the column's name as the header writes it, or ``None`` when the problem is not one column's (a
            file that is not UTF-8, an unclosed quote).
        text: the offending field's text, or ``None`` for a problem of the header or of a row's shape.
        reason: what is wrong, without the file, line and column.
    """

    def __init__(self, path: str, line: Optional[int], column: Optional[str], reason: str,
                 text: Optional[str] = None):
        where = path if line is None else f"{path}, line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {reason}" if text is None else f"{where}: {text!r} {reason}")
        self.path = path
        self.line = line
        self.column = column
        self.text = text
        self.reason = reason


class ExportPathError(ExportFormatError, InvalidRequest):
    """:func:`recpool.frames.read_export`'s refusal of a ``path`` that is no path (an ``int``, ``None``): an
    :class:`ExportFormatError`, as read_export documents its refusals, and the :class:`InvalidRequest` it was before.
    ``path`` is the argument's repr; ``line``, ``column`` and ``text`` are ``None``."""

    def __str__(self) -> str:
        return self.message


_BY_STATUS = {cls.status: cls for cls in (
    BadRequest, TooLarge, Busy, Expired, Cancelled, NoWorker, Unauthorized, Internal,
    UnsupportedVersion, NotFound, Conflict, WorkerLost)}


def error_for(header: Header, message: str) -> RecPoolError:
    """The typed exception for a reply whose status is not ``OK``."""
    cls = _BY_STATUS.get(Status(header.status), ProtocolViolation)
    return cls(message, header)
