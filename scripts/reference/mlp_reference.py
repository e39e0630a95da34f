#!/usr/bin/env python3
"""Reference implementation of RecPool's interest-model MLP and Adam, in numpy (float64).

Generates the golden fixture Tests/ModelTests/Fixtures/mlp_golden.json: initial weights, 20
batches of 32 rows, and the weights after 20 Adam steps. The Swift test loads the same initial
weights, takes the same 20 steps and checks every weight within 1e-5.

Conventions (must match Sources/Model):
  * Dense weight stored out x in; y = f(x @ W.T + b).
  * Hidden layers ReLU, output sigmoid; loss = mean binary cross-entropy from logits.
  * Adam as in PyTorch: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    theta -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
  * Flat parameter order: for each layer, weights row-major, then biases.

Usage: mlp_reference.py [OUT.json]
"""
import json
import sys

import numpy as np

D_IN, HIDDEN, BATCH, STEPS = 8, [8, 16], 32, 20
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8


def init(rng):
    widths = [D_IN] + HIDDEN + [1]
    layers = []
    for i in range(len(widths) - 1):
        fan_in, fan_out = widths[i], widths[i + 1]
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, size=(fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-0.1, 0.1, size=fan_out).astype(np.float32)  # non-zero, to test biases
        layers.append([w.astype(np.float64), b.astype(np.float64)])
    return layers


def flat(layers):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in layers])


def forward_backward(layers, x, y):
    acts = [x]
    for i, (w, b) in enumerate(layers):
        z = acts[-1] @ w.T + b
        acts.append(z if i == len(layers) - 1 else np.maximum(z, 0))
    z = acts[-1][:, 0]
    loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    dz = ((1 / (1 + np.exp(-z))) - y)[:, None] / len(y)
    grads = [None] * len(layers)
    for i in reversed(range(len(layers))):
        w, _ = layers[i]
        if i < len(layers) - 1:
            dz = dz * (acts[i + 1] > 0)
        grads[i] = [dz.T @ acts[i], dz.sum(axis=0)]
        dz = dz @ w
    return loss, grads


def adam(layers, grads, state, t):
    for i in range(len(layers)):
        for j in range(2):
            g = grads[i][j]
            m, v = state[i][j]
            m[...] = B1 * m + (1 - B1) * g
            v[...] = B2 * v + (1 - B2) * g * g
            mhat = m / (1 - B1 ** t)
            vhat = v / (1 - B2 ** t)
            layers[i][j] = layers[i][j] - LR * mhat / (np.sqrt(vhat) + EPS)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "Tests/ModelTests/Fixtures/mlp_golden.json"
    rng = np.random.default_rng(20261129)
    layers = init(rng)
    initial = flat(layers)
    true_w = rng.normal(size=D_IN)
    batches = []
    for _ in range(STEPS):
        x = rng.uniform(-1, 1, size=(BATCH, D_IN)).astype(np.float32)
        y = (x @ true_w + 0.3 * rng.normal(size=BATCH) > 0).astype(np.float32)
        batches.append((x, y))
    state = [[(np.zeros_like(w), np.zeros_like(w)), (np.zeros_like(b), np.zeros_like(b))] for w, b in layers]
    losses = []
    for t, (x, y) in enumerate(batches, start=1):
        loss, grads = forward_backward(layers, x.astype(np.float64), y.astype(np.float64))
        losses.append(float(loss))
        adam(layers, grads, state, t)
    # float32 inputs are written in their shortest float32 form, so they parse back exactly.
    f32 = lambda a: [json.loads(str(np.float32(v))) for v in np.asarray(a).ravel()]
    fixture = {
        "inputWidth": D_IN,
        "hiddenSizes": HIDDEN,
        "learningRate": LR,
        "initial": f32(initial),
        "batches": [{"inputs": f32(x), "targets": f32(y)} for x, y in batches],
        "losses": [round(v, 9) for v in losses],
        "final": [float(f"{v:.9g}") for v in flat(layers)],
    }
    with open(out, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
    print(f"wrote {out}: {len(initial)} parameters, {STEPS} steps, final loss {losses[-1]:.6f}")


if __name__ == "__main__":
    main()
