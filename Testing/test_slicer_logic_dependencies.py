"""First-use dependency installation (SynTumorCommon.dependencies).

With the user's answers, PyTorch Utils and pip replaced by recorders: nothing is asked when all is
there or the path needs nothing beyond Slicer's own packages; nothing is installed without
consent; torch only ever comes from the PyTorch extension, in a version MONAI accepts, and an older
torch that is already loaded is never replaced (the user is told what to do); the rest is installed
with torch and Slicer's packages held at their installed versions. The last tests run the pip step
through the real ``slicer.packaging.pip_ensure`` of Slicer 5.12.3 and ``slicer.util.pip_install`` of
5.10.0 (AUDIT B4, C8, C9).
"""

from __future__ import annotations

import importlib.metadata
import sys
import types

import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core wheel not installed (pip install slicer-core)")

import slicer_harness  # noqa: E402, F401  (SynTumorCommon on sys.path)
from SynTumorCommon import dependencies  # noqa: E402
from SynTumorCommon.dependencies import DependencyError  # noqa: E402

MISSING = "syntumor-test-missing==1.0"


@pytest.fixture
def world(monkeypatch):
    """Installed versions, the user's answer and what was installed, all under the test's control."""
    state = types.SimpleNamespace(
        versions={"torch": "2.14.1", "numpy": "2.0.2", "scipy": "1.13.1", "SimpleITK": "2.5.0",
                  "monai": "1.6.1", "einops": "0.8.0", "safetensors": "0.6.0", "tqdm": "4.67.0"},
        answer=True, asked=[], torch_installs=[], pip=[])
    monkeypatch.setattr(dependencies, "installedVersion", lambda name: state.versions.get(name))

    def confirm(text, title=None, **kw):
        state.asked.append(text)
        return state.answer

    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", confirm, raising=False)

    def pip(requirements):
        state.pip.append((list(requirements), dependencies.heldConstraints()))
        for r in requirements:
            state.versions[r.split("==")[0].split(">=")[0]] = r.split("==")[-1].split(">=")[-1]

    monkeypatch.setattr(dependencies, "_pipInstall", pip)

    class FakeTorchLogic:
        def installTorch(self, askConfirmation, torchVersionRequirement):
            state.torch_installs.append((askConfirmation, torchVersionRequirement))
            state.versions["torch"] = "2.9.0+cu126"
            return object()

    monkeypatch.setitem(sys.modules, "PyTorchUtils", types.SimpleNamespace(PyTorchUtilsLogic=FakeTorchLogic))
    return state


def test_paths_without_torch_need_nothing_slicer_does_not_ship(world):
    assert dependencies.ensureDependencies() is True  # phantom, statistical insertion, label noise, evaluation
    assert world.asked == [] and world.pip == [] and world.torch_installs == []
    assert "scipy" not in " ".join(dependencies.TORCH_PATH_REQUIREMENTS)  # bundled with Slicer
    assert "tqdm" not in " ".join(dependencies.BUNDLED_WITH_SLICER)


def test_what_slicer_ships_or_the_path_does_not_use_is_never_asked_for(world):
    # even where scipy and tqdm are absent: the paths without torch use neither (scipy is Slicer's
    # own; the phantom never imports tqdm), and the torch path asks only for what it lacks itself
    del world.versions["scipy"], world.versions["tqdm"]
    assert dependencies.ensureDependencies() is True
    assert world.asked == [] and world.pip == [] and world.torch_installs == []
    world.answer = True
    assert dependencies.ensureDependencies(withTorch=True) is True
    assert "scipy" not in " ".join(world.asked) and [r for r, _ in world.pip] == [["tqdm>=4.66"]]


def test_nothing_is_asked_when_everything_is_there(world):
    assert dependencies.ensureDependencies(withTorch=True) is True
    assert world.asked == [] and world.pip == [] and world.torch_installs == []


def test_declined_installs_nothing(world, monkeypatch):
    monkeypatch.setattr(dependencies, "TORCH_PATH_REQUIREMENTS", (MISSING,))
    world.answer = False
    assert dependencies.ensureDependencies(withTorch=True) is False
    assert MISSING in world.asked[0] and world.pip == [] and world.torch_installs == []


def test_missing_packages_are_installed_with_torch_held(world, monkeypatch):
    monkeypatch.setattr(dependencies, "TORCH_PATH_REQUIREMENTS", (MISSING, "numpy>=1.26"))
    assert dependencies.ensureDependencies(withTorch=True) is True
    assert len(world.asked) == 1 and world.torch_installs == []
    requirements, held = world.pip[0]
    assert requirements == [MISSING]  # numpy is there: not reinstalled
    assert {"torch==2.14.1", "numpy==2.0.2", "scipy==1.13.1", "SimpleITK==2.5.0"} <= set(held)


def test_missing_torch_comes_from_pytorch_utils_in_the_version_monai_needs(world):
    del world.versions["torch"]
    assert dependencies.ensureDependencies(withTorch=True) is True
    assert "torch" in world.asked[0]
    assert world.torch_installs == [(False, dependencies.MONAI_TORCH)]  # one consent dialog, ours
    assert world.pip == []


def test_an_older_torch_not_yet_loaded_is_upgraded_through_pytorch_utils(world, monkeypatch):
    world.versions["torch"] = "2.5.1+cu121"
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert dependencies.ensureDependencies(withTorch=True) is True
    assert "replacing 2.5.1+cu121" in world.asked[0]
    assert world.torch_installs == [(False, dependencies.MONAI_TORCH)]


def test_an_older_torch_already_loaded_is_not_replaced(world, monkeypatch):
    world.versions["torch"] = "2.5.1+cu121"
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    with pytest.raises(DependencyError, match="(?s)PyTorch 2.5.1.*PyTorch Utils.*restart"):
        dependencies.ensureDependencies(withTorch=True)
    assert world.asked == [] and world.torch_installs == [] and world.pip == []


def test_without_the_pytorch_extension_nothing_is_installed(world, monkeypatch):
    del world.versions["torch"]
    monkeypatch.setitem(sys.modules, "PyTorchUtils", None)  # `import PyTorchUtils` raises ImportError
    with pytest.raises(DependencyError, match="PyTorch extension.*Extensions Manager"):
        dependencies.ensureDependencies(withTorch=True)
    assert world.asked == [] and world.pip == []


def test_a_failed_torch_install_is_reported(world, monkeypatch):
    del world.versions["torch"]

    class Broken:
        def installTorch(self, **kw):
            return None  # what PyTorchUtils returns when the user cancels its own dialog or ltt fails

    monkeypatch.setitem(sys.modules, "PyTorchUtils", types.SimpleNamespace(PyTorchUtilsLogic=Broken))
    with pytest.raises(DependencyError, match="was not installed"):
        dependencies.ensureDependencies(withTorch=True)


def test_pins_agree_with_pyproject_and_monais_metadata():
    from pathlib import Path

    import tomllib
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    pinned = {Requirement(r).name: str(Requirement(r).specifier) for r in pyproject["project"]["dependencies"]}
    for text in dependencies.TORCH_PATH_REQUIREMENTS:
        req = Requirement(text)
        assert pinned[req.name] == str(req.specifier), f"{text} differs from pyproject's {req.name}{pinned[req.name]}"
    try:
        requires = importlib.metadata.requires("monai") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("MONAI is not installed here: its Requires-Dist cannot be read")
    torch = [Requirement(r) for r in requires if Requirement(r).name == "torch" and Requirement(r).marker is None]
    assert [str(r.specifier) for r in torch] == [dependencies.MONAI_TORCH]


# ------------------------------------------------------------------ the pip step in Slicer's own code
@pytest.mark.parametrize("version", ["5.10.0", "5.12.3"])
def test_the_pip_step_holds_torch_through_slicers_installer(version, monkeypatch, tmp_path):
    from slicer_harness.release import slicer_release

    with slicer_release(version, tmp_path / "slicer") as rel, monkeypatch.context() as m:
        from SynTumorCommon import dependencies as deps

        calls = []

        def record(module, args, *rest, **kw):  # the process Slicer would start: PythonSlicer -m pip …
            args = list(args)
            constraints = args[args.index("-c") + 1] if "-c" in args else None
            calls.append((module, args, open(constraints).read().split() if constraints else None))

        m.setattr(rel.slicer.util, "_executePythonModule", record)
        if hasattr(rel.slicer.util, "executePythonModule"):
            m.setattr(rel.slicer.util, "executePythonModule", record)
        m.setattr(rel.slicer, "app", None)  # 5.12: pip_ensure then installs without dialogs of its own
        m.setattr(deps, "installedVersion", {"torch": "2.14.1+cu128", "numpy": "2.0.2"}.get)
        deps._pipInstall([MISSING])
        (module, args, held), = calls
        assert module == "pip" and args[0] == "install" and MISSING in args
        assert held == ["torch==2.14.1+cu128", "numpy==2.0.2"]
        if version == "5.12.3":  # through pip_ensure (its constraints= ends up last), not our own "-c" argument
            assert args == ["install", MISSING, "-c", args[-1]]
        else:  # 5.10 has no slicer.packaging: slicer.util.pip_install with the constraints as pip arguments
            assert args == ["install", "-c", args[2], MISSING]
