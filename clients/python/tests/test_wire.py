"""The protocol's bytes, checked against docs/PROTOCOL.md without sockets."""
import struct

import numpy as np
import pytest

import recpool
from recpool import errors, operations as ops, wire


def test_the_header_of_the_spec_example_is_56_bytes_in_the_documented_order():
    frame = wire.Header(wire.Command.SCORE, 7).encode()
    assert len(frame) == 56
    assert frame[:8] == bytes.fromhex("52504c0101000000")
    assert frame[8:16] == bytes.fromhex("0700000000000000")
    assert frame[16:] == bytes(40)


def test_the_tensor_frame_of_the_spec_example_matches_byte_for_byte():
    frame = wire.tensor_frame(np.array([[1.0, 2.0]], dtype=np.float32))
    assert bytes(frame) == bytes.fromhex("01000000020000000000803f00000040")


def test_a_float64_big_endian_batch_is_converted_to_float32_little_endian():
    rows = np.array([[1.0, 2.0], [3.0, 4.5]], dtype=">f8")
    frame = wire.tensor_frame(rows)
    assert struct.unpack("<II4f", bytes(frame)) == (2, 2, 1.0, 2.0, 3.0, 4.5)


def test_a_reply_header_decodes_every_field():
    raw = struct.pack("<3sBBBHQQQHHIIIII", b"RPL", 1, 0x83, 0, 1, 9, 123, 4, 3, 2, 10, 20, 30, 250, 0)
    header = wire.decode_header(raw)
    assert (header.command, header.request_id, header.deadline_ms, header.model_version) == (0x83, 9, 123, 4)
    assert (header.status, header.attempt, header.retry_after_ms) == (3, 2, 250)
    assert (header.broker_queue_us, header.worker_queue_us, header.compute_us) == (10, 20, 30)
    assert header.is_reply


@pytest.mark.parametrize("mutate, problem", [
    (lambda b: b[:55], "55 bytes"),
    (lambda b: b"RPX" + b[3:], "magic"),
    (lambda b: b[:3] + b"\x02" + b[4:], "version is 2"),
    (lambda b: b[:5] + b"\x01" + b[6:], "reserved"),
    (lambda b: b[:32] + struct.pack("<H", 99) + b[34:], "unknown status 99"),
])
def test_a_malformed_header_is_refused_with_its_problem_named(mutate, problem):
    good = wire.Header(0x81, 1).encode()
    with pytest.raises(wire.MalformedReply, match=problem):
        wire.decode_header(mutate(good))


@pytest.mark.parametrize("frame, problem", [
    (b"\x01\x00\x00", "less than"),
    (struct.pack("<II", 0, 1), "zero dimension"),
    (struct.pack("<IIf", 2, 1, 0.5), "expected 16"),
])
def test_a_malformed_tensor_is_refused_with_its_problem_named(frame, problem):
    with pytest.raises(wire.MalformedReply, match=problem):
        wire.decode_tensor(frame)


def test_every_status_maps_to_its_own_exception_keeping_the_code_and_message():
    seen = set()
    for status in wire.Status:
        if status == wire.Status.OK:
            continue
        header = wire.Header(0x81, 5, status=int(status), retry_after_ms=1500)
        error = errors.error_for(header, "why")
        assert error.status == status and error.message == "why" and error.request_id == 5
        assert isinstance(error, recpool.RecPoolError)
        seen.add(type(error))
    assert len(seen) == len(wire.Status) - 1
    assert errors.error_for(wire.Header(0x81, 1, status=3, retry_after_ms=1500), "").retry_after == 1.5


def test_version_pins_follow_the_header_rules():
    assert ops.version_pin(None, None) == (0, 0)
    assert ops.version_pin(3, None) == (3, 0)
    assert ops.version_pin(None, 3) == (3, wire.FLAG_EXACT_VERSION)
    with pytest.raises(recpool.InvalidRequest, match="exact"):
        ops.version_pin(None, 0)
    with pytest.raises(recpool.InvalidRequest, match="not both"):
        ops.version_pin(1, 2)


@pytest.mark.parametrize("rows, problem", [
    (np.array([[1.0, np.nan]]), "NaN"),
    (np.array([[np.inf]]), "inf"),
    (np.zeros((0, 3)), "at least one row"),
    (np.zeros((2, 2, 2)), "2-D"),
    (np.array([["a"]]), "real numbers"),
])
def test_bad_rows_are_refused_before_sending(rows, problem):
    with pytest.raises(recpool.InvalidRequest, match=problem):
        ops.as_rows(rows)


def test_a_float32_c_contiguous_batch_is_not_copied_before_framing():
    rows = np.ones((4, 3), dtype=np.float32)
    assert ops.as_rows(rows) is rows


def test_feedback_and_recommend_arguments_are_checked_before_sending():
    with pytest.raises(recpool.InvalidRequest, match="click"):
        ops.feedback("imp", 1, 2)
    with pytest.raises(recpool.InvalidRequest, match="dwell"):
        ops.feedback("imp", 1, 1, dwell=-1)
    with pytest.raises(recpool.InvalidRequest, match="top"):
        ops.recommend(top=0)
    with pytest.raises(recpool.InvalidRequest, match="dwell"):
        ops.recommend(events=[(1, float("nan"))])
    call = ops.recommend({"user_feature_0": "u0_01"}, events=[(3, 12)], top=2)
    assert call.payload[0] == (b'{"user_features":{"user_feature_0":"u0_01"},'
                               b'"events":[{"item":3,"seconds":12.0}],"top":2}')
