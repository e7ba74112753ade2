"""Studies: spec validation and overrides, the paper-style tables, and a real smoke study end to end
(phantom → noisy labels → U-Net training → prediction → evaluation → tables) at a tiny budget."""

from __future__ import annotations

import csv
import json

import pytest

from SynTumorLib.cli.main import main
from SynTumorLib.experiments.spec import StudySpec, apply_overrides, load_spec
from SynTumorLib.experiments.study import monai_train_config, plan_runs, run_study
from SynTumorLib.experiments.tables import plot_arms, table_html, table_markdown
from SynTumorLib.segmentation import TrainConfig
from SynTumorLib.utils.errors import InputError

BASE = {"name": "t", "table": "noise", "datasets": {"real": "phantom"},
        "arms": {"models": ["unet", "nnunet"], "noise": ["none", "low"]}}


def test_shipped_specs_are_valid():
    for name, n_arms in (("paper-table1", 18), ("paper-table2-3", 15), ("smoke-table1", 6), ("smoke-table2-3", 5)):
        spec = load_spec(name)
        assert len(spec.arms) == n_arms and spec.evaluation["tolerance_mm"] == 2.0
    for name, n_seeds in (("paper-table1", 3), ("paper-table2-3", 3), ("smoke-table2-3", 2)):
        spec = load_spec(name)  # the paper's protocol with seeds: one fixed split, several training runs
        assert spec.seeds == list(range(n_seeds)) and spec.split["seed"] == 0
        assert len(plan_runs(spec)) == n_seeds * len(spec.arms)
    assert load_spec("smoke-table2-3").split["test_only"] == ["normal_*"]
    t1 = load_spec("paper-table1")
    assert {a.arm_id for a in t1.arms} == set(t1.reference)  # every arm has the paper's numbers
    assert t1.split["test_fraction"] == 0.2  # 4:1 as the paper


def test_spec_expansion_and_errors():
    s = StudySpec.from_dict(BASE)
    assert [a.arm_id for a in s.arms] == ["unet-baseline", "unet-noise-low", "nnunet-baseline", "nnunet-noise-low"]
    assert [a.arm_id for a in s.select(["nnunet-*"])] == ["nnunet-baseline", "nnunet-noise-low"]
    assert len(plan_runs(StudySpec.from_dict({**BASE, "seeds": [1, 2], "split": {"n_folds": 5, "folds": [0, 3]}}))) == 16
    bad = [({"arms": {"models": ["vnet"]}}, "unknown model"),
           ({"arms": {"models": ["unet"], "sizes": ["large"]}}, "give 'datasets.healthy'"),
           ({"arms": {"models": ["unet"], "noise": ["loud"]}}, "unknown noise level"),
           ({"seeds": []}, "seeds"), ({"split": {"test_fraction": 0}}, "test_fraction must be > 0"),
           ({"split": {"n_folds": 5, "folds": [5]}}, "split.folds"), ({"budgett": {}}, "unknown key"),
           ({"datasets": {}}, "datasets.real"), ({"table": "fig"}, "'table'")]
    for change, msg in bad:
        with pytest.raises(InputError, match=msg):
            StudySpec.from_dict({**BASE, **change})
    with pytest.raises(InputError, match="matches no arm"):
        s.select(["swin*"])


def test_seeds_per_arm_fixed_split_and_test_only_cases():
    from SynTumorLib.experiments.study import split_cases

    spec = StudySpec.from_dict({**BASE, "seeds": [0, 1], "arms": [{"model": "unet"}, {"model": "unet", "noise": "low",
                                                                                        "seeds": [0, 1, 2]}]})
    assert [(r.arm.arm_id, r.seed) for r in plan_runs(spec)] == [
        ("unet-baseline", 0), ("unet-baseline", 1), ("unet-noise-low", 0), ("unet-noise-low", 1), ("unet-noise-low", 2)]
    ids = [f"p{i:02d}" for i in range(20)] + ["normal_000", "normal_001"]
    split = {**spec.split, "test_only": ["normal_*"]}
    a, b = split_cases(split, ids, 0), split_cases(split, ids, 1)
    assert a != b and {"normal_000", "normal_001"} <= set(a["test"]) and "normal_000" not in a["train"] + a["val"]
    fixed = {**split, "seed": 5}
    assert split_cases(fixed, ids, 0) == split_cases(fixed, ids, 1)  # split.seed: one test set for every seed
    bad = [({"seeds": [1, 1]}, "twice"), ({"split": {"seed": "x"}}, "split.seed"),
           ({"split": {"test_only": "normal_*"}}, "split.test_only"),
           ({"arms": [{"model": "unet", "seeds": []}]}, "'seeds' must be a non-empty"),
           ({"evaluation": {"hit_iou": 0}}, "hit IoU"), ({"evaluation": {"n_bootstrap": 5}}, "n_bootstrap"),
           ({"evaluation": {"detection_threshold": "x"}}, "must be a number"),
           ({"phantom": {"n_tumour_free": -1}}, "n_tumour_free"),
           ({"phantom": {"n_real": 1}}, r"phantom\.n_real must be an integer ≥ 2, got 1"),
           ({"phantom": {"tumours": 0}}, "phantom.tumours"), ({"phantom": {"n_healthy": 2.5}}, "phantom.n_healthy"),
           ({"phantom": {"spacing": [2, 0, 2]}}, r"phantom\.spacing must be three numbers > 0"),
           ({"phantom": {"fov_mm": [100, 100]}}, "phantom.fov_mm")]
    for change, msg in bad:
        with pytest.raises(InputError, match=msg):
            StudySpec.from_dict({**BASE, **change})


def test_overrides_and_train_config(tmp_path):
    d = apply_overrides(BASE, ["datasets.real=/data/x", "budget.iterations=7", 'datasets.healthy=["/h"]'])
    assert d["datasets"] == {"real": "/data/x", "healthy": ["/h"]} and d["budget"] == {"iterations": 7}
    assert BASE["datasets"] == {"real": "phantom"}  # input not modified
    with pytest.raises(InputError, match="KEY=VALUE"):
        apply_overrides(BASE, ["budget"])
    spec = load_spec("smoke-table1", ["budget.iterations=5"])
    run = plan_runs(spec, ["unet-size-large"])[0]
    splits = {"train": ["a", "b"], "val": ["c"], "test": ["d"]}
    cfg = monai_train_config(spec, run, {"real": "/r", "healthy": "/h"}, splits)
    tc = TrainConfig.from_dict(cfg)  # the trainer's own validation accepts what the runner builds
    assert tc.iterations == 5 and tc.data["arm"] == "large" and tc.data["healthy"] == "/h"
    assert tc.split["test"] == ["d"] and tc.model["args"]["channels"] == [8, 16, 32, 64]
    with pytest.raises(InputError, match="placeholder"):
        run_study(load_spec("paper-table2-3"), tmp_path / "p", only=["unet-baseline"])
    with pytest.raises(InputError, match="spec file not found"):
        load_spec("no-such-spec")


SIZE_BASE = {"name": "s", "table": "size", "datasets": {"real": "phantom", "healthy": ["phantom"]},
             "arms": {"models": ["unet"], "sizes": ["none", "large", "mixed"]}}


def _quartile_json(path, names=("tiny", "small", "medium", "large")):
    """A size-class file as `syntumor sizes analyze` writes one (here: the difftumor radii renamed)."""
    from SynTumorLib.geometry.sizes import load_size_classes

    d = load_size_classes("difftumor").to_dict()
    d["name"], d["classes"] = "q", {n: c for n, c in zip(names, d["classes"].values(), strict=True)}
    d["probabilities"] = {n: 1.0 for n in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(d))
    return path


def test_synthesis_size_classes_key(tmp_path, monkeypatch):
    assert StudySpec.from_dict(SIZE_BASE).synthesis["size_classes"] == "syntumor"  # the default
    bad = [("nope", "neither one of the presets syntumor, difftumor"), ("missing.json", "existing size-class JSON"),
           (3, "must be a preset"), ({"classes": {"large": {"radius_mm": -1}}}, "synthesis.size_classes: size class")]
    for value, msg in bad:
        with pytest.raises(InputError, match=msg):
            StudySpec.from_dict({**SIZE_BASE, "synthesis": {"size_classes": value}})
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        StudySpec.from_dict({**SIZE_BASE, "synthesis": {"size_classes": "broken.json"}}, base_dir=tmp_path)
    _quartile_json(tmp_path / "odd.json", names=("q1", "q2", "q3", "q4"))
    with pytest.raises(InputError, match="has no class 'large' for arm unet-size-large"):
        StudySpec.from_dict({**SIZE_BASE, "synthesis": {"size_classes": "odd.json"}}, base_dir=tmp_path)
    # a relative path in a spec file is relative to that file (not the working directory), and a
    # bad one names the file
    specs = tmp_path / "specs"
    q = _quartile_json(specs / "sizes" / "q.json")
    (specs / "ok.json").write_text(json.dumps({**SIZE_BASE, "synthesis": {"size_classes": "sizes/q.json"}}))
    (specs / "bad.json").write_text(json.dumps({**SIZE_BASE, "synthesis": {"size_classes": "q.json"}}))
    monkeypatch.chdir(tmp_path)
    spec = load_spec(specs / "ok.json")
    held = spec.synthesis["size_classes"]
    assert held["source"] == str(q.resolve()) and held["classes"]["large"]["radius_mm"] == 32
    assert spec.raw["synthesis"]["size_classes"] == held  # OUT/spec.json holds the classes, not only the path
    assert StudySpec.from_dict(spec.raw).synthesis["size_classes"] == held  # and reloads to the same
    with pytest.raises(InputError, match=r"bad\.json: study spec: synthesis\.size_classes"):
        load_spec(specs / "bad.json")
    assert load_spec("smoke-table1", ["synthesis.size_classes=specs/sizes/q.json"]).synthesis["size_classes"] == held
    assert load_spec("paper-table1").raw["synthesis"]["size_classes"] == "syntumor"  # stated explicitly


def test_arm_config_carries_the_size_classes(tmp_path):
    from SynTumorLib.experiments.study import _core

    q = _quartile_json(tmp_path / "q.json")
    spec = StudySpec.from_dict({**SIZE_BASE, "synthesis": {"size_classes": str(q)}})
    splits = {"train": ["a"], "val": ["b"], "test": ["c"]}
    by_arm = {r.arm.arm_id: monai_train_config(spec, r, {"real": "/r", "healthy": "/h"}, splits) for r in plan_runs(spec)}
    large = TrainConfig.from_dict(by_arm["unet-size-large"])
    assert large.data["size_classes"] == spec.synthesis["size_classes"]  # the classes, saved in config.json
    assert large.data["size_classes"]["classes"]["large"]["range_mm"] == [24.0, 64.0]
    assert TrainConfig.from_dict(large.to_dict()) == large  # replayable from the saved config
    assert "size_classes" not in by_arm["unet-baseline"]["data"]  # no synthesis, nothing to record
    default = StudySpec.from_dict(SIZE_BASE)
    cfg = monai_train_config(default, plan_runs(default, ["unet-size-large"])[0], {"real": "/r", "healthy": "/h"}, splits)
    assert cfg["data"]["size_classes"] == "syntumor"
    with pytest.raises(InputError, match="data.arm 'large' is not a class of data.size_classes"):
        TrainConfig.from_dict({**cfg, "data": {**cfg["data"], "size_classes": {"classes": {"x": {"radius_mm": 5}}}}})
    # stating the default is the same spec for a study folder (no "another spec" refusal)
    assert _core({**SIZE_BASE, "synthesis": {"size_classes": "syntumor"}}) == _core(SIZE_BASE)


def _row(arm, model, size="none", noise="none", dsc=0.5):
    return {"arm": arm, "model": model, "size": size, "noise": noise, "dsc_mean": dsc, "dsc_sd": 0.1,
            "nsd_mean": dsc - 0.05, "nsd_sd": 0.1, "n_cases": 4, "n_runs": 1}


def test_paper_table_layout(tmp_path):
    rows = [_row("unet-baseline", "unet"), _row("nnunet-baseline", "nnunet", dsc=0.55),
            _row("unet-size-tiny", "unet", size="tiny"), _row("unet-size-large", "unet", size="large", dsc=0.6)]
    md = table_markdown("size", rows, {"unet-baseline": {"dsc": 48.48, "nsd": 43.26}}).splitlines()
    assert md[0] == "| Method | Tumour size | DSC (%) | NSD (%) | paper DSC | paper NSD | n |"
    assert md[2].startswith("| **Without synthetic volumes**") and md[5].startswith("| **With synthetic volumes**")
    assert md[3] == "| U-Net | – | 50.00 ± 10.00 | 45.00 ± 10.00 | 48.48 | 43.26 | 4 |"
    assert md[6].startswith("| U-Net | Tiny |") and md[7].startswith("|  | Large | 60.00 ± 10.00")
    html = table_html("T", "noise", rows)
    assert "With original labels" in html and "<td>nnU-Net</td>" in html
    assert plot_arms(rows, tmp_path / "p.png").stat().st_size > 1000


TINY = ["phantom.n_real=5", "phantom.n_healthy=2", "phantom.spacing=[4,4,4]", "budget.spacing=[4,4,4]", "budget.crop_size=[24,24,24]",
        "budget.iterations=3", "budget.val_every=3", "budget.warmup_iterations=0", "split.val_fraction=0.25"]
# a tumour-free test-only case: the patient-level AUROC needs a negative
NEGATIVE = ["phantom.n_tumour_free=1", 'split.test_only=["normal_*"]']


@pytest.mark.slow
def test_smoke_study_end_to_end(tmp_path, capsys):
    """Real phantom + corrupter + trainer (online synthesis) + inference + evaluation + tables, tiny budget."""
    out = tmp_path / "study"
    arms = ['arms={"models": ["unet"], "sizes": ["none", "large"], "noise": ["extreme"]}']
    args = ["study", "run", "smoke-table1", "--out", str(out)]
    for s in TINY + NEGATIVE + arms:
        args += ["--set", s]
    assert main(args + ["--dry-run"]) == 0
    assert "pending  unet-baseline" in capsys.readouterr().out and not out.exists()
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "3 run(s) trained" in printed and "**With synthetic volumes**" in printed
    assert "| U-Net | Large |" in printed and "|  | noise extreme |" in printed
    assert "## Paired comparisons against the baseline" in printed and "## Hypotheses" in printed
    assert "U-Net: " in printed and "Detection (PI-CAI protocol)" in printed
    splits = json.loads((out / "splits" / "seed0.json").read_text())
    assert splits["test"] == ["normal_000", "phantom_002"] and not set(splits["val"]) & set(splits["test"])
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["arm"] for r in rows] == [a for a in ["unet-baseline", "unet-size-large", "unet-noise-extreme"]
                                        for _ in range(2)]
    assert all(r["case"] in splits["test"] and 0.0 <= float(r["tumour_dice"]) <= 1.0 for r in rows)
    assert all(0.0 <= float(r["tumour_score"]) <= 1.0 for r in rows)
    cmp = list(csv.DictReader(open(out / "comparisons.csv")))
    assert [c["arm"] for c in cmp] == ["unet-size-large", "unet-noise-extreme"]
    assert all(c["baseline"] == "unet-baseline" and c["n_cases"] == "1" and c["verdict"] == "untestable" for c in cmp)
    det = {d["arm"]: d for d in csv.DictReader(open(out / "detection.csv"))}
    assert set(det) == {"unet-baseline", "unet-size-large", "unet-noise-extreme"}
    assert all(d["n_cases"] == "2" and d["n_positive_cases"] == "1" and d["auroc"] != "" for d in det.values())
    assert (out / "froc.png").stat().st_size > 1000
    for arm in det:
        prob = out / "runs" / arm / "seed0" / "prob"
        assert sorted(p.name for p in prob.iterdir()) == [f"{c}.nii.gz" for c in splits["test"]]
    runs = out / "runs"
    assert json.loads((runs / "unet-noise-extreme" / "seed0" / "result.json").read_text())["splits"] == splits
    noisy_cfg = json.loads((runs / "unet-noise-extreme" / "seed0" / "model" / "model_card.json").read_text())["config"]
    assert noisy_cfg["data"]["noisy_labels"].endswith("noisy-extreme-s0") and noisy_cfg["split"]["test"] == splits["test"]
    size_cfg = json.loads((runs / "unet-size-large" / "seed0" / "model" / "model_card.json").read_text())["config"]
    assert size_cfg["data"]["arm"] == "large" and size_cfg["data"]["healthy"].endswith("phantom-healthy")
    for name in ("table.md", "table.html", "dsc_by_arm.png", "arms.csv", "study.json"):
        assert (out / name).is_file()
    # a re-run skips finished arms; another spec in the same folder is refused
    spec = load_spec("smoke-table1", TINY + NEGATIVE + arms)
    res = run_study(spec, out, only=["unet-baseline"])
    assert res["runs"][0]["status"] == "done"
    with pytest.raises(InputError, match="another spec"):
        run_study(load_spec("smoke-table1", TINY + NEGATIVE + arms + ["budget.iterations=4"]), out, only=["unet-baseline"])


@pytest.mark.slow
def test_parallel_runs_equal_serial_runs(tmp_path):
    """--jobs 2 trains two arms in two processes; every number equals the serial run's."""
    spec = load_spec("smoke-table1", TINY + ['arms={"models": ["unet"], "sizes": ["none", "large"]}'])
    with pytest.raises(InputError, match="jobs"):
        run_study(spec, tmp_path / "bad", jobs=0)
    serial = run_study(spec, tmp_path / "serial")
    parallel = run_study(spec, tmp_path / "parallel", jobs=2)
    assert [r["status"] for r in parallel["runs"]] == ["ran", "ran"]

    def numbers(folder):
        return [{k: v for k, v in r.items() if "seconds" not in k and not k.endswith("_s")}
                for r in csv.DictReader(open(folder / "results.csv"))]

    assert numbers(tmp_path / "parallel") == numbers(tmp_path / "serial") and serial["runs"][0]["status"] == "ran"
    assert run_study(spec, tmp_path / "parallel", jobs=2)["runs"][1]["status"] == "done"  # resumable as before


def test_bad_budget_or_model_settings_fail_before_any_work(tmp_path):
    """Every arm's training config is built before any data is generated (and in a dry run)."""
    from SynTumorLib.experiments.study import run_study

    for override, msg in (("budget.iterations=0", r"arm unet-baseline: training config: 'iterations' must be an integer ≥ 1"),
                          ("budget.itrations=3", r"unknown key 'itrations' \(did you mean 'iterations'\?\)")):
        spec = load_spec("smoke-table1", [override])
        with pytest.raises(InputError, match=msg):
            run_study(spec, tmp_path / "dry", dry_run=True)
        with pytest.raises(InputError, match=msg):
            run_study(spec, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    spec = load_spec("smoke-table2-3", ["models.nnunet={\"epoch\": 1}", "arms.models=[\"nnunet\"]"])
    with pytest.raises(InputError, match=r"arm nnunet-baseline: nnunet config: unknown key 'epoch' \(did you mean 'epochs'\?\)"):
        run_study(spec, tmp_path / "nn", dry_run=True)


def _fake_result(arm, seed, dsc_by_case, det=True):
    """A run's result.json as run_one writes it (numbers made up; no training)."""
    from SynTumorLib.experiments.spec import Arm

    a = {"unet-baseline": Arm("unet"), "unet-noise-low": Arm("unet", noise="low"),
         "unet-noise-high": Arm("unet", noise="high")}[arm]
    cases = [{"case": c, "tumour_dice": d, "tumour_nsd": d * 0.9, "pancreas_dice": 0.8, "tumour_hd95": 3.0,
              "ref_has_tumour": c != "n0", "ref_tumour_ml": 2.0, "pred_tumour_ml": 2.0, "size_class": "large",
              "n_ref_lesions": int(c != "n0"), "lesion_tp": int(d > 0), "lesion_fp": 0, "tumour_score": min(1.0, d + 0.1)}
             for c, d in dsc_by_case.items()]
    dcases = [{"case": c["case"], "score": c["tumour_score"], "has_tumour": c["ref_has_tumour"],
               "lesions": [{"hit": c["tumour_dice"] > 0.3, "confidence": c["tumour_score"] if c["tumour_dice"] > 0.3 else 0.0,
                            "iou": 0.5, "diameter_mm": 30.0}] if c["ref_has_tumour"] else [],
               "candidates": ([{"confidence": c["tumour_score"], "kind": "tp", "volume_mm3": 900.0}]
                              if c["tumour_dice"] > 0.3 else [{"confidence": 0.2, "kind": "fp", "volume_mm3": 50.0}])}
              for c in cases]
    return {"study": "t", "arm": arm, "model": a.model, "size": a.size, "noise": a.noise, "seed": seed, "fold": None,
            "splits": {}, "summary": {"metrics": {"tumour_dice": {"mean": sum(dsc_by_case.values()) / len(dsc_by_case)},
                                                  "tumour_nsd": {"mean": 0.5}}},
            "cases": cases, "timings": {"train_s": 1.0}, **({"detection_cases": dcases} if det else {})}


def test_tables_with_seeds_paired_comparisons_and_detection(tmp_path, capsys):
    """write_outputs / `syntumor study tables` on made-up runs of 3 arms × 2 seeds × 10 cases."""
    import numpy as np

    from SynTumorLib.experiments.comparisons import compare_arms
    from SynTumorLib.utils.atomic import write_json_atomic

    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.7, 10)
    spec = {**BASE, "arms": {"models": ["unet"], "noise": ["none", "low", "high"]}, "seeds": [0, 1],
            "split": {"seed": 0}}
    write_json_atomic(tmp_path / "spec.json", spec)
    for seed in (0, 1):
        for arm, shift in (("unet-baseline", 0.0), ("unet-noise-low", 0.0), ("unet-noise-high", -0.2)):
            d = {f"c{i}": float(np.clip(base[i] + shift + rng.normal(0, 0.03), 0, 1)) for i in range(10)} | {"n0": 1.0}
            write_json_atomic(tmp_path / "runs" / arm / f"seed{seed}" / "result.json", _fake_result(arm, seed, d))
    assert main(["study", "tables", "--out", str(tmp_path)]) == 0
    md = capsys.readouterr().out
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert len(rows) == 3 * 2 * 11
    cmp = {c["arm"]: c for c in csv.DictReader(open(tmp_path / "comparisons.csv"))}
    expect = {c["arm"]: c for c in compare_arms(rows, StudySpec.from_dict(spec).arms)}  # from results.csv itself
    for arm in ("unet-noise-low", "unet-noise-high"):
        assert float(cmp[arm]["dsc_delta"]) == pytest.approx(expect[arm]["dsc"]["delta"], rel=1e-5)
        assert float(cmp[arm]["dsc_p_holm"]) == pytest.approx(expect[arm]["dsc"]["p_holm"], rel=1e-5)
        assert cmp[arm]["n_cases"] == "10" and cmp[arm]["n_values"] == "20"  # the tumour-free case is left out
    assert cmp["unet-noise-high"]["verdict"] == "supported" and cmp["unet-noise-low"]["verdict"] != "supported"
    assert "the data support that high label noise lowers DSC" in md and "do not show that low label noise" in md
    arms = {a["arm"]: a for a in csv.DictReader(open(tmp_path / "arms.csv"))}
    b = arms["unet-baseline"]
    assert float(b["dsc_ci_lo"]) < float(b["dsc_estimate"]) < float(b["dsc_ci_hi"]) and b["n_runs"] == "2"
    cell = f"{100 * float(b['dsc_estimate']):.2f} [{100 * float(b['dsc_ci_lo']):.2f}, {100 * float(b['dsc_ci_hi']):.2f}]"
    assert f"| U-Net | – | {cell} |" in md
    det = {d["arm"]: d for d in csv.DictReader(open(tmp_path / "detection.csv"))}
    assert det["unet-baseline"]["n_cases"] == "22" and float(det["unet-baseline"]["auroc"]) >= 0.0
    assert (tmp_path / "froc.png").is_file() and "Paired comparisons" in (tmp_path / "table.html").read_text()
