#!/usr/bin/env python3
"""RecPool protocol conformance suite, written from docs/PROTOCOL.md alone.

It needs Python 3.9+ and pyzmq, nothing else, and imports no RecPool code, so it runs against any
implementation of the protocol: a broker's frontend and backend, and at least one real worker
registered with that broker.

    python recpool_conformance.py --frontend tcp://127.0.0.1:5555 --backend tcp://127.0.0.1:5556

It talks to the broker as a client (frontend) and as a fake worker (backend), and to the real
worker through the broker. Each check names the PROTOCOL.md section it tests. It prints one line per
check and, with --json FILE, a JSON report. Exit status: 0 when every check passed (or is listed in
--pending and failed), 1 otherwise.

Model version numbers are the registry's (PROTOCOL.md, Model versions): a worker claiming a number
the registry does not hold takes no work. So the fake workers claim what a real one may: version 0
(or, when a version is promoted, that version and its checkpoint's SHA-256), and each serves a
width of its own (1,009 and up, never a real worker's): the broker routes a SCORE only to a worker
of its width, so the fake workers receive only the suite's requests and never the real worker's.
"""
import argparse
import hashlib
import json
import os
import struct
import sys
import time
import traceback

import zmq

# --- Frame 0: the header ---------------------------------------------------------------------

HEADER = struct.Struct("<3sBBBHQQQHHIIIII")
assert HEADER.size == 56
VERSION = 1
REPLY = 0x80

SCORE, RECOMMEND, FEEDBACK, STATUS, CANCEL, CONTROL = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
READY, HEARTBEAT, DISCONNECT = 0x20, 0x21, 0x22
WEIGHTS = 0x30

EXACT_VERSION, DRAIN = 0x0001, 0x0002

OK, BAD_REQUEST, TOO_LARGE, BUSY, EXPIRED, CANCELLED, NO_WORKER = 0, 1, 2, 3, 4, 5, 6
UNAUTHORIZED, INTERNAL, UNSUPPORTED_VERSION, NOT_FOUND, CONFLICT, WORKER_LOST = 7, 8, 9, 10, 11, 12
STATUS_NAMES = ["OK", "BAD_REQUEST", "TOO_LARGE", "BUSY", "EXPIRED", "CANCELLED", "NO_WORKER",
                "UNAUTHORIZED", "INTERNAL", "UNSUPPORTED_VERSION", "NOT_FOUND", "CONFLICT", "WORKER_LOST"]

# Limits (broker defaults), section "Limits".
MAX_FRAMES = 8
MAX_MESSAGE_BYTES = 16 << 20
MAX_ROWS = 8192
MAX_COLUMNS = 4096

FAKE_WIDTH = 1009
RECV_MS = 5000


def now_ms():
    return int(time.time() * 1000)


def header(command, request_id=0, flags=0, deadline_ms=0, model_version=0, status=0, attempt=0,
           reserved=0, tail=0, version=VERSION, magic=b"RPL"):
    return HEADER.pack(magic, version, command, reserved, flags, request_id, deadline_ms, model_version,
                       status, attempt, 0, 0, 0, 0, tail)


class Header:
    """A decoded header frame."""

    def __init__(self, frame):
        if len(frame) != HEADER.size:
            raise Failure("header frame has %d bytes, expected 56" % len(frame))
        (magic, version, command, reserved, flags, request_id, deadline_ms, model_version, status, attempt,
         broker_us, worker_us, compute_us, retry_ms, tail) = HEADER.unpack(frame)
        expect(magic == b"RPL", "magic is %r" % magic)
        expect(version == VERSION, "protocol version %d" % version)
        expect(reserved == 0 and tail == 0, "reserved fields are %d and %d" % (reserved, tail))
        self.command = command & 0x7F
        self.is_reply = bool(command & REPLY)
        self.flags, self.request_id, self.deadline_ms = flags, request_id, deadline_ms
        self.model_version, self.status, self.attempt = model_version, status, attempt
        self.broker_us, self.worker_us, self.compute_us, self.retry_ms = broker_us, worker_us, compute_us, retry_ms

    def __repr__(self):
        name = STATUS_NAMES[self.status] if self.status < len(STATUS_NAMES) else str(self.status)
        return "<cmd 0x%02x%s id %d status %s version %d attempt %d flags %d>" % (
            self.command, " reply" if self.is_reply else "", self.request_id, name, self.model_version,
            self.attempt, self.flags)


def tensor(rows):
    cols = len(rows[0]) if rows else 0
    return struct.pack("<II", len(rows), cols) + b"".join(struct.pack("<%df" % cols, *r) for r in rows)


def read_tensor(frame):
    expect(len(frame) >= 8, "tensor frame of %d bytes" % len(frame))
    rows, cols = struct.unpack_from("<II", frame)
    expect(len(frame) == 8 + 4 * rows * cols, "tensor %dx%d in %d bytes" % (rows, cols, len(frame)))
    values = struct.unpack_from("<%df" % (rows * cols), frame, 8)
    return rows, cols, list(values)


# --- Checks ---------------------------------------------------------------------------------------

class Failure(Exception):
    pass


class Skip(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failure(message)


CHECKS = []


def check(name, section):
    """Registers a check: `name` is stable (used by --only and --pending), `section` the spec section."""
    def register(function):
        CHECKS.append((name, section, function))
        return function
    return register


class Peer:
    """A DEALER socket speaking RecPool, as a client or as a worker."""

    def __init__(self, suite, endpoint, keys):
        self.socket = suite.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        if keys:
            server, public, secret = keys
            self.socket.curve_serverkey = server.encode()
            self.socket.curve_publickey = public.encode()
            self.socket.curve_secretkey = secret.encode()
        self.socket.connect(endpoint)
        suite.sockets.append(self)

    def send(self, frames):
        self.socket.send_multipart([bytes(f) for f in frames])

    def recv(self, timeout_ms=RECV_MS):
        """The next message, or None after `timeout_ms`."""
        if self.socket.poll(timeout_ms) == 0:
            return None
        return self.socket.recv_multipart()

    def close(self):
        self.socket.close(0)


class Client(Peer):
    next_id = 1000

    def request(self, command, payload=(), **fields):
        """Sends one request and returns (header, payload frames) of its reply (by request id)."""
        Client.next_id += 1
        request_id = fields.pop("request_id", Client.next_id)
        timeout_ms = fields.pop("timeout_ms", RECV_MS * 2)
        self.send([header(command, request_id=request_id, **fields)] + list(payload))
        return self.reply_to(request_id, timeout_ms)

    def reply_to(self, request_id, timeout_ms=RECV_MS * 2):
        deadline = time.time() + timeout_ms / 1000
        while True:
            left = int((deadline - time.time()) * 1000)
            frames = self.recv(max(1, left))
            if frames is None:
                raise Failure("no reply to request %d within %d ms" % (request_id, timeout_ms))
            h = Header(frames[0])
            if h.request_id == request_id:
                return h, frames[1:]

    def control(self, document, extra=()):
        h, payload = self.request(CONTROL, [json.dumps(document).encode()] + list(extra))
        return h, payload


class FakeWorker(Peer):
    """A worker the suite plays itself, to see what the broker sends workers."""

    def __init__(self, suite, name, version=None, slots=4, width=None, services=("SCORE",)):
        """`version` None claims what the broker lets a worker serve (Suite.fake_model); `width`
        None takes a width of its own (Suite.fake_width)."""
        super().__init__(suite, suite.args.backend, suite.worker_keys)
        self.sha256 = None
        if version is None:
            version, self.sha256 = suite.fake_model()
        if width is None:
            width = suite.fake_width()
        self.worker_id = "%s-%d-%d" % (name, os.getpid(), width)
        self.version, self.slots, self.width, self.services = version, slots, width, list(services)

    def hello(self):
        return {"worker_id": self.worker_id, "services": self.services, "slots": self.slots,
                "input_width": self.width, "model_version": self.version, "model_sha256": self.sha256,
                "host": "conformance", "pid": os.getpid()}

    def register(self):
        """Sends READY and waits for the broker's HEARTBEAT (section Commands, READY)."""
        self.send([header(READY, model_version=self.version), json.dumps(self.hello()).encode()])
        h, _ = self.expect_command(HEARTBEAT)
        return h

    def heartbeat(self, slots=None, flags=0):
        load = struct.pack("<II", self.slots if slots is None else slots, 0)
        self.send([header(HEARTBEAT, flags=flags, model_version=self.version), load])

    def expect_command(self, command, timeout_ms=RECV_MS):
        """The next message with `command`, skipping broker heartbeats; fails after `timeout_ms`."""
        deadline = time.time() + timeout_ms / 1000
        while True:
            left = int((deadline - time.time()) * 1000)
            if left <= 0:
                raise Failure("the broker sent no 0x%02x within %d ms" % (command, timeout_ms))
            frames = self.recv(left)
            if frames is None:
                continue
            h = Header(frames[0])
            if h.command == command:
                return h, frames[1:]

    def expect_no(self, command, wait_ms):
        """Fails if a message with `command` arrives within `wait_ms` (other messages are skipped)."""
        deadline = time.time() + wait_ms / 1000
        while True:
            left = int((deadline - time.time()) * 1000)
            if left <= 0:
                return
            frames = self.recv(left)
            if frames is not None and Header(frames[0]).command == command:
                raise Failure("the broker sent 0x%02x beyond the worker's credit" % command)

    def answer(self, request, payload, status=OK):
        reply = header(request.command | REPLY, request_id=request.request_id, model_version=self.version,
                       status=status, attempt=request.attempt)
        self.send([reply] + list(payload))

    def leave(self):
        self.send([header(DISCONNECT)])


class Suite:
    def __init__(self, args):
        self.args = args
        self.context = zmq.Context.instance()
        self.sockets = []
        self.client_keys = None
        self.worker_keys = None
        if args.curve_server_key:
            self.client_keys = (args.curve_server_key, args.client_public_key, args.client_secret_key)
            self.worker_keys = (args.curve_server_key, args.worker_public_key, args.worker_secret_key)
        self._status = None
        self._fake_model = None
        self._next_width = FAKE_WIDTH

    def fake_model(self):
        """(version, sha256) a fake worker claims: version 0 with the model the live workers on version 0
        serve (None for the seeded model: one version number names one model, so a fake worker with
        another takes no work while they are live), or the promoted version and its checkpoint's
        SHA-256 (a worker on version 0 takes no work while a version is promoted)."""
        if self._fake_model is None:
            status = self.status()
            promoted = status.get("promoted_version")
            served = {w["model_sha256"] for w in status["workers"]
                      if w["model_version"] == 0 and w["host"] != "conformance"}
            self._fake_model = (0, served.pop() if len(served) == 1 else None)
            if promoted:
                h, payload = self.client().control({"op": "models"})
                expect(h.status == OK, "models: %r %r" % (h, payload[:1]))
                models = json.loads(payload[0])["models"]
                sha = [m["checkpoint_sha256"] for m in models if m["version"] == promoted]
                expect(sha, "the promoted version %d is not among the models" % promoted)
                self._fake_model = (promoted, sha[0])
        return self._fake_model

    def fake_width(self):
        """A width no live worker serves, for one fake worker (or a group sharing it)."""
        widths = {w["input_width"] for w in self.status()["workers"]}
        while self._next_width in widths:
            self._next_width += 1
        self._next_width += 1
        return self._next_width - 1

    def client(self):
        return Client(self, self.args.frontend, self.client_keys)

    def status(self):
        c = self.client()
        h, payload = c.request(STATUS)
        expect(h.status == OK, "STATUS answered %r" % h)
        return json.loads(payload[0])

    def real_worker(self):
        """The first live worker in the status document that is not one of ours."""
        deadline = time.time() + 10
        while time.time() < deadline:
            workers = [w for w in self.status()["workers"] if not str(w.get("id", "")).startswith("fake-")]
            serving = [w for w in workers if "SCORE" in w.get("services", [])]
            if serving:
                return serving[0]
            time.sleep(0.1)
        raise Skip("no real worker offering SCORE is registered with the broker")

    def close(self):
        for peer in self.sockets:
            peer.close()
        self.sockets = []


def expect_error(h, payload, status, words=()):
    """A non-OK reply: the status, and one UTF-8 message frame that names the problem."""
    expect(h.is_reply, "not a reply: %r" % h)
    expect(h.status == status, "expected %s, got %r %r" % (STATUS_NAMES[status], h, payload[:1]))
    expect(len(payload) == 1, "an error reply has one message frame, got %d" % len(payload))
    text = payload[0].decode("utf-8")
    for word in words:
        expect(word.lower() in text.lower(), "message %r does not name %r" % (text, word))
    return text


# --- Header ---------------------------------------------------------------------------------------

@check("header.reply_echoes_request", "Frame 0: the header")
def _(s):
    c = s.client()
    h, payload = c.request(STATUS, request_id=0x1122334455667788)
    expect(h.command == STATUS and h.is_reply and h.request_id == 0x1122334455667788, repr(h))
    expect(h.status == OK and len(payload) == 1, repr(h))


@check("header.unsupported_version", "Frame 0: the header; Status codes")
def _(s):
    c = s.client()
    c.send([header(SCORE, request_id=41, version=2), tensor([[1.0]])])
    h, payload = c.reply_to(41)
    expect_error(h, payload, UNSUPPORTED_VERSION)


@check("header.bad_magic", "Frame 0: the header; Status codes (salvaged request id)")
def _(s):
    c = s.client()
    c.send([header(STATUS, request_id=42, magic=b"XYZ")])
    h, payload = c.reply_to(0)
    expect_error(h, payload, BAD_REQUEST)


@check("header.short_frame_salvages_id", "Status codes (salvaged request id)")
def _(s):
    c = s.client()
    c.send([header(SCORE, request_id=43)[:20]])
    h, payload = c.reply_to(43)
    expect_error(h, payload, BAD_REQUEST)
    expect(h.command == SCORE, "the reply names the request's command: %r" % h)


@check("header.reserved_byte", "Frame 0: the header (offset 5)")
def _(s):
    c = s.client()
    h, payload = c.request(STATUS, reserved=1)
    expect_error(h, payload, BAD_REQUEST, ["reserved header field at offset 5"])


@check("header.reserved_tail", "Frame 0: the header (offset 52)")
def _(s):
    c = s.client()
    h, payload = c.request(STATUS, tail=7)
    expect_error(h, payload, BAD_REQUEST, ["reserved header field at offset 52"])


@check("header.unknown_command", "Frame 0: the header; Status codes")
def _(s):
    c = s.client()
    c.send([header(0x7E, request_id=44)])
    h, payload = c.reply_to(44)
    expect_error(h, payload, BAD_REQUEST)
    expect(h.command == CONTROL, "an unknown command is answered as CONTROL: %r" % h)


@check("header.unknown_status", "Frame 0: the header")
def _(s):
    c = s.client()
    h, payload = c.request(STATUS, status=999)
    expect_error(h, payload, BAD_REQUEST, ["status"])


@check("header.status_in_request", "Frame 0: the header (status 0 in requests)")
def _(s):
    c = s.client()
    h, payload = c.request(STATUS, status=BUSY)
    expect_error(h, payload, BAD_REQUEST, ["status"])


@check("header.undefined_flag", "Frame 0: the header (flags)")
def _(s):
    c = s.client()
    width = s.real_worker()["input_width"]
    h, payload = c.request(SCORE, [tensor([[0.5] * width])], flags=0x0020)
    expect_error(h, payload, BAD_REQUEST, ["flag"])


@check("header.drain_flag_on_request", "Frame 0: the header (DRAIN only on HEARTBEAT)")
def _(s):
    c = s.client()
    width = s.real_worker()["input_width"]
    h, payload = c.request(SCORE, [tensor([[0.5] * width])], flags=DRAIN)
    expect_error(h, payload, BAD_REQUEST, ["flag"])


@check("header.exact_version_zero", "Frame 0: the header (EXACT_VERSION with model_version 0)")
def _(s):
    c = s.client()
    width = s.real_worker()["input_width"]
    h, payload = c.request(SCORE, [tensor([[0.5] * width])], flags=EXACT_VERSION, model_version=0)
    expect_error(h, payload, BAD_REQUEST, ["version"])


@check("header.client_may_not_reply", "Commands (replies come from the broker)")
def _(s):
    c = s.client()
    h, payload = c.request(SCORE | REPLY)
    expect_error(h, payload, BAD_REQUEST)


@check("commands.worker_command_from_client", "Commands (sent by); Security (roles)")
def _(s):
    c = s.client()
    h, payload = c.request(READY, [b"{}"])
    # With CURVE roles in force the role check comes first: a client role may not send READY.
    expect_error(h, payload, UNAUTHORIZED if s.client_keys else BAD_REQUEST)


@check("security.client_role_limits", "Security (a client-role key may read but not train)")
def _(s):
    if not s.args.restricted_client_public_key:
        raise Skip("needs --restricted-client-public-key/--restricted-client-secret-key (a client-role key)")
    c = Client(s, s.args.frontend, (s.args.curve_server_key, s.args.restricted_client_public_key,
                                     s.args.restricted_client_secret_key))
    h, payload = c.request(STATUS)
    expect(h.status == OK, "a client may send STATUS: %r" % h)
    h, payload = c.control({"op": "models"})
    expect(h.status == OK, "a client may run CONTROL models: %r %r" % (h, payload[:1]))
    spec = {"model": "mlp", "dataset": "synthetic:users=10", "epochs": 1, "batch": 8, "lr": 0.01, "workers": 1,
            "sync_every": 10, "seed": 1, "validation": 0.2, "promote": False, "round_timeout_ms": 1000}
    h, payload = c.control({"op": "train", "train": spec})
    expect_error(h, payload, UNAUTHORIZED, ["train"])


# --- STATUS and JSON documents --------------------------------------------------------------------

STATUS_KEYS = {"protocol_version": int, "uptime_ms": int, "inflight": int, "workers": list, "queues": list,
               "counters": dict, "online": (dict, type(None))}
WORKER_KEYS = {"id": str, "address": str, "host": str, "slots": int, "inflight": int, "model_version": int,
               "input_width": int, "heartbeat_age_ms": int, "services": list, "completed": int, "errors": int,
               "pid": int}
QUEUE_KEYS = {"service": str, "depth": int, "capacity": int}


def expect_keys(document, keys, what):
    expect(isinstance(document, dict), "%s is not an object" % what)
    for key, kind in keys.items():
        expect(key in document, "%s lacks the key %r (a listed key is always present)" % (what, key))
        expect(isinstance(document[key], kind) and not (kind is int and isinstance(document[key], bool)),
               "%s.%s is %r" % (what, key, document[key]))


@check("status.document_keys", "JSON documents (status document)")
def _(s):
    s.real_worker()
    status = s.status()
    expect_keys(status, STATUS_KEYS, "status")
    expect(status["protocol_version"] == 1, "protocol_version %r" % status["protocol_version"])
    expect(status["workers"], "no workers listed")
    for worker in status["workers"]:
        expect_keys(worker, WORKER_KEYS, "workers[]")
    for queue in status["queues"]:
        expect_keys(queue, QUEUE_KEYS, "queues[]")
    for name, value in status["counters"].items():
        expect(isinstance(value, int) and value > 0, "counter %s is %r (a zero counter is left out)" % (name, value))
    expect(status["counters"].get("requests_status", 0) >= 1, "requests_status counts this client's STATUS requests")


# --- SCORE through the real worker ----------------------------------------------------------------

@check("score.real_worker_scores", "Commands (SCORE); Tensor frame")
def _(s):
    width = s.real_worker()["input_width"]
    c = s.client()
    rows = [[(i + j) % 7 / 7.0 for j in range(width)] for i in range(3)]
    h, payload = c.request(SCORE, [tensor(rows)], deadline_ms=now_ms() + 10_000)
    expect(h.status == OK and h.command == SCORE and h.is_reply, "%r %r" % (h, payload[:1]))
    expect(len(payload) == 1, "a SCORE reply has one tensor frame")
    n, cols, values = read_tensor(payload[0])
    expect((n, cols) == (3, 1), "reply tensor is %dx%d, expected 3x1" % (n, cols))
    expect(all(0.0 <= v <= 1.0 for v in values), "probabilities %r" % values)
    expect(h.attempt == 1, "the first dispatch is attempt 1, reply says %d" % h.attempt)


@check("score.wrong_width", "Tensor frame (width must equal input_width)")
def _(s):
    width = s.real_worker()["input_width"]
    c = s.client()
    h, payload = c.request(SCORE, [tensor([[1.0] * (width + 1)])])
    expect_error(h, payload, BAD_REQUEST, ["rows have %d features; no live worker takes them" % (width + 1),
                                           "expects %d" % width])


@check("score.length_mismatch", "Tensor frame (length is exactly 8 + rows × cols × 4)")
def _(s):
    c = s.client()
    h, payload = c.request(SCORE, [tensor([[1.0, 2.0]])[:-1]])
    expect_error(h, payload, BAD_REQUEST)


@check("score.empty_tensor", "Tensor frame (rows and cols at least 1)")
def _(s):
    c = s.client()
    h, payload = c.request(SCORE, [struct.pack("<II", 0, 3)])
    expect_error(h, payload, BAD_REQUEST)


@check("score.nan_rejected", "Tensor frame (NaN and infinity are rejected)")
def _(s):
    width = s.real_worker()["input_width"]
    c = s.client()
    h, payload = c.request(SCORE, [tensor([[float("nan")] * width])])
    expect_error(h, payload, BAD_REQUEST)
    h, payload = c.request(SCORE, [tensor([[float("inf")] * width])])
    expect_error(h, payload, BAD_REQUEST)


@check("score.missing_frame", "Commands (SCORE has 1 payload frame)")
def _(s):
    c = s.client()
    h, payload = c.request(SCORE)
    expect_error(h, payload, BAD_REQUEST)


# --- Limits ---------------------------------------------------------------------------------------

@check("limits.rows", "Limits (rows per request)")
def _(s):
    c = s.client()
    h, payload = c.request(SCORE, [tensor([[0.5]] * (MAX_ROWS + 1))])
    expect_error(h, payload, TOO_LARGE, [str(MAX_ROWS)])


@check("limits.columns", "Limits (columns per row)")
def _(s):
    c = s.client()
    h, payload = c.request(SCORE, [tensor([[0.5] * (MAX_COLUMNS + 1)])])
    expect_error(h, payload, TOO_LARGE, [str(MAX_COLUMNS)])


@check("limits.frames", "Limits (frames per message, header included)")
def _(s):
    c = s.client()
    h, payload = c.request(STATUS, [b""] * MAX_FRAMES)
    expect_error(h, payload, TOO_LARGE, [str(MAX_FRAMES)])


@check("limits.message_bytes", "Limits (bytes per message, header included); TOO_LARGE without a disconnect")
def _(s):
    c = s.client()
    Client.next_id += 1
    request_id = Client.next_id
    c.send([header(SCORE, request_id=request_id), b"\0" * (MAX_MESSAGE_BYTES - HEADER.size + 1)])
    h, payload = c.reply_to(request_id, timeout_ms=RECV_MS * 3)
    expect_error(h, payload, TOO_LARGE, [str(MAX_MESSAGE_BYTES)])
    h, payload = c.request(STATUS)
    expect(h.status == OK, "the connection is still served after TOO_LARGE: %r" % h)


@check("limits.message_bytes_at_limit", "Limits (bytes per message, header included)")
def _(s):
    c = s.client()
    # Exactly the limit, header included, is not TOO_LARGE (the tensor is malformed: BAD_REQUEST).
    h, payload = c.request(SCORE, [b"\0" * (MAX_MESSAGE_BYTES - HEADER.size)], timeout_ms=RECV_MS * 3)
    expect(h.status != TOO_LARGE, "a message of exactly the limit is allowed, got %r" % h)


# --- Deadlines, cancellation, conflicts -----------------------------------------------------------

@check("deadline.expired_on_arrival", "Deadlines and cancellation (EXPIRED, never BUSY)")
def _(s):
    width = s.real_worker()["input_width"]
    c = s.client()
    for deadline in (1, now_ms() - 1000):
        h, payload = c.request(SCORE, [tensor([[0.5] * width])], deadline_ms=deadline)
        expect_error(h, payload, EXPIRED)


@check("deadline.refusal_order", "Frame 0: the header (the order of refusals)")
def _(s):
    c = s.client()
    # A header problem comes before the deadline; the deadline before the payload.
    h, payload = c.request(SCORE, [tensor([[0.5]])], flags=0x4, deadline_ms=1)
    expect_error(h, payload, BAD_REQUEST, ["flags"])
    h, payload = c.request(SCORE, [b"not a tensor"], deadline_ms=1)
    expect_error(h, payload, EXPIRED)
    h, payload = c.request(RECOMMEND, [b"{not json"], deadline_ms=1)
    expect_error(h, payload, EXPIRED)


@check("cancel.unknown_request", "Deadlines and cancellation (CANCEL)")
def _(s):
    c = s.client()
    h, payload = c.request(CANCEL, [struct.pack("<Q", 987654321)])
    expect_error(h, payload, NOT_FOUND)


@check("cancel.bad_payload", "Commands (CANCEL payload is a u64)")
def _(s):
    c = s.client()
    h, payload = c.request(CANCEL, [b"\1\2\3"])
    expect_error(h, payload, BAD_REQUEST)


@check("conflict.no_worker_serves_version", "Status codes (CONFLICT); Commands (model_version)")
def _(s):
    width = s.real_worker()["input_width"]
    c = s.client()
    h, payload = c.request(SCORE, [tensor([[0.5] * width])], model_version=1 << 40, timeout_ms=RECV_MS * 2)
    expect_error(h, payload, CONFLICT, ["version"])


# --- CONTROL --------------------------------------------------------------------------------------

def skip_without_state(h, payload):
    """Skips a check that needs `--state-dir` (or `--online`) when the broker says it has neither."""
    if h.status == BAD_REQUEST and payload:
        text = payload[0].decode("utf-8", "replace")
        if "durable state" in text or "online learning" in text:
            raise Skip(text)


@check("control.malformed_json", "CONTROL requests")
def _(s):
    c = s.client()
    h, payload = c.request(CONTROL, [b"{not json"])
    expect_error(h, payload, BAD_REQUEST)


@check("control.unknown_key", "JSON documents; CONTROL requests (a key the request or its train spec does not take "
                              "is BAD_REQUEST naming it)")
def _(s):
    c = s.client()
    h, payload = c.control({"op": "jobs", "schema": 1})
    expect_error(h, payload, BAD_REQUEST, ["schema"])
    h, payload = c.control({"op": "train", "train": {"model": "mlp", "dataset": "obd:random/all",
                                                     "feature_schema": {}}})
    expect_error(h, payload, BAD_REQUEST, ["feature_schema"])


@check("control.models_and_jobs", "CONTROL requests (models, jobs)")
def _(s):
    c = s.client()
    h, payload = c.control({"op": "models"})
    skip_without_state(h, payload)
    expect(h.status == OK, "models: %r %r" % (h, payload[:1]))
    models = json.loads(payload[0])
    expect(isinstance(models.get("models"), list), "models reply %r" % models)
    for model in models["models"]:
        expect_keys(model, {"version": int, "job": (str, type(None)), "promoted": bool,
                            "metrics": (dict, type(None)), "dataset_sha256": (str, type(None)),
                            "hyperparameters": (dict, type(None)), "checkpoint_sha256": str,
                            "created_at": (int, float)}, "model")
    h, payload = c.control({"op": "jobs"})
    expect(h.status == OK, "jobs: %r %r" % (h, payload[:1]))
    expect(isinstance(json.loads(payload[0]).get("jobs"), list), "jobs reply")


JOB_KEYS = {"job": str, "state": str, "model": str, "round": int, "total_rounds": int, "epoch": int, "step": int,
            "loss": (int, float, type(None)), "metrics": (dict, type(None)), "model_version": (int, type(None)),
            "error": (str, type(None)), "created_at": (int, float), "updated_at": (int, float),
            "spec": (dict, type(None)), "rounds": (list, type(None))}
SPEC_KEYS = {"model": str, "dataset": str, "epochs": int, "batch": int, "lr": (int, float),
             "hidden": (list, type(None)), "workers": int, "sync_every": int, "seed": int,
             "validation": (int, float), "promote": bool, "round_timeout_ms": int,
             "gamma": (int, float, type(None)), "epsilon_end": (int, float, type(None)),
             "epsilon_decay_steps": (int, type(None)), "replay_capacity": (int, type(None)),
             "schema": (str, type(None)), "catalogue": (str, type(None)),
             "restore_best": (bool, type(None))}


@check("control.upload_and_job_document", "CONTROL requests (upload: dataset named sha256:<hex>; train; job)")
def _(s):
    c = s.client()
    # A CSV with a data row (a file with none is refused at upload): unique, so each run uploads anew.
    content = b"f0,label\n0.%d,1\n" % time.time_ns()
    digest = hashlib.sha256(content).hexdigest()
    chunk = {"sha256": digest, "name": "conformance.csv", "total_bytes": len(content), "offset": 0,
             "chunk_sha256": digest}
    h, payload = c.control({"op": "upload", "upload": chunk}, [content])
    skip_without_state(h, payload)
    expect(h.status == OK, "upload: %r %r" % (h, payload[:1]))
    expect(json.loads(payload[0]) == {"complete": True}, "upload reply %r" % payload[0])
    spec = {"model": "mlp", "dataset": "sha256:" + digest, "epochs": 1, "batch": 8, "lr": 0.01, "workers": 1,
            "sync_every": 10, "seed": 1, "validation": 0.2, "promote": False, "round_timeout_ms": 1000}
    h, payload = c.control({"op": "train", "train": spec})
    expect(h.status == OK, "train: %r %r" % (h, payload[:1]))
    job = json.loads(payload[0])
    expect_keys(job, JOB_KEYS, "job")
    expect_keys(job["spec"], SPEC_KEYS, "job.spec")
    expect(job["spec"]["dataset"] == "sha256:" + digest, "the job names the upload as sha256:<hex>")
    h, payload = c.control({"op": "job", "job": job["job"]})
    expect(h.status == OK, "job: %r" % h)
    detail = json.loads(payload[0])
    expect_keys(detail, JOB_KEYS, "job")
    expect(isinstance(detail["rounds"], list), "the `job` op lists rounds")
    h, payload = c.control({"op": "cancel_job", "job": job["job"]})
    expect(h.status == OK, "cancel_job: %r" % h)
    expect_keys(json.loads(payload[0]), JOB_KEYS, "job")


@check("control.train_schema", "CONTROL requests (train: `schema` goes with `catalogue`, an upload; a catalogue "
                               "not uploaded is NOT_FOUND)")
def _(s):
    c = s.client()
    content = b"ts,item,position,click,p\n%d,0,1,0,0.5\n" % time.time_ns()
    digest = hashlib.sha256(content).hexdigest()
    chunk = {"sha256": digest, "name": "log.csv", "total_bytes": len(content), "offset": 0, "chunk_sha256": digest}
    h, payload = c.control({"op": "upload", "upload": chunk}, [content])
    skip_without_state(h, payload)
    expect(h.status == OK, "upload: %r %r" % (h, payload[:1]))
    spec = {"model": "mlp", "dataset": "sha256:" + digest, "epochs": 1, "batch": 8, "lr": 0.01, "workers": 1,
            "sync_every": 10, "seed": 1, "validation": 0.2, "promote": False, "round_timeout_ms": 1000,
            "schema": "[logs]\n"}
    h, payload = c.control({"op": "train", "train": spec})
    expect_error(h, payload, BAD_REQUEST, ["catalogue"])
    spec["catalogue"] = "sha256:" + "0" * 64
    h, payload = c.control({"op": "train", "train": spec})
    expect_error(h, payload, NOT_FOUND, ["catalogue"])


CATALOGUE_KEYS = {"version": int, "parent": (int, type(None)), "change": str, "item": (str, type(None)),
                  "sha256": str, "source_sha256": (str, type(None)), "items": int, "active": int, "width": int,
                  "feature_names": (list, type(None)), "created_ms": int, "confirmed": (bool, type(None)),
                  "replicas": (list, type(None))}


def upload_bytes(c, content, name):
    """Uploads `content` in one chunk (CONTROL `upload`) and returns its SHA-256."""
    digest = hashlib.sha256(content).hexdigest()
    chunk = {"sha256": digest, "name": name, "total_bytes": len(content), "offset": 0, "chunk_sha256": digest}
    h, payload = c.control({"op": "upload", "upload": chunk}, [content])
    skip_without_state(h, payload)
    expect(h.status == OK, "upload: %r %r" % (h, payload[:1]))
    return digest


@check("control.catalogue_versions", "Catalogues; CONTROL requests (catalogue_upload, catalogues, catalogue, "
                                     "catalogue_add, catalogue_retire and their errors)")
def _(s):
    c = s.client()
    tag = "c%d" % time.time_ns()
    content = ("sku,kind,price\n%s-a,x,1.5\n%s-b,y,2\n" % (tag, tag)).encode()
    digest = upload_bytes(c, content, "items.csv")
    schema = ('[logs]\ntimestamp = "t"\nitem = "i"\nposition = "p"\nclick = "c"\npropensity = "q"\n'
              '[catalogue]\nfile = "items.csv"\nitem = "sku"\n[catalogue.item_features]\n'
              'kind = "categorical"\nprice = "numeric"\n')
    # The items replace any earlier check's (`replace`); without it a file that drops a row is refused.
    h, payload = c.control({"op": "catalogue_upload",
                            "catalogue": {"source_sha256": "sha256:" + digest, "schema": schema, "replace": True}})
    expect(h.status == OK, "catalogue_upload: %r %r" % (h, payload[:1]))
    first = json.loads(payload[0])
    dropped = upload_bytes(c, ("sku,kind,price\n%s-b,y,2\n" % tag).encode(), "items.csv")
    h, payload = c.control({"op": "catalogue_upload", "catalogue": {"source_sha256": "sha256:" + dropped, "schema": schema}})
    expect_error(h, payload, CONFLICT, ["rows never move"])
    expect_keys(first, CATALOGUE_KEYS, "catalogue version")
    expect(first["change"] == "upload" and first["items"] == 2 and first["active"] == 2 and first["width"] == 3,
           "the upload's version: %r" % first)
    expect(first["feature_names"] == ["kind=x", "kind=y", "price"], "feature_names: %r" % first["feature_names"])
    h, payload = c.control({"op": "catalogue_add", "catalogue": {"item": tag + "-n", "fields": {"kind": "z", "price": "3"}}})
    expect(h.status == OK, "catalogue_add: %r %r" % (h, payload[:1]))
    added = json.loads(payload[0])
    expect(added["parent"] == first["version"] and added["change"] == "add" and added["items"] == 3,
           "the add's version: %r" % added)
    h, payload = c.control({"op": "catalogue_retire", "catalogue": {"item": tag + "-a"}})
    expect(h.status == OK, "catalogue_retire: %r %r" % (h, payload[:1]))
    retired = json.loads(payload[0])
    expect(retired["parent"] == added["version"] and retired["active"] == 2 and retired["item"] == tag + "-a",
           "the retire's version: %r" % retired)
    h, payload = c.control({"op": "catalogue", "version": retired["version"], "after": 0, "limit": 1})
    expect(h.status == OK, "catalogue: %r %r" % (h, payload[:1]))
    page = json.loads(payload[0])
    expect_keys(page, {"catalogue": dict, "items": list, "next_after": (int, type(None))}, "catalogue page")
    expect(page["items"] == [{"row": 1, "id": tag + "-b", "active": True}] and page["next_after"] == 1,
           "the page after row 0: %r" % page)
    h, payload = c.control({"op": "catalogue", "version": retired["version"], "limit": 10})
    rows = json.loads(payload[0])["items"]
    expect([r["active"] for r in rows] == [False, True, True], "rows are stable, the retired one inactive: %r" % rows)
    h, payload = c.control({"op": "catalogues"})
    expect(h.status == OK, "catalogues: %r" % h)
    versions = json.loads(payload[0])["catalogues"]
    expect([v["version"] for v in versions][-3:] == [first["version"], added["version"], retired["version"]],
           "catalogues lists every version, oldest first")
    for v in versions:
        expect_keys(v, CATALOGUE_KEYS, "listed catalogue version")
    h, payload = c.control({"op": "catalogue_retire", "catalogue": {"item": tag + "-a"}})
    expect_error(h, payload, BAD_REQUEST, ["retired"])
    h, payload = c.control({"op": "catalogue_retire", "catalogue": {"item": tag + "-nope"}})
    expect_error(h, payload, NOT_FOUND, [tag + "-nope"])
    h, payload = c.control({"op": "catalogue_add", "catalogue": {"item": tag + "-b", "fields": {"price": "1"}}})
    expect_error(h, payload, BAD_REQUEST, [tag + "-b"])
    h, payload = c.control({"op": "catalogue_add", "catalogue": {"item": tag + "-m", "fields": {"price": "NaN"}}})
    expect_error(h, payload, BAD_REQUEST, ["price"])
    h, payload = c.control({"op": "catalogue", "version": 10 ** 12})
    expect_error(h, payload, NOT_FOUND, [str(10 ** 12)])
    h, payload = c.control({"op": "catalogue_upload", "catalogue": {"source_sha256": "sha256:" + "0" * 64, "schema": schema}})
    expect_error(h, payload, NOT_FOUND, ["0" * 64])
    h, payload = c.control({"op": "catalogue_upload", "catalogue": {"sha": "x"}})
    expect_error(h, payload, BAD_REQUEST, ["sha"])


@check("worker.catalogue_install", "Catalogues (a registered worker gets CATALOGUE; frame 2 hashes to its sha256)")
def _(s):
    c = s.client()
    # A worker that trains or serves the policy gets catalogues; one that trains is not waited for.
    worker = FakeWorker(s, "catalogue", services=("SCORE", "TRAIN_ROUND"))
    worker.register()
    try:
        catalogue_install(c, worker)
    finally:
        worker.leave()


def catalogue_install(c, worker):
    content = ("sku,price\nw%d,1\n" % time.time_ns()).encode()
    digest = upload_bytes(c, content, "items.csv")
    schema = ('[logs]\ntimestamp = "t"\nitem = "i"\nposition = "p"\nclick = "c"\npropensity = "q"\n'
              '[catalogue]\nfile = "items.csv"\nitem = "sku"\n[catalogue.item_features]\nprice = "numeric"\n')
    h, payload = c.control({"op": "catalogue_upload",
                            "catalogue": {"source_sha256": "sha256:" + digest, "schema": schema, "replace": True}})
    expect(h.status == OK, "catalogue_upload: %r %r" % (h, payload[:1]))
    version = json.loads(payload[0])
    # A worker that registers gets the newest version at once (perhaps an earlier check's): wait for this one.
    deadline = time.time() + RECV_MS / 1000
    while True:
        _, frames = worker.expect_command(0x35)
        if len(frames) >= 1 and json.loads(frames[0]).get("version") == version["version"]:
            break
        expect(time.time() < deadline, "no CATALOGUE for version %d" % version["version"])
    expect(len(frames) >= 2, "CATALOGUE has a JSON frame and the catalogue's bytes")
    notice = json.loads(frames[0])
    expect(notice == {"version": version["version"], "sha256": version["sha256"]}, "CATALOGUE notice: %r" % notice)
    expect(hashlib.sha256(frames[1]).hexdigest() == notice["sha256"], "frame 2 hashes to the notice's sha256")
    document = json.loads(frames[1])
    expect(document["format"] == "recpool-catalogue-1" and document["width"] == 1, "canonical document: %r" % document)
    expect(frames[1] == json.dumps(document, sort_keys=True, separators=(",", ":")).encode(),
           "the canonical bytes are sorted-key JSON without whitespace")
    worker.send([header(0x25), json.dumps({"version": notice["version"], "sha256": notice["sha256"],
                                           "installed": True, "error": None}).encode()])


@check("control.unknown_job", "CONTROL requests (job: NOT_FOUND)")
def _(s):
    c = s.client()
    h, payload = c.control({"op": "job", "job": "no-such-job"})
    skip_without_state(h, payload)
    expect_error(h, payload, NOT_FOUND)


@check("control.impressions_paging", "CONTROL requests (impressions: the last page has next_after null)")
def _(s):
    c = s.client()
    h, payload = c.control({"op": "impressions", "after": 0, "limit": 10})
    skip_without_state(h, payload)
    expect(h.status == OK, "impressions: %r %r" % (h, payload[:1]))
    page = json.loads(payload[0])
    expect_keys(page, {"impressions": list, "next_after": (int, type(None)), "spec": (dict, type(None))}, "page")
    for logged in page["impressions"]:
        record = logged.get("record") or {}
        expect("retrieval" in record and isinstance(record["retrieval"], (str, type(None))),
               "an impression record has `retrieval`, a string or null: %r" % (record,))
    after = 0
    for _ in range(10_000):
        if page["next_after"] is None:
            return
        expect(page["next_after"] > after, "next_after goes forward")
        after = page["next_after"]
        h, payload = c.control({"op": "impressions", "after": after, "limit": 10_000})
        page = json.loads(payload[0])
    raise Failure("paging never reached next_after null")


@check("control.online_policy_version", "CONTROL requests (online_policy: `version` names a stored version; "
                                        "an unknown one is NOT_FOUND naming it)")
def _(s):
    c = s.client()
    h, payload = c.control({"op": "online_policy"})
    skip_without_state(h, payload)
    expect(h.status == OK and len(payload) == 2, "online_policy: %r %r" % (h, payload[:1]))
    served = json.loads(payload[0])
    expect(h.model_version == served["version"], "the header's model_version is the policy's version")
    h, payload = c.control({"op": "online_policy", "version": 1})
    expect(h.status == OK and len(payload) == 2, "online_policy version 1: %r %r" % (h, payload[:1]))
    expect(json.loads(payload[0])["version"] == 1 and h.model_version == 1, "version 1 answers version 1")
    unknown = served["version"] + 1000
    h, payload = c.control({"op": "online_policy", "version": unknown})
    expect_error(h, payload, NOT_FOUND, ["online policy version %d" % unknown])


# --- RECOMMEND through the real worker ------------------------------------------------------------

@check("recommend.real_worker_answers", "Commands (RECOMMEND); JSON documents (RECOMMEND request and reply)")
def _(s):
    worker = s.real_worker()
    if "RECOMMEND" not in worker["services"]:
        raise Skip("the real worker does not offer RECOMMEND")
    c = s.client()
    query = {"user_features": {}, "events": [], "candidates": None, "top": 3}
    h, payload = c.request(RECOMMEND, [json.dumps(query).encode()])
    if h.status == OK:
        expect(len(payload) == 1, "the client gets one JSON frame")
        reply = json.loads(payload[0])
        expect("items" in reply and "source" in reply and "model_version" in reply, "reply keys %r" % reply)
        expect(len(reply["items"]) <= 3, "at most `top` items")
    else:
        expect_error(h, payload, BAD_REQUEST)


@check("recommend.exclude_viewed", "JSON documents (RECOMMEND request and reply): exclude_viewed")
def _(s):
    worker = s.real_worker()
    if "RECOMMEND" not in worker["services"]:
        raise Skip("the real worker does not offer RECOMMEND")
    c = s.client()
    query = {"events": [{"item": 0, "seconds": 30}], "exclude_viewed": True, "top": 5}
    h, payload = c.request(RECOMMEND, [json.dumps(query).encode()])
    if h.status == OK:
        reply = json.loads(payload[0])
        if reply.get("source") in ("model", "cold_start_fallback"):
            expect(all(i["item"] != 0 for i in reply["items"]), "a viewed item is left out: %r" % reply)
    else:
        expect_error(h, payload, BAD_REQUEST)


@check("recommend.malformed_json", "Commands (RECOMMEND); Status codes")
def _(s):
    worker = s.real_worker()
    if "RECOMMEND" not in worker["services"]:
        raise Skip("the real worker does not offer RECOMMEND")
    c = s.client()
    h, payload = c.request(RECOMMEND, [b"[1, 2"])
    expect_error(h, payload, BAD_REQUEST)


@check("feedback.unknown_impression", "Online learning (FEEDBACK)")
def _(s):
    c = s.client()
    event = {"impression_id": "no-such-impression", "item": 1, "click": 1, "dwell_seconds": None}
    h, payload = c.request(FEEDBACK, [json.dumps(event).encode()])
    skip_without_state(h, payload)
    expect_error(h, payload, NOT_FOUND)


SLATE_KEYS = {"impression_id": str, "items": list, "model_version": int, "source": str, "exploration": dict}
SLATE_ITEM_KEYS = {"item": int, "position": int, "score": (int, float), "propensity": (int, float)}


def policy_slate(s, c):
    """A RECOMMEND answered by the online policy, or Skip when the broker serves none."""
    h, payload = c.control({"op": "online"})
    skip_without_state(h, payload)
    expect(h.status == OK, "online: %r %r" % (h, payload[:1]))
    view = json.loads(payload[0])
    if not view.get("enabled"):
        raise Skip("online learning is not enabled")
    deadline = time.time() + 20
    while True:
        h, payload = c.request(RECOMMEND, [json.dumps({"user_features": {}, "top": 2}).encode()])
        expect(h.status == OK, "RECOMMEND: %r %r" % (h, payload[:1]))
        reply = json.loads(payload[0])
        if reply.get("source") == "policy":
            expect(len(payload) == 1, "the client gets frame 1 only (the impression record stays in the broker)")
            return h, reply
        expect(time.time() < deadline, "no replica serves the policy within 20 s")
        time.sleep(0.2)


@check("online.policy_slate_keys", "Online learning (RECOMMEND answered by a policy)")
def _(s):
    c = s.client()
    h, reply = policy_slate(s, c)
    expect_keys(reply, SLATE_KEYS, "slate")
    expect(reply["model_version"] == h.model_version, "the header names the policy version")
    expect(1 <= len(reply["items"]) <= 2, "at most `top` items")
    for position, item in enumerate(reply["items"]):
        expect_keys(item, SLATE_ITEM_KEYS, "items[]")
        expect(item["position"] == position, "positions count from 0 in order")
        expect(0 < item["propensity"] <= 1, "propensity in (0, 1]")


@check("online.feedback_flow", "Online learning (FEEDBACK: OK, duplicate, item not in slate, malformed)")
def _(s):
    c = s.client()
    _, reply = policy_slate(s, c)
    item = reply["items"][0]["item"]
    event = {"impression_id": reply["impression_id"], "item": item, "click": 1, "dwell_seconds": None}
    h, payload = c.request(FEEDBACK, [json.dumps(event).encode()])
    expect(h.status == OK and h.command == FEEDBACK, "feedback: %r %r" % (h, payload[:1]))
    ack = json.loads(payload[0])
    expect(ack == {"impression_id": reply["impression_id"], "item": item, "duplicate": False}, "ack %r" % ack)
    h, payload = c.request(FEEDBACK, [json.dumps(event).encode()])
    expect(h.status == OK and json.loads(payload[0])["duplicate"] is True, "a repeat is a duplicate")
    shown = {i["item"] for i in reply["items"]}
    other = next(i for i in range(10_000) if i not in shown)
    h, payload = c.request(FEEDBACK, [json.dumps(dict(event, item=other)).encode()])
    expect_error(h, payload, BAD_REQUEST)
    h, payload = c.request(FEEDBACK, [json.dumps(dict(event, click=2)).encode()])
    expect_error(h, payload, BAD_REQUEST)


# --- The broker as seen by a worker (fake workers on the backend) ---------------------------------

@check("worker.ready_answered_with_heartbeat", "Commands (READY); Liveness")
def _(s):
    w = FakeWorker(s, "fake-ready")
    h = w.register()
    expect(not h.is_reply, "the broker's HEARTBEAT is not a reply")
    status = s.status()
    mine = [x for x in status["workers"] if x["pid"] == os.getpid() and x["host"] == "conformance"]
    expect(mine, "the registered worker is listed in STATUS")
    expect_keys(mine[0], WORKER_KEYS, "workers[]")
    expect(mine[0]["slots"] == w.slots and mine[0]["input_width"] == w.width, "status shows READY's values")
    w.leave()


@check("worker.broker_heartbeats", "Liveness (the broker heartbeats every second)")
def _(s):
    w = FakeWorker(s, "fake-beat")
    w.register()
    w.heartbeat()
    w.expect_command(HEARTBEAT, timeout_ms=3500)
    w.leave()


@check("worker.unknown_worker_disconnected", "Liveness (an unknown worker is answered DISCONNECT)")
def _(s):
    w = FakeWorker(s, "fake-unknown", version=0, width=3)
    w.heartbeat()
    w.expect_command(DISCONNECT)


@check("worker.malformed_ready_disconnected", "Commands (READY needs a worker hello)")
def _(s):
    w = FakeWorker(s, "fake-badready", version=0, width=3)
    w.send([header(READY), b"{\"slots\": \"many\"}"])
    w.expect_command(DISCONNECT)


def pin(worker):
    """Header fields that pin a request to `worker`'s version: EXACT_VERSION, unless it is 0."""
    return {"flags": EXACT_VERSION, "model_version": worker.version} if worker.version else {}


def fake_score(s, worker, **fields):
    """Sends a SCORE only `worker` takes (rows of its width, pinned to its version); returns
    (client, request id, tensor)."""
    c = s.client()
    Client.next_id += 1
    request_id = Client.next_id
    body = tensor([[0.25] * worker.width])
    c.send([header(SCORE, request_id=request_id, **dict(pin(worker), **fields)), body])
    return c, request_id, body


@check("worker.dispatch_fields", "Commands (SCORE, broker → worker); Frame 0 (attempt from 1)")
def _(s):
    w = FakeWorker(s, "fake-dispatch")
    w.register()
    deadline = now_ms() + 30_000
    c, request_id, body = fake_score(s, w, deadline_ms=deadline)
    h, payload = w.expect_command(SCORE)
    expect(not h.is_reply and h.attempt == 1, "first dispatch: %r" % h)
    expect(h.deadline_ms == deadline and h.model_version == w.version, "deadline and version forwarded: %r" % h)
    expect(bool(h.flags & EXACT_VERSION) == bool(w.version), "the pin is forwarded: %r" % h)
    expect(payload == [body], "the payload is forwarded unchanged")
    w.answer(h, [tensor([[0.75]])])
    r, out = c.reply_to(request_id)
    expect(r.status == OK and r.request_id == request_id, "the client gets its own id back: %r" % r)
    expect(r.model_version == w.version, "the reply names the worker's version: %r" % r)
    expect(r.attempt == 1, "the reply names attempt 1: %r" % r)
    expect(read_tensor(out[0])[2] == [0.75], "the worker's payload reaches the client")
    w.leave()


@check("worker.redispatch_then_worker_lost", "Liveness (max-attempts 2, then WORKER_LOST)")
def _(s):
    a = FakeWorker(s, "fake-a")
    a.register()
    c, request_id, _ = fake_score(s, a)
    h1, _ = a.expect_command(SCORE)
    expect(h1.attempt == 1, "first dispatch %r" % h1)
    b = FakeWorker(s, "fake-b", width=a.width)
    b.register()
    a.leave()
    h2, _ = b.expect_command(SCORE)
    expect(h2.attempt == 2, "the re-dispatch is attempt 2: %r" % h2)
    b.leave()
    r, payload = c.reply_to(request_id)
    expect_error(r, payload, WORKER_LOST)


@check("worker.cancel_inflight", "Deadlines and cancellation (CANCEL of a dispatched request)")
def _(s):
    w = FakeWorker(s, "fake-cancel")
    w.register()
    c, request_id, _ = fake_score(s, w)
    h, _ = w.expect_command(SCORE)
    Client.next_id += 1
    cancel_id = Client.next_id
    c.send([header(CANCEL, request_id=cancel_id), struct.pack("<Q", request_id)])
    r, payload = c.reply_to(request_id)
    expect_error(r, payload, CANCELLED)
    r, payload = c.reply_to(cancel_id)
    expect(r.status == OK and r.command == CANCEL and payload == [], "CANCEL is answered OK with no frame: %r" % r)
    w.answer(h, [tensor([[0.5]])])  # dropped by the broker
    h2, p2 = c.request(STATUS)
    expect(h2.status == OK, "status after a late reply")
    w.leave()


@check("worker.duplicate_request_id", "Status codes (CONFLICT: duplicate outstanding request id)")
def _(s):
    w = FakeWorker(s, "fake-dup")
    w.register()
    c, request_id, body = fake_score(s, w)
    h, _ = w.expect_command(SCORE)
    c.send([header(SCORE, request_id=request_id, **pin(w)), body])
    r, payload = c.reply_to(request_id)
    expect_error(r, payload, CONFLICT, [str(request_id)])
    w.answer(h, [tensor([[0.5]])])
    r, _ = c.reply_to(request_id)
    expect(r.status == OK, "the original request is still answered: %r" % r)
    w.leave()


@check("worker.heartbeat_slots_are_total_credit", "Liveness; Commands (HEARTBEAT slots is total credit)")
def _(s):
    w = FakeWorker(s, "fake-credit", slots=1)
    w.register()
    c1, id1, _ = fake_score(s, w)
    h1, _ = w.expect_command(SCORE)
    c2, id2, _ = fake_score(s, w)
    w.expect_no(SCORE, 500)
    # With slots 1 and one request held, nothing more comes; a heartbeat raising slots to 2 (more
    # than READY said) lets the second through.
    w.heartbeat(slots=2)
    h2, _ = w.expect_command(SCORE)
    expect(h2.request_id != h1.request_id, "a second dispatch")
    w.answer(h1, [tensor([[0.5]])])
    w.answer(h2, [tensor([[0.5]])])
    expect(c1.reply_to(id1)[0].status == OK and c2.reply_to(id2)[0].status == OK, "both answered")
    w.leave()


@check("worker.broker_replies_count_attempts", "Frame 0 (attempt in the broker's own replies)")
def _(s):
    w = FakeWorker(s, "fake-attempts")
    w.register()
    c, request_id, _ = fake_score(s, w)
    w.expect_command(SCORE)
    Client.next_id += 1
    c.send([header(CANCEL, request_id=Client.next_id), struct.pack("<Q", request_id)])
    r, payload = c.reply_to(request_id)
    expect_error(r, payload, CANCELLED)
    expect(r.attempt == 1, "CANCELLED after one dispatch carries attempt 1: %r" % r)
    c, request_id, _ = fake_score(s, w)
    w.expect_command(SCORE)
    b = FakeWorker(s, "fake-attempts-b", width=w.width)
    b.register()
    w.leave()
    b.expect_command(SCORE)
    b.leave()
    r, payload = c.reply_to(request_id)
    expect_error(r, payload, WORKER_LOST)
    expect(r.attempt == 2, "WORKER_LOST after two dispatches carries attempt 2: %r" % r)
    width = s.real_worker()["input_width"]
    h, payload = s.client().request(SCORE, [tensor([[0.5] * width])], deadline_ms=1)
    expect(h.attempt == 0, "a reply to a request never dispatched carries attempt 0: %r" % h)


@check("worker.drain_acknowledged", "Draining (HEARTBEAT with DRAIN is answered with DRAIN)")
def _(s):
    w = FakeWorker(s, "fake-drain")
    w.register()
    w.heartbeat(slots=0, flags=DRAIN)
    deadline = time.time() + 5
    while True:
        h, _ = w.expect_command(HEARTBEAT, timeout_ms=max(1, int((deadline - time.time()) * 1000)))
        if h.flags & DRAIN:
            break
    w.leave()


@check("worker.error_reply_forwarded", "Status codes (a worker's error reply reaches the client)")
def _(s):
    w = FakeWorker(s, "fake-error")
    w.register()
    c, request_id, _ = fake_score(s, w)
    h, _ = w.expect_command(SCORE)
    w.answer(h, [b"rows have 3 features; this fake expects 4"], status=BAD_REQUEST)
    r, payload = c.reply_to(request_id)
    expect_error(r, payload, BAD_REQUEST, ["expects 4"])
    w.leave()


@check("status.model_identity_keys", "Status document (promoted_version; worker model_source, model_sha256, "
                                    "model_seed, waiting_for_version, idle_reason, draining); Model versions")
def _(s):
    s.real_worker()
    status = s.status()
    expect("promoted_version" in status, "status lacks promoted_version (a listed key is always present)")
    expect(status["promoted_version"] is None or isinstance(status["promoted_version"], int), "promoted_version")
    for worker in status["workers"]:
        expect_keys(worker, {"model_source": str, "model_sha256": (str, type(None)), "model_seed": (int, type(None)),
                             "waiting_for_version": (int, type(None)), "idle_reason": (str, type(None)),
                             "draining": bool},
                    "workers[%s]" % worker.get("id"))
        expect(worker["model_seed"] is None or worker["model_source"] == "seeded",
               "model_seed %r beside model_source %r" % (worker["model_seed"], worker["model_source"]))
        expect(worker["model_source"] in ("registry", "file", "seeded", "unverified", "unchecked"),
               "model_source %r" % worker["model_source"])
        sha = worker["model_sha256"]
        expect(sha is None or len(sha) == 64, "model_sha256 %r" % sha)
        if worker["model_version"] == 0 and worker["host"] != "conformance":
            expect(worker["model_source"] != "registry", "version 0 is not a registered version")


@check("status.versions_are_registered", "Model versions (a version on the wire is the registry's or 0)")
def _(s):
    c = s.client()
    h, payload = c.control({"op": "models"})
    skip_without_state(h, payload)
    expect(h.status == OK, "models: %r" % h)
    registered = {m["version"] for m in json.loads(payload[0])["models"]}
    for worker in s.status()["workers"]:
        if worker["host"] == "conformance":
            continue
        expect(worker["model_version"] == 0 or worker["model_version"] in registered,
               "worker %s reports version %d, which the registry does not hold" % (worker["id"],
                                                                                   worker["model_version"]))


@check("worker.registration_answer", "Worker hello (READY): the broker's answer names the registered id")
def _(s):
    w = FakeWorker(s, "fake-reg")
    w.send([header(READY, model_version=w.version), json.dumps(w.hello()).encode()])
    _, payload = w.expect_command(HEARTBEAT)
    expect(len(payload) == 1, "the HEARTBEAT answering READY carries the registration JSON")
    registration = json.loads(payload[0])
    # served_policy: the online policy version and weights the broker serves (null: a broker without --online).
    served = registration.pop("served_policy", "missing")
    expect(served is None or (isinstance(served, dict) and set(served) == {"version", "weights_sha256"}
                              and isinstance(served["version"], int) and served["version"] >= 1
                              and isinstance(served["weights_sha256"], str) and len(served["weights_sha256"]) == 64),
           "served_policy %r" % (served,))
    # The broker's heartbeat interval and liveness, which the worker adopts (ms and missed intervals, integers ≥ 1).
    for key in ("heartbeat_ms", "liveness"):
        value = registration.pop(key, None)
        expect(isinstance(value, int) and not isinstance(value, bool) and value >= 1, "%s %r" % (key, value))
    expect(registration == {"worker_id": w.worker_id, "requested_id": None, "waiting_for_version": None},
           "registration %r" % registration)
    w.leave()


@check("worker.ids_stay_unique", "Worker hello (READY): worker ids are unique among live workers")
def _(s):
    a = FakeWorker(s, "fake-same")
    a.register()
    b = FakeWorker(s, "fake-same", width=a.width)
    hello = dict(b.hello(), pid=os.getpid() + 1)
    b.send([header(READY, model_version=b.version), json.dumps(hello).encode()])
    _, payload = b.expect_command(HEARTBEAT)
    expect(len(payload) == 1, "the HEARTBEAT answering READY carries the registration JSON")
    registration = json.loads(payload[0])
    expect(registration["requested_id"] == a.worker_id and registration["worker_id"] != a.worker_id,
           "a second live worker with the same id is registered under another: %r" % registration)
    ids = [x["id"] for x in s.status()["workers"]]
    expect(len(ids) == len(set(ids)), "status lists each id once: %r" % ids)
    a.leave()
    b.leave()


@check("worker.score_routed_by_width", "Tensor frame (a SCORE goes only to a worker of its width)")
def _(s):
    real = s.real_worker()
    width = real["input_width"] + 4
    w = FakeWorker(s, "fake-width", width=width)
    w.register()
    c = s.client()
    # While the fake holds the first request, the real worker is the less loaded one: only routing
    # by width sends it the second.
    sent = []
    for i in range(2):
        Client.next_id += 1
        sent.append(Client.next_id)
        c.send([header(SCORE, request_id=Client.next_id), tensor([[0.5] * width])])
    held = [w.expect_command(SCORE)[0] for _ in sent]
    for h in held:
        w.answer(h, [tensor([[0.125]])])
    for request_id in sent:
        r, payload = c.reply_to(request_id)
        expect(r.status == OK and read_tensor(payload[0])[2] == [0.125], "answered by the fake: %r" % r)
    w.leave()


# --- Weight rollout (optional: --checkpoint FILE; runs last, as it promotes a version) ------------

MODEL_KEYS = {"version": int, "job": (str, type(None)), "promoted": bool, "metrics": (dict, type(None)),
              "dataset_sha256": (str, type(None)),
              "hyperparameters": (dict, type(None)), "checkpoint_sha256": str, "created_at": (int, float)}


def imported_version(s, c):
    """Imports --checkpoint and returns its model view, or Skip."""
    if not s.args.checkpoint:
        raise Skip("needs --checkpoint FILE (a checkpoint the broker can import)")
    with open(s.args.checkpoint, "rb") as f:
        content = f.read()
    h, payload = c.control({"op": "import"}, [content])
    skip_without_state(h, payload)
    expect(h.status == OK, "import: %r %r" % (h, payload[:1]))
    model = json.loads(payload[0])
    expect_keys(model, MODEL_KEYS, "model")
    expect(model["checkpoint_sha256"] == hashlib.sha256(content).hexdigest(), "checkpoint_sha256 is the file's")
    return model, content


@check("rollout.import_is_idempotent", "CONTROL requests (import: a known checkpoint is its existing version)")
def _(s):
    c = s.client()
    first, _ = imported_version(s, c)
    second, _ = imported_version(s, c)
    expect(first["version"] == second["version"], "importing the same checkpoint twice gave versions %d and %d"
           % (first["version"], second["version"]))


@check("rollout.weights_sent_on_promotion", "Weight rollout; Commands (WEIGHTS); Model versions")
def _(s):
    c = s.client()
    model, content = imported_version(s, c)
    version = model["version"]
    w = FakeWorker(s, "fake-rollout", 0, width=3)
    w.register()
    h, payload = c.control({"op": "promote", "version": version})
    expect(h.status == OK, "promote: %r %r" % (h, payload[:1]))
    promoted = json.loads(payload[0])
    expect_keys(promoted, MODEL_KEYS, "model")
    expect(promoted["promoted"] is True and promoted["version"] == version, "promote answers the model")
    h, frames = w.expect_command(WEIGHTS, timeout_ms=RECV_MS)
    expect(not h.is_reply and h.model_version == version, "WEIGHTS names the version in its header: %r" % h)
    expect(len(frames) == 2, "WEIGHTS has a JSON frame and the checkpoint")
    notice = json.loads(frames[0])
    expect_keys(notice, {"version": int, "sha256": str}, "WEIGHTS notice")
    expect(notice["version"] == version and notice["sha256"] == hashlib.sha256(frames[1]).hexdigest(),
           "the notice names the version and the checkpoint's SHA-256: %r" % notice)
    expect(frames[1] == content, "the checkpoint bytes are the imported ones")
    w.version = version
    w.heartbeat()
    deadline = time.time() + 20
    while True:
        workers = s.status()["workers"]
        mine = [x for x in workers if x["id"] == w.worker_id]
        real = [x for x in workers if x["host"] != "conformance"]
        if mine and mine[0]["model_version"] == version and real and all(
                x["model_version"] == version for x in real):
            break
        expect(time.time() < deadline, "every worker serves version %d within 20 s: %r" % (version, workers))
        w.heartbeat()
        time.sleep(0.2)
    w.leave()


# --- The real worker as a broker sees it (the suite plays the broker) -----------------------------

class FakeBroker:
    """A ROUTER the suite binds and a real worker connects to (started with --worker-command).

    It answers READY with HEARTBEAT and heartbeats the worker every second while it waits, as the
    broker does (section Liveness), so the worker stays registered for the whole run."""

    def __init__(self, args):
        import shlex
        import subprocess
        self.context = zmq.Context.instance()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind("tcp://127.0.0.1:*")
        self.endpoint = self.socket.getsockopt(zmq.LAST_ENDPOINT).decode()
        command = shlex.split(args.worker_command.replace("{endpoint}", self.endpoint))
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.identity = None
        self.last_beat = 0.0
        self.ready_header, self.ready_document = None, None
        self.heartbeats = []
        frames = self.next(lambda h: h.command == READY, timeout_ms=20_000)
        if frames is None:
            raise Skip("the worker started with --worker-command sent no READY within 20 s")

    def send(self, frames):
        self.socket.send_multipart([self.identity] + [bytes(f) for f in frames])

    def next(self, wanted, timeout_ms=RECV_MS):
        """The next worker message whose header satisfies `wanted`, as frames; None on timeout.
        READY registers the worker; HEARTBEATs are kept in `heartbeats`."""
        deadline = time.time() + timeout_ms / 1000
        while True:
            if self.identity is not None and time.time() - self.last_beat >= 1.0:
                self.send([header(HEARTBEAT)])
                self.last_beat = time.time()
            left = min(int((deadline - time.time()) * 1000), 250)
            if left <= 0:
                return None
            if self.socket.poll(left) == 0:
                continue
            identity, *frames = self.socket.recv_multipart()
            h = Header(frames[0])
            if h.command == READY:
                self.identity = identity
                self.ready_header, self.ready_document = h, frames[1:]
                self.send([header(HEARTBEAT)])
                self.last_beat = time.time()
            elif h.command == HEARTBEAT:
                self.heartbeats.append(frames)
            if wanted(h):
                return frames

    def request(self, command, payload, request_id, **fields):
        """Sends one request to the worker; returns (header, payload) of its reply."""
        self.send([header(command, request_id=request_id, **fields)] + list(payload))
        frames = self.next(lambda h: h.is_reply and h.request_id == request_id)
        if frames is None:
            raise Failure("the worker did not answer request %d" % request_id)
        return Header(frames[0]), frames[1:]

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except Exception:
            self.process.kill()
            self.process.wait()
        self.socket.close(0)


DIRECT = {}


def direct(s):
    """The shared fake broker with the real worker connected, or Skip without --worker-command."""
    if not s.args.worker_command:
        raise Skip("needs --worker-command to start a worker against the suite's own ROUTER")
    if "broker" not in DIRECT:
        DIRECT["broker"] = None
        DIRECT["broker"] = FakeBroker(s.args)
    if DIRECT["broker"] is None:
        raise Skip("the worker did not start")
    return DIRECT["broker"]


HELLO_KEYS = {"worker_id": str, "services": list, "slots": int, "input_width": int, "model_version": int,
              "host": str, "pid": int}


@check("direct.ready_document", "Worker hello (READY): required keys and types")
def _(s):
    b = direct(s)
    expect(len(b.ready_document) >= 1, "READY has a JSON frame")
    hello = json.loads(b.ready_document[0])
    expect_keys(hello, HELLO_KEYS, "hello")
    expect(hello["model_version"] == b.ready_header.model_version, "the header names the served version")
    expect("SCORE" in hello["services"], "the worker offers SCORE")


@check("direct.model_sha256_in_ready", "Worker hello (READY): model_sha256; Model versions")
def _(s):
    b = direct(s)
    hello = json.loads(b.ready_document[0])
    expect("model_sha256" in hello, "READY lists model_sha256 (a listed key is always present)")
    expect(hello["model_sha256"] is None or len(hello["model_sha256"]) == 64, "a hex SHA-256 or null")


@check("direct.heartbeat_payload", "The worker's HEARTBEAT payload")
def _(s):
    b = direct(s)
    frames = b.next(lambda h: h.command == HEARTBEAT, timeout_ms=3500)
    expect(frames is not None, "the worker heartbeats every second")
    expect(len(frames) == 2 and len(frames[1]) in (8, 12, 44),
           "payload [slots u32][queued u32], then [input_width u32], then 32 bytes of SHA-256: %r" % frames[1:])
    slots, _queued = struct.unpack_from("<II", frames[1])
    hello = json.loads(b.ready_document[0])
    expect(slots == hello["slots"], "an idle worker's slots is its total credit (%d vs READY %d)"
           % (slots, hello["slots"]))
    if len(frames[1]) >= 12:
        width = struct.unpack_from("<I", frames[1], 8)[0]
        expect(width == hello["input_width"], "the heartbeat's width %d is READY's %d" % (width, hello["input_width"]))
    if len(frames[1]) == 44:
        expect(frames[1][12:].hex() == hello["model_sha256"], "the heartbeat's SHA-256 is READY's model_sha256")


def direct_width(b):
    return json.loads(b.ready_document[0])["input_width"]


@check("direct.score_echoes_id_and_attempt", "Frame 0 (attempt echoed); Commands (SCORE)")
def _(s):
    b = direct(s)
    width = direct_width(b)
    h, payload = b.request(SCORE, [tensor([[0.5] * width, [0.25] * width])], 901, attempt=3)
    expect(h.status == OK and h.command == SCORE and h.is_reply, repr(h))
    expect(h.attempt == 3, "the reply echoes attempt 3: %r" % h)
    rows, cols, values = read_tensor(payload[0])
    expect((rows, cols) == (2, 1) and all(0 <= v <= 1 for v in values), "reply tensor %dx%d" % (rows, cols))


@check("direct.error_echoes_attempt", "Frame 0 (every worker reply echoes attempt); Tensor frame")
def _(s):
    b = direct(s)
    width = direct_width(b)
    h, payload = b.request(SCORE, [tensor([[0.5] * (width + 2)])], 902, attempt=2)
    expect_error(h, payload, BAD_REQUEST, [str(width), str(width + 2)])
    expect(h.attempt == 2, "the error reply echoes attempt 2: %r" % h)


@check("direct.expired_echoes_attempt", "Deadlines and cancellation (the worker checks the deadline)")
def _(s):
    b = direct(s)
    width = direct_width(b)
    h, payload = b.request(SCORE, [tensor([[0.5] * width])], 903, attempt=2, deadline_ms=1)
    expect_error(h, payload, EXPIRED)
    expect(h.attempt == 2, "the EXPIRED reply echoes attempt 2: %r" % h)


@check("direct.version_pin_conflict", "Status codes (CONFLICT from a worker)")
def _(s):
    b = direct(s)
    width = direct_width(b)
    served = b.ready_header.model_version
    h, payload = b.request(SCORE, [tensor([[0.5] * width])], 904, attempt=1, flags=EXACT_VERSION,
                           model_version=served + 12345)
    expect_error(h, payload, CONFLICT, ["version"])


@check("direct.nan_rejected", "Tensor frame (NaN and infinity are rejected)")
def _(s):
    b = direct(s)
    width = direct_width(b)
    h, payload = b.request(SCORE, [tensor([[float("nan")] * width])], 905, attempt=1)
    expect_error(h, payload, BAD_REQUEST)


@check("direct.disconnect_reregisters", "Liveness (after DISCONNECT the worker sends READY again)")
def _(s):
    b = direct(s)
    b.send([header(DISCONNECT)])
    frames = b.next(lambda h: h.command == READY, timeout_ms=RECV_MS)
    expect(frames is not None, "the worker sent READY again")


# --- Runner ---------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frontend", required=True, help="the broker's client endpoint")
    parser.add_argument("--backend", required=True, help="the broker's worker endpoint")
    parser.add_argument("--curve-server-key", help="the broker's CURVE public key (Z85)")
    parser.add_argument("--client-public-key")
    parser.add_argument("--client-secret-key")
    parser.add_argument("--worker-public-key")
    parser.add_argument("--worker-secret-key")
    parser.add_argument("--restricted-client-public-key", help="a key admitted in the client role (Z85)")
    parser.add_argument("--restricted-client-secret-key")
    parser.add_argument("--worker-command",
                        help="start a worker against the suite's own ROUTER for the direct.* checks; {endpoint} "
                             "is replaced by the endpoint, e.g. 'recpool-worker --broker {endpoint}'")
    parser.add_argument("--checkpoint", help="a checkpoint file the broker can import, for the rollout.* checks "
                                             "(they promote it, so they run after the others)")
    parser.add_argument("--only", action="append", default=[], help="run only checks starting with this")
    parser.add_argument("--pending", help="a file of check names expected to fail for now (one a line, # comments)")
    parser.add_argument("--json", help="write a JSON report here")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    args = parser.parse_args()

    if args.list:
        for name, section, _ in CHECKS:
            print("%-42s %s" % (name, section))
        return 0
    pending = set()
    if args.pending:
        with open(args.pending) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    pending.add(line)
    unknown = pending - {name for name, _, _ in CHECKS}
    if unknown:
        print("unknown check names in --pending: %s" % ", ".join(sorted(unknown)), file=sys.stderr)
        return 2

    results = []
    for name, section, function in CHECKS:
        if args.only and not any(name.startswith(prefix) for prefix in args.only):
            continue
        suite = Suite(args)
        started = time.time()
        try:
            function(suite)
            outcome, detail = "pass", ""
        except Skip as skip:
            outcome, detail = "skip", str(skip)
        except Failure as failure:
            outcome, detail = "fail", str(failure)
        except Exception:
            outcome, detail = "fail", traceback.format_exc(limit=3)
        finally:
            suite.close()
        if name in pending:
            outcome = {"fail": "pending", "pass": "pending-passed"}.get(outcome, outcome)
        results.append({"check": name, "section": section, "outcome": outcome, "detail": detail,
                        "seconds": round(time.time() - started, 3)})
        print("%-15s %-42s [%s] %s" % (outcome.upper(), name, section, detail.splitlines()[0] if detail else ""),
              flush=True)

    if DIRECT.get("broker") is not None:
        DIRECT["broker"].close()
    failed = [r for r in results if r["outcome"] == "fail"]
    counts = {}
    for r in results:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    print("summary: " + ", ".join("%s %d" % item for item in sorted(counts.items())))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "counts": counts}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
