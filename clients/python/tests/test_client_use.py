"""How a Client may be used: one thread at a time (told at once, not by a minute-long hang), arguments of numpy's
narrow types checked without warnings, and a training frame with no row refused before anything is uploaded. No pool:
a TCP stand-in broker (tcp_broker.py) that answers STATUS and leaves other calls unanswered."""
import asyncio
import threading
import time
import warnings

import numpy as np
import pytest

import recpool
from tcp_broker import LateBroker, free_port


@pytest.fixture
def broker():
    late = LateBroker(f"tcp://127.0.0.1:{free_port()}")
    yield late
    late.stop()


def test_a_call_from_a_second_thread_is_refused_at_once_while_the_first_runs(broker):
    # Shared by 8 threads, each thread dropped the others' replies as late and every call waited out its deadline.
    with recpool.Client(broker._endpoint, timeout=2) as client:
        assert client.status() == {}
        outcome = []

        def first():
            try:
                client.score(np.zeros((1, 3), np.float32))  # never answered: runs until its deadline
            except recpool.RecPoolError as error:
                outcome.append(type(error))

        thread = threading.Thread(target=first)
        thread.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(h.command == recpool.Command.SCORE
                                                       for h, _ in broker.received):
            time.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(recpool.InvalidRequest, match="another thread's call"):
            client.status()
        assert time.monotonic() - started < 1
        thread.join()
        assert outcome == [recpool.Timeout]
        assert client.status() == {}  # free again once the first call ended


def test_an_async_client_refuses_a_call_from_another_threads_running_loop(broker):
    # Shared by two threads' event loops, messages mixed on the socket and a call was handed another call's scores.
    client = recpool.AsyncClient(broker._endpoint, timeout=2)
    started = threading.Event()
    outcome = []

    async def first():
        call = asyncio.ensure_future(client.score(np.zeros((1, 3), np.float32)))  # never answered
        while client._reader is None:
            await asyncio.sleep(0.01)
        started.set()
        try:
            await call
        except recpool.RecPoolError as error:
            outcome.append(type(error))

    thread = threading.Thread(target=lambda: asyncio.run(first()))
    thread.start()
    assert started.wait(10)
    with pytest.raises(recpool.InvalidRequest, match="another thread's event loop"):
        asyncio.run(client.status())
    thread.join()
    assert outcome == [recpool.Timeout]

    async def later():
        try:
            return await client.status()  # the first loop has ended: this loop takes the client
        finally:
            await client.close()

    assert asyncio.run(later()) == {}


def test_an_async_client_moves_to_a_new_loop_when_its_loop_is_stopped_or_closed_with_tasks_pending(broker):
    # run_until_complete leaves the reader pending: its receive took the next reply into the dead loop, and the first
    # call from the next loop timed out.
    client = recpool.AsyncClient(broker._endpoint, timeout=3)
    try:
        for close in (False, True):
            first = asyncio.new_event_loop()
            assert first.run_until_complete(client.status()) == {}
            if close:
                first.close()
            assert asyncio.run(client.status()) == {}  # answered: the broken client raised Timeout here
            if not close:
                first.close()
    finally:
        asyncio.run(client.close())


def test_numpy_narrow_scalars_as_durations_raise_no_warning(broker):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = recpool.Client(broker._endpoint, timeout=np.float16(1), grace=np.float16(0.25))
        try:
            assert client.status(timeout=np.float16(1)) == {}
            with pytest.raises(recpool.InvalidRequest):
                client.status(timeout=np.float16(-1))
        finally:
            client.close()


def test_a_training_frame_with_no_row_is_refused_before_anything_is_sent(broker):
    pd = pytest.importorskip("pandas")
    with recpool.Client(broker._endpoint) as client:
        with pytest.raises(recpool.InvalidRequest, match="no data rows"):
            client.train(pd.DataFrame({"f0": [], "label": []}))
    assert broker.received == []


def test_a_child_forked_during_another_threads_call_can_call(broker):
    # The child's copy of the in-call lock stayed held: every call in the child was refused as another thread's.
    import os

    with recpool.Client(broker._endpoint, timeout=2) as client:
        assert client.status() == {}
        thread = threading.Thread(target=lambda: pytest.raises(recpool.Timeout, client.score, np.zeros((1, 3))))
        thread.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(h.command == recpool.Command.SCORE for h, _ in broker.received):
            time.sleep(0.01)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = 0 if client.status() == {} else 2
            except BaseException:
                code = 3
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        thread.join()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
