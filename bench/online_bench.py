"""Online learning benchmarks (issue 9), on a local pool started with --online.

1. Feedback throughput: `recpool simulate` (one RECOMMEND and three FEEDBACK per user) at concurrency
   16 against 1 and 2 workers; events/s is acknowledged feedback over the run's wall time, and per
   worker divides by the worker count.
2. Recommend latency with online learning on against off: `recpool loadtest --recommend` (closed loop,
   concurrency 4) while a background `recpool simulate` keeps feedback flowing; "off" is the same with
   the pool frozen (`recpool online freeze`: feedback is still stored, nothing is learnt or synced).
   On and off alternate, `--repeats` times each.
3. Burst to served: an idle pool with syncs triggered by events only (--online-sync-events 600, the
   interval set to an hour); a burst of 200 users (600 feedback events) at concurrency 16. From the
   burst's start, the time until `recpool simulate` exits (every event acknowledged) and the time until
   every replica reports the new version with identical weights (polled every 2 ms over one client
   connection). The sync starts when the 600th event reaches the learners, so the second time can be
   shorter than the first (the simulate process still has to print and exit).

Usage: online_bench.py BIN_DIR [--repeats 3] [--only feedback|latency|burst]
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

import zmq

from benchlib import Cluster, free_port, median, start_broker


def scrape(port):
    """Sums of the worker's online-learning series: events learnt, updates, seconds spent updating."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {"events": 0.0, "updates": 0.0, "update_seconds": 0.0}
    for line in text.splitlines():
        if line.startswith("recpool_worker_online_events_total "):
            out["events"] = float(line.split()[-1])
        elif line.startswith("recpool_worker_online_updates_total "):
            out["updates"] = float(line.split()[-1])
        elif line.startswith("recpool_worker_online_update_seconds_sum"):
            out["update_seconds"] = float(line.split()[-1])
    return out


class Pool:
    def __init__(self, bin_dir, workers, extra=(), metrics=False):
        self.bin_dir = bin_dir
        self.directory = tempfile.mkdtemp(prefix="recpool-online-bench-")
        self.cluster = Cluster()
        endpoints = start_broker(self.cluster, bin_dir, "--state-dir", os.path.join(self.directory, "state"),
                                 "--online", *extra)
        self.frontend = endpoints["frontend"]
        self.metrics_ports = []
        for i in range(workers):
            flags = []
            if metrics:
                port = free_port()
                self.metrics_ports.append(port)
                flags = ["--metrics", f"127.0.0.1:{port}"]
            self.cluster.start([os.path.join(bin_dir, "recpool-worker"), "--broker", endpoints["backend"],
                                "--id", f"w{i}", "--log-level", "error", *flags])
        self.workers = workers
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.connect(self.frontend)
        self.rid = 0
        while True:
            view = self.online()
            if len(view["replicas"]) == workers and all(r["version"] == view["version"] for r in view["replicas"]):
                break
            time.sleep(0.02)

    def control(self, op):
        self.rid += 1
        header = b"RPL" + bytes([1, 0x06, 0]) + struct.pack("<HQQQHHIIIII", 0, self.rid, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        self.sock.send_multipart([header, json.dumps({"op": op}).encode()])
        while True:
            reply = self.sock.recv_multipart()
            rid = struct.unpack("<Q", reply[0][8:16])[0]
            if rid == self.rid:
                return json.loads(reply[1])

    def online(self):
        return self.control("online")

    def converged(self, view):
        return len(view["replicas"]) == self.workers and all(
            r["version"] == view["version"] and r["weights_sha256"] == view["weights_sha256"] for r in view["replicas"])

    def simulate(self, users, concurrency, seed=1, wait=True):
        args = [os.path.join(self.bin_dir, "recpool"), "simulate", "--broker", self.frontend, "--users", str(users),
                "--seed", str(seed), "--concurrency", str(concurrency), "--json", "--quiet"]
        if not wait:
            return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = subprocess.run(args, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    def loadtest(self, duration):
        out = subprocess.run(
            [os.path.join(self.bin_dir, "recpool"), "loadtest", "--broker", self.frontend, "--recommend",
             "--dataset", "synthetic", "--concurrency", "4", "--duration", duration, "--json"],
            capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def stop(self):
        self.sock.close(0)
        self.ctx.term()
        self.cluster.stop()


def feedback_throughput(bin_dir, repeats):
    print("### Feedback throughput (simulate, concurrency 16, 3,000 users = 9,000 feedback events a run)\n")
    print("Acknowledged: FEEDBACK events the broker committed and answered per second of the run. Learnt: "
          "events each worker's learner took in, and the time its updates took (from its Prometheus "
          "metrics); capacity = events learnt ÷ update seconds, what one worker's learning thread could absorb "
          "if it did nothing else.\n")
    print("| workers | acknowledged events/s (median) | learnt events/s per worker | learning thread busy | "
          "learning capacity per worker, events/s | runs |")
    print("|---|---|---|---|---|---|")
    for workers in (1, 2):
        rates, learnt, busy, capacity = [], [], [], []
        for rep in range(repeats):
            pool = Pool(bin_dir, workers, metrics=True)
            try:
                result = pool.simulate(3000, 16, seed=rep + 1)
                time.sleep(0.3)
                scraped = [scrape(port) for port in pool.metrics_ports]
            finally:
                pool.stop()
            seconds = result["elapsed_ms"] / 1000
            rates.append(result["feedback_sent"] / seconds)
            per_worker = [m["events"] / seconds for m in scraped]
            learnt.append(statistics.mean(per_worker))
            busy.append(statistics.mean(m["update_seconds"] / seconds for m in scraped))
            capacity.append(statistics.mean(m["events"] / m["update_seconds"] for m in scraped if m["update_seconds"] > 0))
        print(f"| {workers} | {statistics.median(rates):.0f} | {statistics.median(learnt):.0f} | "
              f"{100 * statistics.median(busy):.1f}% | {statistics.median(capacity):.0f} | {len(rates)} |")
        sys.stdout.flush()
    print()


def recommend_latency(bin_dir, repeats):
    print("### Recommend latency with online learning on and off (2 workers, loadtest --recommend, concurrency 4, "
          "5 s, background simulate at concurrency 4)\n")
    pool = Pool(bin_dir, 2, ["--online-sync-interval-ms", "1000"])
    results = {"on": [], "off": []}
    try:
        stop = threading.Event()

        def feed():
            seed = 100
            while not stop.is_set():
                child = pool.simulate(2000, 4, seed=seed, wait=False)
                while child.poll() is None:
                    if stop.is_set():
                        child.kill()
                    time.sleep(0.05)
                seed += 1

        background = threading.Thread(target=feed)
        background.start()
        time.sleep(3)
        for _ in range(repeats):
            for mode in ("on", "off"):
                pool.control("online_unfreeze" if mode == "on" else "online_freeze")
                time.sleep(0.5)
                results[mode].append(pool.loadtest("5s"))
        syncs = pool.online()["syncs"]
        stop.set()
        background.join()
    finally:
        pool.stop()
    print("| learning | p50 ms | p99 ms | throughput req/s | runs |")
    print("|---|---|---|---|---|")
    for mode in ("on", "off"):
        runs = results[mode]
        print(f"| {mode} | {median(runs, 'p50_ms'):.3f} | "
              f"{median(runs, 'p99_ms'):.3f} | "
              f"{median(runs, 'throughput_rps'):.0f} | {len(runs)} |")
    print(f"\n({syncs} syncs were accepted during the run.)\n")


def burst_to_served(bin_dir, repeats):
    print("### From a burst of feedback to every replica serving a version trained on it (2 workers, "
          "600 events, sync on 600 events)\n")
    served_at, finished_at = [], []
    for rep in range(repeats):
        pool = Pool(bin_dir, 2, ["--online-sync-events", "600", "--online-sync-interval-ms", "3600000"])
        try:
            before = pool.online()["version"]
            start = time.monotonic()
            burst = pool.simulate(200, 16, seed=rep + 1, wait=False)
            served = finished = None
            while served is None or finished is None:
                if finished is None and burst.poll() is not None:
                    finished = time.monotonic()
                if served is None:
                    view = pool.online()
                    if view["version"] > before and pool.converged(view):
                        served = time.monotonic()
                time.sleep(0.002)
        finally:
            pool.stop()
        served_at.append((served - start) * 1000)
        finished_at.append((finished - start) * 1000)
    print("| burst start → `recpool simulate` exits (every event acknowledged), ms | burst start → every replica "
          "serves the version trained on it, ms: median | min | max | runs |")
    print("|---|---|---|---|---|")
    print(f"| {statistics.median(finished_at):.0f} | {statistics.median(served_at):.0f} | {min(served_at):.0f} | "
          f"{max(served_at):.0f} | {len(served_at)} |\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["feedback", "latency", "burst"])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start\n")
    if args.only in (None, "feedback"):
        feedback_throughput(args.bin_dir, args.repeats)
    if args.only in (None, "latency"):
        recommend_latency(args.bin_dir, args.repeats)
    if args.only in (None, "burst"):
        burst_to_served(args.bin_dir, args.repeats)


if __name__ == "__main__":
    main()
