"""Where the broker's CPU goes: `perf record` on recpool-broker while the C load generator drives it.

Starts recpool-broker and two recpool-worker processes (as broker_bench.py does), warms up, then
records the broker process (call graphs, user space) over one run at 16 in flight and prints the
CPU per request from /proc next to `perf report`'s top entries (self time, by symbol).

Usage: broker_profile.py BIN_DIR ZMQBENCH [--width 8] [--rows 1] [--requests 100000] [--perf perf] [--out DIR]
                         [--process broker|worker] [--sort symbol|dso,symbol]

`--process worker` records the first worker instead of the broker.
"""
import argparse
import os
import signal
import subprocess
import time

from benchlib import Cluster, CPUMeter, start_broker, start_workers
from broker_bench import client


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("zmqbench")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--rows", type=int, default=1, help="rows per SCORE request (a batch)")
    parser.add_argument("--requests", type=int, default=100000)
    parser.add_argument("--perf", default="perf")
    parser.add_argument("--out", default="bench/out")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--frequency", type=int, default=2000)
    parser.add_argument("--process", choices=["broker", "worker"], default="broker",
                        help="which process to record: the broker, or the first of the two workers")
    parser.add_argument("--sort", default="symbol", help="perf report's --sort keys, such as dso,symbol")
    parser.add_argument("--call-graph", default="fp", help="fp, or dwarf for Swift code built without frame pointers")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    data = os.path.join(args.out, "broker.perf.data")
    cluster = Cluster()
    try:
        endpoints = start_broker(cluster, args.bin_dir)
        start_workers(cluster, args.bin_dir, endpoints["backend"], 2, "--input-width", str(args.width), prefix="prof-")
        time.sleep(0.5)
        client(args.zmqbench, endpoints["frontend"], "recpool", 4, 2000, args.width, args.rows)  # warm-up
        broker = cluster.procs[0]
        recorded = broker if args.process == "broker" else cluster.procs[1]
        perf = subprocess.Popen([args.perf, "record", "-F", str(args.frequency), "--call-graph", args.call_graph, "-o", data, "-p", str(recorded.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        meter = CPUMeter(broker, cluster.procs[1:])
        result = client(args.zmqbench, endpoints["frontend"], "recpool", 16, args.requests, args.width, args.rows)
        cpu = meter.per_request(args.requests)
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=120)
    finally:
        cluster.stop()
    print(f"req/s {result['rps']:.0f}; broker CPU {cpu['broker_cpu_us']:.1f} µs/req; "
          f"workers {cpu['workers_cpu_us']:.1f} µs/req")
    report = subprocess.run([args.perf, "report", "-i", data, "--no-children", "--sort", args.sort,
                             "--stdio", "-g", "none", "--percent-limit", "0.5"],
                            capture_output=True, text=True)
    lines = [l for l in report.stdout.splitlines() if l.strip() and not l.startswith("#")]
    print("\n".join(lines[:args.top]))


if __name__ == "__main__":
    main()
