"""What the client refuses before sending and which replies it refuses, with no pool: argument checks on the
operations' bytes, reply parsing on hand-made replies, and the engines (``Client._run``, ``AsyncClient``)
against a stand-in broker, a ROUTER socket on an ``inproc://`` endpoint in a thread of this process."""
import asyncio
import hashlib
import json
import re
import struct
import threading
import time
import uuid

import numpy as np
import pytest
import zmq
import zmq.asyncio

import recpool
from recpool import operations as ops, wire
from recpool.aio import AsyncJob
from recpool.client import Job
from pools import ROOT

WIDTH = 4


# ---------------------------------------------------------------- helpers


def score_calls(generator, status=None):
    """The SCORE calls of a split ``ops.score`` generator: it first asks STATUS (which model serves each version),
    answered here with ``status`` (no workers by default)."""
    first = next(generator)
    assert [c.command for c in first] == [wire.Command.STATUS]
    return generator.send([status if status is not None else {"workers": []}])

def payload(call) -> dict:
    """The JSON document a call would send."""
    return json.loads(bytes(call.payload[0]))


def reply(command, frames, *, request_id=1, model_version=0) -> ops.Reply:
    """An OK reply to ``command`` carrying ``frames``."""
    return ops.Reply(wire.Header(int(command) | wire.REPLY_BIT, request_id, model_version=model_version), list(frames))


def answer_to(header, *frames, command=None, **fields) -> list:
    """A reply message to the request ``header``: its header (the request's command with the reply bit unless
    ``command`` is given), then ``frames``."""
    code = command if command is not None else int(header.command) | wire.REPLY_BIT
    return [wire.Header(code, header.request_id, **fields).encode(), *frames]


def scores_for(request_frames, value=0.5) -> bytes:
    """A SCORE reply's tensor: ``value`` for each row of the request's tensor."""
    rows, _ = struct.unpack_from("<II", request_frames[0], 0)
    return bytes(wire.tensor_frame(np.full((rows, 1), value, np.float32)))


def broken(frame: bytes) -> bytes:
    """A header frame with protocol version 2: malformed, but its request id can still be read."""
    return frame[:3] + b"\x02" + frame[4:]


def eventually(condition, timeout=5.0):
    """Waits until ``condition()`` is true; fails the test after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("the condition never became true")


class FakeBroker:
    """A stand-in broker: a ROUTER on an ``inproc://`` endpoint, served by a thread.

    ``answer(header, frames)`` is called for every message received (``frames`` after the header), and with
    ``(None, None)`` after 50 ms without one; it returns the messages (lists of frames) to send to the
    client. Every request is kept in ``received``."""

    def __init__(self, answer, context=None):
        self.endpoint = f"inproc://recpool-fake-{uuid.uuid4().hex}"
        self.answer = answer
        self.received = []
        self._context = context or zmq.Context.instance()
        self._identity = None
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        assert self._bound.wait(5)

    def _serve(self):
        socket = self._context.socket(zmq.ROUTER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.bind(self.endpoint)
        self._bound.set()
        try:
            while not self._stop.is_set():
                if socket.poll(50):
                    self._identity, first, *rest = socket.recv_multipart()
                    header = wire.decode_header(first)
                    self.received.append((header, rest))
                    replies = self.answer(header, rest)
                else:
                    replies = self.answer(None, None) if self._identity is not None else []
                for message in replies or []:
                    socket.send_multipart([self._identity, *message])
        finally:
            socket.close(0)

    def ids(self, command) -> list:
        """The request ids of the ``command`` requests received, in order."""
        return [h.request_id for h, _ in self.received if h.command == command]

    def cancelled(self) -> set:
        """The request ids named by the CANCELs received."""
        return {struct.unpack("<Q", f[0])[0] for h, f in self.received if h.command == wire.Command.CANCEL}

    def stop(self):
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def fake():
    """Makes FakeBrokers for a test (on the sync client's context) and stops them after it."""
    started = []

    def start(answer, context=None):
        started.append(FakeBroker(answer, context))
        return started[-1]

    yield start
    for broker in started:
        broker.stop()


def async_context_for_fakes():
    """A sync view of the AsyncClient's context, so that a FakeBroker shares its ``inproc://`` endpoints."""
    return zmq.Context.shadow(zmq.asyncio.Context.instance().underlying)


def silent(header, frames):
    return []


ROWS = np.zeros((2, WIDTH), np.float32)


# ---------------------------------------------------------------- 1. feedback arguments

@pytest.mark.parametrize("arguments, message", [
    (("imp", 3.7, 1), "item must be an integer, got 3.7"),
    (("imp", "3", 1), "item must be an integer, got '3'"),
    (("imp", True, 1), "item must be an integer, got True"),
    (("", 3, 1), "impression_id must be a string of 1–64 UTF-8 bytes"),
    (("x" * 65, 3, 1), "impression_id must be a string of 1–64 UTF-8 bytes"),
    (("é" * 33, 3, 1), "impression_id must be a string of 1–64 UTF-8 bytes"),
    ((None, 3, 1), "impression_id must be a string of 1–64 UTF-8 bytes"),
    (("imp\x00other", 3, 1), "impression_id must hold no control character"),
    (("imp\n", 3, 1), "impression_id must hold no control character"),
    (("imp", 3, 2), "click must be 0 or 1, got 2"),
    (("imp", 3, 1.0), "click must be 0 or 1, got 1.0"),
    (("imp", 3, "1"), "click must be 0 or 1, got '1'"),
    (("imp", 3, 1, "5"), "dwell must be a finite number in 0…1e9, got '5'"),
    (("imp", 3, 1, -1), "dwell must be a finite number in 0…1e9, got -1"),
    (("imp", 3, 1, 2e9), "dwell must be a finite number in 0…1e9"),
    (("imp", 3, 1, float("nan")), "dwell must be a finite number in 0…1e9, got nan"),
])
def test_feedback_refuses_each_bad_argument_naming_it_and_its_rule(arguments, message):
    with pytest.raises(recpool.InvalidRequest) as caught:
        ops.feedback(*arguments)
    assert message in str(caught.value)


def test_feedback_sends_ints_booleans_as_clicks_and_a_64_byte_impression_id():
    document = payload(ops.feedback("é" * 32, np.int64(7), True, dwell=np.float32(2.5)))
    assert document == {"impression_id": "é" * 32, "item": 7, "click": 1, "dwell_seconds": 2.5}
    assert "dwell_seconds" not in payload(ops.feedback("imp", 7, 0))


# ---------------------------------------------------------------- 2. SCORE split by the message limit

@pytest.mark.parametrize("rows", [
    np.zeros((2, WIDTH), "timedelta64[s]"), np.zeros((2, WIDTH), "datetime64[s]"), np.zeros((2, WIDTH), bool),
    np.zeros((2, WIDTH), complex),
])
def test_rows_that_are_not_real_numbers_are_invalid_requests_naming_the_dtype(rows):
    # (a masked array with masked values is refused too: see the next test)
    # timedelta64 counts as a signed integer to numpy: it raised a bare TypeError from the frame encoder.
    with pytest.raises(recpool.InvalidRequest) as caught:
        ops.as_rows(rows)
    assert "rows must be real numbers" in str(caught.value)


@pytest.mark.parametrize("rows, where", [
    ([[True] + [0.5] * (WIDTH - 1)], "row 0, feature 0 is True"),
    ([[1.0, 2.0], [3.0, False]], "row 1, feature 1 is False"),
    ([[np.True_] * 3 + [0.5]], "row 0, feature 0 is np.True_"),
    ([np.ones(4, bool), np.ones(4)], "row 0, feature 0 is np.True_"),
    ([0.5, True], "row 0, feature 1 is True"),
])
def test_a_boolean_beside_numbers_is_refused_not_sent_as_1(rows, where):
    # np.asarray turned [[True, 0.5, …]] into float64 before the dtype check, so True was scored as 1.0; the CLI
    # refuses the same row ("not a number").
    with pytest.raises(recpool.InvalidRequest) as caught:
        ops.as_rows(rows)
    assert where in str(caught.value) and "booleans are not converted" in str(caught.value)
    with recpool.Client("tcp://127.0.0.1:7699") as client:  # refused before anything is sent: no broker needed
        with pytest.raises(recpool.InvalidRequest, match="booleans are not converted"):
            client.score(rows)
    assert ops.as_rows([[1, 2.5], [np.int64(3), np.float32(4)]]).tolist() == [[1.0, 2.5], [3.0, 4.0]]


@pytest.mark.parametrize("column, dtype", [
    (lambda pd: pd.array([1.0, 2.0], dtype="Float64"), "Float64"),
    (lambda pd: pd.array([1, None], dtype="Int64"), "Int64"),
    (lambda pd: [True, False], "bool"),
    (lambda pd: ["a", "b"], None),  # object, or str under pandas' string dtype
    (lambda pd: pd.to_datetime([1, 2], unit="s"), None),
])
def test_a_dataframe_column_that_is_not_real_numbers_is_named_with_its_dtype(column, dtype):
    # Such a column makes the whole frame an object array: the message named only "dtype object".
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"f0": [0.5, 1.5], "f1": np.array([1, 2], np.int32), "bad one": column(pd), "f3": [0.0, 1.0]})
    shown = str(frame.dtypes["bad one"])
    assert dtype is None or shown == dtype
    with pytest.raises(recpool.InvalidRequest) as caught:
        ops.as_rows(frame)
    message = str(caught.value)
    assert "rows must be real numbers" in message
    assert f"column 'bad one' (column 2) has dtype {shown}" in message
    with recpool.Client("tcp://127.0.0.1:7699") as client:  # refused before anything is sent: no broker needed
        with pytest.raises(recpool.InvalidRequest, match="column 'bad one'"):
            client.score(frame)
    # The first offending column is named, and a frame of numpy numbers is still taken as it was.
    frame.insert(0, "first", ["x", "y"])
    assert "column 'first' (column 0) has dtype" in str(pytest.raises(recpool.InvalidRequest, ops.as_rows, frame).value)
    assert ops.as_rows(frame[["f0", "f1", "f3"]]).tolist() == [[0.5, 1.0, 0.0], [1.5, 2.0, 1.0]]


def test_a_masked_array_with_masked_values_is_refused_and_one_without_is_sent():
    masked = np.ma.masked_array(np.ones((2, WIDTH), np.float32), mask=np.zeros((2, WIDTH), bool))
    assert ops.as_rows(masked).shape == (2, WIDTH)
    masked.mask[1, 0] = True
    with pytest.raises(recpool.InvalidRequest) as caught:
        ops.as_rows(masked)
    assert "masked values" in str(caught.value)


@pytest.mark.parametrize("job_id", ["job-1\x00zzz", "job\n1", ""])
def test_a_job_id_with_a_control_character_is_refused_before_sending(job_id):
    from recpool import control_plane
    with pytest.raises(recpool.InvalidRequest) as caught:
        control_plane.job_control("job", job_id)
    assert "job must be a job id" in str(caught.value)


def test_wide_rows_are_split_so_each_message_stays_within_the_16_mib_limit():
    rows = np.zeros((5000, 1024), np.float32)
    calls = score_calls(ops.score(rows))
    sizes = [struct.unpack_from("<II", call.payload[0], 0) for call in calls]
    assert sizes == [(4095, 1024), (905, 1024)]  # (16 MiB − 64) // 4096 = 4095 rows a request
    for call in calls:
        assert wire.HEADER_BYTES + len(call.payload[0]) <= wire.MESSAGE_LIMIT_BYTES
    assert wire.HEADER_BYTES + 8 + 4096 * 1024 * 4 > wire.MESSAGE_LIMIT_BYTES  # one row more would not fit
    assert ops.rows_per_request(106, 8192) == 8192 and ops.rows_per_request(1024, 100) == 100


def test_a_single_row_wider_than_the_message_limit_is_refused_locally():
    assert ops.rows_per_request(4_194_288, 8192) == 1  # 64 + 4 × 4,194,288 bytes: exactly the limit
    with pytest.raises(recpool.InvalidRequest, match="one row is 16777156 bytes, more than a SCORE message may hold"):
        ops.rows_per_request(4_194_289, 8192)


def test_rows_wider_than_the_brokers_column_limit_are_refused_before_anything_is_sent():
    # PROTOCOL.md, "Limits": 4,096 columns a row, fixed; a wider row was sent (split into 16 MiB messages)
    # only for the broker to answer each one TOO_LARGE.
    assert ops.as_rows(np.zeros((2, 4096), np.float32)).shape == (2, 4096)
    message = "rows have 4097 features; a SCORE row holds at most 4096 (the broker's column limit"
    with pytest.raises(recpool.InvalidRequest, match=message.replace("(", r"\(")):
        next(ops.score(np.zeros((10_000, 4097), np.float32)))
    with pytest.raises(recpool.InvalidRequest, match="rows have 4194289 features"):
        next(ops.score(np.zeros((1, 4_194_289), np.float32)))


def test_a_score_many_batch_must_fit_one_request_by_rows_and_by_bytes():
    batches = ops.score_batches([np.zeros((3, 1024), np.float32), np.zeros((4096, 1024), np.float32)],
                                (0, 0), None, None, 8192)
    assert next(batches).command == wire.Command.SCORE
    with pytest.raises(recpool.InvalidRequest, match="score_many batch 1 has 4096 rows; .* at most 4095 rows"):
        next(batches)


# ---------------------------------------------------------------- 3. values beyond float32's range

def test_a_value_beyond_float32s_range_is_refused_naming_its_row_and_feature():
    rows = np.zeros((3, 2))
    rows[2, 1] = -1e39
    with pytest.raises(recpool.InvalidRequest, match=r"row 2, feature 1 is -1e\+39, beyond float32's range"):
        ops.as_rows(rows)
    with pytest.raises(recpool.InvalidRequest, match="score_many batch 0: row 2, feature 1"):
        next(ops.score_batches([rows], (0, 0), None, None, 8192))


def test_values_that_round_to_float32s_largest_are_kept():
    largest = float(np.finfo(np.float32).max)
    rows = np.array([[largest, -3.4028235e38, 1e38]])  # the second is past the largest but rounds to it
    frame = wire.tensor_frame(ops.as_rows(rows))
    assert np.isfinite(wire.decode_tensor(frame)).all()


# ---------------------------------------------------------------- 4. RECOMMEND arguments

@pytest.mark.parametrize("arguments, message", [
    ({"top": 2.0}, "top must be an integer in 1…1000, got 2.0"),
    ({"top": True}, "top must be an integer in 1…1000, got True"),
    ({"top": 1001}, "top must be an integer in 1…1000, got 1001"),
    ({"candidates": "123"}, "candidates must be None or a list of integer item ids, got '123'"),
    ({"candidates": [1, 2.0]}, "candidates[1] must be an integer item id, got 2.0"),
    ({"candidates": [1, "2"]}, "candidates[1] must be an integer item id, got '2'"),
    ({"candidates": [4, 5, 4]}, "candidates[2] repeats item 4"),
    ({"candidates": []}, "candidates must not be empty"),
    ({"candidates": range(100_001)}, "candidates holds 100001 items; a request holds at most 100000"),
    ({"events": [(1, 1e9 + 1)]}, "dwell_seconds 1000000001.0; it must be a finite number in 0…1e9"),
    ({"events": [(True, 3)]}, "the item must be an integer item id, got True"),
    ({"events": [("12", 3)]}, "the item must be an integer item id, got '12'"),
    ({"events": [(1, "30")]}, "dwell_seconds must be a number, got '30'"),
    ({"user_features": {"age": None}}, "user_features['age'] must be a string or a finite number, got None"),
    ({"user_features": {"age": float("nan")}}, "user_features['age'] must be a string or a finite number, got nan"),
    ({"user_features": {0: "a"}}, "a feature name must be a string, got 0"),
    # A lone surrogate is no Unicode text: the broker answered "unexpected end of file during string parse".
    ({"user_features": {"segment": "\ud800"}}, "user_features['segment'] holds a lone surrogate (U+D800)"),
    ({"user_features": {"seg\udfff": "a"}}, "a key of user_features holds a lone surrogate (U+DFFF)"),
    ({"exclude_viewed": "yes"}, "exclude_viewed must be True or False, got 'yes'"),
])
def test_recommend_refuses_each_bad_argument_naming_it_and_its_rule(arguments, message):
    with pytest.raises(recpool.InvalidRequest) as caught:
        ops.recommend(**arguments)
    assert message in str(caught.value)


def test_recommend_sends_exclude_viewed_only_when_true_and_candidates_as_ints():
    document = payload(ops.recommend({"age": 30, "device": "ios"}, events=[(1, 2)], top=np.int64(3),
                                     candidates=np.array([5, 1, 9]), exclude_viewed=True))
    assert document == {"user_features": {"age": "30", "device": "ios"}, "events": [{"item": 1, "seconds": 2.0}],
                        "top": 3, "candidates": [5, 1, 9], "exclude_viewed": True}
    assert "exclude_viewed" not in payload(ops.recommend(exclude_viewed=False))
    assert ops.recommend(events=[(1, 1e9)]).payload  # the range's end is allowed


def test_a_surrogate_pair_is_one_character_and_is_sent():
    """Only a lone surrogate is refused: a pair (a str holding 😀 as two halves) goes as its escapes, as it always did."""
    assert payload(ops.recommend({"seg": "\ud83d\ude00"}))["user_features"] == {"seg": "\U0001F600"}


def test_recommend_leaves_top_out_unless_given_so_a_policy_serves_its_own_slate_size():
    assert "top" not in payload(ops.recommend())
    assert payload(ops.recommend(top=7))["top"] == 7


# ---------------------------------------------------------------- 5. malformed replies

@pytest.mark.parametrize("value", [float("nan"), 1.5, -0.25, float("inf")])
def test_a_score_that_is_not_a_probability_is_a_protocol_violation(value):
    call = ops.score_call(ROWS, (0, 0), None, None)
    tensor = bytes(wire.tensor_frame(np.array([[0.5], [value]], np.float32)))
    with pytest.raises(recpool.ProtocolViolation, match="row 1 has score .* not a probability in \\[0, 1\\]"):
        call.parse(reply(wire.Command.SCORE, [tensor]))
    good = bytes(wire.tensor_frame(np.array([[0.0], [1.0]], np.float32)))
    assert call.parse(reply(wire.Command.SCORE, [good]))[0].tolist() == [0.0, 1.0]


def test_a_bad_score_in_a_later_chunk_is_named_by_its_row_among_all_rows():
    # The rows are split into requests of max_rows; the fault named row 1 of the second request, not row 5 of the call.
    rows = np.zeros((6, WIDTH), np.float32)
    generator = ops.score(rows, max_rows=4)
    calls = score_calls(generator)
    replies = []
    for call in calls:
        values = np.full((call.payload and struct.unpack_from("<I", call.payload[0], 0)[0], 1), 0.5, np.float32)
        if len(replies) == 1:
            values[1, 0] = 2.0
        replies.append(reply(wire.Command.SCORE, [bytes(wire.tensor_frame(values))]))
    with pytest.raises(recpool.ProtocolViolation, match="row 5 has score 2.0"):
        generator.send([call.parse(r) for call, r in zip(calls, replies)])


@pytest.mark.parametrize("text, problem", [
    (b'{"workers": [], "uptime_ms": NaN}', "NaN"),
    (b'{"workers": [], "uptime_ms": Infinity}', "Infinity"),
    (b'{"workers": [], "uptime_ms": -Infinity}', "-Infinity"),
    (b'{"workers": [], "uptime_ms": 1e999}', "infinite"),
    (b'[1, 2]', "not an object"),
    (b'{"workers": ', "not the protocol's JSON"),
])
def test_a_json_reply_holding_nan_or_infinity_or_no_object_is_a_protocol_violation(text, problem):
    with pytest.raises(recpool.ProtocolViolation, match=problem):
        ops.status().parse(reply(wire.Command.STATUS, [text]))


def test_feedback_and_slate_replies_of_the_wrong_types_are_protocol_violations():
    call = ops.feedback("imp", 3, 1)
    with pytest.raises(recpool.ProtocolViolation, match="FEEDBACK reply"):
        call.parse(reply(wire.Command.FEEDBACK, [b'{"impression_id": "imp", "item": 3, "duplicate": "false"}']))
    slate = ops.recommend()
    with pytest.raises(recpool.ProtocolViolation, match="malformed item"):
        slate.parse(reply(wire.Command.RECOMMEND, [b'{"items": [{"item": 3.7, "score": 0.5}], "source": "model", '
                                                   b'"model_version": 1}'], model_version=1))
    with pytest.raises(recpool.ProtocolViolation, match="malformed item"):
        slate.parse(reply(wire.Command.RECOMMEND, [b'{"items": [{"item": 3, "position": 0, "score": 0.5, '
                                                   b'"propensity": 0}], "source": "policy", "impression_id": "i", '
                                                   b'"model_version": 1}'], model_version=1))


def test_a_reply_with_another_command_byte_is_a_protocol_violation_and_cancels_the_rest(fake):
    def answer(header, frames):
        if header is not None and header.command == wire.Command.SCORE and len(broker.ids(wire.Command.SCORE)) == 2:
            first = broker.received[0][0]
            return [answer_to(first, scores_for(frames), command=int(wire.Command.RECOMMEND) | wire.REPLY_BIT)]
        return []

    broker = fake(answer)
    with recpool.Client(broker.endpoint, timeout=5) as client:
        with pytest.raises(recpool.ProtocolViolation, match="command byte 0x82, expected 0x81"):
            client.score_many([ROWS, ROWS], window=2)
        second = broker.ids(wire.Command.SCORE)[1]
        eventually(lambda: broker.cancelled() == {second})
    with pytest.raises(recpool.ProtocolViolation, match="command byte 0x01, expected 0x81"):
        recpool.Client._check_reply(wire.Header(int(wire.Command.SCORE), 1), ops.score_call(ROWS, (0, 0), None, None))


# ---------------------------------------------------------------- 6. AsyncClient's fetch and score_many

def test_the_async_client_has_every_call_of_the_sync_client():
    def calls(cls):
        return {name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))}
    assert calls(recpool.Client) - {"close"} <= calls(recpool.AsyncClient)
    assert {"follow", "wait"} <= calls(AsyncJob)


def test_async_score_many_keeps_window_requests_in_flight_and_returns_scores_in_order(fake):
    unanswered = []
    most = []

    def answer(header, frames):
        if header is not None:  # hold each SCORE until the client sends nothing more for 50 ms
            unanswered.append((header, frames))
            most.append(len(unanswered))
            return []
        # Each batch holds k / 10 in every cell and is scored k / 10, so the order shows in the scores.
        replies = [answer_to(h, scores_for(f, value=struct.unpack_from("<f", f[0], 8)[0])) for h, f in unanswered]
        unanswered.clear()
        return replies

    broker = fake(answer, async_context_for_fakes())

    async def main():
        async with recpool.AsyncClient(broker.endpoint, timeout=5) as client:
            batches = (np.full((1 + k % 2, WIDTH), k / 10, np.float32) for k in range(5))
            return await client.score_many(batches, window=2)

    results = asyncio.run(main())
    assert [len(r) for r in results] == [1, 2, 1, 2, 1]
    assert [round(float(r.probabilities[0]), 3) for r in results] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert max(most) == 2


def _holding_answer(most):
    """A fake broker's answer that holds each SCORE until the client sends nothing more for 50 ms, noting how many it
    held at once in ``most``."""
    unanswered = []

    def answer(header, frames):
        if header is not None:
            unanswered.append((header, frames))
            most.append(len(unanswered))
            return []
        replies = [answer_to(h, scores_for(f)) for h, f in unanswered]
        unanswered.clear()
        return replies
    return answer


BIG = np.zeros((8192, 160), np.float32)  # 5,242,880 bytes: two fit under IN_FLIGHT_BYTES (12 MiB), three do not


def test_score_many_keeps_at_most_in_flight_bytes_outstanding_whatever_the_window(fake):
    # 16 full batches of 133 features are 70 MB, past the broker's default --client-bytes (64 MiB): every call with the
    # default window failed BUSY.
    most = []
    broker = fake(_holding_answer(most))
    with recpool.Client(broker.endpoint, timeout=10) as client:
        results = client.score_many([BIG] * 5, window=16)
    assert [len(r) for r in results] == [8192] * 5
    assert max(most) == 2


def test_async_score_many_keeps_at_most_in_flight_bytes_outstanding_whatever_the_window(fake):
    most = []
    broker = fake(_holding_answer(most), async_context_for_fakes())

    async def main():
        async with recpool.AsyncClient(broker.endpoint, timeout=10) as client:
            return await client.score_many([BIG] * 5, window=16)

    results = asyncio.run(main())
    assert [len(r) for r in results] == [8192] * 5
    assert max(most) == 2


def test_async_fetch_returns_the_model_and_checkpoint_and_refuses_a_reply_without_it(fake):
    def answer(header, frames):
        if header is None:
            return []
        version = json.loads(frames[0])["version"]
        document = json.dumps({"version": version, "checkpoint_sha256": hashlib.sha256(b"checkpoint").hexdigest()})
        document = document.encode()
        extra = [b"checkpoint"] if version == 3 else []
        return [answer_to(header, document, *extra, model_version=version)]

    broker = fake(answer, async_context_for_fakes())

    async def main():
        async with recpool.AsyncClient(broker.endpoint, timeout=5) as client:
            model, checkpoint = await client.fetch(3)
            assert (model["version"], checkpoint) == (3, b"checkpoint")
            with pytest.raises(recpool.ProtocolViolation, match="fetch reply has no frame 2"):
                await client.fetch(4)

    asyncio.run(main())


# ---------------------------------------------------------------- 7. fetch without frame 2

def test_a_fetch_reply_without_the_checkpoint_or_of_another_version_is_a_protocol_violation():
    call = ops.fetch(3)
    document = json.dumps({"version": 3, "checkpoint_sha256": hashlib.sha256(b"ckpt").hexdigest()}).encode()
    assert call.parse(reply(wire.Command.CONTROL, [document, b"ckpt"], model_version=3))[1] == b"ckpt"
    with pytest.raises(recpool.ProtocolViolation, match="no frame 2"):
        call.parse(reply(wire.Command.CONTROL, [document], model_version=3))
    with pytest.raises(recpool.ProtocolViolation, match="names version 2"):
        call.parse(reply(wire.Command.CONTROL, [document, b"ckpt"], model_version=2))


# ---------------------------------------------------------------- 8. timeouts, versions, sizes

@pytest.mark.parametrize("options, message", [
    ({"timeout": float("inf")}, "timeout must be a finite number of seconds > 0 and ≤ 1e9, got inf"),
    ({"timeout": 1e20}, "timeout must be a finite number of seconds > 0 and ≤ 1e9, got 1e+20"),
    ({"timeout": 0}, "timeout must be a finite number of seconds > 0"),
    ({"timeout": "5"}, "timeout must be a finite number of seconds > 0"),
    ({"grace": float("nan")}, "grace must be a finite number in 0…1e9"),
    ({"max_rows": 0}, "max_rows must be an integer in 1…8192, got 0"),
    ({"max_rows": 2.5}, "max_rows must be an integer in 1…8192, got 2.5"),
    ({"max_rows": 8193}, "max_rows must be an integer in 1…8192, got 8193"),
    ({"busy_retries": -1}, "busy_retries must be an integer ≥ 0"),
])
def test_client_options_are_checked_by_both_clients(options, message):
    for cls in (recpool.Client, recpool.AsyncClient):
        with pytest.raises(recpool.InvalidRequest) as caught:
            cls("inproc://recpool-nobody", **options)
        assert message in str(caught.value)


def test_call_arguments_are_checked_before_anything_is_sent(fake):
    broker = fake(silent)
    with recpool.Client(broker.endpoint) as client:
        refusals = [
            (lambda: client.status(timeout=float("inf")), "timeout must be a finite number of seconds"),
            (lambda: client.score(ROWS, timeout=1e20), "timeout must be a finite number of seconds"),
            (lambda: client.score(ROWS, deadline=float("nan")), "deadline must be finite epoch seconds"),
            (lambda: client.score(ROWS, min_version=1.5), "min_version must be an integer in 0…2**64 − 1"),
            (lambda: client.score(ROWS, min_version="2"), "min_version must be an integer in 0…2**64 − 1"),
            (lambda: client.score(ROWS, exact_version=2 ** 64), "exact_version must be an integer in 1…2**64 − 1"),
            (lambda: client.promote(2.7), "version must be an integer in 0…2**64 − 1, got 2.7"),
            (lambda: client.fetch(-1), "version must be an integer in 0…2**64 − 1, got -1"),
            (lambda: client.impressions(page_size=0), "page_size must be an integer in 1…10000, got 0"),
            (lambda: client.impressions(page_size=10_001), "page_size must be an integer in 1…10000"),
            (lambda: client.impressions(after=-1), "after must be an integer in 0…"),
            (lambda: client.impressions(after=2 ** 64 - 1), "after must be an integer in 0…"),
            (lambda: client.score_many([ROWS], window=0), "window must be an integer ≥ 1, got 0"),
            (lambda: client.train("obd:random/all", epochs=2.5), "epochs must be an integer, got 2.5"),
            (lambda: client.train("obd:random/all", promote="no"), "promote must be True or False, got 'no'"),
        ]
        for call, message in refusals:
            with pytest.raises(recpool.InvalidRequest) as caught:
                call()
            assert message in str(caught.value)
    assert broker.received == []


# ---------------------------------------------------------------- 9. failures cancel what is outstanding

def test_a_lazy_batch_refused_after_others_were_sent_cancels_them(fake):
    broker = fake(silent)

    def batches():
        yield ROWS
        yield ROWS
        yield np.array([[1.0, np.nan, 0.0, 0.0]])

    with recpool.Client(broker.endpoint, timeout=5) as client:
        with pytest.raises(recpool.InvalidRequest, match="score_many batch 2: row 0, feature 1 is nan"):
            client.score_many(batches(), window=4)
        eventually(lambda: len(broker.ids(wire.Command.SCORE)) == 2
                   and broker.cancelled() == set(broker.ids(wire.Command.SCORE)))


@pytest.mark.parametrize("malformed, cancelled", [
    (lambda first: broken(answer_to(first)[0]), "the second"),  # names the first request: it is answered
    (lambda first: b"junk", "both"),  # names no request
])
def test_a_malformed_reply_raises_protocol_violation_and_cancels_the_outstanding_requests(fake, malformed, cancelled):
    def answer(header, frames):
        if header is not None and header.command == wire.Command.SCORE and len(broker.ids(wire.Command.SCORE)) == 2:
            return [[malformed(broker.received[0][0])]]
        return []

    broker = fake(answer)
    with recpool.Client(broker.endpoint, timeout=5) as client:
        with pytest.raises(recpool.ProtocolViolation):
            client.score_many([ROWS, ROWS], window=2)
        first, second = broker.ids(wire.Command.SCORE)
        eventually(lambda: broker.cancelled() == ({second} if cancelled == "the second" else {first, second}))


@pytest.mark.parametrize("malformed, problem", [
    (lambda header: broken(answer_to(header)[0]), "version is 2"),
    (lambda header: b"junk", "a message naming no request"),
])
def test_the_async_client_raises_protocol_violation_for_a_malformed_reply_not_timeout(fake, malformed, problem):
    def answer(header, frames):
        if header is not None and header.command == wire.Command.SCORE:
            return [[malformed(header), scores_for(frames)]]
        return []

    broker = fake(answer, async_context_for_fakes())

    async def main():
        async with recpool.AsyncClient(broker.endpoint, timeout=3) as client:
            started = time.monotonic()
            with pytest.raises(recpool.ProtocolViolation, match=problem):
                await client.score(ROWS)
            return time.monotonic() - started

    assert asyncio.run(main()) < 2


def test_an_async_lazy_batch_refused_after_others_were_sent_cancels_them(fake):
    broker = fake(silent, async_context_for_fakes())

    def batches():
        yield ROWS
        yield ROWS
        yield np.full((1, WIDTH), 1e39)

    async def main():
        async with recpool.AsyncClient(broker.endpoint, timeout=5) as client:
            with pytest.raises(recpool.InvalidRequest, match="score_many batch 2: row 0, feature 0 is 1e\\+39"):
                await client.score_many(batches(), window=4)
            await asyncio.get_running_loop().run_in_executor(None, lambda: eventually(
                lambda: broker.ids(wire.Command.SCORE) and set(broker.ids(wire.Command.SCORE)) <= broker.cancelled()))

    asyncio.run(main())


# ---------------------------------------------------------------- 10. following a job with a timeout

class JobReads:
    """Stands in for a client's ``job()``: the job is in ``states[k]`` on read ``k`` (the last state after)."""

    timeout = 5.0  # the client's, which a follow with a timeout cuts each read's to what is left

    def __init__(self, *states):
        self.states = states
        self.reads = 0

    def document(self, job_id):
        self.reads += 1
        state = self.states[min(self.reads, len(self.states)) - 1]
        return {"job": job_id, "state": state, "round": self.reads, "total_rounds": 9}

    def job(self, job_id, **_):
        return self.document(job_id)


class AsyncJobReads(JobReads):
    async def job(self, job_id, **_):
        return self.document(job_id)


def test_job_wait_and_follow_raise_timeout_when_the_job_does_not_end_in_time():
    started = time.monotonic()
    with pytest.raises(recpool.Timeout, match="job job-1 did not end within 0.2 s .*running"):
        Job(JobReads("running"), {"job": "job-1"}).wait(interval=0.01, timeout=0.2)
    assert time.monotonic() - started < 2
    with pytest.raises(recpool.Timeout):
        list(Job(JobReads("running"), {"job": "job-1"}).follow(interval=0.01, timeout=0.05))
    with pytest.raises(recpool.InvalidRequest, match="timeout must be a finite number of seconds"):
        Job(JobReads("running"), {"job": "job-1"}).wait(timeout=float("inf"))
    # Without a timeout it follows to the end, as before.
    final = Job(JobReads("queued", "running", "completed"), {"job": "job-1"}).wait(interval=0.01)
    assert final["state"] == "completed"


def test_async_job_wait_and_follow_raise_timeout_when_the_job_does_not_end_in_time():
    async def main():
        with pytest.raises(recpool.Timeout, match="job job-2 did not end within 0.1 s"):
            await AsyncJob(AsyncJobReads("running"), {"job": "job-2"}).wait(interval=0.01, timeout=0.1)
        seen = [d["state"] async for d in AsyncJob(AsyncJobReads("running", "completed"), {"job": "j"}).follow(0.01)]
        assert seen == ["running", "completed"]

    asyncio.run(main())


class FlakyJobReads(JobReads):
    """As JobReads, but reads 2 and 3 time out, as while the broker restarts."""

    def job(self, job_id, **_):
        self.reads += 1
        if self.reads in (2, 3):
            raise recpool.Timeout("request 7 timed out")
        self.reads -= 1
        return self.document(job_id)


def test_follow_waits_through_a_broker_restart_and_gives_up_after_the_grace(monkeypatch):
    # Job.follow raised Timeout at the first unanswered read, while the restarted broker resumed the job.
    final = Job(FlakyJobReads("running", "running", "running", "completed"), {"job": "job-1"}).wait(interval=0.01)
    assert final["state"] == "completed"
    from recpool import client as client_module
    monkeypatch.setattr(client_module, "UNANSWERED_GRACE_SECONDS", 0.05)

    class Silent(JobReads):
        def job(self, job_id, **_):
            raise recpool.Timeout("request 9 timed out")

    with pytest.raises(recpool.Timeout, match="request 9"):
        Job(Silent("running"), {"job": "job-1"}).wait(interval=0.01)


class BusyJobReads(JobReads):
    """As JobReads, but reads 2 and 3 are answered BUSY, as by a draining broker before its successor starts."""

    def job(self, job_id, **_):
        self.reads += 1
        if self.reads in (2, 3):
            raise recpool.Busy("BUSY: the broker is shutting down; nothing was done: retry against its successor")
        self.reads -= 1
        return self.document(job_id)


class AsyncBusyJobReads(BusyJobReads):
    async def job(self, job_id, **_):
        return BusyJobReads.job(self, job_id)


def test_follow_waits_through_a_draining_brokers_busy_and_gives_up_after_the_grace(monkeypatch):
    # A helper's case: SIGTERM on the broker (a systemd restart) made its reads BUSY, and wait() raised Busy while the
    # job resumed and completed on the restarted broker.
    final = Job(BusyJobReads("running", "running", "running", "completed"), {"job": "job-1"}).wait(interval=0.01)
    assert final["state"] == "completed"

    async def main():
        job = AsyncJob(AsyncBusyJobReads("running", "running", "running", "completed"), {"job": "job-2"})
        return [d["state"] async for d in job.follow(0.01)]

    assert asyncio.run(main())[-1] == "completed"
    from recpool import client as client_module
    monkeypatch.setattr(client_module, "UNANSWERED_GRACE_SECONDS", 0.05)

    class AlwaysBusy(JobReads):
        def job(self, job_id, **_):
            raise recpool.Busy("BUSY: the broker is shutting down")

    with pytest.raises(recpool.Busy, match="shutting down"):
        Job(AlwaysBusy("running"), {"job": "job-1"}).wait(interval=0.01)


# ---------------------------------------------------------------- 11. docs/PYTHON.md

def test_python_md_states_the_brokers_width_message_and_the_conflicts():
    text = (ROOT / "docs" / "PYTHON.md").read_text()
    assert "rows have 107 features; no live worker takes them (model version 0 expects 106)" in text
    upload = next(line for line in text.splitlines() if line.startswith("| `upload(path)`"))
    registry = next(line for line in text.splitlines() if line.startswith("| `models()`, `promote(version)`"))
    assert "`Conflict`" in upload and "`Conflict` from `promote`, `rollback`" in registry
    assert "exclude_viewed" in text and "score_many" in text and "**Checks.**" in text


# ---------------------------------------------------------------- 12. a peer that is not a broker's frontend

def disconnect(header, frames):
    """What a broker's backend sends a stranger: a DISCONNECT, request id 0, no reply bit."""
    return [] if header is None else [[wire.Header(0x22, 0).encode()]]


def test_a_message_that_is_not_a_reply_fails_the_call_naming_the_backend_endpoint(fake):
    # Pointed at the broker's worker endpoint, the call waited for its timeout and said the broker did not answer.
    broker = fake(disconnect)
    with recpool.Client(broker.endpoint, timeout=5) as client:
        started = time.monotonic()
        with pytest.raises(recpool.ProtocolViolation, match="sent a DISCONNECT that is not a reply.*backend"):
            client.status()
        assert time.monotonic() - started < 4


def test_the_async_client_fails_every_waiting_call_on_a_message_that_is_not_a_reply(fake):
    broker = fake(disconnect, async_context_for_fakes())

    async def main():
        async with recpool.AsyncClient(broker.endpoint, timeout=5) as client:
            return await asyncio.gather(client.status(), client.status(), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, recpool.ProtocolViolation) and "DISCONNECT" in str(r) for r in results), results


@pytest.mark.parametrize("promoted, pinned, again", [(4, 4, [0]), (5, 5, [1]), (None, 5, [1]), (9, 5, [1])])
def test_a_split_call_answered_by_two_versions_is_sent_again_pinned_to_the_promoted_one(promoted, pinned, again):
    # A rollback from 5 to 4 straddled by a call: pinned to the highest number (5), the parts went to a version the
    # pool was leaving and were refused CONFLICT; the promoted version (STATUS) is the one it moves to.
    rows = np.zeros((4, WIDTH), np.float32)
    generator = ops.score(rows, max_rows=2)
    calls = score_calls(generator)

    def answered(call, version):
        values = bytes(wire.tensor_frame(np.full((2, 1), 0.5, np.float32)))
        return call.parse(reply(wire.Command.SCORE, [values], model_version=version))

    status_calls = generator.send([answered(calls[0], 5), answered(calls[1], 4)])
    assert [c.command for c in status_calls] == [wire.Command.STATUS]
    resend = generator.send([{"promoted_version": promoted}])
    assert [(c.model_version, c.flags) for c in resend] == [(pinned, wire.FLAG_EXACT_VERSION)] * len(again)
    assert resend[0].payload == calls[again[0]].payload
    final_status = generator.send([answered(resend[0], pinned)])
    assert [c.command for c in final_status] == [wire.Command.STATUS]
    with pytest.raises(StopIteration) as done:
        generator.send([{"workers": []}])
    assert done.value.value.model_version == pinned


def test_a_split_call_whose_own_pin_meets_another_rollout_asks_status_again_then_gives_up_naming_the_versions():
    # Promotions flipping 5 ↔ 10 while a split call was scored: the parts sent again pinned to 10 were refused
    # CONFLICT ("request pins model version 10; this worker serves 5"), naming a pin the caller never set.
    rows = np.zeros((4, WIDTH), np.float32)

    def answered(call, version):
        values = bytes(wire.tensor_frame(np.full((2, 1), 0.5, np.float32)))
        return call.parse(reply(wire.Command.SCORE, [values], model_version=version))

    generator = ops.score(rows, max_rows=2)
    calls = score_calls(generator)
    status_calls = generator.send([answered(calls[0], 5), answered(calls[1], 10)])
    resend = generator.send([{"promoted_version": 10}])
    assert [(c.model_version, c.flags) for c in resend] == [(10, wire.FLAG_EXACT_VERSION)]
    # The pool went back to 5: the pinned part is refused; the plan asks STATUS again and pins to 5.
    status_again = generator.throw(recpool.Conflict("CONFLICT: request pins model version 10; this worker serves 5"))
    assert [c.command for c in status_again] == [wire.Command.STATUS]
    resend = generator.send([{"promoted_version": 5}])
    assert [(c.model_version, c.flags) for c in resend] == [(5, wire.FLAG_EXACT_VERSION)]
    generator.send([answered(resend[0], 5)])  # the STATUS after
    with pytest.raises(StopIteration) as done:
        generator.send([{"workers": []}])
    assert done.value.value.model_version == 5

    # A rollout that never settles: after ROLLOUT_ROUNDS rounds, Conflict names the versions, not a pin.
    generator = ops.score(rows, max_rows=2)
    calls = score_calls(generator)
    generator.send([answered(calls[0], 5), answered(calls[1], 10)])
    for _ in range(ops.ROLLOUT_ROUNDS):
        resend = generator.send([{"promoted_version": 10}])
        generator.throw(recpool.Conflict("CONFLICT: request pins model version 10; this worker serves 5"))
    with pytest.raises(recpool.Conflict, match=r"kept changing while this call's 2 requests were scored "
                                                r"\(versions 5, 10\)") as refused:
        generator.send([{"promoted_version": 10}])
    # The status is said once (the error's own name), and the last refusal's words are kept.
    assert not refused.value.message.startswith("CONFLICT") and "the last refusal: CONFLICT: request pins" in refused.value.message


def test_an_empty_sequence_and_a_long_double_beyond_float32_are_named_as_given():
    # `score([])` said "got shape (1, 0)", and a longdouble 1e4000 was reported as inf.
    import numpy as np
    from recpool import operations as ops

    with pytest.raises(recpool.InvalidRequest, match="got an empty sequence"):
        ops.as_rows([])
    if np.finfo(np.longdouble).max > 1e4000:  # 80-bit extended precision (x86-64)
        with pytest.raises(recpool.InvalidRequest, match=r"is 1e\+4000, beyond float32's range"):
            ops.as_rows(np.array([[np.longdouble("1e4000")]]))


def test_a_refusal_of_one_request_of_a_split_score_names_the_row_of_the_call():
    # A split score's refusal named the row within its request: row 808 of the second request of 8,192 rows is row
    # 9,000 of the call.
    message = ("row 808 (0-based): model version 1 computes a score of nan (the values overflow inside the model); "
               "no row of this request was scored")
    renamed = ops.renumbering_row(message, 8192)
    assert renamed.startswith("row 9000 (0-based) of all the rows: model version 1")
    assert renamed.endswith("none of that request's rows was scored")
    assert ops.renumbering_row(message, 0) == message
    assert ops.renumbering_row("rows have 3 features", 8192) == "rows have 3 features"


def test_a_32_bit_float_deadline_is_refused_naming_its_precision():
    """A float32 holds an epoch time only to the nearest 128 s: `np.float32(time.time() + 5)` became a deadline 34 s in
    the past and the call failed EXPIRED; now + 30 became now + 94."""
    import time as clock

    from recpool import operations
    with pytest.raises(recpool.InvalidRequest, match="nearest 128 s"):
        operations.deadline_seconds(np.float32(clock.time() + 5))
    with pytest.raises(recpool.InvalidRequest, match="float16"):
        operations.deadline_seconds(np.float16(60_000))
    assert abs(operations.deadline_seconds(np.float64(clock.time() + 5)) - (clock.time() + 5)) < 1


def test_a_split_call_whose_version_changed_model_meanwhile_is_a_conflict_naming_both():
    """Version 0 names every unregistered model: the worker holding it drained mid-call, another model took the
    number over, and the call returned rows of both models as version 0's scores."""
    rows = np.zeros((4, WIDTH), np.float32)

    def worker(seed, draining=False, idle=None):
        return {"id": f"s{seed}", "model_version": 0, "model_seed": seed, "model_sha256": None, "model_source": "seeded",
                "services": ["SCORE"], "draining": draining, "idle_reason": idle}

    def answered(call):
        values = bytes(wire.tensor_frame(np.full((2, 1), 0.5, np.float32)))
        return call.parse(reply(wire.Command.SCORE, [values], model_version=0))

    before = {"workers": [worker(42), worker(7, idle="another model holds v0")]}
    generator = ops.score(rows, max_rows=2)
    calls = score_calls(generator, before)
    generator.send([answered(c) for c in calls])
    with pytest.raises(recpool.Conflict, match=r"the model serving version 0 changed while this call's 2 requests were "
                                                r"scored \(the model seeded with 42 before, the model seeded with 7 after"):
        generator.send([{"workers": [worker(42, draining=True), worker(7)]}])
    # A worker whose claim the registry does not hold (unverified) takes no work: it serves no model.
    assert ops.models_serving(0, {"workers": [worker(42), {**worker(7), "model_source": "unverified"}]}) == frozenset(
        {"the model seeded with 42"})
    # The same model before and after (another worker with it joined): the scores are returned.
    generator = ops.score(rows, max_rows=2)
    calls = score_calls(generator, before)
    generator.send([answered(c) for c in calls])
    with pytest.raises(StopIteration) as done:
        generator.send([{"workers": [worker(42), {**worker(42), "id": "s42b"}]}])
    assert done.value.value.model_version == 0 and done.value.value.requests == 2
    # Every worker moved on to another version once the parts were answered (a promotion): nothing else served 0,
    # and the scores are returned (the call was refused "a worker drained, left or joined" with an empty "after").
    generator = ops.score(rows, max_rows=2)
    calls = score_calls(generator, before)
    generator.send([answered(c) for c in calls])
    with pytest.raises(StopIteration) as done:
        generator.send([{"workers": [{**worker(42), "model_version": 3}, {**worker(7), "model_version": 3}]}])
    assert done.value.value.model_version == 0 and done.value.value.requests == 2
    # A broker that does not answer STATUS: no check, the scores as before.
    generator = ops.score(rows, max_rows=2)
    assert [c.command for c in next(generator)] == [wire.Command.STATUS]
    calls = generator.throw(recpool.Unauthorized("UNAUTHORIZED: STATUS"))
    with pytest.raises(StopIteration) as done:
        generator.send([answered(c) for c in calls])  # no STATUS after: there was none before to compare with
    assert done.value.value.requests == 2


# ---------------------------------------------------------------- 12. refusals that named nothing, or conversions

def both_clients(broker_endpoint, call):
    """Runs ``call(client)`` (awaited for the AsyncClient) on a Client and an AsyncClient of ``broker_endpoint``;
    returns the two exceptions raised (None where nothing was raised)."""
    caught = []
    with recpool.Client(broker_endpoint, timeout=2) as client:
        try:
            call(client)
            caught.append(None)
        except Exception as error:  # noqa: BLE001 - the test looks at its type
            caught.append(error)

    async def main():
        async with recpool.AsyncClient(broker_endpoint, timeout=2) as client:
            try:
                await call(client)
                caught.append(None)
            except Exception as error:  # noqa: BLE001
                caught.append(error)

    asyncio.run(main())
    return caught


def test_masked_rows_inside_a_list_are_refused_as_a_masked_array_is(fake):
    # [masked row, row] was scored with the value under the mask, where a masked array of those rows is refused.
    masked = np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=[False, False, True, False])
    for rows, where in [([np.ones(WIDTH), masked], "row 1, feature 2 is masked"),
                        ((masked, np.ones(WIDTH)), "row 0, feature 2 is masked"),
                        ([[0.5, np.ma.masked, 0.5, 0.5]], "row 0, feature 1 is masked"),
                        ([0.5, 0.5, np.ma.masked, 0.5], "row 0, feature 2 is masked")]:
        with pytest.raises(recpool.InvalidRequest, match=where):
            ops.as_rows(rows)
    broker = fake(silent)
    with recpool.Client(broker.endpoint, timeout=2) as client:
        with pytest.raises(recpool.InvalidRequest, match="row 1, feature 2 is masked: rows must hold no masked value"):
            client.score([np.ones(WIDTH), masked])
    assert broker.received == []
    # A masked row with nothing masked is its values, as a masked array with nothing masked is.
    unmasked = np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=False)
    assert ops.as_rows([unmasked, np.zeros(WIDTH)]).tolist() == [[1.0, 2.0, 3.0, 4.0], [0.0] * WIDTH]


@pytest.mark.parametrize("call, name", [
    (lambda c: c.recommend(candidates=np.array(3)), "candidates"),
    (lambda c: c.recommend(events=np.array(3)), "events"),
    (lambda c: c.train("obd:random/all", hidden=np.array(8)), "hidden"),
])
def test_a_0_d_array_is_refused_naming_the_argument_by_both_clients(fake, call, name):
    # numpy calls a 0-d array iterable, then raised a bare "TypeError: iteration over a 0-d array".
    broker = fake(silent, async_context_for_fakes())
    for error in both_clients(broker.endpoint, call):
        assert isinstance(error, recpool.InvalidRequest), repr(error)
        assert f"{name} must be" in str(error) and "array(" in str(error), str(error)
    assert broker.received == []
    # A 1-D array is still a list of items.
    assert payload(ops.recommend(candidates=np.array([3, 5])))["candidates"] == [3, 5]


def test_upload_bytes_of_a_memoryview_counts_its_bytes_and_refuses_one_that_is_not_contiguous(fake):
    # A memoryview of float32 was counted in elements (10, not 40 bytes), and the broker refused "chunk … overruns".
    values = np.arange(10, dtype=np.float32)
    plan = ops.upload_bytes(memoryview(values), "a.bin")
    (call,) = next(plan)
    arguments = payload(call)["upload"]
    assert arguments["total_bytes"] == 40 and bytes(call.payload[1]) == values.tobytes()
    assert arguments["sha256"] == hashlib.sha256(values.tobytes()).hexdigest() == arguments["chunk_sha256"]
    chunks = ops.upload_bytes(memoryview(np.arange(6, dtype=np.float64)), "b.bin", chunk_bytes=16)
    (first,) = next(chunks)
    assert payload(first)["upload"]["total_bytes"] == 48 and len(bytes(first.payload[1])) == 16

    def answer(header, frames):
        if header is None:
            return []
        document = json.loads(frames[0])["upload"]
        complete = document["offset"] + len(frames[1]) == document["total_bytes"]
        return [answer_to(header, json.dumps({"complete": complete}).encode())]

    broker = fake(answer)
    with recpool.Client(broker.endpoint, timeout=5) as client:
        name = client.upload_bytes(memoryview(values), "a.bin")
        assert name == "sha256:" + hashlib.sha256(values.tobytes()).hexdigest()
        # A strided view is no run of bytes: hashing it raised a bare BufferError.
        with pytest.raises(recpool.InvalidRequest, match="data must be contiguous bytes, got a memoryview that is not "
                                                         "contiguous"):
            client.upload_bytes(memoryview(np.arange(10)[::2]), "c.bin")
    assert len(broker.ids(wire.Command.CONTROL)) == 1


def test_async_score_many_opens_no_more_lanes_than_batches(fake):
    # window=10**5 for two batches started 10**5 tasks (a second and 100 MB); lanes now open with a batch each.
    broker = fake(lambda header, frames: [answer_to(header, scores_for(frames))] if header is not None else [],
                  async_context_for_fakes())
    taken = []

    def batches(n):
        for k in range(n):
            taken.append(k)
            yield ROWS

    async def main(source, window):
        async with recpool.AsyncClient(broker.endpoint, timeout=5) as client:
            busy = []
            run_one = client._run_one

            async def counting(call, started=None):
                current = asyncio.current_task()
                lanes = [t for t in asyncio.all_tasks() if t is not main_task and t not in
                         (client._reader, client._watcher)]
                busy.append((len(lanes), len(taken)))
                assert current in lanes
                return await run_one(call, started)

            client._run_one = counting
            main_task = asyncio.current_task()
            results = await client.score_many(source, window=window)
            return results, busy

    results, busy = asyncio.run(main([ROWS, ROWS], 1000))
    assert len(results) == 2 and max(lanes for lanes, _ in busy) <= 2
    taken.clear()
    results, busy = asyncio.run(main(batches(5), 1000))
    assert len(results) == 5 and all(lanes <= count for lanes, count in busy), busy
    assert max(lanes for lanes, _ in busy) <= 5
    taken.clear()
    results, busy = asyncio.run(main(batches(6), 2))
    assert len(results) == 6 and max(lanes for lanes, _ in busy) <= 2  # the window still bounds the lanes
    assert asyncio.run(main([], 4))[0] == []
    with pytest.raises(recpool.InvalidRequest, match="window must be an integer ≥ 1, got 0"):
        asyncio.run(main([ROWS], 0))


def test_score_many_refuses_a_list_of_rows_and_a_dataframe_as_it_refuses_a_2_d_array(fake):
    pd = pytest.importorskip("pandas")
    rows = [[0.5] * WIDTH, [0.5] * WIDTH]
    broker = fake(silent, async_context_for_fakes())
    for batches, got in [(rows, "got a list of lists of numbers"), (tuple(map(tuple, rows)), "got a tuple of lists"),
                         ([0.5] * WIDTH, "got a list of numbers"),
                         (pd.DataFrame(np.zeros((2, WIDTH)), columns=list("abcd")), "got a DataFrame of shape (2, 4)")]:
        for error in both_clients(broker.endpoint, lambda c: c.score_many(batches)):
            assert isinstance(error, recpool.InvalidRequest), repr(error)
            assert "batches must be an iterable of rows × features batches" in str(error)
            assert got in str(error) and "for one batch use score" in str(error)
    assert broker.received == []
    # A list of batches, each a list of rows, is still one request a batch.
    calls = list(ops.score_batches([[[0.5] * WIDTH], [[0.5] * WIDTH, [0.25] * WIDTH]], (0, 0), None, None, 8192))
    assert [struct.unpack_from("<II", c.payload[0], 0) for c in calls] == [(1, WIDTH), (2, WIDTH)]


@pytest.mark.parametrize("rows, named", [
    (b"\x00\x01\x02\x03", "got bytes"),
    (None, "got None"),
    ((x for x in [[0.5] * WIDTH]), "got a generator"),
    ({1, 2}, "got a set"),
    (0.5, "got a single float"),
    (bytearray(WIDTH), "got bytearray"),
    (memoryview(bytearray(WIDTH)), "got memoryview"),
    ([[None] * WIDTH], "row 0, feature 0 is None"),
    ([[0.5] * WIDTH, [0.5, 0.5, "x", 0.5]], "row 1, feature 2 is 'x'"),
    ([[0.5] * WIDTH, [0.5, None, True, 0.5]], "row 1, feature 1 is None"),
    ([[10 ** 400] + [0] * (WIDTH - 1)], "row 0, feature 0 is an integer of 401 digits, beyond float32's range"),
])
def test_score_names_what_it_refuses_by_type_or_by_row_and_feature(fake, rows, named):
    # All said "got 0 dimensions" or "got dtype object"; a bytearray was scored as WIDTH uint8 features.
    with pytest.raises(recpool.InvalidRequest) as caught:
        ops.as_rows(rows)
    message = str(caught.value)
    assert named in message and "0 dimensions" not in message and "dtype object" not in message, message
    broker = fake(silent)
    with recpool.Client(broker.endpoint, timeout=2) as client:
        with pytest.raises(recpool.InvalidRequest, match=re.escape(named)):
            client.score(rows)
    assert broker.received == []


def test_an_int_beyond_int64_is_scored_as_the_number_it_is(fake):
    # numpy keeps 2**70 as a Python object, and the row was refused "got dtype object"; the CLI scores 1.1805916e21.
    sent = []

    def answer(header, frames):
        if header is None:
            return []
        sent.append(wire.decode_tensor(frames[0]))
        return [answer_to(header, scores_for(frames))]

    broker = fake(answer)
    with recpool.Client(broker.endpoint, timeout=5) as client:
        scores = client.score([[2 ** 70] + [0] * (WIDTH - 1), [1, 2, 3, 4]])
    assert scores.probabilities.shape == (2,)
    assert sent[0][0, 0] == np.float32(1.1805916e21) and sent[0][1].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert f"{sent[0][0, 0]:.8g}" == "1.1805916e+21"
    assert ops.as_rows(np.array([[2 ** 70, 1]], dtype=object)).tolist() == [[2.0 ** 70, 1.0]]
    with pytest.raises(recpool.InvalidRequest, match=r"row 0, feature 0 is 1\.6\d*e\+60, beyond float32's range"):
        ops.as_rows([[2 ** 200, 0]])


@pytest.mark.parametrize("value, text", [
    (30.0, "30"), (30, "30"), (np.float64(30.0), "30"), (np.float32(30.0), "30"), (-0.0, "0"), (np.int64(-7), "-7"),
    (0.1, "0.1"), (np.float32(0.1), "0.1"), (2.5e-7, "2.5e-07"), (1 / 3, "0.3333333333333333"), (1e20, "1e+20"),
    (123456789012345.0, "123456789012345"),
])
def test_a_number_user_feature_is_sent_as_the_cli_sends_it(value, text):
    # `recpool recommend --user-feature age=30` sends "30"; {"age": 30.0} sent "30.0", another category to a
    # categorical feature; a float that is no whole number goes as its shortest round-trip text.
    assert payload(ops.recommend({"age": value}))["user_features"] == {"age": text}
    assert ops.number_text(value) == text


def test_follow_refuses_a_raise_on_failure_that_is_not_a_bool():
    # follow(raise_on_failure=1) was taken as true, and "no" as true as well.
    for value in (1, "no", None):
        with pytest.raises(recpool.InvalidRequest, match=f"raise_on_failure must be True or False, got {value!r}"):
            next(Job(JobReads("failed"), {"job": "job-1"}).follow(interval=0.01, raise_on_failure=value))

    async def main():
        with pytest.raises(recpool.InvalidRequest, match="raise_on_failure must be True or False, got 0"):
            await AsyncJob(AsyncJobReads("failed"), {"job": "j"}).follow(0.01, raise_on_failure=0).__anext__()
        return [d["state"] async for d in AsyncJob(AsyncJobReads("failed"), {"job": "j"}).follow(
            0.01, raise_on_failure=np.False_)]

    assert asyncio.run(main()) == ["failed"]
    assert [d["state"] for d in Job(JobReads("failed"), {"job": "j"}).follow(0.01, raise_on_failure=False)] == ["failed"]


@pytest.mark.parametrize("array", [
    np.arange(2 * WIDTH, dtype=np.float32).reshape(2, WIDTH),
    np.arange(2 * WIDTH, dtype=np.float64).reshape(2, WIDTH) / 3,
    np.arange(2 * WIDTH, dtype=np.int32).reshape(2, WIDTH),
    np.arange(4 * WIDTH, dtype=np.float32).reshape(4, WIDTH)[::2],  # not contiguous
    np.arange(WIDTH, dtype=np.float16),  # 1-D: one row
])
def test_a_memoryview_of_numbers_is_scored_as_the_array_it_views(fake, array):
    # A 2-D memoryview raised numpy's NotImplementedError ("multi-dimensional sub-views are not implemented") from
    # inside the checks, which iterated it as a list of rows.
    sent = []

    def answer(header, frames):
        if header is None:
            return []
        sent.append(wire.decode_tensor(frames[0]))
        return [answer_to(header, scores_for(frames))]

    broker = fake(answer)
    with recpool.Client(broker.endpoint, timeout=5) as client:
        scores = client.score(memoryview(array))
        assert [s.probabilities.shape for s in client.score_many([memoryview(array)] * 2)] == [scores.probabilities.shape] * 2
    expected = np.asarray(array, dtype=np.float32).reshape(-1, WIDTH)
    assert scores.probabilities.shape == (expected.shape[0],)
    assert all(np.array_equal(tensor, expected) for tensor in sent) and len(sent) == 3


def test_a_memoryview_that_is_no_numbers_is_refused_naming_it():
    released = memoryview(np.zeros((2, WIDTH), np.float32))
    released.release()
    cases = [(memoryview(np.zeros((2, WIDTH), "S3")), "got a memoryview of format '3s' (numpy dtype |S3)"),
             (released, "got a memoryview of format '?' (the view was released)"),
             (memoryview(np.zeros((2, WIDTH), bool)), "rows must be real numbers, got dtype bool"),
             (memoryview(np.zeros((2, WIDTH), np.complex64)), "rows must be real numbers, got dtype complex64"),
             (memoryview(np.full((2, WIDTH), np.nan, np.float32)), "row 0, feature 0 is nan"),
             (memoryview(bytearray(WIDTH)), "got memoryview (bytes are not read as features")]
    for view, problem in cases:
        with pytest.raises(recpool.InvalidRequest, match=re.escape(problem)):
            ops.as_rows(view)
        with pytest.raises(recpool.InvalidRequest, match=re.escape(problem)):
            list(ops.score_batches([view], (0, 0), None, None, 8192))


def test_score_many_takes_a_3_d_memoryview_as_batches_and_refuses_a_2_d_one_as_it_refuses_a_2_d_array():
    assert len(list(ops.score_batches(memoryview(np.zeros((3, 2, WIDTH), np.float32)), (0, 0), None, None, 8192))) == 3
    with pytest.raises(recpool.InvalidRequest, match=r"got memoryview of shape \(2, 4\): for one batch use score\(\)"):
        ops.score_batches(memoryview(np.zeros((2, WIDTH), np.float32)), (0, 0), None, None, 8192)



def test_rows_numpy_reads_itself_are_judged_by_their_dtype_not_walked_value_by_value():
    # An xarray DataArray (iterable, with __array__) was walked in Python for booleans: 2,000 rows took longer than
    # the call's deadline, which then blamed the broker (EXPIRED); an object with __array__ that is not iterable
    # raised a bare TypeError.
    from recpool import operations as ops
    values = np.arange(12, dtype=np.float32).reshape(3, 4)

    class Iterable:
        def __array__(self, dtype=None, copy=None):
            return values

        def __iter__(self):
            raise AssertionError("walked value by value")

        def __len__(self):
            return 3

    NotIterable = type("NotIterable", (), {"__array__": lambda self, dtype=None, copy=None: values})
    for rows in (Iterable(), NotIterable()):
        array = ops.as_rows(rows)
        assert array.shape == (3, 4) and (array == values).all()
    # What its dtype says is still refused, naming the value.
    Booleans = type("Booleans", (), {"__array__": lambda self, dtype=None, copy=None: np.array([[True, False]])})
    with pytest.raises(recpool.InvalidRequest, match="booleans are not converted"):
        ops.as_rows(Booleans())


def test_a_client_cannot_be_copied_or_pickled_it_names_why():
    # copy.copy shared the socket (closing the copy broke the original with a raw ZMQError); deepcopy and pickle
    # raised a bare TypeError.
    import copy
    import pickle
    client = recpool.Client("tcp://127.0.0.1:9")
    try:
        for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
            with pytest.raises(recpool.InvalidRequest, match="cannot be (copied|pickled)"):
                attempt(client)
    finally:
        client.close()


def test_a_dataframe_with_two_label_columns_is_refused_not_scored_with_them_as_features():
    # Left to the width check, both label columns were scored as features whenever the width fitted; the CLI refuses
    # the same CSV header.
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.zeros((2, 4), np.float32), columns=["f0", "f1", "label", "label"])
    with recpool.Client("tcp://127.0.0.1:7699") as client:  # refused before anything is sent: no broker needed
        with pytest.raises(recpool.InvalidRequest, match="2 columns named 'label'"):
            client.score(frame)
    # One label column is left out, as before.
    assert ops.as_rows(frame.iloc[:, :3]).shape == (2, 2)


# ---------------------------------------------------------------- 13. score_many names the batch an error is about

def test_a_score_many_refusal_names_its_batch_and_keeps_its_class_in_both_clients(fake):
    # The pool's refusal of one batch said "row 7 (0-based): …" and nothing of the batch, its row counted within it
    # (score renumbers rows over all its rows; score_many named the batch only in the client's own refusals).
    huge = np.zeros((20, WIDTH), np.float32)
    huge[7] = 3.4e38

    def answer(header, frames):
        if header is None or header.command != wire.Command.SCORE:
            return []
        values = np.frombuffer(frames[0], np.float32, offset=8)
        if (values > 1e38).any():
            return [answer_to(header, b"row 7 (0-based): model version 1 computes a score of nan (the values overflow "
                                      b"inside the model); no row of this request was scored",
                              status=int(wire.Status.BAD_REQUEST))]
        if values.size == 3 * (WIDTH + 1):
            return [answer_to(header, b"rows have 5 features; no live worker takes them (model version 1 expects 4)",
                              status=int(wire.Status.BAD_REQUEST))]
        return [answer_to(header, scores_for(frames))]

    def refusals(call):
        """The errors ``call(client)`` raises with a Client, then with an AsyncClient (each with a broker of its
        context: an ``inproc://`` endpoint is one context's)."""
        with recpool.Client(fake(answer).endpoint, timeout=2) as client:
            caught = pytest.raises(recpool.RecPoolError, call, client).value
        return [caught, both_clients(fake(answer, async_context_for_fakes()).endpoint, call)[1]]

    batches = [ROWS, ROWS, ROWS, huge, ROWS]
    for error in refusals(lambda c: c.score_many(batches, window=1)):
        assert isinstance(error, recpool.BadRequest), repr(error)
        assert error.message.startswith("score_many batch 3: row 7 (0-based): model version 1 computes a score of "
                                        "nan"), error.message
        assert error.batch == 3 and error.status == wire.Status.BAD_REQUEST
    wide = [ROWS, ROWS, np.ones((3, WIDTH + 1), np.float32)]
    for error in refusals(lambda c: c.score_many(wide)):
        assert isinstance(error, recpool.BadRequest), repr(error)
        assert str(error) == ("BAD_REQUEST: score_many batch 2: rows have 5 features; no live worker takes them (model "
                              "version 1 expects 4)") and error.batch == 2
    # The client's own refusal of a batch, and a reply that breaks the protocol, name it the same way.
    for error in refusals(lambda c: c.score_many([ROWS, np.full((1, WIDTH), np.nan)])):
        assert isinstance(error, recpool.InvalidRequest) and error.batch == 1, repr(error)
        assert error.message.startswith("score_many batch 1: row 0, feature 0 is nan")
    bad = ops.score_call(ROWS, (0, 0), None, None, batch=4)
    tensor = bytes(wire.tensor_frame(np.array([[0.5], [2.0]], np.float32)))
    with pytest.raises(recpool.ProtocolViolation) as caught:
        bad.parse(reply(wire.Command.SCORE, [tensor]))
    assert caught.value.message.startswith("score_many batch 4: SCORE reply: row 1 has score 2.0")
    assert caught.value.batch == 4
    # A call of no batch (score) is named as before, with no batch.
    with recpool.Client(fake(answer).endpoint, timeout=2) as client:
        with pytest.raises(recpool.BadRequest, match=r"^BAD_REQUEST: row 7 \(0-based\)") as caught:
            client.score(huge)
        assert caught.value.batch is None


def test_a_frame_whose_only_column_is_label_is_refused_not_scored_with_its_labels_as_features(fake):
    # `_without_label` kept the column when it was the only one, so the labels were scored as the one feature; PYTHON.md
    # says the label column is left out, and `recpool score --input` refuses such a CSV ("no feature columns").
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"label": [1.0, 0.0]})
    with pytest.raises(recpool.InvalidRequest, match="no feature columns: its only column is 'label'"):
        ops.as_rows(frame)
    broker = fake(silent, async_context_for_fakes())
    for error in both_clients(broker.endpoint, lambda c: c.score(frame)):
        assert isinstance(error, recpool.InvalidRequest), repr(error)
        assert "no feature columns: its only column is 'label'" in error.message
    for error in both_clients(broker.endpoint, lambda c: c.score_many([frame])):
        assert isinstance(error, recpool.InvalidRequest) and error.batch == 0, repr(error)
        assert error.message.startswith("score_many batch 0: the frame has no feature columns")
    assert broker.received == []
    # A feature column beside it is scored without the label, as before.
    assert ops.as_rows(pd.DataFrame({"x": [0.5, 0.25], "label": [1.0, 0.0]})).tolist() == [[0.5], [0.25]]


def test_a_frames_extension_dtype_and_missing_value_and_a_ragged_row_are_named_as_given():
    # A Float64 or bool column was reported by numpy's conversion ("got dtype object: column 'f0' has dtype Float64"),
    # a nullable column's <NA> as "nan", and ragged rows by numpy's "inhomogeneous shape after 1 dimensions".
    pd = pytest.importorskip("pandas")
    for column, dtype in [(pd.array([0.5, 1.5], dtype="Float64"), "Float64"),
                          (pd.array([True, False], dtype="boolean"), "boolean")]:
        frame = pd.DataFrame({"f0": column, "f1": [0.5, 1.5]})
        message = pytest.raises(recpool.InvalidRequest, ops.as_rows, frame).value.message
        assert message.startswith(f"rows must be real numbers: column 'f0' (column 0) has dtype {dtype}"), message
        assert "object" not in message
    # A missing value that numpy reads as NaN (a frame of one nullable column) is named as missing; a real NaN is still
    # named as one.
    for dtype in ("Float64", "Int64"):
        missing = pd.DataFrame({"f0": pd.array([1, None], dtype=dtype)})
        message = pytest.raises(recpool.InvalidRequest, ops.as_rows, missing).value.message
        assert message.startswith("row 1, feature 0 (column 'f0') is missing (<NA>)"), message
        assert "nan" not in message
    nan = pd.DataFrame({"f0": [1.0, np.nan]})
    assert "is nan" in pytest.raises(recpool.InvalidRequest, ops.as_rows, nan).value.message
    for rows, named in [([[0.5, 0.5, 0.5], [0.5, 0.5]], "row 1 has 2 features, row 0 has 3"),
                        ([[0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], "row 0 has 2 features, row 1 has 3"),
                        ([[0.5, 0.5], [0.5]], "row 1 has 1 feature, row 0 has 2"),
                        ([np.ones(3), np.ones(2)], "row 1 has 2 features, row 0 has 3"),
                        ([[0.5, 0.5], 0.5], "row 1 is 0.5, a single value, where row 0 is a row of 2 features"),
                        ([[0.5, 0.5], [0.5, [0.5]]], "row 1, feature 1 is a sequence ([0.5]), not a number")]:
        message = pytest.raises(recpool.InvalidRequest, ops.as_rows, rows).value.message
        assert message == f"rows must be a rectangular rows × features array: {named}", message
