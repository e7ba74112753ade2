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
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...runtime.distributed import unwrap
from ...runtime.model_folder import prefixed, write_model_folder
from ...runtime.session import TrainingRuntime
from ...utils.config import merge
from ...utils.progress import ProgressCallback, track
from ...utils.seeding import child_seed
from .config import validate_config
from .configs import load_config
from .diffusion_model import EMA, build_unet, model_names, size_bins, size_class, timesteps_for
from .pipeline import TumourTexturePipeline, condition, latent_mask
from .schedulers import train_scheduler
from .train_autoencoder import load_autoencoder
from .training import LossLog, StepHooks, build_crop_bank, prepare_out, save_sample_png, training_threads

KIND = "texture-denoiser"


@torch.no_grad()
def encode_bank(ae, images: np.ndarray, device: torch.device, batch: int = 8) -> torch.Tensor:
    return torch.cat([ae.encode(torch.from_numpy(images[i:i + batch]).to(device)).cpu()
                      for i in range(0, len(images), batch)])


def train_diffusion(dataset, autoencoder_dir: str | os.PathLike, out_dir: str | os.PathLike,
                    config: str | os.PathLike | dict | None = None, steps: int | None = None, resume: bool = False,
                    device: str = "auto", seed: int | None = None,
                    progress: ProgressCallback | None = None) -> Path:
    """Train the denoiser(s) on tumour crops of ``dataset``; returns the texture model folder ``out_dir``.

    ``config`` defaults to the autoencoder's config; a given config replaces its ``diffusion`` and
    ``diffusion_training`` sections only (crop and autoencoder settings must match the autoencoder).
    The config (and ``steps``) is checked before any work; ``device`` follows the one device rule.
    """
    ae, ae_cfg, ae_sha = load_autoencoder(autoencoder_dir)
    override = {} if config is None else {k: v for k, v in load_config(config).items()
                                          if k in ("diffusion", "diffusion_training", "seed")}
    if steps is not None:
        override = merge(override, {"diffusion_training": {"steps": steps}}, "texture config", deep=True, check=False)
    cfg = validate_config(merge(ae_cfg, override, "texture config", deep=True, check=False))
    dcfg, tcfg = cfg["diffusion"], cfg["diffusion_training"]
    names = model_names(dcfg)
    out = Path(out_dir)
    with TrainingRuntime.start(device, amp=tcfg["amp"], threads=training_threads) as rt:
        state = prepare_out(out, resume, KIND)
        seed = int(state["seed"]) if state else (int(seed) if seed is not None else int(cfg.get("seed", 0)))
        cfg["seed"] = seed
        t0 = time.time()
        bank = build_crop_bank(dataset, cfg["crop"], seed, with_context=False, progress=progress if rt.is_main else None)
        ae = ae.to(rt.device).requires_grad_(False)
        lat = encode_bank(ae, bank.images, rt.device)  # x_l of every crop, computed once
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
        nets = {n: build_unet(dcfg, lat.shape[1]).to(rt.device) for n in names}
        emas = {n: EMA(nets[n], tcfg["ema_decay"]) for n in names}
        opts = {n: torch.optim.AdamW(nets[n].parameters(), lr=tcfg["lr"]) for n in names}
        scheds = {n: train_scheduler({**dcfg, "num_train_timesteps": timesteps_for(dcfg, n)}) for n in names}
        start = 0
        if state:
            for n in names:
                nets[n].load_state_dict(state[f"unet.{n}"])
                emas[n].model.load_state_dict(state[f"ema.{n}"])
                emas[n].updates = int(state[f"ema_updates.{n}"])
                opts[n].load_state_dict(state[f"opt.{n}"])
            start = int(state["step"])
        ddp = {n: rt.wrap(nets[n]) for n in names}
        scalers = {n: rt.grad_scaler() for n in names}
        log = LossLog(out / "loss_log.csv", [f"loss_{n}" for n in names], start) if rt.is_main else None
        total, bs = tcfg["steps"], tcfg["batch_size"]
        cls_mode = dcfg["size_conditioning"] == "class"
        w_out = tcfg["loss_outside_weight"]
        recent: dict[str, list[float]] = {n: [] for n in names}

        def sample(done: int) -> None:
            pipe = TumourTexturePipeline(ae, {n: e.model for n, e in emas.items()}, dcfg, scale)
            k = min(4, len(bank))
            xs, ms = torch.from_numpy(bank.images[:k]), torch.from_numpy(bank.tumours[:k]).float()
            gen = torch.Generator().manual_seed(child_seed(seed, "preview"))
            syn = torch.cat([pipe(xs[i:i + 1], ms[i:i + 1], int(bins[i]), generator=gen) for i in range(k)])
            save_sample_png(out / "samples" / f"diffusion_step_{done:06d}.png",
                            [("real", xs.numpy()), ("synthetic", syn.cpu().numpy())], bank.tumours[:k])
            for net in nets.values():
                net.train()

        def checkpoint(done: int) -> dict[str, Any]:
            st: dict[str, Any] = {"step": done, "seed": seed, "scale_factor": scale, "latent_clip": dcfg["latent_clip"]}
            for n in names:
                st.update({f"unet.{n}": unwrap(nets[n]).state_dict(), f"ema.{n}": emas[n].model.state_dict(),
                           f"ema_updates.{n}": emas[n].updates, f"opt.{n}": opts[n].state_dict()})
            return st

        hooks = StepHooks(rt, out, KIND, total, tcfg, log, progress)
        for net in nets.values():
            net.train()
        for step in track(range(start, total), total=total - start, desc="diffusion", disable=None if rt.is_main else True):
            vals = {}
            for n in names:
                rng = np.random.default_rng(child_seed(seed, "dstep", step, rt.rank, n))
                idx = rng.choice(pools[n], size=bs, replace=len(pools[n]) < bs)
                x0, y = lat[idx].clone(), ymask[idx].clone()
                for b in range(bs):  # flips, same for latent and mask
                    axes = [2 + a for a in np.flatnonzero(rng.random(3) < 0.5)]
                    if axes:
                        x0[b:b + 1], y[b:b + 1] = x0[b:b + 1].flip(axes), y[b:b + 1].flip(axes)
                g = torch.Generator().manual_seed(child_seed(seed, "noise", step, rt.rank, n))
                eps = torch.randn(x0.shape, generator=g)
                T = scheds[n].num_train_timesteps
                t = torch.randint(0, T, (bs,), generator=g)
                x_t = scheds[n].add_noise(x0, eps, t)
                z = (1.0 - y) * x0
                labels = torch.from_numpy(bins[idx]).long().to(rt.device) if cls_mode else None
                with rt.autocast():
                    pred = ddp[n](condition(x_t, z, y).to(rt.device), timesteps=t.to(rt.device), class_labels=labels)
                    err = (pred.float() - eps.to(rt.device)).pow(2)
                    if w_out != 1.0:
                        # weight the tumour's latent voxels (y = 1) 1 and the context w_out: at sampling time the
                        # context is replaced by the noised real latent at every step (RePaint), so only the
                        # prediction inside the tumour is ever used; a small w_out spends a small budget there
                        w = y.to(rt.device) + w_out * (1.0 - y.to(rt.device))
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
            hooks.after(step + 1, vals, f"diffusion step {step + 1}/{total}", sample, checkpoint)
        if rt.is_main:
            cfg_out = {**cfg, "scale_factor": scale, "latent_channels": int(lat.shape[1])}
            tensors = prefixed("autoencoder", ae)
            for n in names:
                tensors.update(prefixed(f"unet.{n}", emas[n].model))
            architecture = {"autoencoder": cfg["autoencoder"], "diffusion": dcfg, "latent_channels": int(lat.shape[1])}
            data = {"dataset": str(dataset), "cases": sorted(set(bank.case_ids)), "crops": len(bank),
                    "crops_per_size_bin": np.bincount(bins, minlength=len(thresholds) + 1).tolist()}
            write_model_folder(
                out, KIND, architecture=architecture, config=cfg_out, tensors=tensors, training_data=data,
                stage="diffusion", steps=total, seed=seed, world_size=rt.world_size, amp=rt.amp != "none",
                device=rt.device.type, train_seconds=round(time.time() - t0, 1), autoencoder_sha256=ae_sha,
                autoencoder_folder=str(autoencoder_dir),
                metrics={f"final_loss_{n}": float(np.mean(recent[n])) for n in names if recent[n]})
        rt.barrier()  # no rank returns before rank 0 has written the model folder
    return out
