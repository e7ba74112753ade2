"""Train / validation / test splits of case ids, reproducible from a seed.

The test cases are held out first; the validation cases — used for model selection — come from the
rest, so a model is never selected on its test cases (the reference code picked its best
checkpoint on the test fold). With ``n_folds`` the test part is fold ``fold`` of a seeded K-fold
partition, so the K test parts cover every case exactly once.

Example:
    >>> s = make_splits([f"c{i}" for i in range(10)], seed=0)
    >>> [len(s[k]) for k in ("train", "val", "test")]
    [6, 2, 2]
    >>> sorted(s["train"] + s["val"] + s["test"]) == sorted(f"c{i}" for i in range(10))
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..utils.errors import InputError


def make_splits(
    case_ids: Sequence[str],
    seed: int,
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    n_folds: int | None = None,
    fold: int | None = None,
) -> dict[str, list[str]]:
    """Split ``case_ids`` into ``{"train": [...], "val": [...], "test": [...]}`` (each sorted).

    Args:
        case_ids: unique case identifiers (order does not matter: they are sorted first).
        seed: shuffling seed.
        test_fraction: share of all cases held out for testing (ignored with ``n_folds``); 0 allowed.
        val_fraction: share of the *non-test* cases used for validation; 0 allowed.
        n_folds, fold: K-fold mode — the test set is fold ``fold`` (0-based) of ``n_folds``.
    """
    ids = sorted(str(c) for c in case_ids)
    if len(set(ids)) != len(ids):
        dup = sorted({c for c in ids if ids.count(c) > 1})
        raise InputError(f"splits: duplicate case ids {dup[:5]}")
    if not ids:
        raise InputError("splits: no cases to split (is the dataset empty?)")
    if not 0.0 <= float(test_fraction) < 1.0 or not 0.0 <= float(val_fraction) < 1.0:
        raise InputError(f"splits: fractions must be in [0, 1), got test={test_fraction}, val={val_fraction}")
    order = np.random.default_rng(int(seed)).permutation(len(ids))
    shuffled = [ids[i] for i in order]
    if n_folds is not None or fold is not None:
        if n_folds is None or fold is None:
            raise InputError("splits: give both n_folds and fold (or neither)")
        if int(n_folds) < 2 or not 0 <= int(fold) < int(n_folds):
            raise InputError(f"splits: need n_folds ≥ 2 and 0 ≤ fold < n_folds, got n_folds={n_folds}, fold={fold}")
        if len(ids) < int(n_folds):
            raise InputError(f"splits: {len(ids)} cases cannot make {n_folds} folds")
        folds = np.array_split(np.arange(len(ids)), int(n_folds))
        test_idx = set(folds[int(fold)].tolist())
        test = [shuffled[i] for i in sorted(test_idx)]
        rest = [shuffled[i] for i in range(len(ids)) if i not in test_idx]
    else:
        n_test = int(round(float(test_fraction) * len(ids)))
        test, rest = shuffled[:n_test], shuffled[n_test:]
    n_val = int(round(float(val_fraction) * len(rest)))
    if val_fraction > 0 and n_val == 0 and len(rest) >= 2:
        n_val = 1  # a validation set is asked for: keep at least one case
    val, train = rest[:n_val], rest[n_val:]
    if not train:
        raise InputError(f"splits: no training cases left from {len(ids)} cases (test={len(test)}, val={len(val)})")
    return {"train": sorted(train), "val": sorted(val), "test": sorted(test)}


def check_splits(splits: dict, available: Sequence[str], source: str = "splits") -> dict[str, list[str]]:
    """Validate explicit splits: keys train/val/test, disjoint, every id present in the dataset."""
    if not isinstance(splits, dict) or "train" not in splits:
        raise InputError(f"{source}: must be an object with 'train' (and optionally 'val', 'test') lists")
    out = {k: sorted(str(c) for c in (splits.get(k) or [])) for k in ("train", "val", "test")}
    if not out["train"]:
        raise InputError(f"{source}: the 'train' list is empty")
    avail = set(available)
    for k, v in out.items():
        missing = [c for c in v if c not in avail]
        if missing:
            raise InputError(f"{source}: {k} case(s) {missing[:5]} are not in the dataset")
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        both = set(out[a]) & set(out[b])
        if both:
            raise InputError(f"{source}: case(s) {sorted(both)[:5]} are in both '{a}' and '{b}'")
    return out
