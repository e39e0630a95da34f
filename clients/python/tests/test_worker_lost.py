"""WORKER_LOST: the worker holding a request dies and the broker may not dispatch it again."""
import asyncio
import signal

import numpy as np

import recpool
from pools import DirectPool


def test_a_request_whose_worker_dies_with_no_attempt_left_is_worker_lost():
    # One dispatch allowed; the worker waits up to 20 s to fill a micro-batch, so it holds the request
    # until it is killed. Heartbeats every 200 ms: the broker declares it dead 600 ms later.
    pool = DirectPool(["--max-attempts", "1", "--heartbeat-ms", "200"],
                      ["--batch-wait-us", "20000000", "--batch-max-rows", "8192", "--heartbeat-ms", "200"], workers=1)
    try:
        worker = pool.children[1]

        async def main():
            async with recpool.AsyncClient(pool.frontend, timeout=15) as c:
                task = asyncio.ensure_future(c.score(np.zeros((1, 106), np.float32)))
                while (await c.status())["inflight"] < 1:  # polled: the request reached the worker
                    await asyncio.sleep(0.02)
                worker.send_signal(signal.SIGKILL)
                try:
                    await task
                except recpool.RecPoolError as error:
                    return error
            return None

        error = asyncio.run(main())
        assert isinstance(error, recpool.WorkerLost), error
        assert error.status == recpool.Status.WORKER_LOST
    finally:
        pool.stop()
