#!/usr/bin/env python3
"""Scores raw context with a `recpool export --raw-context` ONNX model in onnxruntime.

Usage: onnx_raw_context.py MODEL.onnx CASES.json

CASES.json holds the model's inputs by name, one entry per candidate row (the model's metadata_props
recpool.inputs, recpool.user_features and recpool.user_numeric give the names and column orders):
  {"user_features": [["81ce...", "03a5...", ...], ...],   # raw values, in the spec's user-feature order
   "user_numeric": [[168.88, null], ...],                   # numeric user features; null (NaN) when missing
   "item": [49, ...], "position": [0, ...],
   "event_item": [[49, 0], ...], "event_seconds": [[30.0, 0.0], ...]}   # pad with seconds 0
Prints {"scores": [...]} (one float per row) on stdout; a transform-only model (output `features`) prints
{"features": [[...], ...]} instead.
"""
import json
import sys

import numpy as np
import onnxruntime as ort


def run(model, cases):
    """Runs the model on `cases` (its inputs by name, as above); returns (output name, values): "score" with
    one float per candidate row, or "features" with one row of floats per candidate row."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    # Each input as the graph declares it: `user_numeric` and `event_seconds` are float64 in graphs of this build
    # and float32 in earlier ones.
    types = {"tensor(string)": object, "tensor(float)": np.float32, "tensor(double)": np.float64,
             "tensor(int64)": np.int64}
    declared = {i.name: types[i.type] for i in session.get_inputs()}
    feeds = {k: np.array(v, dtype=declared[k]) for k, v in cases.items() if k in declared}
    outputs = [o.name for o in session.get_outputs()]
    if outputs == ["features"]:
        (features,) = session.run(["features"], feeds)
        return "features", [[float(x) for x in row] for row in features]
    (scores,) = session.run(["score"], feeds)
    return "score", [float(s) for s in scores.reshape(-1)]


def score(model, cases):
    """One float per candidate row of `cases` (the model's inputs by name, as above)."""
    kind, values = run(model, cases)
    if kind != "score":
        raise SystemExit(f"{model} is a transform-only model: it outputs features, not a score")
    return values


def main():
    model, cases = sys.argv[1], json.load(open(sys.argv[2]))
    kind, values = run(model, cases)
    print(json.dumps({"features": values} if kind == "features" else {"scores": values}))


if __name__ == "__main__":
    main()
