#!/usr/bin/env python
"""Benchmark of the latent-diffusion texture: sampling time per tumour (4 / 20 / 50 DDIM steps),
encode / decode time, training step time and peak memory, for the ``tiny`` and ``default`` configs.

Each configuration runs in its own process (so peak RSS is that configuration's own); weights are
random — speed depends on the architecture, not on the training. Prints a side-by-side table with
the default/tiny ratio and writes it to ``docs/results/diffusion.md`` (``--results DIR``, ``--no-results``).

    python benchmarks/bench_diffusion.py --threads 2 [--device cuda] [--configs tiny default]
    python benchmarks/bench_diffusion.py --configs tiny --repeat 1      # quickest
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from SynTumorLib.utils.results import ResultsPage  # noqa: E402

STEPS = (4, 20, 50)


def _timed(fn, repeat: int, sync) -> float:
    fn()  # warm-up (allocations, oneDNN primitive caches)
    sync()
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    sync()
    return (time.perf_counter() - t) / repeat


def bench_config(name: str, device: str, threads: int, repeat: int, queue) -> None:
    import torch

    torch.set_num_threads(threads)
    from SynTumorLib.texture.diffusion.autoencoder import TextureAutoencoder, build_discriminator
    from SynTumorLib.texture.diffusion.configs import load_config
    from SynTumorLib.texture.diffusion.diffusion_model import build_unet
    from SynTumorLib.texture.diffusion.pipeline import TumourTexturePipeline, condition

    dev = torch.device(device)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    cfg = load_config(name)
    n = int(cfg["crop"]["size"])
    torch.manual_seed(0)
    ae = TextureAutoencoder(cfg["autoencoder"]).to(dev).eval()
    lat_c = int(cfg["autoencoder"]["latent_channels"])
    unet = build_unet(cfg["diffusion"], lat_c).to(dev).eval()
    pipe = TumourTexturePipeline(ae, {"main": unet}, cfg["diffusion"])
    x = torch.rand(1, 1, n, n, n, device=dev)
    m = torch.zeros_like(x)
    m[..., n // 3: 2 * n // 3, n // 3: 2 * n // 3, n // 3: 2 * n // 3] = 1
    res: dict = {"config": name, "crop": f"{n}³ @ {cfg['crop']['spacing_mm']} mm", "device": device,
                 "threads": threads, "params_ae_M": sum(p.numel() for p in ae.parameters()) / 1e6,
                 "params_unet_M": sum(p.numel() for p in unet.parameters()) / 1e6}
    with torch.no_grad():
        z = ae.encode(x)
        res["encode_s"] = _timed(lambda: ae.encode(x), repeat, sync)
        res["decode_s"] = _timed(lambda: ae.decode(z), repeat, sync)
        for s in STEPS:
            g = torch.Generator().manual_seed(0)
            res[f"sample_ddim{s}_s"] = _timed(lambda s=s, g=g: pipe(x, m, 0, "ddim", s, generator=g), 1, sync)
    # training steps (forward + backward + optimizer), batch size of the config
    ae.train()
    disc = build_discriminator(cfg["discriminator"]).to(dev)
    bs = int(cfg["autoencoder_training"]["batch_size"])
    xb = torch.rand(bs, 1, n, n, n, device=dev)
    opt = torch.optim.Adam([*ae.parameters(), *disc.parameters()], lr=1e-4)

    def ae_step():
        recon, reg = ae(xb)
        loss = (recon - xb).abs().mean() + reg + disc(recon)[-1].pow(2).mean() + disc(xb)[-1].pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    res["train_ae_step_s"] = _timed(ae_step, max(1, repeat // 2), sync)
    unet.train()
    bd = int(cfg["diffusion_training"]["batch_size"])
    zl = torch.randn(bd, lat_c, n // 4, n // 4, n // 4, device=dev)
    y = torch.zeros(bd, 1, n // 4, n // 4, n // 4, device=dev)
    opt2 = torch.optim.AdamW(unet.parameters(), lr=1e-4)

    def dm_step():
        eps = unet(condition(zl, zl, y), timesteps=torch.randint(0, 200, (bd,), device=dev),
                   class_labels=torch.zeros(bd, dtype=torch.long, device=dev))
        loss = eps.pow(2).mean()
        opt2.zero_grad()
        loss.backward()
        opt2.step()

    res["train_diffusion_step_s"] = _timed(dm_step, max(1, repeat // 2), sync)
    res["batch_ae"], res["batch_diffusion"] = bs, bd
    res["peak_rss_GB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    if dev.type == "cuda":
        res["peak_cuda_GB"] = torch.cuda.max_memory_allocated() / 1e9
    queue.put(res)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="+", default=["tiny", "default"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the results to this JSON file")
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="results page folder")
    ap.add_argument("--no-results", action="store_true", help="print only; write no results page")
    args = ap.parse_args(argv)
    page = ResultsPage("diffusion", "Latent-diffusion texture: speed and memory",
                       f"Random weights (speed depends on the architecture, not on the training), device "
                       f"`{args.device}`, {args.threads} thread(s); each configuration in its own process so its peak "
                       f"memory is its own; times per tumour crop, mean of {args.repeat} call(s) after one warm-up.")
    ctx = mp.get_context("spawn")
    results = []
    for name in args.configs:
        q = ctx.Queue()
        p = ctx.Process(target=bench_config, args=(name, args.device, args.threads, args.repeat, q))
        p.start()
        results.append(q.get())
        p.join()
        print(f"{name}: done", flush=True)
    keys = [k for k in results[0] if k not in ("config",)]
    headers = ["measure", *(r["config"] for r in results)] + (["ratio"] if len(results) == 2 else [])
    rows = []
    for k in keys:
        vals = [r.get(k) for r in results]
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in vals]
        if len(results) == 2:
            a, b = vals
            cells.append(f"{b / a:.1f}×" if isinstance(a, float) and isinstance(b, float) and a > 0 else "")
        rows.append([k, *cells])
    page.table(headers, rows)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if not args.no_results:
        page.write(args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
