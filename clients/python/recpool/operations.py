"""What each call sends and how its reply is read, independent of sockets and of sync/async.

A simple call is a :class:`Call`: a request (command, payload frames, version pin) and a function
that turns the OK reply into a result. A call of several steps (scoring more rows than one request
may hold, an upload in chunks, paging the impression log) is a generator that yields lists of
calls and is sent back their results; :class:`~recpool.Client` and :class:`~recpool.AsyncClient`
run the same generators, one blocking and one awaiting. This module holds the argument checks, the
calls' frame, SCORE, RECOMMEND, FEEDBACK and STATUS; the CONTROL plane's calls are in
:mod:`recpool.control_plane`, re-exported here.
"""
from __future__ import annotations

import json
import math
import numbers
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from .errors import Conflict, InvalidRequest, ProtocolViolation, RecPoolError
from .results import FeedbackAck, Health, Scores, Slate, Timings
from .wire import (FLAG_EXACT_VERSION, HEADER_BYTES, MESSAGE_LIMIT_BYTES, MESSAGE_LIMIT_FRAMES, TENSOR_SHAPE_BYTES,
                   Command, Header, MalformedReply, decode_tensor, tensor_frame)

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
#: The keys of a RECOMMEND reply, of one of its items, and of a policy's exploration (PROTOCOL.md, "RECOMMEND").
SLATE_KEYS = ("items", "source", "model_version", "impression_id", "exploration")
SLATE_ITEM_KEYS = ("item", "id", "score", "position", "propensity")
EXPLORATION_KEYS = ("kind", "epsilon", "temperature")
# Bytes of a SCORE message besides its rows: the header and the tensor's shape.
_SCORE_OVERHEAD_BYTES = HEADER_BYTES + TENSOR_SHAPE_BYTES


# ---------------------------------------------------------------- argument checks

def is_integer(value) -> bool:
    """Whether ``value`` is an integer, Python's or numpy's; a bool is not one here."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """Whether ``value`` is a real number (int, float or numpy's); bools and strings are not."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_finite_number(value) -> bool:
    """Whether ``value`` is a real number (``is_number``) that is finite as a float: an int too large for a float
    (``10**400``, which ``float()`` refuses with ``OverflowError``) is not."""
    if not is_number(value):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


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
    # Compared as a Python int: a numpy scalar of a narrow type compared with a wide bound converts the bound.
    if not is_integer(value) or (low is not None and int(value) < low) or (high is not None and int(value) > high):
        raise InvalidRequest(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    return int(value)


def number(value, name: str, low: Optional[float] = None, high: Optional[float] = None) -> float:
    """``value`` as a float, checked: a real number (no bool, no string), finite and within ``low``…``high``.

    Raises:
        InvalidRequest: naming ``name`` and the rule.
    """
    # Compared as a Python float: np.float16(1) < 1e9 casts 1e9 to float16 (a RuntimeWarning, an error under -W error).
    if (not is_finite_number(value) or (low is not None and float(value) < low)
            or (high is not None and float(value) > high)):
        raise InvalidRequest(f"{name} must be a finite number{_range(low, high)}, got {value!r}")
    return float(value)


def seconds(value, name: str) -> float:
    """A duration such as a timeout: a finite number of seconds, more than 0 and at most ``MAX_SECONDS``.

    Raises:
        InvalidRequest: naming ``name`` and the rule (``inf`` and ``1e20`` included: their deadline
            does not fit the header).
    """
    if not is_finite_number(value) or not 0 < float(value) <= MAX_SECONDS:
        raise InvalidRequest(f"{name} must be a finite number of seconds > 0 and ≤ {_show(MAX_SECONDS)}, "
                             f"got {value!r}")
    return float(value)


def deadline_seconds(value) -> float:
    """An absolute deadline: finite epoch seconds, more than 0 and at most ``MAX_SECONDS`` from now.

    Raises:
        InvalidRequest: naming ``deadline`` and the rule.
    """
    # A 32-bit float holds an epoch time only to the nearest 128 s (now − 34 s became the deadline of a 5 s call).
    if isinstance(value, (np.float16, np.float32)):
        raise InvalidRequest(f"deadline must be epoch seconds as a Python or 64-bit number, got {type(value).__name__} "
                             f"{value!r}, which holds an epoch time only to the nearest 128 s")
    if (not is_finite_number(value) or float(value) <= 0
            or float(value) > time.time() + MAX_SECONDS):
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
    #: For one request of a split ``score``: the row of the call its first row is. A worker's refusal naming a row
    #: of the request ("row 808 (0-based): …") is renamed by its row among all the call's rows.
    first_row: int = 0
    #: For one batch of ``score_many``: its 0-based index, which every error about the batch names (see
    #: :func:`in_batch`); ``None`` for any other call.
    batch: Optional[int] = None

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


class _RepeatedKey(Exception):
    """A JSON object with a key twice (raised out of :func:`json.loads` by :func:`_unique_keys`)."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list) -> dict:
    """``json.loads``'s ``object_pairs_hook``: the object as a dict, or :class:`_RepeatedKey` for a key it holds
    twice. Keys are compared as read, escapes resolved (``"click"`` and ``"\\u0063lick"`` are one key), as
    PROTOCOL.md says every reader compares them; :func:`json.loads` alone kept the last value."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return document


def json_frame(reply: Reply, what: str) -> dict:
    """The reply's frame 1 as a JSON object.

    Raises:
        ProtocolViolation: no frame, not UTF-8 JSON, not an object, a NaN or infinity in it (``NaN``,
            ``Infinity`` or a number too large for a double, which :func:`json.loads` would accept), or an object
            in it (the document or one nested in it) with a key twice, naming the key (PROTOCOL.md: "A key appears
            at most once in an object"; :func:`json.loads` would keep the last value).
    """
    frame = _first_frame(reply, what)
    try:
        document = json.loads(bytes(frame), parse_constant=_refuse_constant, parse_float=_finite_float,
                              object_pairs_hook=_unique_keys)
    except _RepeatedKey as repeated:
        raise ProtocolViolation(f"the {what} reply holds the key {repeated.key!r} twice in one object (a key appears "
                                "at most once: which value would count?)", reply.header) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ProtocolViolation(f"the {what} reply is not the protocol's JSON: {error}", reply.header) from None
    if not isinstance(document, dict):
        raise ProtocolViolation(f"the {what} reply is a JSON {type(document).__name__}, not an object", reply.header)
    return document


def wire_key(key: str) -> str:
    """A document key as the broker's decoder compares keys (PROTOCOL.md, "A key appears at most once": snake case is
    taken as camel case, as Swift's ``convertFromSnakeCase`` does): ``model_version``, ``modelVersion`` and
    ``MODEL_VERSION`` are all ``modelVersion``; a key without an underscore is compared as written."""
    core = key.strip("_")
    parts = [part for part in core.split("_") if part]
    if len(parts) <= 1:
        return key
    lead = key[:len(key) - len(key.lstrip("_"))]
    trail = key[len(key.rstrip("_")):]
    return lead + parts[0].lower() + "".join(part.capitalize() for part in parts[1:]) + trail


def document_keys(document, keys: Sequence[str], reply: Optional[Reply], what: str):
    """``document`` (a JSON object the spec describes) with each key that the broker reads as one of ``keys`` renamed
    to it (``modelVersion`` → ``model_version``), other keys kept as written; a non-object is returned as it is.
    The keys of a map inside it (``user_features``, ``metrics``) are data and are left alone.

    Raises:
        ProtocolViolation: two keys that are one key (``model_version`` and ``modelVersion``, or two spellings of a
            key the spec does not list, such as ``promoted_at`` and ``promotedAt``), which the broker refuses too.
    """
    if not isinstance(document, dict):
        return document
    spec = {wire_key(name): name for name in keys}
    out = {}
    seen = {}
    for key, value in document.items():
        wire = wire_key(key)
        name = spec.get(wire, key)
        if wire in seen:
            raise ProtocolViolation(f"the {what} reply holds the key {name!r} twice (as {seen[wire]!r} and {key!r})",
                                    reply.header if reply is not None else None)
        seen[wire] = key
        out[name] = value
    return out


def integral(value):
    """``value`` as the int an "int" field holds, or ``None``: an integer, or a JSON number with a zero fraction
    (``1.0``, ``1e0``) within a double's exact integers (±2⁵³), as the broker's decoder reads an int; never a bool."""
    if is_integer(value):
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2 ** 53:
        return int(value)
    return None


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
        frame = json.dumps(document, allow_nan=False, separators=(",", ":"), default=_json_value).encode()
    except (TypeError, ValueError, RecursionError) as error:
        # json's "Out of range float values are not JSON compliant" names neither the value nor the argument.
        found = _non_finite_path(document) if isinstance(error, ValueError) else None
        if found is not None:
            where, value = found
            raise InvalidRequest(f"cannot encode the request: {where} is {value!r}: the protocol's JSON holds no NaN or "
                                 "infinity") from None
        raise InvalidRequest(f"cannot encode the request: {error}") from None
    # A lone surrogate (such as "\ud800", which a str may hold and JSON's escapes carry) is no Unicode text: the broker
    # refused it as "unexpected end of file during string parse", naming neither the field nor why. A surrogate pair
    # ("\ud83d\ude00") is one character and goes as its two escapes, which every JSON reader joins.
    if b"\\ud" in frame:
        found = _surrogate_path(document)
        if found is not None:
            where, code = found
            raise InvalidRequest(f"{where} holds a lone surrogate (U+{code:04X}), which is not Unicode text and "
                                 "cannot be sent as UTF-8")
    return frame


def _lone_surrogate(text: str) -> Optional[int]:
    """The first surrogate code point in ``text`` that is not half of a high-then-low pair, or None."""
    index = 0
    while index < len(text):
        code = ord(text[index])
        if 0xD800 <= code <= 0xDBFF and index + 1 < len(text) and 0xDC00 <= ord(text[index + 1]) <= 0xDFFF:
            index += 2
            continue
        if 0xD800 <= code <= 0xDFFF:
            return code
        index += 1
    return None


def _first_in(value, leaf, key=None, path: str = ""):
    """The first finding in a JSON document, depth first in document order: ``leaf(value, path)`` for each value that
    is no dict, list or tuple, and ``key(name, path)`` for each dict key when given; None if none. A path reads as
    ``train['lr']`` or ``rows[2]``."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            found = key(name, path) if key is not None else None
            if found is None:
                found = _first_in(item, leaf, key, f"{path}[{name!r}]" if path else str(name))
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _first_in(item, leaf, key, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    return leaf(value, path)


def _non_finite_leaf(value, path: str) -> Optional[Tuple[str, float]]:
    if isinstance(value, (float, np.floating)):
        return None if math.isfinite(value) else (path or "a value", float(value))
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        return (f"{path}{list(index)}", float(value[index]))
    return None


def _non_finite_path(value) -> Optional[Tuple[str, float]]:
    """Where in a document a NaN or an infinity is, such as ``train['lr']``, and the value; None if none."""
    return _first_in(value, _non_finite_leaf)


def _surrogate_path(value) -> Optional[Tuple[str, int]]:
    """Where in a document a string holding a lone surrogate is, such as ``user_features['segment']``, and the
    surrogate; None if none."""
    def leaf(text, path):
        code = _lone_surrogate(text) if isinstance(text, str) else None
        return None if code is None else (path or "a string", code)

    def key(name, path):
        code = _lone_surrogate(name) if isinstance(name, str) else None
        return None if code is None else (f"a key of {path}" if path else "a key", code)

    return _first_in(value, leaf, key)


# ---------------------------------------------------------------- SCORE

def as_rows(rows) -> np.ndarray:
    """The rows as a C-contiguous float32 matrix, without a copy when they already are one. A DataFrame's one column
    named exactly ``label`` is left out, as ``recpool score --input`` leaves a CSV's out (a feature's position in an
    error then counts the features only).

    Raises:
        InvalidRequest: not 2-D (a 1-D array is one row), empty, or holding NaN, infinity or a finite
            value beyond float32's range (such as ``1e39``, which would be sent as infinity), naming the
            first such row and feature (a DataFrame's missing ``<NA>`` as missing); rows given as lists that are not
            rectangular, naming the row of another length (see :func:`_ragged`); a DataFrame whose only column is
            ``label`` (no feature to score) or that has two; a DataFrame column of a dtype that is not numpy's real
            numbers, named with its own dtype (see :func:`_offending_column`); something that is no rows at all
            (``None``, bytes, a set, a generator, a single number), named by its type; a value that is not a real
            number (``None``, a string, a boolean) in rows given as lists, named by its row and feature; a masked value, in a masked array or in a
            masked row of a list; a memoryview numpy cannot read, or of no numbers, named by its format (one of
            numbers is read as the array it views, ``np.asarray(view)``, and checked as that array).
    """
    if isinstance(rows, np.ma.MaskedArray) and np.ma.is_masked(rows):
        # np.asarray would drop the mask and send the values under it as if they were data.
        raise InvalidRequest("rows are a masked array with masked values: fill them (rows.filled(...)) or drop "
                             "those rows; the values under a mask would be sent as data")
    if _is_bytes(rows):
        # np.asarray(bytearray(n)) is n uint8 features: the bytes of a buffer are no row of numbers.
        raise InvalidRequest(f"rows must be numbers, got {type(rows).__name__} (bytes are not read as features: "
                             "np.frombuffer(data, dtype=...) reads a buffer's numbers)")
    if isinstance(rows, memoryview):
        # A memoryview is read as the array it views: iterating one of 2 dimensions or more (as the checks of rows
        # given as lists do) raised NotImplementedError from inside these checks.
        rows = _memoryview_array(rows, "rows")
    masked = _first_masked(rows)
    if masked is not None:
        raise InvalidRequest(f"row {masked[0]}, feature {masked[1]} is masked: rows must hold no masked value (the "
                             "value under a mask would be sent as data); fill them (row.filled(...)) or drop those "
                             "rows")
    # A frame's `label` column is left out before anything reads it, as `recpool score --input` leaves a CSV's out:
    # the frame given to `train` was refused "rows have 107 features" when scored (and a nullable Int64 or text label
    # made the whole array one of objects, refused naming the label).
    rows = _without_label(rows)
    try:
        array = np.asarray(rows)
    except (TypeError, ValueError) as error:  # ragged lists: rows of different lengths
        # numpy's message ("inhomogeneous shape after 1 dimensions") named no row.
        raise InvalidRequest(f"rows must be a rectangular rows × features array: {_ragged(rows) or error}") from None
    if array.ndim == 0:
        # None, a set, a generator, a dict or a single number: numpy makes a 0-d array of it.
        raise InvalidRequest(f"rows must be a rows × features array of numbers (a numpy array, a DataFrame, a list "
                             f"of rows; a 1-D array is one row), got {_no_rows(rows)}")
    if array.ndim == 1:
        if array.size == 0:
            raise InvalidRequest("rows must have at least one row and one feature, got an empty sequence")
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise InvalidRequest(f"rows must be a 2-D array (rows × features), got {array.ndim} dimensions")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise InvalidRequest(f"rows must have at least one row and one feature, got shape {array.shape}")
    if array.shape[1] > MAX_COLUMNS:
        raise InvalidRequest(f"rows have {array.shape[1]} features; a SCORE row holds at most {MAX_COLUMNS} "
                             "(the broker's column limit, answered TOO_LARGE)")
    if not _real(array.dtype) or np.iscomplexobj(array):
        array = _numbers_of(rows, array)
    boolean = _first_bool(rows, array.shape)
    if boolean is not None:
        raise InvalidRequest(f"row {boolean[0]}, feature {boolean[1]} is {boolean[2]!r}: rows must be real numbers, "
                             "and booleans are not converted to 0 or 1")
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        missing = _missing_in_frame(rows, bad[0], bad[1])
        if missing is not None:
            # A nullable column's <NA> became NaN in the conversion: it is a missing value, not a number.
            raise _missing_refusal(bad[0], bad[1], *missing)
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
                # Shown as str() prints its own dtype: a longdouble 1e4000 is not a float, and float() (or format()) showed inf.
                raise InvalidRequest(f"row {row}, feature {col} is {str(array[row, col])}, beyond float32's range "
                                     f"(±{FLOAT32_MAX:.8g}): it would be sent as infinity, which is refused")
    return array


def _is_sequence(value) -> bool:
    """Whether ``value``, an item of rows given as a list, is a sequence (a row, or a feature that is no number): a
    list, a tuple, or an array (numpy's, a pandas Series) of one dimension or more."""
    return isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) >= 1


def _ragged(rows) -> Optional[str]:
    """For rows given as a list or tuple that ``np.asarray`` refused as ragged, where they stop being rectangular: the
    row of another length than the others (``row 1 has 2 features, row 0 has 3``), a single value among rows, or a
    feature that is itself a sequence; None when none is found (numpy's own message is then given)."""
    if not isinstance(rows, (list, tuple)) or not rows:
        return None
    rowlike = [_is_sequence(row) for row in rows]
    if rowlike[0] and not all(rowlike):
        r = rowlike.index(False)
        return f"row {r} is {_shown(rows[r])}, a single value, where row 0 is a row of {_features(len(rows[0]))}"
    if not rowlike[0]:  # one flat row holding a sequence
        c = rowlike.index(True) if any(rowlike) else None
        return None if c is None else f"row 0, feature {c} is a sequence ({_shown(rows[c])}), not a number"
    widths = [len(row) for row in rows]
    common = max(widths, key=lambda w: (widths.count(w), -widths.index(w)))  # the most rows' width; ties: the first's
    odd = next((r for r, w in enumerate(widths) if w != common), None)
    if odd is not None:
        return f"row {odd} has {_features(widths[odd])}, row {widths.index(common)} has {common}"
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if _is_sequence(value):
                return f"row {r}, feature {c} is a sequence ({_shown(value)}), not a number"
    return None


def _features(count: int) -> str:
    """``count`` features, for a message (``1 feature``, ``3 features``)."""
    return f"{count} feature" if count == 1 else f"{count} features"


def _missing_refusal(row: int, feature: int, name, shown: str) -> InvalidRequest:
    """The refusal of a DataFrame's missing value (``<NA>``, ``None``), at positions ``row`` and ``feature``."""
    return InvalidRequest(f"row {row}, feature {feature} (column {name!r}) is missing ({shown}): rows must hold no "
                          "missing value; fill them (frame.fillna(...)) or drop those rows")


def _missing_in_frame(rows, row: int, feature: int) -> Optional[Tuple[object, str]]:
    """For a pandas DataFrame, ``(column name, shown value)`` when the value at ``row`` and ``feature`` (positions) is
    missing (``<NA>``, ``None``, ``NaT``) rather than a NaN; None otherwise (an array, or a real NaN)."""
    if not hasattr(rows, "iloc") or not hasattr(rows, "columns"):
        return None
    try:
        value = rows.iloc[int(row), int(feature)]
        name = rows.columns[int(feature)]
    except (IndexError, TypeError, ValueError):
        return None
    if value is None:
        return name, "None"
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas.NA, pandas.NaT
        return name, str(value)
    return None


def _is_bytes(value) -> bool:
    """Whether ``value`` is bytes, a bytearray or a memoryview of either: a buffer of bytes, no row of numbers."""
    if isinstance(value, (bytes, bytearray)):
        return True
    if not isinstance(value, memoryview):
        return False
    try:
        return isinstance(value.obj, (bytes, bytearray)) or value.format == "c"
    except ValueError:  # a released view: no buffer at all, refused as such by _memoryview_array
        return False


def _memoryview_array(view: memoryview, what: str) -> np.ndarray:
    """The numpy array a memoryview views (its shape and strides kept, without a copy), for a view of numbers numpy
    reads; ``InvalidRequest`` naming the view's format otherwise (a released view, a format numpy does not read).
    A view of booleans or complex numbers becomes such an array, refused by the checks that follow."""
    try:
        array = np.asarray(view)
    except (TypeError, ValueError, NotImplementedError, BufferError) as error:
        raise InvalidRequest(f"{what} must be numbers, got a memoryview of format {_view_format(view)} that numpy "
                             f"cannot read as an array ({error}): pass a numpy array") from None
    if array.dtype.kind not in "iufbc":
        raise InvalidRequest(f"{what} must be numbers, got a memoryview of format {_view_format(view)} (numpy dtype "
                             f"{array.dtype.str}), which holds no numbers: pass a numpy array of ints or floats")
    return array


def _view_format(view: memoryview) -> str:
    """A memoryview's struct format for a message (``'?'`` when it was released)."""
    try:
        return repr(view.format)
    except ValueError:  # a released view
        return "'?' (the view was released)"


def _no_rows(rows) -> str:
    """What ``rows``, which numpy makes a 0-d array of, is, for :func:`as_rows`'s message."""
    name = type(rows).__name__
    if isinstance(rows, np.ndarray):
        return "a 0-d array (a single value)"
    if rows is None:
        return "None"
    if isinstance(rows, (set, frozenset)):
        return f"a {name} (a set has no order: pass a list of rows)"
    if isinstance(rows, Iterator):
        return f"a {name} (an iterator: pass list(...) of its rows, or score_many for a stream of batches)"
    if is_number(rows) or isinstance(rows, (bool, np.bool_)):
        return f"a single {name} ({rows!r}): a row is a sequence of features, e.g. [{rows!r}]"
    return f"a {name}"


def _first_masked(rows):
    """``(row, feature)`` of the first masked value in rows given as a list or tuple of rows (masked arrays, or lists
    holding ``numpy.ma.masked``), whose mask ``np.asarray`` would drop (sending the value under it as data, or NaN
    for ``numpy.ma.masked``); None if there is none. A masked array as a whole is checked by :func:`as_rows`."""
    if not isinstance(rows, (list, tuple)):
        return None
    for r, row in enumerate(rows):
        if row is np.ma.masked:  # a flat row holding numpy.ma.masked
            return 0, r
        if isinstance(row, np.ma.MaskedArray):
            if np.ma.is_masked(row):
                return r, int(np.flatnonzero(np.ma.getmaskarray(row))[0])
        elif isinstance(row, (list, tuple)):
            for c, value in enumerate(row):
                if value is np.ma.masked or (isinstance(value, np.ma.MaskedArray) and np.ma.is_masked(value)):
                    return r, c
    return None


def _python_values(rows, shape):
    """For rows given as Python sequences (not one numpy array, not a DataFrame), ``(row, feature, value)`` of each
    value as given, in row order, before ``np.asarray`` converted it; nothing for an array or a DataFrame. ``shape``
    is the 2-D shape ``np.asarray`` gave the rows. A row that is a numpy array of real numbers is judged by its dtype,
    without looking at its values one by one (a boolean one yields its first value)."""
    if isinstance(rows, np.ndarray) or hasattr(rows, "columns") or _numpy_readable(rows):
        return
    if not isinstance(rows, (list, tuple)):
        rows = list(rows)
    # A flat sequence is one row (np.asarray gave it shape (1, n)).
    flat = len(rows) == shape[1] and shape[0] == 1 and not isinstance(rows[0], (list, tuple, np.ndarray))
    for r, row in enumerate([rows] if flat else rows):
        if isinstance(row, np.ndarray):
            if row.dtype.kind == "b":
                yield r, 0, row.reshape(-1)[0]
                continue
            if _real(row.dtype):
                continue
            row = row.reshape(-1).tolist()
        for c, value in enumerate(row):
            yield r, c, value


def _without_label(rows):
    """``rows`` without its one column named exactly ``label`` (the training label, which is no feature) when it is a
    DataFrame (pandas or polars); anything else as it is.

    Raises:
        InvalidRequest: the frame has several columns named ``label``, as ``recpool score --input`` refuses a CSV
            header naming it twice (left to the width check, both were scored as features when the width fitted); or
            ``label`` is its only column, as the CLI refuses such a CSV ("no feature columns: its only column is
            'label'"; kept, the labels were scored as the features)."""
    columns = getattr(rows, "columns", None)
    if columns is None or isinstance(rows, np.ndarray):
        return rows
    try:
        names = list(columns)
    except TypeError:
        return rows
    labels = sum(1 for name in names if isinstance(name, str) and name == "label")
    if labels > 1:
        raise InvalidRequest(f"the frame has {labels} columns named 'label': a frame's label column is left out of "
                             "the features, so it may hold only one; rename or remove the others")
    if labels != 1:
        return rows
    if len(names) == 1:
        raise InvalidRequest("the frame has no feature columns: its only column is 'label', which is left out of the "
                             "features (as `recpool score --input` leaves a CSV's out)")
    try:
        return rows.drop(columns=["label"])  # pandas
    except TypeError:
        return rows.drop("label")  # polars


def _numpy_readable(rows) -> bool:
    """Whether ``rows`` gives numpy its own array (``__array__``, the array interface or the buffer protocol's
    struct: an xarray ``DataArray``, a torch or dask array): its dtype then says what it holds, and walking it value by
    value in Python (as rows given as lists are walked for booleans) took seconds for a thousand rows, or raised a
    bare ``TypeError`` for one that is not iterable."""
    if isinstance(rows, (list, tuple)):
        return False
    return any(hasattr(rows, name) for name in ("__array__", "__array_interface__", "__array_struct__"))


def _first_bool(rows, shape):
    """For rows given as Python sequences (not one numpy array, not a DataFrame), the first ``(row, feature, value)``
    holding a boolean, Python's or numpy's, that ``np.asarray`` turned into a number because numbers sat beside it;
    None if there is none. ``shape`` is the 2-D shape ``np.asarray`` gave the rows."""
    return next(((r, c, v) for r, c, v in _python_values(rows, shape) if isinstance(v, (bool, np.bool_))), None)


def _numbers_of(rows, array: np.ndarray) -> np.ndarray:
    """``array`` (``np.asarray(rows)``, 2-D, of a dtype that is not real numbers) as float64 when every value is a
    real number (an int beyond int64, such as ``2**70``, makes numpy keep Python objects); else InvalidRequest naming
    the first value that is not one by its row and feature (rows given as lists or an object array), or the dtype
    (an array or a DataFrame of another dtype)."""
    if hasattr(rows, "columns") or (isinstance(rows, np.ndarray) and array.dtype.kind != "O"):
        # A frame's column of another dtype is named by its own dtype (Float64, boolean): numpy's conversion of the
        # whole frame (object) says nothing the caller gave.
        offending = _offending_column(rows)
        raise InvalidRequest(f"rows must be real numbers{offending}" if offending
                             else f"rows must be real numbers, got dtype {array.dtype}")
    if isinstance(rows, np.ndarray) or not isinstance(rows, (list, tuple)):
        values = ((r, c, array[r, c]) for r in range(array.shape[0]) for c in range(array.shape[1]))
    else:
        values = _python_values(rows, array.shape)
    for r, c, value in values:
        if not is_number(value):
            rule = ("booleans are not converted to 0 or 1" if isinstance(value, (bool, np.bool_))
                    else "a feature is an int or a float")
            raise InvalidRequest(f"row {r}, feature {c} is {_shown(value)}: rows must be real numbers, {rule}")
    if array.dtype.kind != "O":
        raise InvalidRequest(f"rows must be real numbers, got dtype {array.dtype}")
    try:
        return array.astype(np.float64)
    except OverflowError:  # an int too large for a double (10**400): beyond float32's range, as 1e39 is
        for (r, c), value in np.ndenumerate(array):
            if is_number(value) and not is_finite_number(value):
                raise InvalidRequest(f"row {r}, feature {c} is {_shown(value)}, beyond float32's range "
                                     f"(±{FLOAT32_MAX:.8g}): it would be sent as infinity, which is refused") from None
        raise


def _shown(value) -> str:
    """``value`` for a message: its repr, or for an int of many digits its size (``10**400`` has 401)."""
    if is_integer(value) and abs(int(value)) >= 10 ** 40:
        return f"an integer of {len(str(abs(int(value))))} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _real(dtype) -> bool:
    """Whether ``dtype`` is a numpy dtype of real numbers (ints or floats; timedelta64 counts as a signed integer to
    numpy, kind "m": only booleans' and numbers' kinds are values)."""
    return isinstance(dtype, np.dtype) and dtype.kind in "iuf" and np.issubdtype(dtype, np.number)


def _offending_column(rows) -> str:
    """For a DataFrame (anything with ``columns`` and per-column ``dtypes``), the first column whose dtype is not
    numpy's real numbers, as a clause for :func:`as_rows`'s message (one such column, a pandas nullable ``Float64``
    or ``Int64``, a bool, text or a date, makes the whole frame an ``object`` array); else ``""``."""
    columns, dtypes = getattr(rows, "columns", None), getattr(rows, "dtypes", None)
    if columns is None or dtypes is None:
        return ""
    try:
        pairs = list(zip(columns, dtypes))
    except TypeError:
        return ""
    for position, (name, dtype) in enumerate(pairs):
        if not _real(dtype):
            return (f": column {name!r} (column {position}) has dtype {dtype} (convert the columns to numpy floats "
                    "first, e.g. frame.astype('float32'), with a nullable column's missing values filled)")
    return ""


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


def score_call(chunk: np.ndarray, pin: Tuple[int, int], timeout, deadline, first_row: int = 0,
               batch: Optional[int] = None) -> Call:
    """One SCORE request for ``chunk`` (at most the row limit), pinned by ``pin`` = (version, flags); a reply
    from a version the pin excludes is a ``ProtocolViolation``, and so is a score that is no probability, named by
    its row among all the call's rows (the chunk starts at ``first_row``). For ``score_many``'s batch ``batch``, such
    a ProtocolViolation names the batch too (:func:`in_batch`), as the client names a refusal of it."""
    expected = chunk.shape[0]

    def parse(reply: Reply):
        try:
            return parse_scores(reply)
        except ProtocolViolation as error:
            raise in_batch(error, batch) from None

    def parse_scores(reply: Reply):
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
            raise ProtocolViolation(f"SCORE reply: row {first_row + row} has score {float(values[row])}, not a "
                                    "probability in [0, 1]", reply.header)
        return values, reply.header

    return Call(Command.SCORE, [tensor_frame(chunk)], parse, pin[0], pin[1], retry_busy=True,
                timeout=timeout, deadline=deadline, first_row=first_row, batch=batch)


def in_batch(error: RecPoolError, batch: Optional[int]) -> RecPoolError:
    """``error`` (a refusal, a ProtocolViolation, an InvalidRequest) about ``score_many``'s batch ``batch``, as one of
    the same class whose message starts ``score_many batch 3: `` and whose ``batch`` is 3 (a row the message names
    is counted within that batch); ``error`` itself when ``batch`` is ``None`` (a call of no batch)."""
    if batch is None:
        return error
    named = type(error)(f"score_many batch {batch}: {error.message}", error.header)
    named.batch = batch
    return named


def renumbering_row(message: str, first_row: int) -> str:
    """A worker's refusal of one request of a split ``score`` ("row 808 (0-based): …; no row of this request was
    scored"), named by the row among all the call's rows when the request starts at ``first_row``; any other message
    as it is (the Swift client does the same)."""
    marker = " (0-based)"
    if first_row <= 0 or not message.startswith("row ") or marker not in message:
        return message
    digits, rest = message[4:].split(marker, 1)
    if not digits.isdigit():
        return message
    rest = rest.replace("no row of this request was scored", "none of that request's rows was scored")
    return f"row {first_row + int(digits)} (0-based) of all the rows{rest}"


#: The request bytes one ``score`` call keeps in flight: under the smallest ``--client-bytes`` a broker may have (16 MiB;
#: the default is 64 MiB), so that a batch of any size goes through instead of being refused ``BUSY`` once its
#: requests pass the broker's per-client budget.
IN_FLIGHT_BYTES = 12 * 1024 * 1024

#: How many times :func:`score` sends again the parts a rollout left on another version before it gives up with
#: ``Conflict`` (``RecPoolClient.rolloutRounds`` in Swift).
ROLLOUT_ROUNDS = 4


def request_bytes(call: "Call") -> int:
    """The bytes a call's request holds in the broker: its payload frames (what ``--client-bytes`` counts)."""
    return sum(memoryview(frame).nbytes for frame in call.payload)


class Windowed(list):
    """Calls a plan yields that the client sends at most ``window`` at a time (the next one when a reply frees a
    place), instead of all at once."""

    def __init__(self, calls, window: int):
        super().__init__(calls)
        self.window = window


def score(rows, *, min_version=None, exact_version=None, timeout=None, deadline=None,
          max_rows: int = DEFAULT_MAX_ROWS):
    """Generator of the ``score`` call: one SCORE per :func:`rows_per_request` rows (``max_rows``, fewer
    for rows so wide that the message limit comes first), sent together, at most :data:`IN_FLIGHT_BYTES` of them
    in flight at a time (a window of whole requests, at least one).

    When the requests were answered by different versions (a rollout in between), the others are sent
    again pinned to the version the pool is moving to (the promoted one, from STATUS, when it answered
    some; else the highest number), so the call's rows share one version; when the pool moves on again
    meanwhile (that pin answered CONFLICT), STATUS is asked again, at most :data:`ROLLOUT_ROUNDS` times, then
    ``Conflict`` says the version kept changing.
    """
    array = as_rows(rows)
    pin = version_pin(min_version, exact_version)
    per_request = rows_per_request(array.shape[1], integer(max_rows, "max_rows", 1, DEFAULT_MAX_ROWS))
    chunks = [array[i:i + per_request] for i in range(0, array.shape[0], per_request)]
    window = max(1, IN_FLIGHT_BYTES // (per_request * array.shape[1] * 4 + _SCORE_OVERHEAD_BYTES))
    # Which model serves each number before the parts go out, and again after: one number may name two models in turn
    # (version 0, every unregistered model; any number on a broker without a registry), and parts scored across such
    # a change were merged as one version's scores.
    before = (yield from _status_or_none(timeout)) if len(chunks) > 1 else None
    results = yield Windowed([score_call(c, pin, timeout, deadline, i * per_request) for i, c in enumerate(chunks)],
                             window)
    rounds = 0
    last_refusal = None
    while len({header.model_version for _, header in results}) > 1:
        versions = [header.model_version for _, header in results]
        # The version the pool is moving to: the promoted one when it answered some (a rollback moves the pool to a
        # lower number, and parts pinned to the higher one it leaves would be refused CONFLICT), else the highest.
        (document,) = yield [status(timeout=timeout)]
        promoted = document.get("promoted_version") if isinstance(document, dict) else None
        newest = promoted if promoted in versions else max(versions)
        if rounds == ROLLOUT_ROUNDS:
            seen = ", ".join(str(v) for v in sorted(set(versions)))
            raise Conflict(f"the served model version kept changing while this call's {len(chunks)} requests were "
                           f"scored (versions {seen}): no one version scored every row; call again once the rollout ends"
                           + (f" (the last refusal: {last_refusal})" if last_refusal else ""))
        rounds += 1
        redo = [i for i, v in enumerate(versions) if v != newest]
        try:
            again = yield Windowed([score_call(chunks[i], (newest, FLAG_EXACT_VERSION), timeout, deadline,
                                               i * per_request) for i in redo], window)
        except Conflict as refusal:
            # The pool moved on again while these parts were sent (this call's own pin, not the caller's): ask
            # STATUS which version it is moving to now.
            last_refusal = refusal.message
            continue
        for i, result in zip(redo, again):
            results[i] = result
    headers = [header for _, header in results]
    if before is not None:
        after = yield from _status_or_none(timeout)
        version = headers[0].model_version
        was, now = models_serving(version, before), models_serving(version, after)
        # Nothing serving the number afterwards is a rollout that moved every worker on (a promotion after the
        # parts were answered): no other model served it, and the call was refused with "a worker drained, left or
        # joined" when no worker had.
        if after is not None and was and now and was != now:
            raise Conflict(f"the model serving version {version} changed while this call's {len(chunks)} requests were "
                           f"scored ({', '.join(sorted(was))} before, {', '.join(sorted(now))} after: a worker drained, "
                           "left or joined with another model under that number), so its rows may have been scored by "
                           "two models; call again")
    values = results[0][0] if len(results) == 1 else np.concatenate([v for v, _ in results])
    timings = Timings(max(h.broker_queue_us for h in headers), max(h.worker_queue_us for h in headers),
                      max(h.compute_us for h in headers))
    return Scores(values, headers[0].model_version, len(results), timings)


def _status_or_none(timeout):
    """The STATUS document, or ``None`` when the broker does not answer it (a role that may not ask, say): a generator
    step of a call."""
    try:
        (document,) = yield [status(timeout=timeout)]
    except RecPoolError:
        return None
    return document if isinstance(document, dict) else None


def models_serving(version: int, document) -> frozenset:
    """The models that serve SCORE under ``version`` in a STATUS ``document`` (workers offering SCORE, not draining,
    not idle, not ``unverified``: a claim the registry does not hold takes no work), each named by its weights' SHA-256, else its seed, else its source: one element while one model
    serves the number, as the broker routes a number to one model at a time."""
    if not isinstance(document, dict) or not isinstance(document.get("workers"), list):
        return frozenset()
    names = set()
    for worker in document["workers"]:
        if (not isinstance(worker, dict) or worker.get("model_version") != version
                or "SCORE" not in (worker.get("services") or []) or worker.get("draining")
                or worker.get("idle_reason") is not None or worker.get("model_source") == "unverified"):
            continue
        sha, seed = worker.get("model_sha256"), worker.get("model_seed")
        names.add(f"sha256 {sha[:12]}" if isinstance(sha, str) else
                  f"the model seeded with {seed}" if seed is not None else str(worker.get("model_source")))
    return frozenset(names)


def score_batches(batches, pin: Tuple[int, int], timeout, deadline, max_rows: int):
    """The SCORE calls of ``score_many``, one per batch, taken lazily as the client sends them.

    Raises:
        InvalidRequest: at once, when ``batches`` is not an iterable of batches (a 2-D array would be taken
            row by row, as one-row batches); when a batch is taken that is not valid rows (see :func:`as_rows`)
            or does not fit in one request (:func:`rows_per_request`), naming the batch by its index.
    """
    what = "batches must be an iterable of rows × features batches (a list, a generator, a 3-D array), got"
    given = type(batches).__name__
    if isinstance(batches, memoryview) and not _is_bytes(batches):
        # As the array it views: iterating a memoryview of 2 dimensions or more raised NotImplementedError.
        batches = _memoryview_array(batches, "batches")
    if hasattr(batches, "columns") and hasattr(batches, "to_numpy"):
        # Iterating a DataFrame gives its column names, each then refused as a batch that is no rows.
        raise InvalidRequest(f"{what} a {type(batches).__name__} of shape {batches.shape}, which would go column name "
                             "by column name: for one batch use score(frame), for several pass a list of DataFrames")
    if (isinstance(batches, (str, bytes, Mapping)) or not isinstance(batches, Iterable)
            or (isinstance(batches, np.ndarray) and batches.ndim < 3)):
        shape = f" of shape {batches.shape}: for one batch use score()" if isinstance(batches, np.ndarray) else ""
        raise InvalidRequest(f"{what} {given}{shape}")
    if isinstance(batches, (list, tuple)) and batches and all(_plain_row(item) for item in batches):
        # As a 2-D array would: [[0.5, …], [0.5, …]] is one batch's rows, and would go row by row.
        kind = "numbers" if all(is_number(item) for item in batches) else "lists of numbers"
        raise InvalidRequest(f"{what} a {type(batches).__name__} of {kind}, whose items would go as one-row batches "
                             "(as a 2-D array would go row by row): for one batch use score(), for several pass a "
                             "list of batches, each a 2-D array or a list of rows (a one-row batch is [row])")
    return _score_batch_calls(batches, pin, timeout, deadline, max_rows)


def _plain_row(item) -> bool:
    """Whether ``item`` of ``score_many``'s batches is a number or a list or tuple of plain numbers: one row's
    features, not a batch of rows."""
    if is_number(item) or isinstance(item, (bool, np.bool_)):
        return True
    return isinstance(item, (list, tuple)) and all(is_number(v) or isinstance(v, (bool, np.bool_)) for v in item)


def _score_batch_calls(batches, pin: Tuple[int, int], timeout, deadline, max_rows: int):
    for index, batch in enumerate(batches):
        try:
            array = as_rows(batch)
            limit = rows_per_request(array.shape[1], max_rows)
        except InvalidRequest as error:
            raise in_batch(InvalidRequest(error.message), index) from None
        if array.shape[0] > limit:
            error = InvalidRequest(f"score_many batch {index} has {array.shape[0]} rows; a batch must fit in one "
                                   f"request: at most {limit} rows of {array.shape[1]} features (max_rows, and the "
                                   f"{MESSAGE_LIMIT_BYTES}-byte message limit)")
            error.batch = index
            raise error
        yield score_call(array, pin, timeout, deadline, batch=index)


def batch_scores(result) -> Scores:
    """The :class:`~recpool.Scores` of one ``score_many`` batch from its call's ``(values, header)``."""
    values, header = result
    return Scores(values, header.model_version, 1,
                  Timings(header.broker_queue_us, header.worker_queue_us, header.compute_us))


# ---------------------------------------------------------------- RECOMMEND and FEEDBACK

def _user_features(user_features) -> dict:
    """``user_features`` as the request's ``{string: string}``: names are strings, values strings or finite
    numbers (sent as the CLI sends the number one types, see :func:`number_text`: ``30.0`` as ``30``); ``None`` and
    NaN are refused rather than sent as ``"None"`` or ``"nan"``."""
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
        elif is_finite_number(value):
            document[name] = number_text(value)
        else:
            raise InvalidRequest(f"user_features[{name!r}] must be a string or a finite number, got {value!r}")
    return document


def number_text(value) -> str:
    """A finite number as a user feature's text, as the CLI sends one (``age=30`` sends ``30``): an int, or a float
    holding a whole number below 1e16, as its digits (``30.0`` is ``30``, never ``30.0``, which a categorical feature
    would read as another category); any other float as the shortest text that reads back as the same value (a numpy
    float32 as the same float32: ``0.1``, not ``0.10000000149011612``)."""
    if is_integer(value):
        return str(int(value))
    if isinstance(value, np.floating):
        whole = float(value)
        text = str(value)  # numpy's shortest text for the value's own precision
    else:
        whole = float(value)
        text = repr(whole)
    if whole.is_integer() and abs(whole) < 1e16:
        return str(int(whole))
    return text


def _not_a_list(value) -> bool:
    """Whether ``value`` is no list of items: a string, bytes, a mapping, something that is not iterable, or a 0-d
    array (numpy calls it iterable, then refuses to iterate it)."""
    return (isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable)
            or getattr(value, "ndim", None) == 0)


def _events(events) -> list:
    """``events`` as the request's ``[{item, seconds}]``: ``(item, dwell_seconds)`` pairs, the item an int
    (not a bool, float or string), the dwell a number of seconds in 0…1e9."""
    if events is None:
        return []
    if _not_a_list(events):
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
        if not is_finite_number(seconds):
            raise InvalidRequest(f"event for item {item} has dwell_seconds {seconds!r}; it must be a finite number "
                                 f"in 0…{_show(MAX_DWELL_SECONDS)}")
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
    if _not_a_list(candidates):
        raise InvalidRequest(f"candidates must be None or a list of integer item ids, got {candidates!r}")
    items = list(candidates)
    if not items:
        raise InvalidRequest("candidates must not be empty (None ranks every item)")
    if len(items) > MAX_CANDIDATES:
        raise InvalidRequest(f"candidates holds {len(items)} items; a request holds at most {MAX_CANDIDATES}")
    seen = set()
    for position, item in enumerate(items):
        if not is_integer(item):
            hint = (" (items are catalogue rows, as a slate's items number them, not the catalogue's ids: "
                    "`recpool catalogue show` lists each row's id)") if isinstance(item, str) else ""
            raise InvalidRequest(f"candidates[{position}] must be an integer item id, got {item!r}{hint}")
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
                the header's, or (for a model's ranking) one the pin excludes or scores that are not best
                first; an item repeated, more items
                than ``top``, an item outside ``candidates``, or a viewed item with ``exclude_viewed``.
        """
        # Read by PROTOCOL.md's rules for documents, as the broker read it before forwarding it: a key in camel case
        # is its snake-case key, and an int may be written 1.0.
        document = document_keys(json_frame(reply, "RECOMMEND"), SLATE_KEYS, reply, "RECOMMEND")
        items = document.get("items")
        source = document.get("source")
        version = integral(document.get("model_version"))
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise _reply_fault(reply, "RECOMMEND", "has no list of item objects in 'items'")
        items = [document_keys(item, SLATE_ITEM_KEYS, reply, "RECOMMEND") for item in items]
        if source not in SLATE_SOURCES:
            raise _reply_fault(reply, "RECOMMEND", f"has source {source!r}, not one of {', '.join(SLATE_SOURCES)}")
        if version is None or version != reply.header.model_version:
            raise _reply_fault(reply, "RECOMMEND", f"names model_version {version!r} in its document and "
                                                   f"{reply.header.model_version} in its header")
        policy = source == "policy"
        if not policy:  # a policy slate names the policy's version, which a model pin does not constrain
            check_pin(reply, pin, "RECOMMEND")
        for slot, entry in enumerate(items):
            propensity = entry.get("propensity")
            if (integral(entry.get("item")) is None or not is_number(entry.get("score"))
                    or (policy and not (is_number(propensity) and 0 < propensity <= 1))
                    or (policy and integral(entry.get("position")) != slot)
                    or (entry.get("id") is not None and not (isinstance(entry["id"], str) and entry["id"]))):
                raise _reply_fault(reply, "RECOMMEND", f"has a malformed item in slot {slot}: {entry!r}")
        ranked = [integral(i["item"]) for i in items]
        scores = [float(i["score"]) for i in items]
        if not policy and any(later > earlier for earlier, later in zip(scores, scores[1:])):
            raise _reply_fault(reply, "RECOMMEND", f"is a {source} ranking that is not best first: scores {scores}")
        if not policy and any(not 0 <= score <= 1 for score in scores):
            # a model's score is a click probability, the fallback's a popularity prior: both in [0, 1]
            raise _reply_fault(reply, "RECOMMEND", f"is a {source} ranking with a score outside [0, 1]: {scores}")
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
        if policy and (len(impression_id.encode("utf-8", "surrogatepass")) > MAX_IMPRESSION_ID_BYTES
                       or has_control_character(impression_id)):
            # feedback() would refuse this id: a slate nobody could give feedback on is the broker's fault.
            raise _reply_fault(reply, "RECOMMEND", f"holds an impression_id FEEDBACK cannot name ({impression_id!r}: "
                                                   f"1–{MAX_IMPRESSION_ID_BYTES} UTF-8 bytes, no control character)")
        return Slate(
            items=ranked,
            scores=scores,
            propensities=[float(i["propensity"]) for i in items] if policy else None,
            impression_id=impression_id if policy else None,
            model_version=version,
            source=source,
            exploration=document_keys(document.get("exploration"), EXPLORATION_KEYS, reply, "RECOMMEND"),
            # The catalogue's ids, when every item has one (a worker that predates them sends none).
            ids=[i["id"] for i in items] if policy and items and all(i.get("id") is not None for i in items) else None)

    return parse


def recommend(user_features=None, events=(), top=None, candidates=None, *, exclude_viewed=False, min_version=None,
              exact_version=None, timeout=None, deadline=None) -> Call:
    """The RECOMMEND call. ``exclude_viewed`` is sent only when true. A BUSY reply served nothing (refused
    before dispatch, or a policy slate that could not be logged), so it is retried. The reply is checked against the request (see :func:`_slate_parser`)."""
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
    if has_control_character(impression_id):
        raise InvalidRequest(f"impression_id must hold no control character, got {impression_id!r}")
    return impression_id


def has_control_character(text: str) -> bool:
    """Whether ``text`` holds a control character (Unicode category Cc): the broker refuses such a name, which SQLite
    would read only up to a NUL."""
    return any(unicodedata.category(c) == "Cc" for c in text)


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
        answer = document_keys(json_frame(reply, "FEEDBACK"), ("impression_id", "item", "duplicate"), reply, "FEEDBACK")
        impression, acked, duplicate = (answer.get(k) for k in ("impression_id", "item", "duplicate"))
        acked = integral(acked) if integral(acked) is not None else acked
        if not isinstance(impression, str) or integral(acked) is None or not isinstance(duplicate, bool):
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


def idle_services(worker: dict) -> List[str]:
    """The services a STATUS worker entry offers but takes none of, read from its ``idle_reason`` (PROTOCOL.md,
    "Status document": ``takes no SCORE or RECOMMEND: model version 0 is served there by …``); ``[]`` when it
    takes every service it offers."""
    reason = worker.get("idle_reason")
    if not isinstance(reason, str) or not reason.startswith("takes no "):
        return []
    return reason[len("takes no "):].split(":", 1)[0].split(" or ")


def health(service: str = "SCORE", *, timeout=None):
    """Generator of ``health``: STATUS, then whether a live worker serves ``service``, as ``recpool health``
    decides it.

    A worker serves SCORE or RECOMMEND when it offers it and takes work: not while it waits for the promoted
    version (``waiting_for_version``), nor on an ``unverified`` model (PROTOCOL.md, "Model versions": such a
    worker takes no work, so requests would end in ``CONFLICT``), nor while another model serves its version
    number for that service (its ``idle_reason`` names the service: see :func:`idle_services`). A draining worker
    (``draining``) takes no new request of any kind. Training rounds go to every live worker that
    trains and is not draining, so TRAIN_ROUND counts those. FEEDBACK is answered by
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
    serving = [w for w in workers if service in w["services"] and w.get("draining") is not True and (
        service == "TRAIN_ROUND" or (
            w.get("waiting_for_version") is None and w.get("model_source") != "unverified"
            and service not in idle_services(w)))]
    if service == "RECOMMEND" and serving:
        # As recpool health: the online policy's replicas answer RECOMMEND when it runs; otherwise one RECOMMEND of
        # one item with no context is sent, and a refusal (a model without a feature specification) is unhealthy.
        if online and online.get("enabled") is True:
            if not online.get("replicas"):
                return Health(False, service, 0, len(workers), int(protocol),
                              "RECOMMEND goes to the online policy, and no replica serves it")
        else:
            try:
                yield [recommend(top=1, candidates=[0], timeout=timeout)]
            except RecPoolError as error:
                if error.status is None:
                    raise
                return Health(False, service, 0, len(workers), int(protocol),
                              f"RECOMMEND is answered {error.status.name}: {error.message}")
    return Health(bool(serving), service, len(serving), len(workers), int(protocol))


# The CONTROL plane's calls live in control_plane.py; they are re-exported here (after every name that module
# imports from this one is defined).
from .control_plane import (  # noqa: E402,F401
    DATASET_NAME_PREFIXES, JOB_KEYS, MODEL_KEYS, check_job, check_schema_files, control, fetch, impression_log,
    job_control, jobs, models, promote, read_schema, rollback, train, train_spec, upload_bytes, upload_path,
    with_keys)
