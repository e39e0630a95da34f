#!/usr/bin/env python3
"""numpy reference for RecData's estimators and metrics.

Generates seeded inputs, computes every figure with plain numpy, and writes both to
Tests/DataTests/Fixtures/reference/reference.json. The Swift tests recompute the figures from the same
inputs and must agree to 1e-9. Regenerate with:

    source scripts/lib/common.sh; recpool_python_env; "$RECPOOL_PYTHON" scripts/reference/ope_reference.py

Formulas (obp 0.5.7 conventions, pi indexed by the logged position):
  w_i   = pi(a_i|x_i) / pscore_i
  DM    = mean_i sum_a pi(a|x_i) qhat(x_i, a)
  IPW   = mean_i w_i r_i
  SNIPW = sum_i w_i r_i / sum_i w_i
  DR    = mean_i [sum_a pi(a|x_i) qhat(x_i, a) + w_i (r_i - qhat(x_i, a_i))]
  ESS   = (sum w)^2 / sum w^2
"""
import json
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests/DataTests/Fixtures/reference/reference.json"


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def ope_case(rng, n, k):
    behaviour = softmax(rng.normal(size=(n, k)))
    action = np.array([rng.choice(k, p=behaviour[i]) for i in range(n)])
    pscore = behaviour[np.arange(n), action]
    pi = softmax(2 * rng.normal(size=(n, k)))
    qhat = rng.uniform(0.01, 0.3, size=(n, k))
    reward = (rng.uniform(size=n) < qhat[np.arange(n), action] + 0.05).astype(float)
    w = pi[np.arange(n), action] / pscore
    dm_i = (pi * qhat).sum(axis=1)
    expected = {
        "dm": float(dm_i.mean()),
        "ipw": float((w * reward).mean()),
        "snipw": float((w * reward).sum() / w.sum()),
        "dr": float((dm_i + w * (reward - qhat[np.arange(n), action])).mean()),
        "ess": float(w.sum() ** 2 / (w ** 2).sum()),
    }
    return {
        "n_actions": k,
        "reward": reward.tolist(),
        "action": action.tolist(),
        "pscore": pscore.tolist(),
        "policy": pi.ravel().tolist(),
        "estimated_rewards": qhat.ravel().tolist(),
        "expected": expected,
    }


def auc(y, s):
    # Mann-Whitney U with average ranks for ties.
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = y == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification_case(rng, n):
    y = (rng.uniform(size=n) < 0.3).astype(float)
    s = np.clip(0.3 * y + rng.uniform(0, 0.7, size=n), 0, 1)
    s[:20] = np.round(s[:20], 1)  # ties
    pred = s >= 0.5
    tp = float((pred & (y == 1)).sum())
    fp = float((pred & (y == 0)).sum())
    fn = float((~pred & (y == 1)).sum())
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    p = np.clip(s, 1e-15, 1 - 1e-15)
    logloss = float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
    bins = np.minimum((s * 10).astype(int), 9)
    ece = 0.0
    for b in range(10):
        m = bins == b
        if m.any():
            ece += m.sum() / n * abs(y[m].mean() - s[m].mean())
    return {
        "labels": y.tolist(),
        "scores": s.tolist(),
        "expected": {
            "accuracy": float((pred == (y == 1)).mean()),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "roc_auc": auc(y, s),
            "log_loss": logloss,
            "ece": float(ece),
        },
    }


def ranking_case(rng, queries, k):
    scores = rng.normal(size=(queries, k))
    scores[:5, :3] = 0.5  # ties
    relevant = rng.integers(0, k, size=queries)
    # Ties broken at random, in expectation (McSherry & Najork 2008): every rank from `higher` to `higher + tied`
    # equally likely.
    possible = [
        (scores[q] > scores[q, relevant[q]]).sum() + np.arange((scores[q] == scores[q, relevant[q]]).sum())
        for q in range(queries)
    ]
    expected = {}
    for cutoff in (1, 3, 5):
        expected[f"hit_rate@{cutoff}"] = float(np.mean([(r < cutoff).mean() for r in possible]))
        expected[f"ndcg@{cutoff}"] = float(np.mean([np.where(r < cutoff, 1 / np.log2(r + 2), 0).mean() for r in possible]))
    return {"n_items": k, "scores": scores.ravel().tolist(), "relevant": relevant.tolist(), "expected": expected}


def main():
    rng = np.random.default_rng(20261129)
    values = rng.normal(size=101)
    data = {
        "ope": [ope_case(rng, 500, 7), ope_case(rng, 1000, 20)],
        "classification": classification_case(rng, 1000),
        "ranking": ranking_case(rng, 200, 12),
        "percentile": {
            "values": values.tolist(),
            "q": [2.5, 50.0, 97.5],
            "expected": [float(np.percentile(values, q)) for q in (2.5, 50.0, 97.5)],
        },
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
