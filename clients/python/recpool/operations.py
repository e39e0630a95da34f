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
import os
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from .errors import InvalidRequest, ProtocolViolation
from .results import FeedbackAck, Health, Scores, Slate, Timings
from .wire import FLAG_EXACT_VERSION, Command, Header, MalformedReply, decode_tensor, tensor_frame

#: Rows per SCORE request, the broker's default limit (PROTOCOL.md, "Limits"); bigger batches are
#: split into several requests sent at once.
DEFAULT_MAX_ROWS = 8192
#: Bytes per upload chunk (frame 2 of CONTROL ``upload``); well under the 16 MiB message limit.
UPLOAD_CHUNK_BYTES = 1 << 20


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


def version_pin(min_version: Optional[int], exact_version: Optional[int]) -> Tuple[int, int]:
    """The header's ``(model_version, flags)`` for a pin given as keyword arguments.

    Raises:
        InvalidRequest: both given, a negative version, or an exact pin of 0 (PROTOCOL decision: an
            exact pin needs a version; 0 means "any").
    """
    if min_version is not None and exact_version is not None:
        raise InvalidRequest("give min_version or exact_version, not both")
    if exact_version is not None:
        if exact_version < 1:
            raise InvalidRequest(f"exact_version must be a registered version ≥ 1, got {exact_version}")
        return int(exact_version), FLAG_EXACT_VERSION
    if min_version is not None:
        if min_version < 0:
            raise InvalidRequest(f"min_version must be ≥ 0, got {min_version}")
        return int(min_version), 0
    return 0, 0


def _first_frame(reply: Reply, what: str):
    if not reply.frames:
        raise ProtocolViolation(f"the {what} reply has no payload frame", reply.header)
    return reply.frames[0]


def json_frame(reply: Reply, what: str) -> Any:
    """The reply's frame 1 as JSON."""
    frame = _first_frame(reply, what)
    try:
        return json.loads(bytes(frame))
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolViolation(f"the {what} reply is not JSON: {error}", reply.header) from None


def encode_json(document: dict) -> bytes:
    """A JSON frame (UTF-8, no NaN: the protocol's JSON has none)."""
    try:
        return json.dumps(document, allow_nan=False, separators=(",", ":")).encode()
    except ValueError as error:
        raise InvalidRequest(f"cannot encode the request: {error}") from None


# ---------------------------------------------------------------- SCORE

def as_rows(rows) -> np.ndarray:
    """The rows as a C-contiguous float32 matrix, without a copy when they already are one.

    Raises:
        InvalidRequest: not 2-D (a 1-D array is one row), empty, or holding NaN or infinity.
    """
    array = np.asarray(rows)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise InvalidRequest(f"rows must be a 2-D array (rows × features), got {array.ndim} dimensions")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise InvalidRequest(f"rows must have at least one row and one feature, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise InvalidRequest(f"rows must be real numbers, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise InvalidRequest(f"row {bad[0]}, feature {bad[1]} is {array[bad[0], bad[1]]} (NaN and infinity are refused)")
    return array


def score_call(chunk: np.ndarray, pin: Tuple[int, int], timeout, deadline) -> Call:
    """One SCORE request for ``chunk`` (at most the row limit), pinned by ``pin`` = (version, flags)."""
    expected = chunk.shape[0]

    def parse(reply: Reply):
        try:
            values = decode_tensor(_first_frame(reply, "SCORE"))
        except MalformedReply as error:
            raise ProtocolViolation(str(error), reply.header) from None
        if values.shape != (expected, 1):
            raise ProtocolViolation(f"SCORE reply has shape {values.shape}, expected ({expected}, 1)", reply.header)
        return values.reshape(expected), reply.header

    return Call(Command.SCORE, [tensor_frame(chunk)], parse, pin[0], pin[1], retry_busy=True,
                timeout=timeout, deadline=deadline)


def score(rows, *, min_version=None, exact_version=None, timeout=None, deadline=None,
          max_rows: int = DEFAULT_MAX_ROWS):
    """Generator of the ``score`` call: one SCORE per ``max_rows`` rows, all sent at once.

    When the requests were answered by different versions (a rollout in between), the ones that got
    an older version are sent again pinned to the newest, so the call's rows share one version.
    """
    array = as_rows(rows)
    pin = version_pin(min_version, exact_version)
    chunks = [array[i:i + max_rows] for i in range(0, array.shape[0], max_rows)]
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


# ---------------------------------------------------------------- RECOMMEND and FEEDBACK

def _recommend_document(user_features, events, top, candidates) -> dict:
    if int(top) < 1:
        raise InvalidRequest(f"top must be at least 1, got {top}")
    viewed = []
    for event in events or ():
        try:
            item, seconds = event
        except (TypeError, ValueError):
            raise InvalidRequest(f"an event must be (item, dwell_seconds), got {event!r}") from None
        try:
            item = int(item) if not isinstance(item, (float, bool)) or float(item).is_integer() else None
        except (TypeError, ValueError):
            item = None
        if item is None:
            raise InvalidRequest(f"event {event!r}: the item must be an integer item id, got {event[0]!r}")
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            raise InvalidRequest(f"event {event!r}: dwell_seconds must be a number, got {event[1]!r}") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise InvalidRequest(f"event for item {item} has dwell {seconds}; it must be finite and ≥ 0")
        viewed.append({"item": item, "seconds": seconds})
    document = {"user_features": {str(k): str(v) for k, v in (user_features or {}).items()},
                "events": viewed, "top": int(top)}
    if candidates is not None:
        document["candidates"] = [int(c) for c in candidates]
    return document


def _parse_slate(reply: Reply) -> Slate:
    document = json_frame(reply, "RECOMMEND")
    try:
        items = document["items"]
        source = document.get("source") or "model"
        version = document.get("model_version")
        return Slate(
            items=[int(i["item"]) for i in items],
            scores=[float(i["score"]) for i in items],
            propensities=[float(i["propensity"]) for i in items] if source == "policy" else None,
            impression_id=document.get("impression_id"),
            model_version=int(version if version is not None else reply.header.model_version),
            source=source,
            exploration=document.get("exploration"))
    except (KeyError, TypeError, ValueError) as error:
        raise ProtocolViolation(f"the RECOMMEND reply lacks {error}", reply.header) from None


def recommend(user_features=None, events=(), top=10, candidates=None, *, min_version=None, exact_version=None,
              timeout=None, deadline=None) -> Call:
    """The RECOMMEND call. A BUSY refusal came before dispatch, so it is retried."""
    pin = version_pin(min_version, exact_version)
    document = _recommend_document(user_features, events, top, candidates)
    return Call(Command.RECOMMEND, [encode_json(document)], _parse_slate, pin[0], pin[1], retry_busy=True,
                timeout=timeout, deadline=deadline)


def feedback(impression_id: str, item: int, click, dwell=None, *, timeout=None, deadline=None) -> Call:
    """The FEEDBACK call. Retried after BUSY: a repeat of an (impression, item) pair is acknowledged as a
    duplicate and ignored, so resending is safe."""
    if not isinstance(impression_id, str) or not impression_id:
        raise InvalidRequest("impression_id must be a non-empty string")
    if click not in (0, 1, True, False):
        raise InvalidRequest(f"click must be 0 or 1, got {click!r}")
    document = {"impression_id": impression_id, "item": int(item), "click": int(click)}
    if dwell is not None:
        dwell = float(dwell)
        if not math.isfinite(dwell) or dwell < 0:
            raise InvalidRequest(f"dwell must be finite and ≥ 0 seconds, got {dwell}")
        document["dwell_seconds"] = dwell

    def parse(reply: Reply) -> FeedbackAck:
        answer = json_frame(reply, "FEEDBACK")
        try:
            return FeedbackAck(str(answer["impression_id"]), int(answer["item"]), bool(answer["duplicate"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ProtocolViolation(f"the FEEDBACK reply lacks {error}", reply.header) from None

    return Call(Command.FEEDBACK, [encode_json(document)], parse, retry_busy=True, timeout=timeout, deadline=deadline)


# ---------------------------------------------------------------- STATUS and CONTROL

def status(*, timeout=None) -> Call:
    """The STATUS call: the broker's status document."""
    return Call(Command.STATUS, [], lambda reply: json_frame(reply, "STATUS"), timeout=timeout)


def health(service: str = "SCORE", *, timeout=None):
    """Generator of ``health``: STATUS, then whether a live worker offers ``service``.

    FEEDBACK is answered by the broker's control plane, not by a worker: it is healthy when the broker
    serves an online policy (``online.enabled`` in the status) and a live worker offers RECOMMEND, which
    makes the impressions feedback refers to.
    """
    (document,) = yield [status(timeout=timeout)]
    workers = document.get("workers") or []
    wanted = "RECOMMEND" if service == "FEEDBACK" else service
    live = [w for w in workers if wanted in (w.get("services") or [])]
    healthy = bool(live)
    if service == "FEEDBACK":
        healthy = healthy and bool((document.get("online") or {}).get("enabled"))
    return Health(healthy, service, len(live), len(workers), int(document.get("protocol_version") or 0))


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
    (JSON, frame 2 bytes or ``None``).
    """
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
            return answer, (bytes(reply.frames[1]) if len(reply.frames) > 1 else None)
        return answer

    return Call(Command.CONTROL, payload, parse, timeout=timeout)


def train_spec(dataset: str, schema=None, *, model="mlp", epochs=10, batch=32, lr=0.001, hidden=None, workers=1,
               sync_every=50, seed=0, validation=0.2, promote=False, round_timeout_ms=30_000, **extra) -> dict:
    """The ``train`` argument of CONTROL ``train`` (PROTOCOL.md, "CONTROL requests").

    Every key the spec lists is sent; ``hidden`` is ``null`` for the server's default. ``schema`` (a
    shop's schema as TOML text) is sent only when given, with ``catalogue`` (``sha256:<hex>`` of the
    uploaded catalogue) in ``extra``. ``extra`` also holds model-specific keys (for ``dqn``: ``gamma``,
    ``epsilon_end``, ``epsilon_decay_steps``, ``replay_capacity``).
    """
    if not isinstance(dataset, str) or not dataset:
        raise InvalidRequest("dataset must be a dataset name such as sha256:<hex> or obd:random/all")
    spec = {"model": model, "dataset": dataset, "epochs": int(epochs), "batch": int(batch), "lr": float(lr),
            "hidden": [int(h) for h in hidden] if hidden is not None else None, "workers": int(workers),
            "sync_every": int(sync_every), "seed": int(seed), "validation": float(validation),
            "promote": bool(promote), "round_timeout_ms": int(round_timeout_ms)}
    if schema is not None:
        spec["schema"] = schema
    spec.update(extra)
    return spec


def upload_bytes(data: bytes, name: str, *, timeout=None, chunk_bytes: int = UPLOAD_CHUNK_BYTES):
    """Generator of an upload: the content in checksummed chunks, in order; returns ``sha256:<hex>``,
    the dataset name a ``train`` call takes."""
    if not data:
        raise InvalidRequest("an upload needs at least one byte")
    whole = hashlib.sha256(data).hexdigest()
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        chunk = view[offset:offset + chunk_bytes]
        arguments = {"upload": {"sha256": whole, "name": name, "total_bytes": len(data), "offset": offset,
                                "chunk_sha256": hashlib.sha256(chunk).hexdigest()}}
        (answer,) = yield [control("upload", arguments, bytes(chunk), timeout=timeout)]
        offset += len(chunk)
        if isinstance(answer, dict) and answer.get("complete"):
            break
    else:
        if not (isinstance(answer, dict) and answer.get("complete")):
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


def train(dataset, schema=None, *, timeout=None, **options):
    """Generator of ``train``: uploads ``dataset`` first when it is a local file or a pandas DataFrame
    (numeric, with a ``label`` column), then submits the job and returns the job document (stored
    durably before the reply). With ``schema`` (a TOML file's path or TOML text), ``dataset`` is a
    shop's impression log: the log and the catalogue the schema names are uploaded, and the job gets
    the schema's text and ``catalogue`` (``sha256:<hex>``)."""
    if schema is not None:
        text, catalogue_path = read_schema(schema)
        path = os.fspath(dataset) if isinstance(dataset, (str, os.PathLike)) else None
        if path is None or not os.path.isfile(path):
            raise InvalidRequest("with a schema, dataset must be the path of the impression log CSV")
        check_schema_files(text, path, catalogue_path)  # before uploading, naming the file and the column
        name = yield from upload_path(path, timeout=timeout)
        catalogue = yield from upload_path(catalogue_path, timeout=timeout)
        spec = train_spec(name, text, catalogue=catalogue, **options)
        (job,) = yield [control("train", {"train": spec}, timeout=timeout, keys=JOB_KEYS)]
        return job
    name = os.fspath(dataset) if isinstance(dataset, os.PathLike) else dataset
    if hasattr(dataset, "columns") and hasattr(dataset, "to_numpy"):  # a pandas DataFrame with a label column
        from .frames import csv_bytes

        try:
            data = csv_bytes(dataset)
        except ValueError as error:
            raise InvalidRequest(str(error)) from None
        name = yield from upload_bytes(data, "dataframe.csv", timeout=timeout)
    elif isinstance(name, str) and os.path.isfile(name):
        name = yield from upload_path(name, timeout=timeout)
    spec = train_spec(name, schema, **options)
    (job,) = yield [control("train", {"train": spec}, timeout=timeout, keys=JOB_KEYS)]
    return job


def impression_log(after: int = 0, page_size: int = 1000, *, timeout=None):
    """Generator of every impression after ``after``, page by page; returns ``(rows, spec)``."""
    rows: List[dict] = []
    spec = None
    cursor = after
    while True:
        (page,) = yield [control("impressions", {"after": cursor, "limit": page_size}, timeout=timeout)]
        rows.extend(page.get("impressions") or [])
        spec = page.get("spec") or spec
        following = page.get("next_after")
        if following is None or not page.get("impressions"):
            return rows, spec
        cursor = following
