"""SCORE, RECOMMEND, FEEDBACK, STATUS against the session pool (recpool local --online)."""
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import recpool
from pools import binary

WIDTH = 106


def test_health_and_status_describe_the_live_pool(client):
    health = client.health()
    assert health and health.live_workers == 2 and health.protocol_version == recpool.PROTOCOL_VERSION
    with pytest.raises(recpool.InvalidRequest, match="service must be one of SCORE, RECOMMEND, FEEDBACK, "
                                                     "TRAIN_ROUND, got 'SCOR'"):
        client.health("SCOR")  # a misspelt service is refused, not reported unhealthy
    assert client.health("RECOMMEND") and client.health("FEEDBACK")  # the pool serves an online policy
    assert client.health("FEEDBACK").live_workers == 2  # both replicas serve the policy
    status = client.status()
    assert status["protocol_version"] == 1
    assert {w["input_width"] for w in status["workers"]} == {WIDTH}


def test_a_10000_row_batch_scores_in_one_call_with_the_numbers_recpool_score_prints(client, pool, tmp_path):
    rows = np.random.default_rng(7).random((10_000, WIDTH), dtype=np.float32)
    scores = client.score(rows)
    assert scores.probabilities.shape == (10_000,) and scores.probabilities.dtype == np.float32
    assert scores.requests == 2  # over the 8,192-row limit: two requests, one version
    assert ((scores.probabilities > 0) & (scores.probabilities < 1)).all()
    expected = []
    for part in (rows[:5000], rows[5000:]):  # recpool score sends one request, so at most 8,192 rows
        path = tmp_path / "rows.csv"
        np.savetxt(path, part, delimiter=",", fmt="%.9g")
        pin = ["--model-version", str(scores.model_version), "--exact"] if scores.model_version else []
        out = subprocess.run([binary("recpool"), "score", "--broker", pool.frontend, "--input", str(path), "--json",
                              *pin], check=True, capture_output=True, text=True).stdout
        document = json.loads(out)
        assert document["model_version"] == scores.model_version
        expected.extend(document["scores"])
    # Same model, same rows; batch shapes differ (8,192 + 1,808 rows against 2 × 5,000), which may move the
    # last bit of a float32 (see test_score_many...), never more.
    np.testing.assert_allclose(scores.probabilities, np.array(expected, dtype=np.float32), rtol=4e-7, atol=0)


def test_a_batch_far_over_the_brokers_client_budget_scores_in_one_call(client, pool):
    """1,000,000 rows (424 MB) were sent at once and refused BUSY past the broker's 64 MiB per client (6 runs of 6); the
    requests now go out at most 12 MiB at a time."""
    import asyncio

    rows = np.random.default_rng(3).random((1_000_000, WIDTH), dtype=np.float32)
    with recpool.Client(pool.frontend, timeout=120) as sync:
        scores = sync.score(rows)
    assert len(scores) == 1_000_000 and scores.requests == 123
    assert ((scores.probabilities > 0) & (scores.probabilities < 1)).all()

    async def main():
        async with recpool.AsyncClient(pool.frontend, timeout=120) as c:
            return await c.score(rows)

    again = asyncio.run(main())
    assert len(again) == 1_000_000 and again.model_version == scores.model_version
    np.testing.assert_array_equal(again.probabilities, scores.probabilities)


def test_a_script_that_ends_with_requests_still_queued_exits_cleanly(pool, tmp_path):
    """Many big requests given up on at once (a failed call cancels the rest) left their zero-copy frames queued in
    libzmq; at exit Python freed them while libzmq's I/O thread still sent them: `Bad address (src/tcp.cpp:227)`,
    exit 134 or 139, in 5 runs of 5. The requests go out all at once here, as `score` sent them before it kept at
    most 12 MiB in flight (a `score_many` window of 64 does the same to an application)."""
    script = tmp_path / "abandon.py"
    script.write_text(
        "import numpy as np, recpool\n"
        "from recpool import operations as ops\n"
        f"c = recpool.Client({pool.frontend!r})\n"
        "x = np.random.default_rng(0).random((300_000, 106), dtype=np.float32)\n"
        "pin = ops.version_pin(None, None)\n"
        "try:\n"
        "    c._run([ops.score_call(x[i:i + 8192], pin, 0.05, None, i) for i in range(0, len(x), 8192)])\n"
        "except recpool.RecPoolError as error:\n"
        "    print(type(error).__name__)\n")
    for _ in range(4):
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(Path(recpool.__file__).resolve().parents[1])})
        assert run.returncode == 0, run.stderr


def test_score_accepts_any_real_dtype_and_a_single_row(client):
    rows = np.random.default_rng(1).random((3, WIDTH))
    as64 = client.score(rows)
    as32 = client.score(rows.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(as64), np.asarray(as32))
    assert len(client.score(rows[0])) == 1


def test_score_many_pipelines_batches_on_one_socket(client):
    rows = np.random.default_rng(2).random((64, WIDTH), dtype=np.float32)
    batches = [rows[i:i + 8] for i in range(0, 64, 8)]
    results = client.score_many(batches, window=4)
    joined = np.concatenate([np.asarray(r) for r in results])
    # The worker scores a micro-batch with one GEMM, whose blocking depends on the batch's rows: the same
    # row may differ in the last bit between batch shapes, never more.
    np.testing.assert_allclose(joined, np.asarray(client.score(rows)), rtol=4e-7, atol=0)


def test_a_wrong_width_is_a_bad_request_naming_both_widths(client):
    with pytest.raises(recpool.BadRequest, match=f"rows have {WIDTH + 1} features.*expects {WIDTH}") as caught:
        client.score(np.ones((2, WIDTH + 1), dtype=np.float32))
    # The broker routes by width and refuses rows no live model takes before any dispatch: its own replies
    # carry its count of dispatches, 0 here (docs/PROTOCOL.md, "attempt").
    assert caught.value.header.attempt == 0


def test_more_rows_than_the_limit_in_one_request_is_refused_by_the_client_and_too_large_at_the_broker(client):
    with pytest.raises(recpool.InvalidRequest, match="max_rows must be an integer in 1…8192, got 20000"):
        recpool.Client(client.endpoint, max_rows=20_000)
    # The broker's own answer to such a request, sent without the client's check:
    with pytest.raises(recpool.TooLarge, match="8192"):
        client._drive(recpool.operations.score_call(np.zeros((8193, WIDTH), np.float32), (0, 0), None, None))


def test_more_columns_than_the_limit_is_refused_by_the_client_and_too_large_at_the_broker(client):
    with pytest.raises(recpool.InvalidRequest, match="rows have 4097 features; a SCORE row holds at most 4096"):
        client.score(np.zeros((1, 4097), dtype=np.float32))
    # The broker's own answer to such a request, sent without the client's check:
    with pytest.raises(recpool.TooLarge, match="4096"):
        client._drive(recpool.operations.score_call(np.zeros((1, 4097), np.float32), (0, 0), None, None))


def test_an_exact_pin_no_worker_serves_is_a_conflict(client):
    with pytest.raises(recpool.Conflict, match="version 999"):
        client.score(np.zeros((1, WIDTH), dtype=np.float32), exact_version=999)


def test_a_minimum_version_that_is_served_scores(client):
    served = client.score(np.zeros((1, WIDTH), dtype=np.float32)).model_version
    assert client.score(np.zeros((1, WIDTH), dtype=np.float32), min_version=served).model_version >= served


def test_a_deadline_already_past_is_refused_without_scoring(client):
    # Decision 1 (HELPERS.md): EXPIRED, always. Brokers before it answered BUSY; both are typed refusals.
    with pytest.raises((recpool.Expired, recpool.Busy)):
        client.score(np.zeros((1, WIDTH), dtype=np.float32), deadline=time.time() - 5)


def test_recommend_returns_a_policy_slate_and_feedback_is_acknowledged_once(client):
    slate = client.recommend({"user_feature_0": "u0_01", "user_feature_2": "u2_05"}, events=[(3, 12.5)], top=3)
    assert slate.source == "policy" and len(slate.items) == 3 == len(set(slate.items))
    assert len(slate.scores) == 3 and all(0 < p <= 1 for p in slate.propensities)
    assert slate.impression_id and slate.model_version >= 1
    first = client.feedback(slate.impression_id, slate.items[0], 1, dwell=4.0)
    assert first == recpool.FeedbackAck(slate.impression_id, slate.items[0], False)
    assert client.feedback(slate.impression_id, slate.items[0], 1).duplicate
    assert not client.feedback(slate.impression_id, slate.items[1], 0).duplicate


def test_feedback_for_an_unknown_impression_is_not_found(client):
    with pytest.raises(recpool.NotFound, match="unknown impression"):
        client.feedback("no-such-impression", 1, 1)


def test_feedback_for_an_item_not_in_the_slate_is_a_bad_request_naming_it(client):
    slate = client.recommend(top=2)
    stranger = next(i for i in range(1000) if i not in slate.items)
    with pytest.raises(recpool.BadRequest, match=f"item {stranger}"):
        client.feedback(slate.impression_id, stranger, 1)


def test_an_unknown_user_feature_is_a_bad_request_naming_it(client):
    with pytest.raises(recpool.BadRequest, match="no_such_feature"):
        client.recommend({"no_such_feature": "x"})


def test_the_async_client_scores_recommends_and_gives_feedback_concurrently(pool):
    async def main():
        async with recpool.AsyncClient(pool.frontend) as c:
            rows = np.random.default_rng(3).random((10, WIDTH), dtype=np.float32)
            parts = await asyncio.gather(*(c.score(rows[i:i + 1]) for i in range(10)))
            whole = await c.score(rows)
            slate = await c.recommend({"user_feature_1": "u1_02"}, top=2)
            ack = await c.feedback(slate.impression_id, slate.items[1], 0)
            health = await c.health()
            with pytest.raises(recpool.BadRequest):
                await c.score(np.ones((1, 3), dtype=np.float32))
            return parts, whole, ack, health

    parts, whole, ack, health = asyncio.run(main())
    np.testing.assert_allclose(np.concatenate([np.asarray(p) for p in parts]), np.asarray(whole), rtol=4e-7, atol=0)
    assert not ack.duplicate and health.live_workers == 2


def test_cancelling_an_async_call_sends_cancel_and_frees_the_client(pool):
    async def main():
        async with recpool.AsyncClient(pool.frontend) as c:
            task = asyncio.ensure_future(c.score(np.zeros((1, WIDTH), dtype=np.float32)))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return len(await c.score(np.zeros((2, WIDTH), dtype=np.float32)))

    assert asyncio.run(main()) == 2


def test_score_many_takes_a_lazy_generator_and_the_first_failure_is_raised(client):
    rows = np.random.default_rng(4).random((64, WIDTH), dtype=np.float32)
    results = client.score_many((rows[i:i + 4] for i in range(0, 64, 4)), window=3)
    assert [len(r) for r in results] == [4] * 16
    bad = [rows[:2], np.ones((2, WIDTH + 2), np.float32), rows[2:4]]
    with pytest.raises(recpool.BadRequest, match=f"expects {WIDTH}"):
        client.score_many(bad, window=2)
    assert len(client.score(rows[:1])) == 1  # the socket is still usable after the cancelled rest


def test_a_python_int_beyond_int64_scores_as_recpool_score_scores_its_number(client, pool, tmp_path):
    # [[2**70, 0, …]] was refused "got dtype object" (numpy keeps such an int as a Python object); it is a real number
    # within float32's range, which `recpool score` reads and scores as 1.1805916e21.
    row = [2 ** 70] + [0] * (WIDTH - 1)
    scores = client.score([row])
    path = tmp_path / "big.csv"
    path.write_text(",".join(str(v) for v in row) + "\n")
    pin = ["--model-version", str(scores.model_version), "--exact"] if scores.model_version else []
    out = subprocess.run([binary("recpool"), "score", "--broker", pool.frontend, "--input", str(path), "--json", *pin],
                         check=True, capture_output=True, text=True).stdout
    assert np.float32(json.loads(out)["scores"][0]) == scores.probabilities[0]
    assert client.score(np.array([row], dtype=np.float32)).probabilities[0] == scores.probabilities[0]


def test_a_score_many_batch_the_pool_refuses_is_named_by_its_index_in_both_clients(client, pool):
    # The refusal said "row 7 (0-based): …" and nothing of which of the five batches it was.
    rows = np.random.default_rng(0).random((20, WIDTH)).astype(np.float32)
    overflowing = rows.copy()
    overflowing[7] = 3.4e38
    with pytest.raises(recpool.BadRequest) as caught:
        client.score_many([rows, rows, rows, overflowing, rows])
    assert caught.value.message.startswith("score_many batch 3: row 7 (0-based): model version")
    assert "overflow" in caught.value.message and caught.value.batch == 3
    with pytest.raises(recpool.BadRequest, match=f"^BAD_REQUEST: score_many batch 1: rows have {WIDTH + 1} features"):
        client.score_many([rows, np.ones((2, WIDTH + 1), np.float32)])

    async def main():
        async with recpool.AsyncClient(pool.frontend) as c:
            with pytest.raises(recpool.BadRequest) as refused:
                await c.score_many([rows, rows, rows, overflowing, rows])
            return refused.value

    refused = asyncio.run(main())
    assert refused.message.startswith("score_many batch 3: row 7 (0-based)") and refused.batch == 3
