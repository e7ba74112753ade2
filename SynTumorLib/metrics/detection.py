"""Lesion detection from tumour probability maps, in PI-CAI's protocol (as PANORAMA scores pancreatic
cancer): lesion candidates, their matching to reference lesions, lesion-level FROC and average
precision, patient-level AUROC.

Rules (every figure depends on them; ``DetectionRule`` records them with each result):

* **candidates** — the 26-connected components of ``probability ≥ threshold`` (default 0.1, the
  static threshold of PI-CAI's candidate extraction); a component smaller than
  ``min_lesion_mm3`` (default 10 mm³) is dropped; each candidate's **confidence** is its maximum
  probability;
* **reference lesions** — the 26-connected components of the reference tumour mask;
* **hit** — a candidate and a lesion match when their IoU ≥ ``hit_iou`` (PI-CAI: 0.1). Matching
  is one-to-one: the pairing maximises first the number of matched lesions, then their summed IoU
  (PI-CAI's ``linear_sum_assignment`` rule). A matched lesion is a true positive at the candidate's
  confidence; an unmatched lesion is a false negative (confidence 0); a candidate that reaches
  ``hit_iou`` with no lesion is a false positive; one that reaches it with a lesion another
  candidate took is neither (PI-CAI's default: it is not held against the model);
* **FROC** — at every confidence threshold t: sensitivity = TP(t) / reference lesions, false
  positives per case = FP(t) / cases; ``sensitivity_at`` gives the best sensitivity with at most
  1/8, 1/4, …, 8 false positives per case (0 when even the most confident candidates exceed it);
* **average precision** — the step integral of precision over recall at the candidate thresholds,
  recall = TP(t) / reference lesions (missed lesions cap the recall below 1);
* **AUROC** — patient level: positive = the reference holds a tumour; the case score = the maximum
  tumour probability of the whole map (ties count one half, the Mann–Whitney form).

Empty cases (also in ``docs/metrics.md``): a case without a reference lesion adds every candidate
as a false positive and counts as a negative for the AUROC; a map without a candidate adds each
lesion as a false negative. FROC sensitivities and AP are None when the cases hold no reference
lesion; AUROC is None unless there is at least one positive and one negative case.

Example:
    >>> import numpy as np
    >>> ref = np.zeros((20, 20, 20), bool); ref[2:8, 2:8, 2:8] = True
    >>> prob = np.zeros(ref.shape); prob[3:8, 3:8, 3:8] = 0.9; prob[14:18, 14:18, 14:18] = 0.4
    >>> c = case_detection(prob, ref, (1.0, 1.0, 1.0))
    >>> [(le["hit"], le["confidence"]) for le in c["lesions"]], [(x["confidence"], x["kind"]) for x in c["candidates"]]
    ([(True, 0.9)], [(0.9, 'tp'), (0.4, 'fp')])
    >>> s = detection_summary([c])
    >>> s["sensitivity_at"]["1"], s["average_precision"]
    (1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from ..data.labels import equivalent_radius_mm, tumour_components
from ..utils.errors import InputError
from .overlap import check_spacing

FP_PER_CASE = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class DetectionRule:
    """How candidates are made and matched (see the module doc)."""

    threshold: float = 0.1
    min_lesion_mm3: float = 10.0
    hit_iou: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < float(self.threshold) <= 1.0:
            raise InputError(f"detection threshold must be in (0, 1], got {self.threshold}")
        if not float(self.min_lesion_mm3) >= 0.0:
            raise InputError(f"minimum lesion size must be ≥ 0 mm³, got {self.min_lesion_mm3}")
        if not 0.0 < float(self.hit_iou) <= 1.0:
            raise InputError(f"hit IoU must be in (0, 1], got {self.hit_iou}")

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def resolve(cls, rule: DetectionRule | dict | None) -> DetectionRule:
        if rule is None or isinstance(rule, DetectionRule):
            return rule or cls()
        if not isinstance(rule, dict) or set(rule) - {"threshold", "min_lesion_mm3", "hit_iou"}:
            raise InputError(f"detection rule must be an object with threshold, min_lesion_mm3, hit_iou; got {rule!r}")
        return cls(**{k: float(v) for k, v in rule.items()})


def _check_prob(prob: np.ndarray) -> np.ndarray:
    p = np.asarray(getattr(prob, "array", prob))
    if p.ndim != 3 or not np.issubdtype(p.dtype, np.floating):
        raise InputError(f"probability map must be a 3-D float array, got shape {p.shape} dtype {p.dtype}")
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise InputError("probability map values must be finite and within [0, 1]")
    return p


def lesion_candidates(prob, spacing_kji: Sequence[float], threshold: float = 0.1,
                      min_lesion_mm3: float = 10.0) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """(label array of the kept candidates 1..n, per candidate ``{id, confidence, voxels, volume_mm3}``).

    >>> p = np.zeros((10, 10, 10), np.float32); p[1:3, 1:3, 1:3] = 0.5; p[6, 6, 6] = 0.9
    >>> lab, cands = lesion_candidates(p, (1, 1, 1), min_lesion_mm3=2)
    >>> [(c["confidence"], c["voxels"]) for c in cands], int(lab.max())
    ([(0.5, 8)], 1)
    """
    p = _check_prob(prob)
    sp = check_spacing(spacing_kji)
    rule = DetectionRule(threshold, min_lesion_mm3)
    comps = tumour_components(p >= rule.threshold, sp)  # one definition of "one lesion": 26-connected
    lab, n, sizes = comps.labels, comps.count, comps.voxels
    if n == 0:
        return lab.astype(np.int32), []
    voxel_mm3 = float(np.prod(sp))
    peaks = ndimage.maximum(p, lab, index=np.arange(1, n + 1))
    keep = np.flatnonzero(sizes * voxel_mm3 >= rule.min_lesion_mm3)
    remap = np.zeros(n + 1, dtype=np.int32)
    remap[keep + 1] = np.arange(1, len(keep) + 1, dtype=np.int32)
    cands = [{"id": j + 1, "confidence": float(peaks[i]), "voxels": int(sizes[i]),
              "volume_mm3": float(sizes[i] * voxel_mm3)} for j, i in enumerate(keep)]
    return remap[lab], cands


def match_lesions(cand_labels: np.ndarray, candidates: list[dict], ref, spacing_kji: Sequence[float],
                  hit_iou: float = 0.1) -> tuple[list[dict], list[dict]]:
    """PI-CAI matching of candidates to reference lesions (module doc). Returns (lesions, candidates):
    per reference lesion ``{id, voxels, volume_ml, diameter_mm, hit, confidence, iou, candidate}``;
    per candidate its input fields plus ``kind`` (``tp`` | ``fp`` | ``ignored``), ``lesion`` and
    ``iou`` (its best IoU with any lesion)."""
    from scipy.optimize import linear_sum_assignment

    r = np.asarray(getattr(ref, "array", ref)) != 0
    if r.shape != cand_labels.shape:
        raise InputError(f"reference and probability map shapes differ: {r.shape} vs {cand_labels.shape}")
    sp = check_spacing(spacing_kji)
    comps_r = tumour_components(r)
    lab_r, n_r = comps_r.labels, comps_r.count
    n_c = len(candidates)
    both = (lab_r > 0) & (cand_labels > 0)
    inter = np.bincount(lab_r[both].astype(np.int64) * (n_c + 1) + cand_labels[both],
                        minlength=(n_r + 1) * (n_c + 1)).reshape(n_r + 1, n_c + 1)[1:, 1:].astype(np.float64)
    size_r = np.bincount(lab_r.ravel(), minlength=n_r + 1)[1:].astype(np.float64)
    size_c = np.array([c["voxels"] for c in candidates], dtype=np.float64)
    iou = inter / np.maximum(size_r[:, None] + size_c[None, :] - inter, 1.0) if n_r and n_c else inter
    ok = iou >= float(hit_iou)
    pairs = {}
    if ok.any():
        # matched pairs first (the +1), then the larger IoU — PI-CAI's assignment
        rows, cols = linear_sum_assignment(np.where(ok, iou + 1.0, 0.0), maximize=True)
        pairs = {int(i): int(j) for i, j in zip(rows, cols, strict=True) if ok[i, j]}
    voxel_mm3 = float(np.prod(sp))
    lesions = []
    for i in range(n_r):
        j = pairs.get(i)
        vol = float(size_r[i] * voxel_mm3)
        lesions.append({"id": i + 1, "voxels": int(size_r[i]), "volume_ml": vol / 1000.0,
                        "diameter_mm": 2.0 * equivalent_radius_mm(vol), "hit": j is not None,
                        "confidence": candidates[j]["confidence"] if j is not None else 0.0,
                        "iou": float(iou[i, j]) if j is not None else (float(iou[i].max()) if n_c else 0.0),
                        "candidate": j + 1 if j is not None else None})
    matched = {j: i for i, j in pairs.items()}
    out = []
    for j, c in enumerate(candidates):
        kind = "tp" if j in matched else ("ignored" if n_r and ok[:, j].any() else "fp")
        out.append({**c, "kind": kind, "lesion": matched[j] + 1 if j in matched else None,
                    "iou": float(iou[:, j].max()) if n_r else 0.0})
    return lesions, out


def case_detection(prob, ref, spacing_kji: Sequence[float], rule: DetectionRule | dict | None = None) -> dict[str, Any]:
    """Candidates, matches and the case score (max probability) of one case; JSON-able.

    ``prob``: tumour probability map; ``ref``: reference tumour mask (non-zero = tumour) on the
    same grid; ``spacing_kji``: mm per array axis.
    """
    rule = DetectionRule.resolve(rule)
    p = _check_prob(prob)
    lab, cands = lesion_candidates(p, spacing_kji, rule.threshold, rule.min_lesion_mm3)
    lesions, cands = match_lesions(lab, cands, ref, spacing_kji, rule.hit_iou)
    return {"score": float(p.max()) if p.size else 0.0, "has_tumour": bool(lesions), "lesions": lesions,
            "candidates": cands, "rule": rule.to_dict()}


def lesion_list(case: dict[str, Any]) -> list[tuple[int, float]]:
    """PI-CAI's per-case list: (1, confidence) per reference lesion (0 when missed), (0, confidence)
    per false-positive candidate."""
    return ([(1, float(le["confidence"])) for le in case["lesions"]]
            + [(0, float(c["confidence"])) for c in case["candidates"] if c["kind"] == "fp"])


def _curve(cases: Sequence[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(thresholds descending, TP count, FP count at each, number of reference lesions)."""
    ys = [y for c in cases for y in lesion_list(c)]
    label = np.array([y[0] for y in ys], dtype=bool)
    conf = np.array([y[1] for y in ys], dtype=np.float64)
    n_les = int(label.sum())
    thr = np.unique(conf[conf > 0])[::-1]  # confidence 0 = a missed lesion, never a detection
    tp = np.array([np.count_nonzero(label & (conf >= t)) for t in thr], dtype=np.int64)
    fp = np.array([np.count_nonzero(~label & (conf >= t)) for t in thr], dtype=np.int64)
    return thr, tp, fp, n_les


def froc(cases: Sequence[dict], fp_per_case: Sequence[float] = FP_PER_CASE) -> dict[str, Any]:
    """Lesion-level FROC over ``cases`` (:func:`case_detection` results): the curve and the
    sensitivity at each of ``fp_per_case`` (None when no case holds a reference lesion)."""
    if not cases:
        raise InputError("FROC needs at least one case")
    thr, tp, fp, n_les = _curve(cases)
    fpc = fp / len(cases)
    sens = tp / n_les if n_les else np.full(len(tp), np.nan)
    at = {}
    for x in fp_per_case:
        ok = fpc <= float(x)
        at[f"{float(x):g}"] = None if not n_les else (float(sens[ok].max()) if ok.any() else 0.0)
    return {"thresholds": thr.tolist(), "sensitivity": [None if not n_les else float(s) for s in sens],
            "fp_per_case": fpc.tolist(), "sensitivity_at": at, "n_lesions": n_les, "n_cases": len(cases)}


def average_precision(cases: Sequence[dict]) -> float | None:
    """Lesion-level average precision (module doc); None without reference lesions."""
    thr, tp, fp, n_les = _curve(cases)
    if not n_les:
        return None
    if not len(thr):
        return 0.0
    recall = np.concatenate([[0.0], tp / n_les])
    precision = tp / np.maximum(tp + fp, 1)
    return float(np.sum(np.diff(recall) * precision))


def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Area under the ROC curve of case scores (ties count 1/2); None without both classes.

    >>> auroc([0.9, 0.8, 0.3, 0.8], [True, True, False, False])
    0.875
    """
    from scipy.stats import rankdata

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    if s.shape != y.shape:
        raise InputError(f"auroc: {s.size} scores but {y.size} labels")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return None
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def detection_summary(cases: Sequence[dict], fp_per_case: Sequence[float] = FP_PER_CASE) -> dict[str, Any]:
    """FROC, AP and AUROC over ``cases``; JSON-able (no per-case lists)."""
    f = froc(cases, fp_per_case)
    return {
        "n_cases": len(cases), "n_positive_cases": sum(1 for c in cases if c["has_tumour"]),
        "n_lesions": f["n_lesions"], "n_candidates": sum(len(c["candidates"]) for c in cases),
        "auroc": auroc([c["score"] for c in cases], [c["has_tumour"] for c in cases]),
        "average_precision": average_precision(cases), "sensitivity_at": f["sensitivity_at"],
        "froc": {k: f[k] for k in ("thresholds", "sensitivity", "fp_per_case")},
        "rule": cases[0]["rule"] if cases else DetectionRule().to_dict(),
    }


def _num(x: float | None, pct: bool = False) -> str:
    return "–" if x is None else (f"{100 * x:.1f} %" if pct else f"{x:.3f}")


def detection_markdown(summary: dict[str, Any], title: str = "## Detection (PI-CAI protocol)") -> str:
    """A Markdown block of a :func:`detection_summary` result."""
    r = summary["rule"]
    at = summary["sensitivity_at"]
    head = " | ".join(f"sens. @ {k} FP" for k in at)
    return "\n".join([
        title, "",
        f"Candidates: 26-connected components of tumour probability ≥ {r['threshold']:g}, at least "
        f"{r['min_lesion_mm3']:g} mm³, confidence = their maximum probability; a hit is IoU ≥ {r['hit_iou']:g} with a "
        f"reference lesion. {summary['n_cases']} cases ({summary['n_positive_cases']} with a tumour), "
        f"{summary['n_lesions']} reference lesions, {summary['n_candidates']} candidates.", "",
        f"| AUROC (case score: max probability) | AP | {head} |", "|" + "---|" * (2 + len(at)),
        f"| {_num(summary['auroc'])} | {_num(summary['average_precision'])} | "
        + " | ".join(_num(v, pct=True) for v in at.values()) + " |",
    ]) + "\n"
