"""bench/python_client_bench.py's figures: errors counted by `recpool loadtest`'s names, and a figure with no
clean run behind it `undefined`, never 0 (the script used to report 0 errors for every Python run, whatever
happened, and crashed writing its JSON when no --json was given)."""
import json
import os
import subprocess
import sys

import pytest

import recpool
from recpool import wire
from pools import ROOT
from tcp_broker import LateBroker, free_port

sys.path.insert(0, str(ROOT / "bench"))
import python_client_bench as bench  # noqa: E402  (after the path above)


def test_failures_are_named_as_recpool_loadtest_names_them():
    busy = recpool.errors.error_for(wire.Header(0x81, 1, status=int(wire.Status.BUSY)), "full")
    assert bench.error_name(busy) == "BUSY"
    assert bench.error_name(recpool.Timeout("no reply")) == "TIMEOUT"
    assert bench.error_name(recpool.ProtocolViolation("bad")) == "PROTOCOL"
    assert bench.count(bench.count({}, "BUSY"), "BUSY", 2) == {"BUSY": 3}


def run(rps, errors=None):
    return {"rps": rps, "rows_per_s": None if rps is None else rps * 256, "errors": errors or {}}


def test_medians_and_ratios_use_only_clean_runs_and_are_undefined_without_one():
    runs = {"swift/1": [run(100.0), run(200.0, {"LOST": 3}), run(300.0)],
            "python/1": [run(50.0), run(None, {"TIMEOUT": 1}), run(150.0)],
            "python-async/1": [run(None, {"BUSY": 1}), run(None, {"BUSY": 2}), run(None, {"EXPIRED": 1})]}
    assert bench.figure(runs["swift/1"], "rps") == (200.0, 100.0, 300.0)  # the LOST run is left out
    assert bench.ratio(runs["python/1"], runs["swift/1"], "rps") == pytest.approx(0.5)  # 50/100 and 150/300
    assert bench.figure(runs["python-async/1"], "rps") is None
    assert bench.ratio(runs["python-async/1"], runs["swift/1"], "rps") is None
    assert bench.ratio([run(10.0)], [run(0.0)], "rps") is None  # no division by a Swift rate of 0
    (row,) = bench.table(runs, ((1, "rps", "requests/s"),))[2:]
    assert row == ("| 1 | requests/s | 200 [100–300] | 100 [50–150] | 0.50× | undefined | undefined "
                   "| swift 1, python 1, python-async 3 |")


@pytest.mark.parametrize("text, expected", [("10s", 10.0), ("250ms", 0.25), ("500us", 0.0005), ("2m", 120.0),
                                            ("3", 3.0), ("1µs", 1e-6), ("+.5s", 0.5), ("5.s", 5.0),
                                            ("1E0s", 1.0), ("1.5us", 1e-6), ("1440m", 86400.0)])
def test_a_duration_reads_as_recpool_loadtest_reads_it(text, expected):
    # Counted in whole µs, as Sources/LoadTest/LoadDuration.swift counts it.
    assert bench.seconds(text) == pytest.approx(expected)


@pytest.mark.parametrize("text, problem", [
    ("1ss", "cannot read"), ("-1s", "cannot read"), ("nan", "cannot read"), ("", "cannot read"), ("s", "cannot read"),
    ("1_0s", "cannot read"), ("١s", "cannot read"), (" 1s", "cannot read"), ("1 s", "cannot read"),
    ("1h", "cannot read"), ("1μs", "cannot read"),  # a Greek mu, not the micro sign
    ("0x1p0s", "cannot read"), ("0x10", "cannot read"),  # hexadecimal, as every other number option refuses it
    ("infs", "at most 1440m"), ("1e400s", "at most 1440m"), ("86400.000001s", "at most 1440m"),
    # Each was taken, and a run of no time measured a rate of 0:
    ("0s", "at least 1us"), ("0", "at least 1us"), ("0us", "at least 1us"), ("-0s", "at least 1us"),
    ("1e-7s", "at least 1us"), ("0.0000001s", "at least 1us"), ("0.5us", "at least 1us"),
])
def test_a_duration_recpool_loadtest_refuses_is_refused_before_anything_runs(text, problem):
    with pytest.raises(ValueError, match=f"--duration.*{problem}"):
        bench.seconds(text)


def test_durations_are_read_as_the_recpool_binary_reads_them():
    # Compared with `recpool loadtest` itself, whose --slo-p99 is read by the same parser as --duration (a --duration
    # it takes would run the load test that long): refused (exit 64) or taken, and then as the same length.
    from pools import binary
    try:
        recpool_bin = binary("recpool")
    except RuntimeError as missing:
        pytest.skip(str(missing))
    texts = ["0s", "-0s", "1e-7s", "1_0s", "1µs", "0x1p0s", "١s", "+1s", "1e400s", "1e-400s", ".5s", "5.s", "0x", "1e",
             "0x1p", "inf", "infinity", "nan(1)", "1\u00a0s", "１s", "1e3us", "0.999999us", "1.5us", "+-1", "86400",
             "86400.000001", "1440m", "0x1.8p+1", "0x.8p1", "0x1.", ".", "e5", "1,5", "0xAbCus", "01.10ms", "1e-5m"]
    runs = [subprocess.Popen([recpool_bin, "loadtest", "--broker", f"tcp://127.0.0.1:{free_port()}", "--width", "4",
                              "--concurrency", "1", "--duration", "1us", "--slo-p99", text, "--timeout-ms", "10",
                              "--drain", "0", "--quiet", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for text in texts]
    for text, run in zip(texts, runs):
        out, err = run.communicate(timeout=60)
        try:
            ours = bench.seconds(text)
        except ValueError:
            ours = None
        if run.returncode == 64:
            assert ours is None, (text, err)
        else:
            objective_ms = json.loads(out.strip().splitlines()[-1])["objective_ms"]
            assert ours is not None and abs(ours * 1000 - objective_ms) < 1e-6, (text, objective_ms, ours)


@pytest.mark.parametrize("run", [bench.python_sync, bench.python_async])
@pytest.mark.parametrize("concurrency, batch", [(0, 1), (-2, 1), (10**6, 1), (1.5, 1), (4, 0), (4, 8193)])
def test_a_concurrency_or_batch_recpool_loadtest_refuses_is_refused_before_anything_runs(run, concurrency, batch):
    # A concurrency of 0 or less sent nothing and python_async reported a clean rate of 0.
    flag = "--concurrency" if batch == 1 else "--batch"
    with pytest.raises(ValueError, match=flag):
        run(f"tcp://127.0.0.1:{free_port()}", batch, concurrency, "1s")


@pytest.mark.parametrize("run", [bench.python_sync, bench.python_async])
def test_a_run_in_which_nothing_completed_has_no_rate(run):
    # A run too short to complete one request reported a rate of 0 as a clean run; its figure is undefined.
    broker = LateBroker(f"tcp://127.0.0.1:{free_port()}")
    try:
        result = run(broker._endpoint, 1, 4, "1us")
    finally:
        broker.stop()
    assert result["rps"] is None and result["rows_per_s"] is None
    assert bench.figure([result], "rps") is None
    assert bench.rates(3, 256, 2.0, {}) == {"rps": 1.5, "rows_per_s": 384.0, "errors": {}}


@pytest.mark.parametrize("arguments, problem", [
    (["--duration", "0s"], "--duration must be at least 1us"),
    (["--duration", "1_0s"], "--duration: cannot read"),
    (["--concurrency", "0"], "--concurrency must be 1…100000, got 0"),
])
def test_the_script_refuses_a_bad_duration_or_concurrency_before_any_pool_starts(tmp_path, arguments, problem):
    # With no binaries in the folder, a pool that starts fails otherwise.
    script = ROOT / "bench" / "python_client_bench.py"
    run = subprocess.run([sys.executable, str(script), str(tmp_path), *arguments], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT / "clients" / "python")})
    assert run.returncode == 2 and problem in run.stderr, run.stderr
