"""Training the latent-diffusion texture: losses fall, checkpoints resume exactly, AMP/DDP fallbacks, CLI."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from builders import ellipsoid, make_tiny_ct, write_msd

from SynTumorLib.utils.errors import InputError

torch.set_num_threads(1)  # tiny ops: one thread is faster on a shared 2-core machine

AE = {"crop": {"size": 16, "spacing_mm": 2.0, "jitter_mm": 2.0, "crops_per_tumour": 4, "context_fraction": 0.5},
      "autoencoder": {"kind": "vqvae", "channels": [8, 8], "num_res_layers": 1, "latent_channels": 2,
                      "num_embeddings": 32},
      "discriminator": {"channels": 4, "num_layers_d": 2},
      "autoencoder_training": {"batch_size": 2, "lr": 0.002, "adv_start": 1000, "log_every": 1, "sample_every": 1000,
                               "checkpoint_every": 1000},
      "diffusion": {"channels": [8, 16], "attention_levels": [False, False], "num_res_blocks": 1, "norm_num_groups": 8,
                    "num_train_timesteps": 50, "size_thresholds_mm": [9.0],
                    "sampling": [{"scheduler": "ddim", "steps": 2}, {"scheduler": "ddim", "steps": 2}]},
      "diffusion_training": {"batch_size": 8, "lr": 0.002, "ema_decay": 0.9, "log_every": 1, "sample_every": 1000,
                             "checkpoint_every": 1}}


def _rows(folder):
    with open(folder / "loss_log.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two tiny CTs (1.5 mm) with an ellipsoid tumour (label 2) each, in MSD layout."""
    def case(s: int):
        img, lab = make_tiny_ct(shape=(28, 32, 32), seed=s)
        t = ellipsoid(img.shape, (14, 16, 16 - 3 * s), (3 + s, 4, 3 + s))
        a, b = img.array.copy(), lab.array.copy()
        a[t] = (40 + np.random.default_rng(s).normal(0, 8, int(t.sum()))).astype(np.int16)
        b[t] = 2
        return f"case_{s}", img.with_array(a), lab.with_array(b)

    return write_msd(tmp_path_factory.mktemp("tumours"), (case(s) for s in range(2)), name="SynTumor")


@pytest.fixture(scope="module")
def ae_folder(dataset, tmp_path_factory):
    from SynTumorLib.texture.diffusion import train_autoencoder

    return train_autoencoder(dataset, tmp_path_factory.mktemp("ae") / "ae", AE, steps=3)


def test_autoencoder_training_lowers_the_loss_and_writes_a_model_folder(dataset, tmp_path):
    from SynTumorLib.texture.diffusion import load_autoencoder, train_autoencoder

    cfg = {**AE, "autoencoder_training": {**AE["autoencoder_training"], "adv_start": 25, "sample_every": 30}}
    folder = train_autoencoder(dataset, tmp_path / "ae", cfg, steps=30)
    l1 = [float(r["l1"]) for r in _rows(folder)]
    assert len(l1) == 30 and np.mean(l1[-5:]) < 0.8 * np.mean(l1[:5])
    assert float(_rows(folder)[-1]["disc"]) > 0  # the adversarial loss switched on after the warm-up
    card = json.loads((folder / "model_card.json").read_text())
    assert card["steps"] == 30 and card["metrics"]["held_out_cases"] == ["case_1"]
    assert np.isfinite(card["metrics"]["held_out_psnr_db"]) and card["amp"] is False  # CPU: AMP off
    assert (folder / "samples" / "autoencoder_step_000030.png").stat().st_size > 1000
    ae, cfg_loaded, sha = load_autoencoder(folder)
    assert cfg_loaded["seed"] == 0 and len(sha) == 64
    with pytest.raises(InputError, match="--resume"):
        train_autoencoder(dataset, folder, cfg, steps=31)


def test_diffusion_training_lowers_the_loss(dataset, ae_folder, tmp_path):
    from SynTumorLib.texture.diffusion import from_folder, train_diffusion

    folder = train_diffusion(dataset, ae_folder, tmp_path / "dm", steps=40)
    loss = [float(r["loss_main"]) for r in _rows(folder)]
    assert np.mean(loss[-10:]) < 0.8 * np.mean(loss[:10])
    card = json.loads((folder / "model_card.json").read_text())
    data = card["training_data"]
    assert card["autoencoder_sha256"] and sum(data["crops_per_size_bin"]) == data["crops"]
    cfg = card["config"]
    assert cfg["scale_factor"] > 0 and cfg["latent_channels"] == 2 and card["kind"] == "texture-denoiser"
    assert card["architecture"]["latent_channels"] == 2 and card["architecture"]["diffusion"] == cfg["diffusion"]
    assert from_folder(folder).sample(0)["sampling"][0]["steps"] == 2


def test_codebook_restarts_keep_the_codebook_in_use(dataset, tmp_path):
    """Without restarts MONAI's N(0, 1)-initialised EMA codebook collapses onto a few codes; with the
    data initialisation + dead-code restarts most codes are used after the same steps."""
    from SynTumorLib.texture.diffusion import load_autoencoder, train_autoencoder

    used = {}
    for every in (0, 2):
        cfg = {**AE, "autoencoder_training": {**AE["autoencoder_training"], "codebook_restart_every": every}}
        ae, _, _ = load_autoencoder(train_autoencoder(dataset, tmp_path / f"ae{every}", cfg, steps=8))
        used[every] = int((ae.net.quantizer.quantizer.ema_cluster_size > 1e-3).sum())
    assert used[2] > used[0] and used[2] >= 16, used
    bad = {**AE, "autoencoder_training": {**AE["autoencoder_training"], "codebook_restart_every": -1}}
    with pytest.raises(InputError, match="codebook_restart_every"):
        train_autoencoder(dataset, tmp_path / "bad", bad, steps=1)


def test_tumour_weighted_loss_option(dataset, ae_folder, tmp_path):
    from SynTumorLib.texture.diffusion import train_diffusion

    def cfg(w):
        return {"diffusion": AE["diffusion"], "diffusion_training": {**AE["diffusion_training"], "loss_outside_weight": w}}

    a = train_diffusion(dataset, ae_folder, tmp_path / "w", cfg(0.1), steps=2)
    b = train_diffusion(dataset, ae_folder, tmp_path / "u", cfg(1.0), steps=2)  # the reference's plain MSE
    # same batches and noise, different loss: the logged losses differ, the weights too
    assert _rows(a)[0]["loss_main"] != _rows(b)[0]["loss_main"]
    assert json.loads((a / "model_card.json").read_text())["config"]["diffusion_training"]["loss_outside_weight"] == 0.1
    with pytest.raises(InputError, match="loss_outside_weight"):
        train_diffusion(dataset, ae_folder, tmp_path / "bad", cfg(2.0), steps=1)


def test_resume_continues_exactly(dataset, ae_folder, tmp_path):
    """2 steps + resume to 4 steps gives the same weights as 4 steps in one go (batches and noise are
    seeded per step; optimizer and EMA state are in the checkpoint)."""
    from SynTumorLib.texture.diffusion import train_diffusion

    two = {"diffusion": {**AE["diffusion"], "size_conditioning": "two_models", "model_timesteps": {"size0": 4}},
           "diffusion_training": AE["diffusion_training"]}
    a = train_diffusion(dataset, ae_folder, tmp_path / "a", two, steps=4)
    b = train_diffusion(dataset, ae_folder, tmp_path / "b", two, steps=2)
    b = train_diffusion(dataset, ae_folder, tmp_path / "b", two, steps=4, resume=True)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert [r["step"] for r in _rows(b)] == ["1", "2", "3", "4"]
    assert set(_rows(b)[0]) == {"step", "loss_size0", "loss_size1"}


def test_amp_falls_back_to_float32_on_cpu():
    from SynTumorLib.runtime.session import TrainingRuntime

    with TrainingRuntime.start("cpu", amp=True) as rt:  # the texture configs' "amp": true
        assert rt.amp == "none" and not rt.grad_scaler().is_enabled()
        lin = torch.nn.Linear(3, 3)
        with rt.autocast():
            y = lin(torch.ones(1, 3))
    assert y.dtype == torch.float32


def test_errors_for_bad_training_input(tmp_path, ae_folder):
    from SynTumorLib.data.msd import MSDWriter
    from SynTumorLib.runtime.checkpoint import load_checkpoint
    from SynTumorLib.texture.diffusion import train_diffusion
    from SynTumorLib.utils.errors import ModelFolderError

    img, lab = make_tiny_ct(shape=(16, 16, 16))
    MSDWriter(tmp_path / "healthy").add_case("h", img, lab)
    with pytest.raises(InputError, match="no case has a tumour"):
        train_diffusion(tmp_path / "healthy", ae_folder, tmp_path / "o", steps=1)
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelFolderError, match="checkpoint.pt: checkpoint corrupt or truncated.*delete it"):
        load_checkpoint(bad, "texture-denoiser")
    # ranges are checked before any work starts (no crop bank, no folder)
    with pytest.raises(InputError, match="diffusion_training.steps must be an integer ≥ 1, got 0"):
        train_diffusion(tmp_path / "healthy", ae_folder, tmp_path / "zero", steps=0)
    assert not (tmp_path / "zero").exists()
    from SynTumorLib.texture.diffusion import train_autoencoder

    with pytest.raises(InputError, match="autoencoder_training.steps must be an integer ≥ 1, got 0"):
        train_autoencoder(tmp_path / "healthy", tmp_path / "zero", AE, steps=0)
    with pytest.raises(InputError, match="unknown key 'stpes' \\(did you mean 'steps'\\?\\)"):
        train_autoencoder(tmp_path / "healthy", tmp_path / "zero", {"autoencoder_training": {"stpes": 3}})
    with pytest.raises(InputError, match="no CUDA GPU|auto, cpu, cuda or cuda:N"):
        train_autoencoder(tmp_path / "healthy", tmp_path / "zero", AE, steps=1,
                          device="cuda" if not torch.cuda.is_available() else "tpu")
    assert not (tmp_path / "zero").exists()


def test_cli_train_commands(dataset, ae_folder, tmp_path, capsys):
    from SynTumorLib.cli.main import main

    for what in ("autoencoder", "diffusion"):
        with pytest.raises(SystemExit) as e:
            main(["train", what, "--help"])
        assert e.value.code == 0
    assert main(["train", "autoencoder", str(tmp_path / "nope"), "--out", str(tmp_path / "x")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(AE))
    rc = main(["train", "diffusion", str(dataset), "--autoencoder", str(ae_folder), "--out", str(tmp_path / "tex"),
               "--config", str(cfg), "--steps", "2"])
    assert rc == 0 and (tmp_path / "tex" / "model.safetensors").exists()


@pytest.mark.slow
def test_ddp_two_cpu_processes_gloo(dataset, tmp_path):
    """torchrun with 2 processes on the CPU (gloo): both stages train and rank 0 writes the folders."""
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(f"""
        import json, torch
        torch.set_num_threads(1)
        from SynTumorLib.texture.diffusion import train_autoencoder, train_diffusion
        cfg = json.loads({json.dumps(json.dumps(AE))})
        cfg["autoencoder_training"]["adv_start"] = 1
        ae = train_autoencoder({str(dataset)!r}, {str(tmp_path / 'ae')!r}, cfg, steps=2, device="cpu")
        # no barrier needed: a trainer returns on every rank only after rank 0 has written its folder
        train_diffusion({str(dataset)!r}, {str(tmp_path / 'ae')!r}, {str(tmp_path / 'dm')!r}, steps=2, device="cpu")
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                        "29533", str(script)], capture_output=True, text=True, env=env, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("ae", "dm"):
        card = json.loads((tmp_path / name / "model_card.json").read_text())
        assert card["world_size"] == 2
