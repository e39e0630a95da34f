"""The asyncio client: the same calls as :class:`~recpool.Client`, awaitable, safe to share between tasks
of one event loop. One reader task routes replies to the waiting calls by request id."""
from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from typing import AsyncIterator, Dict, List, Optional

import zmq
import zmq.asyncio

from . import operations as ops
from .client import _Base, busy_pause, close_monitored, job_pause, keep_inherited, read_timeout, unanswered_read
from .errors import Busy, Closed, InvalidRequest, JobFailed, ProtocolViolation, RecPoolError, Timeout
from .results import TERMINAL_JOB_STATES, FeedbackAck, Health, Scores, Slate
from .wire import Command, Header, Status, cancel_payload


async def _pump(client: "weakref.ref[AsyncClient]", socket, handle) -> None:
    """The body of an AsyncClient's reader or watcher task: each message of ``socket`` goes to ``handle(owner,
    frames)``. The task holds its client only by a weak reference between messages: a client nobody closed is still
    collected (its tasks kept it alive for good, with its files), and its finalizer closes ``socket``, which cancels
    the receive awaited here and so ends the task."""
    while True:
        frames = await socket.recv_multipart(copy=False)
        owner = client()
        if owner is None:
            return
        handle(owner, frames)
        del owner


def _close_sockets(pid: int, socket, monitor) -> None:
    """Closes an AsyncClient's socket and monitor (``close``, or its finalizer once it is collected unclosed), in the
    process that opened them only: a forked child never closes its parent's."""
    if os.getpid() == pid:
        close_monitored(socket, monitor)


def _taken(send: Optional[asyncio.Future]) -> bool:
    """Whether the socket took a call's message: its send (pyzmq's future) ended without an error."""
    return send is not None and send.done() and not send.cancelled() and send.exception() is None


class AsyncClient(_Base):
    """An asyncio RecPool client; takes the same options as :class:`~recpool.Client`.

    Use ``async with AsyncClient(endpoint) as client:`` or call :meth:`close`; a client nobody closed is closed when
    it is collected (its tasks do not keep it alive). As a :class:`~recpool.Client`, one inherited by a forked process
    opens its own socket there at its first call (in an event loop of that process).
    """

    def __init__(self, endpoint: str = "tcp://127.0.0.1:5555", **options):
        super().__init__(endpoint, **options)
        self._context = self._instance_context(zmq.asyncio.Context)
        self._closed = False
        self._waiters: Dict[int, asyncio.Future] = {}
        self._reader: Optional[asyncio.Task] = None
        self._watcher: Optional[asyncio.Task] = None
        # The event loop the client serves, and the lock that guards it against another thread's loop (_claim_loop).
        self._owner_lock = threading.Lock()
        self._owner_loop: Optional[asyncio.AbstractEventLoop] = None
        self._open_socket()

    def _open_socket(self) -> None:
        """:meth:`_Base._open_socket`, and the finalizer that closes the new socket and its monitor should the client be
        collected unclosed (``_release``; calling it closes them)."""
        super()._open_socket()
        self._release = weakref.finalize(self, _close_sockets, self._pid, self._socket, self._monitor)
        self._release.atexit = False  # at exit, as before: the sockets go with the process

    async def _stop_tasks(self) -> None:
        for task in (self._reader, self._watcher):
            if task is not None:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        self._reader = self._watcher = None

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _reopen_if_forked(self) -> None:
        """In a forked child (see :meth:`_Base._forked`), forgets the parent's socket, tasks and waiting calls without
        touching them (they are the parent's, and its event loop's) and opens a socket of this process's own."""
        if not self._forked():
            return
        self._forget_parent()
        self._context = self._instance_context(zmq.asyncio.Context)  # pyzmq makes a new one in a new process
        self._open_socket()

    def _forget_parent(self) -> None:
        """In a forked child: drops the parent's socket, tasks and waiting calls, kept from being closed or collected
        here (:func:`recpool.client.keep_inherited`: closing a socket also unregisters it from the event loop's
        selector, which a child forked from a running loop shares with its parent)."""
        self._release.detach()
        keep_inherited(self._socket, self._monitor, self._reader, self._watcher, self._waiters)
        self._owner_lock = threading.Lock()  # a copy may be held by a parent's thread that is not in this process
        self._owner_loop = None
        self._waiters = {}
        self._reader = self._watcher = None

    async def close(self) -> None:
        """Stops the reader and closes the socket; calls still waiting, and any call after this, raise
        :class:`~recpool.Closed`. In a forked child that has not used the client, the parent's socket is left
        alone."""
        self._closed = True
        if self._forked():
            self._forget_parent()
            return
        await self._stop_tasks()
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(Closed(f"the client of {self.endpoint} was closed while the call waited"))
        self._waiters.clear()
        self._release()

    # ------------------------------------------------------------ the engine

    def _route(self, frames) -> None:
        """The reader task's work (see :func:`_pump`): routes a reply to the call waiting for its request id. A
        malformed reply fails its call with ProtocolViolation (the id is salvaged from bytes 8-15 when the frame starts
        ``RPL``); one that names no request at all fails every waiting call, as the sync client's run fails, since any
        of them may have been its request. A reply nobody waits for (a CANCEL's, a late one) is dropped."""
        try:
            header, payload = self._read(frames)
        except ProtocolViolation as error:
            salvaged = self._salvaged_id(frames)
            if salvaged is not None:
                failed = [self._waiters.pop(salvaged, None)]
            else:
                failed = list(self._waiters.values())
                self._waiters.clear()
                error = ProtocolViolation(f"{error.message} (a message naming no request: every outstanding "
                                          "request fails)")
            for future in failed:
                if future is not None and not future.done():
                    future.set_exception(ProtocolViolation(error.message))
            return
        future = self._waiters.pop(header.request_id, None)
        if future is not None and not future.done():
            future.set_result((header, payload))

    def _on_handshake(self, frames) -> None:
        """The watcher task's work (see :func:`_pump`): applies one of the socket's handshake events; when libzmq
        ends the session (the broker refused the key, or only one side uses CURVE), every waiting call fails with
        HandshakeFailed at once."""
        if self._handshake.apply(frames) is None:
            return
        waiting = list(self._waiters.values())
        self._waiters.clear()
        for future in waiting:
            if not future.done():
                future.set_exception(self._handshake.fresh_error())

    async def _reopen_if_refused(self) -> None:
        """After a session libzmq ended, a new socket for the next call, no sooner than
        :data:`recpool.handshake.REOPEN_INTERVAL` after the failure (one call replaces it; the others use it); a call
        before that raises the failure."""
        state = self._handshake
        if state.reopen_at is None:
            return
        if time.monotonic() < state.reopen_at:
            # Within a second of the refusal: the call fails at once as the waiting ones did, never waiting (perhaps
            # past its own deadline) for the next attempt.
            raise state.fresh_error()
        if self._closed:
            return
        # Replace the socket before anything awaits, so that the other calls waking here see the new state and use the
        # new socket instead of each closing and reopening it in turn (which cancelled sends on a socket just opened).
        release, tasks = self._release, (self._reader, self._watcher)
        self._reader = self._watcher = None
        self._open_socket()
        for task in tasks:
            if task is not None:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        release()

    def _claim_loop(self) -> None:
        """Makes the running event loop the client's, before a call touches the socket.

        Raises:
            InvalidRequest: the reader runs in another thread's event loop that is still running. An AsyncClient serves
                one event loop at a time (its socket and its waiting calls belong to that loop's thread): shared by two
                threads' loops, messages mixed on the socket and a call was handed another call's scores.

        A reader left pending by a loop that is stopped or closed (``run_until_complete`` without ``asyncio.run``) can
        never run again, but its receive stays first on the socket and took the next reply into the dead loop: the
        client then opens a fresh socket, and the old one is closed."""
        loop = asyncio.get_running_loop()
        with self._owner_lock:
            owner = self._owner_loop
            if owner is loop:
                return
            if owner is not None and owner.is_running() and not owner.is_closed():
                raise InvalidRequest(
                    "this AsyncClient serves another thread's event loop: an AsyncClient serves one event loop at a "
                    "time (give each thread its own client, or run every call in one loop)")
            self._owner_loop = loop
            reader = self._reader
            if reader is None or reader.done():
                return
            release = self._release
            self._reader = self._watcher = None
            self._waiters = {}  # the dead loop's calls: nothing will ever answer them here
            self._open_socket()
        try:
            release()
        except Exception:  # closing the dead loop's sockets is best effort
            pass

    def _start_tasks(self) -> None:
        """Starts the reader and the watcher in the running event loop (claimed by :meth:`_claim_loop`), unless they
        run already."""
        loop = asyncio.get_running_loop()
        if self._reader is None or self._reader.done():
            self._reader = loop.create_task(_pump(weakref.ref(self), self._socket, AsyncClient._route))
        if self._watcher is None or self._watcher.done():
            self._watcher = loop.create_task(_pump(weakref.ref(self), self._monitor, AsyncClient._on_handshake))

    async def _send(self, frames: list, within: Optional[float] = None) -> None:
        """Sends a message, waiting at most ``within`` seconds for the socket to take it (a DEALER
        waits while it has no connection); raises asyncio.TimeoutError past that."""
        await asyncio.wait_for(self._socket.send_multipart(frames), within)

    async def _send_waiting(self, send: asyncio.Future, within: float, waiter: asyncio.Future) -> None:
        """Waits for ``send``, the socket's send of a call's message whose reply ``waiter`` is registered: the socket
        takes a message only once it has a connection (``ZMQ_IMMEDIATE``), and a ``close`` meanwhile fails the waiter
        with ``Closed``, which is raised here instead of waiting out the send; raises asyncio.TimeoutError after
        ``within`` seconds.

        Whatever ends the wait before the socket took the message (the time is up, a close, the caller's task
        cancelled) withdraws it: pyzmq would otherwise keep it queued and send it once the broker is back, to run
        after the caller was told the call failed."""
        try:
            done, _ = await asyncio.wait({send, waiter}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
            if waiter.done() and waiter.exception() is not None:
                # Closed (the socket's close also cancels the pending send): that is the reason, not the cancel.
                raise waiter.exception()
            if send in done:
                send.result()
                return
            raise asyncio.TimeoutError
        finally:
            if not send.done():
                send.cancel()

    async def _cancel(self, request_id: int) -> None:
        try:
            await self._send([Header(int(Command.CANCEL), next(self._ids)).encode(), cancel_payload(request_id)], 0.1)
        except (asyncio.TimeoutError, zmq.ZMQError):
            pass  # best effort: the broker drops the request at its deadline anyway

    async def _run_one(self, call: ops.Call, started: Optional[float] = None):
        """Runs one request to its parsed result; its deadline is fixed by ``started``, the epoch seconds the client's
        call started (now by default), as every request of that call (see :meth:`_Base._deadline_ms`)."""
        if started is None:
            started = time.time()
        if self._closed:
            raise Closed(f"the client of {self.endpoint} is closed")
        self._reopen_if_forked()
        self._claim_loop()
        deadline_ms = self._deadline_ms(call, started)
        tries = 0
        while True:
            await self._reopen_if_refused()
            if self._closed:  # also after a BUSY pause during which the client was closed
                raise Closed(f"the client of {self.endpoint} is closed")
            self._start_tasks()
            request_id = next(self._ids)
            future = asyncio.get_running_loop().create_future()
            self._waiters[request_id] = future
            give_up_in = self._give_up_at(deadline_ms, self.grace, started) - time.monotonic()
            send = None
            try:
                send = self._socket.send_multipart(self._frames(call, request_id, deadline_ms))
                await self._send_waiting(send, max(0.0, give_up_in), future)
                header, payload = await asyncio.wait_for(
                    future, max(0.0, self._give_up_at(deadline_ms, self.grace, started) - time.monotonic()))
            except asyncio.TimeoutError:
                self._waiters.pop(request_id, None)
                if not _taken(send):
                    # As the sync client says: with ZMQ_IMMEDIATE nothing was queued (and _send_waiting withdrew the
                    # send), so nothing can run later, and there is nothing to cancel.
                    raise self._unsent(call) from None
                await self._cancel(request_id)
                raise self._handshake.fresh_error() or Timeout(
                    f"no reply to {call.command.name} within its deadline (+{self.grace:.2f} s grace) "
                    f"from {self.endpoint}") from None
            except asyncio.CancelledError:
                # The caller cancelled the call (task.cancel(), asyncio.wait_for's timeout). Unsent, it was withdrawn;
                # sent, the broker is told to drop it.
                if self._waiters.pop(request_id, None) is not None and _taken(send):
                    await self._cancel(request_id)
                raise
            try:
                self._check_reply(header, call)
            except ProtocolViolation as error:  # named by its batch, as a refusal of it is
                raise ops.in_batch(error, call.batch) from None
            if header.status == Status.OK:
                return call.parse(ops.Reply(header, payload))
            wait = max(header.retry_after_ms / 1000, 0.005)
            if (header.status == Status.BUSY and call.retry_busy and tries < self.busy_retries
                    and time.time() + wait < deadline_ms / 1000):
                tries += 1
                await asyncio.sleep(wait)
                continue
            raise self._error(header, payload, call)

    async def _run(self, calls, window: Optional[int] = None, started: Optional[float] = None) -> list:
        """Runs the calls together, at most ``window`` at a time when given, each with the deadline ``started`` fixes
        (see :meth:`_run_one`); the first failure cancels the rest."""
        places = asyncio.Semaphore(window) if window else None
        started = time.time() if started is None else started

        async def one(call):
            if places is None:
                return await self._run_one(call, started)
            async with places:
                return await self._run_one(call, started)

        tasks = [asyncio.ensure_future(one(call)) for call in calls]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _drive(self, plan):
        """Runs a Call, or a generator of lists of calls (operations.py), to its result; every request of it gets the
        one deadline fixed as it starts."""
        started = time.time()
        if isinstance(plan, ops.Call):
            return await self._run_one(plan, started)
        try:
            calls = next(plan)
            while True:
                # A refusal goes into the plan, which may answer it (health's RECOMMEND probe) or let it out.
                try:
                    results = await self._run(calls, getattr(calls, "window", None), started)
                except RecPoolError as error:
                    calls = plan.throw(error)
                    continue
                calls = plan.send(results)
        except StopIteration as stop:
            return stop.value

    # ------------------------------------------------------------ the calls (see Client for each)

    async def score(self, rows, *, min_version=None, exact_version=None, timeout=None, deadline=None) -> Scores:
        """See :meth:`recpool.Client.score`."""
        return await self._drive(ops.score(rows, min_version=min_version, exact_version=exact_version,
                                           timeout=timeout, deadline=deadline, max_rows=self.max_rows))

    async def score_many(self, batches, *, window: int = 16, min_version=None, exact_version=None, timeout=None,
                         deadline=None) -> List[Scores]:
        """See :meth:`recpool.Client.score_many`: up to ``window`` lanes each take the next batch of ``batches`` (any
        iterable, also a lazy generator) when their previous one is answered. A lane is opened only with a batch to
        send, so there are never more lanes than batches taken (``window=10**5`` for two batches opens two, where it
        opened 10⁵ tasks). The first failure cancels the other lanes, which sends CANCEL for the requests they still
        have outstanding."""
        pin = ops.version_pin(min_version, exact_version)
        window = ops.integer(window, "window", 1)
        source = enumerate(ops.score_batches(batches, pin, timeout, deadline, self.max_rows))
        results: dict = {}
        started = time.time()
        # The request bytes the lanes have outstanding: at most IN_FLIGHT_BYTES (one request at least), as the sync
        # client's score_many, under the broker's --client-bytes.
        budget = {"held": 0}
        room = asyncio.Condition()

        async def lane(index: int, call: ops.Call) -> None:
            # Every lane reads the one iterator: next() never awaits, so two lanes never take the same batch.
            while True:
                size = ops.request_bytes(call)
                async with room:
                    await room.wait_for(lambda: budget["held"] == 0 or budget["held"] + size <= ops.IN_FLIGHT_BYTES)
                    budget["held"] += size
                try:
                    results[index] = await self._run_one(call, started)
                finally:
                    async with room:
                        budget["held"] -= size
                        room.notify_all()
                taken = next(source, None)
                if taken is None:
                    return
                index, call = taken

        lanes: list = []
        try:
            for index, call in source:
                lanes.append(asyncio.ensure_future(lane(index, call)))
                if len(lanes) == window:
                    break
                # The lane sends its batch before the next is taken: a batch refused later cancels those sent.
                await asyncio.sleep(0)
                if any(task.done() for task in lanes):  # a lane failed (or all is sent): no more lanes needed
                    break
            await asyncio.gather(*lanes)
        except BaseException:
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
            raise
        return [ops.batch_scores(results[index]) for index in range(len(results))]

    async def recommend(self, user_features=None, events=(), top=None, candidates=None, *, exclude_viewed=False,
                        min_version=None, exact_version=None, timeout=None, deadline=None) -> Slate:
        """See :meth:`recpool.Client.recommend`."""
        return await self._drive(ops.recommend(user_features, events, top, candidates, exclude_viewed=exclude_viewed,
                                               min_version=min_version, exact_version=exact_version,
                                               timeout=timeout, deadline=deadline))

    async def feedback(self, impression_id, item, click, dwell=None, *, timeout=None) -> FeedbackAck:
        """See :meth:`recpool.Client.feedback`."""
        return await self._drive(ops.feedback(impression_id, item, click, dwell, timeout=timeout))

    async def status(self, *, timeout=None) -> dict:
        """See :meth:`recpool.Client.status`."""
        return await self._drive(ops.status(timeout=timeout))

    async def health(self, service="SCORE", *, timeout=None) -> Health:
        """See :meth:`recpool.Client.health`."""
        return await self._drive(ops.health(service, timeout=timeout))

    async def control(self, op, arguments=None, data=None, *, timeout=None):
        """See :meth:`recpool.Client.control`."""
        return await self._drive(ops.control(op, arguments, data, timeout=timeout))

    async def models(self, *, timeout=None) -> List[dict]:
        """See :meth:`recpool.Client.models`."""
        return await self._drive(ops.models(timeout=timeout))

    async def promote(self, version, *, timeout=None) -> dict:
        """See :meth:`recpool.Client.promote`."""
        return await self._drive(ops.promote(version, timeout=timeout))

    async def rollback(self, *, timeout=None) -> dict:
        """See :meth:`recpool.Client.rollback`."""
        return await self._drive(ops.rollback(timeout=timeout))

    async def fetch(self, version, *, timeout=None):
        """See :meth:`recpool.Client.fetch`."""
        return await self._drive(ops.fetch(version, timeout=timeout))

    async def upload(self, path, *, timeout=None) -> str:
        """See :meth:`recpool.Client.upload`."""
        return await self._drive(ops.upload_path(path, timeout=timeout))

    async def upload_bytes(self, data, name, *, timeout=None) -> str:
        """See :meth:`recpool.Client.upload_bytes`."""
        return await self._drive(ops.upload_bytes(data, name, timeout=timeout))

    async def train(self, dataset, schema=None, *, timeout=None, **options) -> "AsyncJob":
        """See :meth:`recpool.Client.train`; ``async for job in (await client.train(...)).follow()``."""
        return AsyncJob(self, await self._drive(ops.train(dataset, schema, timeout=timeout, **options)))

    async def jobs(self, *, timeout=None) -> List[dict]:
        """See :meth:`recpool.Client.jobs`."""
        return await self._drive(ops.jobs(timeout=timeout))

    async def job(self, job_id, *, timeout=None) -> dict:
        """See :meth:`recpool.Client.job`."""
        return await self._drive(ops.job_control("job", job_id, timeout=timeout))

    async def cancel_job(self, job_id, *, timeout=None) -> dict:
        """See :meth:`recpool.Client.cancel_job`."""
        return await self._drive(ops.job_control("cancel_job", job_id, timeout=timeout))

    async def online(self, *, timeout=None) -> dict:
        """See :meth:`recpool.Client.online`."""
        return await self._drive(ops.control("online", timeout=timeout))

    async def impressions(self, after=0, page_size=1000, *, timeout=None):
        """See :meth:`recpool.Client.impressions`."""
        return await self._drive(ops.impression_log(after, page_size, timeout=timeout))


class AsyncJob:
    """A submitted training job for :class:`AsyncClient`; ``document`` is its last known state."""

    def __init__(self, client: AsyncClient, document: dict):
        self.client = client
        self.document = document

    @property
    def id(self) -> str:
        """The job id."""
        return self.document["job"]

    async def follow(self, interval: float = 0.3, raise_on_failure: bool = True,
                     timeout: Optional[float] = None) -> AsyncIterator[dict]:
        """Yields the job each time its progress changes, until it ends; see :meth:`recpool.Job.follow`
        (``timeout``: seconds to follow at most, ``None`` for no bound; then :class:`~recpool.Timeout`; each read
        waits at most what is left of it)."""
        interval = ops.number(interval, "interval", 0, ops.MAX_SECONDS)
        raise_on_failure = ops.flag(raise_on_failure, "raise_on_failure")  # 1 or "no" is no bool
        give_up_at = None if timeout is None else time.monotonic() + ops.seconds(timeout, "timeout")
        last = None
        silent_since = None
        while True:
            within = read_timeout(self.id, self.document, self.client, timeout, give_up_at)
            try:
                self.document = document = await self.client.job(self.id, timeout=within)
                silent_since = None
            except (Timeout, Busy) as error:
                # As Job.follow: a broker restart (silence, or a draining broker's BUSY) is waited through, up to
                # UNANSWERED_GRACE_SECONDS.
                silent_since = unanswered_read(silent_since, give_up_at)
                if isinstance(error, Busy):
                    await asyncio.sleep(busy_pause(error, interval, give_up_at))
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
            await asyncio.sleep(job_pause(self.id, document, interval, timeout, give_up_at))

    async def wait(self, interval: float = 0.3, timeout: Optional[float] = None) -> dict:
        """Follows the job to its end and returns the final state; see :meth:`recpool.Job.wait`."""
        final = self.document
        async for final in self.follow(interval, timeout=timeout):
            pass
        return final
