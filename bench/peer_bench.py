"""RecPool against a Majordomo-style peer pool, and RecPool's scale-out and broker capacity.

One load generator drives everything: `recpool loadtest` (closed loop, --json). The peer
(bench/peers/mdp_pool.py) speaks the SCORE subset of the RecPool protocol, so the same client,
batch sizes, concurrency and worker count are used on both sides, interleaved repeat by repeat.
Medians of the repeats are reported, with the spread (min–max) as the noise.

Usage: peer_bench.py BIN_DIR PYTHON [--section peer|scale|transport|all] [--repeats 3] [--duration 4s]
                     [--concurrency 16] [--batches 1 32 256] [--json OUT]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from benchlib import Cluster, CPUMeter, machine, median, single_thread_blas_env, start_broker, start_workers

HERE = os.path.dirname(os.path.abspath(__file__))


def start_recpool(bin_dir, workers, width, backend_transport="tcp"):
    c = Cluster()
    # Same BLAS setting as the peer: one thread per worker (OpenBLAS reads this when it loads).
    if backend_transport == "ipc":
        state = f"/tmp/recpool-bench-state-{os.getpid()}"
        os.makedirs(state, exist_ok=True)
        broker = c.start([os.path.join(bin_dir, "recpool-broker"), "--frontend", "tcp://127.0.0.1:*",
                          "--backend", f"ipc://{state}/backend.sock", "--log-level", "error", "--state-dir", state],
                         stdout=subprocess.PIPE, text=True)
        endpoints = json.loads(broker.stdout.readline())
    else:
        endpoints = start_broker(c, bin_dir, "--state-dir", f"/tmp/recpool-bench-state-{os.getpid()}")
    backend = endpoints["backend"].replace("0.0.0.0", "127.0.0.1")
    start_workers(c, bin_dir, backend, workers, "--input-width", str(width), prefix="bench-",
                  env=single_thread_blas_env())
    return c, endpoints["frontend"].replace("0.0.0.0", "127.0.0.1")


def start_peer(python, workers, width):
    c = Cluster()
    env = single_thread_blas_env()
    pool = os.path.join(HERE, "peers", "mdp_pool.py")
    broker = c.start([python, pool, "broker", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*"],
                     stdout=subprocess.PIPE, text=True, env=env)
    frontend = broker.stdout.readline().split()[1]
    backend = broker.stdout.readline().split()[1]
    for _ in range(workers):
        c.start([python, pool, "worker", backend, "--width", str(width)], env=env)
    return c, frontend


def loadtest(bin_dir, frontend, batch, width, concurrency, duration, connections=1):
    args = [os.path.join(bin_dir, "recpool"), "loadtest", "--broker", frontend, "--concurrency", str(concurrency),
            "--batch", str(batch), "--width", str(width), "--duration", duration, "--json", "--quiet",
            "--connections", str(connections), "--timeout-ms", "5000"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(out.stderr or out.stdout)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # The load generator's own CPU (utime + stime of the reaped child; the pools' processes are still
    # running, so they are not in RUSAGE_CHILDREN yet): it shares the cores with both pools.
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["loadgen_cpu_us"] = cpu_s / max(result["completed"], 1) * 1e6
    return result


def measure(kind, bin_dir, python, workers, batch, width, concurrency, duration, connections=1):
    if kind == "peer":
        cluster, frontend = start_peer(python, workers, width)
    else:
        cluster, frontend = start_recpool(bin_dir, workers, width, "ipc" if kind == "recpool-ipc" else "tcp")
    try:
        time.sleep(1.0 if kind == "peer" else 0.6)  # workers register (numpy import takes a moment)
        loadtest(bin_dir, frontend, batch, width, concurrency, "1s", connections)  # warm-up
        # The cluster's first process is the broker, the others its workers.
        meter = CPUMeter(cluster.procs[0], cluster.procs[1:])
        r = loadtest(bin_dir, frontend, batch, width, concurrency, duration, connections)
        cpu = meter.per_request(r["completed"])
        keep = ("sent", "completed", "lost", "errors", "throughput_rps", "rows_per_s", "p50_ms", "p99_ms",
                "p999_ms", "max_ms", "breakdown", "loadgen_cpu_us")
        return {**{k: r[k] for k in keep}, **cpu}
    finally:
        cluster.stop()


def error_counts(errors):
    """The run's error replies by status, `none` when there were none (never an empty `{}`)."""
    return ", ".join(f"{status} {count}" for status, count in sorted(errors.items())) or "none"


def spread(runs, key):
    values = [r[key] for r in runs]
    return f"{min(values):,.0f}–{max(values):,.0f}" if values[0] > 50 else f"{min(values):.2f}–{max(values):.2f}"


def interleaved(args, kinds):
    """Runs every kind of pool at every batch size, repeat by repeat, with 2 workers each; returns
    {"KIND/BATCH": [result per repeat]}."""
    runs = {}
    for rep in range(args.repeats):
        for batch in args.batches:
            for kind in kinds:
                r = measure(kind, args.bin_dir, args.python, 2, batch, 106, args.concurrency, args.duration)
                runs.setdefault(f"{kind}/{batch}", []).append(r)
                print(f"repeat {rep + 1} {kind} batch {batch}: {r['throughput_rps']:.0f} req/s "
                      f"p50 {r['p50_ms']:.3f} p99 {r['p99_ms']:.3f} ms errors {error_counts(r['errors'])} "
                      f"lost {r['lost']} CPU/req broker {r['broker_cpu_us']:.1f} µs workers "
                      f"{r['workers_cpu_us']:.1f} µs load generator {r['loadgen_cpu_us']:.1f} µs",
                      file=sys.stderr)
    return runs


def peer_section(args, results):
    runs = interleaved(args, ("recpool", "peer"))
    print(f"\n### RecPool against the peer pool (2 workers each, concurrency {args.concurrency}, "
          f"closed loop, {args.duration} per run, medians of {args.repeats}; range in brackets)\n")
    print("| batch | pool | req/s | rows/s | p50 ms | p99 ms | req/s ratio | p99 ratio (peer ÷ RecPool) "
          "| broker CPU µs/req | workers CPU µs/req | load generator CPU µs/req |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for batch in args.batches:
        rp, pe = runs[f"recpool/{batch}"], runs[f"peer/{batch}"]
        for name, r in (("RecPool", rp), ("peer (pyzmq + numpy)", pe)):
            ratio = median(rp, "throughput_rps") / median(pe, "throughput_rps")
            p99r = median(pe, "p99_ms") / median(rp, "p99_ms")
            print(f"| {batch} | {name} | {median(r, 'throughput_rps'):,.0f} [{spread(r, 'throughput_rps')}] | "
                  f"{median(r, 'rows_per_s'):,.0f} | {median(r, 'p50_ms'):.3f} | {median(r, 'p99_ms'):.3f} "
                  f"[{spread(r, 'p99_ms')}] | {ratio if name == 'RecPool' else 1:.2f}× | "
                  f"{p99r if name == 'RecPool' else 1:.2f} | {median(r, 'broker_cpu_us'):.1f} | "
                  f"{median(r, 'workers_cpu_us'):.1f} | {median(r, 'loadgen_cpu_us'):.1f} |")
    results["peer"] = runs


def scale_section(args, results):
    runs = {}
    for rep in range(args.repeats):
        for workers in (1, 2, 4):
            for batch in (1, 256):
                r = measure("recpool", args.bin_dir, args.python, workers, batch, 106, args.concurrency, args.duration)
                runs.setdefault(f"w{workers}/b{batch}", []).append(r)
                print(f"repeat {rep + 1} workers {workers} batch {batch}: {r['throughput_rps']:.0f} req/s",
                      file=sys.stderr)
        # Broker capacity: the cheapest possible work (width 1, batch 1), 4 workers, many in flight.
        r = measure("recpool", args.bin_dir, args.python, 4, 1, 1, 64, args.duration, connections=2)
        runs.setdefault("capacity", []).append(r)
        print(f"repeat {rep + 1} broker capacity: {r['throughput_rps']:.0f} req/s", file=sys.stderr)
    print(f"\n### Scale-out (RecPool, concurrency {args.concurrency}, medians of {args.repeats})\n")
    print("| workers | batch 1 req/s | batch 1 p99 ms | batch 256 rows/s | batch 256 p99 ms |")
    print("|---|---|---|---|---|")
    for w in (1, 2, 4):
        a, b = runs[f"w{w}/b1"], runs[f"w{w}/b256"]
        print(f"| {w} | {median(a, 'throughput_rps'):,.0f} [{spread(a, 'throughput_rps')}] | {median(a, 'p99_ms'):.3f} | "
              f"{median(b, 'rows_per_s'):,.0f} [{spread(b, 'rows_per_s')}] | {median(b, 'p99_ms'):.3f} |")
    c = runs["capacity"]
    print(f"\nBroker capacity (4 workers, width 1, batch 1, concurrency 64 over 2 client sockets): "
          f"{median(c, 'throughput_rps'):,.0f} dispatches/s [{spread(c, 'throughput_rps')}], "
          f"p50 {median(c, 'p50_ms'):.3f} ms, p99 {median(c, 'p99_ms'):.3f} ms; mean time in broker queue "
          f"{statistics.median(r['breakdown']['broker_queue_ms'] for r in c):.3f} ms.")
    results["scale"] = runs


def transport_section(args, results):
    """Workers on the broker's host: backend over tcp:// loopback against ipc:// (a Unix socket)."""
    runs = interleaved(args, ("recpool", "recpool-ipc"))
    print(f"\n### Backend transport for local workers (RecPool, 2 workers, concurrency {args.concurrency}, "
          f"medians of {args.repeats})\n")
    print("| batch | backend | req/s | p50 ms | p99 ms | broker CPU µs/req | workers CPU µs/req |")
    print("|---|---|---|---|---|---|---|")
    for batch in args.batches:
        for kind, name in (("recpool", "tcp://127.0.0.1"), ("recpool-ipc", "ipc://")):
            r = runs[f"{kind}/{batch}"]
            print(f"| {batch} | {name} | {median(r, 'throughput_rps'):,.0f} [{spread(r, 'throughput_rps')}] | "
                  f"{median(r, 'p50_ms'):.3f} | {median(r, 'p99_ms'):.3f} | {median(r, 'broker_cpu_us'):.1f} | "
                  f"{median(r, 'workers_cpu_us'):.1f} |")
    results["transport"] = runs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("python")
    parser.add_argument("--section", default="all", choices=["peer", "scale", "transport", "all"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", default="4s")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 256])
    parser.add_argument("--json")
    args = parser.parse_args()
    print(f"Machine: {machine()}; load generator: recpool loadtest (closed loop).")
    results = {"machine": machine(), "args": vars(args)}
    if args.section in ("peer", "all"):
        peer_section(args, results)
    if args.section in ("scale", "all"):
        scale_section(args, results)
    if args.section in ("transport", "all"):
        transport_section(args, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
