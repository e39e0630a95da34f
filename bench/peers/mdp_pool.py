"""A Majordomo-style peer pool: a pyzmq load-balancing broker and numpy MLP workers.

Built the way the ZeroMQ guide teaches a load-balancing broker (chapter 3, "lbbroker"): a ROUTER
frontend for clients, a ROUTER backend for workers, and a queue of ready workers; the frontend is
read only while a worker is ready, so requests wait in ZeroMQ's queues rather than in Python. Each
worker announces itself with READY and `credit` (default 2) outstanding requests, so a worker
never idles between a reply and its next request (the guide's credit-based flow control).

It speaks the minimal subset of the RecPool wire protocol (docs/PROTOCOL.md) a scoring pool
needs, so the SAME load generator (`recpool loadtest`) drives it and RecPool:
  client → broker:  [header 56 B][tensor rows×cols f32]       (SCORE only)
  broker → client:  [reply header][tensor rows×1 f32]         (compute_us filled in)
  worker → broker:  [b"READY", credit u32]  |  [client id][reply header][tensor]
No heartbeats, deadlines or retries: this is the fast path only, with no handicaps.

The MLP is the interest model d_in → d_in → 64 → 1 (ReLU, ReLU, sigmoid), float32, with numpy
on one BLAS thread (OPENBLAS_NUM_THREADS=1 is set before numpy loads).

Usage:
  mdp_pool.py broker FRONTEND BACKEND        (prints "frontend ENDPOINT" when bound)
  mdp_pool.py worker BACKEND [--width 106] [--credit 2]
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402

import numpy as np  # noqa: E402
import zmq  # noqa: E402

HEADER = struct.Struct("<3sBBBHQQQHHIIIII")  # docs/PROTOCOL.md, frame 0 (56 bytes)
assert HEADER.size == 56
SCORE, REPLY_BIT, BAD_REQUEST = 0x01, 0x80, 1


def broker(frontend_endpoint, backend_endpoint):
    ctx = zmq.Context()
    frontend = ctx.socket(zmq.ROUTER)
    backend = ctx.socket(zmq.ROUTER)
    for s in (frontend, backend):
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDHWM, 100_000)
        s.setsockopt(zmq.RCVHWM, 100_000)
    frontend.bind(frontend_endpoint)
    backend.bind(backend_endpoint)
    print("frontend", frontend.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
    print("backend", backend.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
    ready = deque()  # one entry per unit of credit
    poll_both = zmq.Poller()
    poll_both.register(backend, zmq.POLLIN)
    poll_both.register(frontend, zmq.POLLIN)
    poll_backend = zmq.Poller()
    poll_backend.register(backend, zmq.POLLIN)
    while True:
        events = dict((poll_both if ready else poll_backend).poll())
        if backend in events:
            # Drain what the workers sent: replies go back to their clients, READY adds credit.
            while True:
                try:
                    frames = backend.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                worker = frames[0].bytes
                if frames[1].bytes == b"READY":
                    ready.extend([worker] * struct.unpack("<I", frames[2].bytes)[0])
                else:
                    frontend.send_multipart(frames[1:], copy=False)
                    ready.append(worker)
        if ready and frontend in events:
            while ready:
                try:
                    frames = frontend.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                backend.send_multipart([ready.popleft()] + frames, copy=False)


class MLP:
    """d → d → 64 → 1 with Glorot-uniform weights, float32."""

    def __init__(self, width, seed=42):
        rng = np.random.default_rng(seed)
        dims = [width, width, 64, 1]
        self.layers = []
        for a, b in zip(dims, dims[1:]):
            limit = np.sqrt(6.0 / (a + b))
            self.layers.append((rng.uniform(-limit, limit, (a, b)).astype(np.float32), np.zeros(b, np.float32)))

    def forward(self, x):
        (w1, b1), (w2, b2), (w3, b3) = self.layers
        h = np.maximum(x @ w1 + b1, 0)
        h = np.maximum(h @ w2 + b2, 0)
        return 1 / (1 + np.exp(-(h @ w3 + b3)))


def worker(backend_endpoint, width, credit):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(backend_endpoint)
    model = MLP(width)
    sock.send_multipart([b"READY", struct.pack("<I", credit)])
    while True:
        # A request without a tensor (a load generator's STATUS probe) is answered BAD_REQUEST.
        frames = sock.recv_multipart()
        client, header = frames[0], frames[1]
        tensor = frames[2] if len(frames) > 2 else b""
        started = time.perf_counter()
        (magic, version, command, _, flags, request_id, deadline, model_version, _, attempt,
         _, _, _, _, _) = HEADER.unpack(header)
        rows, cols = struct.unpack_from("<II", tensor) if len(tensor) >= 8 else (0, 0)
        status, payload = 0, b""
        if command != SCORE or cols != width or len(tensor) != 8 + rows * cols * 4:
            status, payload = BAD_REQUEST, f"expected SCORE with {width} columns".encode()
        else:
            x = np.frombuffer(tensor, dtype=np.float32, offset=8).reshape(rows, cols)
            y = model.forward(x).astype(np.float32, copy=False)
            payload = struct.pack("<II", rows, 1) + y.tobytes()
        compute_us = int((time.perf_counter() - started) * 1e6)
        reply = HEADER.pack(b"RPL", 1, command | REPLY_BIT, 0, 0, request_id, 0, 0, status, attempt,
                            0, 0, compute_us, 0, 0)
        sock.send_multipart([client, reply, payload])


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    b = sub.add_parser("broker")
    b.add_argument("frontend")
    b.add_argument("backend")
    w = sub.add_parser("worker")
    w.add_argument("backend")
    w.add_argument("--width", type=int, default=106)
    w.add_argument("--credit", type=int, default=2)
    args = parser.parse_args()
    try:
        if args.role == "broker":
            broker(args.frontend, args.backend)
        else:
            worker(args.backend, args.width, args.credit)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
