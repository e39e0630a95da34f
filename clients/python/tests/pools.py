"""Live RecPool processes for the tests: ``recpool local``, or a broker and workers started one by one.

Every process is started with ports the OS picks and dies with the test process: children get
SIGKILL from the kernel if pytest dies (``PR_SET_PDEATHSIG``), the daemons also run with
``--exit-with-parent``, and ``stop()`` terminates them (then kills) and waits for them.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import recpool

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("RECPOOL_BIN") or ROOT / ".build" / "debug")


def binary(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: build RecPool first (swift build) or set RECPOOL_BIN")
    return str(path)


def _die_with_parent():  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_for(condition, timeout: float = 20.0, interval: float = 0.05, what: str = "a condition"):
    """Polls ``condition`` until it returns a truthy value, or fails the test after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            value = condition()
            if value:
                return value
        except recpool.RecPoolError as error:
            last = error
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")


def wait_for_policy(client, workers: int) -> None:
    """Waits until ``workers`` replicas serve the online policy's current version (before that a worker
    answers RECOMMEND with its MLP)."""
    def installed():
        view = client.online()
        serving = [r for r in view.get("replicas") or [] if r.get("version") == view.get("version")]
        return len(serving) >= workers
    wait_for(installed, what="the online policy on every replica")


class Processes:
    """Processes started for one pool; ``stop()`` ends them all."""

    def __init__(self):
        self.children: list = []

    def start(self, arguments, **options) -> subprocess.Popen:
        child = subprocess.Popen(arguments, preexec_fn=_die_with_parent, **options)
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            for stream in (child.stdout, child.stderr):
                if stream:
                    stream.close()


class LocalPool(Processes):
    """``recpool local`` on OS-picked ports; ``frontend`` is where clients connect."""

    def __init__(self, state_dir, *extra: str, workers: int = 2):
        super().__init__()
        self.process = self.start(
            [binary("recpool"), "local", "--workers", str(workers), "--frontend", "tcp://127.0.0.1:*",
             "--backend", "tcp://127.0.0.1:*", "--state-dir", str(state_dir), "--log-level", "warning", *extra],
            stdout=subprocess.PIPE, text=True)
        self.frontend = None
        for line in self.process.stdout:
            if line.startswith("frontend "):
                self.frontend = line.split()[1]
            if line.startswith("ready"):
                break
        if self.frontend is None:
            self.stop()
            raise RuntimeError("recpool local did not start")
        with recpool.Client(self.frontend, timeout=2) as client:
            wait_for(lambda: client.health().live_workers >= workers, what=f"{workers} live workers")
            if "--online" in extra:
                wait_for_policy(client, workers)


class DirectPool(Processes):
    """``recpool-broker`` with the given flags and ``workers`` ``recpool-worker`` processes."""

    def __init__(self, broker_args=(), worker_args=(), workers: int = 1, client_options=None):
        super().__init__()
        broker = self.start(
            [binary("recpool-broker"), "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*",
             "--exit-with-parent", "--log-level", "warning", *broker_args], stdout=subprocess.PIPE, text=True)
        line = broker.stdout.readline()
        try:
            endpoints = json.loads(line)
        except ValueError:
            self.stop()
            raise RuntimeError(f"the broker did not start: {line!r}")
        self.frontend, self.backend = endpoints["frontend"], endpoints["backend"]
        for index in range(workers):
            self.start([binary("recpool-worker"), "--broker", self.backend, "--id", f"w{index + 1}",
                        "--exit-with-parent", "--log-level", "warning", *worker_args])
        if workers:
            with recpool.Client(self.frontend, timeout=2, **(client_options or {})) as client:
                wait_for(lambda: client.health().live_workers >= workers, what=f"{workers} live workers")
                if "--online" in broker_args:
                    wait_for_policy(client, workers)
