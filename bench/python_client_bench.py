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
import math
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

import recpool
from benchlib import Cluster, machine, single_thread_blas_env, start_broker, start_workers, wait_until

WIDTH = 106


#: The units `recpool loadtest` reads, in the order it tries them (Sources/LoadTest/LoadDuration.swift), with their
#: length in µs; a duration with none is bare seconds.
UNITS = (("us", 1.0), ("µs", 1.0), ("ms", 1e3), ("s", 1e6), ("m", 60e6))
#: The longest duration `recpool loadtest` takes: a day, in µs.
LONGEST_MICROS = 86_400_000_000
#: What Swift's `Double(_:)` reads (the C library's `strtod` grammar, in the C locale, the whole text and nothing
#: around it): a sign, then ASCII decimal digits with an optional point and exponent, hexadecimal digits after `0x`
#: with an optional point and binary exponent, or `inf`, `infinity`, `nan` and `nan(...)` in any case.
_DOUBLE = re.compile(r"""[+-]?(?:
    (?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?
  | 0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?
  | (?i:inf|infinity|s?nan(?:\([0-9A-Za-z_]*\))?)
)""", re.VERBOSE)
#: Concurrency, as `recpool loadtest --concurrency` takes it, and rows per request, as `--batch` does.
CONCURRENCY_RANGE = (1, 100_000)
BATCH_RANGE = (1, 8192)


def _double(text: str):
    """``text`` as Swift's ``Double(text)`` reads it, or None where it reads nothing (``1_0``, ``١``, `` 1``)."""
    if not _DOUBLE.fullmatch(text):
        return None
    body = text.lstrip("+-")
    if body.lower().startswith(("nan", "snan")):
        return float("nan")
    if "x" in body.lower():
        return None  # hexadecimal (`0x1p0`), which Swift's Double reads and the duration parser refuses
    return float(text)  # decimal digits or infinity, correctly rounded as Swift reads them


def seconds(text: str) -> float:
    """A duration as `recpool loadtest --duration` reads it (Sources/LoadTest/LoadDuration.swift): a number ≥ 0 with
    `us`, `µs`, `ms`, `s` or `m`, or bare seconds, as Swift's `Double` reads decimal numbers (`1e-3s`, `+.5s`, but no
    hexadecimal, no space, no `_`, no digits other than ASCII's), counted in whole µs (rounded down), at least 1 µs and
    at most a day. Returns the seconds, so the Python run lasts what the Swift one did; anything it refuses (`0s`,
    `-0s`, `1e-7s`, `1_0s`, `0x1p0s`, `1h`, `nan`) is a ValueError naming the flag, the text and the rule, before
    either runs."""
    number, scale = text, 1e6
    for suffix, unit in UNITS:
        if text.endswith(suffix):
            number, scale = text[: -len(suffix)], unit
            break
    value = _double(number)
    if value is None or not value >= 0:  # NaN is not ≥ 0; -0 is, and is then below the resolution
        raise ValueError(f"--duration: cannot read {text!r}: a duration is a number ≥ 0 with us, ms, s or m (10s, "
                         "250ms, 2m), or bare seconds")
    exact = value * scale
    if not exact <= LONGEST_MICROS:
        raise ValueError(f"--duration must be at most 1440m (a day), got {text}")
    micros = math.floor(exact)
    if micros == 0:
        raise ValueError(f"--duration must be at least 1us (durations are counted in whole µs), got {text}")
    return micros / 1e6


def checked(value, name: str, bounds) -> int:
    """``value`` when it is an int within ``bounds`` (inclusive), as `recpool loadtest` takes ``--concurrency`` and
    ``--batch``; else a ValueError naming the flag, before anything runs (a concurrency of 0 sent nothing, and the
    run was reported as a clean rate of 0)."""
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"--{name} must be {low}…{high}, got {value!r}")
    return value


def rates(done: int, batch: int, elapsed: float, errors: dict) -> dict:
    """A run's result: its requests/s and rows/s, or ``None`` for both (undefined, never 0) when no request completed
    in it, since a rate of nothing measured nothing."""
    if done == 0 or not elapsed > 0:
        return {"rps": None, "rows_per_s": None, "errors": errors}
    return {"rps": done / elapsed, "rows_per_s": done * batch / elapsed, "errors": errors}


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
    (and cancels the rest), so a run with an error has no throughput: it is counted, with the rates `None`,
    as is a run in which no request completed. A `concurrency` or `batch` `recpool loadtest` refuses, or a
    `duration` it cannot read, is a ValueError before anything runs.

    The call's timeout bounds the whole run (one deadline for all its requests): the duration plus 5 s, as each
    of recpool loadtest's requests gets 5 s (`--timeout-ms 5000`)."""
    checked(concurrency, "concurrency", CONCURRENCY_RANGE)
    checked(batch, "batch", BATCH_RANGE)
    length = seconds(duration)
    pool = batches(batch)
    with recpool.Client(frontend) as client:
        start = time.perf_counter()
        end = start + length

        def until_time():
            k = 0
            while time.perf_counter() < end:
                yield pool[k % len(pool)]
                k += 1

        try:
            done = len(client.score_many(until_time(), window=concurrency, timeout=length + 5.0))
        except recpool.RecPoolError as error:
            return {"rps": None, "rows_per_s": None, "errors": {error_name(error): 1}}
        elapsed = time.perf_counter() - start
    return rates(done, batch, elapsed, {})


def python_async(frontend, batch, concurrency, duration):
    """Closed loop through AsyncClient.score: `concurrency` tasks, each awaiting one request at a time. Refuses
    what :func:`python_sync` refuses; a run in which no request completed has the rates `None`."""
    checked(concurrency, "concurrency", CONCURRENCY_RANGE)
    checked(batch, "batch", BATCH_RANGE)
    length = seconds(duration)
    pool = batches(batch)

    errors: dict = {}

    async def main():
        done = 0
        async with recpool.AsyncClient(frontend) as client:
            start = time.perf_counter()
            end = start + length

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
    return rates(done, batch, elapsed, errors)


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
    # Checked before any pool starts, by recpool loadtest's rules: a bad value found after the warm-up left a pool
    # started for nothing, and one Python took (--duration 0s) measured a rate of 0 as a clean run.
    try:
        seconds(args.duration)
        checked(args.concurrency, "concurrency", CONCURRENCY_RANGE)
    except ValueError as error:
        parser.error(str(error))
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
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
                    rate = ("undefined (the run failed)" if r["rps"] is None and r["errors"]
                            else "undefined (no request completed)" if r["rps"] is None
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
