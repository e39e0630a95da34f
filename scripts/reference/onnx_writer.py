"""A tiny protobuf encoder for the benchmark's ONNX model, so the benchmark needs only
onnxruntime (not the onnx package). Same graph as Sources/Model/ONNX/ONNXExport.swift:
Gemm(transB=1) -> Relu -> Gemm -> Relu -> Gemm -> Sigmoid, IR 8, opset 13, symbolic batch."""
import numpy as np


def _varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _int(field, v):
    return _varint(field << 3) + _varint(v)


def _bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return _varint(field << 3 | 2) + _varint(len(b)) + b


def _tensor(name, arr):
    body = b"".join(_int(1, d) for d in arr.shape) + _int(2, 1) + _bytes(8, name)
    return body + _bytes(9, arr.astype("<f4").tobytes())


def _value_info(name, width):
    shape = _bytes(1, _bytes(2, "batch")) + _bytes(1, _int(1, width))
    tensor_type = _int(1, 1) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def _node(inputs, outputs, name, op, attrs=b""):
    return b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs) + _bytes(3, name) + _bytes(4, op) + attrs


def encode_mlp(layers, d):
    nodes, inits, cur = [], [], "input"
    for i, (w, b) in enumerate(layers):
        z = f"z{i}"
        nodes.append(_node([cur, f"w{i}", f"b{i}"], [z], f"gemm{i}", "Gemm", _bytes(5, _bytes(1, "transB") + _int(3, 1) + _int(20, 2))))
        act = "Relu" if i < len(layers) - 1 else "Sigmoid"
        out = "output" if i == len(layers) - 1 else f"h{i}"
        nodes.append(_node([z], [out], f"act{i}", act))
        cur = out
        inits += [_tensor(f"w{i}", w), _tensor(f"b{i}", b)]
    graph = b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "bench") + b"".join(_bytes(5, t) for t in inits)
    graph += _bytes(11, _value_info("input", d)) + _bytes(12, _value_info("output", 1))
    return _int(1, 8) + _bytes(2, "bench") + _bytes(7, graph) + _bytes(8, _bytes(1, "") + _int(2, 13))
