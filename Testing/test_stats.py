"""Study statistics: the hierarchical bootstrap reaches its nominal coverage on simulated studies
whose effect is known (and is not simply wide), Wilcoxon p-values equal SciPy's on the per-case
differences, Holm equals the hand-computed (and statsmodels') adjustment, and the hypothesis
sentences never claim more than the interval shows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from SynTumorLib.experiments.comparisons import arm_intervals, compare_arms, hypothesis_sentence
from SynTumorLib.experiments.spec import Arm
from SynTumorLib.metrics.stats import hierarchical_bootstrap, holm, paired_groups, signed_rank_test
from SynTumorLib.utils.errors import InputError


def _study(rng, n_cases=30, n_seeds=2, *deltas):
    """Simulated paired study: baseline and arm DSC per case × seed; arm k adds ``deltas[k]`` on
    average (plus a case-specific effect), each run adds its own noise. Returns (baseline, *arms) as
    {case: {seed: value}}."""
    mu = rng.normal(0.5, 0.15, n_cases)

    def as_dict(a):
        return {f"c{i:02d}": {s: float(a[i, s]) for s in range(n_seeds)} for i in range(n_cases)}

    base = mu[:, None] + rng.normal(0, 0.03, (n_cases, n_seeds))
    arms = []
    for delta in deltas:
        tau = rng.normal(0.0, 0.06, n_cases)  # the effect differs between cases
        arms.append(as_dict(mu[:, None] + delta + tau[:, None] + rng.normal(0, 0.03, (n_cases, n_seeds))))
    return (as_dict(base), *arms)


def test_paired_bootstrap_reaches_nominal_coverage_on_simulated_studies():
    rng = np.random.default_rng(2024)
    delta, n_cases, n_seeds, n_studies = 0.05, 30, 2, 200
    covered, widths = 0, []
    for k in range(n_studies):
        base, arm = _study(rng, n_cases, n_seeds, delta)
        _, groups = paired_groups(arm, base)
        r = hierarchical_bootstrap(groups, n_boot=1000, seed=k)
        covered += r["lo"] <= delta <= r["hi"]
        widths.append(r["hi"] - r["lo"])
    assert covered / n_studies >= 0.90, covered
    # not covering by being wide: the true sd of the estimate is sqrt(0.06² + 2·0.03²/2)/sqrt(30) ≈ 0.0122
    se = np.sqrt(0.06**2 + 2 * 0.03**2 / n_seeds) / np.sqrt(n_cases)
    assert np.mean(widths) < 1.3 * 2 * 1.96 * se


def test_arm_mean_interval_covers_the_population_mean():
    rng = np.random.default_rng(7)
    covered = 0
    for k in range(200):
        values = rng.normal(0.4, 0.2, 25)[:, None] + rng.normal(0, 0.05, (25, 3))
        covered += (r := hierarchical_bootstrap(values.tolist(), n_boot=800, seed=k))["lo"] <= 0.4 <= r["hi"]
    assert covered >= 180


def test_bootstrap_estimate_edge_cases_and_errors():
    r = hierarchical_bootstrap([[0.2, 0.4], [0.9]], n_boot=200)  # unbalanced: each case weighs the same
    assert r["estimate"] == pytest.approx((0.3 + 0.9) / 2) and r["n_values"] == 3 and r["lo"] <= r["hi"]
    one = hierarchical_bootstrap([[0.5, 0.6]], n_boot=200)
    assert one["estimate"] == pytest.approx(0.55) and one["lo"] is None  # one case: no spread between cases
    assert hierarchical_bootstrap([[], [None]], n_boot=200)["estimate"] is None
    a, b = hierarchical_bootstrap([[0.1], [0.5], [0.7]], seed=3), hierarchical_bootstrap([[0.1], [0.5], [0.7]], seed=3)
    assert a == b  # the recorded seed replays the interval
    for bad, msg in (({"n_boot": 10}, "n_boot"), ({"level": 1.2}, "level")):
        with pytest.raises(InputError, match=msg):
            hierarchical_bootstrap([[0.1], [0.2]], **bad)
    with pytest.raises(InputError, match="finite"):
        hierarchical_bootstrap([[0.1], [float("nan")]])


def test_paired_groups_pair_by_case_and_run():
    ids, groups = paired_groups({"a": {0: 0.5, 1: 0.6}, "b": {1: 0.3}, "x": {0: 1.0}},
                                {"a": {0: 0.4, 2: 0.9}, "b": {0: 0.1, 1: 0.2}})
    assert ids == ["a", "b"] and groups == [[pytest.approx(0.1)], [pytest.approx(0.1)]]


def _rows(arms: dict[str, dict], n_seeds=2):
    return [{"arm": arm, "seed": s, "fold": None, "case": c, "tumour_dice": v[s], "tumour_nsd": v[s] * 0.9,
             "ref_has_tumour": True} for arm, cases in arms.items() for c, v in cases.items() for s in range(n_seeds)]


def test_wilcoxon_and_holm_against_scipy_on_a_study():
    rng = np.random.default_rng(3)
    base, large, small = _study(rng, 12, 2, 0.08, 0.0)
    rows = _rows({"unet-baseline": base, "unet-size-large": large, "unet-size-small": small})
    rows.append({**rows[0], "case": "free", "tumour_dice": 1.0, "ref_has_tumour": False})  # left out by default
    arms = [Arm("unet"), Arm("unet", size="small"), Arm("unet", size="large")]
    cmp = {c["arm"]: c for c in compare_arms(rows, arms, n_boot=500)}
    raw = []
    for arm, vals in (("unet-size-small", small), ("unet-size-large", large)):
        d = [np.mean([vals[c][s] - base[c][s] for s in range(2)]) for c in sorted(base)]
        p = stats.wilcoxon(d).pvalue  # SciPy on the per-case mean differences
        assert cmp[arm]["dsc"]["p"] == pytest.approx(p, rel=1e-12) and cmp[arm]["dsc"]["n_cases"] == 12
        assert cmp[arm]["dsc"]["delta"] == pytest.approx(np.mean(d))
        raw.append(p)
    lo, hi = sorted(raw)
    holm_hand = {min(raw): min(1, 2 * lo), max(raw): max(min(1, 2 * lo), hi)}
    for arm, p in zip(("unet-size-small", "unet-size-large"), raw, strict=True):
        assert cmp[arm]["dsc"]["p_holm"] == pytest.approx(holm_hand[p])
    assert cmp["unet-size-large"]["family"] == "size" and cmp["unet-size-large"]["baseline"] == "unet-baseline"
    ci = arm_intervals(rows, ["unet-baseline"], n_boot=200)["unet-baseline"]["dsc"]
    assert ci["n_cases"] == 12 and ci["estimate"] == pytest.approx(np.mean([np.mean(list(v.values())) for v in base.values()]))


def test_signed_rank_small_exact_and_degenerate():
    assert signed_rank_test([0.1, 0.2, 0.3, 0.4, 0.5])["p"] == pytest.approx(2 / 32)  # exact: both tails of 1/32
    assert signed_rank_test([0.2, -0.1, 0.3, 0.05, -0.4, 0.6])["p"] == pytest.approx(
        stats.wilcoxon([0.2, -0.1, 0.3, 0.05, -0.4, 0.6]).pvalue)
    z = signed_rank_test([0.0, 0.0, 0.0])
    assert z["p"] == 1.0 and z["n_nonzero"] == 0
    assert signed_rank_test([])["p"] is None


def test_holm_by_hand_and_statsmodels():
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.2, None, 0.01]) == [pytest.approx(0.2), None, pytest.approx(0.02)]
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1
    with pytest.raises(InputError, match="p-values"):
        holm([1.5])
    sm = pytest.importorskip("statsmodels.stats.multitest", reason="statsmodels not installed (the hand values above "
                             "are the check)")
    p = np.random.default_rng(0).uniform(0, 0.2, 7)
    assert holm(list(p)) == pytest.approx(list(sm.multipletests(p, method="holm")[1]))


def _cmp(delta, lo, hi, p_holm, n=10):
    return {"dsc": {"delta": delta, "lo": lo, "hi": hi, "p_holm": p_holm, "n_cases": n, "n_values": n}}


def test_hypothesis_sentences_never_claim_more_than_the_interval():
    large, noisy = Arm("unet", size="large"), Arm("nnunet", noise="high")
    verdict, text = hypothesis_sentence(large, _cmp(0.012, -0.031, 0.054, 0.6))
    assert verdict == "not shown" and "do not show that large synthetic tumours beat no synthesis" in text
    assert "ΔDSC +1.2 points, 95 % CI -3.1 to +5.4" in text and text.startswith("U-Net: at this budget")
    assert hypothesis_sentence(large, _cmp(0.05, 0.02, 0.08, 0.01))[0] == "supported"
    # an interval above zero without a significant Holm-adjusted test is not support
    verdict, text = hypothesis_sentence(large, _cmp(0.05, 0.02, 0.08, 0.0625))
    assert verdict == "not shown" and "lies on its side of zero but the Holm-adjusted signed-rank test does not" in text
    verdict, text = hypothesis_sentence(noisy, _cmp(0.037, 0.002, 0.073, 0.41))  # the other side, not significant
    assert verdict == "not shown" and "other side of zero, but the Holm-adjusted signed-rank test does not" in text
    assert hypothesis_sentence(large, _cmp(-0.05, -0.08, -0.02, 0.01))[0] == "opposite"
    # a noise arm's hypothesis is a loss of DSC
    verdict, text = hypothesis_sentence(noisy, _cmp(-0.05, -0.08, -0.02, 0.01))
    assert verdict == "supported" and "high label noise lowers DSC" in text and text.startswith("nnU-Net")
    assert hypothesis_sentence(noisy, _cmp(0.01, None, None, None, n=1))[0] == "untestable"
