"""bench/python_client_bench.py's figures: errors counted by `recpool loadtest`'s names, and a figure with no
clean run behind it `undefined`, never 0 (the script used to report 0 errors for every Python run, whatever
happened, and crashed writing its JSON when no --json was given)."""
import sys

import pytest

import recpool
from recpool import wire
from pools import ROOT

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
                                            ("3", 3.0)])
def test_a_duration_reads_as_recpool_loadtest_reads_it(text, expected):
    assert bench.seconds(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["1ss", "-1s", "nan", "infs", "", "s"])
def test_a_duration_recpool_loadtest_refuses_is_refused_before_anything_runs(text):
    with pytest.raises(ValueError, match="not a duration"):
        bench.seconds(text)
