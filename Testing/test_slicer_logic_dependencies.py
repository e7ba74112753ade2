"""First-use dependency installation (SynTumorInsertionLib.dependencies) with Slicer's dialogs and
installers replaced by recorders: nothing is asked when all is there, nothing is installed without
consent, and what is missing goes to pip_ensure (new Slicer) or pip_install (older Slicer)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "SynTumor" / "SynTumorInsertion"))

from SynTumorInsertionLib import dependencies  # noqa: E402


@pytest.fixture
def fake_slicer(monkeypatch):
    calls: dict[str, list] = {"confirm": [], "pip_install": [], "pip_ensure": []}
    answer = {"ok": True}

    def confirm(text, title=None, **kw):
        calls["confirm"].append(text)
        return answer["ok"]

    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", confirm, raising=False)
    monkeypatch.setattr(slicer.util, "pip_install", lambda req: calls["pip_install"].append(req), raising=False)
    return calls, answer


def test_nothing_asked_when_everything_is_installed(fake_slicer, monkeypatch):
    calls, _ = fake_slicer
    monkeypatch.setattr(dependencies, "BASE_REQUIREMENTS", {"numpy": "numpy>=1.26"})
    assert dependencies.ensureDependencies() is True
    assert calls == {"confirm": [], "pip_install": [], "pip_ensure": []}


def test_declined_installs_nothing(fake_slicer, monkeypatch):
    calls, answer = fake_slicer
    answer["ok"] = False
    monkeypatch.setattr(dependencies, "BASE_REQUIREMENTS", {"syntumor_not_a_module": "syntumor-not-a-module>=1"})
    assert dependencies.ensureDependencies() is False
    assert "syntumor_not_a_module" in calls["confirm"][0] and calls["pip_install"] == []


def test_accepted_installs_the_missing_requirements(fake_slicer, monkeypatch):
    calls, _ = fake_slicer
    monkeypatch.setattr(dependencies, "BASE_REQUIREMENTS", {"numpy": "numpy>=1.26", "syntumor_nope": "syntumor-nope==2"})
    monkeypatch.delattr(slicer, "packaging", raising=False)
    assert dependencies.ensureDependencies() is True
    assert calls["pip_install"] == ["syntumor-nope==2"]  # numpy is there: not reinstalled


def test_pip_ensure_is_preferred_where_slicer_has_it(fake_slicer, monkeypatch):
    calls, _ = fake_slicer
    pytest.importorskip("packaging.requirements")
    monkeypatch.setattr(dependencies, "BASE_REQUIREMENTS", {"syntumor_nope": "syntumor-nope==2"})
    packaging = types.SimpleNamespace(pip_ensure=lambda reqs, **kw: calls["pip_ensure"].append(([str(r) for r in reqs], kw)))
    monkeypatch.setattr(slicer, "packaging", packaging, raising=False)
    assert dependencies.ensureDependencies() is True
    assert calls["pip_ensure"] == [(["syntumor-nope==2"], {"prompt_install": False, "requester": "SynTumor"})]
    assert calls["pip_install"] == []


def test_torch_goes_through_pytorch_utils_when_installed(fake_slicer, monkeypatch):
    calls, _ = fake_slicer
    installed = []

    class FakeTorchLogic:
        def torchInstalled(self):
            return False

        def installTorch(self, askConfirmation, torchVersionRequirement):
            installed.append((askConfirmation, torchVersionRequirement))
            return object()

    monkeypatch.setitem(sys.modules, "PyTorchUtils", types.SimpleNamespace(PyTorchUtilsLogic=FakeTorchLogic))
    monkeypatch.setattr(dependencies, "BASE_REQUIREMENTS", {})
    monkeypatch.setattr(dependencies, "TORCH_REQUIREMENTS", {})
    real_find_spec = dependencies.importlib.util.find_spec
    monkeypatch.setattr(dependencies.importlib.util, "find_spec",
                        lambda name: None if name == "torch" else real_find_spec(name))
    assert dependencies.ensureDependencies(withTorch=True) is True
    assert "torch (PyTorch)" in calls["confirm"][0]
    assert installed == [(False, dependencies.TORCH_VERSION)] and calls["pip_install"] == []
