"""The CONTROL plane's calls (PROTOCOL.md, "CONTROL requests"): the registry (models, promote, rollback,
fetch), training (uploads, a shop's schema, train, jobs) and the impression log, each reply checked. Built
on :mod:`recpool.operations`, which re-exports every name here, so ``operations.X`` reaches them all.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import List, Optional, Sequence, Tuple

from .errors import InvalidRequest, ProtocolViolation
from .files import PIPE_WAIT_SECONDS, checked_path, read_bytes, read_text
from .operations import (JOB_STATES, MAX_PAGE_SIZE, U64_MAX, UPLOAD_CHUNK_BYTES, Call, Reply, document_keys,
                         encode_json, flag, integer, is_integer, json_frame, number, version, has_control_character)
from .wire import Command

#: The largest `after` cursor: impressions' sequence numbers are signed 64-bit integers on the wire.
I64_MAX = 2**63 - 1


#: The keys of a job document (PROTOCOL.md, "CONTROL requests").
JOB_KEYS = ("job", "state", "model", "round", "total_rounds", "epoch", "step", "loss", "metrics", "model_version",
            "error", "waiting", "created_at", "updated_at", "spec", "rounds")
#: The keys of a model document.
MODEL_KEYS = ("version", "job", "promoted", "metrics", "dataset_sha256", "hyperparameters", "checkpoint_sha256",
              "created_at")


def with_keys(document, keys: Sequence[str], reply: Optional[Reply] = None, what: str = "CONTROL"):
    """The document with every key the spec lists, ``None`` where the peer sent none (the spec says such keys
    are present as ``null``; older brokers leave them out). A key in camel case is its snake-case key, as the broker
    reads documents (PROTOCOL.md).

    Raises:
        ProtocolViolation: two keys that are one key (``model_version`` and ``modelVersion``), naming it (``what``,
            the reply's name, and ``reply``'s header in the error), which the broker refuses too.
    """
    if isinstance(document, dict):
        document = document_keys(document, keys, reply, what)
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
                answer = [with_keys(item, keys, reply, f"CONTROL {op}") for item in answer]
            else:
                answer = with_keys(answer, keys, reply, f"CONTROL {op}")
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
        if not isinstance(job_id, str) or not job_id.strip() or has_control_character(job_id):
            raise InvalidRequest(f"job must be a job id such as 'job-1' (no control character), got {job_id!r}")
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
        ProtocolViolation (on the reply): no checkpoint in frame 2, a header or a model document naming
            another version (PROTOCOL.md: "the header's ``model_version`` is the version"), or a checkpoint
            whose SHA-256 is not the model's ``checkpoint_sha256``.
    """
    wanted = version(version_number)
    call = control("fetch", {"version": wanted}, timeout=timeout, raw=True, keys=MODEL_KEYS)
    read = call.parse

    def parse(reply: Reply):
        if reply.header.model_version != wanted:
            raise ProtocolViolation(f"the CONTROL fetch reply for version {wanted} names version "
                                    f"{reply.header.model_version} in its header", reply.header)
        model, checkpoint = read(reply)
        if model.get("version") != wanted:
            raise ProtocolViolation(f"the CONTROL fetch reply for version {wanted} is the model of version "
                                    f"{model.get('version')!r}", reply.header)
        digest = hashlib.sha256(checkpoint).hexdigest()
        if model.get("checkpoint_sha256") != digest:
            raise ProtocolViolation(f"the CONTROL fetch reply's checkpoint has SHA-256 {digest}, not the model's "
                                    f"checkpoint_sha256 {model.get('checkpoint_sha256')!r}", reply.header)
        return model, checkpoint

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
        if (isinstance(hidden, (str, bytes, Mapping)) or not isinstance(hidden, Iterable)
                or getattr(hidden, "ndim", None) == 0):  # a 0-d array: iterable to Python, not to numpy
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
    if isinstance(data, memoryview):
        data = _byte_view(data)
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


def _byte_view(view: memoryview):
    """A memoryview's bytes, in memory order, as a flat view of unsigned bytes: ``len()`` of a view of float32
    counts its elements (a quarter of its bytes), and the upload was refused "chunk … overruns". A C-contiguous view
    is cast without a copy; a Fortran-contiguous one is copied in its memory order.

    Raises:
        InvalidRequest: a view that is not contiguous (a strided slice such as ``a[::2]``), whose bytes are not one
            run of memory (hashing it raised a bare ``BufferError``).
    """
    if view.c_contiguous:
        return view.cast("B") if view.ndim != 1 or view.format != "B" else view
    if view.contiguous:
        return view.tobytes(order="A")
    raise InvalidRequest(f"data must be contiguous bytes, got a memoryview that is not contiguous (shape {view.shape}, "
                         f"strides {view.strides}): pass bytes(data) or a contiguous copy (numpy's "
                         "np.ascontiguousarray)")


def upload_path(path, *, timeout=None):
    """Generator of ``upload(path)``: reads the file and uploads it. ``path`` is a path (an ``int`` would be
    opened as a file descriptor: refused), of a regular file or a pipe; a named FIFO no writer opens within
    5 s (or ``timeout``, if shorter) is refused, as the binaries refuse it (``files.read_bytes``)."""
    wait = None if timeout is None else min(PIPE_WAIT_SECONDS, timeout)
    data = read_bytes(path, "the upload", wait=wait)
    return (yield from upload_bytes(data, os.path.basename(checked_path(path, "the upload")), timeout=timeout))


def read_schema(schema):
    """A shop's schema (docs/YOUR-DATA.md) as ``(toml_text, catalogue_path)``: ``schema`` is a path to the
    TOML file, or the TOML text itself. The catalogue is the ``[catalogue] file``, relative to the schema
    file's folder (to the current directory for text). Raises ``InvalidRequest`` naming the problem."""
    import tomllib

    if isinstance(schema, os.PathLike) or (isinstance(schema, str) and "\n" not in schema
                                           and os.path.isfile(schema)):
        path = os.fspath(schema)
        text = read_text(path, "the schema")
        base = os.path.dirname(os.path.abspath(path))
    elif isinstance(schema, str) and "\n" not in schema and "=" not in schema and "[" not in schema:
        # One line holding no `key = value` and no `[table]` is no schema text: a path, mistyped or of no file (it was
        # parsed as TOML and "not valid TOML" named a syntax error).
        what = ("is a folder" if os.path.isdir(schema)
                else "is not a regular file (a pipe or a device)" if os.path.exists(schema)
                else "names no file (No such file or directory)")
        raise InvalidRequest(f"the schema {schema} {what}; give the path of a TOML file, or the TOML text itself")
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
_LOG_ROLES = ("timestamp", "item", "position", "click", "reward", "propensity", "dwell", "observed", "retrieval", "session", "user",
              "viewed")


def _csv_header(path: str, what: str) -> List[str]:
    """The column names on the first line of the CSV at ``path``; ``InvalidRequest`` naming the file otherwise."""
    import csv
    import stat

    try:
        # A pipe's lines would be consumed here and missing from the upload that reads the file again.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InvalidRequest(f"the {what} {path} is not a regular file: it is read twice (checked, then "
                                 "uploaded), so a pipe or a device cannot be used; write it to a file")
        # utf-8-sig: a byte-order mark (spreadsheet exports write one) is dropped, as the broker's reader drops it.
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except OSError as error:
        raise InvalidRequest(f"cannot read the {what} {path}: {error.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise InvalidRequest(f"the {what} {path} is not a UTF-8 CSV file: {error}") from None
    if not header:
        raise InvalidRequest(f"the {what} {path} is empty: it needs a header line")
    # Names are kept exactly as written: the broker matches them exactly, so a padded name is not stripped here.
    return header


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
            ("catalogue", catalogue_path, "catalogue", ("item", "sku", "active"), "item_features")):
        table = document.get(section)
        if not isinstance(table, dict):
            raise InvalidRequest(f"the schema has no [{section}] table")
        header = set(_csv_header(path, what))
        for place, column in _named_columns(table, roles, features):
            spaced = next((name for name in sorted(header) if name != column and name.strip() == column), None)
            if column not in header and spaced is not None:
                raise InvalidRequest(f"the schema's [{section}] {place}: no \"{column}\" column in the header of "
                                     f"{path}, but there is \"{spaced}\": remove the spaces around the name")
            cased = next((name for name in sorted(header)
                          if name != column and name.strip().lower() == column.lower()), None)
            if column not in header and cased is not None:
                raise InvalidRequest(f"the schema's [{section}] {place}: no \"{column}\" column in the header of "
                                     f"{path}, but there is \"{cased}\": column names are matched exactly, case "
                                     "included")
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
    uploaded; a dataset that is neither a local file nor a dataset name is ``InvalidRequest``.

    A local file without a schema is a feature matrix (a header, numeric feature columns and a ``label``
    column), checked before the upload as ``recpool train --dataset FILE.csv`` checks it
    (:func:`recpool.feature_csv.check_feature_csv`): ``DatasetFormatError`` (an ``InvalidRequest``) with the CLI's
    message, naming the file, line and column. A log read with a schema and a dataset name are left to the broker."""
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

        data = csv_bytes(dataset)  # InvalidRequest for a frame it refuses, as upload_frame raises it
        spec["dataset"] = yield from upload_bytes(data, "dataframe.csv", timeout=timeout)
    elif local:
        from .feature_csv import check_feature_csv

        # Read once: the bytes checked are the bytes uploaded. Without a schema the workers read an upload as a
        # feature matrix, so a file `recpool train` refuses is refused here, before the upload, as it says it.
        wait = None if timeout is None else min(PIPE_WAIT_SECONDS, timeout)
        data = read_bytes(name, "the dataset", wait=wait)
        check_feature_csv(data, name)
        spec["dataset"] = yield from upload_bytes(data, os.path.basename(name), timeout=timeout)
    (job,) = yield [job_control("train", train=spec, timeout=timeout)]
    return job


class ImpressionLog(tuple):
    """The ``(rows, spec)`` pair :func:`impression_log` returns (it unpacks as one), with ``earlier_lineage``: how
    many impressions the broker left out because an earlier lineage logged them (a policy over another catalogue,
    whose slates name rows the served catalogue numbers otherwise; PROTOCOL.md, "impressions page")."""

    def __new__(cls, rows: list, spec, earlier_lineage: int = 0):
        log = super().__new__(cls, (rows, spec))
        log.earlier_lineage = earlier_lineage
        return log

    @property
    def rows(self) -> list:
        """The impressions of the current lineage, oldest first."""
        return self[0]

    @property
    def spec(self):
        """The served policy's spec (the catalogue), or None."""
        return self[1]


def _check_page(page: dict, cursor: int, limit: int) -> None:
    """Raises ProtocolViolation unless ``page`` is the impressions page PROTOCOL.md describes for ``after`` =
    ``cursor`` and ``limit``: ``impressions`` (``seq`` ints rising past ``cursor``, each ``record`` an object whose
    ``slate`` and ``propensities`` are lists of one length, ``clicks`` and ``dwell`` objects), ``earlier_lineage``
    (absent, or an int ≥ 0: the covered rows an earlier lineage logged, left out), at most ``limit`` rows covered in
    all, and ``next_after``: at least the last row's ``seq`` when the page covered ``limit`` rows, ``null`` otherwise
    (a ``null`` on a full page would end the log early, silently)."""
    def fault(problem):
        return ProtocolViolation(f"the CONTROL impressions page after {cursor} {problem}")

    for key in ("impressions", "next_after", "spec"):
        if key not in page:
            raise fault(f"has no {key!r}")
    impressions, following = page["impressions"], page["next_after"]
    earlier = page.get("earlier_lineage", 0)
    if not is_integer(earlier) or earlier < 0:
        raise fault(f"has earlier_lineage {earlier!r}; expected an int of at least 0")
    if not isinstance(impressions, list) or len(impressions) + earlier > limit:
        raise fault(f"has impressions of type {type(impressions).__name__} and earlier_lineage {earlier} "
                    f"(at most {limit} rows covered expected)")
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
    if earlier == 0:
        expected = last if len(impressions) == limit else None
        if following != expected:
            raise fault(f"holds {len(impressions)} of {limit} rows with next_after {following!r}; expected {expected!r}")
    elif len(impressions) + earlier == limit:
        # The last covered row may be one left out: next_after is past every row the page holds.
        if not is_integer(following) or following < last:
            raise fault(f"covers {limit} rows with next_after {following!r}; expected a seq of at least {last}")
    elif following is not None:
        raise fault(f"covers {len(impressions) + earlier} of {limit} rows with next_after {following!r}; "
                    "expected None")


def impression_log(after: int = 0, page_size: int = 1000, *, timeout=None):
    """Generator of every impression of the current lineage after ``after``, page by page; returns an
    :class:`ImpressionLog`: ``(rows, spec)``, with ``earlier_lineage`` the impressions an earlier lineage logged
    (left out by the broker).

    Raises:
        InvalidRequest: ``after`` not an int in 0…2**63 − 1 (a sequence number, signed 64-bit on the wire),
            ``page_size`` not an int in 1…10,000 (the
            ``limit`` CONTROL ``impressions`` takes).
        ProtocolViolation: a page that is not what PROTOCOL.md describes (see :func:`_check_page`): a key
            missing, rows out of order or malformed, or a ``next_after`` other than the last row's ``seq`` on a
            full page and ``null`` on a page that is not full.
    """
    cursor = integer(after, "after", 0, I64_MAX)
    limit = integer(page_size, "page_size", 1, MAX_PAGE_SIZE)
    rows: List[dict] = []
    spec = None
    earlier = 0
    if cursor > 0:
        # The broker sends the spec only with a page that starts at the beginning (PROTOCOL.md): read without it, a
        # frame from `after` lost its history columns and the catalogue check. One row from the start brings it.
        (first,) = yield [control("impressions", {"after": 0, "limit": 1}, timeout=timeout)]
        _check_page(first, 0, 1)
        spec = first["spec"]
    while True:
        (page,) = yield [control("impressions", {"after": cursor, "limit": limit}, timeout=timeout)]
        _check_page(page, cursor, limit)
        rows.extend(page["impressions"])
        earlier += page.get("earlier_lineage", 0)
        spec = page["spec"] or spec
        if page["next_after"] is None:
            return ImpressionLog(rows, spec, earlier)
        if page["next_after"] <= cursor:
            raise ProtocolViolation(f"the CONTROL impressions page after {cursor} does not advance: next_after "
                                    f"{page['next_after']}")
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
