"""Process helpers the bench drivers share: free ports, a cluster of child processes, a RecPool pool.

Each driver in bench/ imports this module (it sits next to them, so `python3 bench/x.py` finds it).
"""
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import time


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (for programs that cannot take `:*`)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine():
    """"CPU model, N cores, OS release", for a report's header."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def single_thread_blas_env():
    """The environment with OpenBLAS and OpenMP held to one thread (they read it when they load)."""
    return dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def median(runs, key):
    """The median of `key` over `runs` (a list of result dicts, one per repeat), in that key's unit."""
    return statistics.median(r[key] for r in runs)


def run(args, **kw):
    """Runs a program to completion and returns its stdout; raises with its stderr when it fails."""
    out = subprocess.run(args, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args[:3]))} failed: {out.stderr}")
    return out.stdout


def cpu_seconds(pid):
    """utime + stime of process `pid` so far, in seconds (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) may hold spaces: split after its closing parenthesis.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CPUMeter:
    """CPU time spent by a pool's broker and by its workers over a measured window.

    On a shared machine CPU per request is far steadier than throughput, so the benches report it
    next to throughput and latency: `start()` before the timed run, `per_request(n)` after it.
    """

    def __init__(self, broker, workers):
        self.broker, self.workers = broker, list(workers)
        self.start()

    def _now(self):
        return cpu_seconds(self.broker.pid), sum(cpu_seconds(w.pid) for w in self.workers)

    def start(self):
        self.begin = self._now()

    def per_request(self, requests):
        """{"broker_cpu_us": µs of broker CPU per request, "workers_cpu_us": µs of all workers' CPU per request}."""
        end = self._now()
        n = max(1, requests)
        return {"broker_cpu_us": (end[0] - self.begin[0]) * 1e6 / n,
                "workers_cpu_us": (end[1] - self.begin[1]) * 1e6 / n}


def wait_until(condition, timeout=60, interval=0.05, what="the condition"):
    """Polls `condition()` until it is true; raises after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise RuntimeError(f"{what} did not happen within {timeout} s")
        time.sleep(interval)


class Cluster:
    """Child processes started together and stopped together (also as a `with` block)."""

    def __init__(self):
        self.procs = []

    def start(self, args, **kw):
        """Starts `args` (keyword arguments go to subprocess.Popen) and returns the child."""
        p = subprocess.Popen(args, **kw)
        self.procs.append(p)
        return p

    def stop(self, grace=0):
        """Stops every child: SIGKILL at once, or SIGTERM and up to `grace` seconds each before SIGKILL."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM if grace > 0 else signal.SIGKILL)
        for p in self.procs:
            try:
                p.wait(timeout=grace if grace > 0 else None)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_broker(cluster, bin_dir, *extra, **kw):
    """Starts recpool-broker on OS-picked loopback ports and returns its endpoints (its ready line)."""
    broker = cluster.start([os.path.join(bin_dir, "recpool-broker"), "--frontend", "tcp://127.0.0.1:*",
                            "--backend", "tcp://127.0.0.1:*", "--log-level", "error", *extra],
                           stdout=subprocess.PIPE, text=True, **kw)
    return json.loads(broker.stdout.readline())


def start_workers(cluster, bin_dir, backend, count, *extra, prefix="w", env=None):
    """Starts `count` recpool-worker processes named PREFIX0, PREFIX1, … against `backend`."""
    for i in range(count):
        cluster.start([os.path.join(bin_dir, "recpool-worker"), "--broker", backend, "--id", f"{prefix}{i}",
                       "--log-level", "error", *extra], env=env)
