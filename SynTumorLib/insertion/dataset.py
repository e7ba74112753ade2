"""Offline synthetic datasets: healthy CTs + synthetic tumours → an MSD-layout dataset with records.

``synthesize_dataset`` gives every healthy case ``per_case`` synthetic variants
(``<case>_syn00``, ``<case>_syn01``, ...), each with its own child seed, and writes image, label and
the insertion record (``records/<id>.json``, which ``replay`` reproduces bit-for-bit). It is
**resumable** — finished cases (listed in ``dataset.json`` with their files present) are skipped —
and **parallel over cases** (a process pool; workers write their case's files atomically, the
parent alone updates ``dataset.json``). A case whose pancreas cannot hold the class is reported in
``dataset.json`` under ``syntumor.failed`` and does not stop the run.

Example:
    >>> import numpy as np, tempfile
    >>> from SynTumorLib import Volume
    >>> from SynTumorLib.data.msd import MSDWriter
    >>> src = tempfile.mkdtemp()
    >>> k, j, i = np.indices((24, 32, 32))
    >>> organ = ((j - 16) ** 2 + (i - 16) ** 2 < 80) & (abs(k - 12) < 9)
    >>> img = Volume.from_geometry(np.where(organ, 100, -80).astype(np.int16))
    >>> MSDWriter(src).add_case("h_000", img, img.with_array(organ.astype(np.uint8)))
    >>> s = synthesize_dataset(src, tempfile.mkdtemp(), classes="small", per_case=2, seed=1)
    >>> s["written"], s["skipped"], s["failed"]
    (2, 0, 0)
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from .. import __version__
from ..utils.errors import InputError, SynTumorError
from ..utils.paths import ensure_outside
from ..utils.progress import ProgressCallback
from ..utils.seeding import child_seed
from ..utils.workers import watch_parent

# One loaded texture per process and texture spec: a model-based texture (a diffusion or DiffTumor
# folder: hashing, reading and building its networks) is loaded once per worker, not once per case.
_TEXTURES: dict[str, Any] = {}


def _texture(texture: Any):
    from ..texture import get_texture
    from ..texture.base import TextureModel

    if isinstance(texture, TextureModel):
        return texture
    key = json.dumps(texture, sort_keys=True, default=str)
    if key not in _TEXTURES:
        _TEXTURES[key] = get_texture(texture)
    return _TEXTURES[key]


def _job(ds, case, out_id: str, seed: int, spec: dict, texture: Any, image_path: Path, label_path: Path,
         record_path: Path) -> tuple[str, dict | None, str | None]:
    """Worker: load one healthy case, insert, write its three files. Returns (id, info, error)."""
    from ..data.io import write_volume
    from ..utils.atomic import write_json_atomic
    from .insert import insert_tumours

    try:
        image, label = ds.load(case)
        if label is None:
            return out_id, None, f"{case.case_id}: no label map (the pancreas is needed)"
        out_img, out_lab, record = insert_tumours(image, label, spec, seed=seed, texture=_texture(texture))
    except SynTumorError as e:
        return out_id, None, f"{case.case_id}: {e}"
    record["source_case"] = case.case_id
    write_volume(out_img, image_path)
    write_volume(out_lab, label_path)
    write_json_atomic(record_path, record)
    info = {"source_case": case.case_id, "seed": seed, "class": record["tumours"][0]["class"],
            "tumours": len(record["tumours"]), "delivered_mm3": record["delivered_mm3"]}
    return out_id, info, None


def synthesize_dataset(
    healthy_dataset,
    out_dir: str | os.PathLike,
    classes: str = "mixed",
    per_case: int = 1,
    seed: int = 0,
    workers: int = 1,
    progress: ProgressCallback | None = None,
    *,
    size_classes: str | dict = "syntumor",
    probabilities: dict | None = None,
    texture: str = "statistical",
    spec: dict | None = None,
) -> dict[str, Any]:
    """Write an MSD-layout synthetic dataset; returns ``{"written", "skipped", "failed", "out"}``.

    Args:
        healthy_dataset: dataset folder (any kind ``open_dataset`` reads) or a ``Dataset``.
        out_dir: output folder (created; an existing SynTumor dataset there is resumed).
        classes: size class for every case (``tiny`` … ``large``) or ``mixed``.
        per_case: synthetic variants per healthy case.
        seed: master seed; case ``c`` variant ``k`` uses ``child_seed(seed, c, k)``.
        workers: processes (1 = in this process).
        progress: ``(fraction, message)`` callback.
        size_classes: preset or size-class JSON; probabilities: class weights for ``mixed``.
        texture: texture backend (a name, fitted JSON or model folder — passed to every worker).
        spec: further :class:`~SynTumorLib.insertion.spec.InsertionSpec` fields (e.g. ``min_inside``).
    """
    from ..data.datasets import open_dataset
    from ..data.msd import MSDWriter
    from .spec import InsertionSpec

    if int(per_case) < 1:
        raise InputError(f"per_case must be ≥ 1, got {per_case}")
    if int(workers) < 1:
        raise InputError(f"workers must be ≥ 1, got {workers}")
    ds = open_dataset(healthy_dataset) if isinstance(healthy_dataset, (str, os.PathLike)) else healthy_dataset
    out = Path(out_dir).resolve()
    src = (texture.get("config") or {}).get("folder") if isinstance(texture, dict) else texture  # a record-style dict
    texture_path = Path(str(src)) if isinstance(src, (str, os.PathLike)) and Path(str(src)).exists() else None
    ensure_outside(out, ds.root, texture_path)
    spec_d = {**(spec or {}), "size_class": classes, "classes": size_classes, "probabilities": probabilities}
    spec_d = InsertionSpec.from_dict(spec_d).resolved().to_dict()  # validate once, before any work
    _TEXTURES.clear()  # a folder may have been replaced since an earlier call in this process
    _texture(texture)  # a broken texture fails once, here (and the serial path reuses the loaded one)
    writer = MSDWriter(out, name=f"SynTumor synthetic ({classes})", description=f"synthetic tumours on {ds.root}")
    writer.meta.setdefault("syntumor", {})["synthesis"] = {
        "op": "synthesize_dataset", "version": __version__, "seed": int(seed), "source": str(ds.root),
        "classes": classes, "per_case": int(per_case), "texture": str(texture), "spec": spec_d,
    }
    writer.flush()
    jobs, skipped = [], 0
    for case in ds.cases():
        for k in range(int(per_case)):
            out_id = f"{case.case_id}_syn{k:02d}"
            if writer.has_case(out_id):
                skipped += 1
                continue
            jobs.append((ds, case, out_id, child_seed(int(seed), case.case_id, k), spec_d, texture,
                         writer.image_path(out_id), writer.label_path(out_id), writer.record_path(out_id)))
    failed: dict[str, str] = {}
    written = 0

    def done(result, n: int) -> None:
        nonlocal written
        out_id, info, err = result
        if err:
            failed[out_id] = err
            writer.meta["syntumor"].setdefault("failed", {})[out_id] = err
            writer.flush()
        else:
            written += 1
            writer.register_case(out_id, info)  # the worker wrote the files
        if progress:
            progress(n / max(len(jobs), 1), out_id)

    if int(workers) == 1 or len(jobs) <= 1:
        for n, job in enumerate(jobs):
            done(_job(*job), n + 1)
    else:
        import multiprocessing as mp

        # spawn: workers start clean (no inherited threads or open files from the parent)
        # watch_parent: a kill -9 of this process takes its workers with it
        with ProcessPoolExecutor(max_workers=int(workers), mp_context=mp.get_context("spawn"),
                                 initializer=watch_parent, initargs=(os.getpid(),)) as pool:
            futures = [pool.submit(_job, *job) for job in jobs]
            for n, f in enumerate(as_completed(futures)):
                done(f.result(), n + 1)
    if progress and not jobs:
        progress(1.0, "nothing to do")
    return {"written": written, "skipped": skipped, "failed": len(failed), "errors": failed, "out": str(out)}
