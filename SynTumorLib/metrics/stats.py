"""Study statistics: hierarchical bootstrap intervals over cases and seeds, paired differences, the
Wilcoxon signed-rank test and Holm's correction.

Data layout: a study measures every test case once per run (seed, fold). One arm's values are
``{case: {run: value}}``; the *groups* of :func:`hierarchical_bootstrap` are the per-case lists of
run values. The point estimate is the **mean over cases of each case's mean over its runs** (each
case weighs the same, however many runs tested it; with every case in every run this is the plain
mean over all values).

Interval (:func:`hierarchical_bootstrap`): the percentile interval of that estimate over ``n_boot``
two-stage resamples — draw the cases with replacement, then within every drawn case draw its runs
with replacement. Resampling both levels carries the case-to-case *and* the seed-to-seed spread
into the interval (it is slightly conservative when seeds add little). Paired comparisons
(:func:`paired_groups`) first take, per case and run, arm minus baseline on the same test case
and the same run, then bootstrap those differences the same way.

Test (:func:`signed_rank_test`): SciPy's two-sided Wilcoxon signed-rank test on the per-case mean
differences (one number per case: the runs of a case are not independent observations), zero
differences dropped (``zero_method="wilcox"``), SciPy's ``method="auto"`` (exact for small samples
without ties or zeros, else the normal approximation). :func:`holm` adjusts a family of p-values
(the arms of one table) by Holm's step-down rule.

The bootstrap draws from ``numpy.random.default_rng(seed)``; the seed and ``n_boot`` are returned
with every interval, so a table re-computes to the same digits.

Example:
    >>> r = hierarchical_bootstrap([[0.5, 0.6], [0.7, 0.7], [0.2, 0.3]], n_boot=500, seed=1)
    >>> round(r["estimate"], 3), r["n_cases"], r["n_values"], r["lo"] < r["estimate"] < r["hi"]
    (0.5, 3, 6, True)
    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    >>> signed_rank_test([0.1, 0.2, 0.3, 0.4, 0.5])["p"]
    0.0625
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..utils.errors import InputError

DEFAULT_N_BOOT = 2000
DEFAULT_LEVEL = 0.95
_CHUNK = 2_000_000  # values drawn per vectorised block (bounds memory for large studies)


def _padded(groups: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """(n_cases, max_runs) array padded with NaN, and the run count per case; empty groups dropped."""
    rows = [np.asarray([v for v in g if v is not None], dtype=np.float64) for g in groups]
    rows = [r for r in rows if r.size]
    if any(not np.all(np.isfinite(r)) for r in rows):
        raise InputError("bootstrap: values must be finite numbers")
    k = np.array([r.size for r in rows], dtype=np.int64)
    out = np.full((len(rows), int(k.max()) if rows else 0), np.nan)
    for i, r in enumerate(rows):
        out[i, : r.size] = r
    return out, k


def hierarchical_bootstrap(groups: Sequence[Sequence[float]], n_boot: int = DEFAULT_N_BOOT,
                           level: float = DEFAULT_LEVEL, seed: int = 0) -> dict[str, Any]:
    """Mean over cases (of per-case means over runs) with a two-stage percentile bootstrap interval.

    Args:
        groups: one sequence of values per case (its runs: seeds × folds that tested it); ``None``
            values and empty groups are ignored.
        n_boot: bootstrap resamples; level: interval coverage (0.95); seed: the resampling seed.

    Returns:
        ``{"estimate", "lo", "hi", "n_cases", "n_values", "n_boot", "level", "seed"}``; the
        estimate is None without data, the interval None with fewer than two cases (a single case
        says nothing about the spread between cases).
    """
    if int(n_boot) < 100:
        raise InputError(f"n_boot must be ≥ 100, got {n_boot}")
    if not 0.5 <= float(level) < 1.0:
        raise InputError(f"level must be in [0.5, 1), got {level}")
    vals, k = _padded(groups)
    n = len(k)
    out = {"estimate": None, "lo": None, "hi": None, "n_cases": n, "n_values": int(k.sum()), "n_boot": int(n_boot),
           "level": float(level), "seed": int(seed)}
    if n == 0:
        return out
    case_means = np.nanmean(vals, axis=1)
    out["estimate"] = float(case_means.mean())
    if n < 2:
        return out
    rng = np.random.default_rng(int(seed))
    width = vals.shape[1]
    stats = np.empty(int(n_boot))
    step = max(1, _CHUNK // (n * width))
    for start in range(0, int(n_boot), step):
        b = min(step, int(n_boot) - start)
        cases = rng.integers(0, n, size=(b, n))
        if width == 1:
            stats[start:start + b] = vals[cases, 0].mean(axis=1)
            continue
        kk = k[cases][..., None]  # (b, n, 1): runs of each drawn case
        runs = np.floor(rng.random((b, n, width)) * kk).astype(np.int64)  # uniform in [0, k) per slot
        valid = np.arange(width) < kk  # a case with k runs draws k of them
        drawn = np.where(valid, vals[cases[..., None], runs], 0.0)
        stats[start:start + b] = (drawn.sum(axis=2) / kk[..., 0]).mean(axis=1)
    alpha = (1.0 - float(level)) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    out.update(lo=float(lo), hi=float(hi))
    return out


def paired_groups(arm: Mapping[str, Mapping[Any, float | None]],
                  baseline: Mapping[str, Mapping[Any, float | None]]) -> tuple[list[str], list[list[float]]]:
    """Per-case lists of (arm − baseline) over the runs both measured, for cases both measured.

    ``arm`` and ``baseline`` map case id → {run key → value}; a pair needs the same case *and* run
    (the same split and seed), so the difference is paired. Returns (case ids, groups), sorted by id.

    >>> paired_groups({"a": {0: 0.6, 1: 0.7}, "b": {0: 0.2}}, {"a": {0: 0.5, 1: 0.5}, "c": {0: 0.1}})
    (['a'], [[0.09999999999999998, 0.19999999999999996]])
    """
    ids, groups = [], []
    for case in sorted(set(arm) & set(baseline)):
        runs = [r for r in arm[case] if r in baseline[case]
                and arm[case][r] is not None and baseline[case][r] is not None]
        if runs:
            ids.append(case)
            groups.append([float(arm[case][r]) - float(baseline[case][r]) for r in sorted(runs, key=str)])
    return ids, groups


def signed_rank_test(differences: Sequence[float]) -> dict[str, Any]:
    """Two-sided Wilcoxon signed-rank test of one paired difference per case (SciPy; rules in the
    module doc). ``p`` is None without a case, 1.0 when every difference is zero (nothing to rank)."""
    from scipy import stats

    d = np.asarray([x for x in differences if x is not None], dtype=np.float64)
    nonzero = int(np.count_nonzero(d))
    out: dict[str, Any] = {"n": int(d.size), "n_nonzero": nonzero, "statistic": None, "p": None,
                           "test": "wilcoxon signed-rank, two-sided, zero_method=wilcox, method=auto (scipy)"}
    if d.size == 0:
        return out
    if nonzero == 0:
        out.update(statistic=0.0, p=1.0)
        return out
    res = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided", method="auto")
    out.update(statistic=float(res.statistic), p=float(res.pvalue))
    return out


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values, in the input order (None stays None and is not counted).

    The i-th smallest of m p-values becomes max over j ≤ i of min(1, (m − j + 1) · p_(j)).
    """
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    for i in idx:
        if not 0.0 <= float(pvalues[i]) <= 1.0:
            raise InputError(f"p-values must lie in [0, 1], got {pvalues[i]}")
    order = sorted(idx, key=lambda i: float(pvalues[i]))
    m = len(order)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        out[i] = running
    return out
