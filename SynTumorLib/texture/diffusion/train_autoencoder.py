"""Train the first stage: a VQ-GAN (or KL autoencoder) on windowed crops around tumours.

Loss of the generator (autoencoder), per step (Esser et al. 2021, eq. 5–6, simplified):
``L = |x − D(E(x))|₁ + L_reg + w_p·L_perc + w_adv·L_G`` where ``L_reg`` is the VQ commitment loss
(``β‖E(x) − sg[q]‖²``, codebook by EMA) or ``kl_weight·KL``; ``L_perc`` only with user-supplied
weights; the least-squares PatchGAN term ``L_G`` and the discriminator update switch on after
``adv_start`` steps (warm-up: a discriminator facing a random decoder only adds noise).

Example (a few steps on a one-case phantom-like dataset):
    >>> import tempfile, numpy as np
    >>> from SynTumorLib import Volume
    >>> from SynTumorLib.data.msd import MSDWriter
    >>> root = tempfile.mkdtemp()
    >>> lab = np.zeros((24, 24, 24), np.uint8); lab[8:16, 8:16, 8:16] = 1; lab[10:14, 10:14, 10:14] = 2
    >>> img = Volume.from_geometry((lab * 60.0 - 50).astype(np.int16), spacing=(2, 2, 2))
    >>> MSDWriter(root).add_case("c0", img, img.with_array(lab))
    >>> cfg = {"crop": {"size": 16, "crops_per_tumour": 2},
    ...        "autoencoder": {"channels": [8, 8], "latent_channels": 2, "num_embeddings": 16},
    ...        "discriminator": {"channels": 4}, "autoencoder_training": {"batch_size": 2, "adv_start": 1}}
    >>> folder = train_autoencoder(root, tempfile.mkdtemp(), cfg, steps=2)
    >>> sorted(p.name for p in folder.iterdir() if p.suffix in (".json", ".safetensors"))
    ['model.safetensors', 'model_card.json']
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...runtime.distributed import unwrap
from ...runtime.model_folder import load_into, load_model_folder, prefixed, write_model_folder
from ...runtime.session import TrainingRuntime
from ...utils.errors import ModelFolderError
from ...utils.progress import ProgressCallback, track
from ...utils.seeding import child_seed, fresh_seed
from .autoencoder import TextureAutoencoder, build_discriminator, build_perceptual_loss
from .config import validate_config
from .configs import load_config
from .training import LossLog, StepHooks, build_crop_bank, prepare_out, save_sample_png, training_threads

KIND = "texture-autoencoder"


def load_autoencoder(folder: str | os.PathLike) -> tuple[TextureAutoencoder, dict[str, Any], str]:
    """(autoencoder in eval mode, full config, model SHA-256) from an autoencoder model folder."""
    mf = load_model_folder(folder, KIND)
    try:
        cfg = validate_config(mf.config)
        ae = TextureAutoencoder(mf.architecture["autoencoder"])
    except Exception as e:  # noqa: BLE001 - a config that cannot build a network is a broken folder
        raise ModelFolderError(f"{mf.folder}/model_card.json: does not describe an autoencoder ({e})") from None
    load_into(ae, mf.tensors, "autoencoder", mf.folder)
    return ae.eval(), cfg, mf.sha256


def psnr_ssim(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """PSNR (dB, data range 1) and a global SSIM (Wang et al. 2004, eq. 13 on the whole crop)."""
    mse = float(np.mean((x - y) ** 2))
    psnr = 10 * math.log10(1.0 / max(mse, 1e-12))
    c1, c2 = 0.01**2, 0.03**2
    mx, my = x.mean(), y.mean()
    vx, vy, cov = x.var(), y.var(), ((x - mx) * (y - my)).mean()
    ssim = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return psnr, float(ssim)


def train_autoencoder(dataset, out_dir: str | os.PathLike, config: str | os.PathLike | dict = "tiny",
                      steps: int | None = None, resume: bool = False, device: str = "auto", seed: int | None = None,
                      progress: ProgressCallback | None = None) -> Path:
    """Train an autoencoder on crops around the tumours of ``dataset``; returns the model folder ``out_dir``.

    ``out_dir`` receives model.safetensors and model_card.json (the model folder), checkpoint.pt
    (resumable), loss_log.csv and samples/step_*.png. ``device`` follows the one device rule
    (:mod:`SynTumorLib.runtime.devices`); the config (and ``steps``) is checked before any work.
    """
    from monai.losses import PatchAdversarialLoss

    cfg = load_config(config, {"autoencoder_training": {"steps": steps}} if steps is not None else None)
    tcfg = cfg["autoencoder_training"]
    out = Path(out_dir)
    with TrainingRuntime.start(device, amp=tcfg["amp"], threads=training_threads) as rt:
        state = prepare_out(out, resume, KIND)
        seed = int(state["seed"]) if state else (int(seed) if seed is not None else int(cfg.get("seed", fresh_seed())))
        cfg["seed"] = seed
        torch.manual_seed(child_seed(seed, "init"))
        t0 = time.time()
        bank = build_crop_bank(dataset, cfg["crop"], seed, with_context=True, progress=progress if rt.is_main else None)
        # hold out the crops of the last case (when there are ≥ 2) to report reconstruction quality
        cases = sorted(set(bank.case_ids))
        held = cases[-1:] if len(cases) > 1 else []
        train_pool = np.array([i for i, c in enumerate(bank.case_ids) if c not in held])
        ae = TextureAutoencoder(cfg["autoencoder"]).to(rt.device)
        disc = build_discriminator(cfg["discriminator"]).to(rt.device)
        opt_g = torch.optim.Adam(ae.parameters(), lr=tcfg["lr"])
        opt_d = torch.optim.Adam(disc.parameters(), lr=tcfg["disc_lr"] or tcfg["lr"])
        start = 0
        if state:
            ae.load_state_dict(state["autoencoder"])
            disc.load_state_dict(state["discriminator"])
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            start = int(state["step"])
        ae_ddp, disc_ddp = rt.wrap(ae), rt.wrap(disc)
        adv = PatchAdversarialLoss(criterion="least_squares")
        perc = build_perceptual_loss(tcfg["perceptual_weights"])
        perc = perc.to(rt.device) if perc is not None else None
        scaler_g, scaler_d = rt.grad_scaler(), rt.grad_scaler()
        log = LossLog(out / "loss_log.csv", ["l1", "reg", "perceptual", "gen_adv", "disc"], start) if rt.is_main else None
        total, bs = tcfg["steps"], tcfg["batch_size"]
        adv_start, w_adv = tcfg["adv_start"], tcfg["adv_weight"]
        kl_w = tcfg["kl_weight"] if cfg["autoencoder"]["kind"] == "kl" else 1.0
        run = {"l1": 0.0}
        restart_every = tcfg["codebook_restart_every"]
        restart_until = int(tcfg["codebook_restart_until"] * total)

        def sample(done: int) -> None:
            with torch.no_grad():
                ae.eval()
                xs = torch.from_numpy(bank.images[: min(4, len(bank))]).to(rt.device)
                rs = ae.decode(ae.encode(xs)).clamp(0, 1).cpu().numpy()
                ae.train()
            save_sample_png(out / "samples" / f"autoencoder_step_{done:06d}.png",
                            [("input", xs.cpu().numpy()), ("reconstruction", rs)], bank.tumours[: len(rs)])

        def checkpoint(done: int) -> dict[str, Any]:
            return {"step": done, "seed": seed, "autoencoder": unwrap(ae).state_dict(),
                    "discriminator": unwrap(disc).state_dict(), "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict()}

        hooks = StepHooks(rt, out, KIND, total, tcfg, log, progress)
        ae.train()
        disc.train()
        for step in track(range(start, total), total=total - start, desc="autoencoder",
                          disable=None if rt.is_main else True):
            x, _m, _ = bank.batch(bs, seed, step, rt.rank, pool=train_pool)
            x = x.to(rt.device)
            if restart_every and (step == 0 or (step % restart_every == 0 and step < restart_until)):
                # codebook from data at step 0, then dead-code restarts (see TextureAutoencoder.restart_codes);
                # the generator is seeded by the step, so a resumed run restarts exactly the same codes
                if rt.is_main:
                    ae.restart_codes(x, torch.Generator().manual_seed(child_seed(seed, "codebook", step)), step == 0)
                rt.broadcast_tensors(ae.codebook_buffers())
            with rt.autocast():
                recon, reg = ae_ddp(x)
                l1 = (recon.float() - x).abs().mean()
                loss_g = l1 + kl_w * reg
                lp = perc(recon.float(), x) if perc is not None else torch.zeros((), device=rt.device)
                loss_g = loss_g + tcfg["perceptual_weight"] * lp
                gadv = torch.zeros((), device=rt.device)
                if step >= adv_start:
                    gadv = adv(disc_ddp(recon.float())[-1], target_is_real=True, for_discriminator=False)
                    loss_g = loss_g + w_adv * gadv
            opt_g.zero_grad(set_to_none=True)
            scaler_g.scale(loss_g).backward()
            scaler_g.step(opt_g)
            scaler_g.update()
            ld = torch.zeros(())
            if step >= adv_start:
                with rt.autocast():
                    # one forward over [fake; real]: DDP allows one forward per backward
                    logits = disc_ddp(torch.cat([recon.detach().float(), x]))[-1]
                    fake = adv(logits[:bs], target_is_real=False, for_discriminator=True)
                    real = adv(logits[bs:], target_is_real=True, for_discriminator=True)
                    ld = w_adv * 0.5 * (fake + real)
                opt_d.zero_grad(set_to_none=True)
                scaler_d.scale(ld).backward()
                scaler_d.step(opt_d)
                scaler_d.update()
            vals = {"l1": l1.item(), "reg": reg.item(), "perceptual": lp.item(), "gen_adv": gadv.item(), "disc": ld.item()}
            run = vals
            hooks.after(step + 1, vals, f"autoencoder step {step + 1}/{total} L1 {vals['l1']:.4f}", sample, checkpoint)
        if rt.is_main:
            ae.eval()
            metrics: dict[str, Any] = {"final_train_losses": run, "held_out_cases": held}
            if held:
                idx = np.array([i for i, c in enumerate(bank.case_ids) if c in held])
                with torch.no_grad():
                    xs = torch.from_numpy(bank.images[idx]).to(rt.device)
                    rs = torch.cat([ae.decode(ae.encode(xs[i:i + 4])) for i in range(0, len(xs), 4)]).clamp(0, 1)
                ps = [psnr_ssim(a[0], b[0]) for a, b in zip(xs.cpu().numpy(), rs.cpu().numpy(), strict=True)]
                metrics.update(held_out_psnr_db=float(np.mean([p for p, _ in ps])),
                               held_out_ssim=float(np.mean([s for _, s in ps])))
            write_model_folder(
                out, KIND, architecture={"autoencoder": cfg["autoencoder"]}, config=cfg,
                tensors=prefixed("autoencoder", ae),
                training_data={"dataset": str(dataset), "cases": cases, "crops": len(bank)},
                stage="autoencoder", steps=total, seed=seed, world_size=rt.world_size, amp=rt.amp != "none",
                device=rt.device.type, train_seconds=round(time.time() - t0, 1), metrics=metrics)
        rt.barrier()  # no rank returns before rank 0 has written the model folder
    return out
