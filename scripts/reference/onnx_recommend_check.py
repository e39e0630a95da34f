#!/usr/bin/env python3
"""Checks that a `recpool export --raw-context` ONNX model scores a visitor as `recpool recommend` did.

Usage:
  onnx_recommend_check.py MODEL.onnx RECOMMEND.json [--feature-order A,B,C] \\
      [--user-features A=x,B=y] [--user-feature NAME=VALUE ...] [--events ITEM:SECONDS,...] [--tolerance 1e-5]

RECOMMEND.json is the output of `recpool recommend --json` for the same --user-features, --user-feature and
--events (the flags take recommend's syntax: --user-feature, repeatable, passes a value holding a comma). The column orders of the ONNX inputs `user_features` and `user_numeric`
are read from the model's metadata (`recpool.user_features`, `recpool.user_numeric`; docs/MODELS.md);
--feature-order overrides the first. A categorical feature the visitor did not give is sent as "" (the
unknown bucket, as recommend treats it), a numeric one as NaN (missing). Every recommended item is scored at slot 0, as recommend
does. Prints one line per item and exits 1 when any ONNX score differs from recommend's by more than
--tolerance (absolute), or when recommend answered from its popularity fallback (no model scores to compare).
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_raw_context import score  # noqa: E402


def pairs(text, what):
    """`k=v,k=v` (or `item:seconds,...`) as a list of (key, value) pairs; exits with a message on a bad one."""
    separator = "=" if what == "--user-features" else ":"
    out = []
    for part in filter(None, (text or "").split(",")):
        key, found, value = part.partition(separator)
        if not found or not key:
            sys.exit(f"{what}: '{part}' is not KEY{separator}VALUE")
        out.append((key, value))
    return out


def model_metadata(path):
    """The ONNX model's metadata_props (`recpool export` writes the inputs' column orders there)."""
    import onnxruntime as ort

    return ort.InferenceSession(path, providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("recommend")
    parser.add_argument("--feature-order", default=None)
    parser.add_argument("--user-features", default="")
    parser.add_argument("--user-feature", action="append", default=[])
    parser.add_argument("--events", default="")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()

    metadata = model_metadata(args.model)
    order = args.feature_order.split(",") if args.feature_order else json.loads(metadata.get("recpool.user_features", "[]"))
    numeric = json.loads(metadata.get("recpool.user_numeric", "[]"))
    user = dict(pairs(args.user_features, "--user-features"))
    for pair in args.user_feature:
        name, found, value = pair.partition("=")
        if not found or not name:
            sys.exit(f"--user-feature: '{pair}' is not NAME=VALUE")
        if name in user:
            sys.exit(f"--user-feature: {name} is given twice")
        user[name] = value
    unknown = sorted(set(user) - set(order) - set(numeric))
    if unknown:
        sys.exit(f"--user-features: {', '.join(unknown)} is not an input of {args.model} ({', '.join(order + numeric)})")
    events = [(int(item), float(seconds)) for item, seconds in pairs(args.events, "--events")] or [(0, 0.0)]
    answer = json.load(open(args.recommend))
    if answer.get("source") != "model":
        sys.exit(f"{args.recommend}: source is {answer.get('source')!r}, not the model: nothing to compare")
    items = [entry["item"] for entry in answer["items"]]
    if not items:
        sys.exit(f"{args.recommend}: no items")
    cases = {
        "user_features": [[user.get(name, "") for name in order] for _ in items],
        "user_numeric": [[float(user[name]) if name in user else float("nan") for name in numeric] for _ in items],
        "item": items,
        "position": [0 for _ in items],
        "event_item": [[item for item, _ in events] for _ in items],
        "event_seconds": [[seconds for _, seconds in events] for _ in items],
    }
    onnx = score(args.model, cases)
    worst = 0.0
    print(f"{'item':>5} {'recommend':>12} {'onnx':>12}  abs. diff")
    for entry, value in zip(answer["items"], onnx):
        # A NaN on either side is a failure: max(0.0, nan) is 0.0, which would pass it.
        diff = abs(value - entry["score"])
        diff = diff if math.isfinite(diff) else math.inf
        worst = max(worst, diff)
        flag = "" if diff <= args.tolerance else "  <-- FAIL"
        print(f"{entry['item']:>5} {entry['score']:>12.8f} {value:>12.8f}  {diff:.1e}{flag}")
    if worst > args.tolerance:
        print(f"ONNX and recommend disagree by up to {worst:.1e} (> {args.tolerance})", file=sys.stderr)
        sys.exit(1)
    print(f"all {len(items)} scores agree within {args.tolerance}")


if __name__ == "__main__":
    main()
