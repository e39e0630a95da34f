"""What a client holds of the process: an AsyncClient nobody closed is still collected, with its tasks and files, and
a process out of file descriptors is told so instead of ``Timeout ... (no connection)``. No pool: a TCP stand-in
broker (tcp_broker.py)."""
import asyncio
import errno
import gc
import os
import subprocess
import sys
import textwrap
import time
import weakref
from pathlib import Path

import pytest

import recpool
from tcp_broker import LateBroker, free_port

TESTS = Path(__file__).resolve().parent


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def broker():
    late = LateBroker(f"tcp://127.0.0.1:{free_port()}")
    yield late
    late.stop()


def test_an_async_client_nobody_closed_is_collected_with_its_tasks_and_files(broker):
    # Its reader and watcher tasks kept it alive for good: 2 tasks and 4 files each, until the process ran out.
    async def main():
        async with recpool.AsyncClient(broker._endpoint) as first:  # the context's own files are opened once
            await first.status()
        await asyncio.sleep(0.1)
        tasks, files = len(asyncio.all_tasks()), open_files()
        dropped = []
        for _ in range(30):
            client = recpool.AsyncClient(broker._endpoint)
            assert await client.status() == {}  # starts its reader and its watcher
            dropped.append(weakref.ref(client))
            del client
        gc.collect()
        assert [ref for ref in dropped if ref() is not None] == []
        end = time.monotonic() + 5
        while time.monotonic() < end and (len(asyncio.all_tasks()) > tasks or open_files() > files + 2):
            await asyncio.sleep(0.05)  # the tasks end, and libzmq's reaper closes the files
        assert len(asyncio.all_tasks()) == tasks
        assert open_files() <= files + 2  # the stand-in broker's side of connections may still be closing

    asyncio.run(main())


def test_a_client_dropped_while_its_loop_runs_later_calls_nothing_of_it(broker):
    # The reader holds only a weak reference: the next client's replies are still routed, not lost to a dead one.
    async def main():
        for _ in range(3):
            client = recpool.AsyncClient(broker._endpoint)
            assert await client.status() == {}
            del client
        async with recpool.AsyncClient(broker._endpoint) as kept:
            assert await asyncio.gather(*(kept.status() for _ in range(5))) == [{}] * 5

    asyncio.run(main())


OUT_OF_FILES = textwrap.dedent("""
    import asyncio, resource, sys
    sys.path[:0] = [{package!r}, {tests!r}]
    import recpool
    from tcp_broker import LateBroker, free_port

    broker = LateBroker(f"tcp://127.0.0.1:{{free_port()}}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (96, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    kept = []

    async def main():
        for _ in range(200):
            client = {make}
            kept.append(client)
            {call}
    try:
        asyncio.run(main())
        print("no error")
    except Exception as error:
        expected = getattr(recpool, "TooManyOpenFiles", ())
        print(type(error).__name__, isinstance(error, expected), isinstance(error, OSError),
              error.errno if isinstance(error, OSError) else None)
        print(error)
""")


@pytest.mark.parametrize("make, call", [
    ("recpool.AsyncClient(broker._endpoint, timeout=2)", "await client.status()"),
    ("recpool.Client(broker._endpoint, timeout=2)", "client.status()"),
    ("recpool.AsyncClient(broker._endpoint, timeout=2)", "pass"),
    ("recpool.Client(broker._endpoint, timeout=2)", "pass"),
], ids=["async-call", "sync-call", "async-open", "sync-open"])
def test_a_process_out_of_file_descriptors_is_told_so(make, call):
    # It was "Timeout: could not send STATUS ... within its deadline (no connection)" when libzmq could not open the
    # connection's socket, and a bare ZMQError when it could not open the client's own socket or context.
    script = OUT_OF_FILES.format(package=str(TESTS.parent), tests=str(TESTS), make=make, call=call)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    kind, message = done.stdout.strip().split("\n", 1)
    assert kind == f"TooManyOpenFiles True True {errno.EMFILE}", done.stdout + done.stderr
    assert "too many open files: this process has no file descriptor left (its limit, ulimit -n, is 96)" in message
    assert "close the clients you no longer use" in message


def test_clients_closed_before_any_reply_leave_no_files_and_the_next_one_connects(broker):
    # Each client's handshake monitor kept libzmq's end of the monitor pair open after close: a hundred clients closed
    # before their first reply held ~300 descriptors, no new socket of the process connected any more (every call
    # ended "Timeout ... (no connection)"), and a reused descriptor number made the monitor's name collide: a bare
    # zmq.ZMQError "Address already in use" from the constructor.
    with recpool.Client(broker._endpoint) as first:  # the context's own files are opened once
        assert first.status() == {}
    files = open_files()
    for _ in range(300):
        recpool.Client(broker._endpoint).close()

    async def async_ones():
        for _ in range(100):
            async with recpool.AsyncClient(broker._endpoint):
                pass

    asyncio.run(async_ones())
    gc.collect()
    end = time.monotonic() + 5
    while time.monotonic() < end and open_files() > files + 2:
        time.sleep(0.05)  # libzmq's reaper closes the files
    assert open_files() <= files + 2
    with recpool.Client(broker._endpoint, timeout=3) as client:
        assert client.status() == {}
