"""First-use installation of SynTumorLib's third-party dependencies inside Slicer.

SynTumorLib itself ships inside the extension (importable as soon as the extension is loaded);
only packages Slicer does not bundle are installed, and only after the user agrees. Nothing is
installed at import time: the widgets call :func:`ensureDependencies` from their Apply buttons.
torch goes through the PyTorch extension (``PyTorchUtils``) when it is installed, because it picks
the CUDA build that matches the machine; otherwise pip installs the default build.

The SynTumorSegmentation and SynTumorLabelNoise modules import this file too (they declare
SynTumorInsertion as a dependency so it is on ``sys.path``).
"""

from __future__ import annotations

import importlib.util
import logging

# import name → pip requirement. Kept in step with SynTumorLib's pyproject dependencies.
BASE_REQUIREMENTS = {"scipy": "scipy>=1.11", "tqdm": "tqdm>=4.66"}
TORCH_REQUIREMENTS = {"monai": "monai==1.6.1", "einops": "einops>=0.7", "safetensors": "safetensors>=0.4"}
TORCH_VERSION = ">=2.1"


def missingModules(modules: dict[str, str]) -> dict[str, str]:
    """The entries of ``modules`` whose import name cannot be found."""
    return {name: req for name, req in modules.items() if importlib.util.find_spec(name) is None}


def _installTorch() -> None:
    try:
        import PyTorchUtils  # the PyTorch extension
    except ImportError:
        _pipInstall(["torch"])
        return
    torchLogic = PyTorchUtils.PyTorchUtilsLogic()
    if not torchLogic.torchInstalled():
        torch = torchLogic.installTorch(askConfirmation=False, torchVersionRequirement=TORCH_VERSION)
        if torch is None:
            raise RuntimeError("PyTorch could not be installed; install it from the PyTorch Utils module")


def _pipInstall(requirements: list[str]) -> None:
    import slicer

    packaging = getattr(slicer, "packaging", None)
    if packaging is not None and hasattr(packaging, "pip_ensure"):
        from packaging.requirements import Requirement

        # consent was asked already; pip_ensure would otherwise ask a second time
        packaging.pip_ensure([Requirement(r) for r in requirements], prompt_install=False, requester="SynTumor")
    else:
        slicer.util.pip_install(" ".join(requirements))


def ensureDependencies(withTorch: bool = False, askConsent: bool = True) -> bool:
    """Install what SynTumorLib needs (``withTorch``: also torch + MONAI). Returns False if declined."""
    import slicer

    wanted = dict(BASE_REQUIREMENTS)
    if withTorch:
        wanted.update(TORCH_REQUIREMENTS)
    missing = missingModules(wanted)
    needTorch = withTorch and importlib.util.find_spec("torch") is None
    if not missing and not needTorch:
        return True
    names = sorted(missing) + (["torch (PyTorch)"] if needTorch else [])
    if askConsent and not slicer.util.confirmOkCancelDisplay(
        "SynTumor needs these Python packages, which are not installed yet:\n\n  "
        + "\n  ".join(names)
        + "\n\nInstall them now? This may take several minutes and needs an internet connection.",
        "SynTumor: install dependencies",
    ):
        return False
    if needTorch:
        logging.info("SynTumor: installing PyTorch")
        _installTorch()
    if missing:
        logging.info("SynTumor: installing %s", ", ".join(missing.values()))
        _pipInstall(list(missing.values()))
    return True
