"""The Python client (clients/python) against `recpool loadtest` on the same pool, side by side.

One pool (recpool-broker + 2 recpool-worker, input width 106) serves both load generators, interleaved
run by run: `recpool loadtest` (Swift, closed loop, CONCURRENCY in flight, one socket) and this process
driving `recpool.Client.score_many` (one Python process, one socket, the same number in flight) or
`recpool.AsyncClient` (asyncio, the same). Reported: requests/s at batch 1 and rows/s at batch 256,
medians of the repeats with their range, and Python ÷ Swift.

Usage: python_client_bench.py BIN_DIR [--repeats 3] [--duration 4s] [--concurrency 16] [--json OUT]
"""
import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import recpool
from benchlib import Cluster, machine, median, single_thread_blas_env, start_broker, start_workers, wait_until

WIDTH = 106


def seconds(text: str) -> float:
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text.rstrip("s"))


class Pool:
    """A broker and two workers on OS-picked loopback ports; stopped (SIGTERM, then SIGKILL) at the end."""

    def __init__(self, bin_dir: str, workers: int = 2):
        self.cluster = Cluster()
        endpoints = start_broker(self.cluster, bin_dir, "--exit-with-parent")
        self.frontend = endpoints["frontend"]
        start_workers(self.cluster, bin_dir, endpoints["backend"], workers, "--input-width", str(WIDTH),
                      "--exit-with-parent", prefix="bench-", env=single_thread_blas_env())
        with recpool.Client(self.frontend) as client:
            wait_until(lambda: client.health().live_workers >= workers, timeout=30, what="the workers registering")

    def stop(self):
        self.cluster.stop(grace=10)


def swift_loadtest(bin_dir, frontend, batch, concurrency, duration):
    args = [os.path.join(bin_dir, "recpool"), "loadtest", "--broker", frontend, "--concurrency", str(concurrency),
            "--batch", str(batch), "--width", str(WIDTH), "--duration", duration, "--json", "--quiet",
            "--timeout-ms", "5000"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(out.stderr or out.stdout)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {"rps": r["throughput_rps"], "rows_per_s": r["rows_per_s"], "errors": sum(r["errors"].values()) + r["lost"]}


def batches(batch: int):
    rng = np.random.default_rng(batch)
    return [rng.random((batch, WIDTH), dtype=np.float32) for _ in range(64)]


def python_sync(frontend, batch, concurrency, duration):
    """Closed loop through Client.score_many: `concurrency` requests in flight on one socket, the next
    batch sent as each reply arrives, until `duration` has passed."""
    pool = batches(batch)
    with recpool.Client(frontend) as client:
        start = time.perf_counter()
        end = start + seconds(duration)

        def until_time():
            k = 0
            while time.perf_counter() < end:
                yield pool[k % len(pool)]
                k += 1

        done = len(client.score_many(until_time(), window=concurrency))
        elapsed = time.perf_counter() - start
    return {"rps": done / elapsed, "rows_per_s": done * batch / elapsed, "errors": 0}


def python_async(frontend, batch, concurrency, duration):
    """Closed loop through AsyncClient.score: `concurrency` tasks, each awaiting one request at a time."""
    pool = batches(batch)

    async def main():
        done = 0
        async with recpool.AsyncClient(frontend) as client:
            start = time.perf_counter()
            end = start + seconds(duration)

            async def lane(offset):
                nonlocal done
                k = offset
                while time.perf_counter() < end:
                    await client.score(pool[k % len(pool)])
                    done += 1
                    k += concurrency

            await asyncio.gather(*(lane(i) for i in range(concurrency)))
            return done, time.perf_counter() - start

    done, elapsed = asyncio.run(main())
    return {"rps": done / elapsed, "rows_per_s": done * batch / elapsed, "errors": 0}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", default="4s")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json")
    args = parser.parse_args()
    runners = {"swift": lambda f, b: swift_loadtest(args.bin_dir, f, b, args.concurrency, args.duration),
               "python": lambda f, b: python_sync(f, b, args.concurrency, args.duration),
               "python-async": lambda f, b: python_async(f, b, args.concurrency, args.duration)}
    runs = {}
    pool = Pool(args.bin_dir)
    try:
        for batch in (1, 256):  # warm-up: replicas, allocator, sockets
            swift_loadtest(args.bin_dir, pool.frontend, batch, args.concurrency, "1s")
            python_sync(pool.frontend, batch, args.concurrency, "1s")
        for repeat in range(args.repeats):
            for batch in (1, 256):
                for kind, run in runners.items():
                    r = run(pool.frontend, batch)
                    runs.setdefault(f"{kind}/{batch}", []).append(r)
                    print(f"repeat {repeat + 1} batch {batch} {kind}: {r['rps']:,.0f} req/s, "
                          f"{r['rows_per_s']:,.0f} rows/s, errors {r['errors']}", file=sys.stderr)
    finally:
        pool.stop()

    def med(key, kind, batch):
        return median(runs[f"{kind}/{batch}"], key)

    def rng(key, kind, batch):
        values = [r[key] for r in runs[f"{kind}/{batch}"]]
        return f"{min(values):,.0f}–{max(values):,.0f}"

    print(f"Machine: {machine()}.")
    print(f"\n### The Python client against recpool loadtest (same pool: broker + 2 workers, width 106; "
          f"{args.concurrency} requests in flight on one socket; {args.duration} per run, medians of "
          f"{args.repeats}, range in brackets)\n")
    def paired(key, kind, batch):
        """Median over repeats of Python ÷ Swift within the same repeat (the runs sit next to each other,
        so a noisy neighbour slows both)."""
        pairs = zip(runs[f"{kind}/{batch}"], runs[f"swift/{batch}"])
        return statistics.median(p[key] / s[key] for p, s in pairs)

    print("| batch | measure | recpool loadtest (Swift) | Python `Client.score_many` | ratio | "
          "Python `AsyncClient` | ratio |")
    print("|---|---|---|---|---|---|---|")
    for batch, key, label in ((1, "rps", "requests/s"), (256, "rows_per_s", "rows/s")):
        swift = med(key, "swift", batch)
        sync, aio = med(key, "python", batch), med(key, "python-async", batch)
        print(f"| {batch} | {label} | {swift:,.0f} [{rng(key, 'swift', batch)}] | {sync:,.0f} "
              f"[{rng(key, 'python', batch)}] | {paired(key, 'python', batch):.2f}× | {aio:,.0f} "
              f"[{rng(key, 'python-async', batch)}] | {paired(key, 'python-async', batch):.2f}× |")
    print("\nRatios are Python ÷ Swift per repeat (adjacent runs), median over the repeats.")
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as handle:
            json.dump({"machine": machine(), "args": vars(args), "runs": runs}, handle, indent=1)


if __name__ == "__main__":
    main()
