#!/usr/bin/env python
"""Benchmark of the DiffTumor texture: per-tumour synthesis time and peak memory, early and non-early.

Random weights at the released configs (VQ-GAN 16 channels / 16,384 codes, Unet3D dim 24), one
96³ pancreas crop with a fixed tumour mask; speed does not depend on the weights. Each
configuration runs in its own process, so its peak RSS (CPU) or peak allocated memory (CUDA) is its
own; the model set is built as each side keeps it for synthesis (SynTumor: one VQ-GAN and the two
denoisers; DiffTumor: what its ``synt_model_prepare`` holds).

With ``--reference DIR`` (a private checkout of DiffTumor, never inside this repository) the
reference's own ``synthesize_early_tumor`` / ``synthesize_medium_tumor`` run side by side with
SynTumor's, with the same random weights, and the ratio is printed. The reference needs its own
environment (pytorch-lightning, einops-exts, rotary-embedding-torch 0.1.5): pass its interpreter as
``--reference-python``. The shim that lets it run on the CPU is below (our own monkeypatching:
``torchvision``'s VGG16 built without downloading weights, DDIM buffers kept on the model's device,
``get_fixed_geo`` returning the fixed mask). Without ``--reference`` those rows are skipped.

With ``--insertion`` it times the texture *backend* instead (``syntumor insert --texture DIR`` as a
library call): a released-config random-weight ``difftumor-texture`` folder, a phantom CT at
0.8 × 0.8 × 2.5 mm, one tumour per run (tiny → early, medium → non-early), both modes; the time
includes the 1 mm RAS crop, the paste-back and the model folder's load (reported apart).

    .venv/bin/python benchmarks/bench_difftumor.py --threads 2
    .venv/bin/python benchmarks/bench_difftumor.py --threads 2 --insertion
    .venv/bin/python benchmarks/bench_difftumor.py --threads 2 --reference /work/difftumor-ref/DiffTumor \\
        --reference-python /work/difftumor-ref/venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from SynTumorLib.utils.results import ResultsPage  # noqa: E402  (at the top: the page's start load is read now)

N = 96


def _inputs(torch):
    g = torch.Generator().manual_seed(0)
    crop = torch.rand(1, 1, N, N, N, generator=g)
    idx = torch.arange(N, dtype=torch.float32)
    r2 = (idx[:, None, None] - 48) ** 2 + (idx[None, :, None] - 44) ** 2 / 0.8 + (idx[None, None, :] - 50) ** 2 / 1.2
    mask = (r2 < 12.0**2).float()[None, None]
    return crop, mask


def _peak_mb(torch, device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _held_mb(*modules) -> float:
    """Parameters and buffers the synthesis keeps alive (shared tensors counted once)."""
    seen, total = set(), 0
    for m in modules:
        for t in [*m.parameters(), *m.buffers()]:
            if t.data_ptr() not in seen:
                seen.add(t.data_ptr())
                total += t.numel() * t.element_size()
    return total / 2**20


def _timed(fn, sync, repeat: int) -> tuple[float, object]:
    out = fn()  # warm-up: allocations, oneDNN primitive caches
    sync()
    t = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    sync()
    return (time.perf_counter() - t) / repeat, out


def child_syntumor(recipe: str, device: str, threads: int, repeat: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(REPO))
    from SynTumorLib.texture.difftumor import VQGAN3D, DiffTumorSynthesizer, Unet3D

    dev = torch.device(device)
    torch.manual_seed(0)
    vq = VQGAN3D().eval()
    vq.codebook.embeddings.normal_()
    syn = DiffTumorSynthesizer(vq.to(dev), Unet3D().to(dev), Unet3D().to(dev))
    crop, mask = _inputs(torch)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    s, out = _timed(lambda: syn.synthesize(crop, mask, recipe, seed=0), sync, repeat)
    return {"seconds": s, "peak_mb": _peak_mb(torch, dev), "models_mb": _held_mb(syn.vqgan, *syn.unets.values()),
            "range": [float(out["volume"].min()), float(out["volume"].max())]}


def child_insertion(recipe: str, device: str, threads: int, repeat: int, mode: str = "syntumor") -> dict:
    """One insertion through the DiffTumor texture backend (released-config random weights)."""
    import tempfile

    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(REPO))
    from SynTumorLib.data.phantom.generator import generate_case
    from SynTumorLib.insertion import insert_tumours
    from SynTumorLib.texture import get_texture
    from SynTumorLib.texture.difftumor import VQGAN3D, Unet3D
    from SynTumorLib.texture.difftumor.folder import write_difftumor_texture

    torch.manual_seed(0)
    vq = VQGAN3D()
    vq.codebook.embeddings.normal_()
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_difftumor_texture(Path(tmp) / "m", organ="pancreas", vqgan=vq.state_dict(),
                                         denoisers={r: (Unet3D().state_dict(), None, None) for r in ("early", "noearly")})
        image, label, _ = generate_case(0, spacing=(0.8, 0.8, 2.5), fov_mm=(160.0, 128.0, 120.0))
        t = time.perf_counter()
        tex = get_texture(folder, mode=mode, device=device)
        load_s = time.perf_counter() - t
        size = "tiny" if recipe == "early" else "medium"
        dev = torch.device(tex.synth.device)
        sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
        s, (out, _, rec) = _timed(lambda: insert_tumours(image, label, {"size_class": size, "count": 1}, seed=1,
                                                          texture=tex), sync, repeat)
    changed = int((out.array != image.array).sum())
    return {"seconds": s, "load_seconds": load_s, "peak_mb": _peak_mb(torch, dev), "models_mb": _held_mb(
        tex.synth.vqgan, *[u for u in tex.synth.unets.values() if u is not None]), "changed_voxels": changed,
        "shape": list(image.shape), "mode": mode}


def _insertion_rows(args) -> int:
    rows = []
    for recipe in args.recipes:
        for mode in ("syntumor", "reference"):
            r = _run_child(sys.executable, ["insertion", recipe, args.device, str(args.threads), str(args.repeat),
                                            mode], args.timeout)
            rows.append({"recipe": recipe, "mode": mode, **r})
    print(f"DiffTumor texture backend, one phantom insertion, {args.device}, {args.threads} thread(s), "
          "random released-config weights")
    print(f"{'recipe':9s} {'mode':10s} {'insert s':>9s} {'load s':>7s} {'peak MB':>8s} {'changed voxels':>15s}")
    for r in rows:
        if "seconds" not in r:
            print(f"{r['recipe']:9s} {r['mode']:10s} error: {r.get('error')}")
            continue
        print(f"{r['recipe']:9s} {r['mode']:10s} {r['seconds']:9.2f} {r['load_seconds']:7.2f} {r['peak_mb']:8.0f} "
              f"{r['changed_voxels']:15d}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    if not args.no_results:
        page = _page("difftumor-insertion", "DiffTumor texture backend: one tumour inserted into a phantom CT",
                     "`insert_tumours` with a DiffTumor texture folder (random weights at the released sizes; speed "
                     "does not depend on the weights), in both modes: `syntumor` pastes inside the feathered tumour "
                     "only, `reference` rewrites the whole 96 mm crop as DiffTumor does for the pancreas.", args)
        page.table(["recipe", "mode", "insert s", "folder load s", "peak RSS MB", "changed voxels"],
                   [(r["recipe"], r["mode"], f"{r['seconds']:.2f}", f"{r['load_seconds']:.2f}", f"{r['peak_mb']:.0f}",
                     f"{r['changed_voxels']:,d}") if "seconds" in r else (r["recipe"], r["mode"], r.get("error"), "", "", "")
                    for r in rows])
        page.write(args.results)
    return 0


def cell(side: dict, key: str, fmt: str) -> str:
    """One table cell: the figure, or why there is none (an error, a skipped reference)."""
    return fmt.format(side[key]) if key in side else (side.get("error") or side.get("skipped") or "-")


def _page(name: str, title: str, summary: str, args):
    page = ResultsPage(name, title, summary)
    page.section(f"{args.device}, {args.threads} thread(s), best of {args.repeat} after a warm-up",
                 "Each configuration runs in its own process, so its peak memory is its own.")
    return page


def _reference_shim(ref_dir: Path):
    """Our CPU shim for DiffTumor STEP3 (no DiffTumor code here): stub unused imports, no downloads."""
    step3 = ref_dir / "STEP3.SegmentationModel"
    if not (step3 / "TumorGeneration" / "utils.py").is_file():
        raise FileNotFoundError(f"{ref_dir}: not a DiffTumor checkout (no STEP3.SegmentationModel/TumorGeneration)")
    sys.path.insert(0, str(step3))
    for name in ("cv2", "elasticdeform", "SimpleITK", "hydra"):  # geometry/IO/config only; unused here
        try:
            __import__(name)
        except ImportError:
            mod = types.ModuleType(name)
            mod.initialize = mod.compose = None
            sys.modules[name] = mod
    import torchvision

    vgg = torchvision.models.vgg16
    torchvision.models.vgg16 = lambda pretrained=False, **kw: vgg(weights=None)  # LPIPS would download 528 MB
    import TumorGeneration.utils as tg
    from TumorGeneration.ldm.ddpm import ddim

    ddim.DDIMSampler.register_buffer = lambda self, name, attr: setattr(self, name, attr)  # not forced to CUDA
    return tg, ddim.DDIMSampler


def _reference_cfg():
    from omegaconf import OmegaConf

    return OmegaConf.create({"model": {
        "embedding_dim": 8, "n_codes": 16384, "n_hiddens": 16, "lr": 3e-4, "downsample": [4, 4, 4],
        "disc_channels": 64, "disc_layers": 3, "discriminator_iter_start": 10000, "disc_loss_type": "hinge",
        "image_gan_weight": 1.0, "video_gan_weight": 1.0, "l1_weight": 4.0, "gan_feat_weight": 4.0,
        "perceptual_weight": 4.0, "i3d_feat": False, "restart_thres": 1.0, "no_random_restart": False,
        "norm_type": "group", "padding_type": "replicate", "num_groups": 32}, "dataset": {"image_channels": 1}})


def child_reference(recipe: str, device: str, threads: int, repeat: int, ref_dir: str) -> dict:
    import torch

    torch.set_num_threads(threads)
    tg, DDIMSampler = _reference_shim(Path(ref_dir))
    from TumorGeneration.ldm.ddpm.diffusion import GaussianDiffusion, Tester, Unet3D
    from TumorGeneration.ldm.vq_gan_3d.model.vqgan import VQGAN

    dev = torch.device(device)
    torch.manual_seed(0)
    cfg = _reference_cfg()

    def vqgan():
        v = VQGAN(cfg).to(dev).eval()
        v.codebook.embeddings.normal_()
        return v

    def unet():
        return Unet3D(dim=24, dim_mults=(1, 2, 4, 8), channels=17, out_dim=8).to(dev)

    # the object graph synt_model_prepare builds: a VQ-GAN, one per GaussianDiffusion (each loaded from
    # the ckpt), and Tester's deep copy of the early model (its EMA)
    vq = vqgan()
    early = GaussianDiffusion(unet(), image_size=24, num_frames=24, channels=17, timesteps=4).to(dev)
    early.vqgan = vqgan()
    tester = Tester(early)
    noearly = GaussianDiffusion(unet(), image_size=24, num_frames=24, channels=17, timesteps=200).to(dev)
    noearly.vqgan = vqgan()
    sampler = DDIMSampler(noearly, schedule="cosine")
    crop, mask = _inputs(torch)
    crop, mask = crop.to(dev), mask.to(dev)
    tg.get_fixed_geo = lambda mask_scan, tumor_type, organ_type: mask[0, 0].cpu().numpy() > 0
    organ = (mask > 0).float()
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    if recipe == "early":
        fn = lambda: tg.synthesize_early_tumor(crop, organ, "pancreas", vq, tester)[0]  # noqa: E731
    else:
        fn = lambda: tg.synthesize_medium_tumor(crop, organ, "pancreas", vq, sampler)[0]  # noqa: E731
    s, out = _timed(fn, sync, repeat)
    return {"seconds": s, "peak_mb": _peak_mb(torch, dev), "models_mb": _held_mb(vq, early, tester.ema_model, noearly),
            "range": [float(out.min()), float(out.max())], "vqgan_copies": 4}


def _run_child(python: str, args: list[str], timeout: float) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--child", *args]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": (p.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return json.loads(lines[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs after one warm-up run")
    ap.add_argument("--recipes", nargs="+", default=["early", "noearly"], choices=["early", "noearly"])
    ap.add_argument("--reference", type=Path, default=None, help="a private DiffTumor checkout (outside this repo)")
    ap.add_argument("--reference-python", default=sys.executable,
                    help="interpreter with the reference's dependencies (pytorch-lightning, einops-exts, ...)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per configuration")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--insertion", action="store_true",
                    help="time the texture backend on a phantom insertion (both modes) instead of one crop")
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="results page folder")
    ap.add_argument("--no-results", action="store_true", help="print only; write no results page")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        side, recipe, device, threads, repeat, *ref = args.child
        fn = {"syntumor": child_syntumor, "insertion": child_insertion}.get(side, child_reference)
        print(json.dumps(fn(recipe, device, int(threads), int(repeat), *ref)))
        return 0
    if args.insertion:
        return _insertion_rows(args)
    rows = []
    for recipe in args.recipes:
        common = [recipe, args.device, str(args.threads), str(args.repeat)]
        ours = _run_child(sys.executable, ["syntumor", *common], args.timeout)
        if args.reference is None:
            ref = {"skipped": "no --reference checkout given"}
        elif not args.reference.is_dir():
            ref = {"skipped": f"{args.reference} not found"}
        else:
            ref = _run_child(args.reference_python, ["reference", *common, str(args.reference)], args.timeout)
        rows.append({"recipe": recipe, "syntumor": ours, "difftumor": ref})
    print(f"DiffTumor texture, one 96³ tumour, {args.device}, {args.threads} thread(s), random released-config weights")
    print("(peak = the process's peak RSS, or peak CUDA allocation; models = parameters + buffers held)")
    print(f"{'recipe':9s} {'SynTumor s':>11s} {'DiffTumor s':>12s} {'speed-up':>9s} {'SynTumor MB':>12s} "
          f"{'DiffTumor MB':>13s} {'models MB (ours/ref)':>21s}")
    for r in rows:
        o, d = r["syntumor"], r["difftumor"]
        if "seconds" not in d:
            d_s = d_m = ratio = "-"
        else:
            d_s, d_m = f"{d['seconds']:.2f}", f"{d['peak_mb']:.0f}"
            ratio = f"{d['seconds'] / o['seconds']:.2f}×" if "seconds" in o else "-"
        o_s, o_m = (f"{o['seconds']:.2f}", f"{o['peak_mb']:.0f}") if "seconds" in o else ("-", "-")
        held = f"{o.get('models_mb', 0):.0f}/{d['models_mb']:.0f}" if "models_mb" in d else f"{o.get('models_mb', 0):.0f}/-"
        print(f"{r['recipe']:9s} {o_s:>11s} {d_s:>12s} {ratio:>9s} {o_m:>12s} {d_m:>13s} {held:>21s}")
        for side in ("syntumor", "difftumor"):
            note = r[side].get("error") or r[side].get("skipped")
            if note:
                print(f"  {side}: {note}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    if not args.no_results:
        page = _page("difftumor", "DiffTumor texture: per-tumour synthesis, SynTumor against DiffTumor's own sampler",
                     "One 96³ pancreas crop with a fixed tumour mask, early (DDPM, T = 4) and non-early (DDIM, 50 of "
                     "200 steps) recipes, random weights at the released configs. DiffTumor's side runs its own "
                     "`synthesize_early_tumor` / `synthesize_medium_tumor` from a private checkout outside this "
                     "repository (skipped without one).", args)
        table = []
        for r in rows:
            o, d = r["syntumor"], r["difftumor"]
            ratio = f"{d['seconds'] / o['seconds']:.2f}×" if "seconds" in o and "seconds" in d else "-"
            table.append((r["recipe"], cell(o, "seconds", "{:.2f}"), cell(d, "seconds", "{:.2f}"), ratio,
                          cell(o, "peak_mb", "{:.0f}"), cell(d, "peak_mb", "{:.0f}"),
                          cell(o, "models_mb", "{:.0f}"), cell(d, "models_mb", "{:.0f}")))
        page.table(["recipe", "SynTumor s", "DiffTumor s", "DiffTumor / SynTumor time", "SynTumor peak MB",
                    "DiffTumor peak MB", "SynTumor models MB", "DiffTumor models MB"], table)
        page.text("Peak: the process's peak RSS (CPU) or peak CUDA allocation. Models: parameters and buffers held "
                  "for synthesis (DiffTumor keeps a VQ-GAN copy in each diffusion model beside its own).")
        page.write(args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
