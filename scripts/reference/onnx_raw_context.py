#!/usr/bin/env python3
"""Scores raw context with a `recpool export --raw-context` ONNX model in onnxruntime.

Usage: onnx_raw_context.py MODEL.onnx CASES.json

CASES.json holds the model's inputs by name, one entry per candidate row:
  {"user_features": [["81ce...", "03a5...", ...], ...],   # raw values, in the spec's user-feature order
   "item": [49, ...], "position": [0, ...],
   "event_item": [[49, 0], ...], "event_seconds": [[30.0, 0.0], ...]}   # pad with seconds 0
Prints {"scores": [...]} (one float per row) on stdout.
"""
import json
import sys

import numpy as np
import onnxruntime as ort


def score(model, cases):
    """One float per candidate row of `cases` (the model's inputs by name, as above)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    types = {"user_features": object, "item": np.int64, "position": np.int64, "event_item": np.int64,
             "event_seconds": np.float32}
    names = {i.name for i in session.get_inputs()}
    feeds = {k: np.array(v, dtype=types[k]) for k, v in cases.items() if k in names}
    (scores,) = session.run(["score"], feeds)
    return [float(s) for s in scores.reshape(-1)]


def main():
    model, cases = sys.argv[1], json.load(open(sys.argv[2]))
    print(json.dumps({"scores": score(model, cases)}))


if __name__ == "__main__":
    main()
