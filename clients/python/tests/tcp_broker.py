"""A stand-in broker on TCP for the tests that need one the client reaches through a real connection (one that is
down, then comes back; another process's): a ROUTER on 127.0.0.1, on a port in 7600-7699, served by a thread."""
import json
import random
import socket
import struct
import threading

import pytest
import zmq

from recpool import wire


def free_port() -> int:
    """A TCP port of 127.0.0.1 in 7600-7699 that nothing listens on now."""
    for port in random.sample(range(7600, 7700), 100):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 7600-7699")


class LateBroker:
    """A ROUTER bound on ``endpoint`` in a thread: it keeps every message's header and answers STATUS with ``{}``
    (nothing else: a call it receives stays unanswered)."""

    def __init__(self, endpoint: str):
        self.received = []
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._endpoint = endpoint
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        assert self._bound.wait(5)

    def _serve(self):
        router = zmq.Context.instance().socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.bind(self._endpoint)
        self._bound.set()
        try:
            while not self._stop.is_set():
                if not router.poll(20):
                    continue
                identity, first, *rest = router.recv_multipart()
                header = wire.decode_header(first)
                self.received.append((header, rest))
                if header.command == wire.Command.STATUS:
                    answer = wire.Header(int(header.command) | wire.REPLY_BIT, header.request_id).encode()
                    router.send_multipart([identity, answer, json.dumps({}).encode()])
        finally:
            router.close(0)

    def commands(self) -> list:
        """The commands received, in order, by name."""
        return [wire.Command(h.command).name for h, _ in self.received]

    def cancelled(self) -> set:
        """The request ids the CANCELs received name."""
        return {struct.unpack("<Q", f[0])[0] for h, f in self.received if h.command == wire.Command.CANCEL}

    def stop(self):
        self._stop.set()
        self._thread.join(5)
