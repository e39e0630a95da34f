#!/usr/bin/env python3
"""Runs an ONNX model in onnxruntime on raw float32 rows; used by the Swift ONNX export test.

Usage: onnx_run.py MODEL.onnx INPUT.f32 WIDTH OUTPUT.f32
Reads INPUT.f32 (little-endian float32, row-major, WIDTH columns), writes the model's output
in the same format, and prints the output shape.
"""
import sys

import numpy as np
import onnxruntime as ort


def main():
    model, inp, width, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    x = np.fromfile(inp, dtype="<f4").reshape(-1, width)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {session.get_inputs()[0].name: x})
    y.astype("<f4").tofile(out)
    print(y.shape)


if __name__ == "__main__":
    main()
