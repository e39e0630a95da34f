"""Goodput at 1x and 3x capacity when every request has a deadline and the worker holds many slots.

Starts recpool-broker and one recpool-worker (`--slots`, default 64: the worker holds a backlog the broker's queue
never sees) on loopback, then sends SCOREs open loop at RATE and at 3 x RATE for DURATION seconds each, every request
with a deadline DEADLINE ms after it is sent, over several DEALER sockets, and counts every reply by request id
(each must come exactly once). With BASELINE set, the same is run with the binaries in BASELINE, interleaved, so the
two builds are compared side by side in one run.

Usage: deadline_overload_bench.py BIN_DIR [--baseline DIR] [--rate 95] [--duration 5] [--deadline-ms 500]
       [--rows 64] [--width 2048] [--slots 64] [--clients 4] [--repeats 1]
"""
import argparse
import collections
import os
import sys
import time

import numpy as np
import zmq

from benchlib import Cluster, machine, start_broker, start_workers

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "clients", "python"))
from recpool.wire import Command, Header, Status, decode_header, tensor_frame  # noqa: E402


def run_load(frontend, rate, duration, deadline_ms, rows, width, clients):
    """Sends `rate` SCOREs a second for `duration` s and waits for every reply; returns the status counts."""
    context = zmq.Context()
    sockets = []
    for _ in range(clients):
        socket = context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(frontend)
        sockets.append(socket)
    poller = zmq.Poller()
    for socket in sockets:
        poller.register(socket, zmq.POLLIN)
    payload = bytes(tensor_frame(np.random.default_rng(5).random((rows, width), dtype=np.float32)))
    outstanding = set()
    codes = collections.Counter()
    duplicates = 0

    def receive(timeout_ms):
        nonlocal duplicates
        for socket, _ in poller.poll(timeout_ms):
            while True:
                try:
                    frames = socket.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                header = decode_header(frames[0])
                if header.request_id not in outstanding:
                    duplicates += 1
                    continue
                outstanding.discard(header.request_id)
                codes[Status(header.status).name] += 1

    start = time.time()
    sent = 0
    while time.time() - start < duration:
        due = int((time.time() - start) * rate)
        while sent < due:
            sent += 1
            deadline = int(time.time() * 1000) + deadline_ms
            header = Header(command=int(Command.SCORE), request_id=sent, deadline_ms=deadline)
            sockets[sent % clients].send_multipart([header.encode(), payload])
            outstanding.add(sent)
        receive(1)
    end = time.time() + deadline_ms / 1000 + 5
    while outstanding and time.time() < end:
        receive(50)
    context.destroy(linger=0)
    return {"sent": sent, "codes": dict(codes), "lost": len(outstanding), "duplicates": duplicates,
            "goodput": codes["OK"] / duration}


def measure(bin_dir, args):
    """One pool of `bin_dir`: the load at 1x and 3x the rate."""
    with Cluster() as cluster:
        endpoints = start_broker(cluster, bin_dir)
        start_workers(cluster, bin_dir, endpoints["backend"], 1, "--input-width", str(args.width),
                      "--slots", str(args.slots))
        time.sleep(1.5)
        results = {}
        for factor in (1, 3):
            results[factor] = run_load(endpoints["frontend"], args.rate * factor, args.duration, args.deadline_ms,
                                       args.rows, args.width, args.clients)
            time.sleep(1)
        cluster.stop(grace=3)
        return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bin_dir")
    parser.add_argument("--baseline")
    parser.add_argument("--rate", type=float, default=95)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--deadline-ms", type=int, default=500)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    builds = [("this build", args.bin_dir)] + ([("baseline", args.baseline)] if args.baseline else [])
    print(f"machine: {machine()}; {args.rows}-row SCOREs of {args.width} features, deadline {args.deadline_ms} ms, "
          f"one worker with --slots {args.slots}, {args.duration:g} s per rate")
    print("| build | repeat | rate (req/s) | OK | BUSY | EXPIRED | other | lost | duplicates | goodput (OK/s) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for repeat in range(1, args.repeats + 1):
        for name, bin_dir in builds:
            for factor, result in measure(bin_dir, args).items():
                codes = result["codes"]
                other = sum(v for k, v in codes.items() if k not in ("OK", "BUSY", "EXPIRED"))
                print(f"| {name} | {repeat} | {args.rate * factor:g} | {codes.get('OK', 0)} | {codes.get('BUSY', 0)} | "
                      f"{codes.get('EXPIRED', 0)} | {other} | {result['lost']} | {result['duplicates']} | "
                      f"{result['goodput']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
