"""The demo's texture stage: train the latent-diffusion tumour texture on the real-tumour cohort's
*training* split, then measure it — and the statistical texture — on the *test* split's tumours.

Training: the train cases are hard-linked into ``texture/train_data`` (an MSD dataset, so the
reproduce commands can name it), the autoencoder is trained into ``texture/autoencoder`` and the
denoiser into ``texture/model`` (the texture model folder) with the budget's config and steps.
Both resume from their checkpoints, and a finished model folder of the same steps and seed is kept.
``--texture-model DIR`` skips training and measures that folder instead.

Quality: each test case's healthy twin is regenerated from its phantom record (same seed, grid and
noise, no tumour; :func:`SynTumorLib.texture.quality.twin_from_record`), every real tumour's mask is
re-textured in it by both textures and compared with the real tumour (HU mean / std, contrast to
the pancreas ring, boundary sharpness; the autoencoder's PSNR / SSIM on the crop around it) →
``texture/quality.json`` (per-tumour rows with seeds + summary), ``texture/quality.md`` and
``img/texture_quality.png`` (real | healthy | diffusion | statistical).

With several study seeds the texture uses the first seed's split; the study's arms do not use the
diffusion texture, so no test case of any seed reaches the segmenters through it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from ..utils.atomic import atomic_path, link_or_copy_atomic, write_json_atomic
from ..utils.errors import InputError
from ..utils.jsonio import read_json
from .stages_data import _sub, study_seeds

TEXTURES = ("diffusion", "statistical")


def texture_plan(ctx) -> dict[str, Any]:
    """Config, steps, device and seeds the texture stage trains with (or the reused folder)."""
    from ..runtime.devices import device_name

    b = ctx.budget
    device = device_name(b.device)
    return {"config": b.texture_config, "autoencoder_steps": b.texture_ae_steps, "diffusion_steps": b.texture_diffusion_steps,
            "device": device, "autoencoder_seed": ctx.child_seed("texture", "autoencoder"),
            "diffusion_seed": ctx.child_seed("texture", "diffusion"),
            "reused_model": str(ctx.texture_model) if ctx.texture_model else None}


def key_extra(ctx) -> dict[str, Any]:
    """What, beyond budget and seed, decides the stage's result: the reused folder and its weights."""
    if not ctx.texture_model:
        return {}
    from ..runtime.model_folder import model_sha256
    from ..utils.errors import ModelFolderError

    folder = Path(ctx.texture_model)
    try:
        sha = model_sha256(folder)
    except (OSError, ModelFolderError):
        sha = None  # the stage itself reports the broken folder
    return {"texture_model": str(folder), "sha256": sha}


def _train_split_dataset(ctx, case_ids: list[str]) -> Path:
    """``texture/train_data``: the real cohort's training cases (hard links, else copies) in MSD layout."""
    from ..data.msd import MSDWriter

    src, dst = ctx.real_dir, ctx.out / "texture" / "train_data"
    writer = MSDWriter(dst, name="SynTumorPhantom_real_tumours_train",
                       extra={"source": str(src.relative_to(ctx.out)), "split": f"seed{study_seeds(ctx)[0]} train"})
    for cid in case_ids:
        if writer.has_case(cid):
            continue
        for sub in ("imagesTr", "labelsTr"):
            link_or_copy_atomic(src / sub / f"{cid}.nii.gz", dst / sub / f"{cid}.nii.gz")
        rec = src / "records" / f"{cid}.json"
        writer.register_case(cid, record=read_json(rec) if rec.exists() else None)
    return dst


def _finished(folder: Path, steps: int | None, seed: int, autoencoder_sha: str | None = None) -> bool:
    """A complete model folder of these steps and seed (and, for the denoiser, on this autoencoder)."""
    from ..runtime.model_folder import inspect_model_folder
    from ..utils.errors import ModelFolderError

    try:
        card = inspect_model_folder(folder).card
    except (OSError, ModelFolderError):
        return False
    if card.get("seed") != seed or (steps is not None and card.get("steps") != steps):
        return False
    return autoencoder_sha is None or card.get("autoencoder_sha256") == autoencoder_sha


def _train(ctx, plan: dict, data: Path, cb) -> dict[str, Any]:
    """Train (or resume, or keep) the autoencoder and the denoiser; returns what was done and its cost."""
    import torch

    from ..runtime.model_folder import model_sha256
    from ..texture.diffusion import train_autoencoder, train_diffusion
    from ..utils.timing import cpu_seconds

    tdir = ctx.out / "texture"
    ae_dir, dm_dir = tdir / "autoencoder", tdir / "model"
    out: dict[str, Any] = {}
    t0, c0 = time.perf_counter(), cpu_seconds()
    if _finished(ae_dir, plan["autoencoder_steps"], plan["autoencoder_seed"]):
        out["autoencoder"] = {"trained": False}
    else:
        train_autoencoder(data, ae_dir, plan["config"], steps=plan["autoencoder_steps"], resume=True,
                          device=plan["device"], seed=plan["autoencoder_seed"], progress=_sub(cb, 0.0, 0.4))
        out["autoencoder"] = {"trained": True}
        if dm_dir.exists():  # a denoiser (or its checkpoint) made on another autoencoder is useless
            shutil.rmtree(dm_dir)
    out["autoencoder"].update(wall_s=round(time.perf_counter() - t0, 1), cpu_s=round(cpu_seconds() - c0, 1))
    t0, c0 = time.perf_counter(), cpu_seconds()
    ae_sha = model_sha256(ae_dir)
    if _finished(dm_dir, plan["diffusion_steps"], plan["diffusion_seed"], ae_sha):
        out["diffusion"] = {"trained": False}
    else:
        train_diffusion(data, ae_dir, dm_dir, None, steps=plan["diffusion_steps"], resume=True,
                        device=plan["device"], seed=plan["diffusion_seed"], progress=_sub(cb, 0.4, 0.8))
        out["diffusion"] = {"trained": True}
    out["diffusion"].update(wall_s=round(time.perf_counter() - t0, 1), cpu_s=round(cpu_seconds() - c0, 1))
    out["torch_threads"] = torch.get_num_threads()
    return out


def _model_info(folder: Path, texture) -> dict[str, Any]:
    """Folder, SHA-256, config, steps, seeds, training cases and train seconds of a texture model."""
    from ..runtime.model_folder import CARD, inspect_model_folder

    card = inspect_model_folder(folder).card
    info: dict[str, Any] = {"folder": str(folder), "sha256": texture.sha256, "config": texture.cfg.get("name"),
                            "diffusion_steps": card.get("steps"), "diffusion_seed": card.get("seed"),
                            "diffusion_train_seconds": card.get("train_seconds"),
                            "device": card.get("device"), "train_cases": (card.get("training_data") or {}).get("cases", []),
                            "crops": (card.get("training_data") or {}).get("crops"),
                            "final_loss": (card.get("metrics") or {}), "sampling": texture.sampling()}
    ae_dir = Path(card.get("autoencoder_folder") or "")
    if (ae_dir / CARD).is_file():
        ac = inspect_model_folder(ae_dir).card
        info.update(autoencoder_folder=str(ae_dir), autoencoder_steps=ac.get("steps"), autoencoder_seed=ac.get("seed"),
                    autoencoder_train_seconds=ac.get("train_seconds"), autoencoder_metrics=ac.get("metrics"))
    return info


def _rel(ctx, path: Path) -> str | None:
    """``path`` relative to the demo folder (report links must be), None when it lies outside."""
    try:
        return str(Path(path).resolve().relative_to(ctx.out))
    except ValueError:
        return None


def _artifacts(ctx, info: dict) -> dict[str, Any]:
    """Loss logs, the last sample PNG of each stage (copied to img/) and the loss plot."""
    from .figures import texture_loss_curves

    folders = {"autoencoder": Path(info.get("autoencoder_folder") or ""), "diffusion": Path(info["folder"])}
    logs, samples = {}, {}
    for stage, folder in folders.items():
        log = folder / "loss_log.csv"
        if str(folder) and log.is_file():
            logs[stage] = log
        pngs = sorted((folder / "samples").glob(f"{stage}_step_*.png")) if str(folder) else []
        if pngs:
            dst = ctx.img_dir / f"texture_{stage}_samples.png"
            with atomic_path(dst) as tmp:
                shutil.copyfile(pngs[-1], tmp)
            samples[stage] = {"src": str(dst.relative_to(ctx.out)), "from": _rel(ctx, pngs[-1]) or str(pngs[-1])}
    out: dict[str, Any] = {"loss_logs": {k: _rel(ctx, v) or str(v) for k, v in logs.items()}, "samples": samples}
    if logs:
        path = ctx.img_dir / "texture_losses.png"
        texture_loss_curves(logs, path, "Texture model training losses (loss_log.csv)")
        out["loss_plot"] = str(path.relative_to(ctx.out))
    return out


def _twins(ctx, case_ids: list[str]):
    """The test cases with their healthy twins, one at a time (regenerated from the phantom records)."""
    from ..data.datasets import open_dataset
    from ..texture.quality import twin_from_record

    ds = open_dataset(ctx.real_dir)
    for cid in case_ids:
        rec_path = ctx.real_dir / "records" / f"{cid}.json"
        if not rec_path.is_file():
            raise InputError(f"{rec_path}: missing; the texture stage regenerates each test case's healthy twin "
                             "from its phantom record")
        image, label = ds.load(ds.case(cid))
        yield twin_from_record(read_json(rec_path), image.array, label.array, cid, source=str(rec_path))


def stage_texture(ctx) -> dict:
    """Train (or reuse) the diffusion texture on the train split and measure both textures on the test split."""
    from ..runtime.threads import cpu_threads, torch_threads

    plan = texture_plan(ctx)
    # the tiny texture networks run fastest on one thread, as the tiny U-Nets do (see
    # SynTumorLib.runtime.threads); SYNTUMOR_CPU_THREADS overrides it, as everywhere
    with torch_threads(cpu_threads(1) if plan["device"] == "cpu" else None):
        return _stage_texture(ctx, plan)


def _stage_texture(ctx, plan: dict) -> dict:
    from ..texture import get_texture
    from ..texture.quality import compare_textures, summarize
    from ..texture.quality_report import write_grid, write_markdown

    cb = ctx.progress("texture")
    seed0 = study_seeds(ctx)[0]
    split = read_json(ctx.out / "splits.json")[f"seed{seed0}"]
    tdir = ctx.out / "texture"
    if ctx.texture_model:
        folder = Path(ctx.texture_model).resolve()
        training: dict[str, Any] = {"reused": True}
    else:
        data = _train_split_dataset(ctx, split["train"])
        training = {"reused": False, "data": str(data.relative_to(ctx.out)), **_train(ctx, plan, data, cb)}
        folder = tdir / "model"
    # sampling on the training device; on the CPU a record replays bit-for-bit
    textures = {"diffusion": get_texture(folder, device=plan["device"]), "statistical": get_texture("statistical")}
    info = _model_info(folder, textures["diffusion"])
    tests = [c for c in split["test"] if c not in split.get("test_tumour_free", [])]  # the tumours to re-texture
    leaked = sorted(set(info["train_cases"]) & set(tests))
    res = compare_textures(_twins(ctx, tests), textures, n_cases=len(tests), progress=_sub(cb, 0.8, 0.97))
    summary = summarize(res)
    ctx.img_dir.mkdir(parents=True, exist_ok=True)
    grid = ctx.img_dir / "texture_quality.png"
    write_grid(grid, res.panels, list(textures), title="Test-split tumours: real | healthy twin | re-textured")
    md = tdir / "quality.md"
    write_markdown(md, summary, res.skipped, f"`syntumor demo` (budget {ctx.budget.name}, seed {ctx.seed}) on the "
                   f"test split of seed{seed0}", grid, title="Texture quality on the demo's test-split tumours",
                   cases_word="test")
    result = {"plan": plan, "training": training, "model": info, "split": f"seed{seed0}",
              "train_cases": split["train"], "test_cases": tests, "test_cases_seen_in_training": leaked,
              "textures": list(textures), "quality": res.to_json(), "summary": summary,
              "grid": str(grid.relative_to(ctx.out)), "markdown": str(md.relative_to(ctx.out)),
              **_artifacts(ctx, info)}
    write_json_atomic(tdir / "quality.json", result)
    if cb:
        cb(1.0, "texture quality written")
    return {k: v for k, v in result.items() if k != "quality"}  # rows stay in texture/quality.json
