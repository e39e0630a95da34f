"""pandas helpers: RecPool's impression log as Open Bandit Dataset rows and obp's ``bandit_feedback``,
and the other way, logged impressions as a training upload. Needs pandas (``pip install recpool[pandas]``).

The DataFrame layout is the one ``recpool logs export`` writes (docs/ONLINE.md): one row per shown item
with obp's columns ``timestamp``, ``item_id``, ``position`` (from 1), ``click``, ``propensity_score``,
the user features (``user_feature_*`` in the simulator's world, a shop's own names otherwise: every column
that is not one of these), ``user-item_affinity_*`` (one per item, for catalogues of at most
:data:`AFFINITY_COLUMNS_LIMIT` items), plus ``observed``, ``dwell``, ``impression_id``, ``policy_version``
and ``viewed`` (the history as the export writes it, whatever the catalogue's size). A shown item that got no feedback is ``observed`` 0 with a missing ``click`` (``<NA>``):
its outcome is unknown, which is not a non-click, so :func:`bandit_feedback` and :func:`training_frame` leave
such rows out. A dwell nobody reported is missing too (``<NA>``, a nullable ``Float64``): the frame holds no NaN.
"""
from __future__ import annotations

import contextlib
import csv
import inspect
import io
import operator
import os
import re
import sys
import threading
import unicodedata
import warnings
from decimal import Decimal
from numbers import Real
from typing import Optional, Sequence

import numpy as np

from .errors import ExportFormatError, ExportPathError, InvalidRequest
from .files import checked_path, read_bytes
from .operations import flag

#: The Open Bandit Dataset columns, in order, before the user features.
OBD_COLUMNS = ("timestamp", "item_id", "position", "click", "propensity_score")
#: The smallest propensity a file may hold, as the ``recpool`` commands read it (``BanditDataset.minimumPropensity``):
#: below it an importance weight ``1 / p`` overflows the estimators' sums.
MINIMUM_PROPENSITY = 1e-100
#: The longest dwell a log may hold, in seconds (1e9, about 32 years), as the ``recpool`` commands and FEEDBACK read it.
MAXIMUM_DWELL_SECONDS = 1e9
#: The columns after the affinities.
TAIL_COLUMNS = ("observed", "dwell", "impression_id", "policy_version")
#: Columns of ``recpool logs export``'s file that are neither OBD's nor a user feature.
EXPORT_COLUMNS = ("viewed", "score", "retrieval")
#: The prefix of OBD's per-item history columns.
AFFINITY_PREFIX = "user-item_affinity_"
#: The largest catalogue :func:`impressions_frame` gives one ``user-item_affinity_*`` column per item by default
#: (a frame of 200,000 rows and 100,000 such columns would be 160 GB).
AFFINITY_COLUMNS_LIMIT = 1000


def _affinity(frame):
    """The ``user-item_affinity_*`` columns as floats; ValueError naming the first value that is not a finite number
    (the recpool commands refuse such a log)."""
    pd = _pandas()
    columns = [c for c in frame.columns if str(c).startswith(AFFINITY_PREFIX)]
    out = {}
    for column in columns:
        numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(numbers)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{column} {_plain(frame[column].iloc[row])!r} (row {_plain(frame.index[row])!r}) is not "
                             "a finite number")
        out[column] = numbers
    return pd.DataFrame(out, index=frame.index, columns=columns)


def _plain(value):
    """A numpy scalar as the Python number it holds (``-1``, not ``np.int64(-1)``), for messages."""
    return value.item() if isinstance(value, np.generic) else value


def _floats(frame, column: str):
    """``column``'s values as given (an object array, a missing value as it is written: ``<NA>``, ``None``) and as
    floats, NaN for a missing value and for one that is not a number (each value read alone, so that one such value
    does not make every row bad)."""
    series = frame[column]
    missing = series.isna().to_numpy()
    if getattr(series.dtype, "kind", "O") in "iuf" and not missing.any():  # numbers already: no object array
        return series.to_numpy(), series.to_numpy(dtype=float)
    values = series.to_numpy(dtype=object)
    try:
        numbers = np.where(missing, np.nan, values).astype(float)
    except (TypeError, ValueError):
        numbers = np.array([_float_or_nan(v) for v in np.where(missing, np.nan, values)], dtype=float)
    return values, numbers


def _float_or_nan(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def _missing_value(value) -> bool:
    """Whether ``value`` is a missing value (``<NA>``, ``None``, ``NaT``) rather than a number, even NaN."""
    return value is None or type(value).__name__ in ("NAType", "NaTType")


def _whole_column(frame, column: str, low: int):
    """``column`` as int64 when every value is a whole number ≥ ``low``; else ValueError naming the first other (a
    missing value as missing)."""
    values, numbers = _floats(frame, column)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numbers) | (numbers != np.floor(numbers)) | (numbers < low)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        kind = "a whole number ≥ 0 (a catalogue row)" if low == 0 else f"a whole number ≥ {low} (counted from 1)"
        if _missing_value(values[row]):
            raise ValueError(f"{column} {values[row]} (row {_plain(frame.index[row])!r}) is missing: it must be "
                             f"{kind}")
        raise ValueError(f"{column} {_plain(values[row])!r} (row {_plain(frame.index[row])!r}) is not {kind}; "
                         "nothing is rounded")
    return numbers.astype(np.int64)


def _catalogue_items(frame, item_context=None) -> Optional[int]:
    """How many items the catalogue of a logged ``frame`` holds, as the frame says it: ``frame.attrs
    ["catalogue_items"]`` (set by :func:`impressions_frame` from the policy's spec), its ``user-item_affinity_*``
    columns (one per item, ``0`` to the last), or ``item_context``'s rows (one per item); None when none of them
    is there. Never the items that got feedback: an item nobody clicked or was shown is still an action.

    Raises:
        ValueError: two of them disagree (the dictionary built on them would not be one catalogue's).
    """
    known = {}
    stated = frame.attrs.get("catalogue_items") if isinstance(getattr(frame, "attrs", None), dict) else None
    if isinstance(stated, (int, np.integer)) and not isinstance(stated, bool) and stated >= 1:
        known["frame.attrs['catalogue_items']"] = int(stated)
    suffixes = [str(c)[len(AFFINITY_PREFIX):] for c in frame.columns if str(c).startswith(AFFINITY_PREFIX)]
    numbers = [int(k) for k in suffixes if k.isdigit()]
    if numbers:
        known[f"its {len(suffixes)} {AFFINITY_PREFIX}* columns"] = max(numbers) + 1
    if item_context is not None:
        known[f"item_context's {len(item_context)} rows"] = len(item_context)
    if len(set(known.values())) > 1:
        said = ", ".join(f"{source}: {count} items" for source, count in known.items())
        raise ValueError(f"the catalogue's item count is ambiguous ({said}): pass n_actions")
    return next(iter(known.values()), None)


def _n_actions(n_actions, action, catalogue: Optional[int] = None) -> int:
    """``n_actions`` as given (a whole number ≥ 1: not ``40.7``, not ``"40"``), or else the catalogue's item count
    the frame knows (``catalogue``, from :func:`_catalogue_items`); ValueError when neither is there: one past the
    highest item that got feedback is no catalogue's size (items 38 and 39 of 40 may have got none)."""
    if n_actions is None:
        if catalogue is None:
            raise ValueError(
                "n_actions is not given and the frame does not say how many items the catalogue holds (no "
                f"{AFFINITY_PREFIX}* columns, no frame.attrs['catalogue_items'], no item_context): pass n_actions, the "
                f"catalogue's item count (the highest item with feedback is {int(action.max())}, which says only that "
                f"there are at least {int(action.max()) + 1})")
        return catalogue
    if isinstance(n_actions, bool) or not isinstance(n_actions, (int, np.integer)):
        raise ValueError(f"n_actions must be a whole number ≥ 1, got {n_actions!r}")
    if n_actions < 1:
        raise ValueError(f"n_actions must be a whole number ≥ 1, got {n_actions}")
    return int(n_actions)


def _checked_rows(frame, label: str, n_actions, catalogue: Optional[int] = None):
    """The observed rows' items (int64), positions from 0, labels, and ``n_actions`` (by default ``catalogue``, see
    :func:`_n_actions`), each checked as the recpool commands check a log: an item a whole number in
    ``0..<n_actions``, a position a whole number ≥ 1, a label 0 or 1 (a click; rows with ``observed`` 0 are left
    out)."""
    if len(frame) == 0:
        raise ValueError("the frame holds no impressions (no observed row: every label is unknown)")
    _require_columns(frame, ("item_id", "position", label))
    action = _whole_column(frame, "item_id", 0)
    position = _whole_column(frame, "position", 1) - 1
    labels, numbers = _floats(frame, label)
    bad = ~((numbers == 0) | (numbers == 1))  # NaN (missing, or no number) fails both
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        if _missing_value(labels[row]):
            # An observed row's <NA> label was reported as "nan": it is missing, and an observed row has a click.
            raise ValueError(f"{label} {labels[row]} (row {_plain(frame.index[row])!r}) is missing on an observed "
                             "row: a label is a click, 0 or 1 (a row whose outcome is unknown has observed 0)")
        raise ValueError(f"{label} {_plain(labels[row])!r} (row {_plain(frame.index[row])!r}) is not 0 or 1: a label "
                         "is a click")
    n = _n_actions(n_actions, action, catalogue)
    if action.max() >= n:
        raise ValueError(f"item {int(action.max())} is outside n_actions = {n}")
    return action, position, numbers, n


def _require_columns(frame, columns) -> None:
    """ValueError naming the first of ``columns`` the frame lacks (a bare KeyError named only the key)."""
    for column in columns:
        if column not in frame.columns:
            raise ValueError(f"the frame has no {column!r} column")


def observed_rows(frame):
    """The rows whose outcome was reported (``observed`` 1; every row of a frame without that column).

    Raises:
        ValueError: an ``observed`` value other than 0 or 1, named with its row (the frame's index label), as
            :func:`read_export` refuses one: ``2``, ``-1``, ``0.9``, ``1.7``, ``True``, a missing value or ``"yes"``
            (was dropped, kept or a bare pandas error). A whole number's spellings count as it (``1.0``, and text
            such as ``"1"`` or ``"1e0"``, as read_export reads them).
        TypeError: ``frame`` is no pandas DataFrame, named as the parameter.
    """
    _frame_argument(frame, "observed_rows")
    if "observed" not in frame.columns:
        return frame
    return frame[_observed_flags(frame)]


def _observed_flags(frame):
    """``observed == 1`` for each row, as a bool array; ValueError naming the first value that is not 0 or 1."""
    pd = _pandas()
    column = frame["observed"]
    missing = column.isna().to_numpy()
    kind = getattr(column.dtype, "kind", "O")
    if kind in "iuf" and not missing.any():
        numbers = column.to_numpy(dtype=float)
        bad = ~((numbers == 0) | (numbers == 1))  # NaN fails both
        ones = numbers == 1
    else:
        values = column.to_numpy(dtype=object)
        ones = np.zeros(len(values), dtype=bool)
        bad = np.zeros(len(values), dtype=bool)
        for row, value in enumerate(values):
            flag = None
            if isinstance(value, (bool, np.bool_)) or value is None or value is pd.NA:
                flag = None  # a boolean is not converted, and a missing value is no outcome
            elif isinstance(value, Real):
                flag = float(value) if float(value) in (0.0, 1.0) else None
            elif isinstance(value, str):
                whole = _whole(value)
                flag = whole if whole in (0, 1) else None
            if flag is None:
                bad[row] = True
            else:
                ones[row] = flag == 1
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"observed {_plain(column.iloc[row])!r} (row {_plain(frame.index[row])!r}) is not 0 or 1: "
                         "observed is 1 when feedback arrived for the item and 0 when none did")
    return ones


def _pandas():
    try:
        import pandas
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("recpool.frames needs pandas: pip install 'recpool[pandas]'") from None
    return pandas


def _catalogue_size(spec: Optional[dict]) -> Optional[int]:
    items = (spec or {}).get("item_features")
    return len(items) if isinstance(items, list) else None


def impressions_frame(source, *, after: int = 0, page_size: int = 1000,
                      affinity_columns: Optional[bool] = None, timeout: Optional[float] = None):
    """The impression log as a DataFrame in the OBD layout (one row per shown item, slot order).

    Args:
        source: a :class:`~recpool.Client` (the log is paged with CONTROL ``impressions``), or the
            ``(rows, spec)`` pair ``Client.impressions()`` returns (with an AsyncClient, pass
            ``await aclient.impressions()``).
        affinity_columns: whether to add OBD's ``user-item_affinity_*`` columns, one per catalogue item,
            from each impression's viewed items: ``None``, ``True`` or ``False`` (anything else is
            :class:`~recpool.InvalidRequest`). By default only for a catalogue of at most
            :data:`AFFINITY_COLUMNS_LIMIT` items; the history is always in the ``viewed`` column too
            (``item:seconds`` pairs joined by ``;``, as ``recpool logs export`` writes it).
        timeout: seconds for reading the whole log from a client (one deadline for all its pages; the client's
            timeout by default): give a long log the time all its pages need.

    The frame's ``attrs`` hold ``skipped_impressions`` (impressions left out: they name an item beyond the served
    catalogue) and, when the policy's spec names the catalogue, ``catalogue_items``: its item count, which
    :func:`bandit_feedback` and :func:`training_frame` take as ``n_actions`` by default.

    Raises:
        TypeError: ``source`` is neither a client nor a ``(rows, spec)`` pair (an endpoint string, a DataFrame), or is
            an AsyncClient (pass the awaited pair), named as the parameter.
    """
    pd = _pandas()
    if affinity_columns is not None:  # checked before the log is read: "yes" is no bool
        affinity_columns = flag(affinity_columns, "affinity_columns")
    if inspect.iscoroutinefunction(getattr(source, "impressions", None)):
        raise TypeError("impressions_frame reads an AsyncClient's log only once awaited: pass "
                        "`await aclient.impressions()`")
    if callable(getattr(source, "impressions", None)):
        rows, spec = source.impressions(after, page_size, timeout=timeout)
    elif _log_pair(source):
        rows, spec = source
    else:
        # A string was unpacked as the pair ("too many values to unpack").
        raise TypeError(_not_a_client("impressions_frame", "source", source,
                                      "a recpool Client or the (rows, spec) pair Client.impressions() returns "
                                      "(`await aclient.impressions()` with an AsyncClient)"))
    # A feature name is one name in every Unicode spelling of it (NFC and NFD compare equal in the broker, which
    # logs the spelling a request used, and `recpool logs export` writes one column for both): each name is
    # keyed by its NFC form, and written as the spec declares it when the spec names it.
    def nfc(name):
        return unicodedata.normalize("NFC", name)

    spelling = {}
    # The policy's spec names its user features (``user_features``: objects with ``name``); older pools sent
    # ``user_feature_cardinalities`` for the simulator's ``user_feature_j`` columns.
    declared = (spec or {}).get("user_features")
    if isinstance(declared, list):
        for f in declared:
            if isinstance(f, dict) and isinstance(f.get("name"), str):
                spelling.setdefault(nfc(f["name"]), f["name"])
    for row in rows:
        for name in (row["record"].get("user_features") or {}).keys():
            spelling.setdefault(nfc(name), nfc(name))
    feature_names = set(spelling.values())
    cardinalities = (spec or {}).get("user_feature_cardinalities")
    if isinstance(cardinalities, list):
        feature_names.update(f"user_feature_{j}" for j in range(len(cardinalities)))
    features = sorted(feature_names, key=lambda name: (len(name), name))
    # As `recpool logs export` refuses it: a user feature named like a logged column would shadow (in pandas,
    # duplicate) that column, and the frame would not be the rows the export writes.
    reserved = set(OBD_COLUMNS) | set(TAIL_COLUMNS) | set(EXPORT_COLUMNS)
    clash = next((name for name in features if name in reserved), None)
    if clash is not None:
        raise ValueError(f"user feature '{clash}' has the name of an exported column: rename it in the schema")
    n_items = _catalogue_size(spec)
    records = []
    skipped = 0
    kept = []
    for row in rows:
        record = row["record"]
        # As the export does: an impression that shows or names an item beyond the served catalogue's rows (logged
        # before a broker restarted onto an earlier catalogue version) is left out and counted.
        if n_items is not None and (any(int(item) >= n_items for item in record["slate"])
                                    or any(int(v["item"]) >= n_items for v in record.get("viewed") or [])):
            skipped += 1
            continue
        kept.append(row)
    rows = kept
    for row in rows:
        record = row["record"]
        clicks = row.get("clicks") or {}
        dwell = row.get("dwell") or {}
        stamp = pd.Timestamp(int(record["created_ms"]), unit="ms", tz="UTC")
        context = {spelling[nfc(name)]: value for name, value in (record.get("user_features") or {}).items()}
        for slot, (item, propensity) in enumerate(zip(record["slate"], record["propensities"])):
            reported = str(item) in clicks
            entry = {"timestamp": stamp, "item_id": int(item), "position": slot + 1,
                     "click": int(clicks[str(item)]) if reported else None, "propensity_score": float(propensity)}
            for name in features:
                entry[name] = context.get(name, "")
            entry["observed"] = int(reported)
            entry["dwell"] = float(dwell[str(item)]) if str(item) in dwell else None
            entry["impression_id"] = record["impression_id"]
            entry["policy_version"] = int(record["version"])
            # Each dwell as the export writes it (the shortest text that reads back as the same double), never
            # rounded to 6 digits as `:g` does (1234567 s was `1.23457e+06`).
            entry["viewed"] = ";".join(f"{int(v['item'])}:{float(v['seconds'])!r}" for v in record.get("viewed") or [])
            records.append(entry)
    columns = list(OBD_COLUMNS) + features
    tail = list(TAIL_COLUMNS) + ["viewed"]
    frame = pd.DataFrame.from_records(records, columns=columns + tail)
    frame["click"] = frame["click"].astype("Int64")
    frame["dwell"] = frame["dwell"].astype("Float64")  # a dwell not reported is missing (<NA>), not NaN
    if affinity_columns is None:
        affinity_columns = n_items is not None and n_items <= AFFINITY_COLUMNS_LIMIT

    if n_items and affinity_columns:
        affinity = np.zeros((len(frame), n_items))
        # The viewed items as engagements, as the export writes them (a view of ≥ 10 s counts min(s / 10, 3)).
        for index, row in enumerate(r for r in rows for _ in r["record"]["slate"]):
            for view in row["record"].get("viewed") or []:
                if 0 <= int(view["item"]) < n_items and float(view["seconds"]) >= 10:
                    affinity[index, int(view["item"])] += min(float(view["seconds"]) / 10, 3)
        affinity = pd.DataFrame(affinity, columns=[f"{AFFINITY_PREFIX}{k}" for k in range(n_items)])
        frame = pd.concat([frame.iloc[:, :len(columns)], affinity, frame[tail]], axis=1)
    frame.attrs["skipped_impressions"] = skipped
    if n_items is not None:
        frame.attrs["catalogue_items"] = n_items
    return frame


def _log_pair(source) -> bool:
    """Whether ``source`` is a ``(rows, spec)`` pair as ``Client.impressions()`` returns it: a list of row objects and
    the spec, an object or None."""
    return (isinstance(source, (tuple, list)) and len(source) == 2 and isinstance(source[0], (list, tuple))
            and all(isinstance(row, dict) for row in source[0]) and (source[1] is None or isinstance(source[1], dict)))


def _frame_argument(value, function: str, parameter: str = "frame", what: str = "in the OBD layout") -> None:
    """TypeError naming ``function``'s ``parameter`` unless ``value`` is a pandas DataFrame (a string, a client or a
    list of rows raised an AttributeError from inside the helper)."""
    pd = _pandas()
    if not isinstance(value, pd.DataFrame):
        convert = " (convert it with .to_pandas())" if hasattr(value, "to_pandas") else ""
        raise TypeError(f"{function}'s {parameter} must be a pandas DataFrame {what}, got "
                        f"{type(value).__module__}.{type(value).__qualname__}{convert}")


def read_export(path):
    """Reads ``impressions.csv`` from ``recpool logs export`` (or an OBD file) into the same layout.

    The file is checked before anything is returned, and the first problem in file order is refused with an
    :class:`~recpool.ExportFormatError` naming the line (1-based, the header is line 1, as the Swift CLI
    counts them), the column and the text:

    - the header: a column named twice, or a missing ``timestamp``, ``item_id``, ``position``, ``click`` or
      ``propensity_score`` (the first column is the unnamed row index, and is never one of them);
    - a row with more or fewer fields than the header; a quote that is never closed or has text after it;
    - ``timestamp`` blank, or not a date-time pandas reads (or written unlike the other rows' timestamps);
    - ``item_id`` not a whole number ≥ 0 (a catalogue row), ``position`` not a whole number ≥ 1;
    - ``observed`` (when the file has the column) not 0 or 1;
    - ``click`` not 0 or 1; blank only on an unobserved row (``observed`` 0), so an OBD file, which has no
      ``observed`` column, needs a click on every row;
    - ``propensity_score`` not a finite number in (0, 1], or below ``MINIMUM_PROPENSITY`` (1e-100), whose weight
      would overflow, as the ``recpool`` commands refuse it;
    - ``dwell`` (when the file has the column) neither blank nor a finite number of 0 to 1e9 seconds;
    - a ``user-item_affinity_*`` value that is not a finite number.

    A ``timestamp`` column of numbers is Unix seconds, as the ``recpool`` commands read it; ``now`` or ``today`` is
    not a timestamp.

    Whole numbers may be written in any spelling whose value is an integer, as the Swift loaders read them: ``3``,
    ``+3``, ``03``, ``3.0``, ``3e0`` or ``30e-1``; never ``3.5`` or ``3.5e0`` (fractions), and never with more than 15
    digits. A field may be of any length, and none may hold a NUL character (U+0000), as the CLI reads a file; a file
    with a header and no row is refused (``no rows``), as the CLI refuses it.
    A file that passes reads as it always did: ``click`` is ``Int64`` with ``<NA>`` for a blank, ``dwell``
    ``Float64`` with ``<NA>`` for a blank, and nothing else is missing.

    Raises:
        ExportFormatError: the file is not such a log (see above), is not UTF-8 text, cannot be read, or ``path`` is
            no path (an ``int`` would be opened as a file descriptor; this refusal is also an
            :class:`~recpool.InvalidRequest`, as it was).
    """
    pd = _pandas()
    try:
        name = checked_path(path, "the export")
    except InvalidRequest as error:
        raise ExportPathError(repr(path), None, None, error.message) from None
    text = _export_text(name)
    lines, fields = _export_fields(text, name)
    header = pd.read_csv(io.StringIO(text), nrows=0).columns
    # Raw user features (whatever their names) stay text, and an empty one stays "" (not NaN), as in the
    # live frame.
    text_columns = {column: str for column in _user_features_of(header[1:])}
    text_columns["viewed"] = str
    frame = pd.read_csv(io.StringIO(text), index_col=0, dtype=text_columns, keep_default_na=False)
    if len(frame) != len(lines):  # both parsers skip blank lines; anything else is a file neither should read
        raise ExportFormatError(name, None, None, f"pandas reads {len(frame)} rows where the file has {len(lines)}")
    stamps, problem = _timestamps(pd, frame["timestamp"], lines)
    problems = [problem] + [_first_problem(column, fields, lines) for column in _CHECK_ORDER
                            if column in fields and not _reads_well(column, frame[column])]
    problems += [_affinity_problem(pd, column, frame[column], lines) for column in frame.columns
                 if str(column).startswith(AFFINITY_PREFIX)]
    problems = [p for p in problems if p is not None]
    if problems:
        line, _, column, value, reason = min(problems, key=lambda p: (p[0], p[1]))
        raise ExportFormatError(name, line, column, reason, value)
    frame["timestamp"] = stamps
    # `3.0` is a whole number as well as `3`: such a column is still read as integers.
    for column in ("item_id", "position", "observed"):
        if column in frame.columns and frame[column].dtype != "int64":
            frame[column] = pd.to_numeric(frame[column]).astype("int64")
    # A blank click is an unobserved row's (missing, not 0); a blank dwell was not reported.
    frame["click"] = pd.to_numeric(_blank_as_missing(frame["click"])).astype("Int64")
    if "dwell" in frame.columns:
        frame["dwell"] = pd.to_numeric(_blank_as_missing(frame["dwell"])).astype("Float64")
    # `recpool logs export` writes the catalogue beside the log: its rows are the catalogue's item count, which
    # bandit_feedback and training_frame take as n_actions when none is given.
    companion = os.path.join(os.path.dirname(name) or ".", "item_context.csv")
    if os.path.isfile(companion):
        try:
            frame.attrs["catalogue_items"] = len(pd.read_csv(companion, index_col=0))
        except (OSError, ValueError, UnicodeDecodeError):
            pass  # an unreadable catalogue leaves n_actions to be given, as without one
    return frame


def _affinity_problem(pd, column: str, values, lines: list):
    """The first row of an affinity column that is not a finite number, as ``(line, order, column, text, reason)``;
    ``None`` when every row is one (the recpool commands refuse the file otherwise)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numbers)
    if not bad.any():
        return None
    row = int(np.flatnonzero(bad)[0])
    return lines[row], len(_CHECK_ORDER), str(column), str(values.iloc[row]), "is not a finite number"


def _blank_as_missing(values):
    """A column read as text with its blank fields (empty, or only spaces and tabs) as missing values."""
    if values.dtype in ("int64", "float64"):
        return values
    return values.str.strip(" \t").replace("", None)


#: The columns :func:`read_export` checks row by row, in the order a row's problems are named (``observed``
#: before ``click``, whose rule depends on it).
_CHECK_ORDER = ("item_id", "position", "observed", "click", "propensity_score", "dwell")
#: A number as the Swift loaders read a whole number's text (``CSVNumber.wholeNumber``): digits, optionally signed,
#: optionally a point and digits, optionally an exponent of at most 4 digits; it is whole when its exact value is an
#: integer of at most 15 digits (``3``, ``+3``, ``3.0``, ``3e0``, ``30e-1``).
_WHOLE = re.compile(r"[ \t]*([+-]?)([0-9]+)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]{1,4}))?[ \t]*")
#: A decimal number pandas reads as a float (no hexadecimal, no digit separators, no ``nan`` or ``inf``).
_NUMBER = re.compile(r"[ \t]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*")
_NON_FINITE = re.compile(r"[ \t]*[+-]?(?:nan|inf|infinity)[ \t]*", re.IGNORECASE)


def _export_text(path: str) -> str:
    """The file's text (a leading byte-order mark dropped); ``.gz``, ``.bz2``, ``.xz`` and one-file ``.zip``
    files decompressed, as pandas reads them."""
    source = os.path.expanduser(path)  # as pandas reads `~/…`
    lower = source.lower()
    # Read as the binaries read a file (a path, a regular file or a pipe; a FIFO no writer opens is refused after
    # 5 s), then decompressed in memory.
    data = read_bytes(source, "the export", error=lambda message: ExportFormatError(path, None, None, message))
    try:
        if lower.endswith(".gz"):
            import gzip
            data = gzip.decompress(data)
        elif lower.endswith(".bz2"):
            import bz2
            data = bz2.decompress(data)
        elif lower.endswith(".xz"):
            import lzma
            data = lzma.decompress(data)
        elif lower.endswith(".zip"):
            import zipfile
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
                if len(names) != 1:
                    raise ExportFormatError(path, None, None, f"the zip archive holds {len(names)} files, not one")
                data = archive.read(names[0])
    except ExportFormatError:
        raise
    except Exception as error:  # gzip's BadGzipFile, zipfile's BadZipFile, lzma's LZMAError, EOFError, ...
        raise ExportFormatError(path, None, None, f"cannot decompress it: {error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = 1 + data.count(b"\n", 0, error.start)
        raise ExportFormatError(path, line, None, "the line is not UTF-8 text") from None


def _export_fields(text: str, path: str):
    """Checks the file's shape (one header naming each column once, with the required columns; every row as
    wide as the header; no field holding a NUL character; at least one row) and returns the 1-based line each data
    row starts on and the texts of the columns :func:`read_export` checks row by row (those the file has), by name.
    A field may be of any length (the csv module's field size limit is lifted for the read)."""
    with _unlimited_fields():
        return _read_export_fields(text, path)


def _read_export_fields(text: str, path: str):
    """:func:`_export_fields`, with the csv module's field size limit lifted."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = None
    lines = []
    rows = []
    previous = 0  # the last line read: a record starts on the line after it
    # As the CLI refuses it (CSVFile): a field holding a NUL character, named by its line and column.
    nul = "\x00" in text
    try:
        for record in reader:
            # Blank lines (empty, or only spaces and tabs) are skipped, as pandas and the Swift loaders skip them.
            if record and (len(record) > 1 or record[0].strip(" \t")):
                header = record
                break
            previous = reader.line_num
        if header is None:
            raise ExportFormatError(path, 1, None, "the file is empty: no header line")
        header_line = previous + 1
        if nul:
            _refuse_nul(header, header, header_line, path)
        previous = reader.line_num
        _check_header(header, header_line, path)
        names = ["timestamp"] + [name for name in _CHECK_ORDER if name in header[1:]]
        pick = operator.itemgetter(*[header.index(name) for name in names])  # at least the five OBD columns
        width = len(header)
        for record in reader:
            if len(record) != width:
                if not record or (len(record) == 1 and not record[0].strip(" \t")):
                    previous = reader.line_num
                    continue
                if len(record) < width:
                    column, detail = header[len(record)], f"no field for column {header[len(record)]!r} onward"
                else:
                    column, extra = header[-1], len(record) - width
                    detail = f"{extra} field{'s' if extra > 1 else ''} beyond the last column {column!r}"
                raise ExportFormatError(
                    path, previous + 1, column,
                    f"the row has {len(record)} fields but the header (line {header_line}) has {width}: {detail}")
            if nul:
                _refuse_nul(record, header, previous + 1, path)
            lines.append(previous + 1)
            rows.append(pick(record))
            previous = reader.line_num
    except csv.Error as error:
        if "field limit" in str(error):  # not lifted far enough on this platform: a length, not a quote, problem
            raise ExportFormatError(
                path, previous + 1, None, f"a field is longer than {csv.field_size_limit()} characters, the longest "
                "Python's csv module reads here") from None
        raise ExportFormatError(
            path, previous + 1, None, f"unbalanced quote ({error}): a quoted field is never closed, or text follows "
            "its closing quote (quote the whole field and double a quote inside it: \"io\"\"s\")") from None
    if not rows:
        # As the CLI refuses it ("no rows"): a header alone is no log, and its frame would hold no impression.
        raise ExportFormatError(path, previous + 1, None,
                                f"no rows: the file has a header (line {header_line}) and no data row after it")
    columns = list(zip(*rows))
    return lines, dict(zip(names[1:], columns[1:]))


_FIELD_LIMIT = threading.Lock()
_FIELD_LIMIT_READS = [0, None]  # reads in progress, and the limit they lifted


@contextlib.contextmanager
def _unlimited_fields():
    """Lifts the csv module's field size limit (131,072 characters by default: a longer field, such as a long user
    feature, was refused as an "unbalanced quote") for a read, and restores it once the last read in progress ends
    (the limit is the process's; reads in several threads share one lifting)."""
    with _FIELD_LIMIT:
        if _FIELD_LIMIT_READS[0] == 0:
            _FIELD_LIMIT_READS[1] = csv.field_size_limit()
            limit = sys.maxsize
            while True:
                try:
                    csv.field_size_limit(limit)
                    break
                except OverflowError:  # a platform whose C long is 32 bits
                    limit //= 2
        _FIELD_LIMIT_READS[0] += 1
    try:
        yield
    finally:
        with _FIELD_LIMIT:
            _FIELD_LIMIT_READS[0] -= 1
            if _FIELD_LIMIT_READS[0] == 0:
                csv.field_size_limit(_FIELD_LIMIT_READS[1])


def _refuse_nul(record, header, line: int, path: str) -> None:
    """Refuses a record (the header too) with a field holding a NUL character (U+0000), as the CLI refuses such a file
    (no CSV field may hold one), naming the line and the field's column."""
    for index, field in enumerate(record):
        if "\x00" in field:
            column = header[index] if index < len(header) else header[-1]
            raise ExportFormatError(path, line, column, "holds a NUL character (U+0000), which no CSV field may hold",
                                    field)


def _check_header(header, line: int, path: str) -> None:
    """Refuses a header that names a column twice or lacks one of :data:`OBD_COLUMNS`."""
    seen = {}
    for index, name in enumerate(header):
        if name in seen:
            raise ExportFormatError(
                path, line, name, f"the header names the column twice (columns {seen[name] + 1} and {index + 1})")
        seen[name] = index
    for name in OBD_COLUMNS:
        if name in header[1:]:
            continue
        if header[0] == name:
            hint = (f": the first column, {name!r}, is the row index (the export's first column is unnamed: "
                    "write an index column first)")
        else:
            spaced = [h for h in header if h.strip() == name]
            hint = f": there is {spaced[0]!r} (column names are matched exactly)" if spaced else ""
        raise ExportFormatError(path, line, name, f"the header has no such column{hint}")


def _whole_digits(match):
    """The digits of a :data:`_WHOLE` match's integer value without leading zeros (``"0"`` for zero), or ``None``
    when its value is not an integer; computed on the digits, never through a float."""
    fraction = match.group(3) or ""
    significand = (match.group(2) + fraction).lstrip("0")
    scale = int(match.group(4) or 0) - len(fraction)
    if not significand:
        return "0"
    while scale < 0 and significand.endswith("0"):
        significand, scale = significand[:-1], scale + 1
    if scale < 0:
        return None
    return significand + "0" * scale if len(significand) + scale <= 16 else "9" * 16


def _whole(text: str):
    """``text`` as a whole number (``3``, ``-3``, ``3.0``, ``3e0``), or ``None``."""
    match = _WHOLE.fullmatch(text)
    digits = _whole_digits(match) if match is not None else None
    if digits is None or len(digits) > 15:
        return None
    value = int(digits)
    return -value if match.group(1) == "-" else value


def _whole_problem(text: str, rule: str):
    """Why ``text`` is not a whole number (a reason ending in ``rule``), or ``None`` when it is one."""
    if _whole(text) is not None:
        return None
    if not text.strip(" \t"):
        return f"is blank: {rule}"
    match = _WHOLE.fullmatch(text)
    if match is not None and _whole_digits(match) is not None:
        return f"has more than 15 digits: {rule}"
    return f"{_not_whole(text)}: {rule}"


def _not_whole(text: str) -> str:
    """What ``text``, which is not a whole number as :func:`_whole` reads one, is instead."""
    if _NUMBER.fullmatch(text):
        value = float(text)
        if not np.isfinite(value):
            return "is not a finite number"
        return "is not written as a whole number" if value.is_integer() else "is a fraction"
    return "is not a finite number" if _NON_FINITE.fullmatch(text) else "is not a number"


def _reads_well(column: str, values) -> bool:
    """Whether pandas read every value of ``column`` as a number that keeps its rule (a fast path: the texts are
    checked one by one only when this is not so, e.g. a click column with blanks, or ``3.0`` ids)."""
    kind = values.dtype
    if kind != "int64" and (kind != "float64" or column not in ("propensity_score", "dwell")):
        return False
    numbers = values.to_numpy()
    if column == "item_id":
        return bool(((numbers >= 0) & (numbers < 10**15)).all())
    if column == "position":
        return bool(((numbers >= 1) & (numbers < 10**15)).all())
    if column in ("observed", "click"):
        return bool(((numbers == 0) | (numbers == 1)).all())
    if column == "propensity_score":
        return bool((np.isfinite(numbers) & (numbers >= MINIMUM_PROPENSITY) & (numbers <= 1)).all())
    return bool((np.isfinite(numbers) & (numbers >= 0) & (numbers <= MAXIMUM_DWELL_SECONDS)).all())  # dwell


def _first_problem(column: str, fields: dict, lines: list):
    """The first row of ``column`` that breaks its rule, as ``(line, order, column, text, reason)``, or ``None``."""
    texts = fields[column]
    order = _CHECK_ORDER.index(column)
    for row, reason in _problems(column, texts, fields):
        return lines[row], order, column, texts[row], reason
    return None


def _problems(column: str, texts, fields):
    """Yields ``(row, reason)`` for the rows of ``column`` that break its rule, in file order."""
    if column == "item_id":
        rule = "an item id is a catalogue row (0, 1, 2, …)"
        for row, text in enumerate(texts):
            if text.isdigit() and text.isascii() and len(text) <= 15:
                continue
            reason = _whole_problem(text, rule)
            if reason is None and _whole(text) < 0:
                reason = f"is negative: {rule}"
            if reason is not None:
                yield row, reason
    elif column == "position":
        rule = "a position is the slot, counted from 1 (the top)"
        for row, text in enumerate(texts):
            reason = _whole_problem(text, rule)
            if reason is None and _whole(text) < 1:
                reason = f"is below 1: {rule}"
            if reason is not None:
                yield row, reason
    elif column == "observed":
        rule = "observed is 1 when feedback arrived for the item and 0 when none did"
        for row, text in enumerate(texts):
            if text == "1" or text == "0":
                continue
            reason = _whole_problem(text, rule)
            if reason is not None or _whole(text) not in (0, 1):
                yield row, reason or f"is not 0 or 1: {rule}"
    elif column == "click":
        observed = fields.get("observed")
        for row, text in enumerate(texts):
            if text == "1" or text == "0":
                continue
            if not text.strip(" \t"):
                if observed is None:
                    yield row, ("is blank: a file without an 'observed' column has every row observed, so each "
                                "click is 0 or 1")
                elif _whole(observed[row]) != 0:
                    yield row, ("is blank on an observed row (observed is not 0): only an unobserved row's click "
                                "may be blank")
                continue
            value = _whole(text)
            if value in (0, 1):
                continue
            if value is None:
                kind = _not_whole(text)
            else:
                kind = "is negative" if value < 0 else "is not 0 or 1"
            yield row, f"{kind}: a click is 0 or 1 (or blank on an unobserved row)"
    elif column == "propensity_score":
        rule = "a propensity is a probability in (0, 1]"
        for row, text in enumerate(texts):
            reason = _real_problem(text, rule)
            if reason is None and not 0 < float(text) <= 1:
                reason = f"is outside (0, 1]: {rule}"
            elif reason is None and float(text) < MINIMUM_PROPENSITY:
                reason = (f"is below the smallest usable propensity {MINIMUM_PROPENSITY:g} "
                          "(its importance weight would overflow)")
            if reason is not None:
                yield row, reason
    elif column == "dwell":
        rule = "a dwell is the seconds reported with the feedback, 0 to 1e9 (blank when none was)"
        for row, text in enumerate(texts):
            if not text:
                continue
            reason = None if not text.strip(" \t") else _real_problem(text, rule)
            if reason is None and text.strip(" \t") and float(text) < 0:
                reason = f"is negative: {rule}"
            elif reason is None and text.strip(" \t") and float(text) > MAXIMUM_DWELL_SECONDS:
                reason = f"is above 1e9 s: {rule}"
            if reason is not None:
                yield row, reason


def _real_problem(text: str, rule: str):
    """Why ``text`` is not a finite decimal number (a reason ending in ``rule``), or ``None`` when it is one."""
    if _NUMBER.fullmatch(text):
        return None if np.isfinite(float(text)) else f"is not a finite number: {rule}"
    if not text.strip(" \t"):
        return f"is blank: {rule}"
    if _NON_FINITE.fullmatch(text):
        return f"is not a finite number: {rule}"
    return f"is not a number: {rule}"


def _timestamps(pd, column, lines: list):
    """``column`` as UTC times, as read_export has always converted it, and ``None``; or ``None`` and the first
    row that is not a time, as ``(line, order, "timestamp", text, reason)``. A column of numbers is Unix seconds, as
    the recpool commands read it (pandas alone would read them as nanoseconds, 1970 plus a second); the words pandas
    turns into the clock's time (``now``, ``today``) are not timestamps."""
    if column.dtype.kind in "iuf":
        numbers = column.to_numpy(dtype=float)
        bad = ~np.isfinite(numbers) | (np.abs(numbers) > 253402300799)  # within years 1…9999
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            return None, (lines[row], -1, "timestamp", str(column.iloc[row]),
                          "is not a timestamp: a number is Unix seconds, finite and before the year 10000")
        return pd.to_datetime(numbers, unit="s", utc=True), None
    words = column.astype(str).str.strip().str.lower().isin(["now", "today", "tomorrow", "yesterday"]).to_numpy()
    if words.any():
        row = int(np.flatnonzero(words)[0])
        return None, (lines[row], -1, "timestamp", str(column.iloc[row]),
                      "is not a timestamp: a word for the clock's time; write the time itself")
    try:
        stamps = pd.to_datetime(column, utc=True)
    except (ValueError, TypeError, OverflowError):
        stamps = None
    if stamps is not None and not stamps.isna().any():
        return stamps, None
    if stamps is not None:
        bad = stamps.isna().to_numpy()
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bad = pd.to_datetime(column, utc=True, errors="coerce").isna().to_numpy()
    rows = np.flatnonzero(bad)
    row = int(rows[0]) if len(rows) else None
    if row is None:  # each time reads alone, the column does not: find the first that breaks the first's format
        row = next((k for k in range(1, len(column)) if _written_unlike(pd, column.iloc[[0, k]])), len(column) - 1)
    text = str(column.iloc[row])
    rule = "write a date-time such as 2024-05-01 10:00:00.000000+00:00, as the export does"
    if not text.strip():
        reason = f"is blank: {rule}"
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                alone = pd.to_datetime(text, utc=True)
        except (ValueError, TypeError, OverflowError):
            alone = None
        if alone is not None and not pd.isna(alone) and row > 0:
            reason = (f"is written unlike line {lines[0]}'s timestamp {str(column.iloc[0])!r}: write every timestamp "
                      "the same way (pandas reads the column in one format)")
        else:
            reason = f"is not a date-time: {rule}"
    return None, (lines[row], -1, "timestamp", text, reason)


def _written_unlike(pd, pair) -> bool:
    """Whether two times do not convert together (the second is written unlike the first)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(pd.to_datetime(pair, utc=True).isna().any())
    except (ValueError, TypeError, OverflowError):
        return True


def _user_features_of(columns) -> list:
    """The user-feature columns among ``columns``: every column that is neither OBD's, nor the export's,
    nor an affinity column (a shop's features keep their own names: ``device``, ``age``)."""
    known = set(OBD_COLUMNS) | set(TAIL_COLUMNS) | set(EXPORT_COLUMNS)
    return [c for c in columns if str(c) not in known and not str(c).startswith(AFFINITY_PREFIX)
            and not str(c).startswith("Unnamed:")]


def _user_dummies(frame, **options):
    """The user features one-hot encoded (``pandas.get_dummies`` of their text, a blank value giving no column, as
    RecPool's context gives none); no columns for a pool whose requests carry no user features."""
    pd = _pandas()
    features = _user_features_of(frame.columns)
    if not features:
        return pd.DataFrame(index=frame.index)
    # A blank value (empty, or white space only) is missing, as RecPool reads it: no column, never `device_`. Spaces
    # and tabs around a value are no part of it, as RecPool reads a request's or a log's value: ` web ` is `web`; and a
    # value is read in Unicode's composed form (NFC), so `café` with U+00E9 and with `e` + U+0301 is one category.
    text = frame[features].astype(str).apply(
        lambda column: column.str.strip(" \t").str.normalize("NFC"))
    text = text.mask(text.apply(lambda column: column.str.fullmatch("")))
    return pd.get_dummies(text, dtype=float, **options)


def bandit_feedback(frame, *, n_actions: Optional[int] = None, item_context=None) -> dict:
    """obp's ``bandit_feedback`` dictionary from an OBD-layout DataFrame, so that obp's estimators
    (``OffPolicyEvaluation(bandit_feedback=…)``) run on RecPool's logs.

    Keys: ``n_rounds``, ``n_actions``, ``action``, ``position`` (from 0, as obp counts), ``reward`` (the
    click), ``pscore`` (the logged propensity), ``context`` (one-hot user features, every category of each (obp's
    OpenBanditDataset drops each feature's first category, ``drop_first=True``, so its context is one column narrower
    per feature; the estimators' weights do not depend on it), then the ``user-item_affinity_*`` columns in obp's
    order), ``action_context`` (the item
    context one-hot encoded past its continuous ``item_feature_0``, or the identity when none is given, which
    needs ``n_actions`` of at most :data:`AFFINITY_COLUMNS_LIMIT`) and ``timestamp`` (when the frame has that column).
    Rows with ``observed`` 0 (no feedback) are left out: their click is unknown.

    ``n_actions`` is the catalogue's item count. By default it is the one the log itself gives: the frame's
    ``attrs["catalogue_items"]`` (which :func:`impressions_frame` sets from the policy's spec), else its
    ``user-item_affinity_*`` columns (one per item, as the export and OBD files have them), else ``item_context``'s
    rows; never the highest item that got feedback, which left the catalogue's last items out of ``n_actions`` and
    ``action_context`` while ``context`` had a column for each. When none of these is there (a frame without affinity
    columns, read back from an export of a large catalogue, say), pass it.

    Raises:
        TypeError: ``frame`` (or ``item_context``) is no pandas DataFrame, named as the parameter.
        ValueError: a missing ``item_id``, ``position``, ``click`` or ``propensity_score`` column, named; an
            ``observed`` other than 0 or 1 (see :func:`observed_rows`); no observed row; an item, position, click or
            propensity the recpool commands would refuse, named with its row (a missing ``<NA>`` click or item as
            missing); no ``n_actions`` given and none the frame gives, or two of them that disagree.

    The rounds are in time order, ties in the frame's order (a stable sort on ``timestamp``; the frame's order without
    one), which is the order of
    recpool's own off-policy arrays (``recpool data ope --policy-out``, ``--rewards-out``, and the
    ``--action-dist`` it reads): a log holds impressions in the order the broker stored them, and two workers'
    impressions can be stored a millisecond out of their serving order.
    """
    pd = _pandas()
    _frame_argument(frame, "bandit_feedback")
    if item_context is not None:
        _frame_argument(item_context, "bandit_feedback", "item_context", "of the item features (or None)")
    _require_columns(frame, ("item_id", "position", "click", "propensity_score"))
    catalogue = _catalogue_items(frame, item_context) if n_actions is None else None
    frame = observed_rows(frame)
    if "timestamp" in frame.columns:
        frame = frame.sort_values("timestamp", kind="stable")
    if len(frame) == 0:
        raise ValueError("the frame holds no impressions")
    action, position, reward, n_actions = _checked_rows(frame, "click", n_actions, catalogue)
    pscore = frame["propensity_score"].to_numpy(dtype=float)
    outside = ~((pscore > 0) & (pscore <= 1))  # NaN fails both
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise ValueError(f"propensity_score {float(pscore[row])!r} (row {_plain(frame.index[row])!r}) is outside "
                         "(0, 1]")
    small = pscore < MINIMUM_PROPENSITY
    if small.any():
        row = int(np.flatnonzero(small)[0])
        raise ValueError(f"propensity_score {float(pscore[row])!r} (row {_plain(frame.index[row])!r}) is below the "
                         f"smallest usable propensity {MINIMUM_PROPENSITY:g} (its importance weight would overflow)")
    users = _user_dummies(frame)
    affinity = _affinity(frame)
    context = pd.concat([users, affinity], axis=1).to_numpy(dtype=float)
    if item_context is None:
        if n_actions > AFFINITY_COLUMNS_LIMIT:
            raise ValueError(f"n_actions is {n_actions}: pass item_context (the item features; the default identity "
                             f"would be {n_actions} × {n_actions})")
        action_context = np.eye(n_actions)
    else:
        items = item_context.sort_values("item_id")
        rest = [c for c in items.columns if c not in ("item_id", "item_feature_0")]
        parts = [items[["item_feature_0"]].astype(float)] if "item_feature_0" in items else []
        if rest:
            parts.append(pd.get_dummies(items[rest].astype(str), dtype=float))
        if not parts:
            raise ValueError("item_context has no column besides item_id")
        action_context = pd.concat(parts, axis=1).to_numpy(dtype=float)
    feedback = {
        "n_rounds": len(frame), "n_actions": n_actions, "action": action,
        "position": position,
        "reward": reward.astype(int), "pscore": pscore, "context": context,
        "action_context": action_context,
    }
    if "timestamp" in frame.columns:  # obp's estimators do not read it: a frame without one has no such key
        feedback["timestamp"] = frame["timestamp"].to_numpy()
    return feedback


def training_frame(frame, *, label: str = "click", n_actions: Optional[int] = None,
                   features: Optional[Sequence[str]] = None):
    """Logged impressions as a numeric training table: one-hot user features, one-hot item, the position,
    and ``label`` (the click), the CSV shape a ``train`` job reads (a header, numeric features, ``label``).

    ``features`` fixes the user-feature dummy columns (``name=value``), so that later tables line up. Rows
    with ``observed`` 0 (no feedback) are left out: their label is unknown. ``n_actions`` (one ``item=k`` column per
    item) is by default the catalogue's item count the frame gives, as for :func:`bandit_feedback`.

    Raises:
        TypeError: ``frame`` is no pandas DataFrame, named as the parameter.
        InvalidRequest: ``features`` is not a list of distinct dummy column names (a string, a 0-d array, a name
            twice, a name without ``=`` such as a user feature's own name).
        ValueError: the frame holds no observed impression; ``item_id``, ``position`` or ``label`` is not a column,
            ``observed`` holds a value other than 0 or 1 (see :func:`observed_rows`), ``label`` holds a value other than 0
            or 1; an item is not a whole number in ``0..<n_actions`` or a position not a whole number ≥ 1 (nothing is
            rounded); ``n_actions`` is not a whole number ≥ 1, or is not given and the frame gives none (the same
            checks, worded the same way, as ``bandit_feedback``).
    """
    pd = _pandas()
    _frame_argument(frame, "training_frame")
    columns = _feature_columns(features)
    _require_columns(frame, ("item_id", "position", label))
    catalogue = _catalogue_items(frame) if n_actions is None else None
    frame = observed_rows(frame)
    # Checked before the index is reset: a bad value is named by the frame's own row, as bandit_feedback names it.
    action, _, labels, n_actions = _checked_rows(frame, label, n_actions, catalogue)
    frame = frame.reset_index(drop=True)
    users = _user_dummies(frame, prefix_sep="=")
    if columns is not None:
        users = users.reindex(columns=columns, fill_value=0.0)
    items = np.zeros((len(frame), n_actions))
    items[np.arange(len(frame)), action] = 1.0
    table = pd.concat([users.reset_index(drop=True),
                       pd.DataFrame(items, columns=[f"item={k}" for k in range(n_actions)]),
                       pd.DataFrame({"position": frame["position"].to_numpy(dtype=float),
                                     "label": labels})], axis=1)
    return table


def _feature_columns(features):
    """``training_frame``'s ``features`` as a list of column names, or None; InvalidRequest naming ``features`` for a
    string (which would give one column per character), a 0-d array, something that is no list, an item that is not
    a string, or a name given twice (which would give two columns of one name)."""
    if features is None:
        return None
    if (isinstance(features, (str, bytes, dict)) or getattr(features, "ndim", None) == 0
            or not hasattr(features, "__iter__")):
        raise InvalidRequest(f"features must be a list of dummy column names (name=value), got {features!r}"
                             + (": a string is one name, pass [name]" if isinstance(features, str) else ""))
    columns = list(features)
    seen = {}
    for index, name in enumerate(columns):
        if not isinstance(name, str):
            raise InvalidRequest(f"features[{index}] must be a column name (name=value), got {name!r}")
        if name.startswith("item="):
            # The item's own one-hot columns follow the user features: named here, it became a second, all-zero
            # column of that name.
            raise InvalidRequest(f"features[{index}] is {name!r}, an item column: features names the user-feature "
                                 "dummy columns only (the item, position and label columns follow them)")
        if "=" not in name:
            # A user feature's own name (``device``) matched no dummy column and became a column of zeros, while
            # every real user-feature column was dropped: the table lost its user features without a word.
            raise InvalidRequest(f"features[{index}] is {name!r}, which is no dummy column name: the columns are one "
                                 f"per value, name=value (such as '{name}=<value>')")
        if name in seen:
            raise InvalidRequest(f"features[{index}] repeats {name!r} (features[{seen[name]}]): each column is named "
                                 "once")
        seen[name] = index
    return columns


def _header_names(columns) -> list:
    """The upload's header for the feature columns: their names as text, which the job's checkpoint records as its
    input columns (so ``recpool predict`` on ``frame.to_csv(index=False)`` checks them, as for ``recpool fit``), or
    ``f0, f1, …`` when the names cannot stand in a CSV header as they are (repeated once written as text, empty,
    ``label``, padded with spaces, holding a control character)."""
    names = [str(column) for column in columns]
    def plain(name: str) -> bool:
        return (bool(name) and name != "label" and name.strip(" \t") == name
                and not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in name))
    if len(set(names)) == len(names) and all(plain(name) for name in names):
        return names
    return [f"f{j}" for j in range(len(names))]


def _overflow_text(frame):
    """Where the first value no float can hold stands in ``frame`` (an int of 400 digits, a ``Fraction`` of one),
    in row order by position, and what it is; None when there is none."""
    for row, values in enumerate(frame.itertuples(index=False, name=None)):
        for position, value in enumerate(values):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
                continue
            try:
                float(value)
            except OverflowError:
                name = frame.columns[position]
                if isinstance(value, int):
                    # str() of an int past 4,300 digits is refused: the digit count from its bit length.
                    digits = int(abs(value).bit_length() * 0.30102999566398120) + 1
                    what = f"an integer of about {digits} digits" if digits > 4000 else f"an integer of {len(str(abs(value)))} digits"
                else:
                    what = f"a {type(value).__name__} value"
                return f"row {row}, column {name!r}: {what} is beyond a 32-bit float's range (±3.4e38), which the model reads"
    return None


def csv_bytes(frame, *, label: str = "label") -> bytes:
    """A numeric DataFrame with a ``label`` column as the CSV a ``train`` job reads: a header of plain
    feature names (``f0``, ``f1``, …), the features, then ``label``.

    Raises:
        InvalidRequest (a ``ValueError``, as ``client.train(frame)`` raises it): no ``label`` column, no row or no
            feature column (a job on it would fail on the workers: the CLI refuses such a file before uploading it), a
            value that is missing (``<NA>``, ``None``), NaN, infinite or not numeric, a feature beyond a 32-bit
            float's range, or a label outside [0, 1]; a bad value is named by its row (0-based, by position) and
            column, the first in row order; a frame that is no pandas DataFrame (a polars one: convert it with
            ``frame.to_pandas()``), named by its type.
    """
    pd = _pandas()
    if not isinstance(frame, pd.DataFrame):
        # A polars DataFrame raised a bare AttributeError from inside the checks below ('list' object has no
        # attribute 'items').
        kind = f"{type(frame).__module__}.{type(frame).__qualname__}"
        convert = " (convert it with frame.to_pandas())" if hasattr(frame, "to_pandas") else ""
        raise InvalidRequest(f"a training frame must be a pandas DataFrame, got {kind}{convert}")
    if label not in frame.columns:
        raise InvalidRequest(f"the frame has no {label!r} column")
    repeated = sum(1 for column in frame.columns if column == label)
    if repeated > 1:
        # frame[label] is then a DataFrame, and numpy said only "Expected a 1D array".
        raise InvalidRequest(f"the frame has {repeated} columns named {label!r}: a training table has one label column "
                         "(rename or drop the others)")
    if len(frame) == 0:
        raise InvalidRequest("the frame has no data rows")
    if len(frame.columns) == 1:
        # A job on it failed on the workers ("no feature columns"), as `recpool train` refuses such a file.
        raise InvalidRequest(f"the frame has no feature columns: its only column is {label!r} (a model needs at least one "
                         "input column beside the label)")
    for column, dtype in frame.dtypes.items():
        # numpy would turn a date into its epoch microseconds and drop a complex number's imaginary part.
        if getattr(dtype, "kind", "O") in "mMcSUV":
            raise InvalidRequest(f"the frame holds a value that is not a number: column {column!r} is {dtype}")
        # Nothing is converted silently: a boolean would be sent as 0 or 1, as ``score`` refuses it.
        if getattr(dtype, "kind", "O") == "b":
            raise InvalidRequest(f"the frame holds a value that is not a number: column {column!r} is {dtype} "
                             f"(booleans are not converted: frame.astype({{{column!r}: float}}) sends them as 0 and 1)")
    found = _first_bool(frame)
    if found is not None:
        raise InvalidRequest(f"the frame holds a value that is not a number: row {found[0]}, column {found[1]!r} is "
                         f"{found[2]!r} (booleans are not converted to 0 or 1)")
    features = frame.drop(columns=[label])
    try:
        values = features.to_numpy(dtype=float)
        labels = frame[label].to_numpy(dtype=float)
    except OverflowError:
        # An integer past a float's range (10**400) in an object column: a bare OverflowError escaped.
        where = _overflow_text(frame)
        raise InvalidRequest(where or "the frame holds a number beyond a 32-bit float's range (±3.4e38), which the "
                         "model reads") from None
    except (TypeError, ValueError) as error:
        found = _first_not_a_number(frame)
        where = "" if found is None else f"row {found[0]}, column {found[1]!r}: {found[2]!r} is not a number; "
        raise InvalidRequest(f"the frame holds a value that is not a number: {where}{error}") from None
    # The first bad value in row order, the label being the last column of a row as in the CSV.
    bad = np.argwhere(~np.isfinite(np.column_stack([values, labels])))
    if len(bad):
        row, column = (int(i) for i in bad[0])
        name = label if column == values.shape[1] else features.columns[column]
        value = labels[row] if column == values.shape[1] else values[row, column]
        written = frame[name].iloc[row]
        if written is None or type(written).__name__ in ("NAType", "NaTType"):
            # A nullable column's <NA> (or None in an object column) became NaN in the conversion: it is missing.
            raise InvalidRequest(f"row {row}, column {name!r}: the value is missing ({written}): a training CSV holds "
                                 "no missing value (fill it, frame.fillna(...), or drop the row)")
        if isinstance(written, Decimal) and written.is_finite():
            # Decimal('1e400') is finite: it became infinity only in the conversion (was "inf is not a finite number").
            raise InvalidRequest(f"row {row}, column {name!r}: {written} is beyond a 32-bit float's range (±3.4e38), which "
                             "the model reads")
        raise InvalidRequest(f"row {row}, column {name!r}: {float(value)!r} is not a finite number (the frame holds NaN "
                         "or infinity; a training CSV holds neither)")
    # As `recpool train` and `fit` check the file before uploading it: the workers read features as 32-bit floats
    # and a label as a click probability, and a job on anything else failed on them after the upload.
    # Compared as the workers read them, after rounding to float32 (3.4028235e38 is the largest finite one).
    with np.errstate(over="ignore"):
        beyond = np.argwhere(np.isinf(values.astype(np.float32)))
    if len(beyond):
        row, column = (int(i) for i in beyond[0])
        raise InvalidRequest(f"row {row}, column {frame.drop(columns=[label]).columns[column]!r}: {float(values[row, column])!r} is "
                         "beyond a 32-bit float's range (±3.4e38), which the model reads")
    rounded = labels.astype(np.float32)
    outside = np.flatnonzero((rounded < 0) | (rounded > 1))
    if len(outside):
        raise InvalidRequest(f"row {int(outside[0])}: the {label!r} value {float(labels[outside[0]])!r} is not a click probability "
                         "in [0, 1]")
    pd = _pandas()
    table = pd.DataFrame(values, columns=_header_names(features.columns))
    table["label"] = labels
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def _first_bool(frame):
    """``(row, column, value)`` of the first boolean (Python's or numpy's) in row order (by position) in the frame's
    object columns, which ``to_numpy(dtype=float)`` would read as 0 or 1; None if there is none."""
    objects = [column for column, dtype in frame.dtypes.items() if getattr(dtype, "kind", "O") == "O"]
    if not objects:
        return None
    found = None
    for column in objects:
        flags = frame[column].map(lambda value: isinstance(value, (bool, np.bool_))).to_numpy(dtype=bool)
        if flags.any():
            row = int(np.flatnonzero(flags)[0])
            if found is None or row < found[0] or (row == found[0] and
                                                    list(frame.columns).index(column) < list(frame.columns).index(found[1])):
                found = (row, column, _plain(frame[column].iloc[row]))
    return found


def _first_not_a_number(frame):
    """``(row, column, value)`` of the first value in row order (by position) that ``float()`` cannot read, in a frame
    that ``to_numpy(dtype=float)`` refused; None if none is found one by one."""
    columns = list(frame.columns)
    for row, values in enumerate(frame.itertuples(index=False, name=None)):
        for column, value in zip(columns, values):
            try:
                float(value)
            except (TypeError, ValueError, OverflowError):
                return row, column, _plain(value)
    return None


def upload_frame(client, frame, *, name: str = "frame.csv", label: str = "label",
                 timeout: Optional[float] = None) -> str:
    """Uploads a numeric DataFrame (with a ``label`` column) as a training CSV; returns ``sha256:<hex>``.
    ``timeout``: seconds for the whole upload (one deadline for all its chunks; the client's by default).

    Logged impressions go through :func:`training_frame` first. ``client.train(frame)`` does the same, and refuses
    the same frames with the same :class:`~recpool.InvalidRequest` (see :func:`csv_bytes`), before anything is sent.
    With an :class:`~recpool.AsyncClient`, await the result.

    Raises:
        TypeError: ``client`` is no :class:`~recpool.Client` or :class:`~recpool.AsyncClient` (an endpoint string,
            say), named as the parameter.
        InvalidRequest: a frame :func:`csv_bytes` refuses.
    """
    if not callable(getattr(client, "upload_bytes", None)):
        raise TypeError(_not_a_client("upload_frame", "client", client, "a recpool Client or AsyncClient"))
    return client.upload_bytes(csv_bytes(frame, label=label), name, timeout=timeout)


def _not_a_client(function: str, parameter: str, value, accepted: str) -> str:
    """The TypeError message of ``function``'s ``parameter``, which should be ``accepted`` (a client) and is
    ``value``: its type, its text when it is a string or a number, and a hint for an endpoint or a DataFrame."""
    shown = ""
    if isinstance(value, (str, bytes, Real)):
        text = repr(value)
        shown = " " + (text if len(text) <= 80 else text[:77] + "...")
    if isinstance(value, str):
        hint = f" (an endpoint: open recpool.Client({value!r}) and pass the client)"
    elif hasattr(value, "columns"):
        hint = " (a frame is already a log: pass it to bandit_feedback or training_frame)"
    else:
        hint = ""
    return f"{function}'s {parameter} must be {accepted}, got {type(value).__name__}{shown}{hint}"
