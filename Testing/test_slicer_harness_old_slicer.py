"""An older Slicer (5.6/5.8 ship Python 3.9) must say that SynTumor needs 5.10 or later, not fail
with a traceback (AUDIT A3): every file under SynTumor/ compiles under Python 3.9, and under
Python 3.9 each module file loads the way Slicer loads it, its module class sets a help text that
says what is needed and its panel shows that message — without importing SynTumorLib (which needs
Python 3.10+). Slicer 5.8's own Python layer is not among the copied sources, so the 5.10.0 files
(whose module API is the same) stand in for it, with the application reporting version 5.8.1.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess

import pytest
from slicer_harness import SYNTUMOR
from slicer_harness.sources import release_dir


def python39() -> str:
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(os.path.join(root, "versions", "3.9*", "bin", "python"))) or \
        [p for p in [shutil.which("python3.9")] if p]
    if not found:
        pytest.skip("no Python 3.9 interpreter (pyenv install 3.9): cannot check the Slicer 5.6/5.8 behaviour")
    return found[-1]


def test_every_slicer_side_file_compiles_under_python_3_9():
    files = sorted(str(p) for p in SYNTUMOR.rglob("*.py"))
    code = "import sys\nfor f in sys.argv[1:]:\n    compile(open(f, encoding='utf-8').read(), f, 'exec')\n"
    r = subprocess.run([python39(), "-c", code, *files], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]


def test_on_an_older_slicer_each_module_explains_what_it_needs():
    source = release_dir("5.10.0")
    r = subprocess.run([python39(), "-B", str(SYNTUMOR.parent / "Testing" / "slicer_harness" / "old_slicer.py"),
                        str(source), str(SYNTUMOR), "5.8.1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    results = [json.loads(line) for line in r.stdout.splitlines()]
    assert [res["module"] for res in results] == ["SynTumorInsertion", "SynTumorLabelNoise", "SynTumorSegmentation"]
    for res in results:
        assert "traceback" not in res, f"{res['module']} fails to load on Python 3.9:\n{res['traceback']}"
        assert "needs 3D Slicer 5.10 or later" in res["helpText"] and "Slicer 5.8.1" in res["helpText"]
        assert any("needs 3D Slicer 5.10 or later" in label for label in res["labels"]), res["labels"]
        assert not res["libraryImported"], f"{res['module']} imported SynTumorLib on an unsupported Slicer"
