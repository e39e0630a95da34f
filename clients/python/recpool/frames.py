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

import inspect
import io
from typing import Optional, Sequence

import numpy as np

#: The Open Bandit Dataset columns, in order, before the user features.
OBD_COLUMNS = ("timestamp", "item_id", "position", "click", "propensity_score")
#: The columns after the affinities.
TAIL_COLUMNS = ("observed", "dwell", "impression_id", "policy_version")
#: Columns of ``recpool logs export``'s file that are neither OBD's nor a user feature.
EXPORT_COLUMNS = ("viewed", "score", "retrieval")
#: The prefix of OBD's per-item history columns.
AFFINITY_PREFIX = "user-item_affinity_"
#: The largest catalogue :func:`impressions_frame` gives one ``user-item_affinity_*`` column per item by default
#: (a frame of 200,000 rows and 100,000 such columns would be 160 GB).
AFFINITY_COLUMNS_LIMIT = 1000


def observed_rows(frame):
    """The rows whose outcome was reported (``observed`` 1; every row of a frame without that column)."""
    if "observed" not in frame.columns:
        return frame
    return frame[frame["observed"].astype(int) == 1]


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
                      affinity_columns: Optional[bool] = None):
    """The impression log as a DataFrame in the OBD layout (one row per shown item, slot order).

    Args:
        source: a :class:`~recpool.Client` (the log is paged with CONTROL ``impressions``), or the
            ``(rows, spec)`` pair ``Client.impressions()`` returns (with an AsyncClient, pass
            ``await aclient.impressions()``).
        affinity_columns: whether to add OBD's ``user-item_affinity_*`` columns, one per catalogue item,
            from each impression's viewed items. By default only for a catalogue of at most
            :data:`AFFINITY_COLUMNS_LIMIT` items; the history is always in the ``viewed`` column too
            (``item:seconds`` pairs joined by ``;``, as ``recpool logs export`` writes it).
    """
    pd = _pandas()
    if inspect.iscoroutinefunction(getattr(source, "impressions", None)):
        raise TypeError("impressions_frame reads an AsyncClient's log only once awaited: pass "
                        "`await aclient.impressions()`")
    rows, spec = source.impressions(after, page_size) if hasattr(source, "impressions") else source
    feature_names = set()
    for row in rows:
        feature_names.update((row["record"].get("user_features") or {}).keys())
    # The policy's spec names its user features (``user_features``: objects with ``name``); older pools sent
    # ``user_feature_cardinalities`` for the simulator's ``user_feature_j`` columns.
    declared = (spec or {}).get("user_features")
    if isinstance(declared, list):
        feature_names.update(f["name"] for f in declared if isinstance(f, dict) and isinstance(f.get("name"), str))
    cardinalities = (spec or {}).get("user_feature_cardinalities")
    if isinstance(cardinalities, list):
        feature_names.update(f"user_feature_{j}" for j in range(len(cardinalities)))
    features = sorted(feature_names, key=lambda name: (len(name), name))
    n_items = _catalogue_size(spec)
    records = []
    for row in rows:
        record = row["record"]
        clicks = row.get("clicks") or {}
        dwell = row.get("dwell") or {}
        stamp = pd.Timestamp(int(record["created_ms"]), unit="ms", tz="UTC")
        context = record.get("user_features") or {}
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
    return frame


def read_export(path):
    """Reads ``impressions.csv`` from ``recpool logs export`` (or an OBD file) into the same layout."""
    pd = _pandas()
    header = pd.read_csv(path, nrows=0).columns
    # Raw user features (whatever their names) stay text, and an empty one stays "" (not NaN), as in the
    # live frame.
    text = {name: str for name in _user_features_of(header[1:])}
    text["viewed"] = str
    frame = pd.read_csv(path, index_col=0, dtype=text, keep_default_na=False)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    # A blank click is an unobserved row's (missing, not 0); a blank dwell was not reported.
    frame["click"] = pd.to_numeric(frame["click"].replace("", None)).astype("Int64")
    if "dwell" in frame.columns:
        frame["dwell"] = pd.to_numeric(frame["dwell"].replace("", None)).astype("Float64")
    return frame


def _user_features_of(columns) -> list:
    """The user-feature columns among ``columns``: every column that is neither OBD's, nor the export's,
    nor an affinity column (a shop's features keep their own names: ``device``, ``age``)."""
    known = set(OBD_COLUMNS) | set(TAIL_COLUMNS) | set(EXPORT_COLUMNS)
    return [c for c in columns if str(c) not in known and not str(c).startswith(AFFINITY_PREFIX)
            and not str(c).startswith("Unnamed:")]


def _user_dummies(frame, **options):
    """The user features one-hot encoded (``pandas.get_dummies`` of their text); no columns for a pool whose
    requests carry no user features."""
    pd = _pandas()
    features = _user_features_of(frame.columns)
    if not features:
        return pd.DataFrame(index=frame.index)
    return pd.get_dummies(frame[features].astype(str), dtype=float, **options)


def bandit_feedback(frame, *, n_actions: Optional[int] = None, item_context=None) -> dict:
    """obp's ``bandit_feedback`` dictionary from an OBD-layout DataFrame, so that obp's estimators
    (``OffPolicyEvaluation(bandit_feedback=…)``) run on RecPool's logs.

    Keys: ``n_rounds``, ``n_actions``, ``action``, ``position`` (from 0, as obp counts), ``reward`` (the
    click), ``pscore`` (the logged propensity), ``context`` (one-hot user features, then the
    ``user-item_affinity_*`` columns, as obp's OpenBanditDataset builds it), ``action_context`` (the item
    context one-hot encoded past its continuous ``item_feature_0``, or the identity when none is given, which
    needs ``n_actions`` of at most :data:`AFFINITY_COLUMNS_LIMIT`) and ``timestamp``. Rows with ``observed`` 0 (no feedback) are left out: their click is unknown.

    The rounds are in time order, ties in the frame's order (a stable sort on ``timestamp``), which is the order of
    recpool's own off-policy arrays (``recpool data ope --policy-out``, ``--rewards-out``, and the
    ``--action-dist`` it reads): a log holds impressions in the order the broker stored them, and two workers'
    impressions can be stored a millisecond out of their serving order.
    """
    pd = _pandas()
    frame = observed_rows(frame)
    if "timestamp" in frame.columns:
        frame = frame.sort_values("timestamp", kind="stable")
    if len(frame) == 0:
        raise ValueError("the frame holds no impressions")
    action = frame["item_id"].to_numpy(dtype=int)
    n_actions = int(n_actions if n_actions is not None else action.max() + 1)
    if action.max() >= n_actions:
        raise ValueError(f"item {action.max()} is outside n_actions = {n_actions}")
    pscore = frame["propensity_score"].to_numpy(dtype=float)
    if not ((pscore > 0) & (pscore <= 1)).all():
        raise ValueError("a propensity_score is outside (0, 1]")
    users = _user_dummies(frame)
    affinity = frame[[c for c in frame.columns if str(c).startswith(AFFINITY_PREFIX)]].astype(float)
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
    return {
        "n_rounds": len(frame), "n_actions": n_actions, "action": action,
        "position": frame["position"].to_numpy(dtype=int) - 1,
        "reward": frame["click"].to_numpy(dtype=int), "pscore": pscore, "context": context,
        "action_context": action_context, "timestamp": frame["timestamp"].to_numpy(),
    }


def training_frame(frame, *, label: str = "click", n_actions: Optional[int] = None,
                   features: Optional[Sequence[str]] = None):
    """Logged impressions as a numeric training table: one-hot user features, one-hot item, the position,
    and ``label`` (the click), the CSV shape a ``train`` job reads (a header, numeric features, ``label``).

    ``features`` fixes the user-feature dummy columns (``name=value``), so that later tables line up. Rows
    with ``observed`` 0 (no feedback) are left out: their label is unknown.
    """
    pd = _pandas()
    frame = observed_rows(frame).reset_index(drop=True)
    users = _user_dummies(frame, prefix_sep="=")
    if features is not None:
        users = users.reindex(columns=list(features), fill_value=0.0)
    n_actions = int(n_actions if n_actions is not None else frame["item_id"].max() + 1)
    items = np.zeros((len(frame), n_actions))
    items[np.arange(len(frame)), frame["item_id"].to_numpy(dtype=int)] = 1.0
    table = pd.concat([users.reset_index(drop=True),
                       pd.DataFrame(items, columns=[f"item={k}" for k in range(n_actions)]),
                       pd.DataFrame({"position": frame["position"].to_numpy(dtype=float),
                                     "label": frame[label].to_numpy(dtype=float)})], axis=1)
    return table


def csv_bytes(frame, *, label: str = "label") -> bytes:
    """A numeric DataFrame with a ``label`` column as the CSV a ``train`` job reads: a header of plain
    feature names (``f0``, ``f1``, …), the features, then ``label``.

    Raises:
        ValueError: no ``label`` column, or a value that is NaN, infinite or not numeric.
    """
    if label not in frame.columns:
        raise ValueError(f"the frame has no {label!r} column")
    try:
        values = frame.drop(columns=[label]).to_numpy(dtype=float)
        labels = frame[label].to_numpy(dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the frame holds a value that is not a number: {error}") from None
    if not np.isfinite(values).all() or not np.isfinite(labels).all():
        raise ValueError("the frame holds NaN or infinity")
    pd = _pandas()
    table = pd.DataFrame(values, columns=[f"f{j}" for j in range(values.shape[1])])
    table["label"] = labels
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def upload_frame(client, frame, *, name: str = "frame.csv", label: str = "label") -> str:
    """Uploads a numeric DataFrame (with a ``label`` column) as a training CSV; returns ``sha256:<hex>``.

    Logged impressions go through :func:`training_frame` first. ``client.train(frame)`` does the same.
    With an :class:`~recpool.AsyncClient`, await the result.
    """
    return client.upload_bytes(csv_bytes(frame, label=label), name)
