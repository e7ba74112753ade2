"""The panels' offer to download a published model, with the same consent as ``syntumor models download``.

A panel button calls :func:`offerDownload`: the user picks one of the catalogue's models of the
panel's kind (segmenters in the Segmentation panel, DiffTumor textures in the Insertion panel),
reads the consent text that the CLI shows — name, size, page, licence and notice, from the
catalogue — and answers Yes or No (No is the default). Only a Yes starts the worker's ``download``
task (``worker_main.py``), which downloads in its own process (resuming, SHA-256 recorded) and
imports the files into a model folder; the panel then selects that folder. The GUI thread never
downloads.

The Qt-free parts (:func:`choices`, :func:`consentText`, :func:`downloadJob`,
:func:`downloadedFolder`) also serve scripts and tests; the two dialogs are parameters of
:func:`offerDownload`, so tests answer them without a screen.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: the catalogue kind each panel offers
PANEL_KINDS = {"segmenter": "difftumor-segmenter", "texture": "difftumor-texture"}
MODELS_DIR_ENV = "SYNTUMOR_MODELS_DIR"


def modelsFolder() -> Path:
    """Where downloads and imported model folders go: ``$SYNTUMOR_MODELS_DIR`` or ``~/SynTumor/models``."""
    return Path(os.environ.get(MODELS_DIR_ENV) or Path.home() / "SynTumor" / "models")


def choices(kind: str) -> list[str]:
    """The catalogue names a panel of ``kind`` (``segmenter`` or ``texture``) offers."""
    from SynTumorLib.models.catalogue import load_catalogue

    return [e.name for e in load_catalogue() if e.kind == PANEL_KINDS[kind]]


def consentText(name: str, folder: str | os.PathLike | None = None) -> str:
    """The catalogue's consent text for ``name`` (the CLI's) and where the files will go."""
    from SynTumorLib.models.catalogue import load_catalogue

    folder = Path(folder) if folder is not None else modelsFolder()
    return (load_catalogue().get(name).consent_text()
            + f"\n\nFiles: {folder / 'downloads' / name}\nModel folder: {folder / name}")


def downloadJob(name: str, consented: bool, folder: str | os.PathLike | None = None, python: str | None = None):
    """The ``download`` worker job for ``name`` (not started); refused unless the user consented."""
    from SynTumorCommon.worker import WorkerJob
    from SynTumorLib.models.download import ConsentRefused

    if consented is not True:
        raise ConsentRefused(f"download of '{name}' declined; nothing written")
    folder = Path(folder) if folder is not None else modelsFolder()
    args = {"name": name, "downloads": str(folder / "downloads" / name), "out": str(folder / name), "consented": True}
    work = Path(tempfile.mkdtemp(prefix="SynTumorDownload-"))
    return WorkerJob.forTask("download", work, args, python=python, ownsFolder=True)


def downloadedFolder(job) -> Path:
    """The model folder a finished ``download`` job imported."""
    return Path(job.result()["model_folder"])


def _chooseWithQt(parent, title: str, names: list[str]) -> str | None:
    import qt

    if not names:
        return None
    # PythonQt returns the chosen text; Cancel returns the empty string
    name = qt.QInputDialog.getItem(parent, title, "Model:", names, 0, False)
    return str(name) if name else None


def _askWithQt(parent, title: str, text: str) -> bool:
    # not slicer.util.confirmYesNoDisplay: in testing mode it answers Yes by itself, and consent must be the user's
    import qt

    box = qt.QMessageBox(parent)
    box.setWindowTitle(title)
    box.setIcon(qt.QMessageBox.Question)
    box.setText(text.split("\n", 1)[0])
    box.setInformativeText(text.split("\n", 1)[1] if "\n" in text else "")
    box.setStandardButtons(qt.QMessageBox.Yes | qt.QMessageBox.No)
    box.setDefaultButton(qt.QMessageBox.No)
    return box.exec_() == qt.QMessageBox.Yes


def offerDownload(widget, kind: str, onDownloaded, choose=None, ask=None, folder=None, beforeStart=None) -> bool:
    """Pick a catalogue model of ``kind``, ask consent, and download + import it in the worker.

    Args:
        widget: a ``ParameterNodeWidget`` (its ``startJob`` shows progress and offers Cancel).
        kind: ``segmenter`` or ``texture``.
        onDownloaded: ``callback(model_folder)`` once the worker has imported the model.
        choose, ask: ``choose(title, names) -> name | None`` and ``ask(title, text) -> bool``; default: Qt dialogs.
        folder: where downloads and model folders go (default :func:`modelsFolder`).
        beforeStart: ``() -> bool`` run after consent, before the worker (e.g. installing PyTorch); False stops.

    Returns:
        True if a download started.
    """
    title = "Download a published model"
    parent = getattr(widget, "parent", None)
    choose = choose or (lambda t, names: _chooseWithQt(parent, t, names))
    ask = ask or (lambda t, text: _askWithQt(parent, t, text))
    name = choose(title, choices(kind))
    if not name:
        return False
    if ask(title, consentText(name, folder)) is not True:
        widget.showStatus(f"Not downloaded: '{name}' was declined; nothing was written.")
        return False
    if beforeStart is not None and not beforeStart():
        widget.showStatus(f"Not downloaded: the Python packages '{name}' needs were not installed.")
        return False
    job = downloadJob(name, True, folder=folder)
    widget.startJob(job, lambda j: onDownloaded(downloadedFolder(j)), f"Downloading {name}…", "Download failed.")
    return True
