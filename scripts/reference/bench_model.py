#!/usr/bin/env python3
"""numpy and onnxruntime doing the same work as `recpool bench-model`, single-threaded.

The MLP d_in -> d_in -> 64 -> 1 (ReLU, ReLU, sigmoid) in float32: forward at batch 1, 32, 256
and 4096 in numpy and onnxruntime, and one training step at batch 32 (forward, backward for
binary cross-entropy from logits, Adam) in numpy. Each case is warmed up, then timed REPEATS
times over enough calls to last about SECONDS; the median per-call time is reported.

Set OPENBLAS_NUM_THREADS=1 (and OMP_NUM_THREADS=1) before running; scripts/bench-model does.
Usage: bench_model.py [--d-in 106] [--repeats 7] [--seconds 0.2] [--json]
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))


def mlp(d, rng):
    widths = [d, d, 64, 1]
    layers = []
    for i in range(3):
        lim = np.sqrt(6 / (widths[i] + widths[i + 1]))
        w = rng.uniform(-lim, lim, size=(widths[i + 1], widths[i])).astype(np.float32)
        layers.append([w, np.zeros(widths[i + 1], np.float32)])
    return layers


def forward(layers, x):
    h = x
    for i, (w, b) in enumerate(layers):
        z = h @ w.T + b
        h = np.maximum(z, 0) if i < 2 else 1 / (1 + np.exp(-z))
    return h


class Adam:
    def __init__(self, layers, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = [[np.zeros_like(p) for p in l] for l in layers]
        self.v = [[np.zeros_like(p) for p in l] for l in layers]

    def step(self, layers, grads):
        self.t += 1
        c1 = 1 / (1 - self.b1 ** self.t)
        c2 = 1 / (1 - self.b2 ** self.t)
        for i in range(len(layers)):
            for j in range(2):
                g, m, v = grads[i][j], self.m[i][j], self.v[i][j]
                m *= self.b1
                m += (1 - self.b1) * g
                v *= self.b2
                v += (1 - self.b2) * g * g
                layers[i][j] -= self.lr * (m * c1) / (np.sqrt(v * c2) + self.eps)


def train_step(layers, opt, x, y):
    acts = [x]
    for i, (w, b) in enumerate(layers):
        z = acts[-1] @ w.T + b
        acts.append(np.maximum(z, 0) if i < 2 else z)
    z = acts[-1][:, 0]
    loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    dz = ((1 / (1 + np.exp(-z))) - y)[:, None] / len(y)
    grads = [None] * 3
    for i in (2, 1, 0):
        if i < 2:
            dz = dz * (acts[i + 1] > 0)
        grads[i] = [dz.T @ acts[i], dz.sum(axis=0)]
        if i > 0:
            dz = dz @ layers[i][0]
    opt.step(layers, grads)
    return loss


def timeit(fn, repeats, seconds):
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > seconds / 10:
            n = max(1, int(n * seconds / dt))
            break
        n *= 4
    per = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        per.append((time.perf_counter() - t0) / n * 1e6)
    per.sort()
    return per[len(per) // 2], n


def onnx_session(layers, d):
    # Build the same graph with onnx's helper if present; otherwise encode with the Swift CLI's layout
    # via a tiny protobuf writer so onnxruntime alone is enough.
    import onnxruntime as ort
    from onnx_writer import encode_mlp

    path = os.path.join(tempfile.mkdtemp(), "bench.onnx")
    with open(path, "wb") as f:
        f.write(encode_mlp(layers, d))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--d-in", type=int, default=106)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=0.2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    layers = mlp(a.d_in, rng)
    sess = onnx_session(layers, a.d_in)
    results = []
    for b in (1, 32, 256, 4096):
        x = rng.uniform(-1, 1, size=(b, a.d_in)).astype(np.float32)
        us, n = timeit(lambda: forward(layers, x), a.repeats, a.seconds)
        results.append({"impl": "numpy", "operation": "forward", "batch": b, "median_microseconds": us, "iterations": n})
        us, n = timeit(lambda: sess.run(None, {"input": x}), a.repeats, a.seconds)
        results.append({"impl": "onnxruntime", "operation": "forward", "batch": b, "median_microseconds": us, "iterations": n})
    x = rng.uniform(-1, 1, size=(32, a.d_in)).astype(np.float32)
    y = rng.integers(0, 2, size=32).astype(np.float32)
    opt = Adam(layers)
    us, n = timeit(lambda: train_step(layers, opt, x, y), a.repeats, a.seconds)
    results.append({"impl": "numpy", "operation": "train_step", "batch": 32, "median_microseconds": us, "iterations": n})
    if a.json:
        print(json.dumps(results))
    else:
        for r in results:
            print(f"{r['impl']:12s} {r['operation']:10s} {r['batch']:5d} {r['median_microseconds']:10.2f} us")


if __name__ == "__main__":
    main()
