"""Statuses a healthy pool rarely gives: NO_WORKER, BUSY with retry_after, CANCELLED,
UNSUPPORTED_VERSION, on a broker with no workers and a queue of one."""
import time

import numpy as np
import pytest
import zmq

import recpool
from recpool import errors, wire
from pools import DirectPool, wait_for


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    broker = DirectPool(["--queue-capacity", "1", "--no-worker-timeout-ms", "1500"], workers=0)
    yield broker
    broker.stop()


def test_a_service_nobody_offers_is_no_worker(bare):
    with recpool.Client(bare.frontend) as c:
        assert not c.health()
        with pytest.raises(recpool.NoWorker, match="SCORE"):
            c.score(np.zeros((1, 4), np.float32))


def _wait_until_queued(client):
    def depth():
        return sum(q["depth"] for q in client.status()["queues"] if q["service"] == "SCORE")
    wait_for(lambda: depth() >= 1, what="the holder's request to be queued")


def test_a_full_queue_is_busy_with_a_retry_hint_and_no_retry_when_retries_are_off(bare):
    with recpool.Client(bare.frontend) as holder, recpool.Client(bare.frontend, busy_retries=0) as c:
        # Sent once the new socket has its connection (a message is queued only to a completed one): it takes the
        # one queue place.
        assert holder._send(holder._frames(recpool.operations.score_call(np.zeros((1, 4), np.float32), (0, 0), 5, None),
                                           1, int(time.time() * 1000) + 5000), time.monotonic() + 5)
        _wait_until_queued(c)
        with pytest.raises(recpool.Busy) as caught:
            c.score(np.zeros((1, 4), np.float32))
        assert caught.value.retry_after > 0 and "full" in caught.value.message


def test_busy_is_retried_after_retry_after_while_the_deadline_allows(bare):
    # The holder's request leaves the queue with NO_WORKER after 1.5 s; a client that retries gets in then.
    with recpool.Client(bare.frontend) as holder, recpool.Client(bare.frontend, busy_retries=50, timeout=8) as c:
        assert holder._send(holder._frames(recpool.operations.score_call(np.zeros((1, 4), np.float32), (0, 0), 5, None),
                                           1, int(time.time() * 1000) + 5000), time.monotonic() + 5)
        _wait_until_queued(c)
        with pytest.raises(recpool.NoWorker):  # not Busy: the retry was queued, then found no worker
            c.score(np.zeros((1, 4), np.float32))


def _raw(endpoint):
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RCVTIMEO, 5000)
    socket.connect(endpoint)
    return socket


def test_cancel_of_a_queued_request_answers_it_cancelled(bare):
    socket = _raw(bare.frontend)
    try:
        socket.send_multipart([wire.Header(wire.Command.SCORE, 41).encode(),
                               bytes(wire.tensor_frame(np.zeros((1, 4), np.float32)))])
        socket.send_multipart([wire.Header(wire.Command.CANCEL, 42).encode(), wire.cancel_payload(41)])
        replies = {}
        for _ in range(2):
            head, *payload = socket.recv_multipart()
            header = wire.decode_header(head)
            replies[header.request_id] = (header, payload)
        header, payload = replies[41]
        error = errors.error_for(header, payload[0].decode())
        assert isinstance(error, recpool.Cancelled)
        assert replies[42][0].status == wire.Status.OK
    finally:
        socket.close(0)


def test_cancel_of_an_unknown_request_is_not_found(bare):
    with recpool.Client(bare.frontend) as c:
        with pytest.raises(recpool.NotFound):
            c._drive(recpool.operations.Call(wire.Command.CANCEL, [wire.cancel_payload(777)], lambda r: r))


def test_another_protocol_version_is_unsupported_version(bare):
    socket = _raw(bare.frontend)
    try:
        head = bytearray(wire.Header(wire.Command.STATUS, 9).encode())
        head[3] = 2
        socket.send_multipart([bytes(head)])
        reply, *payload = socket.recv_multipart()
        header = wire.decode_header(reply)
        assert header.request_id == 9
        assert isinstance(errors.error_for(header, payload[0].decode()), recpool.UnsupportedVersion)
    finally:
        socket.close(0)


def test_an_undefined_flag_bit_is_refused_as_a_bad_request(bare):
    # Decision 5 (HELPERS.md): an undefined flag bit is answered BAD_REQUEST naming the field.
    with recpool.Client(bare.frontend) as c:
        call = recpool.operations.status()
        call.flags = 0x8000
        try:
            c._drive(call)
        except recpool.BadRequest as error:
            assert "flag" in error.message
        else:
            pytest.skip("this broker predates decision 5 and ignores undefined flag bits")


def test_a_broker_that_is_not_there_is_a_timeout_not_a_hang():
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with recpool.Client(f"tcp://127.0.0.1:{port}", timeout=0.3, grace=0.1) as c:
        with pytest.raises(recpool.Timeout, match="STATUS"):
            c.status()


def test_recommend_health_is_the_answer_of_a_probe_as_recpool_health_says(tmp_path):
    """A worker that offers RECOMMEND but whose model has no feature specification refuses every RECOMMEND:
    ``health("RECOMMEND")`` sends one, as ``recpool health`` does, and is unhealthy, naming the refusal."""
    import asyncio

    from pools import LocalPool

    local = LocalPool(tmp_path / "state", workers=1)
    try:
        with recpool.Client(local.frontend) as c:
            assert c.health("SCORE")
            found = c.health("RECOMMEND")
            assert not found and found.live_workers == 0 and found.workers == 1
            assert found.reason.startswith("RECOMMEND is answered BAD_REQUEST: "), found.reason
            with pytest.raises(recpool.BadRequest):
                c.recommend(top=1, candidates=[0])

        async def probe():
            async with recpool.AsyncClient(local.frontend) as a:
                return await a.health("RECOMMEND")
        found = asyncio.run(probe())
        assert not found and found.reason.startswith("RECOMMEND is answered BAD_REQUEST: ")
    finally:
        local.stop()
