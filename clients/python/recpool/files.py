"""Reading the files a caller names (an upload, a schema, a key file, an exported log) the way the ``recpool``
binaries read them (``Sources/Files/AtomicFile.swift``): a path only, never a file descriptor; a regular file or a
pipe, never a device; and a named FIFO that no writer opens within a few seconds is refused instead of blocking
for ever.
"""
from __future__ import annotations

import os
import select
import stat
from typing import Callable, Optional

from .errors import InvalidRequest

#: How long a named FIFO may show no sign of a writer (no byte, no close) before the read is refused, in seconds:
#: the binaries' wait (``AtomicFile.defaultPipeWaitMilliseconds``).
PIPE_WAIT_SECONDS = 5.0

_CHUNK = 1 << 16


def checked_path(path, what: str) -> str:
    """``path`` as a string, or ``InvalidRequest`` naming ``what`` when it is no path.

    An ``int`` (or ``bool``) is refused: ``open(5)`` opens file descriptor 5 and closes it afterwards (a
    ZeroMQ socket's, or standard output for ``True``).
    """
    if isinstance(path, bool) or not isinstance(path, (str, bytes, os.PathLike)):
        raise InvalidRequest(f"{what} must be a file's path (str or os.PathLike), got {type(path).__name__}")
    name = os.fspath(path)
    return os.fsdecode(name) if isinstance(name, bytes) else name


def read_bytes(path, what: str, *, wait: Optional[float] = None,
               error: Callable[[str], Exception] = InvalidRequest) -> bytes:
    """The whole content of the file at ``path``.

    Args:
        path: a ``str``, ``bytes`` or ``os.PathLike`` path.
        what: what the file is, for messages ("the upload", "the schema").
        wait: the longest wait for a named FIFO's first sign of a writer, in seconds (default
            :data:`PIPE_WAIT_SECONDS`; a caller's smaller timeout is passed here).
        error: the exception type to raise for a file that cannot be read (given the message).

    Raises:
        InvalidRequest: ``path`` is no path; or (as ``error``) the file is missing or unreadable, a directory, a
            device or a socket, or a FIFO no writer opened within ``wait`` seconds. The message names the file.
    """
    name = checked_path(path, what)
    try:
        mode = os.stat(name).st_mode
    except OSError as failure:
        raise error(f"cannot read {what} {name}: {failure.strerror}") from None
    if stat.S_ISDIR(mode):
        raise error(f"cannot read {what} {name}: it is a directory")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise error(f"cannot read {what} {name}: it is not a regular file or a pipe (a device or a socket)")
    try:
        if stat.S_ISFIFO(mode):
            return _read_pipe(name, what, PIPE_WAIT_SECONDS if wait is None else max(0.0, wait), error)
        with open(name, "rb") as handle:
            return handle.read()
    except OSError as failure:
        raise error(f"cannot read {what} {name}: {failure.strerror}") from None


def _read_pipe(name: str, what: str, wait: float, error: Callable[[str], Exception]) -> bytes:
    # open(2) of a FIFO blocks until a writer opens it: opened without blocking, then polled. Until a writer has
    # come, Linux reports neither data nor a hang-up, so the first wait is bounded; a writer slow between two sends
    # is waited for, as the binaries wait.
    descriptor = os.open(name, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(descriptor, select.POLLIN)
        chunks = []
        first = True
        while True:
            if not poller.poll(int(wait * 1000) if first else None):
                raise error(f"cannot read {what} {name}: it is a pipe (FIFO) and no writer sent anything or closed "
                            f"it within {wait:g} s")
            first = False
            try:
                chunk = os.read(descriptor, _CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(descriptor)


def read_text(path, what: str, *, encoding: str = "utf-8",
              error: Callable[[str], Exception] = InvalidRequest) -> str:
    """The file's text, read as :func:`read_bytes` reads it; a file that is not ``encoding`` raises ``error``."""
    data = read_bytes(path, what, error=error)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as failure:
        raise error(f"{what} {checked_path(path, what)} is not {encoding} text: {failure}") from None
