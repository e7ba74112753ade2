"""``syntumor demo`` end to end at the tiny budget: every stage runs, the report's images exist, every
number of its result tables is recomputed here from ``study/results.csv`` (and the data and texture
tables from their own files), the texture is trained on the train split only and can be reused with
``--texture-model``, a re-run skips finished stages, and other settings in the same folder are refused."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import statistics
from html.parser import HTMLParser
from pathlib import Path

import pytest

from SynTumorLib.demo import STAGE_NAMES, run_demo
from SynTumorLib.demo.report import HtmlReport
from SynTumorLib.utils.errors import InputError
from SynTumorLib.utils.seeding import child_seed

SEED = 4
ARMS = (["unet-baseline"] + [f"unet-size-{s}" for s in ("tiny", "small", "medium", "large", "mixed")]
        + [f"unet-noise-{lv}" for lv in ("low", "moderate", "high", "extreme")])


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    import torch

    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("demo")
    ctx = run_demo(out, budget="tiny", seed=SEED, log=lambda s: None)
    assert ctx.ran == list(STAGE_NAMES)
    return out


class Tables(HTMLParser):
    """Collects every <table>: its data-source, header cells, and rows (tr attributes + cell texts)."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell, self._row = [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append({"source": a.get("data-source"), "header": [], "rows": []})
        elif tag == "tr" and self.tables:
            self._row = {"attrs": {k.removeprefix("data-"): v for k, v in a.items() if k.startswith("data-")},
                         "cells": [], "block": a.get("class") == "block"}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            t = self.tables[-1]
            if not t["header"] and not self._row["block"] and not t["rows"] and not self._row["attrs"] \
                    and t.get("_in_head", True):
                t["header"], t["_in_head"] = self._row["cells"], False
            else:
                t["rows"].append(self._row)
            self._row = None


def parse_tables(html: str) -> list[dict]:
    p = Tables()
    p.feed(html)
    return p.tables


def _results(demo_dir: Path) -> list[dict]:
    with open(demo_dir / "study" / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def _pm(values: list[float]) -> str:
    m = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * m:.2f} ± {100 * sd:.2f}"


def _ci(rows: list[dict], arm: str) -> dict[str, str]:
    """The bootstrap cells of one arm, recomputed from results.csv rows (the demo spec's bootstrap settings)."""
    from SynTumorLib.demo.aggregate import read_results  # noqa: F401 (same parsing as the report)
    from SynTumorLib.experiments.comparisons import arm_intervals

    parsed = [{**r, "tumour_dice": float(r["tumour_dice"]), "tumour_nsd": float(r["tumour_nsd"])} for r in rows]
    iv = arm_intervals(parsed, [arm], n_boot=2000, seed=0)[arm]

    def cell(b):
        return f"{100 * b['estimate']:.2f}" if b["lo"] is None else \
            f"{100 * b['estimate']:.2f} [{100 * b['lo']:.2f}, {100 * b['hi']:.2f}]"

    return {"DSC (%) [95 % CI]": cell(iv["dsc"]), "NSD (%) [95 % CI]": cell(iv["nsd"])}


def _expected(rows: list[dict]) -> dict[str, str]:
    """Every metric cell a results table may show, recomputed from raw results.csv rows."""
    tum = [r for r in rows if r["ref_has_tumour"] == "1"]
    dsc, nsd = [float(r["tumour_dice"]) for r in tum], [float(r["tumour_nsd"]) for r in tum]
    lesions = sum(int(r["n_ref_lesions"]) for r in rows)
    tp = sum(int(r["lesion_tp"]) for r in rows)
    sens = f"{100 * (tp / lesions):.2f}" if lesions else "–"
    return {"DSC (%)": _pm(dsc), "NSD (%)": _pm(nsd), "n test cases": str(len(tum)), "n": str(len(tum)),
            "lesion sensitivity (%)": sens, "sensitivity (%)": sens, "lesions found": f"{tp}/{lesions}",
            "DSC mean (%)": f"{100 * statistics.fmean(dsc):.2f}", "NSD mean (%)": f"{100 * statistics.fmean(nsd):.2f}",
            "pancreas DSC (%)": f"{100 * statistics.fmean(float(r['pancreas_dice']) for r in rows):.2f}",
            "FP lesions per case": f"{sum(int(r['lesion_fp']) for r in rows) / len(rows):.4g}"}


def test_report_images_exist(demo_dir):
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<img src="([^"]+)"', html)
    for src in srcs:
        assert src.startswith("img/") and (demo_dir / src).is_file() and (demo_dir / src).stat().st_size > 1000, src
    names = {Path(s).name for s in srcs}
    want = {"cohort_axial.png", "size_histogram.png", "noise_levels.png", "dsc_by_arm.png", "loss_curves.png"}
    want |= {f"insert_{c}.png" for c in ("tiny", "small", "medium", "large")}
    want |= {"texture_quality.png", "texture_losses.png", "texture_autoencoder_samples.png",
             "texture_diffusion_samples.png", "froc.png"}
    assert want <= names and any(n.startswith("pred_pancreas_") for n in names)
    assert "not a clinical result" in html and f"--budget tiny --seed {SEED}" in html
    assert "syntumor study run study_spec.json --out study" in html and "syntumor sizes analyze" in html


def test_result_tables_traceable_to_results_csv(demo_dir):
    tables = parse_tables((demo_dir / "report.html").read_text(encoding="utf-8"))
    results = _results(demo_dir)
    assert {r["arm"] for r in results} == set(ARMS)
    ours = [t for t in tables if t["source"] == "study/results.csv"]
    assert len(ours) == 6  # Tables 1, 2, 3, paired comparisons, all arms, by size class
    paired = ours.pop(3)
    assert paired["header"][:4] == ["Arm", "vs", "n cases (runs)", "ΔDSC [95 % CI]"]
    not_numbers = {"Method", "Tumour size", "Labels", "Noise level", "Arm", "Size class", "arm",
                   "paper U-Net DSC (%)", "paper U-Net NSD (%)"}
    checked = 0
    for t in ours:
        data_rows = [r for r in t["rows"] if not r["block"]]
        assert data_rows and all("arm" in r["attrs"] for r in data_rows)
        for row in data_rows:
            sub = [r for r in results if r["arm"] == row["attrs"]["arm"]]
            if "size-class" in row["attrs"]:
                sub = [r for r in sub if r["size_class"] == row["attrs"]["size-class"]]
            exp = _expected(sub) | (_ci(sub, row["attrs"]["arm"]) if "size-class" not in row["attrs"] else {})
            for head, cell in zip(t["header"], row["cells"], strict=True):
                if head in not_numbers:
                    continue
                assert cell == exp[head], (t["header"], row, head)
                checked += 1
    assert checked >= 80
    t1, t2, t3 = ours[:3]
    assert [r["cells"][0] for r in t1["rows"] if r["block"]] == ["Without synthetic volumes", "With synthetic volumes"]
    assert [r["attrs"].get("arm") for r in t1["rows"] if not r["block"]] == ARMS[:6]
    assert [r["attrs"].get("arm") for r in t2["rows"] if not r["block"]] == ["unet-baseline", "unet-noise-low"]
    assert [r["cells"][0] for r in t3["rows"] if r["block"]] == ["With original labels", "With noisy labels"]
    assert [r["attrs"].get("arm") for r in t3["rows"] if not r["block"]] == [ARMS[0]] + ARMS[6:]


def test_paired_comparisons_and_hypotheses_traceable(demo_dir):
    """The paired table equals compare_arms on results.csv (and the study's own comparisons.csv); one
    sentence per arm, never 'support' without an interval clear of zero."""
    from SynTumorLib.demo.aggregate import read_results
    from SynTumorLib.experiments.comparisons import compare_arms, paired_cells
    from SynTumorLib.experiments.spec import load_spec

    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    paired = [t for t in parse_tables(html) if t["source"] == "study/results.csv"][3]
    spec = load_spec(demo_dir / "study_spec.json")
    cmp = {c["arm"]: c for c in compare_arms(read_results(demo_dir / "study" / "results.csv"), spec.arms)}
    rows = [r for r in paired["rows"] if not r["block"]]
    assert [r["attrs"]["arm"] for r in rows] == ARMS[1:]
    assert [r["cells"][0] for r in paired["rows"] if r["block"]] == [
        "Table 1: synthetic tumour size arms vs no synthesis (Holm over 5 arms)",
        "Tables 2–3: noisy labels vs the original labels (Holm over 4 arms)"]
    for r in rows:
        assert r["cells"] == paired_cells(cmp[r["attrs"]["arm"]])
    study_csv = {c["arm"]: c for c in csv.DictReader(open(demo_dir / "study" / "comparisons.csv"))}
    for arm, c in cmp.items():
        assert float(study_csv[arm]["dsc_delta"]) == pytest.approx(c["dsc"]["delta"], abs=1e-6)
    sentences = re.findall(r'<li data-arm="([^"]+)" data-verdict="([^"]+)">([^<]+)</li>', html)
    assert [a for a, _, _ in sentences] == ARMS[1:]
    for arm, verdict, text in sentences:
        d = cmp[arm]["dsc"]
        assert verdict == cmp[arm]["verdict"] and text.replace("&#x27;", "'") == cmp[arm]["sentence"]
        if verdict == "supported":
            assert d["lo"] is not None and (d["lo"] > 0 or d["hi"] < 0) and d["p_holm"] < 0.05


def test_detection_tables_traceable(demo_dir):
    """AUROC from results.csv (tumour_score, ref_has_tumour); AP, FROC and diameter sensitivities from
    the runs' result.json."""
    from SynTumorLib.experiments.detection import arm_detection, detection_cells
    from SynTumorLib.experiments.tables import collect_results
    from SynTumorLib.metrics.detection import auroc

    tables = {t["source"]: t for t in parse_tables((demo_dir / "report.html").read_text(encoding="utf-8"))
              if t["source"] == "study/runs/*/seed*/result.json" and "AUROC" in t["header"]}
    det_table = tables["study/runs/*/seed*/result.json"]
    results = collect_results(demo_dir / "study")
    det = arm_detection(results, ARMS)
    rows = _results(demo_dir)
    split = json.loads((demo_dir / "splits.json").read_text())[f"seed{SEED}"]
    assert split["test_tumour_free"] and set(split["test_tumour_free"]) <= set(split["test"])
    for row in det_table["rows"]:
        arm = row["attrs"]["arm"]
        assert row["cells"] == detection_cells(det[arm])
        sub = [r for r in rows if r["arm"] == arm]
        a = auroc([float(r["tumour_score"]) for r in sub], [r["ref_has_tumour"] == "1" for r in sub])
        assert row["cells"][3] == f"{a:.3f}"  # the AUROC from results.csv alone
        assert det[arm]["n_cases"] == len(split["test"]) and det[arm]["n_positive_cases"] == len(split["test"]) - 1
    assert [r["attrs"]["arm"] for r in det_table["rows"]] == ARMS
    diam = [t for t in parse_tables((demo_dir / "report.html").read_text(encoding="utf-8"))
            if t["header"][:2] == ["Arm", "Diameter"]][0]
    for row in diam["rows"]:
        s = [r["summary"]["by_diameter"][row["attrs"]["bin"]] for r in results if r["arm"] == row["attrs"]["arm"]]
        assert row["cells"][2] == f"{sum(x['detected'] for x in s)}/{sum(x['n_lesions'] for x in s)}"


def test_data_tables_match_their_files(demo_dir):
    tables = {t["source"]: t for t in parse_tables((demo_dir / "report.html").read_text(encoding="utf-8"))}
    noise = tables["study/data/noisy-*/summary.json"]
    for row in noise["rows"]:
        cells = dict(zip(noise["header"], row["cells"], strict=True))
        s = json.loads((demo_dir / "study" / "data" / f"noisy-{cells['level']}-s{SEED}" / "summary.json").read_text())
        assert cells["Dice (%)"] == f"{100 * s['dice']['mean']:.2f}" and cells["cases"] == str(s["cases"])
    sizes = tables["sizes/size_classes.json"]
    classes = json.loads((demo_dir / "sizes" / "size_classes.json").read_text())["classes"]
    for row in sizes["rows"]:
        cells = dict(zip(sizes["header"], row["cells"], strict=True))
        assert math.isclose(float(cells["r_sel mm"]), classes[cells["class"]]["radius_mm"], rel_tol=1e-3)
    ins = tables["insertion/insertions.json"]
    for row in ins["rows"]:
        cells = dict(zip(ins["header"], row["cells"], strict=True))
        recs = sorted((demo_dir / "insertion" / "records").glob(f"*_{cells['class set']}_{cells['class']}.json"))
        assert len(recs) == int(cells["insertions"])
        if recs:
            mean = statistics.fmean(json.loads(p.read_text())["delivered_mm3"] / 1000 for p in recs)
            assert math.isclose(float(cells["delivered mL"]), mean, rel_tol=1e-3)


def _quality(demo_dir: Path) -> dict:
    return json.loads((demo_dir / "texture" / "quality.json").read_text())


def test_texture_trained_on_train_split_with_recorded_seeds(demo_dir):
    q = _quality(demo_dir)
    split = json.loads((demo_dir / "splits.json").read_text())[f"seed{SEED}"]
    tumour_tests = [c for c in split["test"] if c not in split["test_tumour_free"]]
    assert q["train_cases"] == split["train"] and q["test_cases"] == tumour_tests
    for folder in ("autoencoder", "model"):
        card = json.loads((demo_dir / "texture" / folder / "model_card.json").read_text())
        assert set(card["training_data"]["cases"]) <= set(split["train"]) and not set(card["training_data"]["cases"]) & set(split["test"])
        stage = "autoencoder" if folder == "autoencoder" else "diffusion"
        assert card["seed"] == q["plan"][f"{stage}_seed"] == child_seed(SEED, "texture", stage)
        assert card["steps"] == q["plan"][f"{stage}_steps"] and (demo_dir / "texture" / folder / "loss_log.csv").is_file()
    assert q["test_cases_seen_in_training"] == [] and not q["training"]["reused"]
    assert sorted(p.name for p in (demo_dir / "texture" / "train_data" / "imagesTr").iterdir()) == \
        [f"{c}.nii.gz" for c in split["train"]]
    rows = q["quality"]["rows"]
    assert rows and {r["case"] for r in rows} <= set(split["test"])
    for r in rows:  # seeds: the twin from the case's phantom record, the texture from child_seed(case seed, ...)
        rec = json.loads((demo_dir / "data" / "real_tumours" / "records" / f"{r['case']}.json").read_text())
        assert r["case_seed"] == rec["seed"] and r["texture_seed"] == child_seed(rec["seed"], "tex", r["tumour"])
        assert set(r) >= {"real", "diffusion", "statistical", "ae_psnr_db", "ae_ssim"}
    assert (demo_dir / "texture" / "quality.md").read_text().count("| diffusion |") == 2  # HU table + by size


def _fmt(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def test_texture_tables_traceable_to_quality_json(demo_dir):
    tables = [t for t in parse_tables((demo_dir / "report.html").read_text(encoding="utf-8"))
              if t["source"] == "texture/quality.json"]
    assert len(tables) == 2
    q = _quality(demo_dir)
    rows, times = q["quality"]["rows"], q["quality"]["times"]
    keys = {"HU mean": "mean", "HU std": "std", "contrast HU": "contrast", "pancreas ring HU": "ring_mean",
            "sharpness HU/mm": "sharp"}
    diffs = {"|Δmean|": "mean", "|Δstd|": "std", "|Δcontrast|": "contrast", "|Δsharp|": "sharp"}
    summary, per = tables
    assert [r["attrs"]["texture"] for r in summary["rows"]] == ["real", "diffusion", "statistical"]
    checked = 0
    for row in summary["rows"]:
        tex = row["attrs"]["texture"]
        for head, cell in zip(summary["header"], row["cells"], strict=True):
            if head in keys:
                exp = _fmt(statistics.fmean(r[tex][keys[head]] for r in rows))
            elif head in diffs:
                exp = "–" if tex == "real" else _fmt(statistics.fmean(abs(r[tex][diffs[head]] - r["real"][diffs[head]])
                                                                      for r in rows))
            elif head == "s / tumour":
                exp = "–" if tex == "real" else _fmt(statistics.fmean(times[tex]), 2)
            else:
                continue
            assert cell == exp, (tex, head)
            checked += 1
    assert checked == 3 * 10
    assert len(per["rows"]) == len(rows)
    for row, r in zip(per["rows"], rows, strict=True):
        cells = dict(zip(per["header"], row["cells"], strict=True))
        assert (row["attrs"]["case"], int(row["attrs"]["tumour"])) == (r["case"], r["tumour"])
        assert cells["texture seed"] == str(r["texture_seed"]) and cells["Ø mm"] == _fmt(r["d_mm"])
        for t in ("real", "diffusion", "statistical"):
            assert cells[f"{t} mean"] == _fmt(r[t]["mean"]) and cells[f"{t} std"] == _fmt(r[t]["std"])
        assert cells["AE PSNR dB"] == _fmt(r["ae_psnr_db"], 2)
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    sha = q["model"]["sha256"]
    assert len(sha) == 64 and sha in html and 'href="texture/model/loss_log.csv"' in html
    assert "--texture-model texture/model" in html and "syntumor train diffusion texture/train_data" in html


def test_texture_model_reuse(demo_dir, tmp_path, capsys):
    """--texture-model measures a given folder without training: in a copy of the finished demo only
    the texture stage and the report re-run, and the same model gives the same numbers (CPU replay)."""
    from SynTumorLib.cli.main import main

    copy = tmp_path / "demo"
    shutil.copytree(demo_dir, copy)
    shutil.rmtree(copy / "texture" / "model")  # the copy must not fall back on its own model
    model = demo_dir / "texture" / "model"
    weights = (model / "model.safetensors").stat().st_mtime_ns
    assert main(["demo", "--out", str(copy), "--budget", "tiny", "--seed", str(SEED), "--texture-model", str(model)]) == 0
    out = capsys.readouterr().out
    ran = re.findall(r"^\[(\w+)\] (?!up to date|done in)", out, re.M)
    assert ran == ["texture", "report"], out
    a, b = _quality(demo_dir), _quality(copy)
    assert b["training"] == {"reused": True} and b["model"]["sha256"] == a["model"]["sha256"]
    assert b["model"]["folder"] == str(model.resolve()) and not (copy / "texture" / "model").exists()
    assert b["quality"]["rows"] == a["quality"]["rows"]
    assert (model / "model.safetensors").stat().st_mtime_ns == weights
    assert "Reused texture model" in (copy / "report.html").read_text(encoding="utf-8")
    with pytest.raises(InputError, match="texture model folder not found"):
        run_demo(copy, budget="tiny", seed=SEED, texture_model=tmp_path / "nope", log=lambda s: None)


def test_study_reuses_the_demo_split_and_spec(demo_dir):
    from SynTumorLib.experiments import load_spec, run_study

    splits = json.loads((demo_dir / "splits.json").read_text())[f"seed{SEED}"]
    used = json.loads((demo_dir / "study" / "splits" / f"seed{SEED}.json").read_text())
    assert {k: used[k] for k in ("train", "val", "test")} == {k: splits[k] for k in ("train", "val", "test")}
    assert not set(splits["test"]) & set(splits["train"] + splits["val"])
    plan = run_study(load_spec(demo_dir / "study_spec.json"), demo_dir / "study", dry_run=True)
    assert {r["arm"] for r in plan["runs"]} == set(ARMS) and all(r["status"] == "done" for r in plan["runs"])
    for arm in ARMS:
        for case in splits["test"]:
            assert (demo_dir / "study" / "runs" / arm / f"seed{SEED}" / "pred" / f"{case}.nii.gz").is_file()


def test_rerun_skips_and_resumes(demo_dir):
    mtime = (demo_dir / "report.html").stat().st_mtime_ns
    logs = []
    ctx = run_demo(demo_dir, budget="tiny", seed=SEED, log=logs.append)
    assert ctx.ran == [] and all("skipped" in m for m in logs)
    assert (demo_dir / "report.html").stat().st_mtime_ns == mtime
    # a lost output re-runs that stage and every later one, not the earlier ones
    (demo_dir / "evaluation.json").unlink()
    ctx = run_demo(demo_dir, budget="tiny", seed=SEED, log=lambda s: None)
    assert ctx.ran == ["evaluate", "report"] and (demo_dir / "report.html").exists()


def test_other_settings_in_same_folder_refused(demo_dir):
    with pytest.raises(InputError, match=f"seed {SEED}"):
        run_demo(demo_dir, budget="tiny", seed=SEED + 1, log=lambda s: None)
    with pytest.raises(InputError, match="unknown budget"):
        run_demo(demo_dir, budget="huge", seed=SEED)


def test_cli_demo_help_bad_budget_and_resume(demo_dir, capsys):
    from SynTumorLib.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["demo", "--help"])
    assert e.value.code == 0 and "--budget" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["demo", "--budget", "huge"])
    assert e.value.code == 2
    assert main(["demo", "--out", str(demo_dir), "--budget", "tiny", "--seed", str(SEED)]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "report.html" in out


def test_html_builder_escapes_and_rejects_absolute_images():
    r = HtmlReport("T <1>")
    s = r.section("S & s")
    s.table([{"a": "<script>", "b": 1.23456789}], source="x<y.csv")
    s.grouped_table(["h"], [("block <b>", [({"arm": "a\"b"}, ["<i>"])])])
    s.code("x < y")
    text = r.render()
    assert "<script>" not in text and "&lt;script&gt;" in text and "1.235" in text and "T &lt;1&gt;" in text
    assert 'data-source="x&lt;y.csv"' in text and 'data-arm="a&quot;b"' in text and "block &lt;b&gt;" in text
    tables = parse_tables(text)
    assert tables[1]["header"] == ["h"] and tables[1]["rows"][1]["cells"] == ["<i>"]
    with pytest.raises(ValueError):
        s.image("/etc/passwd.png")
