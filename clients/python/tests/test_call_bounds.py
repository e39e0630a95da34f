"""What bounds a call: a close from another thread ends a waiting sync call with Closed (never a bare ZMQError, never
a hang); a call's timeout is one deadline for all its requests (a split score, its second pass, score_many); a
followed job's reads wait at most what is left of the follow's timeout. No pool: stand-in brokers (test_checks.py's
inproc ROUTER, tcp_broker.py's TCP one)."""
import asyncio
import random
import threading
import time

import numpy as np
import pytest

import recpool
from recpool import client as client_module, operations as ops, wire
from recpool.aio import AsyncJob
from recpool.client import Job
from tcp_broker import LateBroker, free_port
from test_checks import answer_to, async_context_for_fakes, fake, scores_for  # noqa: F401  (fake is a fixture)


@pytest.fixture
def late():
    broker = LateBroker(f"tcp://127.0.0.1:{free_port()}")
    yield broker
    broker.stop()


def scoring(header, frames):
    """Answers every SCORE at once."""
    if header is None or header.command != wire.Command.SCORE:
        return []
    return [answer_to(header, scores_for(frames))]


# ---------------------------------------------------------------- close() from another thread

def run_in_thread(work):
    """Starts ``work()`` in a thread; returns the thread and the list its outcome goes to: the exception's type (or
    "returned"), then the seconds it ran."""
    outcome = []

    def body():
        started = time.monotonic()
        try:
            work()
            outcome.append("returned")
        except BaseException as error:  # noqa: BLE001  (any error is the test's to see)
            outcome.append(type(error))
        outcome.append(time.monotonic() - started)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, outcome


def test_closing_a_client_from_another_thread_ends_its_calls_with_closed(fake):
    # close() closed the socket under the thread in poll/getsockopt/recv: a bare zmq.error.ZMQError "Socket operation
    # on non-socket" in 55 trials of 60 (and libzmq may abort on a socket closed while in use).
    broker = fake(scoring)
    rows = np.zeros((64, 4), np.float32)
    outcomes = []
    for trial in range(40):
        client = recpool.Client(broker.endpoint, timeout=3)

        def loop():
            while True:
                client.score(rows)

        thread, outcome = run_in_thread(loop)
        time.sleep(random.uniform(0.0, 0.03))
        client.close()
        thread.join(5)
        assert not thread.is_alive(), f"trial {trial}: the call hung after close()"
        outcomes.append(outcome[0])
        assert client._socket.closed  # the call that was running closed it as it ended
    assert set(outcomes) == {recpool.Closed}, outcomes


def test_a_call_waiting_for_a_reply_or_a_connection_raises_closed_soon_after_a_close(late):
    endpoints = {"waiting for a reply": late._endpoint, "waiting for a connection": f"tcp://127.0.0.1:{free_port()}"}
    for what, endpoint in endpoints.items():
        client = recpool.Client(endpoint, timeout=10)
        thread, outcome = run_in_thread(lambda: client.score(np.zeros((2, 4), np.float32)))
        time.sleep(0.5)
        started = time.monotonic()
        client.close()
        closing = time.monotonic() - started
        thread.join(5)
        assert outcome[0] is recpool.Closed, what
        assert outcome[1] < 2 and closing < 1.5, (what, outcome, closing)  # not the 10 s timeout
        assert client._socket.closed and client._monitor.closed
        with pytest.raises(recpool.Closed, match="is closed"):
            client.status()
        client.close()  # closing again is nothing
    # The request that was sent was cancelled at the broker as the call ended.
    for _ in range(100):
        if late.cancelled():
            break
        time.sleep(0.02)
    (score,) = [h.request_id for h, _ in late.received if h.command == wire.Command.SCORE]
    assert late.cancelled() == {score}


def test_a_close_from_the_calls_own_thread_leaves_the_socket_to_the_call(late):
    # As from a signal handler: the call, still running in this thread, sees the close and closes the socket itself.
    client = recpool.Client(late._endpoint, timeout=10)
    poll = client._poller.poll
    polls = []

    def polled(*args):
        polls.append(1)
        if len(polls) == 3:
            client.close()  # returns at once: the call is this thread's
        return poll(*args)

    client._poller.poll = polled
    started = time.monotonic()
    with pytest.raises(recpool.Closed, match="was closed while the call waited"):
        client.score(np.zeros((2, 4), np.float32))
    assert time.monotonic() - started < 2 and client._socket.closed


# ---------------------------------------------------------------- one deadline a call

class Slow:
    """Answers each SCORE ``delay`` seconds after it came, one at a time, from ``version(k)`` for the k-th (from 0);
    STATUS with ``status``."""

    def __init__(self, delay, version=lambda k: 1, status=None):
        self.delay, self.version, self.status, self.scored = delay, version, status or {}, 0

    def __call__(self, header, frames):
        if header is None or header.command == wire.Command.CANCEL:
            return []
        if header.command == wire.Command.STATUS:
            return [answer_to(header, ops.encode_json(self.status))]
        time.sleep(self.delay)
        self.scored += 1
        return [answer_to(header, scores_for(frames), model_version=self.version(self.scored - 1))]


def deadlines(broker, *commands):
    return [h.deadline_ms for h, _ in broker.received if wire.Command(h.command) in commands]


@pytest.fixture
def one_at_a_time(monkeypatch):
    """A split score keeps one request in flight (its window of 12 MiB holds one), so each is sent later."""
    monkeypatch.setattr(ops, "IN_FLIGHT_BYTES", 1)


def test_every_request_of_a_split_score_carries_the_deadline_fixed_when_the_call_started(fake, one_at_a_time):
    # Each request got a deadline of its own, `timeout` after it was sent: a score of 8 requests given 2 s ran 3.2 s.
    broker = fake(Slow(0.2))
    rows = np.zeros((8, 4), np.float32)
    with recpool.Client(broker.endpoint, timeout=5, max_rows=2, grace=0.25) as client:
        started = time.time()
        assert client.score(rows, timeout=30).requests == 4
        (first, *others) = deadlines(broker, wire.Command.SCORE)
        assert others == [first] * 3 and abs(first / 1000 - (started + 30)) < 0.1
        begun = time.monotonic()
        with pytest.raises(recpool.Timeout):
            client.score(rows, timeout=0.5)  # 4 requests of 0.2 s each: past 0.5 s (+0.25 s grace, as given)
        assert time.monotonic() - begun < 1.0


def test_the_second_pass_of_a_split_score_and_its_status_keep_the_calls_deadline(fake, one_at_a_time):
    # A split score answered by two versions sends the parts again (pinned to the promoted version) after a STATUS:
    # those requests started new deadlines.
    broker = fake(Slow(0.05, version=lambda k: 1 if k == 0 else 2, status={"promoted_version": 2}))
    with recpool.Client(broker.endpoint, timeout=30, max_rows=2) as client:
        scores = client.score(np.zeros((4, 4), np.float32))
    assert scores.model_version == 2
    # STATUS first and last: which model serves the version, before and after (it must not change during the call).
    assert [wire.Command(h.command).name for h, _ in broker.received] == [
        "STATUS", "SCORE", "SCORE", "STATUS", "SCORE", "STATUS"]
    assert len(set(deadlines(broker, wire.Command.SCORE, wire.Command.STATUS))) == 1


def test_score_many_and_the_async_client_keep_one_deadline_a_call(fake, one_at_a_time):
    broker = fake(Slow(0.05))
    with recpool.Client(broker.endpoint, timeout=30) as client:
        client.score_many([np.zeros((1, 4), np.float32)] * 4, window=1)
    assert len(deadlines(broker, wire.Command.SCORE)) == 4 and len(set(deadlines(broker, wire.Command.SCORE))) == 1

    broker = fake(Slow(0.2), async_context_for_fakes())

    async def main():
        async with recpool.AsyncClient(broker.endpoint, timeout=30, max_rows=2, grace=0.25) as client:
            await client.score(np.zeros((8, 4), np.float32))
            await client.score_many([np.zeros((1, 4), np.float32)] * 3, window=1)
            begun = time.monotonic()
            with pytest.raises(recpool.Timeout):
                await client.score(np.zeros((8, 4), np.float32), timeout=0.5)
            return time.monotonic() - begun

    took = asyncio.run(main())
    assert took < 1.0
    sent = deadlines(broker, wire.Command.SCORE)
    assert len(set(sent[:4])) == 1 and len(set(sent[4:7])) == 1 and sent[4] > sent[0]


# ---------------------------------------------------------------- following a job with a timeout

def test_following_a_job_the_broker_does_not_answer_ends_within_the_timeout(late):
    # Each read of the job waited the client's whole timeout (5 s) whatever was left: follow(timeout=1) ran 5 s.
    with recpool.Client(late._endpoint, timeout=5) as client:
        for follow in (lambda job: list(job.follow(timeout=0.5)), lambda job: job.wait(timeout=0.5)):
            began = time.monotonic()
            with pytest.raises(recpool.Timeout):
                follow(Job(client, {"job": "job-1", "state": "running"}))
            assert time.monotonic() - began < 0.5 + client.grace + 0.4

    async def main():
        async with recpool.AsyncClient(late._endpoint, timeout=5) as client:
            began = time.monotonic()
            with pytest.raises(recpool.Timeout):
                await AsyncJob(client, {"job": "job-2", "state": "running"}).wait(timeout=0.5)
            return time.monotonic() - began, client.grace

    took, grace = asyncio.run(main())
    assert took < 0.5 + grace + 0.4
    assert [h.command for h, _ in late.received].count(wire.Command.CONTROL) >= 3


def test_a_read_of_a_followed_job_gets_what_is_left_of_the_timeout_and_none_once_it_is_spent():
    class Reader:
        timeout = 5.0

    read_timeout = client_module.read_timeout
    assert read_timeout("job-1", {}, Reader(), None, None) is None
    assert 0.9 < read_timeout("job-1", {}, Reader(), 1.0, time.monotonic() + 1.0) <= 1.0
    assert read_timeout("job-1", {}, Reader(), 60.0, time.monotonic() + 60.0) == 5.0
    with pytest.raises(recpool.Timeout, match=r"job job-1 did not end within 2 s \(it is running, round 3/9"):
        read_timeout("job-1", {"state": "running", "round": 3, "total_rounds": 9}, Reader(), 2.0,
                     time.monotonic() - 0.01)


def test_the_frame_helpers_pass_a_timeout_for_their_whole_call():
    # A call's timeout now bounds all its requests: a long log's pages or a big frame's upload chunks need the time all
    # of them take, so the helpers that make such a call take it too.
    pd = pytest.importorskip("pandas")
    from recpool import frames

    class Source:
        given = []

        def impressions(self, after, page_size, *, timeout=None):
            self.given.append(("impressions", timeout))
            return [], None

        def upload_bytes(self, data, name, *, timeout=None):
            self.given.append(("upload", timeout))
            return "sha256:" + "0" * 64

    source = Source()
    assert len(frames.impressions_frame(source, timeout=120)) == 0
    frames.upload_frame(source, pd.DataFrame({"x": [1.0], "label": [1]}), timeout=60)
    frames.upload_frame(source, pd.DataFrame({"x": [1.0], "label": [1]}))
    assert Source.given == [("impressions", 120), ("upload", 60), ("upload", None)]
