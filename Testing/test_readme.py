"""The README is the front door: short, in the order the project promised, with links that resolve,
and with quickstarts that run exactly as printed (a reader copies them verbatim)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def test_readme_is_a_short_front_door_in_the_promised_order():
    assert len(README.splitlines()) <= 200
    heads = [h.strip() for h in re.findall(r"^## (.+)$", README, re.M)]
    order = ["The two commands", "Install", "Quickstart", "Every command", "Documentation", "Citation and licence"]
    assert [h for h in heads if h in order] == order, heads
    assert README.index("![") < README.index("## The two commands"), "the picture comes first"
    # the two commands, and CI calls the second one
    assert "bash tools/bootstrap.sh demo" in README and "bash tools/bootstrap.sh test" in README
    assert "bash tools/bootstrap.sh test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_quotes_no_measured_figures():
    # timings belong on the generated results pages (docs/results/), which the README links to
    assert not re.search(r"\b\d+(\.\d+)?\s*(min|minutes|seconds|s)\b(?! *\|)", README.split("## Citation")[0]), \
        "a timing is pasted into the README; link docs/results/ instead"
    assert not re.search(r"\b\d+ passed\b", README)


def test_every_relative_link_and_image_resolves():
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README) + re.findall(r'src="([^"]+)"', README)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert local, "the README links into the docs"
    missing = [t for t in local if not (REPO / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_python_quickstart_runs_as_printed(tmp_path):
    (code,) = _blocks("python")
    assert len(code.strip().splitlines()) <= 12, "a ten-line quickstart"
    r = _run([sys.executable, "-c", code], tmp_path)
    assert r.returncode == 0, r.stderr
    dsc = float(re.search(r"DSC of the corrupted tumour label: ([0-9.]+)", r.stdout).group(1))
    assert 0.0 < dsc < 1.0, "a corrupted label differs from the clean one, but overlaps it"
    assert (tmp_path / "ct_tumour.nii.gz").stat().st_size > 0 and (tmp_path / "label_tumour.nii.gz").exists()


def test_cli_quickstart_runs_as_printed_and_replays_bit_identically(tmp_path):
    bash = [b for b in _blocks("bash") if "syntumor phantom" in b]
    assert len(bash) == 1
    lines = [ln for ln in bash[0].strip().splitlines() if ln.strip()]
    assert len(lines) == 3, "a three-line CLI quickstart"
    exe = [sys.executable, "-m", "SynTumorLib"]
    for ln in lines:
        args = ln.split()
        assert args[0] == "syntumor"
        r = _run(exe + args[1:], tmp_path)
        assert r.returncode == 0, f"{ln}\n{r.stderr}"
    for f in ("image.nii.gz", "label.nii.gz"):
        assert (tmp_path / "inserted" / f).read_bytes() == (tmp_path / "replayed" / f).read_bytes()
    assert (tmp_path / "inserted" / "record.json").exists()


@pytest.mark.parametrize("path", ["LICENSE", "CITATION.cff"])
def test_licence_and_citation_files_exist(path):
    text = (REPO / path).read_text(encoding="utf-8")
    assert ("Apache License" in text) if path == "LICENSE" else ("Optimizing Synthetic Data" in text and "Generalizable Tumor" in text)
