"""Training over the pool, measured: throughput with 1 and 2 workers, the cost of an averaging
round for H in {1, 10, 50}, and time to a target validation loss against H next to a
single-process `recpool fit` of the same data.

Starts recpool-broker (state in a temporary directory) and two recpool-worker processes, submits
jobs with `recpool train`, and reads each job's stored rounds (`recpool job ID --json`).

Usage: training_bench.py BIN_DIR [--rows 20000] [--epochs 2]
"""
import argparse
import json
import os
import random
import tempfile
import time

from benchlib import Cluster, run, start_broker, start_workers


def write_csv(path, rows, width=106, seed=5):
    rng = random.Random(seed)
    weights = [rng.uniform(-1, 1) for _ in range(width)]
    with open(path, "w") as f:
        f.write(",".join(f"f{i}" for i in range(width)) + ",label\n")
        for _ in range(rows):
            x = [rng.random() for _ in range(width)]
            z = sum(w * (v - 0.5) for w, v in zip(weights, x)) * 0.8 + rng.gauss(0, 0.5)
            f.write(",".join(f"{v:.3f}" for v in x) + f",{1 if z > 0 else 0}\n")


class Pool:
    def __init__(self, bin_dir, workers):
        self.bin_dir = bin_dir
        self.dir = tempfile.mkdtemp(prefix="recpool-train-bench-")
        self.cluster = Cluster()
        endpoints = start_broker(self.cluster, bin_dir, "--state-dir", os.path.join(self.dir, "state"))
        self.frontend = endpoints["frontend"]
        start_workers(self.cluster, bin_dir, endpoints["backend"], workers)
        while len(json.loads(run([self.cli, "status", "--broker", self.frontend, "--json"]))["workers"]) < workers:
            time.sleep(0.05)

    @property
    def cli(self):
        return os.path.join(self.bin_dir, "recpool")

    def train(self, dataset, **flags):
        args = [self.cli, "train", "--broker", self.frontend, "--dataset", dataset, "--follow", "--json"]
        for key, value in flags.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        last = json.loads(run(args).strip().splitlines()[-1])
        if last["state"] != "completed":
            raise RuntimeError(f"job {last['job']} {last['state']}: {last.get('error')}")
        return json.loads(run([self.cli, "job", "--broker", self.frontend, last["job"], "--json"]))

    def stop(self):
        self.cluster.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        data = os.path.join(directory, "train.csv")
        write_csv(data, args.rows)

        # Single process, the reference.
        start = time.monotonic()
        run([os.path.join(args.bin_dir, "recpool"), "fit", "--dataset", data, "--out", os.path.join(directory, "fit.ckpt"),
             "--epochs", str(args.epochs)])
        fit_seconds = time.monotonic() - start

        pool = Pool(args.bin_dir, 2)
        try:
            pool.train(data, epochs=1, workers=2, sync_every=50)  # both workers parse and cache the dataset first
            jobs = {}
            for workers in (1, 2):
                jobs[workers] = pool.train(data, epochs=args.epochs, workers=workers, sync_every=50)
            print(f"Training data: {args.rows} rows × 106 features (80% train), {args.epochs} epochs, batch 32, MLP 106→106→64→1.\n")
            print("| replicas | samples/s | wall s (sum of rounds) | scaling efficiency |")
            print("|---|---|---|---|")
            base = None
            for workers, job in jobs.items():
                seconds = sum(r["seconds"] for r in job["rounds"])
                samples = sum(r["samples"] for r in job["rounds"])
                rate = samples / seconds
                base = base or rate
                print(f"| {workers} | {rate:.0f} | {seconds:.2f} | {rate / (workers * base):.2f} |")
            print(f"\nSingle-process `recpool fit` of the same data and epochs (includes CSV parsing): {fit_seconds:.2f} s.\n")

            print("| H (local steps per round) | rounds | mean round s | est. sync overhead per round (ms) | overhead share | final val_loss | s to val_loss ≤ target |")
            print("|---|---|---|---|---|---|---|")
            results = {}
            for h in (1, 10, 50):
                results[h] = pool.train(data, epochs=args.epochs, workers=2, sync_every=h)
            mean = {h: sum(r["seconds"] for r in j["rounds"]) / len(j["rounds"]) for h, j in results.items()}
            step = max((mean[50] - mean[10]) / 40, 1e-6)
            overhead = max(mean[10] - 10 * step, 0)
            final = {h: j["metrics"].get("val_loss", float("nan")) for h, j in results.items()}
            target = max(final.values()) * 1.02
            for h, job in results.items():
                elapsed, reached = 0.0, None
                for r in job["rounds"]:
                    loss = (r.get("metrics") or {}).get("val_loss")
                    if loss is not None and loss <= target:
                        reached = elapsed
                        break
                    elapsed += r["seconds"]
                if reached is None:
                    reached = elapsed
                print(f"| {h} | {len(job['rounds'])} | {mean[h]:.4f} | {overhead * 1000:.2f} | {overhead / mean[h]:.0%} | "
                      f"{final[h]:.4f} | {reached:.2f} |")
            print(f"\nTarget validation loss: {target:.4f} (2% above the worst final loss). Step time estimated from the "
                  f"H=10 and H=50 rounds: {step * 1000:.2f} ms per local step on each replica.")
        finally:
            pool.stop()


if __name__ == "__main__":
    main()
