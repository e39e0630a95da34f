"""An AsyncClient call its caller cancelled (``asyncio.wait_for``'s timeout, ``task.cancel()``) while the broker was
down is never sent when the broker comes back; one the socket had already sent is followed by a CANCEL. No pool: the
broker is a ROUTER bound on a TCP port of 127.0.0.1 (7600-7699) once the call was cancelled."""
import asyncio

import numpy as np
import pytest

import recpool
from recpool import wire
from tcp_broker import LateBroker, free_port

#: Every kind of call, each one message the broker would run: serving, feedback, and the control plane.
CALLS = {
    "score": lambda client: client.score(np.zeros((2, 4), np.float32)),
    "recommend": lambda client: client.recommend({"user_feature_0": "u0_01"}, top=3),
    "feedback": lambda client: client.feedback("imp-1", 3, 1),
    "control": lambda client: client.control("online"),
    "promote": lambda client: client.promote(7),
    "train": lambda client: client.train("sha256:" + "ab" * 32, epochs=1),
}


async def cancel(call, how: str, after: float = 0.3):
    """Runs ``call`` (a coroutine) and cancels it after ``after`` seconds, as ``how`` says."""
    if how == "wait_for":
        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await asyncio.wait_for(call, after)
        return
    task = asyncio.ensure_future(call)
    await asyncio.sleep(after)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("how", ["wait_for", "cancel"])
@pytest.mark.parametrize("kind", list(CALLS))
def test_a_call_cancelled_while_the_broker_is_down_is_never_sent_when_it_comes_back(kind, how):
    # docs/PYTHON.md: with ZMQ_IMMEDIATE a call cannot be sent while the broker is down; it is never kept to run when
    # the broker comes back after the caller was told it failed. The send stayed queued in pyzmq (an async train the
    # caller was told was cancelled ran as a job).
    endpoint = f"tcp://127.0.0.1:{free_port()}"

    async def main():
        async with recpool.AsyncClient(endpoint, timeout=30) as client:
            await cancel(CALLS[kind](client), how)
            broker = LateBroker(endpoint)  # the broker comes back
            try:
                # A message still queued would go out first, before this STATUS (pyzmq sends in order).
                assert await client.status(timeout=10) == {}
                return broker.commands()
            finally:
                broker.stop()

    assert asyncio.run(main()) == ["STATUS"]


@pytest.mark.parametrize("how", ["wait_for", "cancel"])
def test_a_cancelled_call_that_was_sent_is_cancelled_at_the_broker(how):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    broker = LateBroker(endpoint)

    async def main():
        async with recpool.AsyncClient(endpoint, timeout=30) as client:
            await client.status()  # connected: the next call goes out at once
            await cancel(client.promote(7), how)
            for _ in range(200):
                if broker.cancelled():
                    break
                await asyncio.sleep(0.01)

    try:
        asyncio.run(main())
        (promote,) = [h.request_id for h, _ in broker.received if h.command == wire.Command.CONTROL]
        assert broker.cancelled() == {promote}
    finally:
        broker.stop()
