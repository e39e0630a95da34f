"""Broker overhead, measured side by side: RecPool's broker against a minimal libzmq forwarder.

Both paths are driven by the same C load generator (bench/reference/zmqbench.c) with two
workers each. Two references: the forwarder with echo workers moving one 64-byte frame each way
(the floor of any request), and the forwarder carrying the same SCORE requests as RecPool's with C
workers that answer them in RecPool's reply shape (`zmqbench answer`: the header and a rows × 1
tensor, no model), so the broker's CPU is compared with a forwarder's for the very same messages.
recpool-worker processes run behind recpool-broker. Each configuration runs REPEATS times,
interleaved, and the medians are reported.

Usage: broker_bench.py BIN_DIR ZMQBENCH [--repeats 3] [--rows 1] [--json OUT] [--baseline BIN_DIR]

--rows sets the rows of each SCORE (a batch), RecPool's and the same-message reference's.

--baseline names a second build (an earlier commit's recpool-broker and recpool-worker), run interleaved
with BIN_DIR's so that a change to the broker is measured before and after in one session.
"""
import argparse
import json
import subprocess
import sys
import time

from benchlib import Cluster, CPUMeter, free_port, machine, median, start_broker, start_workers


def client(zmqbench, endpoint, mode, concurrency, requests, width, rows=1):
    out = subprocess.run([zmqbench, "client", endpoint, mode, str(concurrency), str(requests), str(width), str(rows)],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(out.stderr or out.stdout)
    return json.loads(out.stdout)


def measure(cluster, zmqbench, endpoint, mode, width, latency_n, throughput_n, rows=1):
    """Latency at 1 in flight, throughput at 16, and CPU per request of the broker (the cluster's first
    process) and of its workers (the others) over the throughput run, from /proc."""
    client(zmqbench, endpoint, mode, 4, 2000, width, rows)  # warm-up
    c1 = client(zmqbench, endpoint, mode, 1, latency_n, width, rows)
    meter = CPUMeter(cluster.procs[0], cluster.procs[1:])
    c16 = client(zmqbench, endpoint, mode, 16, throughput_n, width, rows)
    cpu = meter.per_request(throughput_n)
    return {"p50_us": c1["p50_us"], "p99_us": c1["p99_us"], "rps_c1": c1["rps"], "rps_c16": c16["rps"], **cpu}


def reference_run(zmqbench, args, width=None):
    """The C forwarder with two C workers: echoing one 64-byte frame (`width` None), or answering SCOREs of
    `width` features and `args.rows` rows in RecPool's reply shape."""
    front, back = free_port(), free_port()
    cluster = Cluster()
    try:
        cluster.start([zmqbench, "forwarder", f"tcp://127.0.0.1:{front}", f"tcp://127.0.0.1:{back}"])
        time.sleep(0.2)
        for _ in range(2):
            cluster.start([zmqbench, "echo" if width is None else "answer", f"tcp://127.0.0.1:{back}"])
        time.sleep(0.3)
        if width is None:
            return measure(cluster, zmqbench, f"tcp://127.0.0.1:{front}", "raw", 0, args.latency_requests,
                           args.throughput_requests)
        return measure(cluster, zmqbench, f"tcp://127.0.0.1:{front}", "recpool", width, args.latency_requests,
                       args.throughput_requests, args.rows)
    finally:
        cluster.stop()


def recpool_run(bin_dir, zmqbench, width, args):
    cluster = Cluster()
    try:
        endpoints = start_broker(cluster, bin_dir)
        start_workers(cluster, bin_dir, endpoints["backend"], 2, "--input-width", str(width), prefix="bench-")
        time.sleep(0.5)
        return measure(cluster, zmqbench, endpoints["frontend"], "recpool", width, args.latency_requests,
                       args.throughput_requests, args.rows)
    finally:
        cluster.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("zmqbench")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1, help="rows per RecPool SCORE request (a batch)")
    parser.add_argument("--latency-requests", type=int, default=5000)
    parser.add_argument("--throughput-requests", type=int, default=100000)
    parser.add_argument("--json")
    parser.add_argument("--baseline", help="a second BIN_DIR (an earlier build) to run interleaved, for before/after")
    args = parser.parse_args()

    runs = {"reference": [], "reference_w8": [], "reference_w106": [], "recpool_w8": [], "recpool_w106": []}
    if args.baseline:
        runs.update({"baseline_w8": [], "baseline_w106": []})
    for rep in range(args.repeats):
        runs["reference"].append(reference_run(args.zmqbench, args))
        runs["reference_w8"].append(reference_run(args.zmqbench, args, 8))
        runs["reference_w106"].append(reference_run(args.zmqbench, args, 106))
        if args.baseline:
            runs["baseline_w8"].append(recpool_run(args.baseline, args.zmqbench, 8, args))
        runs["recpool_w8"].append(recpool_run(args.bin_dir, args.zmqbench, 8, args))
        if args.baseline:
            runs["baseline_w106"].append(recpool_run(args.baseline, args.zmqbench, 106, args))
        runs["recpool_w106"].append(recpool_run(args.bin_dir, args.zmqbench, 106, args))
        print(f"repeat {rep + 1}/{args.repeats}: " + json.dumps({k: v[-1] for k, v in runs.items()}), file=sys.stderr)

    keys = ("p50_us", "p99_us", "rps_c1", "rps_c16", "broker_cpu_us", "workers_cpu_us")
    ref = {k: median(runs["reference"], k) for k in keys}
    print(f"Machine: {machine()}; "
          f"medians of {args.repeats} interleaved runs; 2 workers on each path.\n")
    print("| path | p50 at c=1 (µs) | p99 at c=1 (µs) | req/s at c=16 | p50 ratio (vs ref) | throughput ratio (vs ref) "
          "| broker CPU µs/req | workers CPU µs/req | broker CPU ratio (vs ref) | broker CPU ratio (vs same messages) "
          "| workers CPU ratio (vs same messages) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    summary = {"reference": ref}
    shape = f"{args.rows} row{'s' if args.rows != 1 else ''}"

    def line(label, m, same=None):
        same_broker = f"{m['broker_cpu_us'] / same['broker_cpu_us']:.2f}" if same else "—"
        same_workers = f"{m['workers_cpu_us'] / same['workers_cpu_us']:.2f}" if same else "—"
        print(f"| {label} | {m['p50_us']:.0f} | {m['p99_us']:.0f} | {m['rps_c16']:.0f} | "
              f"{m['p50_us'] / ref['p50_us']:.2f} | {m['rps_c16'] / ref['rps_c16']:.2f} | "
              f"{m['broker_cpu_us']:.1f} | {m['workers_cpu_us']:.1f} | {m['broker_cpu_us'] / ref['broker_cpu_us']:.2f} | "
              f"{same_broker} | {same_workers} |")

    line("reference ROUTER–ROUTER forwarder + echo workers (64-byte frames)", ref)
    for width in (8, 106):
        key = f"reference_w{width}"
        summary[key] = {k: median(runs[key], k) for k in keys}
        line(f"reference forwarder + answering C workers, SCORE {shape} × {width} features", summary[key],
             summary[key])
    rows = [("recpool_w8", f"RecPool broker + workers, SCORE {shape} × 8 features", 8),
            ("recpool_w106", f"RecPool broker + workers, SCORE {shape} × 106 features", 106)]
    if args.baseline:
        rows = [("baseline_w8", f"baseline build, SCORE {shape} × 8 features", 8), rows[0],
                ("baseline_w106", f"baseline build, SCORE {shape} × 106 features", 106), rows[1]]
    for key, label, width in rows:
        m = {k: median(runs[key], k) for k in keys}
        summary[key] = m
        line(label, m, summary[f"reference_w{width}"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "medians": summary}, f, indent=1)


if __name__ == "__main__":
    main()
