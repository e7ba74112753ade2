"""A study's statistics: each arm's mean with a hierarchical-bootstrap 95 % CI, the paired comparison
of every arm with its table's baseline arm, and one plain sentence per hypothesis.

Input: the per-case rows of a study (``results.csv``: arm, seed, fold, case, tumour_dice,
tumour_nsd, ref_has_tumour — or the same fields from ``result.json``). Tumour-free reference cases
follow ``evaluation.include_empty`` (left out by default, as the means of the tables).

* **Per arm** (:func:`arm_intervals`): DSC and NSD, mean over cases of the per-case means over
  seeds (and folds), with the two-stage bootstrap CI of :func:`SynTumorLib.metrics.stats.hierarchical_bootstrap`.
* **Paired** (:func:`compare_arms`): each arm against the baseline of the same model (its
  ``<model>-baseline``), on the test cases and runs both measured: ΔDSC and ΔNSD (arm − baseline,
  percentage points) with the paired hierarchical bootstrap CI, the Wilcoxon signed-rank p-value of
  the per-case mean differences, and Holm's correction across the arms of one table — the size
  arms form one family (Table 1), the noise arms another (Tables 2–3).
* **Hypotheses** (:func:`hypothesis_sentence`): a size arm's hypothesis is that its synthetic
  tumours beat no synthesis; a noise arm's that its label noise lowers DSC against the original
  labels. A sentence says "support" only when the 95 % CI of ΔDSC lies entirely on the
  hypothesised side of zero *and* the Holm-adjusted p < 0.05; "the opposite" only when both hold on
  the other side; every other case reads "the data do not show", with the numbers.

Example:
    >>> rows = [{"arm": a, "seed": 0, "fold": None, "case": f"c{i}", "tumour_dice": d + (0.1 if a == "unet-size-large" else 0),
    ...          "tumour_nsd": d, "ref_has_tumour": True} for a in ("unet-baseline", "unet-size-large")
    ...         for i, d in enumerate([0.2, 0.4, 0.5, 0.3, 0.6, 0.45, 0.35, 0.55])]
    >>> from SynTumorLib.experiments.spec import Arm
    >>> c = compare_arms(rows, [Arm("unet"), Arm("unet", size="large")])[0]
    >>> round(c["dsc"]["delta"], 3), c["dsc"]["p"], c["verdict"]
    (0.1, 0.0078125, 'supported')
    >>> c["sentence"].split(" (")[0]
    'U-Net: at this budget the data support that large synthetic tumours beat no synthesis'
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from ..metrics.stats import DEFAULT_N_BOOT, hierarchical_bootstrap, holm, paired_groups, signed_rank_test
from .spec import Arm

METRICS = {"dsc": "tumour_dice", "nsd": "tumour_nsd"}
ALPHA = 0.05
MODEL_NAMES = {"unet": "U-Net", "nnunet": "nnU-Net", "swinunetr": "SwinUNETR", "dynunet": "DynUNet"}


def _flag(v: Any) -> bool:
    return v is True or str(v).strip().lower() in ("1", "true")


def _num(v: Any) -> float | None:
    if v is None or v == "":
        return None
    x = float(v)
    return x if math.isfinite(x) else None


def case_values(rows: Sequence[dict], arm_id: str, column: str, include_empty: bool = False) -> dict[str, dict]:
    """``{case: {run: value}}`` of one arm and column; run = ``seed/fold``."""
    out: dict[str, dict] = {}
    for r in rows:
        if r["arm"] != arm_id or not (include_empty or _flag(r["ref_has_tumour"])):
            continue
        v = _num(r.get(column))
        if v is not None:
            out.setdefault(str(r["case"]), {})[f"{r.get('seed')}/{r.get('fold')}"] = v
    return out


def arm_intervals(rows: Sequence[dict], arm_ids: Sequence[str], include_empty: bool = False,
                  n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> dict[str, dict[str, dict]]:
    """Per arm and metric (``dsc``, ``nsd``): :func:`hierarchical_bootstrap` of its case values
    (cases and runs in sorted order, so the same rows in any order give the same interval)."""
    def groups(values: dict[str, dict]) -> list[list[float]]:
        return [[runs[k] for k in sorted(runs)] for _, runs in sorted(values.items())]

    return {a: {m: hierarchical_bootstrap(groups(case_values(rows, a, col, include_empty)), n_boot, seed=seed)
                for m, col in METRICS.items()} for a in arm_ids}


def family(arm: Arm) -> str:
    """The table an arm's comparison belongs to (its Holm family): ``size``, ``noise`` or ``other``."""
    if arm.size != "none" and arm.noise == "none":
        return "size"
    if arm.noise != "none" and arm.size == "none":
        return "noise"
    return "other"


def _size_name(size: str) -> str:
    return f"synthetic tumours of {size}" if size.endswith(".json") else f"{size}{'-size' if size == 'mixed' else ''} synthetic tumours"


def hypothesis(arm: Arm) -> tuple[str, int]:
    """(the hypothesis in words, its direction: +1 the arm is better, −1 worse, 0 it differs)."""
    f = family(arm)
    if f == "size":
        return f"{_size_name(arm.size)} beat no synthesis", 1
    if f == "noise":
        return f"{arm.noise} label noise lowers DSC against the original labels", -1
    return f"{arm.arm_id} differs from {arm.model}-baseline", 0


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _p(p: float | None) -> str:
    return "–" if p is None else (f"{p:.2g}" if p < 0.001 else f"{p:.3f}")


def hypothesis_sentence(arm: Arm, comparison: dict[str, Any]) -> tuple[str, str]:
    """(verdict, sentence) from a comparison's ΔDSC interval and Holm-adjusted p (rule in the module doc).
    Verdicts: ``supported``, ``opposite``, ``not shown``, ``untestable``."""
    text, direction = hypothesis(arm)
    who = MODEL_NAMES.get(arm.model, arm.model)
    d = comparison["dsc"]
    if d["lo"] is None:
        return "untestable", (f"{who}: the data cannot test that {text}: fewer than two test cases measured by both "
                              f"arms ({d['n_cases']}).")
    nums = (f"ΔDSC {_pts(d['delta'])} points, 95 % CI {_pts(d['lo'])} to {_pts(d['hi'])}; Holm-adjusted Wilcoxon "
            f"p = {_p(d['p_holm'])}; {d['n_cases']} test cases, {d['n_values']} paired runs")
    significant = d["p_holm"] is not None and d["p_holm"] < ALPHA
    above, below = d["lo"] > 0, d["hi"] < 0
    side, other = (above, below) if direction >= 0 else (below, above)
    if direction == 0:  # a two-sided hypothesis: either side of zero
        if (above or below) and significant:
            return "supported", f"{who}: at this budget the data support that {text} ({nums})."
        if above or below:
            return "not shown", (f"{who}: at this budget the data do not show that {text}: the bootstrap interval "
                                 f"excludes zero but the Holm-adjusted signed-rank test does not confirm it ({nums}).")
        return "not shown", f"{who}: at this budget the data do not show that {text} ({nums})."
    if side and significant:
        return "supported", f"{who}: at this budget the data support that {text} ({nums})."
    if other and significant:
        return "opposite", (f"{who}: at this budget the data show the opposite of the hypothesis that {text} "
                            f"({nums}).")
    if side and not significant:
        return "not shown", (f"{who}: at this budget the data do not show that {text}: the bootstrap interval lies on "
                             f"its side of zero but the Holm-adjusted signed-rank test does not confirm it ({nums}).")
    if other and not significant:
        return "not shown", (f"{who}: at this budget the data do not show that {text}; the bootstrap interval lies on the "
                             f"other side of zero, but the Holm-adjusted signed-rank test does not confirm that either "
                             f"({nums}).")
    return "not shown", f"{who}: at this budget the data do not show that {text} ({nums})."


def compare_arms(rows: Sequence[dict], arms: Sequence[Arm], include_empty: bool = False,
                 n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> list[dict[str, Any]]:
    """Every arm with results against its model's baseline (module doc); in ``arms`` order.

    Returns per comparison ``{"arm", "baseline", "family", "dsc": {...}, "nsd": {...}, "hypothesis",
    "verdict", "sentence"}`` where each metric holds ``delta``, ``lo``, ``hi`` (fractions),
    ``n_cases``, ``n_values``, ``p``, ``p_holm``, ``n_boot``, ``seed`` and the test's name.
    """
    have = {r["arm"] for r in rows}
    ids = {a.arm_id for a in arms}
    out = []
    for arm in arms:
        base = f"{arm.model}-baseline"
        if arm.is_baseline or arm.arm_id not in have or base not in have or base not in ids:
            continue
        c: dict[str, Any] = {"arm": arm.arm_id, "baseline": base, "family": family(arm)}
        for m, col in METRICS.items():
            _, groups = paired_groups(case_values(rows, arm.arm_id, col, include_empty),
                                      case_values(rows, base, col, include_empty))
            boot = hierarchical_bootstrap(groups, n_boot, seed=seed)
            test = signed_rank_test([sum(g) / len(g) for g in groups])
            c[m] = {"delta": boot["estimate"], "lo": boot["lo"], "hi": boot["hi"], "n_cases": boot["n_cases"],
                    "n_values": boot["n_values"], "p": test["p"], "p_holm": None, "n_boot": boot["n_boot"],
                    "seed": boot["seed"], "test": test["test"]}
        c["_arm"] = arm
        out.append(c)
    for fam in {c["family"] for c in out}:
        members = [c for c in out if c["family"] == fam]
        for m in METRICS:
            for c, p in zip(members, holm([c[m]["p"] for c in members]), strict=True):
                c[m]["p_holm"] = p
    for c in out:
        arm = c.pop("_arm")
        c["hypothesis"] = hypothesis(arm)[0]
        c["verdict"], c["sentence"] = hypothesis_sentence(arm, c)
    return out


COMPARISON_COLUMNS = ["arm", "baseline", "family", "n_cases", "n_values", "dsc_delta", "dsc_lo", "dsc_hi", "dsc_p",
                      "dsc_p_holm", "nsd_delta", "nsd_lo", "nsd_hi", "nsd_p", "nsd_p_holm", "verdict", "sentence"]


def comparison_rows(comparisons: Sequence[dict]) -> list[dict[str, Any]]:
    """Flat rows for ``comparisons.csv`` (deltas and bounds as fractions)."""
    return [{"arm": c["arm"], "baseline": c["baseline"], "family": c["family"], "n_cases": c["dsc"]["n_cases"],
             "n_values": c["dsc"]["n_values"], **{f"{m}_{k}": c[m][k] for m in METRICS for k in ("delta", "lo", "hi", "p", "p_holm")},
             "verdict": c["verdict"], "sentence": c["sentence"]} for c in comparisons]


def ci_cell(estimate: float | None, lo: float | None, hi: float | None, signed: bool = False) -> str:
    """A value with its 95 % CI in percentage points, e.g. ``+1.2 [−3.1, +5.4]``."""
    if estimate is None:
        return "–"
    f = (lambda x: f"{100 * x:+.1f}") if signed else (lambda x: f"{100 * x:.1f}")
    return f(estimate) if lo is None else f"{f(estimate)} [{f(lo)}, {f(hi)}]"


PAIRED_HEADER = ["Arm", "vs", "n cases (runs)", "ΔDSC [95 % CI]", "p", "p Holm", "ΔNSD [95 % CI]", "p", "p Holm"]


def paired_cells(c: dict[str, Any]) -> list[str]:
    d, n = c["dsc"], c["nsd"]
    return [c["arm"], c["baseline"], f"{d['n_cases']} ({d['n_values']})", ci_cell(d["delta"], d["lo"], d["hi"], True),
            _p(d["p"]), _p(d["p_holm"]), ci_cell(n["delta"], n["lo"], n["hi"], True), _p(n["p"]), _p(n["p_holm"])]


def comparisons_markdown(comparisons: Sequence[dict], n_boot: int = DEFAULT_N_BOOT) -> str:
    """The paired table and the hypothesis sentences as Markdown."""
    if not comparisons:
        return "No paired comparison: the study has no baseline arm beside another arm with results.\n"
    lines = ["## Paired comparisons against the baseline", "",
             f"Arm − baseline on the same test cases and runs, percentage points; 95 % CI from a paired hierarchical "
             f"bootstrap ({n_boot} resamples of cases, then of runs within each case); p: two-sided Wilcoxon "
             "signed-rank test of the per-case mean differences; Holm's correction across the arms of one table "
             "(size arms; noise arms).", "",
             "| " + " | ".join(PAIRED_HEADER) + " |", "|" + "---|" * len(PAIRED_HEADER)]
    lines += ["| " + " | ".join(paired_cells(c)) + " |" for c in comparisons]
    lines += ["", "## Hypotheses", ""] + [f"- {c['sentence']}" for c in comparisons]
    return "\n".join(lines) + "\n"


def comparisons_html(comparisons: Sequence[dict]) -> str:
    """The paired table and sentences as an HTML fragment (escaped)."""
    if not comparisons:
        return "<p>No paired comparison.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in PAIRED_HEADER)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in paired_cells(c)) + "</tr>" for c in comparisons)
    items = "".join(f"<li>{html.escape(c['sentence'])}</li>" for c in comparisons)
    return f"<h3>Paired comparisons against the baseline</h3><table><tr>{head}</tr>{body}</table><ul>{items}</ul>"
