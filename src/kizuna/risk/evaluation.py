"""How good a churn prediction is: AUC, lift, Brier, calibration, with bootstrap intervals.

All functions take the observed labels ``y`` (1 = churned at the renewal) and
predicted scores; higher score = riskier. Bootstrap intervals resample the
observations with replacement (``n_boot`` times, a fixed seed) and report the
2.5th and 97.5th percentiles; for a side-by-side comparison the *same*
resamples are used for both scores (a paired bootstrap of the difference).
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_BOOT = 1000


def auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes."""
    y = np.asarray(y, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = np.asarray(score)[order]
    # average ranks of ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float | None:
    """Churn rate of the riskiest tenth ÷ the overall churn rate."""
    y = np.asarray(y, dtype=float)
    if len(y) == 0 or y.mean() == 0:
        return None
    k = max(1, int(np.ceil(len(y) / 10)))
    top = np.argsort(-np.asarray(score), kind="mergesort")[:k]
    return float(y[top].mean() / y.mean())


def brier(y: np.ndarray, p: np.ndarray) -> float | None:
    """Mean squared difference between the probability and the outcome."""
    if len(y) == 0:
        return None
    return float(np.mean((np.asarray(p) - np.asarray(y, dtype=float)) ** 2))


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Predictions in ``bins`` equal-count bins: mean predicted vs observed churn rate."""
    if len(y) == 0:
        return []
    order = np.argsort(p, kind="mergesort")
    out = []
    for i, chunk in enumerate(np.array_split(order, min(bins, len(order)))):
        if len(chunk) == 0:
            continue
        out.append(
            {
                "bin": i + 1,
                "n": len(chunk),
                "mean_predicted": float(np.mean(p[chunk])),
                "observed_rate": float(np.mean(np.asarray(y, dtype=float)[chunk])),
            }
        )
    return out


def bootstrap(
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    n_boot: int = DEFAULT_BOOT,
    seed: int = 0,
) -> dict[str, Any]:
    """AUC of each score with a 95 % interval, and each score's AUC minus the first's."""
    y = np.asarray(y, dtype=bool)
    rng = np.random.default_rng(seed)
    names = list(scores)
    draws: dict[str, list[float]] = {n: [] for n in names}
    n = len(y)
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        if y[idx].all() or not y[idx].any():
            continue
        for name in names:
            value = auc(y[idx], scores[name][idx])
            if value is not None:
                draws[name].append(value)
    out: dict[str, Any] = {}
    for name in names:
        point = auc(y, scores[name])
        values = np.array(draws[name])
        out[name] = {
            "auc": point,
            "ci_low": float(np.percentile(values, 2.5)) if values.size else None,
            "ci_high": float(np.percentile(values, 97.5)) if values.size else None,
        }
    if len(names) >= 2:
        base, other = names[1], names[0]
        diff = np.array(draws[other]) - np.array(draws[base])
        a, b = out[other]["auc"], out[base]["auc"]
        out["difference"] = {
            "of": f"{other} - {base}",
            "auc": None if a is None or b is None else a - b,
            "ci_low": float(np.percentile(diff, 2.5)) if diff.size else None,
            "ci_high": float(np.percentile(diff, 97.5)) if diff.size else None,
        }
    return out


def summary(y: np.ndarray, p: np.ndarray, n_boot: int = DEFAULT_BOOT) -> dict[str, Any]:
    """AUC (with interval), top-decile lift, Brier score, churn rate and the calibration table."""
    y = np.asarray(y, dtype=bool)
    boot = bootstrap(y, {"model": p}, n_boot=n_boot)["model"]
    return {
        "n": len(y),
        "churned": int(y.sum()),
        "churn_rate": float(y.mean()) if len(y) else None,
        "auc": boot["auc"],
        "auc_ci": [boot["ci_low"], boot["ci_high"]],
        "top_decile_lift": top_decile_lift(y, p),
        "brier": brier(y, p),
        "calibration": calibration_table(y, p),
    }


def decile_rates(values: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
    """Churn rate by decile of one feature's values (missing values as their own row)."""
    values = np.asarray(values, dtype=float)
    y = np.asarray(y, dtype=float)
    known = ~np.isnan(values)
    out: list[dict[str, Any]] = []
    if known.sum() >= 10:
        order = np.argsort(values[known], kind="mergesort")
        kv, ky = values[known][order], y[known][order]
        for i, chunk in enumerate(np.array_split(np.arange(len(kv)), 10)):
            if len(chunk):
                out.append(
                    {
                        "decile": i + 1,
                        "low": float(kv[chunk[0]]),
                        "high": float(kv[chunk[-1]]),
                        "n": len(chunk),
                        "churn_rate": float(ky[chunk].mean()),
                    }
                )
    if (~known).any():
        out.append(
            {
                "decile": None,
                "low": None,
                "high": None,
                "n": int((~known).sum()),
                "churn_rate": float(y[~known].mean()),
            }
        )
    return out
