"""Benchmark: the one torch runtime on a GPU — AMP and torch.compile on/off for the three segmenters,
a DDP segmenter run on every visible GPU, and the texture denoiser's training step.

Every row runs through :class:`SynTumorLib.runtime.session.TrainingRuntime`, the code the trainers
use, so the switches measured are the trainers' own (``amp`` none/fp16/bf16, ``compile``). For each
segmenter (U-Net, DynUNet, SwinUNETR at 96³, batch 2, Dice+CE, AdamW) it prints the median step time
and the peak CUDA memory side by side, with the ratio to the float32 eager step; then the wall time
of ``torchrun --nproc_per_node N syntumor train segmenter`` for N = 1 and all GPUs on a phantom
cohort; then the diffusion denoiser's step time (``default`` config, 96³ crops → 24³ latents).

``--tiny`` runs the same code on the CPU in seconds (32³ crops, 2 steps; AMP/compile then fall back
to float32 / eager, which the output shows), so the script is known to work where no GPU is lent.
Never run by the test suite. Run::

    .venv/bin/python benchmarks/bench_runtime_gpu.py            # a GPU machine, < 8 minutes
    .venv/bin/python benchmarks/bench_runtime_gpu.py --tiny     # anywhere
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from SynTumorLib.utils.results import ResultsPage  # noqa: E402  (at the top: the page's start load is read now)

NETS = {"unet": {"name": "unet", "args": {}}, "dynunet": {"name": "dynunet", "args": {}},
        "swinunetr": {"name": "swinunetr", "args": {}}}
MODES = [("none", False), ("fp16", False), ("bf16", False), ("none", True), ("bf16", True)]


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def segmenter_steps(name: str, amp: str, compile_: bool, crop: int, steps: int, device: str) -> dict:
    """Median training-step time and peak memory of one segmenter under one AMP/compile setting."""
    import torch

    from SynTumorLib.runtime.session import TrainingRuntime
    from SynTumorLib.segmentation.networks import build_network, resolve_network_spec
    from SynTumorLib.segmentation.train import compute_loss, make_loss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TrainingRuntime.start(device, amp=amp, compile=compile_, threads=2) as rt:
            model = NETS[name]
            if name == "swinunetr" and crop < 64:  # tiny mode: instance norm needs ≥ 64 voxels per axis
                model = {"name": name, "args": {"norm_name": "batch", "feature_size": 12}}
            spec = resolve_network_spec(model, (crop,) * 3, (1.0, 1.0, 1.0))
            torch.manual_seed(0)
            net = build_network(spec).to(rt.device)
            fwd = rt.wrap(net)
            opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
            scaler, loss_fn = rt.grad_scaler(), make_loss()
            x = torch.rand(2, 1, crop, crop, crop, device=rt.device)
            y = torch.randint(0, 3, (2, 1, crop, crop, crop), device=rt.device)
            if rt.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            times = []
            for i in range(steps + 1):  # the first step (compilation, cuDNN autotune) is not counted
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                with rt.autocast():
                    loss = compute_loss(loss_fn, fwd(x), y)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                _sync(rt.device)
                if i:
                    times.append(time.perf_counter() - t0)
            peak = torch.cuda.max_memory_allocated() / 2**30 if rt.device.type == "cuda" else None
            return {"net": name, "amp": amp, "amp_used": rt.amp, "compile": compile_, "compile_used": rt.compile,
                    "step_s": statistics.median(times), "peak_GiB": peak}


def ddp_runs(gpus: int, tiny: bool) -> list[dict]:
    """Wall time of a short segmenter training under torchrun with 1 and ``gpus`` processes."""
    from SynTumorLib.data.phantom import generate_cohort

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        generate_cohort(data, 4, seed=0, tumours=1, spacing=(2.0, 2.0, 2.0), shape=(48, 48, 40))
        crop = 32 if tiny else 96
        cfg = {"model": {"name": "unet"}, "data": {"real": str(data)}, "crop_size": [crop] * 3,
               "spacing": [2.0, 2.0, 2.0], "iterations": 2 if tiny else 50, "val_every": 1000,
               "checkpoint_every": 1000, "batch_size": 2, "device": "cpu" if tiny else "cuda",
               "split": {"seed": 0, "test_fraction": 0.0, "val_fraction": 0.0}}
        (Path(tmp) / "cfg.json").write_text(json.dumps(cfg))
        for n in sorted({1, gpus}):
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                                str(n), "-m", "SynTumorLib", "train", "segmenter", "--config", str(Path(tmp) / "cfg.json"),
                                "--out", str(Path(tmp) / f"m{n}")], capture_output=True, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
            rows.append({"processes": n, "steps": cfg["iterations"], "wall_s": round(time.perf_counter() - t0, 1),
                         "ok": r.returncode == 0, **({} if r.returncode == 0 else {"stderr": r.stderr[-400:]})})
    return rows


def diffusion_step(config: str, steps: int, device: str) -> dict:
    """Median step of the denoiser's training (forward, loss, backward, AdamW) on random latents."""
    import torch

    from SynTumorLib.runtime.session import TrainingRuntime
    from SynTumorLib.texture.diffusion.configs import load_config
    from SynTumorLib.texture.diffusion.diffusion_model import build_unet
    from SynTumorLib.texture.diffusion.pipeline import condition

    cfg = load_config(config)
    with TrainingRuntime.start(device, amp=cfg["diffusion_training"]["amp"], threads=2) as rt:
        n, c, bs = cfg["crop"]["size"] // 4, cfg["autoencoder"]["latent_channels"], cfg["diffusion_training"]["batch_size"]
        torch.manual_seed(0)
        unet = build_unet(cfg["diffusion"], c).to(rt.device)
        opt, scaler = torch.optim.AdamW(unet.parameters(), lr=1e-4), rt.grad_scaler()
        z, y = torch.randn(bs, c, n, n, n, device=rt.device), torch.zeros(bs, 1, n, n, n, device=rt.device)
        times = []
        for i in range(steps + 1):
            t0 = time.perf_counter()
            with rt.autocast():
                eps = unet(condition(z, z, y), timesteps=torch.randint(0, 200, (bs,), device=rt.device),
                           class_labels=torch.zeros(bs, dtype=torch.long, device=rt.device))
                loss = eps.float().pow(2).mean()
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            _sync(rt.device)
            if i:
                times.append(time.perf_counter() - t0)
        return {"config": config, "latent": f"{c}×{n}³", "batch": bs, "amp_used": rt.amp,
                "step_s": statistics.median(times)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="CPU, 32³, 2 steps: check that the script works")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per row (default 10; tiny 2)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="results page folder")
    ap.add_argument("--no-results", action="store_true", help="print only; write no results page (--tiny never writes one)")
    args = ap.parse_args(argv)
    import torch

    tiny = args.tiny or not torch.cuda.is_available()
    device, crop, steps = ("cpu", 32, args.steps or 2) if tiny else ("cuda", 96, args.steps or 10)
    out: dict = {"device": torch.cuda.get_device_name(0) if not tiny else "cpu (tiny mode)", "crop": crop}
    print(f"# {out['device']}: segmenters at {crop}³, batch 2, {steps} timed steps")
    print(f"{'net':10s} {'amp':5s} {'compile':8s} {'used':12s} {'step s':>8s} {'× fp32':>7s} {'peak GiB':>9s}")
    out["segmenters"] = []
    for name in NETS:
        base = None
        for amp, comp in MODES:
            if tiny and (amp, comp) not in (("none", False), ("bf16", True)):
                continue  # the CPU runs float32 eager whatever is asked: two rows show the fallback
            r = segmenter_steps(name, amp, comp, crop, steps, device)
            base = base or r["step_s"]
            out["segmenters"].append(r)
            used = f"{r['amp_used']}/{'compiled' if r['compile_used'] else 'eager'}"
            peak = f"{r['peak_GiB']:9.2f}" if r["peak_GiB"] is not None else f"{'–':>9s}"
            print(f"{name:10s} {amp:5s} {comp!s:8s} {used:12s} {r['step_s']:8.3f} {r['step_s'] / base:7.2f} {peak}")
    gpus = 1 if tiny else torch.cuda.device_count()
    out["ddp"] = ddp_runs(gpus, tiny)
    for r in out["ddp"]:
        print(f"torchrun {r['processes']} process(es), {r['steps']} steps: {r['wall_s']} s{'' if r['ok'] else ' FAILED'}")
    out["diffusion"] = diffusion_step("tiny" if tiny else "default", steps, device)
    d = out["diffusion"]
    print(f"denoiser ({d['config']}, latent {d['latent']}, batch {d['batch']}, amp {d['amp_used']}): {d['step_s']:.3f} s/step")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    if not tiny and not args.no_results:  # a CPU check of the script is not a GPU measurement
        _write_page(out, steps, args.results)
    return 0 if all(r["ok"] for r in out["ddp"]) else 1


def _write_page(out: dict, steps: int, folder: Path) -> None:

    page = ResultsPage("runtime-gpu", "The torch runtime on a GPU: AMP, torch.compile, DDP, denoiser step",
                       f"{out['device']}; every row runs through `runtime.session.TrainingRuntime`, the trainers' own code.")
    page.section(f"Segmenters at {out['crop']}³, batch 2, median of {steps} steps")
    base = {}
    rows = []
    for r in out["segmenters"]:
        base.setdefault(r["net"], r["step_s"])
        rows.append((r["net"], r["amp"], r["compile"], f"{r['amp_used']}/{'compiled' if r['compile_used'] else 'eager'}",
                     f"{r['step_s']:.3f}", f"{r['step_s'] / base[r['net']]:.2f}×",
                     "–" if r["peak_GiB"] is None else f"{r['peak_GiB']:.2f}"))
    page.table(["network", "amp", "compile", "used", "step s", "× fp32 eager", "peak GiB"], rows)
    page.section("DDP through torchrun")
    page.table(["processes", "steps", "wall s", "ok"], [(r["processes"], r["steps"], r["wall_s"], r["ok"]) for r in out["ddp"]])
    d = out["diffusion"]
    page.section("Texture denoiser", f"config {d['config']}, latent {d['latent']}, batch {d['batch']}, amp "
                                     f"{d['amp_used']}: {d['step_s']:.3f} s per step")
    page.write(folder)


if __name__ == "__main__":
    sys.exit(main())
