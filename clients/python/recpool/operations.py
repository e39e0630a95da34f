"""What each call sends and how its reply is read, independent of sockets and of sync/async.

A simple call is a :class:`Call`: a request (command, payload frames, version pin) and a function
that turns the OK reply into a result. A call of several steps (scoring more rows than one request
may hold, an upload in chunks, paging the impression log) is a generator that yields lists of
calls and is sent back their results; :class:`~recpool.Client` and :class:`~recpool.AsyncClient`
run the same generators, one blocking and one awaiting.
"""
from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from .errors import InvalidRequest, ProtocolViolation
from .results import FeedbackAck, Health, Scores, Slate, Timings
from .wire import (FLAG_EXACT_VERSION, HEADER_BYTES, MESSAGE_LIMIT_BYTES, MESSAGE_LIMIT_FRAMES, TENSOR_SHAPE_BYTES,
                   Command, Header,
                   MalformedReply, decode_tensor, tensor_frame)

#: Rows per SCORE request, the broker's default limit (PROTOCOL.md, "Limits"); bigger batches are
#: split into several requests sent at once.
DEFAULT_MAX_ROWS = 8192
#: Bytes per upload chunk (frame 2 of CONTROL ``upload``); well under the 16 MiB message limit.
UPLOAD_CHUNK_BYTES = 1 << 20
#: The largest u64: versions and the impression log's sequence numbers are u64 on the wire.
U64_MAX = 2 ** 64 - 1
#: The longest timeout, grace or follow bound the client takes, in seconds (about 31 years): any wait
#: fits, and a deadline in ms still fits the header's u64 and a poll's timeout.
MAX_SECONDS = 1e9
#: The largest float32. A finite value beyond it (by more than half a unit in the last place) becomes
#: infinity in a tensor frame.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: RECOMMEND's ``top`` and ``candidates`` limits, and the dwell-time range of RECOMMEND events and
#: FEEDBACK (PROTOCOL.md, "RECOMMEND request and reply", "Online learning").
MAX_TOP = 1000
MAX_CANDIDATES = 100_000
MAX_DWELL_SECONDS = 1e9
#: The longest impression id FEEDBACK takes, in UTF-8 bytes.
MAX_IMPRESSION_ID_BYTES = 64
#: Rows per page of CONTROL ``impressions`` (its ``limit``, 1-10,000).
MAX_PAGE_SIZE = 10_000
#: Columns per SCORE row the broker takes (PROTOCOL.md, "Limits": fixed); a wider row is ``TOO_LARGE``.
MAX_COLUMNS = 4096
#: The services ``health`` knows, as ``recpool health --service`` takes them.
HEALTH_SERVICES = ("SCORE", "RECOMMEND", "FEEDBACK", "TRAIN_ROUND")
#: A job's states (PROTOCOL.md, "A job is").
JOB_STATES = frozenset({"queued", "running", "completed", "failed", "cancelled"})
#: The ``source`` of a RECOMMEND answer: a trained model's ranking, its popularity fallback, a policy slate.
SLATE_SOURCES = ("model", "cold_start_fallback", "policy")
# Bytes of a SCORE message besides its rows: the header and the tensor's shape.
_SCORE_OVERHEAD_BYTES = HEADER_BYTES + TENSOR_SHAPE_BYTES


# ---------------------------------------------------------------- argument checks

def is_integer(value) -> bool:
    """Whether ``value`` is an integer, Python's or numpy's; a bool is not one here."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """Whether ``value`` is a real number (int, float or numpy's); bools and strings are not."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _show(bound) -> str:
    if bound == U64_MAX:
        return "2**64 − 1"
    if isinstance(bound, float) and bound >= 1e6:
        return f"{bound:.0e}".replace("e+0", "e").replace("e+", "e")
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _range(low, high) -> str:
    if low is not None and high is not None:
        return f" in {_show(low)}…{_show(high)}"
    if low is not None:
        return f" ≥ {_show(low)}"
    return f" ≤ {_show(high)}" if high is not None else ""


def integer(value, name: str, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """``value`` as an int, checked: a bool, a float (which ``int()`` would truncate) or a string is
    refused, as is a value outside ``low``…``high``.

    Raises:
        InvalidRequest: naming ``name`` and the rule.
    """
    if not is_integer(value) or (low is not None and value < low) or (high is not None and value > high):
        raise InvalidRequest(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    return int(value)


def number(value, name: str, low: Optional[float] = None, high: Optional[float] = None) -> float:
    """``value`` as a float, checked: a real number (no bool, no string), finite and within ``low``…``high``.

    Raises:
        InvalidRequest: naming ``name`` and the rule.
    """
    if (not is_number(value) or not math.isfinite(float(value)) or (low is not None and value < low)
            or (high is not None and value > high)):
        raise InvalidRequest(f"{name} must be a finite number{_range(low, high)}, got {value!r}")
    return float(value)


def seconds(value, name: str) -> float:
    """A duration such as a timeout: a finite number of seconds, more than 0 and at most ``MAX_SECONDS``.

    Raises:
        InvalidRequest: naming ``name`` and the rule (``inf`` and ``1e20`` included: their deadline
            does not fit the header).
    """
    if not is_number(value) or not math.isfinite(float(value)) or not 0 < value <= MAX_SECONDS:
        raise InvalidRequest(f"{name} must be a finite number of seconds > 0 and ≤ {_show(MAX_SECONDS)}, "
                             f"got {value!r}")
    return float(value)


def deadline_seconds(value) -> float:
    """An absolute deadline: finite epoch seconds, more than 0 and at most ``MAX_SECONDS`` from now.

    Raises:
        InvalidRequest: naming ``deadline`` and the rule.
    """
    if (not is_number(value) or not math.isfinite(float(value)) or value <= 0
            or value > time.time() + MAX_SECONDS):
        raise InvalidRequest(f"deadline must be finite epoch seconds > 0 and at most {_show(MAX_SECONDS)} s "
                             f"from now, got {value!r}")
    return float(value)


def flag(value, name: str) -> bool:
    """``value`` as a bool, checked: only ``True`` or ``False`` (numpy's too); ``"no"`` is not false.

    Raises:
        InvalidRequest: naming ``name`` and the rule.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidRequest(f"{name} must be True or False, got {value!r}")
    return bool(value)


def version(value, name: str = "version") -> int:
    """A model version argument: an int in 0…2**64 − 1 (the header's and the registry's u64)."""
    return integer(value, name, 0, U64_MAX)


@dataclass
class Reply:
    """An OK reply: its header and payload frames (buffers)."""

    header: Header
    frames: list


@dataclass
class Call:
    """One request and how to read its OK reply.

    ``retry_busy``: the protocol makes a retry after ``BUSY`` safe for this request (it was refused
    before dispatch, or repeating it changes nothing), so the client may resend it after
    ``retry_after_ms`` while its deadline allows.
    """

    command: Command
    payload: list
    parse: Callable[[Reply], Any]
    model_version: int = 0
    flags: int = 0
    retry_busy: bool = False
    timeout: Optional[float] = None
    deadline: Optional[float] = None

    def __post_init__(self):
        """Checks the call's own timeout and deadline (see :func:`seconds`, :func:`deadline_seconds`), so
        that every call refuses them before sending, whatever builds it. Both at once is refused: one of
        them would be ignored."""
        frames = 1 + len(self.payload)
        size = HEADER_BYTES + sum(memoryview(frame).nbytes for frame in self.payload)
        if frames > MESSAGE_LIMIT_FRAMES or size > MESSAGE_LIMIT_BYTES:
            # The broker would answer TOO_LARGE, or past its hard frame backstop drop the connection without a
            # reply (a Timeout here): refused before anything is sent.
            raise InvalidRequest(f"the {self.command.name} request is {size} bytes in {frames} frames; a message "
                                 f"holds at most {MESSAGE_LIMIT_BYTES} bytes (the 56-byte header included) in "
                                 f"{MESSAGE_LIMIT_FRAMES} frames")
        if self.timeout is not None and self.deadline is not None:
            raise InvalidRequest(f"give timeout or deadline, not both (got timeout={self.timeout!r} and "
                                 f"deadline={self.deadline!r})")
        if self.timeout is not None:
            self.timeout = seconds(self.timeout, "timeout")
        if self.deadline is not None:
            self.deadline = deadline_seconds(self.deadline)


def version_pin(min_version: Optional[int], exact_version: Optional[int]) -> Tuple[int, int]:
    """The header's ``(model_version, flags)`` for a pin given as keyword arguments.

    Raises:
        InvalidRequest: both given, a version that is not an int in 0…2**64 − 1 (a float or a string
            included), or an exact pin of 0 (PROTOCOL decision: an exact pin needs a version; 0 means "any").
    """
    if min_version is not None and exact_version is not None:
        raise InvalidRequest("give min_version or exact_version, not both")
    if exact_version is not None:
        if is_integer(exact_version) and exact_version == 0:
            raise InvalidRequest("exact_version must be a registered version ≥ 1 (an exact pin needs a version; "
                                 "0 means any), got 0")
        return integer(exact_version, "exact_version", 1, U64_MAX), FLAG_EXACT_VERSION
    if min_version is not None:
        return version(min_version, "min_version"), 0
    return 0, 0


def _first_frame(reply: Reply, what: str):
    if not reply.frames:
        raise ProtocolViolation(f"the {what} reply has no payload frame", reply.header)
    return reply.frames[0]


def _refuse_constant(name: str):
    raise ValueError(f"it holds {name}; the protocol's JSON holds no NaN or infinity")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is infinite as a double; the protocol's JSON holds no infinity")
    return value


def json_frame(reply: Reply, what: str) -> dict:
    """The reply's frame 1 as a JSON object.

    Raises:
        ProtocolViolation: no frame, not UTF-8 JSON, not an object, or a NaN or infinity in it (``NaN``,
            ``Infinity`` or a number too large for a double, which :func:`json.loads` would accept).
    """
    frame = _first_frame(reply, what)
    try:
        document = json.loads(bytes(frame), parse_constant=_refuse_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ProtocolViolation(f"the {what} reply is not the protocol's JSON: {error}", reply.header) from None
    if not isinstance(document, dict):
        raise ProtocolViolation(f"the {what} reply is a JSON {type(document).__name__}, not an object", reply.header)
    return document


def _json_value(value):
    """numpy's scalars and arrays as the JSON values they stand for; anything else is not JSON."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"a value of type {type(value).__name__} ({value!r}) is not JSON")


def encode_json(document: dict) -> bytes:
    """A JSON frame (UTF-8, no NaN: the protocol's JSON has none; numpy scalars as the numbers they hold).

    Raises:
        InvalidRequest: a NaN or infinity, or a value JSON cannot hold (an object, a set), naming it.
    """
    try:
        return json.dumps(document, allow_nan=False, separators=(",", ":"), default=_json_value).encode()
    except (TypeError, ValueError, RecursionError) as error:
        raise InvalidRequest(f"cannot encode the request: {error}") from None


# ---------------------------------------------------------------- SCORE

def as_rows(rows) -> np.ndarray:
    """The rows as a C-contiguous float32 matrix, without a copy when they already are one.

    Raises:
        InvalidRequest: not 2-D (a 1-D array is one row), empty, or holding NaN, infinity or a finite
            value beyond float32's range (such as ``1e39``, which would be sent as infinity), naming the
            first such row and feature.
    """
    try:
        array = np.asarray(rows)
    except (TypeError, ValueError) as error:  # ragged lists: rows of different lengths
        raise InvalidRequest(f"rows must be a rectangular rows × features array: {error}") from None
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise InvalidRequest(f"rows must be a 2-D array (rows × features), got {array.ndim} dimensions")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise InvalidRequest(f"rows must have at least one row and one feature, got shape {array.shape}")
    if array.shape[1] > MAX_COLUMNS:
        raise InvalidRequest(f"rows have {array.shape[1]} features; a SCORE row holds at most {MAX_COLUMNS} "
                             "(the broker's column limit, answered TOO_LARGE)")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise InvalidRequest(f"rows must be real numbers, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise InvalidRequest(f"row {bad[0]}, feature {bad[1]} is {array[bad[0], bad[1]]} (NaN and infinity are refused)")
    if array.dtype.kind == "f" and array.dtype.itemsize > 4:
        # Only values past float32's largest can overflow; convert those few as the frame will (one
        # just past it still rounds to it) and refuse any that become infinity.
        beyond = (array > FLOAT32_MAX) | (array < -FLOAT32_MAX)
        if beyond.any():
            with np.errstate(over="ignore"):
                overflow = ~np.isfinite(array[beyond].astype(np.float32))
            if overflow.any():
                row, col = np.argwhere(beyond)[int(np.argmax(overflow))]
                raise InvalidRequest(f"row {row}, feature {col} is {float(array[row, col])!r}, beyond float32's range "
                                     f"(±{FLOAT32_MAX:.8g}): it would be sent as infinity, which is refused")
    return array


def rows_per_request(cols: int, max_rows: int) -> int:
    """How many rows of ``cols`` features one SCORE request holds: at most ``max_rows``, and few enough
    that the message (header, tensor shape, ``4 × cols`` bytes a row) stays within the broker's
    message limit of 16 MiB (PROTOCOL.md, "Limits"): ``min(max_rows, (limit − 64) // (4 × cols))``.

    Raises:
        InvalidRequest: a single row is wider than the limit.
    """
    fit = (MESSAGE_LIMIT_BYTES - _SCORE_OVERHEAD_BYTES) // (4 * cols)
    if fit < 1:
        raise InvalidRequest(f"rows have {cols} features: one row is {4 * cols} bytes, more than a SCORE message "
                             f"may hold (the message limit is {MESSAGE_LIMIT_BYTES} bytes, "
                             f"{_SCORE_OVERHEAD_BYTES} of them header and tensor shape)")
    return min(max_rows, fit)


def check_pin(reply: Reply, pin: Tuple[int, int], what: str) -> None:
    """Raises ProtocolViolation when the reply's ``model_version`` breaks the request's pin: another version
    than an exact pin, or an older one than a minimum (PROTOCOL.md, "Model versions"), so an answer served
    under the wrong version is never returned."""
    wanted, flags = pin
    served = reply.header.model_version
    if flags & FLAG_EXACT_VERSION and served != wanted:
        raise ProtocolViolation(f"the {what} reply names model version {served}; the request was pinned to exactly "
                                f"version {wanted}", reply.header)
    if not flags & FLAG_EXACT_VERSION and served < wanted:
        raise ProtocolViolation(f"the {what} reply names model version {served}; the request asked for version "
                                f"{wanted} or newer", reply.header)


def score_call(chunk: np.ndarray, pin: Tuple[int, int], timeout, deadline) -> Call:
    """One SCORE request for ``chunk`` (at most the row limit), pinned by ``pin`` = (version, flags); a reply
    from a version the pin excludes is a ``ProtocolViolation``."""
    expected = chunk.shape[0]

    def parse(reply: Reply):
        check_pin(reply, pin, "SCORE")
        try:
            values = decode_tensor(_first_frame(reply, "SCORE"))
        except MalformedReply as error:
            raise ProtocolViolation(str(error), reply.header) from None
        if values.shape != (expected, 1):
            raise ProtocolViolation(f"SCORE reply has shape {values.shape}, expected ({expected}, 1)", reply.header)
        values = values.reshape(expected)
        outside = ~((values >= 0) & (values <= 1))  # NaN fails both comparisons
        if outside.any():
            row = int(np.argmax(outside))
            raise ProtocolViolation(f"SCORE reply: row {row} has score {float(values[row])}, not a probability "
                                    "in [0, 1]", reply.header)
        return values, reply.header

    return Call(Command.SCORE, [tensor_frame(chunk)], parse, pin[0], pin[1], retry_busy=True,
                timeout=timeout, deadline=deadline)


def score(rows, *, min_version=None, exact_version=None, timeout=None, deadline=None,
          max_rows: int = DEFAULT_MAX_ROWS):
    """Generator of the ``score`` call: one SCORE per :func:`rows_per_request` rows (``max_rows``, fewer
    for rows so wide that the message limit comes first), all sent at once.

    When the requests were answered by different versions (a rollout in between), the ones that got
    an older version are sent again pinned to the newest, so the call's rows share one version.
    """
    array = as_rows(rows)
    pin = version_pin(min_version, exact_version)
    per_request = rows_per_request(array.shape[1], integer(max_rows, "max_rows", 1, DEFAULT_MAX_ROWS))
    chunks = [array[i:i + per_request] for i in range(0, array.shape[0], per_request)]
    results = yield [score_call(c, pin, timeout, deadline) for c in chunks]
    versions = [header.model_version for _, header in results]
    if len(set(versions)) > 1:
        newest = max(versions)
        redo = [i for i, v in enumerate(versions) if v != newest]
        again = yield [score_call(chunks[i], (newest, FLAG_EXACT_VERSION), timeout, deadline) for i in redo]
        for i, result in zip(redo, again):
            results[i] = result
    headers = [header for _, header in results]
    values = results[0][0] if len(results) == 1 else np.concatenate([v for v, _ in results])
    timings = Timings(max(h.broker_queue_us for h in headers), max(h.worker_queue_us for h in headers),
                      max(h.compute_us for h in headers))
    return Scores(values, headers[0].model_version, len(results), timings)


def score_batches(batches, pin: Tuple[int, int], timeout, deadline, max_rows: int):
    """The SCORE calls of ``score_many``, one per batch, taken lazily as the client sends them.

    Raises:
        InvalidRequest: at once, when ``batches`` is not an iterable of batches (a 2-D array would be taken
            row by row, as one-row batches); when a batch is taken that is not valid rows (see :func:`as_rows`)
            or does not fit in one request (:func:`rows_per_request`), naming the batch by its index.
    """
    if (isinstance(batches, (str, bytes, Mapping)) or not isinstance(batches, Iterable)
            or (isinstance(batches, np.ndarray) and batches.ndim < 3)):
        shape = f" of shape {batches.shape}: for one batch use score()" if isinstance(batches, np.ndarray) else ""
        raise InvalidRequest("batches must be an iterable of rows × features batches (a list, a generator, a 3-D "
                             f"array), got {type(batches).__name__}{shape}")
    return _score_batch_calls(batches, pin, timeout, deadline, max_rows)


def _score_batch_calls(batches, pin: Tuple[int, int], timeout, deadline, max_rows: int):
    for index, batch in enumerate(batches):
        try:
            array = as_rows(batch)
            limit = rows_per_request(array.shape[1], max_rows)
        except InvalidRequest as error:
            raise InvalidRequest(f"score_many batch {index}: {error.message}") from None
        if array.shape[0] > limit:
            raise InvalidRequest(f"score_many batch {index} has {array.shape[0]} rows; a batch must fit in one "
                                 f"request: at most {limit} rows of {array.shape[1]} features (max_rows, and the "
                                 f"{MESSAGE_LIMIT_BYTES}-byte message limit)")
        yield score_call(array, pin, timeout, deadline)


def batch_scores(result) -> Scores:
    """The :class:`~recpool.Scores` of one ``score_many`` batch from its call's ``(values, header)``."""
    values, header = result
    return Scores(values, header.model_version, 1,
                  Timings(header.broker_queue_us, header.worker_queue_us, header.compute_us))


# ---------------------------------------------------------------- RECOMMEND and FEEDBACK

def _user_features(user_features) -> dict:
    """``user_features`` as the request's ``{string: string}``: names are strings, values strings or finite
    numbers (sent as their text); ``None`` and NaN are refused rather than sent as ``"None"`` or ``"nan"``."""
    if user_features is None:
        return {}
    if not isinstance(user_features, Mapping):
        raise InvalidRequest(f"user_features must be a dict of feature name → value, got {user_features!r}")
    document = {}
    for name, value in user_features.items():
        if not isinstance(name, str):
            raise InvalidRequest(f"user_features: a feature name must be a string, got {name!r}")
        if isinstance(value, str):
            document[name] = value
        elif is_number(value) and math.isfinite(float(value)):
            document[name] = str(value)
        else:
            raise InvalidRequest(f"user_features[{name!r}] must be a string or a finite number, got {value!r}")
    return document


def _events(events) -> list:
    """``events`` as the request's ``[{item, seconds}]``: ``(item, dwell_seconds)`` pairs, the item an int
    (not a bool, float or string), the dwell a number of seconds in 0…1e9."""
    if events is None:
        return []
    if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Iterable):
        raise InvalidRequest(f"events must be a list of (item, dwell_seconds) pairs, got {events!r}")
    viewed = []
    for event in events:
        try:
            item, seconds = event
        except (TypeError, ValueError):
            raise InvalidRequest(f"an event must be (item, dwell_seconds), got {event!r}") from None
        if not is_integer(item):
            raise InvalidRequest(f"event {event!r}: the item must be an integer item id, got {item!r}")
        if not is_number(seconds):
            raise InvalidRequest(f"event {event!r}: dwell_seconds must be a number, got {seconds!r}")
        seconds = float(seconds)
        if not (math.isfinite(seconds) and 0 <= seconds <= MAX_DWELL_SECONDS):
            raise InvalidRequest(f"event for item {item} has dwell_seconds {seconds}; it must be a finite number "
                                 f"in 0…{_show(MAX_DWELL_SECONDS)}")
        viewed.append({"item": int(item), "seconds": seconds})
    return viewed


def _candidates(candidates) -> Optional[List[int]]:
    """``candidates`` as the request's list: ``None`` (every item), or a non-empty list (tuple, numpy
    array...) of at most 100,000 int item ids with no repeats; a string is not a list of items."""
    if candidates is None:
        return None
    if isinstance(candidates, (str, bytes, Mapping)) or not isinstance(candidates, Iterable):
        raise InvalidRequest(f"candidates must be None or a list of integer item ids, got {candidates!r}")
    items = list(candidates)
    if not items:
        raise InvalidRequest("candidates must not be empty (None ranks every item)")
    if len(items) > MAX_CANDIDATES:
        raise InvalidRequest(f"candidates holds {len(items)} items; a request holds at most {MAX_CANDIDATES}")
    seen = set()
    for position, item in enumerate(items):
        if not is_integer(item):
            raise InvalidRequest(f"candidates[{position}] must be an integer item id, got {item!r}")
        item = int(item)
        if item in seen:
            raise InvalidRequest(f"candidates[{position}] repeats item {item}; candidates must not repeat")
        seen.add(item)
        items[position] = item
    return items


def _recommend_document(user_features, events, top, candidates, exclude_viewed=False) -> dict:
    """The RECOMMEND request (PROTOCOL.md, "RECOMMEND request and reply"), every argument checked.

    ``top`` None leaves the key out, so the server's default applies (10 items from a trained model, an online
    policy's slate size from a policy).

    Raises:
        InvalidRequest: naming the argument and its rule: ``top`` None or an int in 1…1,000; ``candidates`` see
            :func:`_candidates`; events see :func:`_events`; user features see :func:`_user_features`;
            ``exclude_viewed`` a bool.
    """
    document = {"user_features": _user_features(user_features), "events": _events(events)}
    if top is not None:
        document["top"] = integer(top, "top", 1, MAX_TOP)
    checked = _candidates(candidates)
    if checked is not None:
        document["candidates"] = checked
    if flag(exclude_viewed, "exclude_viewed"):
        document["exclude_viewed"] = True
    return document


def _reply_fault(reply: Reply, what: str, problem: str) -> ProtocolViolation:
    return ProtocolViolation(f"the {what} reply {problem}", reply.header)


def _slate_parser(document_sent: dict, pin: Tuple[int, int]):
    """The parser of a RECOMMEND reply to ``document_sent`` (pinned by ``pin``), checked against the request."""
    top = document_sent.get("top")
    candidates = set(document_sent["candidates"]) if document_sent.get("candidates") is not None else None
    viewed = {event["item"] for event in document_sent["events"]} if document_sent.get("exclude_viewed") else set()

    def parse(reply: Reply) -> Slate:
        """A RECOMMEND reply as a :class:`Slate`.

        Raises:
            ProtocolViolation: a key the spec lists missing or of the wrong type (``items``, ``source``,
                ``model_version``; for a policy slate ``impression_id`` and each item's ``position`` and
                ``propensity`` in (0, 1]); a ``source`` the spec does not name; a ``model_version`` other than
                the header's, or (for a model's ranking) one the pin excludes; an item repeated, more items
                than ``top``, an item outside ``candidates``, or a viewed item with ``exclude_viewed``.
        """
        document = json_frame(reply, "RECOMMEND")
        items = document.get("items")
        source = document.get("source")
        version = document.get("model_version")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise _reply_fault(reply, "RECOMMEND", "has no list of item objects in 'items'")
        if source not in SLATE_SOURCES:
            raise _reply_fault(reply, "RECOMMEND", f"has source {source!r}, not one of {', '.join(SLATE_SOURCES)}")
        if not is_integer(version) or version != reply.header.model_version:
            raise _reply_fault(reply, "RECOMMEND", f"names model_version {version!r} in its document and "
                                                   f"{reply.header.model_version} in its header")
        policy = source == "policy"
        if not policy:  # a policy slate names the policy's version, which a model pin does not constrain
            check_pin(reply, pin, "RECOMMEND")
        for slot, entry in enumerate(items):
            propensity = entry.get("propensity")
            if (not is_integer(entry.get("item")) or not is_number(entry.get("score"))
                    or (policy and not (is_number(propensity) and 0 < propensity <= 1))
                    or (policy and entry.get("position") != slot)):
                raise _reply_fault(reply, "RECOMMEND", f"has a malformed item in slot {slot}: {entry!r}")
        ranked = [int(i["item"]) for i in items]
        if len(set(ranked)) != len(ranked):
            raise _reply_fault(reply, "RECOMMEND", f"repeats an item: {ranked}")
        if top is not None and len(ranked) > top:
            raise _reply_fault(reply, "RECOMMEND", f"holds {len(ranked)} items; the request asked for top {top}")
        if candidates is not None:
            outside = [item for item in ranked if item not in candidates]
            if outside:
                raise _reply_fault(reply, "RECOMMEND", f"holds item {outside[0]}, which is not among the candidates")
        if not policy and viewed & set(ranked):
            raise _reply_fault(reply, "RECOMMEND", f"holds viewed item {min(viewed & set(ranked))} although the "
                                                   "request asked for exclude_viewed")
        impression_id = document.get("impression_id")
        if policy and not (isinstance(impression_id, str) and impression_id):
            raise _reply_fault(reply, "RECOMMEND", f"is a policy slate without an impression_id ({impression_id!r})")
        return Slate(
            items=ranked,
            scores=[float(i["score"]) for i in items],
            propensities=[float(i["propensity"]) for i in items] if policy else None,
            impression_id=impression_id if policy else None,
            model_version=int(version),
            source=source,
            exploration=document.get("exploration"))

    return parse


def recommend(user_features=None, events=(), top=None, candidates=None, *, exclude_viewed=False, min_version=None,
              exact_version=None, timeout=None, deadline=None) -> Call:
    """The RECOMMEND call. ``exclude_viewed`` is sent only when true. A BUSY refusal came before dispatch,
    so it is retried. The reply is checked against the request (see :func:`_slate_parser`)."""
    pin = version_pin(min_version, exact_version)
    document = _recommend_document(user_features, events, top, candidates, exclude_viewed)
    return Call(Command.RECOMMEND, [encode_json(document)], _slate_parser(document, pin), pin[0], pin[1],
                retry_busy=True, timeout=timeout, deadline=deadline)


def _impression_id(impression_id) -> str:
    try:
        size = len(impression_id.encode("utf-8")) if isinstance(impression_id, str) else 0
    except UnicodeEncodeError:
        size = 0
    if not 1 <= size <= MAX_IMPRESSION_ID_BYTES:
        raise InvalidRequest(f"impression_id must be a string of 1–{MAX_IMPRESSION_ID_BYTES} UTF-8 bytes, "
                             f"got {impression_id!r}")
    return impression_id


def feedback(impression_id: str, item: int, click, dwell=None, *, timeout=None, deadline=None) -> Call:
    """The FEEDBACK call. Retried after BUSY: a repeat of an (impression, item) pair is acknowledged as a
    duplicate and ignored, so resending is safe.

    Raises:
        InvalidRequest: ``impression_id`` not a string of 1–64 UTF-8 bytes, ``item`` not an int (a bool,
            float or string), ``click`` not 0 or 1 (``True`` and ``False`` count as 1 and 0), ``dwell`` not
            ``None`` or a number in 0…1e9 seconds.
    """
    if isinstance(click, (bool, np.bool_)):
        click = int(click)
    elif not is_integer(click) or click not in (0, 1):
        raise InvalidRequest(f"click must be 0 or 1, got {click!r}")
    document = {"impression_id": _impression_id(impression_id), "item": integer(item, "item"), "click": int(click)}
    if dwell is not None:
        document["dwell_seconds"] = number(dwell, "dwell", 0, MAX_DWELL_SECONDS)

    def parse(reply: Reply) -> FeedbackAck:
        answer = json_frame(reply, "FEEDBACK")
        impression, acked, duplicate = (answer.get(k) for k in ("impression_id", "item", "duplicate"))
        if not isinstance(impression, str) or not is_integer(acked) or not isinstance(duplicate, bool):
            raise _reply_fault(reply, "FEEDBACK", f"is not {{impression_id: string, item: int, duplicate: bool}}: "
                                                  f"{answer!r}")
        if impression != document["impression_id"] or acked != document["item"]:
            raise _reply_fault(reply, "FEEDBACK", f"acknowledges impression {impression!r}, item {acked}; the "
                                                  f"request was about impression {document['impression_id']!r}, "
                                                  f"item {document['item']}")
        return FeedbackAck(impression, int(acked), duplicate)

    return Call(Command.FEEDBACK, [encode_json(document)], parse, retry_busy=True, timeout=timeout, deadline=deadline)


# ---------------------------------------------------------------- STATUS and CONTROL

def status(*, timeout=None) -> Call:
    """The STATUS call: the broker's status document."""
    return Call(Command.STATUS, [], lambda reply: json_frame(reply, "STATUS"), timeout=timeout)


def health(service: str = "SCORE", *, timeout=None):
    """Generator of ``health``: STATUS, then whether a live worker serves ``service``, as ``recpool health``
    decides it.

    A worker serves SCORE or RECOMMEND when it offers it and takes work: not while it waits for the promoted
    version (``waiting_for_version``), nor on an ``unverified`` model (PROTOCOL.md, "Model versions": such a
    worker takes no work, so requests would end in ``CONFLICT``). Training rounds go to every live worker that
    trains, so TRAIN_ROUND counts those that offer it. FEEDBACK is answered by
    the broker's control plane: it is healthy when online learning runs (``online.enabled``) and a replica
    serves its policy (``online.replicas``), so slates carry impressions that feedback can be about.

    Raises:
        InvalidRequest: ``service`` not one of SCORE, RECOMMEND, FEEDBACK, TRAIN_ROUND (a misspelt service
            would otherwise read as unhealthy).
        ProtocolViolation: a STATUS document without ``workers``, ``online`` or ``protocol_version``, or with
            the wrong types.
    """
    if service not in HEALTH_SERVICES:
        raise InvalidRequest(f"service must be one of {', '.join(HEALTH_SERVICES)}, got {service!r}")
    (document,) = yield [status(timeout=timeout)]
    missing = [key for key in ("workers", "online", "protocol_version") if key not in document]
    if missing:
        raise ProtocolViolation(f"the STATUS reply has no {', '.join(repr(k) for k in missing)}")
    workers, online, protocol = document["workers"], document["online"], document["protocol_version"]
    if (not isinstance(workers, list) or not all(isinstance(w, dict) and isinstance(w.get("services"), list)
                                                 for w in workers)
            or not (online is None or isinstance(online, dict)) or not is_integer(protocol)):
        raise ProtocolViolation("the STATUS reply's workers, online or protocol_version has the wrong type")
    if service == "FEEDBACK":
        replicas = (online or {}).get("replicas") or []
        healthy = bool(online and online.get("enabled") is True and replicas)
        return Health(healthy, service, len(replicas) if healthy else 0, len(workers), int(protocol))
    serving = [w for w in workers if service in w["services"] and (service == "TRAIN_ROUND" or (
        w.get("waiting_for_version") is None and w.get("model_source") != "unverified"))]
    return Health(bool(serving), service, len(serving), len(workers), int(protocol))


#: The keys of a job document (PROTOCOL.md, "CONTROL requests").
JOB_KEYS = ("job", "state", "model", "round", "total_rounds", "epoch", "step", "loss", "metrics", "model_version",
            "error", "created_at", "updated_at", "spec", "rounds")
#: The keys of a model document.
MODEL_KEYS = ("version", "job", "promoted", "metrics", "dataset_sha256", "hyperparameters", "checkpoint_sha256",
              "created_at")


def with_keys(document, keys: Sequence[str]):
    """The document with every key the spec lists, ``None`` where the peer sent none (the spec says such keys
    are present as ``null``; older brokers leave them out)."""
    if isinstance(document, dict):
        for name in keys:
            document.setdefault(name, None)
    return document


def control(op: str, arguments: Optional[dict] = None, data: Optional[bytes] = None, *, timeout=None,
            key: Optional[str] = None, raw: bool = False, keys: Optional[Sequence[str]] = None) -> Call:
    """A CONTROL call ``{"op": op, **arguments}`` with optional bytes in frame 2.

    The result is the reply's JSON (``key`` picks one of its fields), or with ``raw`` the pair
    (JSON, frame 2 bytes); a ``raw`` reply without frame 2 is a ``ProtocolViolation``.

    Raises:
        InvalidRequest: ``op`` not a non-empty string, ``arguments`` not a dict, ``data`` not bytes.
    """
    if not isinstance(op, str) or not op:
        raise InvalidRequest(f"op must be a CONTROL operation's name, got {op!r}")
    if arguments is not None and not isinstance(arguments, Mapping):
        raise InvalidRequest(f"arguments must be a dict of the CONTROL request's keys, got {arguments!r}")
    for name in arguments or {}:
        if not isinstance(name, str) or name == "op":
            raise InvalidRequest(f"arguments: a key must be a string naming an argument of {op} (not 'op', which "
                                 f"is the first argument), got {name!r}")
    if data is not None and not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidRequest(f"data must be bytes (frame 2), got {type(data).__name__}")
    document = {"op": op}
    document.update(arguments or {})
    payload = [encode_json(document)]
    if data is not None:
        payload.append(data)

    def parse(reply: Reply):
        answer = json_frame(reply, f"CONTROL {op}")
        if key is not None:
            if not isinstance(answer, dict) or key not in answer:
                raise ProtocolViolation(f"the CONTROL {op} reply has no {key!r}", reply.header)
            answer = answer[key]
        if keys is not None:
            if isinstance(answer, list):
                answer = [with_keys(item, keys) for item in answer]
            else:
                answer = with_keys(answer, keys)
        if raw:
            if len(reply.frames) < 2:
                raise ProtocolViolation(f"the CONTROL {op} reply has no frame 2", reply.header)
            return answer, bytes(reply.frames[1])
        return answer

    return Call(Command.CONTROL, payload, parse, timeout=timeout)


def job_control(op: str, job_id=None, *, train: Optional[dict] = None, timeout=None) -> Call:
    """CONTROL ``job`` or ``cancel_job`` of ``job_id``, or ``train`` of the spec ``train``: the reply is one job,
    checked by :func:`check_job` (a job in an unknown state would be followed forever).

    Raises:
        InvalidRequest: ``job_id`` not a non-empty string.
    """
    if train is not None:
        arguments = {"train": train}
    else:
        if not isinstance(job_id, str) or not job_id:
            raise InvalidRequest(f"job must be a job id such as 'job-1', got {job_id!r}")
        arguments = {"job": job_id}
    call = control(op, arguments, timeout=timeout, keys=JOB_KEYS)
    read = call.parse
    call.parse = lambda reply: check_job(read(reply), f"CONTROL {op}")
    return call


def jobs(*, timeout=None) -> Call:
    """CONTROL ``jobs``: every job, each checked by :func:`check_job`."""
    call = control("jobs", timeout=timeout, key="jobs", keys=JOB_KEYS)
    read = call.parse

    def parse(reply: Reply):
        listed = read(reply)
        if not isinstance(listed, list):
            raise ProtocolViolation(f"the CONTROL jobs reply's jobs is a {type(listed).__name__}, not a list",
                                    reply.header)
        return [check_job(job, "CONTROL jobs") for job in listed]

    call.parse = parse
    return call


def models(*, timeout=None) -> Call:
    """CONTROL ``models``: the registered versions, a list (else ``ProtocolViolation``)."""
    call = control("models", timeout=timeout, key="models", keys=MODEL_KEYS)
    read = call.parse

    def parse(reply: Reply):
        listed = read(reply)
        if not isinstance(listed, list) or not all(isinstance(model, dict) for model in listed):
            raise ProtocolViolation(f"the CONTROL models reply's models is not a list of models: {listed!r}",
                                    reply.header)
        return listed

    call.parse = parse
    return call


def rollback(*, timeout=None) -> Call:
    """CONTROL ``rollback``: the model now promoted, which must say so (else ``ProtocolViolation``)."""
    call = control("rollback", timeout=timeout, keys=MODEL_KEYS)
    read = call.parse

    def parse(reply: Reply):
        model = read(reply)
        if not is_integer(model.get("version")) or model.get("promoted") is not True:
            raise ProtocolViolation(f"the CONTROL rollback reply is the model of version {model.get('version')!r}, "
                                    f"promoted {model.get('promoted')!r}", reply.header)
        return model

    call.parse = parse
    return call


def promote(version_number, *, timeout=None) -> Call:
    """The CONTROL ``promote`` call; ``version_number`` an int in 0…2**64 − 1. Returns the model, which must be
    that version, promoted (else ``ProtocolViolation``)."""
    wanted = version(version_number)
    call = control("promote", {"version": wanted}, timeout=timeout, keys=MODEL_KEYS)
    read = call.parse

    def parse(reply: Reply):
        model = read(reply)
        if model.get("version") != wanted or model.get("promoted") is not True:
            raise ProtocolViolation(f"the CONTROL promote reply for version {wanted} is the model of version "
                                    f"{model.get('version')!r}, promoted {model.get('promoted')!r}", reply.header)
        return model

    call.parse = parse
    return call


def fetch(version_number, *, timeout=None) -> Call:
    """The CONTROL ``fetch`` call: ``(model document, checkpoint bytes)``.

    Raises:
        InvalidRequest: ``version_number`` not an int in 0…2**64 − 1.
        ProtocolViolation (on the reply): no checkpoint in frame 2, or a header naming another version
            (PROTOCOL.md: "the header's ``model_version`` is the version").
    """
    wanted = version(version_number)
    call = control("fetch", {"version": wanted}, timeout=timeout, raw=True, keys=MODEL_KEYS)
    read = call.parse

    def parse(reply: Reply):
        if reply.header.model_version != wanted:
            raise ProtocolViolation(f"the CONTROL fetch reply for version {wanted} names version "
                                    f"{reply.header.model_version} in its header", reply.header)
        return read(reply)

    call.parse = parse
    return call


def train_spec(dataset: str, schema=None, *, model="mlp", epochs=10, batch=32, lr=0.001, hidden=None, workers=1,
               sync_every=50, seed=0, validation=0.2, promote=False, round_timeout_ms=30_000, **extra) -> dict:
    """The ``train`` argument of CONTROL ``train`` (PROTOCOL.md, "CONTROL requests").

    Every key the spec lists is sent; ``hidden`` is ``null`` for the server's default. ``schema`` (a
    shop's schema as TOML text) is sent only when given, with ``catalogue`` (``sha256:<hex>`` of the
    uploaded catalogue) in ``extra``. ``extra`` also holds model-specific keys (for ``dqn``: ``gamma``,
    ``epsilon_end``, ``epsilon_decay_steps``, ``replay_capacity``).

    Raises:
        InvalidRequest: an int option (``epochs``, ``batch``, ``hidden``'s sizes, ``workers``, ``sync_every``,
            ``seed``, ``round_timeout_ms``) that is not an int, a number option (``lr``, ``validation``) that
            is not a finite number, or ``promote`` not a bool; the broker checks the ranges, naming the field.
    """
    if not isinstance(dataset, str) or not dataset:
        raise InvalidRequest("dataset must be a dataset name such as sha256:<hex> or obd:random/all")
    if not isinstance(model, str):
        raise InvalidRequest(f"model must be a model name (mlp or dqn), got {model!r}")
    if hidden is not None:
        if isinstance(hidden, (str, bytes, Mapping)) or not isinstance(hidden, Iterable):
            raise InvalidRequest(f"hidden must be None or a list of layer sizes, got {hidden!r}")
        hidden = [integer(size, f"hidden[{k}]") for k, size in enumerate(hidden)]
    spec = {"model": model, "dataset": dataset, "epochs": integer(epochs, "epochs"), "batch": integer(batch, "batch"),
            "lr": number(lr, "lr"), "hidden": hidden, "workers": integer(workers, "workers"),
            "sync_every": integer(sync_every, "sync_every"), "seed": integer(seed, "seed"),
            "validation": number(validation, "validation"), "promote": flag(promote, "promote"),
            "round_timeout_ms": integer(round_timeout_ms, "round_timeout_ms")}
    if schema is not None:
        spec["schema"] = schema
    spec.update(extra)
    return spec


def upload_bytes(data: bytes, name: str, *, timeout=None, chunk_bytes: int = UPLOAD_CHUNK_BYTES):
    """Generator of an upload: the content in checksummed chunks, in order; returns ``sha256:<hex>``,
    the dataset name a ``train`` call takes."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidRequest(f"data must be bytes, got {type(data).__name__}")
    if not data:
        raise InvalidRequest("an upload needs at least one byte")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"name must be a non-empty file name, got {name!r}")
    whole = hashlib.sha256(data).hexdigest()
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        chunk = view[offset:offset + chunk_bytes]
        arguments = {"upload": {"sha256": whole, "name": name, "total_bytes": len(data), "offset": offset,
                                "chunk_sha256": hashlib.sha256(chunk).hexdigest()}}
        (answer,) = yield [control("upload", arguments, bytes(chunk), timeout=timeout)]
        offset += len(chunk)
        if not isinstance(answer.get("complete"), bool):
            raise ProtocolViolation(f"the CONTROL upload reply for {name} at offset {offset - len(chunk)} is not "
                                    f"{{\"complete\": bool}}: {answer!r}")
        if answer["complete"]:
            break
    else:
        if not answer["complete"]:
            raise ProtocolViolation(f"the broker did not report the upload of {name} complete")
    return "sha256:" + whole


def upload_path(path, *, timeout=None):
    """Generator of ``upload(path)``: reads the file and uploads it."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise InvalidRequest(f"cannot read {path}: {error.strerror}") from None
    return (yield from upload_bytes(data, os.path.basename(str(path)), timeout=timeout))


def read_schema(schema):
    """A shop's schema (docs/YOUR-DATA.md) as ``(toml_text, catalogue_path)``: ``schema`` is a path to the
    TOML file, or the TOML text itself. The catalogue is the ``[catalogue] file``, relative to the schema
    file's folder (to the current directory for text). Raises ``InvalidRequest`` naming the problem."""
    import tomllib

    if isinstance(schema, os.PathLike) or (isinstance(schema, str) and "\n" not in schema
                                           and os.path.isfile(schema)):
        path = os.fspath(schema)
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise InvalidRequest(f"cannot read the schema {path}: {error.strerror}") from None
        base = os.path.dirname(os.path.abspath(path))
    elif isinstance(schema, str):
        text, base = schema, os.getcwd()
    else:
        raise InvalidRequest("schema must be the path of a TOML file or TOML text")
    where = f"the schema {os.fspath(schema)}" if isinstance(schema, os.PathLike) or "\n" not in schema else "the schema"
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidRequest(f"{where} is not valid TOML: {error}") from None
    catalogue = document.get("catalogue")
    file = catalogue.get("file") if isinstance(catalogue, dict) else None
    if not isinstance(file, str) or not file:
        raise InvalidRequest(f"{where}: [catalogue] names no file")
    return text, os.path.join(base, file)


# The [logs] keys whose values name one column of the log (docs/YOUR-DATA.md).
_LOG_ROLES = ("timestamp", "item", "position", "click", "reward", "propensity", "dwell", "session", "user")


def _csv_header(path: str, what: str) -> List[str]:
    """The column names on the first line of the CSV at ``path``; ``InvalidRequest`` naming the file otherwise."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None)
    except OSError as error:
        raise InvalidRequest(f"cannot read the {what} {path}: {error.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise InvalidRequest(f"the {what} {path} is not a UTF-8 CSV file: {error}") from None
    if not header:
        raise InvalidRequest(f"the {what} {path} is empty: it needs a header line")
    return [name.strip() for name in header]


def _named_columns(table: dict, roles: Sequence[str], features: str) -> List[Tuple[str, str]]:
    """``(where in the schema, column)`` for each column a schema table names: its roles, ``ignore`` and features."""
    named = [(f"{role} = \"{table[role]}\"", table[role]) for role in roles if isinstance(table.get(role), str)]
    ignore = table.get("ignore")
    named += [(f"ignore = [\"{column}\"]", column) for column in (ignore if isinstance(ignore, list) else [])
              if isinstance(column, str)]
    kinds = table.get(features)
    named += [(f"{features}.{column}", column) for column in (kinds if isinstance(kinds, dict) else {})]
    return named


def check_schema_files(text: str, log_path: str, catalogue_path: str) -> None:
    """Checks before anything is uploaded what a worker would refuse later: the catalogue file exists, and every
    column the schema's ``[logs]`` and ``[catalogue]`` name is in the log's and the catalogue's header.
    Raises ``InvalidRequest`` naming the file and the column."""
    import tomllib

    document = tomllib.loads(text)
    if not os.path.isfile(catalogue_path):
        raise InvalidRequest(f"the schema's [catalogue] file {catalogue_path} does not exist")
    for section, path, what, roles, features in (
            ("logs", log_path, "log", _LOG_ROLES, "user_features"),
            ("catalogue", catalogue_path, "catalogue", ("item",), "item_features")):
        table = document.get(section)
        if not isinstance(table, dict):
            raise InvalidRequest(f"the schema has no [{section}] table")
        header = set(_csv_header(path, what))
        for place, column in _named_columns(table, roles, features):
            if column not in header:
                raise InvalidRequest(f"the schema's [{section}] {place}: no \"{column}\" column in the header of "
                                     f"{path} (columns: {', '.join(sorted(header))})")


#: The dataset names a train spec takes (PROTOCOL.md, "Train spec"); anything else must be a local file to upload.
DATASET_NAME_PREFIXES = ("sha256:", "obd:", "synthetic:")
# The dataset name a spec is checked with before its upload has named the dataset.
_PENDING_UPLOAD = "sha256:" + "0" * 64


def train(dataset, schema=None, *, timeout=None, **options):
    """Generator of ``train``: uploads ``dataset`` first when it is a local file or a pandas DataFrame
    (numeric, with a ``label`` column), then submits the job and returns the job document (stored
    durably before the reply). With ``schema`` (a TOML file's path or TOML text), ``dataset`` is a
    shop's impression log: the log and the catalogue the schema names are uploaded, and the job gets
    the schema's text and ``catalogue`` (``sha256:<hex>``). The options are checked before anything is
    uploaded; a dataset that is neither a local file nor a dataset name is ``InvalidRequest``."""
    if schema is not None:
        text, catalogue_path = read_schema(schema)
        path = os.fspath(dataset) if isinstance(dataset, (str, os.PathLike)) else None
        if path is None or not os.path.isfile(path):
            raise InvalidRequest("with a schema, dataset must be the path of the impression log CSV")
        check_schema_files(text, path, catalogue_path)  # before uploading, naming the file and the column
        spec = train_spec(_PENDING_UPLOAD, text, catalogue=_PENDING_UPLOAD, **options)  # checked before uploading
        spec["dataset"] = yield from upload_path(path, timeout=timeout)
        spec["catalogue"] = yield from upload_path(catalogue_path, timeout=timeout)
        (job,) = yield [job_control("train", train=spec, timeout=timeout)]
        return job
    name = os.fspath(dataset) if isinstance(dataset, os.PathLike) else dataset
    frame = hasattr(dataset, "columns") and hasattr(dataset, "to_numpy")  # a pandas DataFrame with a label column
    local = not frame and isinstance(name, str) and os.path.isfile(name)
    if not frame and not local and (isinstance(dataset, os.PathLike) or (
            isinstance(name, str) and not name.startswith(DATASET_NAME_PREFIXES))):
        raise InvalidRequest(f"dataset {name!r} is neither a file here nor a dataset name (sha256:<hex> of an upload, "
                             "obd:…, synthetic:…)")
    spec = train_spec(_PENDING_UPLOAD if frame or local else name, schema, **options)  # checked before uploading
    if frame:
        from .frames import csv_bytes

        try:
            data = csv_bytes(dataset)
        except ValueError as error:
            raise InvalidRequest(str(error)) from None
        spec["dataset"] = yield from upload_bytes(data, "dataframe.csv", timeout=timeout)
    elif local:
        spec["dataset"] = yield from upload_path(name, timeout=timeout)
    (job,) = yield [job_control("train", train=spec, timeout=timeout)]
    return job


def _check_page(page: dict, cursor: int, limit: int) -> None:
    """Raises ProtocolViolation unless ``page`` is the impressions page PROTOCOL.md describes for ``after`` =
    ``cursor`` and ``limit``: ``impressions`` (at most ``limit`` rows, ``seq`` ints rising past ``cursor``, each
    ``record`` an object whose ``slate`` and ``propensities`` are lists of one length, ``clicks`` and ``dwell``
    objects) and ``next_after``: the last row's ``seq`` when the page is full, ``null`` otherwise (a ``null`` on
    a full page would end the log early, silently)."""
    def fault(problem):
        return ProtocolViolation(f"the CONTROL impressions page after {cursor} {problem}")

    for key in ("impressions", "next_after", "spec"):
        if key not in page:
            raise fault(f"has no {key!r}")
    impressions, following = page["impressions"], page["next_after"]
    if not isinstance(impressions, list) or len(impressions) > limit:
        raise fault(f"has impressions of type {type(impressions).__name__} (at most {limit} rows expected)")
    last = cursor
    for row in impressions:
        seq = row.get("seq") if isinstance(row, dict) else None
        if not is_integer(seq) or seq <= last:
            raise fault(f"holds a row whose seq {seq!r} does not follow {last}")
        last = seq
        record = row.get("record")
        if (not isinstance(record, dict) or not isinstance(record.get("slate"), list)
                or not isinstance(record.get("propensities"), list)
                or len(record["slate"]) != len(record["propensities"])
                or not isinstance(record.get("impression_id"), str) or not is_integer(record.get("created_ms"))
                or not is_integer(record.get("version"))
                or not isinstance(row.get("clicks"), dict) or not isinstance(row.get("dwell", {}), dict)):
            raise fault(f"holds a malformed row {seq}: its record needs an impression_id, created_ms, version, and "
                        "a slate and propensities of one length, and the row clicks and dwell objects")
    expected = last if len(impressions) == limit else None
    if following != expected:
        raise fault(f"holds {len(impressions)} of {limit} rows with next_after {following!r}; expected {expected!r}")


def impression_log(after: int = 0, page_size: int = 1000, *, timeout=None):
    """Generator of every impression after ``after``, page by page; returns ``(rows, spec)``.

    Raises:
        InvalidRequest: ``after`` not an int in 0…2**64 − 1, ``page_size`` not an int in 1…10,000 (the
            ``limit`` CONTROL ``impressions`` takes).
        ProtocolViolation: a page that is not what PROTOCOL.md describes (see :func:`_check_page`): a key
            missing, rows out of order or malformed, or a ``next_after`` other than the last row's ``seq`` on a
            full page and ``null`` on a page that is not full.
    """
    cursor = integer(after, "after", 0, U64_MAX)
    limit = integer(page_size, "page_size", 1, MAX_PAGE_SIZE)
    rows: List[dict] = []
    spec = None
    while True:
        (page,) = yield [control("impressions", {"after": cursor, "limit": limit}, timeout=timeout)]
        _check_page(page, cursor, limit)
        rows.extend(page["impressions"])
        spec = page["spec"] or spec
        if page["next_after"] is None:
            return rows, spec
        cursor = page["next_after"]


def check_job(document, what: str = "job") -> dict:
    """``document`` if it is a job as PROTOCOL.md describes one, enough to follow it: an object with a string
    ``job`` id and a ``state`` among queued, running, completed, failed, cancelled.

    Raises:
        ProtocolViolation: otherwise; a job in a state nobody knows would be followed forever.
    """
    if not isinstance(document, dict) or not isinstance(document.get("job"), str) or not document["job"]:
        raise ProtocolViolation(f"the {what} reply is not a job with a string id: {document!r}")
    if document.get("state") not in JOB_STATES:
        raise ProtocolViolation(f"the {what} reply gives job {document['job']} the state {document.get('state')!r}, "
                                f"not one of {', '.join(sorted(JOB_STATES))}")
    return document
