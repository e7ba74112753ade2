"""First-use installation of what SynTumor needs beyond what Slicer bundles — only with the user's consent.

Slicer 5.10+ bundles numpy, scipy and SimpleITK, which is all the phantom, statistical insertion,
label noise and evaluation use, so those paths install nothing. Segmentation and diffusion textures
need PyTorch and MONAI:

* **torch** comes from the PyTorch extension (``PyTorchUtils``), which picks the build that matches
  the machine's GPU. It must satisfy what the pinned MONAI requires (``MONAI_TORCH``, MONAI 1.6.1's
  ``Requires-Dist``). A missing torch, or an older one that is not imported yet, is installed through
  ``PyTorchUtils.installTorch(torchVersionRequirement=MONAI_TORCH)``; an older torch that is already
  imported cannot be replaced in a running Slicer, so the user is told what to do. Without the
  PyTorch extension nothing is installed (pip would fetch PyPI's default build).
* **the rest** (``TORCH_PATH_REQUIREMENTS``) is installed by pip with a constraints file that holds
  torch, torchvision and Slicer's bundled packages at their installed versions, so pip can never
  replace the torch PyTorch Utils chose (MONAI's ``torch>=…`` would otherwise let it). Slicer 5.12+
  has ``slicer.packaging.pip_ensure`` — a submodule ``import slicer`` does not load, so it is imported
  explicitly; Slicer 5.10 uses ``slicer.util.pip_install``.

Nothing happens at import time; the panels call :func:`ensureDependencies` from their Apply buttons.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import subprocess
import sys
import tempfile

from SynTumorLib.utils.errors import SynTumorError

MONAI_TORCH = ">=2.8.0"  # MONAI 1.6.1's Requires-Dist for torch (Testing checks it against MONAI's metadata)
# SynTumorLib's pyproject pins, for the torch paths (Testing checks they agree)
TORCH_PATH_REQUIREMENTS = ("monai==1.6.1", "einops>=0.7", "safetensors>=0.4", "tqdm>=4.66")
BUNDLED_WITH_SLICER = ("numpy", "scipy", "SimpleITK")
HELD_AT_INSTALLED_VERSION = ("torch", "torchvision", *BUNDLED_WITH_SLICER)
REQUESTER = "SynTumor"


class DependencyError(SynTumorError):
    """The packages a SynTumor feature needs cannot be installed here; the message says what to do."""


def installedVersion(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def satisfies(version: str | None, specifier: str) -> bool:
    """Whether an installed ``version`` meets ``specifier`` (e.g. ``">=2.8.0"``); None never does.

    >>> satisfies("2.14.1+cu128", ">=2.8.0"), satisfies("2.5.1", ">=2.8.0"), satisfies(None, ">=1")
    (True, False, False)
    """
    if version is None:
        return False
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(specifier).contains(version, prereleases=True)


def missingRequirements(requirements) -> list[str]:
    """The requirements (``"name<spec>"`` strings) whose package is absent or of another version."""
    from packaging.requirements import Requirement

    out = []
    for text in requirements:
        req = Requirement(text)
        if not satisfies(installedVersion(req.name), str(req.specifier) or ">=0"):
            out.append(text)
    return out


def heldConstraints() -> list[str]:
    """``name==installed`` for each package pip must leave alone (those that are installed)."""
    return [f"{name}=={v}" for name in HELD_AT_INSTALLED_VERSION if (v := installedVersion(name)) is not None]


def _pipInstall(requirements: list[str]) -> None:
    import slicer

    fd, constraints = tempfile.mkstemp(prefix="SynTumor-constraints-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(heldConstraints()) + "\n")
    try:
        try:
            import slicer.packaging as slicerPackaging  # Slicer 5.12+; `import slicer` does not load it
        except ImportError:
            slicerPackaging = None
        if slicerPackaging is not None and hasattr(slicerPackaging, "pip_ensure"):
            # consent was asked for everything at once already, so pip_ensure does not ask again
            slicerPackaging.pip_ensure(list(requirements), constraints=constraints, prompt_install=False,
                                       requester=REQUESTER)
        else:
            slicer.util.pip_install(["-c", constraints, *requirements])
    except (subprocess.CalledProcessError, RuntimeError, OSError) as e:
        raise DependencyError(f"pip could not install {', '.join(requirements)} ({e}); the Python console shows "
                              "pip's output") from None
    finally:
        os.remove(constraints)


def _ensureTorch(torchLogicClass, torchVersion: str | None) -> None:
    logic = torchLogicClass()
    logging.info("SynTumor: installing PyTorch %s through PyTorch Utils", MONAI_TORCH)
    try:
        torch = logic.installTorch(askConfirmation=False, torchVersionRequirement=MONAI_TORCH)
    except Exception as e:  # light-the-torch / pip failures arrive as various exceptions
        raise DependencyError(f"PyTorch Utils could not install PyTorch {MONAI_TORCH}: {e}") from None
    installed = installedVersion("torch")
    if torch is None or not satisfies(installed, MONAI_TORCH):
        raise DependencyError(f"PyTorch {MONAI_TORCH} was not installed (found: {installed or 'none'}); install it "
                              f"in the PyTorch Utils module with the version requirement '{MONAI_TORCH}'")


def ensureDependencies(withTorch: bool = False, askConsent: bool = True) -> bool:
    """Make sure the packages a feature needs are there (``withTorch``: segmentation and diffusion).

    Returns True when they are (installing them first if the user agrees), False when the user
    declines. Raises :class:`DependencyError`, saying what to do, when they cannot be installed here.
    """
    if not withTorch:
        return True  # numpy, scipy and SimpleITK come with Slicer
    missing = missingRequirements(TORCH_PATH_REQUIREMENTS)
    torchVersion = installedVersion("torch")
    torchOk = satisfies(torchVersion, MONAI_TORCH)
    if not missing and torchOk:
        return True
    try:
        import PyTorchUtils  # the PyTorch extension's module
    except ImportError:
        raise DependencyError("this needs PyTorch, which SynTumor installs through the PyTorch extension: install "
                              "'PyTorch' from the Extensions Manager, restart Slicer and try again") from None
    if torchVersion is not None and not torchOk and "torch" in sys.modules:
        raise DependencyError(f"PyTorch {torchVersion} is loaded, but MONAI needs torch{MONAI_TORCH}. In the PyTorch "
                              f"Utils module: uninstall PyTorch, restart Slicer, install PyTorch with the version "
                              f"requirement '{MONAI_TORCH}' and restart again")
    wanted = ([] if torchOk else [f"torch{MONAI_TORCH} (through PyTorch Utils"
                                  + (f", replacing {torchVersion})" if torchVersion else ")")]) + missing
    if askConsent:
        import slicer

        if not slicer.util.confirmOkCancelDisplay(
            "SynTumor needs these Python packages, which are not installed yet:\n\n  " + "\n  ".join(wanted)
            + "\n\nInstall them now? This may take several minutes and needs an internet connection. The "
            "installed PyTorch and the packages Slicer ships with are left as they are.",
            "SynTumor: install Python packages",
        ):
            return False
    if not torchOk:
        _ensureTorch(PyTorchUtils.PyTorchUtilsLogic, torchVersion)
    if missing:
        logging.info("SynTumor: installing %s", ", ".join(missing))
        _pipInstall(missing)
        still = missingRequirements(missing)
        if still:
            raise DependencyError(f"after installing, these are still missing or of another version: {', '.join(still)}")
    return True
