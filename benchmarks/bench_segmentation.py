"""Segmentation benchmarks (never run by the test suite; heavy on a CPU).

1. Training step (forward + backward + AdamW, batch 1, 96³, Dice+CE) time and peak memory per
   network (each network in a fresh subprocess so the peak RSS is its own).
2. Sliding-window inference on a 512×512×120 CT (0.8×0.8×2.5 mm → 1 mm model grid), overlap
   0.25 vs 0.5 side by side. On a CPU the full run is too slow to repeat, so the script measures
   (a) the time of one 96³ window of the paper U-Net and (b) the *whole* pipeline (resampling,
   Gaussian-blended aggregation over the real number of windows, argmax, resampling back) with a
   trivial network, and reports total ≈ (b) + windows × (a). With ``--full`` it runs the real thing.

3. ``--small-step``: the smoke/tiny-cpu step (U-Net 8–64 channels, batch 2, 40³ crops, Dice+CE,
   AdamW) with 1 vs 2 intra-op threads side by side, CPU and wall time per step (why the trainer
   uses one thread for small CPU steps; see ``segmentation.train.cpu_threads``).

Prints the tables and writes them to ``docs/results/segmentation.md`` (``--small-step``:
``docs/results/segmentation-threads.md``); ``--results DIR``, ``--no-results``.

Usage:
    python benchmarks/bench_segmentation.py [--threads 2] [--networks unet dynunet swinunetr] [--full]
    python benchmarks/bench_segmentation.py --small-step
    python benchmarks/bench_segmentation.py --networks unet --steps 2 --skip-inference   # quickest
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from SynTumorLib.utils.results import ResultsPage  # noqa: E402

CROP = (96, 96, 96)
PAPER = {
    "unet": {"name": "unet", "args": {}},
    "dynunet": {"name": "dynunet", "args": {}},
    "swinunetr": {"name": "swinunetr", "args": {"feature_size": 48}},
}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one_network(name: str, steps: int, threads: int) -> dict:
    import torch

    from SynTumorLib.segmentation.networks import build_network, resolve_network_spec
    from SynTumorLib.segmentation.train import compute_loss, make_loss

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = resolve_network_spec(PAPER[name], CROP, (1.0, 1.0, 1.0))
    net = build_network(spec)
    n_params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    loss_fn = make_loss()
    x = torch.rand(1, 1, *CROP)
    y = torch.randint(0, 3, (1, 1, *CROP))
    base = rss_mb()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        opt.zero_grad()
        compute_loss(loss_fn, net(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return {"network": name, "params_M": round(n_params / 1e6, 2), "steps": steps,
            "step_s": [round(t, 2) for t in times], "peak_rss_MB": round(rss_mb()), "rss_before_MB": round(base)}


def inference(threads: int, full: bool, full_overlaps: tuple[float, ...] = (0.25, 0.5)) -> dict:
    import torch
    from monai.data.utils import dense_patch_slices

    from SynTumorLib.data.resample import resample_to_spacing
    from SynTumorLib.data.volume import Volume
    from SynTumorLib.segmentation.config import TrainConfig
    from SynTumorLib.segmentation.inference import predict_volume
    from SynTumorLib.segmentation.model_folder import LoadedModel
    from SynTumorLib.segmentation.networks import build_network, resolve_network_spec

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    ct = Volume.from_geometry(rng.integers(-200, 200, (120, 512, 512)).astype(np.int16), spacing=(0.8, 0.8, 2.5))
    model_grid = resample_to_spacing(ct, (1.0, 1.0, 1.0), is_label=False).shape
    cfg = TrainConfig.from_dict({"data": {"real": "x"}, "spacing": [1.0, 1.0, 1.0], "crop_size": list(CROP)})

    class Trivial(torch.nn.Module):  # no compute: measures everything but the network
        def forward(self, x):
            return torch.cat([x, 1 - x, 0.5 * x], 1)

    torch.manual_seed(0)
    unet = build_network(resolve_network_spec(PAPER["unet"], CROP, (1, 1, 1))).eval()
    x = torch.rand(1, 1, *CROP)
    with torch.inference_mode():
        unet(x)
        t = time.perf_counter()
        for _ in range(3):
            unet(x)
        per_window = (time.perf_counter() - t) / 3
    out = {"ct_shape_kji": list(ct.shape), "model_grid_kji": list(model_grid), "unet_window_s": round(per_window, 3)}
    for overlap in (0.25, 0.5):
        scan = [max(int(r * (1 - overlap)), 1) for r in CROP]
        n = len(dense_patch_slices(model_grid, CROP, scan))
        lm = LoadedModel(Trivial(), cfg, {}, None, torch.device("cpu"))
        t = time.perf_counter()
        seg = predict_volume(lm, ct, device="cpu", overlap=overlap)
        overhead = time.perf_counter() - t
        assert seg.same_grid(ct)
        row = {"windows": n, "pipeline_without_network_s": round(overhead, 1),
               "estimated_total_s": round(overhead + n * per_window, 1)}
        if full and overlap in full_overlaps:
            lm = LoadedModel(unet, cfg, {}, None, torch.device("cpu"))
            t = time.perf_counter()
            predict_volume(lm, ct, device="cpu", overlap=overlap)
            row["measured_total_s"] = round(time.perf_counter() - t, 1)
        out[f"overlap_{overlap}"] = row
    out["peak_rss_MB"] = round(rss_mb())
    return out


def small_step(threads: int, steps: int = 8) -> dict:
    import torch

    from SynTumorLib.segmentation.networks import build_network, resolve_network_spec
    from SynTumorLib.segmentation.train import compute_loss, make_loss

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    crop = (40, 40, 40)
    net = build_network(resolve_network_spec(
        {"name": "unet", "args": {"channels": [8, 16, 32, 64], "strides": [2, 2, 2], "num_res_units": 1}}, crop, (2, 2, 2)))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    loss_fn = make_loss()
    x, y = torch.rand(2, 1, *crop), torch.randint(0, 3, (2, 1, *crop))
    cpu, wall = [], []
    for _ in range(steps + 1):
        c, w = time.process_time(), time.perf_counter()
        opt.zero_grad()
        compute_loss(loss_fn, net(x), y).backward()
        opt.step()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return {"threads": threads, "cpu_s": round(float(np.median(cpu[1:])), 3), "wall_s": round(float(np.median(wall[1:])), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--networks", nargs="+", default=["unet", "dynunet", "swinunetr"])
    ap.add_argument("--steps", type=int, default=3, help="training steps per network (SwinUNETR: 1)")
    ap.add_argument("--full", action="store_true", help="also run the real sliding-window inference (slow on CPU)")
    ap.add_argument("--full-overlaps", nargs="+", type=float, default=[0.25, 0.5],
                    help="with --full: the overlaps run for real (0.5 has 2.7× the windows)")
    ap.add_argument("--skip-inference", action="store_true")
    ap.add_argument("--small-step", action="store_true", help="only the 1- vs 2-thread tiny-U-Net step comparison")
    ap.add_argument("--_one", help=argparse.SUPPRESS)
    ap.add_argument("--_small", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="results page folder")
    ap.add_argument("--no-results", action="store_true", help="print only; write no results page")
    a = ap.parse_args()
    if a._small:
        print(json.dumps(small_step(a._small)))
        return
    if a._one:
        print(json.dumps(one_network(a._one, 1 if a._one == "swinunetr" else a.steps, a.threads)))
        return
    if a.small_step:
        page = ResultsPage("segmentation-threads", "Small CPU training steps: one thread or two",
                           "The smoke/tiny-cpu step (U-Net 8–64 channels, batch 2, 40³ crops, Dice+CE, AdamW), "
                           "median of 8 steps after one warm-up, each thread count in its own process — why the "
                           "trainer uses one intra-op thread for small CPU steps.")
        rows = [json.loads(subprocess.run([sys.executable, __file__, "--_small", str(t)], capture_output=True, text=True,
                                          check=True).stdout.strip().splitlines()[-1]) for t in (1, 2)]
        page.table(["intra-op threads", "CPU s / step", "wall s / step"], [(r["threads"], r["cpu_s"], r["wall_s"]) for r in rows])
        page.text(f"2 threads / 1 thread: CPU {rows[1]['cpu_s'] / rows[0]['cpu_s']:.1f}×, "
                  f"wall {rows[1]['wall_s'] / rows[0]['wall_s']:.2f}×.")
        if not a.no_results:
            page.write(a.results)
        return
    import torch

    page = ResultsPage("segmentation", "Segmenters: training step and whole-CT inference",
                       f"torch {torch.__version__}, {a.threads} intra-op thread(s), CUDA available: "
                       f"{torch.cuda.is_available()} (these measurements run on the CPU).")
    rows = []
    for name in a.networks:
        r = subprocess.run([sys.executable, __file__, "--_one", name, "--threads", str(a.threads), "--steps", str(a.steps)],
                           capture_output=True, text=True)
        if r.returncode:
            print(r.stderr[-2000:])
            continue
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    if rows:
        page.section("Training step", f"Forward + backward + AdamW, batch 1, 96³ crop, Dice+CE, the paper's settings; "
                     f"median of steps 2–{a.steps} (SwinUNETR: one step, warm-up included); each network in its own "
                     "process so the peak memory is its own.")
        ref = np.median(rows[0]["step_s"][1:] or rows[0]["step_s"])
        table = []
        for r in rows:
            t = float(np.median(r["step_s"][1:] or r["step_s"]))  # first step includes allocator warm-up
            table.append((r["network"], r["params_M"], f"{t:.2f}", f"{t / ref:.1f}×", f"{r['peak_rss_MB'] / 1024:.1f}"))
        page.table(["network", "params (M)", "train step s", f"vs {rows[0]['network']}", "peak RSS (GB)"], table)
    if not a.skip_inference:
        inf = inference(a.threads, a.full, tuple(a.full_overlaps))
        q, h = inf["overlap_0.25"], inf["overlap_0.5"]
        page.section("Whole-CT sliding-window inference",
                     f"The paper U-Net on a 512×512×120 CT at 0.8×0.8×2.5 mm (→ {inf['model_grid_kji']} voxels on the "
                     f"1 mm model grid), 96³ windows, Gaussian blending, resampling both ways, argmax. One window: "
                     f"{inf['unet_window_s']} s; the estimate is the pipeline with a trivial network + windows × one "
                     f"window. Peak RSS {inf['peak_rss_MB'] / 1024:.1f} GB.")
        table = [("96³ windows", q["windows"], h["windows"], f"{h['windows'] / q['windows']:.2f}"),
                 ("pipeline without the network (s)", q["pipeline_without_network_s"], h["pipeline_without_network_s"], ""),
                 ("estimated total (s)", q["estimated_total_s"], h["estimated_total_s"],
                  f"{h['estimated_total_s'] / q['estimated_total_s']:.2f}")]
        if "measured_total_s" in q or "measured_total_s" in h:
            table.append(("**measured total (s)**", q.get("measured_total_s", "–"), h.get("measured_total_s", "–"), ""))
        page.table(["", "overlap 0.25", "overlap 0.5", "ratio"], table)
    if not a.no_results:
        page.write(a.results)


if __name__ == "__main__":
    main()
