"""``syntumor demo`` at the tiny budget: stages run, the report references only existing images,
a re-run skips finished stages, and a changed setting in the same folder is refused."""

from __future__ import annotations

import json
import re

import pytest

from SynTumorLib.demo import run_demo
from SynTumorLib.demo.report import HtmlReport
from SynTumorLib.utils.errors import InputError


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    ctx = run_demo(out, budget="tiny", seed=4, log=lambda s: None)
    assert ctx.ran == ["cohort", "check", "report"]
    return out


def test_report_exists_and_images_resolve(demo_dir):
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) >= 4
    for src in srcs:
        assert src.startswith("img/") and (demo_dir / src).is_file() and (demo_dir / src).stat().st_size > 1000
    assert "syntumor demo --out" in html and "--budget tiny --seed 4" in html
    assert "not a clinical result" in html
    # the cohort table lists every case with its seed
    for case in ("pancreas_000", "pancreas_001", "healthy_000", "healthy_001"):
        assert case in html


def test_cohorts_and_checks(demo_dir):
    from SynTumorLib.data.datasets import open_dataset

    status = json.loads((demo_dir / "demo_status.json").read_text())
    chk = status["stages"]["check"]["results"]
    assert chk["real_tumours"]["ok"] and chk["healthy"]["ok"]
    real = open_dataset(demo_dir / "data" / "real_tumours")
    healthy = open_dataset(demo_dir / "data" / "healthy")
    assert len(real.cases()) == 2 and len(healthy.cases()) == 2
    _, lab = real.load(real.cases()[0])
    assert (lab.array == 2).any()
    _, lab = healthy.load(healthy.cases()[0])
    assert not (lab.array == 2).any() and (lab.array == 1).any()


def test_rerun_skips_and_resumes(demo_dir):
    mtime = (demo_dir / "report.html").stat().st_mtime_ns
    logs = []
    ctx = run_demo(demo_dir, budget="tiny", seed=4, log=logs.append)
    assert ctx.ran == [] and all("skipped" in m for m in logs)
    assert (demo_dir / "report.html").stat().st_mtime_ns == mtime
    assert ctx.results["cohort"]["real_tumours"]["cases"] == 2
    # a lost output re-runs that stage and every later one, not the earlier ones
    (demo_dir / "report.html").unlink()
    ctx = run_demo(demo_dir, budget="tiny", seed=4, log=lambda s: None)
    assert ctx.ran == ["report"] and (demo_dir / "report.html").exists()


def test_other_settings_in_same_folder_refused(demo_dir):
    with pytest.raises(InputError, match="seed 4"):
        run_demo(demo_dir, budget="tiny", seed=5, log=lambda s: None)
    with pytest.raises(InputError, match="unknown budget"):
        run_demo(demo_dir, budget="huge", seed=4)


def test_cli_demo_help_and_bad_budget(capsys):
    from SynTumorLib.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["demo", "--help"])
    assert e.value.code == 0 and "--budget" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["demo", "--budget", "huge"])
    assert e.value.code == 2


def test_cli_demo_resumes(demo_dir, capsys):
    from SynTumorLib.cli.main import main

    assert main(["demo", "--out", str(demo_dir), "--budget", "tiny", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "report.html" in out


def test_html_builder_escapes_and_rejects_absolute_images():
    r = HtmlReport("T <1>")
    s = r.section("S & s")
    s.table([{"a": "<script>", "b": 1.23456789}])
    s.code("x < y")
    text = r.render()
    assert "<script>" not in text and "&lt;script&gt;" in text and "1.235" in text and "T &lt;1&gt;" in text
    with pytest.raises(ValueError):
        s.image("/etc/passwd.png")
