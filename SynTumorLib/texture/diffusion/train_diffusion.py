"""Train the second stage: the conditional latent denoiser(s) on a frozen autoencoder.

Per step (Ho et al. 2020, Alg. 1, in the autoencoder's latent space): take a tumour crop ``x`` with
mask ``y``; ``x_0 = s·E(x)`` (``s`` = 1/std of the training latents, Rombach et al. §4.3.2);
``z = (1 − y) ⊗ x_0``; ``t ~ U{0..T−1}``, ``ε ~ N(0, I)``; ``x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·ε``;
minimise ``‖ε − ε_θ([x_t, z, y], t, size)‖²`` — over the whole latent as the reference
(``loss_outside_weight`` 1), or weighted towards the tumour (``y = 1``; the context counts
``loss_outside_weight``), since sampling only ever uses the prediction inside the tumour. The latents of all crops are computed once (the
autoencoder is frozen), and flips are applied to latents and masks together. The sampling weights
are an exponential moving average (EMA) of the trained ones.

The result is a self-contained texture model folder (autoencoder + denoisers + config), the one
``syntumor insert --texture DIR`` and :func:`SynTumorLib.texture.get_texture` take.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...utils.errors import InputError
from ...utils.progress import track
from ...utils.seeding import child_seed
from .configs import load_config, merge
from .diffusion_model import EMA, build_unet, model_names, size_bins, size_class, timesteps_for
from .model_folder import prefixed, save_model_folder
from .pipeline import TumourTexturePipeline, condition, latent_mask
from .schedulers import train_scheduler
from .train_autoencoder import load_autoencoder
from .training import (
    LossLog,
    amp_context,
    build_crop_bank,
    grad_scaler,
    load_checkpoint,
    prepare_out,
    save_checkpoint,
    save_sample_png,
    setup_distributed,
    unwrap,
    wrap_ddp,
)

KIND = "syntumor-texture-diffusion"


@torch.no_grad()
def encode_bank(ae, images: np.ndarray, device: torch.device, batch: int = 8) -> torch.Tensor:
    return torch.cat([ae.encode(torch.from_numpy(images[i:i + batch]).to(device)).cpu()
                      for i in range(0, len(images), batch)])


def train_diffusion(dataset, autoencoder_dir: str | os.PathLike, out_dir: str | os.PathLike,
                    config: str | os.PathLike | dict | None = None, steps: int | None = None, resume: bool = False,
                    device: str = "auto", seed: int | None = None,
                    progress: Callable[[float, str], None] | None = None) -> Path:
    """Train the denoiser(s) on tumour crops of ``dataset``; returns the texture model folder ``out_dir``.

    ``config`` defaults to the autoencoder's config; a given config replaces its ``diffusion`` and
    ``diffusion_training`` sections only (crop and autoencoder settings must match the autoencoder).
    """
    ae, ae_cfg, ae_sha = load_autoencoder(autoencoder_dir)
    cfg = ae_cfg if config is None else merge(ae_cfg, {k: v for k, v in load_config(config).items()
                                                       if k in ("diffusion", "diffusion_training", "seed")})
    cfg.pop("format", None)
    cfg.pop("format_version", None)
    dcfg, tcfg = cfg["diffusion"], cfg["diffusion_training"]
    if steps is not None:
        tcfg["steps"] = int(steps)
    names = model_names(dcfg)
    out = Path(out_dir)
    d = setup_distributed(device)
    ckpt_path = prepare_out(out, resume)
    state = load_checkpoint(ckpt_path) if ckpt_path else None
    seed = int(state["seed"]) if state else (int(seed) if seed is not None else int(cfg.get("seed", 0)))
    cfg["seed"] = seed
    t0 = time.time()
    bank = build_crop_bank(dataset, cfg["crop"], seed, with_context=False, progress=progress if d.main else None)
    ae = ae.to(d.device).requires_grad_(False)
    lat = encode_bank(ae, bank.images, d.device)  # x_l of every crop, computed once
    scale = float(state["scale_factor"]) if state else float(1.0 / lat.std().clamp_min(1e-6))
    lat = lat * scale
    # x̂_0 clipping range for sampling: the scaled training latents' range plus 10 %
    dcfg["latent_clip"] = float(state.get("latent_clip", 4.0)) if state else round(float(lat.abs().max()) * 1.1, 4)
    ymask = latent_mask(torch.from_numpy(bank.tumours).float())
    thresholds = size_bins(dcfg)
    bins = np.array([size_class(v, thresholds) for v in bank.volumes_mm3])
    pools = {"main": np.arange(len(bank))}
    for b in range(len(thresholds) + 1):
        sel = np.flatnonzero(bins == b)  # two_models: each model learns from its size bin (all if too few)
        pools[f"size{b}"] = sel if len(sel) >= 2 else np.arange(len(bank))

    torch.manual_seed(child_seed(seed, "init-diffusion"))
    nets = {n: build_unet(dcfg, lat.shape[1]).to(d.device) for n in names}
    emas = {n: EMA(nets[n], float(tcfg.get("ema_decay", 0.999))) for n in names}
    opts = {n: torch.optim.AdamW(nets[n].parameters(), lr=float(tcfg["lr"])) for n in names}
    scheds = {n: train_scheduler({**dcfg, "num_train_timesteps": timesteps_for(dcfg, n)}) for n in names}
    start = 0
    if state:
        for n in names:
            nets[n].load_state_dict(state[f"unet.{n}"])
            emas[n].model.load_state_dict(state[f"ema.{n}"])
            emas[n].updates = int(state[f"ema_updates.{n}"])
            opts[n].load_state_dict(state[f"opt.{n}"])
        start = int(state["step"])
    ddp = {n: wrap_ddp(nets[n], d) for n in names}
    use_amp = bool(tcfg.get("amp", True)) and d.device.type == "cuda"
    scalers = {n: grad_scaler(use_amp, d.device) for n in names}
    log = LossLog(out / "loss_log.csv", [f"loss_{n}" for n in names], start) if d.main else None
    total, bs = int(tcfg["steps"]), int(tcfg["batch_size"])
    cls_mode = dcfg.get("size_conditioning", "class") == "class"
    w_out = float(tcfg.get("loss_outside_weight", 1.0))
    if not 0.0 <= w_out <= 1.0:
        raise InputError(f"diffusion_training.loss_outside_weight must be in [0, 1], got {w_out}")
    recent: dict[str, list[float]] = {n: [] for n in names}
    for net in nets.values():
        net.train()
    for step in track(range(start, total), total=total - start, desc="diffusion", disable=None if d.main else True):
        vals = {}
        for n in names:
            rng = np.random.default_rng(child_seed(seed, "dstep", step, d.rank, n))
            idx = rng.choice(pools[n], size=bs, replace=len(pools[n]) < bs)
            x0, y = lat[idx].clone(), ymask[idx].clone()
            for b in range(bs):  # flips, same for latent and mask
                axes = [2 + a for a in np.flatnonzero(rng.random(3) < 0.5)]
                if axes:
                    x0[b:b + 1], y[b:b + 1] = x0[b:b + 1].flip(axes), y[b:b + 1].flip(axes)
            g = torch.Generator().manual_seed(child_seed(seed, "noise", step, d.rank, n))
            eps = torch.randn(x0.shape, generator=g)
            T = scheds[n].num_train_timesteps
            t = torch.randint(0, T, (bs,), generator=g)
            x_t = scheds[n].add_noise(x0, eps, t)
            z = (1.0 - y) * x0
            labels = torch.from_numpy(bins[idx]).long().to(d.device) if cls_mode else None
            with amp_context(use_amp, d.device):
                pred = ddp[n](condition(x_t, z, y).to(d.device), timesteps=t.to(d.device), class_labels=labels)
                err = (pred.float() - eps.to(d.device)).pow(2)
                if w_out != 1.0:
                    # weight the tumour's latent voxels (y = 1) 1 and the context w_out: at sampling time the
                    # context is replaced by the noised real latent at every step (RePaint), so only the
                    # prediction inside the tumour is ever used; a small w_out spends a small budget there
                    w = y.to(d.device) + w_out * (1.0 - y.to(d.device))
                    loss = (err * w).sum() / (w.sum() * err.shape[1])
                else:
                    loss = err.mean()
            opts[n].zero_grad(set_to_none=True)
            scalers[n].scale(loss).backward()
            scalers[n].step(opts[n])
            scalers[n].update()
            emas[n].update(unwrap(nets[n]))
            vals[f"loss_{n}"] = loss.item()
            recent[n] = (recent[n] + [loss.item()])[-50:]
        done = step + 1
        if progress and d.main:
            progress(done / total, f"diffusion step {done}/{total}")
        if not d.main:
            continue
        if done % int(tcfg.get("log_every", 25)) == 0 or done == total:
            log.add(done, vals)
        if done % int(tcfg.get("sample_every", 400)) == 0 or done == total:
            pipe = TumourTexturePipeline(ae, {n: e.model for n, e in emas.items()}, dcfg, scale)
            k = min(4, len(bank))
            xs, ms = torch.from_numpy(bank.images[:k]), torch.from_numpy(bank.tumours[:k]).float()
            gen = torch.Generator().manual_seed(child_seed(seed, "preview"))
            syn = torch.cat([pipe(xs[i:i + 1], ms[i:i + 1], int(bins[i]), generator=gen) for i in range(k)])
            save_sample_png(out / "samples" / f"diffusion_step_{done:06d}.png",
                            [("real", xs.numpy()), ("synthetic", syn.cpu().numpy())], bank.tumours[:k])
            for net in nets.values():
                net.train()
        if done % int(tcfg.get("checkpoint_every", 200)) == 0 or done == total:
            st: dict[str, Any] = {"step": done, "seed": seed, "scale_factor": scale, "latent_clip": dcfg["latent_clip"]}
            for n in names:
                st.update({f"unet.{n}": unwrap(nets[n]).state_dict(), f"ema.{n}": emas[n].model.state_dict(),
                           f"ema_updates.{n}": emas[n].updates, f"opt.{n}": opts[n].state_dict()})
            save_checkpoint(out / "checkpoint.pt", st)
    if d.world > 1:
        torch.distributed.barrier()
    if not d.main:
        return out
    if total <= 0:
        raise InputError("diffusion training needs at least one step")
    cfg_out = {**cfg, "scale_factor": scale, "latent_channels": int(lat.shape[1])}
    tensors = prefixed("autoencoder", ae)
    for n in names:
        tensors.update(prefixed(f"unet.{n}", emas[n].model))
    card = {"stage": "diffusion", "steps": total, "seed": seed, "world_size": d.world, "amp": use_amp,
            "device": d.device.type, "train_seconds": round(time.time() - t0, 1), "autoencoder_sha256": ae_sha,
            "autoencoder_folder": str(autoencoder_dir),
            "data": {"dataset": str(dataset), "cases": sorted(set(bank.case_ids)), "crops": len(bank),
                     "crops_per_size_bin": np.bincount(bins, minlength=len(thresholds) + 1).tolist()},
            "metrics": {f"final_loss_{n}": float(np.mean(recent[n])) for n in names if recent[n]}}
    return save_model_folder(out, KIND, cfg_out, tensors, card)
