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


@pytest.mark.slow
def test_smoke_study_end_to_end(tmp_path, capsys):
    """Real phantom + corrupter + trainer (online synthesis) + inference + evaluation + tables, tiny budget."""
    out = tmp_path / "study"
    arms = ['arms={"models": ["unet"], "sizes": ["none", "large"], "noise": ["extreme"]}']
    args = ["study", "run", "smoke-table1", "--out", str(out)]
    for s in TINY + arms:
        args += ["--set", s]
    assert main(args + ["--dry-run"]) == 0
    assert "pending  unet-baseline" in capsys.readouterr().out and not out.exists()
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "3 run(s) trained" in printed and "**With synthetic volumes**" in printed
    assert "| U-Net | Large |" in printed and "|  | noise extreme |" in printed
    splits = json.loads((out / "splits" / "seed0.json").read_text())
    assert len(splits["test"]) == 1 and not set(splits["val"]) & set(splits["test"])
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["arm"] for r in rows] == ["unet-baseline", "unet-size-large", "unet-noise-extreme"]
    assert all(r["case"] == splits["test"][0] and 0.0 <= float(r["tumour_dice"]) <= 1.0 for r in rows)
    runs = out / "runs"
    assert json.loads((runs / "unet-noise-extreme" / "seed0" / "result.json").read_text())["splits"] == splits
    noisy_cfg = json.loads((runs / "unet-noise-extreme" / "seed0" / "model" / "model_card.json").read_text())["config"]
    assert noisy_cfg["data"]["noisy_labels"].endswith("noisy-extreme-s0") and noisy_cfg["split"]["test"] == splits["test"]
    size_cfg = json.loads((runs / "unet-size-large" / "seed0" / "model" / "model_card.json").read_text())["config"]
    assert size_cfg["data"]["arm"] == "large" and size_cfg["data"]["healthy"].endswith("phantom-healthy")
    for name in ("table.md", "table.html", "dsc_by_arm.png", "arms.csv", "study.json"):
        assert (out / name).is_file()
    # a re-run skips finished arms; another spec in the same folder is refused
    spec = load_spec("smoke-table1", TINY + arms)
    res = run_study(spec, out, only=["unet-baseline"])
    assert res["runs"][0]["status"] == "done"
    with pytest.raises(InputError, match="another spec"):
        run_study(load_spec("smoke-table1", TINY + arms + ["budget.iterations=4"]), out, only=["unet-baseline"])


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
