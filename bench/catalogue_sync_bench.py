"""Replica memory and weight-sync bytes of a 2-worker pool at two catalogue sizes, side by side (issue 20).

For each size N the same steps run (those of LargeCatalogueTests):

    recpool simulate --world simulator:items=N --export-catalogue DIR
    recpool-broker --state-dir STATE                      # then: recpool catalogue upload --schema DIR/schema.toml
    recpool-broker --state-dir STATE --online --online-catalogue latest --online-sync-events 50
    recpool simulate --world simulator:items=N --users USERS --concurrency 4 --broker F

and then it reads, from the workers' logs (every "installed online policy" and "answered online sync" line), the
POLICY frame sizes (the PolicyInstall JSON, and frame 2: the whole statistics pack of a replica's first install and
the deltas of later versions, with their bucket rows) and the POLICY_STATE frame 2 sizes of every sync answer with
events (a delta from the replica's installed version), from the broker's state directory the
stored bytes of the newest policy version (its spec text plus its weights blob) and of the catalogue version, and
from /proc/PID/status each worker's VmRSS and VmHWM at the end, and its VmRSS once the catalogue was installed
(before any policy).

Usage: python3 bench/catalogue_sync_bench.py BIN_DIR [--sizes 1000,100000] [--users 200] [--json OUT]
"""
import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Cluster, free_port, machine, run, wait_until  # noqa: E402


def proc_kib(pid, key):
    """A /proc/PID/status field in KiB (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} missing for pid {pid}")


def online_view(bin_dir, frontend):
    out = subprocess.run([os.path.join(bin_dir, "recpool"), "online", "status", "--json", "--broker", frontend],
                         capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else None


def log_lines(log_path, message):
    """The key=value fields of every line of the log that holds `message`, numbers as ints."""
    found = []
    with open(log_path, errors="replace") as f:
        for line in f:
            if message in line:
                fields = dict(re.findall(r"(\w+)=(\S+)", line))
                found.append({k: (int(v) if v.isdigit() else v) for k, v in fields.items()})
    return found


def installs_of(log_path):
    """The "installed online policy" lines of a worker log: install_bytes (PolicyInstall JSON), pack_bytes (frame 2),
    pack_form (full or delta), delta_rows (bucket rows of a delta), policy_version, catalogue_version."""
    found = log_lines(log_path, "installed online policy")
    if not found:
        raise RuntimeError(f"no installed POLICY in {log_path}")
    return found


def syncs_of(log_path):
    """The "answered online sync" lines of a worker log with events learnt: state_bytes (POLICY_STATE frame 2),
    pack_form, delta_rows, events."""
    return [line for line in log_lines(log_path, "answered online sync") if line.get("events", 0) > 0]


def spread(values):
    """{"min", "mean", "max", "n"} of a list of numbers (None when empty)."""
    if not values:
        return None
    return {"min": min(values), "mean": round(sum(values) / len(values), 1), "max": max(values), "n": len(values)}


def measure(bin_dir, items, users, folder):
    recpool = os.path.join(bin_dir, "recpool")
    world = f"simulator:items={items}"
    export = os.path.join(folder, "world")
    state = os.path.join(folder, "state")
    run([recpool, "simulate", "--world", world, "--export-catalogue", export])
    frontend = f"tcp://127.0.0.1:{free_port()}"
    backend = f"tcp://127.0.0.1:{free_port()}"
    broker_args = [os.path.join(bin_dir, "recpool-broker"), "--frontend", frontend, "--backend", backend,
                   "--log-level", "error", "--state-dir", state]
    with Cluster() as cluster:
        first = cluster.start(broker_args, stdout=subprocess.DEVNULL)
        workers, logs = [], []
        for i in range(2):
            log = os.path.join(folder, f"w{i}.log")
            logs.append(log)
            workers.append(cluster.start(
                [os.path.join(bin_dir, "recpool-worker"), "--broker", backend, "--id", f"w{i}", "--log-level", "info"],
                stderr=open(log, "w"), stdout=subprocess.DEVNULL))
        time.sleep(1)
        run([recpool, "catalogue", "upload", "--schema", os.path.join(export, "schema.toml"), "--broker", frontend,
             "--timeout-ms", "600000"])
        # The catalogue version held, no policy yet: what the registry alone costs a worker.
        time.sleep(2)
        rss_catalogue = [proc_kib(w.pid, "VmRSS") for w in workers]
        first.kill()
        first.wait()
        cluster.start(broker_args + ["--online", "--online-catalogue", "latest", "--online-sync-events", "50"],
                      stdout=subprocess.DEVNULL)

        def serving():
            view = online_view(bin_dir, frontend)
            return bool(view) and len(view["replicas"]) == 2 and all(
                r["version"] == view["version"] for r in view["replicas"])
        wait_until(serving, timeout=600, interval=0.5, what="both replicas serving")
        run([recpool, "simulate", "--world", world, "--users", str(users), "--concurrency", "4", "--json", "--quiet",
             "--broker", frontend])
        wait_until(lambda: (online_view(bin_dir, frontend) or {}).get("version", 0) >= 2, timeout=300, interval=0.5,
                   what="a synced version")
        wait_until(serving, timeout=300, interval=0.5, what="both replicas on the synced version")
        view = online_view(bin_dir, frontend)
        installs = [i for log in logs for i in installs_of(log)]
        syncs = [x for log in logs for x in syncs_of(log)]
        rss = [proc_kib(w.pid, "VmRSS") for w in workers]
        hwm = [proc_kib(w.pid, "VmHWM") for w in workers]
    db = sqlite3.connect(os.path.join(state, "recpool.sqlite"))
    version, spec_len, weights_sha = db.execute(
        "SELECT version, length(CAST(spec AS BLOB)), weights_sha FROM policy_versions ORDER BY version DESC LIMIT 1"
    ).fetchone()
    catalogue_sha = db.execute("SELECT sha256 FROM catalogue_versions ORDER BY version DESC LIMIT 1").fetchone()[0]
    blob = lambda sha: os.path.getsize(os.path.join(state, "blobs", sha))  # noqa: E731
    return {
        "items": items, "policy_version": view["version"], "syncs": view["syncs"],
        "policy_install_bytes": max(i["install_bytes"] for i in installs),
        # Frame 2 of POLICY: whole (a replica's first install) and as deltas (every later version), per replica.
        "policy_full_pack_bytes": spread([i["pack_bytes"] for i in installs if i.get("pack_form") == "full"]),
        "policy_delta_pack_bytes": spread([i["pack_bytes"] for i in installs if i.get("pack_form") == "delta"]),
        "policy_delta_rows": spread([i["delta_rows"] for i in installs if i.get("pack_form") == "delta"]),
        # Frame 2 of POLICY_STATE, each sync answer with events, per replica.
        "policy_state_bytes": spread([x["state_bytes"] for x in syncs]),
        "policy_state_forms": sorted({x.get("pack_form") for x in syncs}),
        "policy_state_delta_rows": spread([x["delta_rows"] for x in syncs if x.get("pack_form") == "delta"]),
        "policy_state_events": spread([x["events"] for x in syncs]),
        "stored_version": version, "stored_spec_bytes": spec_len, "stored_weights_bytes": blob(weights_sha),
        "catalogue_blob_bytes": blob(catalogue_sha),
        "worker_rss_catalogue_only_kib": rss_catalogue, "worker_rss_kib": rss, "worker_hwm_kib": hwm,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--json")
    args = parser.parse_args()
    results = []
    for items in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory(prefix="recpool-sync-bench-") as folder:
            started = time.monotonic()
            r = measure(args.bin_dir, items, args.users, folder)
            r["seconds"] = round(time.monotonic() - started, 1)
            results.append(r)
            print(json.dumps(r), flush=True)
    report = {"machine": machine(), "load": os.getloadavg(), "results": results}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
