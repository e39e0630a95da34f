"""The synchronous client: one DEALER socket, many requests in flight, replies matched by id."""
from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import os
import threading
import time
import uuid
from typing import Iterable, Iterator, List, Optional

import zmq

from . import operations as ops
from . import handshake
from .errors import (Busy, Closed, InvalidRequest, JobFailed, ProtocolViolation, RecPoolError, Timeout, TooManyOpenFiles,
                     error_for)
from .keys import apply_curve
from .results import TERMINAL_JOB_STATES, FeedbackAck, Health, Scores, Slate
from .wire import (REPLY_BIT, Command, Header, MalformedReply, Status, cancel_payload, decode_header, resolve_endpoint,
                   salvage_request_id, unresolved_host)

# Plain ints: combining pyzmq's enum flags costs an enum construction per send.
_MORE, _NOBLOCK, _EVENTS, _POLLIN = int(zmq.SNDMORE), int(zmq.NOBLOCK), int(zmq.EVENTS), int(zmq.POLLIN)

_OUT_OF_FILES = (errno.EMFILE, errno.ENFILE)


def out_of_files(what: str, code: int = errno.EMFILE) -> TooManyOpenFiles:
    """The error for ``what`` (a sentence's start, such as ``could not send STATUS to …``) failing because the
    process (``EMFILE``) or the system (``ENFILE``) has no file descriptor left, with the limit when it is known."""
    if code == errno.ENFILE:
        whose = "the system has no file descriptor left"
    else:
        try:
            import resource  # Unix only
            limit = f" (its limit, ulimit -n, is {resource.getrlimit(resource.RLIMIT_NOFILE)[0]})"
        except (ImportError, OSError, ValueError):
            limit = ""
        whose = f"this process has no file descriptor left{limit}"
    return TooManyOpenFiles(
        f"{what}: too many open files: {whose}, so libzmq cannot open a socket or a connection. Every open client "
        "holds a few file descriptors (its socket, its handshake monitor, its connection): close the clients you no "
        "longer use (close(), or `with` / `async with`), or raise the limit", code)


_INHERITED: list = []


def keep_inherited(*objects) -> None:
    """Keeps a parent process's sockets (and what goes with them) for good in a forked child that replaced them:
    collected, pyzmq would close them, which a child must not do (an asyncio socket's close also unregisters it from
    the event loop's selector, the parent's own epoll instance when the child was forked from a running loop)."""
    _INHERITED.append(objects)


def close_monitored(socket, monitor) -> None:
    """Closes a socket and its handshake monitor: the socket's monitor is stopped first (``zmq_socket_monitor`` with
    no endpoint), which closes libzmq's own end of the monitor pair. Closed without it, that end stayed open with its
    descriptors: a process that opened and closed a hundred clients before their first reply held ~300 descriptors and
    no new socket of it connected any more."""
    if monitor is not None:
        try:
            socket.disable_monitor()
        except zmq.ZMQError:
            pass
        monitor.close(0)
    socket.close(0)


def files_exhausted() -> Optional[int]:
    """``EMFILE`` or ``ENFILE`` when this process cannot open one more file descriptor now, else None: why libzmq could
    not connect a socket (its I/O thread retries in silence, and a call waits for a connection that never comes)."""
    try:
        descriptor = os.open(os.devnull, os.O_RDONLY)
    except OSError as error:
        return error.errno if error.errno in _OUT_OF_FILES else None
    os.close(descriptor)
    return None


class _Base:
    """Settings and request framing shared by :class:`Client` and :class:`~recpool.AsyncClient`."""

    def __copy__(self):
        # A copy shared the socket: closing it broke the original with a raw ZMQError ("Socket operation on
        # non-socket"), and deepcopy or pickle raised a bare TypeError.
        raise InvalidRequest(f"a {type(self).__name__} cannot be copied (it owns a socket): open another "
                             f"{type(self).__name__}(endpoint) instead")

    def __deepcopy__(self, memo):
        self.__copy__()

    def __reduce_ex__(self, protocol):
        raise InvalidRequest(f"a {type(self).__name__} cannot be pickled (it owns a socket): pass its endpoint and "
                             f"open a {type(self).__name__} where it is used")

    def __init__(self, endpoint: str, *, timeout: float = 5.0, grace: float = 1.25, busy_retries: int = 3,
                 server_key=None, client_key=None, max_rows: int = ops.DEFAULT_MAX_ROWS):
        """Checks the options (``InvalidRequest`` naming the option and its rule): ``endpoint``
        ``tcp://HOST:PORT`` (port 1-65535, IPv6 in brackets), ``ipc://PATH`` or ``inproc://NAME``; ``timeout``
        finite seconds in (0, 1e9], ``grace`` finite seconds in [0, 1e9], ``busy_retries`` an int ≥ 0,
        ``max_rows`` an int in 1…8,192 (the broker's fixed row limit: more rows would be ``TOO_LARGE``)."""
        try:
            self._zmq_endpoint, self._ipv6 = resolve_endpoint(endpoint)
        except ValueError as error:
            raise InvalidRequest(str(error)) from None
        self.endpoint = endpoint
        self.timeout = ops.seconds(timeout, "timeout")
        self.grace = ops.number(grace, "grace", 0, ops.MAX_SECONDS)
        self.busy_retries = ops.integer(busy_retries, "busy_retries", 0)
        self.max_rows = ops.integer(max_rows, "max_rows", 1, ops.DEFAULT_MAX_ROWS)
        self._curve = (server_key, client_key)
        self._ids = itertools.count(1)

    def _configure(self, socket) -> None:
        """LINGER 0 (a closed client leaves nothing queued), ``ZMQ_IMMEDIATE`` (a message is queued only to a
        completed connection: with the broker down, a call cannot be sent and ends in ``Timeout``, instead of
        waiting in the socket and running whenever the broker comes back, long after the caller was told it
        failed), CURVE when keys were given, ``ZMQ_IPV6`` for an IPv6 endpoint (PROTOCOL.md, "Transport"), then
        the connect; a connect libzmq refuses is ``InvalidRequest`` naming the endpoint."""
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.IMMEDIATE, 1)
        apply_curve(socket, *self._curve)
        if self._ipv6:
            socket.setsockopt(zmq.IPV6, 1)
        try:
            socket.connect(self._zmq_endpoint)
        except zmq.ZMQError as error:
            if error.errno in _OUT_OF_FILES:
                raise out_of_files(f"cannot connect to {self.endpoint}", error.errno) from None
            raise InvalidRequest(f"cannot connect to {self.endpoint}: {error.strerror}") from None

    def _instance_context(self, kind=zmq.Context):
        """``kind.instance()``, the process's shared context (pyzmq makes a new one in a forked child); a process out of
        file descriptors gets :class:`~recpool.TooManyOpenFiles` (a context opens one)."""
        try:
            return kind.instance()
        except zmq.ZMQError as error:
            if error.errno in _OUT_OF_FILES:
                raise out_of_files(f"cannot open a ZeroMQ context for {self.endpoint}", error.errno) from None
            raise

    def _open_socket(self) -> None:
        """A new DEALER in ``self._context`` with a monitor on its handshakes (:mod:`recpool.handshake`), configured
        and connected: sets ``_socket``, ``_monitor`` and a fresh ``_handshake``. A process out of file descriptors
        gets :class:`~recpool.TooManyOpenFiles`."""
        try:
            socket = self._context.socket(zmq.DEALER)
        except zmq.ZMQError as error:
            if error.errno in _OUT_OF_FILES:
                raise out_of_files(f"cannot open a socket for {self.endpoint}", error.errno) from None
            raise
        monitor = None
        try:
            # A name of its own: pyzmq's default (``inproc://monitor.s-FD``) is taken again by a socket that gets the
            # descriptor number of one closed but not yet torn down, and binding it failed "Address already in use".
            monitor = socket.get_monitor_socket(handshake.EVENTS, addr=f"inproc://recpool-monitor-{uuid.uuid4().hex}")
            self._configure(socket)
        except Exception as error:
            close_monitored(socket, monitor)
            if isinstance(error, zmq.ZMQError) and error.errno in _OUT_OF_FILES:
                raise out_of_files(f"cannot open a socket for {self.endpoint}", error.errno) from None
            raise
        self._socket, self._monitor = socket, monitor
        self._pid = os.getpid()
        self._handshake = handshake.HandshakeState(self.endpoint, curve=self._curve != (None, None))

    def _forked(self) -> bool:
        """Whether this process is a fork of the one that opened the socket (``multiprocessing`` with fork,
        ``os.fork``): ZeroMQ's contexts and sockets must not cross a fork, so the child never uses the parent's, nor
        closes them (that is the parent's to do); it opens its own instead."""
        return self._pid != os.getpid()

    def _unsent(self, call: ops.Call) -> RecPoolError:
        """The error for a call the socket could not take by its deadline (``ZMQ_IMMEDIATE``: no connection): the
        handshake failure libzmq is retrying past, if there is one; :class:`~recpool.TooManyOpenFiles` when the
        process has no file descriptor left for the connection; else :class:`~recpool.Timeout`, naming a host name
        that does not resolve."""
        what = f"could not send {call.command.name} to {self.endpoint} within its deadline"
        failure = self._handshake.fresh_error()
        if failure is not None:
            return failure
        code = files_exhausted()
        if code is not None:
            return out_of_files(what, code)
        unresolved = unresolved_host(self.endpoint)
        return Timeout(f"{what} (no connection: {unresolved})" if unresolved else f"{what} (no connection)")

    def _deadline_ms(self, call: ops.Call, started: float) -> int:
        """The deadline of one request of a call that started at ``started`` (epoch seconds), in epoch ms: the call's
        ``deadline``, else ``started`` plus its ``timeout`` (the client's by default). Every request of one call (the
        parts of a split ``score`` and the second pass of those another version answered, ``score_many``'s batches,
        an upload's chunks, a log's pages, a BUSY retry) carries the one deadline fixed when the call started, so a
        call ends within its ``timeout`` (plus ``grace``) however many requests it sends."""
        if call.deadline is not None:
            return max(1, int(call.deadline * 1000))
        timeout = call.timeout if call.timeout is not None else self.timeout
        return int(started * 1000 + timeout * 1000)

    def _frames(self, call: ops.Call, request_id: int, deadline_ms: int) -> list:
        header = Header(int(call.command), request_id, call.flags, deadline_ms, call.model_version).encode()
        return [header, *call.payload]

    @staticmethod
    def _give_up_at(deadline_ms: int, grace: float, started: float) -> float:
        """The monotonic time to stop waiting for a request of a call that started at ``started`` (epoch seconds):
        the deadline plus ``grace`` (the call's start plus ``grace`` for a deadline already past then). A queued
        request's EXPIRED comes from the broker at the deadline, so within the grace; a request a worker sits on is
        answered EXPIRED by the broker only 1 s after its deadline, and the client raises Timeout (and sends CANCEL)
        before that. A request the call sends late (a split score's next part) gets no grace of its own past the
        call's: the call ends by then."""
        return time.monotonic() + max(started, deadline_ms / 1000) - time.time() + grace

    @staticmethod
    def _read(frames) -> tuple:
        """``(header, payload)`` of a received message, or raises ProtocolViolation."""
        if not frames:
            raise ProtocolViolation("an empty message")
        try:
            header = decode_header(frames[0].bytes if hasattr(frames[0], "bytes") else frames[0])
        except MalformedReply as error:
            raise ProtocolViolation(str(error)) from None
        if not header.is_reply:
            # A broker's backend talks to workers (a DISCONNECT to a stranger): no call's answer comes from it.
            raise ProtocolViolation(
                f"the peer sent a {header.command_name} that is not a reply: is the endpoint the broker's worker "
                "(backend) endpoint instead of its client (frontend) one?")
        payload = [f.buffer if hasattr(f, "buffer") else f for f in frames[1:]]
        return header, payload

    @staticmethod
    def _salvaged_id(frames) -> Optional[int]:
        """The request id a malformed reply names (bytes 8-15 of a frame 0 starting ``RPL``), or None; None for a
        message that is not a reply, which answers no call."""
        if not frames:
            return None
        first = frames[0].bytes if hasattr(frames[0], "bytes") else frames[0]
        if len(first) > 4 and first[:3] == b"RPL" and not first[4] & REPLY_BIT:
            return None
        return salvage_request_id(first)

    @staticmethod
    def _check_reply(header: Header, call: ops.Call) -> None:
        """Raises ProtocolViolation unless the reply's command byte is the request's with the reply bit set
        (PROTOCOL.md: the reply to ``SCORE`` is ``0x81``)."""
        expected = int(call.command) | REPLY_BIT
        if header.command != expected:
            raise ProtocolViolation(f"the reply to {call.command.name} (request {header.request_id}) has command byte "
                                    f"0x{header.command:02x}, expected 0x{expected:02x}", header)

    @staticmethod
    def _error(header: Header, payload, call: ops.Call) -> RecPoolError:
        """The error for ``call``'s reply of a status other than OK: the peer's message, a row it names counted among
        all the rows of a split ``score`` (``call.first_row``), and the batch of a ``score_many`` named
        (``call.batch``, see :func:`recpool.operations.in_batch`)."""
        # An error reply carries exactly one payload frame, its message (PROTOCOL.md, "Status codes"): one with
        # none or several breaks the protocol, as the Swift client says too.
        if len(payload) != 1:
            return ops.in_batch(ProtocolViolation(
                f"a {Status(header.status).name} reply with {len(payload)} payload frames instead of one message",
                header), call.batch)
        message = ops.renumbering_row(bytes(payload[0]).decode("utf-8", "replace"), call.first_row)
        if not message:
            message = "(the reply carried no message)"
        return ops.in_batch(error_for(header, message), call.batch)


_POLL_MS_MAX = 2**31 - 1
"""The longest one ``zmq_poll`` waits, in ms (a C int): a longer wait, which a timeout up to 1e9 s asks for, is
taken as several polls (the loop around each poll checks the time again)."""


#: The longest a waiting sync call goes without looking whether another thread closed its client, in seconds: it
#: then raises Closed (and closes the socket, which only the thread using it may do) within this long.
CLOSE_CHECK_SECONDS = 0.05

#: How long ``Client.close`` waits for another thread's call to see the close and end, in seconds.
CLOSE_WAIT_SECONDS = 1.0


def _poll_ms(seconds: float, *, at_least: int, extra: int = 0) -> int:
    """``seconds`` as a ``zmq_poll`` timeout: whole ms plus ``extra``, at least ``at_least``, at most
    :data:`_POLL_MS_MAX` (beyond it pyzmq raised ``OverflowError``)."""
    return min(_POLL_MS_MAX, max(at_least, int(seconds * 1000) + extra))


class Client(_Base):
    """A blocking RecPool client (protocol v1, docs/PROTOCOL.md). Not thread-safe: use one per thread,
    or :class:`~recpool.AsyncClient` (only :meth:`close` may come from another thread: the call waiting there raises
    :class:`~recpool.Closed`). A client inherited by a forked process (``multiprocessing`` with fork) opens
    its own socket there at its first call.

    Args:
        endpoint: the broker's frontend, such as ``tcp://127.0.0.1:5555``.
        timeout: default seconds per call; the call's deadline (fixed when it starts, the same for every request of
            a call made of several), sent to the broker as each request's deadline.
        grace: extra seconds to wait past a deadline for the broker's own EXPIRED before raising
            :class:`~recpool.Timeout` (and sending CANCEL).
        busy_retries: how many times a call refused BUSY is resent (after the broker's
            ``retry_after_ms``, within the deadline), for the calls where the protocol makes that safe.
        server_key, client_key: CURVE: the broker's public key (``.pub`` file or Z85) and this peer's
            ``.key`` file, as ``recpool keygen`` writes them.
        max_rows: rows per SCORE request (the broker's limit); bigger batches go as several requests.
    """

    def __init__(self, endpoint: str = "tcp://127.0.0.1:5555", **options):
        super().__init__(endpoint, **options)
        self._context = self._instance_context()
        self._closed = False
        self._released = False  # the socket closed (by close(), or by the call that was running when it came)
        # Guards which thread's call runs (``_caller``, its thread id, or None): one socket serves one call at a time
        # (ZeroMQ sockets are not thread-safe), and a close() that comes while a call runs leaves the socket to it.
        self._state = threading.Condition()
        self._caller: Optional[int] = None
        self._open()

    def _open(self) -> None:
        """A new socket (:meth:`_Base._open_socket`) and the poller over it and its handshake monitor."""
        self._open_socket()
        self._poller = zmq.Poller()
        self._poller.register(self._socket, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)

    def _close_socket(self) -> None:
        if self._forked():  # a forked child leaves the parent's socket alone
            keep_inherited(self._socket, self._monitor, self._poller)
        else:
            close_monitored(self._socket, self._monitor)

    def _reopen_if_forked(self) -> None:
        """In a forked child, a new context and socket for this process (see :meth:`_Base._forked`): a call on the
        parent's socket hung for good in libzmq, whatever its timeout. The parent's socket is left untouched."""
        if self._forked():
            keep_inherited(self._socket, self._monitor, self._poller)
            self._context = self._instance_context()  # pyzmq makes a new one in a new process
            self._open()

    def _watch_handshakes(self) -> None:
        """Reads the monitor's events without blocking; raises HandshakeFailed when libzmq ended the session."""
        while True:
            try:
                frames = self._monitor.recv_multipart(_NOBLOCK)
            except zmq.Again:
                return
            if self._handshake.apply(frames) is not None:
                raise self._handshake.fresh_error()

    def _reopen_if_refused(self) -> None:
        """After a session libzmq ended (a refused or broken handshake), a new socket for the next call, no sooner
        than :data:`recpool.handshake.REOPEN_INTERVAL` after the failure; a call before that raises the failure."""
        reopen_at = self._handshake.reopen_at
        if reopen_at is None:
            return
        if time.monotonic() < reopen_at:
            # Within a second of the refusal: the call fails at once as the waiting ones did, never waiting (perhaps
            # past its own deadline) for the next attempt.
            raise self._handshake.fresh_error()
        self._close_socket()
        self._open()

    def _no_reply(self, what: str) -> RecPoolError:
        """The error for a call whose time ran out: the handshake failure libzmq is retrying past, if there is one,
        else Timeout."""
        return self._handshake.fresh_error() or Timeout(what)

    def close(self) -> None:
        """Closes the socket; requests still outstanding are abandoned. A call after this raises
        :class:`~recpool.Closed`, and so does a call another thread is running (within
        :data:`CLOSE_CHECK_SECONDS`, after sending CANCEL for its outstanding requests).

        Safe from another thread while a call runs: a ZeroMQ socket must not be closed under the thread using it (the
        call raised a bare ``ZMQError`` "Socket operation on non-socket", and libzmq may abort), so the call closes it
        as it ends; ``close`` waits up to :data:`CLOSE_WAIT_SECONDS` for that (not when it runs in the call's own
        thread, from a signal handler)."""
        self._fresh_state_if_forked()
        with self._state:
            self._closed = True
            if self._caller is None:
                self._release_socket()
            elif self._caller != threading.get_ident():
                self._state.wait_for(lambda: self._caller is None, CLOSE_WAIT_SECONDS)

    def _fresh_state_if_forked(self) -> None:
        """In a forked child (see :meth:`_Base._forked`), a new ``_state`` and no call running: forked during another
        thread's call, the child has no such thread, so that call never ends here (and the lock may be held for
        good). The child opens its own socket at its first call (:meth:`_reopen_if_forked`)."""
        if self._forked():
            self._state = threading.Condition()
            self._caller = None

    def _release_socket(self) -> None:
        """Closes the socket once (with ``_state`` held, no call running)."""
        if not self._released:
            self._released = True
            self._close_socket()

    def _closed_while_waiting(self) -> None:
        """Raises Closed once another thread closed the client during this call."""
        if self._closed:
            raise Closed(f"the client of {self.endpoint} was closed while the call waited")

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ the engine

    def _send(self, frames: list, give_up_at: Optional[float] = None) -> bool:
        """Sends a message without ever blocking past ``give_up_at`` (a DEALER blocks while it has no
        connection, e.g. while a CURVE handshake is refused). Returns False if it could not be sent by
        then; with no ``give_up_at`` it only tries once. Once libzmq takes the first frame of a message
        it takes the rest, so only the first is sent without blocking."""
        last = len(frames) - 1
        while True:
            try:
                self._socket.send(frames[0], (_MORE if last else 0) | _NOBLOCK)
                break
            except zmq.Again:
                now = time.monotonic()
                if give_up_at is None or now >= give_up_at:
                    return False
                zmq.select([self._monitor], [self._socket], [], min(CLOSE_CHECK_SECONDS, max(0.001, give_up_at - now)))
                self._watch_handshakes()
                self._closed_while_waiting()
        for index in range(1, last + 1):
            frame = frames[index]
            self._socket.send(frame, _MORE if index < last else 0)
        return True

    def _cancel(self, request_id: int) -> None:
        """Sends CANCEL for a request given up on, if the socket can take it now (best effort: a socket
        that cannot take it is not an error, since the broker drops the request at its deadline anyway)."""
        header = Header(int(Command.CANCEL), next(self._ids)).encode()
        try:
            self._send([header, cancel_payload(request_id)])
        except zmq.ZMQError:
            pass

    def _run(self, calls: Iterable[ops.Call], window: Optional[int] = None, started: Optional[float] = None,
             max_bytes: Optional[int] = None) -> list:
        """Sends the calls, at most ``window`` outstanding (all at once without one) and, with ``max_bytes``, at most
        that many request bytes outstanding (:func:`recpool.operations.request_bytes`; one request at least), waits
        for every reply and returns the parsed results in order. ``calls`` may be any iterable, even a lazy one: the next
        call is taken when a reply frees a place. Each request's deadline is fixed by ``started``, the epoch
        seconds the client's call started (now by default; see :meth:`_Base._deadline_ms`). The first failure
        cancels what is still outstanding and is raised, whatever it is: an error reply, a malformed reply
        (``ProtocolViolation``), a call the iterable refuses when it is taken (``InvalidRequest``), a ``Timeout``,
        ``Closed`` (another thread closed the client), even ``KeyboardInterrupt``."""
        if started is None:
            started = time.time()
        if self._closed:
            raise Closed(f"the client of {self.endpoint} is closed")
        self._reopen_if_forked()
        self._reopen_if_refused()
        source = iter(calls)
        taken: List[ops.Call] = []
        results: dict = {}
        pending = {}  # request id -> [index, deadline_ms, give_up_at, tries]
        retry_heap: list = []  # (monotonic time, index, deadline_ms, tries)
        # The request bytes outstanding, and a call taken from the source that waits for room under ``max_bytes``.
        held = [0, None]

        def dispatch(index, deadline_ms, tries):
            request_id = next(self._ids)
            give_up_at = self._give_up_at(deadline_ms, self.grace, started)
            if not self._send(self._frames(taken[index], request_id, deadline_ms), give_up_at):
                raise self._unsent(taken[index])
            pending[request_id] = [index, deadline_ms, give_up_at, tries]
            held[0] += ops.request_bytes(taken[index])

        def answered(index):
            held[0] -= ops.request_bytes(taken[index])

        def take_next() -> bool:
            call = held[1] if held[1] is not None else next(source, None)
            if call is None:
                return False
            # Past the broker's --client-bytes every further request is BUSY (16 full batches of 133 features are 70
            # MB against 64 MiB): the call waits for replies to free room, unless nothing is outstanding.
            if max_bytes is not None and pending and held[0] + ops.request_bytes(call) > max_bytes:
                held[1] = call
                return False
            held[1] = None
            taken.append(call)
            dispatch(len(taken) - 1, self._deadline_ms(call, started), 0)
            return True

        def fill():
            while (window is None or len(pending) < window) and take_next():
                pass

        try:
            fill()
            while pending or retry_heap:
                self._closed_while_waiting()
                now = time.monotonic()
                while retry_heap and retry_heap[0][0] <= now:
                    _, index, deadline_ms, tries = heapq.heappop(retry_heap)
                    dispatch(index, deadline_ms, tries)
                # Woken at least every CLOSE_CHECK_SECONDS, to see a close() from another thread.
                wake = min([p[2] for p in pending.values()] + [r[0] for r in retry_heap[:1]]
                           + [now + CLOSE_CHECK_SECONDS])
                if not pending:
                    time.sleep(max(0.0, wake - now))
                elif self._socket.getsockopt(_EVENTS) & _POLLIN or (
                        self._poller.poll(_poll_ms(wake - now, at_least=0, extra=1))
                        and self._watch_handshakes() is None):
                    while True:
                        try:
                            frames = self._socket.recv_multipart(_NOBLOCK, copy=False)
                        except zmq.Again:
                            break
                        try:
                            header, payload = self._read(frames)
                        except ProtocolViolation:
                            salvaged = self._salvaged_id(frames)
                            if salvaged is not None:
                                if pending.pop(salvaged, None) is None:
                                    continue  # a late reply to a request given up on, malformed or not
                            raise  # answered, malformed: the others are cancelled (a message naming no
                            # request may have been the answer to any of them)
                        entry = pending.pop(header.request_id, None)
                        if entry is None:
                            continue  # a CANCEL's reply, or a late reply to a request given up on
                        index, deadline_ms, _, tries = entry
                        answered(index)
                        try:
                            self._check_reply(header, taken[index])
                        except ProtocolViolation as error:  # named by its batch, as a refusal of it is
                            raise ops.in_batch(error, taken[index].batch) from None
                        if header.status == Status.OK:
                            results[index] = taken[index].parse(ops.Reply(header, payload))
                            if window is not None or max_bytes is not None:
                                fill()
                            continue
                        error = self._error(header, payload, taken[index])
                        retry_at = time.monotonic() + max(header.retry_after_ms / 1000, 0.005)
                        if (header.status == Status.BUSY and taken[index].retry_busy and tries < self.busy_retries
                                and retry_at < deadline_ms / 1000 - time.time() + time.monotonic()):
                            heapq.heappush(retry_heap, (retry_at, index, deadline_ms, tries + 1))
                            if window is not None or max_bytes is not None:
                                fill()  # the refused request's bytes are free until its retry
                            continue
                        raise error
                now = time.monotonic()
                for request_id, (index, deadline_ms, give_up_at, _) in list(pending.items()):
                    if give_up_at <= now:
                        raise self._no_reply(f"no reply to {taken[index].command.name} within its deadline "
                                             f"(+{self.grace:.2f} s grace) from {self.endpoint}")
        except BaseException:
            for request_id in list(pending):
                self._cancel(request_id)
            pending.clear()
            raise
        return [results[index] for index in range(len(taken))]

    @contextlib.contextmanager
    def _call(self):
        """Holds the client for one call of this thread; yields the epoch seconds the call started (every request
        of it gets the deadline that fixes, :meth:`_Base._deadline_ms`). As the call ends, closes the socket if a
        ``close()`` came meanwhile (it left the socket to this thread).

        Raises:
            InvalidRequest: another thread's call on this client is running. A client serves one call at a time (its
                socket is not thread-safe); shared by threads, each dropped the others' replies as late and every call
                waited out its deadline. Give each thread its own Client, or use an AsyncClient.
            Closed: the client is closed.
        """
        self._fresh_state_if_forked()
        with self._state:
            if self._caller is not None:
                raise InvalidRequest("this Client is running another thread's call: a Client serves one thread at a "
                                     "time (give each thread its own Client, or use an AsyncClient)")
            if self._closed:
                raise Closed(f"the client of {self.endpoint} is closed")
            self._caller = threading.get_ident()
        try:
            yield time.time()
        finally:
            with self._state:
                self._caller = None
                if self._closed:
                    self._release_socket()
                self._state.notify_all()

    def _drive(self, plan):
        """Runs a Call, or a generator of lists of calls (operations.py), to its result, as one call (see
        :meth:`_call`: one thread's, one deadline)."""
        with self._call() as started:
            if isinstance(plan, ops.Call):
                return self._run([plan], started=started)[0]
            try:
                calls = next(plan)
                while True:
                    # A refusal goes into the plan, which may answer it (health's RECOMMEND probe) or let it out.
                    try:
                        results = self._run(calls, getattr(calls, "window", None), started)
                    except RecPoolError as error:
                        calls = plan.throw(error)
                        continue
                    calls = plan.send(results)
            except StopIteration as stop:
                return stop.value

    # ------------------------------------------------------------ serving

    def score(self, rows, *, min_version: Optional[int] = None, exact_version: Optional[int] = None,
              timeout: Optional[float] = None, deadline: Optional[float] = None) -> Scores:
        """Click probabilities for ``rows`` (``rows × features``, float32 preferred: other dtypes are
        converted in one numpy copy).

        More rows than one request may hold (``max_rows``, or fewer when the rows are so wide that a
        request would pass the 16 MiB message limit) go as several requests at once; all of the call's
        rows are scored by one model version, ``Scores.model_version``, and by one model: when the model serving
        that number changes during the call (STATUS before and after; version 0 names every unregistered model,
        one at a time), ``Conflict`` is raised rather than two models' scores merged.

        Args:
            min_version: serve with this version or newer. exact_version: exactly this version.
            timeout: seconds for the whole call, default the client's: one deadline, fixed as the call starts, sent
                with each of its requests (those of a split batch, and any sent again). deadline: absolute, epoch
                seconds.
        Raises:
            InvalidRequest (before sending: ragged rows, NaN, infinity, a value beyond float32's range, rows
            that are not real numbers (naming a DataFrame's first column of another dtype), more than 4,096
            features, a bad pin, timeout or deadline, or both a timeout and a deadline), BadRequest (e.g. wrong
            width, naming both),
            TooLarge, Busy (after ``busy_retries``), Expired, NoWorker, Conflict (no worker serves the pinned
            version), WorkerLost, Timeout, ProtocolViolation (a reply that is not one score in [0, 1] a row, or
            names a version the pin excludes), Closed.
        """
        return self._drive(ops.score(rows, min_version=min_version, exact_version=exact_version, timeout=timeout,
                                     deadline=deadline, max_rows=self.max_rows))

    def score_many(self, batches: Iterable, *, window: int = 16, min_version: Optional[int] = None,
                   exact_version: Optional[int] = None, timeout: Optional[float] = None,
                   deadline: Optional[float] = None) -> List[Scores]:
        """Scores independent batches with up to ``window`` requests in flight, pipelined on one socket:
        a closed loop that sends the next batch as soon as a reply frees a place. ``batches`` may be any
        iterable, also a lazy generator; each batch must fit in one request (``max_rows`` rows, and the
        16 MiB message limit for wide rows). Returns one :class:`~recpool.Scores` per batch, in order (each
        names the version that scored it). ``timeout`` bounds the whole call, as for :meth:`score`: every batch's
        request carries the one deadline fixed as the call starts.

        Raises: as :meth:`score`, and ``InvalidRequest`` for a ``window`` that is not an int ≥ 1 or for a
        batch that is not valid rows or does not fit, naming the batch; the first failure (such a batch
        too, taken after others were sent) cancels the requests still outstanding. An error about one batch (the
        client's refusal, the pool's, such as ``BadRequest`` for a row that overflows or a wrong width, or a
        ``ProtocolViolation`` of its reply) keeps its class, names the batch by its 0-based index (``score_many batch
        3: row 7 (0-based): …``, a row counted within that batch) and has it as ``error.batch``.
        """
        pin = ops.version_pin(min_version, exact_version)
        window = ops.integer(window, "window", 1)
        calls = ops.score_batches(batches, pin, timeout, deadline, self.max_rows)
        with self._call() as started:
            return [ops.batch_scores(result) for result in self._run(calls, window, started, ops.IN_FLIGHT_BYTES)]

    def recommend(self, user_features: Optional[dict] = None, events=(), top: Optional[int] = None, candidates=None, *,
                  exclude_viewed: bool = False, min_version: Optional[int] = None,
                  exact_version: Optional[int] = None, timeout: Optional[float] = None,
                  deadline: Optional[float] = None) -> Slate:
        """A slate for a user: ``user_features`` raw (name → value), ``events`` as ``(item, dwell_seconds)``
        pairs, ``top`` items (None: the server's default, 10 from a trained model and the slate size from an
        online policy), optionally only among ``candidates``; with ``exclude_viewed`` a trained model leaves the
        items in ``events`` out (an online policy ignores it). See :class:`~recpool.Slate`.

        Raises:
            InvalidRequest (before sending), naming the argument: ``top`` not None or an int in 1…1,000;
            ``candidates`` not None or a non-empty list of at most 100,000 int item ids without repeats;
            an event's item not an int or its dwell not in 0…1e9 s; a user feature name that is not a string
            or a value that is not a string or a finite number; ``exclude_viewed`` not a bool.
            Then as :meth:`score`; ProtocolViolation also for a slate that breaks the spec or the request (a
            repeated item, more than ``top``, an item outside ``candidates``; see ``operations._slate_parser``).
        """
        return self._drive(ops.recommend(user_features, events, top, candidates, exclude_viewed=exclude_viewed,
                                         min_version=min_version, exact_version=exact_version, timeout=timeout,
                                         deadline=deadline))

    def feedback(self, impression_id: str, item: int, click, dwell: Optional[float] = None, *,
                 timeout: Optional[float] = None) -> FeedbackAck:
        """Reports a shown item: ``click`` 1 or 0, ``dwell`` seconds. Returns once the broker committed it.

        Raises:
            InvalidRequest (before sending): ``impression_id`` not 1–64 UTF-8 bytes, ``item`` not an int,
            ``click`` not 0 or 1, ``dwell`` not None or a number in 0…1e9. NotFound (unknown or evicted
            impression), Expired (past the feedback window), BadRequest (item not in the slate, malformed event),
            ProtocolViolation (an acknowledgement of another impression or item).
        """
        return self._drive(ops.feedback(impression_id, item, click, dwell, timeout=timeout))

    # ------------------------------------------------------------ the pool

    def status(self, *, timeout: Optional[float] = None) -> dict:
        """The broker's status document (PROTOCOL.md, "JSON documents")."""
        return self._drive(ops.status(timeout=timeout))

    def health(self, service: str = "SCORE", *, timeout: Optional[float] = None) -> Health:
        """Whether a live worker serves ``service`` (SCORE, RECOMMEND, FEEDBACK or TRAIN_ROUND), as ``recpool
        health`` decides it (see :func:`recpool.operations.health`); truthy when so. An unknown service is
        ``InvalidRequest``."""
        return self._drive(ops.health(service, timeout=timeout))

    def control(self, op: str, arguments: Optional[dict] = None, data: Optional[bytes] = None, *,
                timeout: Optional[float] = None):
        """Any CONTROL operation: ``{"op": op, **arguments}``, returns the reply's JSON."""
        return self._drive(ops.control(op, arguments, data, timeout=timeout))

    def models(self, *, timeout: Optional[float] = None) -> List[dict]:
        """The registered model versions."""
        return self._drive(ops.models(timeout=timeout))

    def promote(self, version: int, *, timeout: Optional[float] = None) -> dict:
        """Serves ``version`` (an int) from now on; returns the model. Trainer role. Raises NotFound, or
        Conflict for a corrupt or unservable checkpoint."""
        return self._drive(ops.promote(version, timeout=timeout))

    def rollback(self, *, timeout: Optional[float] = None) -> dict:
        """Goes back to the previously promoted version; returns the model now promoted. Trainer role.
        Raises Conflict when there is no earlier promoted version, or for a corrupt or unservable checkpoint."""
        return self._drive(ops.rollback(timeout=timeout))

    def fetch(self, version: int, *, timeout: Optional[float] = None):
        """A registered version's model document and checkpoint bytes: ``(model, checkpoint)``. Raises
        NotFound, Conflict (a corrupt checkpoint), ProtocolViolation (a reply without the checkpoint)."""
        return self._drive(ops.fetch(version, timeout=timeout))

    def upload(self, path, *, timeout: Optional[float] = None) -> str:
        """Uploads a local file (a CSV with a ``label`` column) in checksummed chunks; returns the dataset
        name ``sha256:<hex>`` for :meth:`train`. Trainer role. A chunk that does not fit the upload is
        answered Conflict."""
        return self._drive(ops.upload_path(path, timeout=timeout))

    def upload_bytes(self, data: bytes, name: str, *, timeout: Optional[float] = None) -> str:
        """Like :meth:`upload`, for content in memory."""
        return self._drive(ops.upload_bytes(data, name, timeout=timeout))

    def train(self, dataset, schema=None, *, timeout: Optional[float] = None, **options) -> "Job":
        """Submits a training job. ``dataset`` is a dataset name (``sha256:…``, ``obd:random/all``,
        ``synthetic:…``), a local CSV file or a numeric pandas DataFrame with a ``label`` column, either
        of which is uploaded first. With ``schema`` (a TOML file's path or TOML text, docs/YOUR-DATA.md),
        ``dataset`` is a shop's impression log, uploaded with the catalogue the schema names; the model
        then carries its feature specification, so ``recommend`` works once it is promoted.
        ``options``: ``model``, ``epochs``,
        ``batch``, ``lr``, ``hidden``, ``workers``, ``sync_every``, ``seed``, ``validation``, ``promote``,
        ``round_timeout_ms`` (PROTOCOL.md, "CONTROL requests"). Returns a :class:`Job`; ``job.follow()``
        yields its progress."""
        return Job(self, self._drive(ops.train(dataset, schema, timeout=timeout, **options)))

    def jobs(self, *, timeout: Optional[float] = None) -> List[dict]:
        """Every training job."""
        return self._drive(ops.jobs(timeout=timeout))

    def job(self, job_id: str, *, timeout: Optional[float] = None) -> dict:
        """One job with its rounds."""
        return self._drive(ops.job_control("job", job_id, timeout=timeout))

    def cancel_job(self, job_id: str, *, timeout: Optional[float] = None) -> dict:
        """Cancels a job; returns it. Trainer role."""
        return self._drive(ops.job_control("cancel_job", job_id, timeout=timeout))

    def online(self, *, timeout: Optional[float] = None) -> dict:
        """The online-learning view (PROTOCOL.md, "Online learning")."""
        return self._drive(ops.control("online", timeout=timeout))

    def impressions(self, after: int = 0, page_size: int = 1000, *, timeout: Optional[float] = None):
        """Every logged impression of the current lineage after sequence ``after`` with the feedback it got, oldest
        first, and the served policy's spec: ``(rows, spec)``, read ``page_size`` (1…10,000) rows a request. The
        pair's ``earlier_lineage`` counts the impressions an earlier lineage logged (a policy over another
        catalogue), which the broker leaves out. :func:`recpool.frames.impressions_frame` makes it a DataFrame."""
        return self._drive(ops.impression_log(after, page_size, timeout=timeout))


class Job:
    """A submitted training job: ``document`` is its last known state (PROTOCOL.md, "A job is ...")."""

    def __init__(self, client: Client, document: dict):
        self.client = client
        self.document = document

    @property
    def id(self) -> str:
        """The job id, such as ``job-1``."""
        return self.document["job"]

    def refresh(self, *, timeout: Optional[float] = None) -> dict:
        """Reads the job's current state; ``timeout`` as for any call (seconds, the client's by default)."""
        self.document = self.client.job(self.id, timeout=timeout)
        return self.document

    def follow(self, interval: float = 0.3, raise_on_failure: bool = True,
               timeout: Optional[float] = None) -> Iterator[dict]:
        """Yields the job each time its progress changes, until it ends (the last one yielded is final).

        Args:
            interval: seconds between two reads of the job (finite, ≥ 0).
            timeout: seconds to follow the job at most, checked between reads, each read waiting at most the
                client's timeout cut to what is left of it (so the follow ends within ``timeout``, plus the client's
                ``grace`` for a read the broker does not answer); ``None`` (the default) follows it however long
                it runs.

        Raises:
            JobFailed: the job ended ``failed`` or ``cancelled`` (unless ``raise_on_failure`` is false).
            Timeout: the job had not ended within ``timeout`` (it keeps running on the pool), or the broker
                answered no read of it for 60 s (``UNANSWERED_GRACE_SECONDS``; shorter ones, such as a broker
                restart, are waited through).
            Busy: the broker answered every read BUSY for 60 s (a draining broker's BUSY, for the seconds of a
                restart, is waited through as silence is).
            InvalidRequest: ``interval`` or ``timeout`` out of range, or ``raise_on_failure`` not a bool.
        """
        interval = ops.number(interval, "interval", 0, ops.MAX_SECONDS)
        raise_on_failure = ops.flag(raise_on_failure, "raise_on_failure")  # 1 or "no" is no bool
        give_up_at = None if timeout is None else time.monotonic() + ops.seconds(timeout, "timeout")
        last = None
        silent_since = None
        while True:
            within = read_timeout(self.id, self.document, self.client, timeout, give_up_at)
            try:
                document = self.refresh(timeout=within)
                silent_since = None
            except (Timeout, Busy) as error:
                # A broker restart: a draining broker answers BUSY ("retry against its successor"), a stopped one
                # nothing, and the job resumes from its last stored round; so keep reading it for a while.
                silent_since = unanswered_read(silent_since, give_up_at)
                if isinstance(error, Busy):
                    time.sleep(busy_pause(error, interval, give_up_at))
                continue
            view = {k: v for k, v in document.items() if k != "updated_at"}
            if view != last:
                yield document
                last = view
            if document.get("state") in TERMINAL_JOB_STATES:
                if raise_on_failure and document["state"] != "completed":
                    why = document.get("error") or "(no error given)"  # a cancelled job has none
                    raise JobFailed(f"job {self.id} {document['state']}: {why}", document)
                return
            time.sleep(job_pause(self.id, document, interval, timeout, give_up_at))

    def wait(self, interval: float = 0.3, timeout: Optional[float] = None) -> dict:
        """Follows the job to its end and returns the final state; ``timeout`` as in :meth:`follow`."""
        final = self.document
        for final in self.follow(interval, timeout=timeout):
            pass
        return final


#: How long ``Job.follow`` keeps reading a job whose broker does not answer (a restarted broker resumes the job
#: from its last stored round within seconds) before it raises the Timeout.
UNANSWERED_GRACE_SECONDS = 60.0


def unanswered_read(silent_since: Optional[float], give_up_at: Optional[float]) -> float:
    """Called in ``except (Timeout, Busy)`` of a followed job's read: returns when the broker stopped answering (or
    began answering BUSY), or re-raises the error once that was ``UNANSWERED_GRACE_SECONDS`` ago or the follow's own
    ``timeout`` passed."""
    since = silent_since if silent_since is not None else time.monotonic()
    if time.monotonic() - since >= UNANSWERED_GRACE_SECONDS or (
            give_up_at is not None and time.monotonic() >= give_up_at):
        raise
    return since


def busy_pause(error: Busy, interval: float, give_up_at: Optional[float]) -> float:
    """Seconds to wait after a followed job's read was answered BUSY: the broker's hint (else ``interval``), at least
    50 ms and at most 1 s, and never past the follow's end (``give_up_at``, monotonic seconds)."""
    pause = min(max(error.retry_after or interval, 0.05), 1.0)
    if give_up_at is not None:
        pause = min(pause, max(0.0, give_up_at - time.monotonic()))
    return pause


def _not_ended(job_id: str, document: dict, timeout: float) -> Timeout:
    """The Timeout of a follow whose ``timeout`` (seconds) ran out, naming the job's last known state."""
    waiting = f"; waiting: {document['waiting']}" if document.get("waiting") else ""
    return Timeout(f"job {job_id} did not end within {timeout:g} s (it is {document.get('state')}, round "
                   f"{document.get('round')}/{document.get('total_rounds')}{waiting}; it keeps running: follow it "
                   "again, or cancel_job)")


def read_timeout(job_id: str, document: dict, client, timeout: Optional[float],
                 give_up_at: Optional[float]) -> Optional[float]:
    """The ``timeout`` (seconds) of the next read of a followed job: None (the client's) when the follow has no
    ``timeout``; else ``client.timeout`` cut to what is left of the follow's, which ends at ``give_up_at`` (monotonic
    seconds): each read waited the client's whole timeout, so ``follow(timeout=1)`` ran 5 s against a broker that did
    not answer. Raises :class:`~recpool.Timeout` once nothing is left."""
    if give_up_at is None:
        return None
    left = give_up_at - time.monotonic()
    if left <= 0:
        raise _not_ended(job_id, document, timeout)
    return min(client.timeout, left)


def job_pause(job_id: str, document: dict, interval: float, timeout: Optional[float],
              give_up_at: Optional[float]) -> float:
    """Seconds to sleep before reading a followed job again: ``interval``, cut to what is left of
    ``timeout``; raises :class:`~recpool.Timeout` once nothing is left."""
    if give_up_at is None:
        return interval
    left = give_up_at - time.monotonic()
    if left <= 0:
        raise _not_ended(job_id, document, timeout)
    return min(interval, left)
