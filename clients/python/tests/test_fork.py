"""A client used in a forked child process (``multiprocessing`` with fork, ``os.fork``) opens its own socket there:
ZeroMQ sockets and contexts must not cross a fork (the child hung for good in ``getsockopt(ZMQ_EVENTS)`` on the
parent's socket, whatever the call's timeout). The parent's socket is never touched by the child, and the parent
keeps working."""
import asyncio
import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

import recpool

#: The client the forked workers inherit (a module global, as a script's would be).
CLIENT = None
ROWS = None


def score_in_child(index: int):
    """Runs in a forked worker: scores one row with the inherited client."""
    return os.getpid(), CLIENT.score(ROWS[index:index + 1], timeout=5).probabilities.tolist()


def wait_child(pid: int, timeout: float = 20.0) -> int:
    """The exit status of the forked child ``pid``; kills it and fails the test if it has not exited in time."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"the forked child {pid} did not end within {timeout:g} s (it hung on the parent's socket)")


def fork(body) -> int:
    """Runs ``body()`` in a forked child; its exit code is 0 when it returned true, 1 when false, 2 on an error."""
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            code = 0 if body() else 1
        except BaseException as error:  # noqa: BLE001 (the child reports through its exit code only)
            os.write(2, f"child: {type(error).__name__}: {error}\n".encode())
        finally:
            os._exit(code)
    return wait_child(pid)


@pytest.fixture
def rows(client):
    width = client.status()["workers"][0]["input_width"]
    return np.random.default_rng(3).random((4, width), dtype=np.float32)


def test_a_client_shared_with_a_multiprocessing_fork_pool_scores_in_the_workers(client, rows):
    global CLIENT, ROWS
    CLIENT, ROWS = client, rows
    expected = client.score(rows).probabilities.tolist()  # the parent's socket is in use before the fork
    workers = multiprocessing.get_context("fork").Pool(2)
    try:
        answers = workers.map_async(score_in_child, range(4)).get(timeout=20)
    except multiprocessing.TimeoutError:
        pytest.fail("the forked workers hung on the parent's socket")
    finally:
        workers.terminate()
        workers.join()
    assert [p for _, ps in answers for p in ps] == pytest.approx(expected, rel=1e-6)
    assert {pid for pid, _ in answers} - {os.getpid()}  # answered in the workers
    assert client.score(rows).probabilities.tolist() == pytest.approx(expected, rel=1e-6)  # the parent still works


def test_a_client_used_after_os_fork_works_in_the_child_and_the_parent(client, rows):
    expected = client.score(rows).probabilities.tolist()

    def child():
        first = client.score(rows, timeout=5).probabilities.tolist()
        again = client.health(timeout=5)  # the child's own socket, kept for its next calls
        client.close()
        return first == pytest.approx(expected, rel=1e-6) and again.healthy

    assert fork(child) == 0
    assert fork(lambda: client.close() or True) == 0  # closing in a child leaves the parent's socket alone
    assert client.score(rows).probabilities.tolist() == pytest.approx(expected, rel=1e-6)
    assert client.health().healthy


def test_an_async_client_used_after_os_fork_works_in_the_child_and_the_parent(pool, rows):
    aclient = recpool.AsyncClient(pool.frontend)
    expected = asyncio.run(aclient.score(rows)).probabilities.tolist()

    def child():
        async def main():
            first = (await aclient.score(rows, timeout=5)).probabilities.tolist()
            healthy = (await aclient.health(timeout=5)).healthy
            await aclient.close()
            return first == pytest.approx(expected, rel=1e-6) and healthy
        return asyncio.run(main())

    try:
        assert fork(child) == 0

        async def close_in_child():
            await aclient.close()
            return True
        assert fork(lambda: asyncio.run(close_in_child())) == 0
        assert asyncio.run(aclient.score(rows)).probabilities.tolist() == pytest.approx(expected, rel=1e-6)
    finally:
        asyncio.run(aclient.close())
