"""A RecPool client written from docs/PROTOCOL.md alone, with pyzmq.

Usage: protocol_client.py FRONTEND_ENDPOINT INPUT_WIDTH
Scores two rows, sends a malformed request and a STATUS, and checks every reply byte by byte
against the specification. Prints one JSON line with what it saw; exits non-zero on a mismatch.
"""
import json
import struct
import sys
import time

import zmq

HEADER = struct.Struct("<3sBBBHQQQHHIIIII")  # 56 bytes, little-endian
assert HEADER.size == 56

SCORE, STATUS = 0x01, 0x04
REPLY = 0x80
OK, BAD_REQUEST = 0, 1


def header(command, request_id, deadline_ms=0, model_version=0, flags=0):
    return HEADER.pack(b"RPL", 1, command, 0, flags, request_id, deadline_ms, model_version, 0, 0, 0, 0, 0, 0, 0)


def parse(frame):
    (magic, version, command, _r, flags, request_id, deadline, model_version, status, attempt,
     broker_us, worker_us, compute_us, retry_ms, _r2) = HEADER.unpack(frame)
    assert magic == b"RPL" and version == 1, (magic, version)
    return dict(command=command, request_id=request_id, model_version=model_version, status=status,
                attempt=attempt, broker_us=broker_us, worker_us=worker_us, compute_us=compute_us)


def tensor(rows):
    cols = len(rows[0])
    return struct.pack("<II", len(rows), cols) + b"".join(struct.pack("<%df" % cols, *r) for r in rows)


def main():
    endpoint, width = sys.argv[1], int(sys.argv[2])
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.connect(endpoint)
    seen = {}

    rows = [[(i + j) % 5 / 5.0 for j in range(width)] for i in range(2)]
    deadline = int(time.time() * 1000) + 5000
    sock.send_multipart([header(SCORE, 7, deadline_ms=deadline), tensor(rows)])
    head, body = sock.recv_multipart()
    h = parse(head)
    assert h["command"] == SCORE | REPLY and h["request_id"] == 7 and h["status"] == OK, h
    n, c = struct.unpack_from("<II", body)
    assert (n, c) == (2, 1) and len(body) == 8 + 4 * n * c
    scores = list(struct.unpack_from("<%df" % n, body, 8))
    assert all(0.0 < s < 1.0 for s in scores), scores
    seen["scores"] = scores
    seen["model_version"] = h["model_version"]
    seen["attempt"] = h["attempt"]

    sock.send_multipart([header(SCORE, 8), tensor([[1.0] * (width + 1)])])
    head, message = sock.recv_multipart()
    h = parse(head)
    assert h["request_id"] == 8 and h["status"] == BAD_REQUEST, h
    seen["wrong_width_error"] = message.decode()

    broken = bytearray(header(SCORE, 9))
    broken[3] = 2  # protocol version 2
    sock.send_multipart([bytes(broken)])
    head, message = sock.recv_multipart()
    h = parse(head)
    assert h["request_id"] == 9 and h["status"] == 9, h  # UNSUPPORTED_VERSION
    seen["version_error"] = message.decode()

    sock.send_multipart([header(STATUS, 10)])
    head, document = sock.recv_multipart()
    h = parse(head)
    assert h["command"] == STATUS | REPLY and h["status"] == OK
    status = json.loads(document)
    seen["workers"] = len(status["workers"])
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
