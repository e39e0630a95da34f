"""The Python client (clients/python) against `recpool loadtest` on the same pool, side by side.

One pool (recpool-broker + 2 recpool-worker, input width 106) serves both load generators, interleaved
run by run: `recpool loadtest` (Swift, closed loop, CONCURRENCY in flight, one socket) and this process
driving `recpool.Client.score_many` (one Python process, one socket, the same number in flight) or
`recpool.AsyncClient` (asyncio, the same). Reported: requests/s at batch 1 and rows/s at batch 256,
medians of the repeats with their range, and Python ÷ Swift.

Errors are counted for every run, by the names `recpool loadtest` uses (reply status names such as `BUSY`,
client failures such as `TIMEOUT`; a Swift run's requests without a reply as `LOST`). A run with any error is
left out of the medians and ratios, and a figure with no clean run behind it is printed `undefined` (`null` in
the JSON), never 0 and never a rate measured over a run cut short.

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
from benchlib import Cluster, machine, single_thread_blas_env, start_broker, start_workers, wait_until

WIDTH = 106


def seconds(text: str) -> float:
    """A duration as `recpool loadtest --duration` reads it (`10s`, `250ms`, `500us`, `2m`, or bare seconds), so the
    Python run lasts what the Swift one did; anything it refuses (`1ss`, `-1s`, `nan`) is a ValueError before either
    runs."""
    for suffix, scale in (("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0)):
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            break
    else:
        number, scale = text, 1.0
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"--duration {text!r} is not a duration such as 10s, 250ms, 500us or 2m") from None
    if not (value >= 0 and value != float("inf")) or number.strip() != number or number.lower() in ("nan", "inf"):
        raise ValueError(f"--duration {text!r} is not a duration such as 10s, 250ms, 500us or 2m")
    return value * scale


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


def error_name(error: recpool.RecPoolError) -> str:
    """The name `recpool loadtest` counts a failure under: the reply's status name, or the client failure's."""
    if error.status is not None:
        return error.status.name
    for cls, name in ((recpool.Timeout, "TIMEOUT"), (recpool.Closed, "CLOSED"),
                      (recpool.ProtocolViolation, "PROTOCOL"), (recpool.InvalidRequest, "INVALID_REQUEST")):
        if isinstance(error, cls):
            return name
    return type(error).__name__.upper()


def count(errors: dict, name: str, n: int = 1) -> dict:
    """``errors`` with ``n`` more under ``name``."""
    errors[name] = errors.get(name, 0) + n
    return errors


def swift_loadtest(bin_dir, frontend, batch, concurrency, duration):
    args = [os.path.join(bin_dir, "recpool"), "loadtest", "--broker", frontend, "--concurrency", str(concurrency),
            "--batch", str(batch), "--width", str(WIDTH), "--duration", duration, "--json", "--quiet",
            "--timeout-ms", "5000"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(out.stderr or out.stdout)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    errors = dict(r["errors"])
    if r["lost"]:
        count(errors, "LOST", r["lost"])
    return {"rps": r["throughput_rps"], "rows_per_s": r["rows_per_s"], "errors": errors}


def batches(batch: int):
    rng = np.random.default_rng(batch)
    return [rng.random((batch, WIDTH), dtype=np.float32) for _ in range(64)]


def python_sync(frontend, batch, concurrency, duration):
    """Closed loop through Client.score_many: `concurrency` requests in flight on one socket, the next
    batch sent as each reply arrives, until `duration` has passed. `score_many` ends at its first failure
    (and cancels the rest), so a run with an error has no throughput: it is counted, with the rates `None`."""
    pool = batches(batch)
    with recpool.Client(frontend) as client:
        start = time.perf_counter()
        end = start + seconds(duration)

        def until_time():
            k = 0
            while time.perf_counter() < end:
                yield pool[k % len(pool)]
                k += 1

        try:
            done = len(client.score_many(until_time(), window=concurrency))
        except recpool.RecPoolError as error:
            return {"rps": None, "rows_per_s": None, "errors": {error_name(error): 1}}
        elapsed = time.perf_counter() - start
    return {"rps": done / elapsed, "rows_per_s": done * batch / elapsed, "errors": {}}


def python_async(frontend, batch, concurrency, duration):
    """Closed loop through AsyncClient.score: `concurrency` tasks, each awaiting one request at a time."""
    pool = batches(batch)

    errors: dict = {}

    async def main():
        done = 0
        async with recpool.AsyncClient(frontend) as client:
            start = time.perf_counter()
            end = start + seconds(duration)

            async def lane(offset):
                nonlocal done
                k = offset
                while time.perf_counter() < end:
                    try:
                        await client.score(pool[k % len(pool)])
                        done += 1
                    except recpool.RecPoolError as error:  # counted, as recpool loadtest counts it
                        count(errors, error_name(error))
                    k += concurrency

            await asyncio.gather(*(lane(i) for i in range(concurrency)))
            return done, time.perf_counter() - start

    done, elapsed = asyncio.run(main())
    return {"rps": done / elapsed, "rows_per_s": done * batch / elapsed, "errors": errors}


def clean(runs):
    """The runs without an error (only those have a rate that compares)."""
    return [r for r in runs if not r["errors"] and r["rps"] is not None]


def figure(runs, key):
    """``(median, low, high)`` of ``key`` over the clean runs, or ``None`` when there is none."""
    values = [r[key] for r in clean(runs)]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def ratio(python_runs, swift_runs, key):
    """Median over the repeats of Python ÷ Swift within the same repeat (the runs sit next to each other, so a
    noisy neighbour slows both), over the repeats where both runs are clean and Swift's rate is not 0;
    ``None`` when no repeat qualifies."""
    pairs = [p[key] / s[key] for p, s in zip(python_runs, swift_runs)
             if clean([p]) and clean([s]) and s[key] > 0]
    return statistics.median(pairs) if pairs else None


def table(runs, batches_and_keys=((1, "rps", "requests/s"), (256, "rows_per_s", "rows/s"))):
    """The report's table rows (markdown), an undefined figure printed ``undefined``."""
    def shown(found):
        return "undefined" if found is None else f"{found[0]:,.0f} [{found[1]:,.0f}–{found[2]:,.0f}]"

    def times(value):
        return "undefined" if value is None else f"{value:.2f}×"

    lines = ["| batch | measure | recpool loadtest (Swift) | Python `Client.score_many` | ratio | "
             "Python `AsyncClient` | ratio | runs with errors |", "|---|---|---|---|---|---|---|---|"]
    for batch, key, label in batches_and_keys:
        swift, sync, aio = (runs.get(f"{kind}/{batch}", []) for kind in ("swift", "python", "python-async"))
        failed = {kind: len(r) - len(clean(r)) for kind, r in (("swift", swift), ("python", sync),
                                                               ("python-async", aio))}
        lines.append(f"| {batch} | {label} | {shown(figure(swift, key))} | {shown(figure(sync, key))} | "
                     f"{times(ratio(sync, swift, key))} | {shown(figure(aio, key))} | {times(ratio(aio, swift, key))} "
                     f"| {', '.join(f'{k} {v}' for k, v in failed.items() if v) or 'none'} |")
    return lines


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
                    rate = ("undefined (the run failed)" if r["rps"] is None
                            else f"{r['rps']:,.0f} req/s, {r['rows_per_s']:,.0f} rows/s")
                    print(f"repeat {repeat + 1} batch {batch} {kind}: {rate}, errors {r['errors'] or 'none'}",
                          file=sys.stderr)
    finally:
        pool.stop()

    print(f"Machine: {machine()}.")
    print(f"\n### The Python client against recpool loadtest (same pool: broker + 2 workers, width 106; "
          f"{args.concurrency} requests in flight on one socket; {args.duration} per run, medians of "
          f"the clean runs of {args.repeats}, range in brackets)\n")
    print("\n".join(table(runs)))
    print("\nRatios are Python ÷ Swift per repeat (adjacent runs), median over the repeats where both ran clean.")
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as handle:
            json.dump({"machine": machine(), "args": vars(args), "runs": runs}, handle, indent=1)


if __name__ == "__main__":
    main()
