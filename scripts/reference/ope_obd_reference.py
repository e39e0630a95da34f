#!/usr/bin/env python3
"""numpy reference for `recpool data ope` on Open Bandit Dataset rows.

Two subcommands:

  make-action-dist  writes a candidate policy as obp lays it out: a float64 ndarray of shape
                    (n_rounds, n_actions, len_list), saved with numpy.save, for the rows of a split
                    (seeded softmax of random logits, so every item has some probability).
  check             reads the same OBD CSV, recomputes IPW, SNIPW, ESS (and DM and DR from the q-hat that
                    `recpool data ope --rewards-out` wrote) for all, cold-start and warm rows, compares them
                    with the JSON report of `recpool data ope --json`, prints a table and exits 1 on any
                    disagreement beyond --tolerance (relative, default 1e-9).

The rows are those RecData builds: sorted by timestamp with ties in file order, position = dense rank of
`position` - 1, reward = click, pscore = propensity_score, a row is cold when every user-item affinity is 0,
and the split is recpool's by time: train = the first int(n * 0.6) rows, test = the rows after the first
int(n * 0.7) (obp's last 30%), validation = those between. Those are OBD's column
names; with --schema SHOP.toml both subcommands read the names of the schema's [logs] roles instead
(timestamp, item, position, click or reward, propensity, affinity_prefix) and number the items as RecData does from
the schema's [catalogue] file (the id when the ids are exactly 0..n-1, else the id's row). Without affinity_prefix
every row is cold, which is RecData's reading too unless the schema has a `viewed` or `user` role (refused here). Timestamps are compared as recpool
compares them: as numbers when every one is a number, else as the instants ISO 8601 date-times name.

Formulas (obp 0.5.7, pi indexed by each row's logged position, w_i = pi(a_i|x_i) / pscore_i):
  DM = mean_i sum_a pi(a|x_i) qhat(x_i, a);  IPW = mean_i w_i r_i;  SNIPW = sum_i w_i r_i / sum_i w_i;
  DR = mean_i [sum_a pi(a|x_i) qhat(x_i, a) + w_i (r_i - qhat(x_i, a_i))];  ESS = (sum w)^2 / sum w^2.
"""
import argparse
import csv
import datetime
import decimal
import json
import re
import sys
import unicodedata

import numpy as np


OBD_COLUMNS = {"timestamp": "timestamp", "item": "item_id", "position": "position", "click": "click",
               "propensity": "propensity_score", "affinity_prefix": "user-item_affinity_"}


def columns(schema_path, needs_cold_rows=True):
    """The roles RecData reads, by column name: OBD's names, or those of a schema's [logs] table. Only a caller that
    splits cold from warm rows (`check`) needs them from affinity columns; `make-action-dist` reads the rows, items and
    slots alone, so a `user` or `viewed` role does not stop it."""
    if not schema_path:
        return OBD_COLUMNS
    import tomllib  # Python 3.11+
    with open(schema_path, "rb") as f:
        logs = tomllib.load(f).get("logs", {})
    roles = {role: logs.get(role) for role in ["timestamp", "item", "position", "propensity", "affinity_prefix",
                                                 "observed", "retrieval"]}
    roles["click"] = logs.get("click") or logs.get("reward")
    missing = [role for role in ["timestamp", "item", "position", "click", "propensity"] if not roles[role]]
    if missing:
        sys.exit(f"{schema_path}: [logs] names no {', '.join(missing)} (this check needs each of them)")
    if needs_cold_rows and not roles["affinity_prefix"]:
        # Without affinity columns RecData finds a warm row from a `viewed` column or a user's earlier clicks, which
        # this check does not rebuild; with neither role, every row is cold, and so it is here.
        history = [role for role in ("viewed", "user") if logs.get(role)]
        if history:
            sys.exit(f"{schema_path}: [logs] has a {' and a '.join(history)} role and no affinity_prefix; this check "
                     "reads cold/warm rows from affinity columns only")
    roles["catalogue"] = _catalogue_rows(schema_path)
    return roles


def whole_number(text):
    """The value of a whole-number field as RecData reads one (CSVNumber.wholeNumber): optional spaces, an optional
    sign, at most 15 digits and optionally a point followed only by zeros (`4`, `+4`, `04`, `4.0`, `4.`), else None."""
    match = re.fullmatch(r"[ \t]*([+-]?)([0-9]{1,15})(\.0*)?[ \t]*", text)
    if match is None:
        return None
    return -int(match.group(2)) if match.group(1) == "-" else int(match.group(2))


def item_key(text):
    """A catalogue id as RecData compares ids: Swift compares strings by canonical equivalence, so an id is keyed by its
    NFC form (`café` written with a combining accent is the same id)."""
    return unicodedata.normalize("NFC", text.strip())


def _catalogue_rows(schema_path):
    """The item number of each catalogue id, as RecData's LogLoader numbers them: the id's value when the ids are
    exactly the whole numbers 0..n-1 (in any file order, written as `4`, `04` or `4.0`), else the id's row in the
    catalogue file; None without a [catalogue] table (every logged item is then read as an integer)."""
    import os
    import tomllib
    with open(schema_path, "rb") as f:
        catalogue = tomllib.load(f).get("catalogue", {})
    if not catalogue.get("file") or not catalogue.get("item"):
        return None
    path = os.path.join(os.path.dirname(os.path.abspath(schema_path)), catalogue["file"])
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        ids = [r[header.index(catalogue["item"])] for r in reader if r]
    numbers = [whole_number(text) for text in ids]
    if sorted(n if n is not None else -1 for n in numbers) == list(range(len(ids))):
        return {"numbered": True, "count": len(ids)}
    return {"numbered": False, "count": len(ids), "rows": {item_key(text): row for row, text in enumerate(ids)}}


def item_number(text, catalogue):
    """The item number of a logged item, as RecData's LogLoader gives it."""
    if catalogue is None or catalogue["numbered"]:
        number = whole_number(text)
        if number is None:
            sys.exit(f"the logged item {text!r} is not a whole number")
        return number
    key = item_key(text)
    if key not in catalogue["rows"]:
        sys.exit(f"the logged item {text!r} is not in the catalogue")
    return catalogue["rows"][key]


def time_keys(texts):
    """The sort key of each timestamp text: its exact decimal value when every timestamp is a number (Unix
    nanoseconds' 19 digits are beyond a float's 53 bits), else the instant an ISO 8601 date-time names (an exact
    timedelta from the epoch, so an offset is converted and a fraction orders after its whole second), as RecData's
    LogLoader orders them."""
    try:
        return [decimal.Decimal(t.strip(" \t")) for t in texts]
    except decimal.InvalidOperation:
        pass
    def instant(text):
        stamp = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc if stamp.tzinfo else None)
        return stamp - epoch
    return [instant(t) for t in texts]


def load_rows(path, split, schema=None, needs_cold_rows=True):
    roles = columns(schema, needs_cold_rows)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [r for r in reader if r]
    col = {name: i for i, name in enumerate(header)}
    for role, name in roles.items():
        if role not in ("affinity_prefix", "catalogue", "observed", "retrieval") and name not in col:
            sys.exit(f"{path}: no '{name}' column (the {role} role)")
        if role in ("observed", "retrieval") and name is not None and name not in col:
            sys.exit(f"{path}: no '{name}' column (the {role} role)")
    prefix = roles["affinity_prefix"]
    affinity = [i for name, i in col.items() if prefix and name.startswith(prefix)]
    catalogue = roles.get("catalogue")
    keys = time_keys([r[col[roles["timestamp"]]] for r in rows])
    rows = [rows[i] for i in sorted(range(len(rows)), key=lambda i: keys[i])]  # stable: ties keep their file order
    if roles.get("observed"):
        # An unobserved row (observed 0: shown, its outcome never reported) is left out of every command before the
        # split, as RecData's LogTable does; its click field may be blank.
        rows = [r for r in rows if whole_number(r[col[roles["observed"]]]) != 0]
    # Slots are ranked over every kept row of the file, as LogTable ranks them, not over one split's.
    levels = sorted(set(int(r[col[roles["position"]]]) for r in rows))
    n = len(rows)
    before_test = int(n * (1.0 - 0.3))  # DatasetSplit.standard: 60% train, 10% validation, 30% test
    n_train = min(int(n * 0.6), before_test)
    rows = {"all": rows, "train": rows[:n_train], "validation": rows[n_train:before_test],
            "test": rows[before_test:]}[split]
    if roles.get("retrieval"):
        # A row drawn from a candidate set (retrieval not blank) has a propensity conditional on a set the log does not
        # hold: off-policy evaluation leaves it out after the split (BanditDataset.withoutConditionalRows).
        rows = [r for r in rows if not r[col[roles["retrieval"]]].strip(" \t")]
    position = [int(r[col[roles["position"]]]) for r in rows]
    return {
        "action": np.array([item_number(r[col[roles["item"]]], catalogue) for r in rows]),
        "position": np.array([levels.index(p) for p in position]),
        "reward": np.array([float(r[col[roles["click"]]]) for r in rows]),
        "pscore": np.array([float(r[col[roles["propensity"]]]) for r in rows]),
        "cold": np.array([all(float(r[i]) == 0 for i in affinity) for r in rows]),
        "n_positions": len(levels),
        "n_items": catalogue["count"] if catalogue else None,
    }


def make_action_dist(args):
    data = load_rows(args.csv, args.split, args.schema, needs_cold_rows=False)
    n = len(data["action"])
    rng = np.random.default_rng(args.seed)
    items = args.items or data["n_items"] or 80
    logits = args.temperature * rng.normal(size=(n, items, data["n_positions"]))
    logits -= logits.max(axis=1, keepdims=True)
    dist = np.exp(logits)
    dist /= dist.sum(axis=1, keepdims=True)
    np.save(args.out, dist.astype(np.float64))
    print(f"wrote {args.out}: shape {dist.shape}")


def estimates(reward, w, dm_i, qhat_logged):
    n = len(reward)
    out = {"ipw": None, "snipw": None, "dm": None, "dr": None, "ess": None}
    if n == 0:
        return out
    out["ipw"] = float((w * reward).mean())
    out["snipw"] = float((w * reward).sum() / w.sum()) if w.sum() > 0 else None
    out["ess"] = float(w.sum() ** 2 / (w ** 2).sum()) if (w ** 2).sum() > 0 else None
    if dm_i is not None:
        out["dm"] = float(dm_i.mean())
        out["dr"] = float((dm_i + w * (reward - qhat_logged)).mean())
    return out


def check(args):
    data = load_rows(args.csv, args.split, args.schema)
    n = len(data["action"])
    idx = np.arange(n)
    pi = np.load(args.action_dist)
    if pi.ndim == 3:
        pi = pi[idx, :, data["position"]]  # obp: action_dist[i, :, position_i]
    qhat = np.load(args.rewards) if args.rewards else None
    report = json.load(open(args.report))
    w = pi[idx, data["action"]] / data["pscore"]
    segments = {"all": np.ones(n, bool), "cold_start": data["cold"], "warm": ~data["cold"]}
    failures = 0
    print(f"{'segment':<11} {'figure':<6} {'recpool':>14} {'numpy':>14}  rel. diff")
    for seg in report["segments"]:
        mask = segments[seg["segment"]]
        dm_i = (pi[mask] * qhat[mask]).sum(axis=1) if qhat is not None else None
        q_logged = qhat[idx[mask], data["action"][mask]] if qhat is not None else None
        want = estimates(data["reward"][mask], w[mask], dm_i, q_logged)
        got = {e["estimator"]: e["value"] for e in seg["estimates"]}
        got["ess"] = seg["effective_sample_size"]
        for key in ["dm", "ipw", "snipw", "dr", "ess"]:
            a, b = got.get(key), want[key]
            if a is None or b is None:
                ok = a is None and b is None
                diff = "undefined" if ok else "MISMATCH"
            else:
                rel = abs(a - b) / max(abs(b), 1e-300)
                ok = rel <= args.tolerance or abs(a - b) <= 1e-15
                diff = f"{rel:.1e}"
            failures += 0 if ok else 1
            fa = "undefined" if a is None else f"{a:.9f}"
            fb = "undefined" if b is None else f"{b:.9f}"
            print(f"{seg['segment']:<11} {key.upper():<6} {fa:>14} {fb:>14}  {diff}{'' if ok else '  <-- FAIL'}")
    if failures:
        print(f"{failures} figures disagree beyond {args.tolerance}", file=sys.stderr)
        sys.exit(1)
    print(f"all figures agree within a relative {args.tolerance}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make-action-dist")
    make.add_argument("--csv", required=True)
    make.add_argument("--schema", help="a shop's schema (TOML): read its [logs] column names instead of OBD's")
    make.add_argument("--split", default="test", choices=["all", "train", "validation", "test"])
    make.add_argument("--items", type=int, help="items (default: the schema's catalogue size, else OBD's 80)")
    make.add_argument("--seed", type=int, default=1)
    make.add_argument("--temperature", type=float, default=1.0)
    make.add_argument("--out", required=True)
    chk = sub.add_parser("check")
    chk.add_argument("--csv", required=True)
    chk.add_argument("--schema", help="a shop's schema (TOML): read its [logs] column names instead of OBD's")
    chk.add_argument("--split", default="test", choices=["all", "train", "validation", "test"])
    chk.add_argument("--action-dist", required=True, help="(n, items, positions) or (n, items) at the logged slot")
    chk.add_argument("--rewards", help="q-hat (n, items) from recpool data ope --rewards-out")
    chk.add_argument("--report", required=True, help="recpool data ope --json output")
    chk.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args()
    make_action_dist(args) if args.command == "make-action-dist" else check(args)


if __name__ == "__main__":
    main()
