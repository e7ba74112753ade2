"""Turn downloaded catalogue files into a SynTumor model folder, and check any imported folder.

:func:`import_downloaded` calls the one importer for the entry's kind — the texture importer of
:mod:`SynTumorLib.texture.difftumor.folder` or the segmenter importer of
:mod:`SynTumorLib.segmentation.difftumor_folder` — and :func:`install_model` is download (with
consent) + import, what the Slicer panels' download button runs in the worker.
:func:`verify_model_folder` re-checks a folder of either kind (``syntumor models verify``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..utils.errors import InputError
from ..utils.progress import ProgressCallback
from .catalogue import CatalogueEntry, load_catalogue


def import_downloaded(entry: CatalogueEntry, files_dir: str | os.PathLike, out: str | os.PathLike,
                      progress: ProgressCallback | None = None) -> Path:
    """Import the files of ``entry`` found in ``files_dir`` (as :func:`~.download.download_model` left them)."""
    files_dir = Path(files_dir)
    paths = {f.role: files_dir / f.name for f in entry.files}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise InputError(f"{missing[0]}: not found — download '{entry.name}' first (syntumor models download)")
    if entry.kind == "difftumor-segmenter":
        from ..segmentation.difftumor_folder import import_difftumor_segmenter

        return import_difftumor_segmenter(paths["checkpoint"], entry.architecture or "unet", entry.organ, out,
                                          progress=progress)
    from ..texture.difftumor.folder import import_difftumor_texture

    if progress is not None:
        progress(0.1, f"importing {entry.name}")
    return import_difftumor_texture(paths["autoencoder"], paths.get("early"), paths.get("noearly"), organ=entry.organ,
                                    out=out)


def install_model(name: str, downloads: str | os.PathLike, out: str | os.PathLike, *, consent,
                  catalogue: str | os.PathLike | None = None, base_url: str | None = None,
                  progress: ProgressCallback | None = None) -> Path:
    """Download catalogue model ``name`` into ``downloads`` (consent first) and import it into ``out``."""
    from .download import download_model

    entry = load_catalogue(catalogue, base_url).get(name)
    cb = progress or (lambda f, m="": None)
    download_model(entry, downloads, consent=consent, base_url=base_url,
                   progress=lambda f, m="": cb(0.9 * f, m))
    folder = import_downloaded(entry, downloads, out, progress=lambda f, m="": cb(0.9 + 0.1 * f, m))
    cb(1.0, f"{name}: model folder {folder}")
    return folder


def verify_model_folder(folder: str | os.PathLike) -> dict[str, Any]:
    """Re-check an imported DiffTumor folder (texture or segmenter) or any SynTumor segmenter folder."""
    from ..runtime.model_folder import inspect_model_folder

    mf = inspect_model_folder(folder)
    if mf.kind == "difftumor-texture":
        from ..texture.difftumor.folder import verify_difftumor_texture

        return verify_difftumor_texture(folder)
    if mf.kind == "segmenter":
        from ..segmentation.difftumor_folder import is_released, verify_difftumor_segmenter

        if is_released(mf.card):
            return {"ok": True, **verify_difftumor_segmenter(folder)}
        from ..segmentation.model_folder import load_model

        lm = load_model(folder, device="cpu")
        return {"ok": True, "kind": "segmenter", "folder": str(mf.folder), "architecture": lm.card["architecture"]["name"],
                "identity": mf.sha256}
    from ..runtime.model_folder import load_model_folder

    load_model_folder(folder, mf.kind)  # at least the hashes and that the weights parse
    return {"ok": True, "kind": mf.kind, "folder": str(mf.folder), "identity": mf.sha256}
