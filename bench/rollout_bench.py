"""Time from promotion until every replica serves the new version, at 2 and 8 workers.

Starts recpool-broker (with a state directory) and N recpool-worker processes on loopback,
imports two checkpoints, promotes the first and waits for it everywhere, then promotes the second
and polls `STATUS` (through `recpool status --json`) until every worker reports it. Repeats and
reports the median. Several worker processes share the 2 cores.

Usage: rollout_bench.py BIN_DIR [--workers 2 8] [--repeats 5]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from benchlib import Cluster, run, start_broker, start_workers


def make_checkpoints(bin_dir, directory, width=106):
    import random
    random.seed(5)
    path = os.path.join(directory, "train.csv")
    with open(path, "w") as f:
        f.write(",".join(f"f{i}" for i in range(width)) + ",label\n")
        for _ in range(256):
            row = [random.random() for _ in range(width)]
            f.write(",".join(f"{v:.3f}" for v in row) + f",{1 if row[0] > 0.5 else 0}\n")
    paths = []
    for seed in (1, 2, 3):
        out = os.path.join(directory, f"m{seed}.ckpt")
        run([os.path.join(bin_dir, "recpool"), "fit", "--dataset", path, "--out", out, "--epochs", "1", "--seed", str(seed)])
        paths.append(out)
    return paths


def status(bin_dir, frontend):
    return json.loads(run([os.path.join(bin_dir, "recpool"), "status", "--broker", frontend, "--json"]))


def measure(bin_dir, workers, checkpoints, repeats):
    directory = tempfile.mkdtemp(prefix="recpool-rollout-")
    cluster = Cluster()
    try:
        endpoints = start_broker(cluster, bin_dir, "--state-dir", os.path.join(directory, "state"))
        start_workers(cluster, bin_dir, endpoints["backend"], workers)
        frontend = endpoints["frontend"]
        while len(status(bin_dir, frontend)["workers"]) < workers:
            time.sleep(0.05)
        versions = []
        for ckpt in checkpoints:
            out = run([os.path.join(bin_dir, "recpool"), "import", "--broker", frontend, "--model", ckpt])
            versions.append(int(out.split()[-1]))
        times = []
        for rep in range(repeats):
            version = versions[rep % len(versions)]
            start = time.monotonic()
            run([os.path.join(bin_dir, "recpool"), "promote", "--broker", frontend, str(version)])
            while True:
                s = status(bin_dir, frontend)
                if len(s["workers"]) == workers and all(w["model_version"] == version for w in s["workers"]):
                    break
                time.sleep(0.005)
            times.append((time.monotonic() - start) * 1000)
        return times
    finally:
        cluster.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        checkpoints = make_checkpoints(args.bin_dir, directory)
        print("| workers | median ms from `recpool promote` to every replica serving it | min | max | runs |")
        print("|---|---|---|---|---|")
        for n in args.workers:
            times = measure(args.bin_dir, n, checkpoints, args.repeats)
            print(f"| {n} | {statistics.median(times):.0f} | {min(times):.0f} | {max(times):.0f} | {len(times)} |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
