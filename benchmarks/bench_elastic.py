"""Benchmark: SynTumorLib's elastic deformation against ``elasticdeform.deform_random_grid`` (what the
reference code calls), side by side in one run, on the same tumour labels.

1. Speed — a tumour label in a full 512×512×120 volume (we work only around the tumour; elasticdeform
   deforms the whole array) and in a 96³ crop around it (the reference's use), for the paper's
   ``independent`` 3-D field and the reference's ``pairs`` passes.
2. Identity — fed the same control-point displacements, both produce the same mask (voxels that differ).
3. Statistics — independent random draws at equal σ (voxels = mm on a 1 mm grid), both on the same
   region (the tumour's box plus the default margin: about twice the tumour, the reference's 4r box):
   Dice to the clean mask, mean surface distance, HD95, changed fraction; mean ± sd per library and
   a two-sample Kolmogorov–Smirnov p-value.

Needs ``pip install --no-binary elasticdeform elasticdeform==0.5.1`` (the wheel fails with numpy 2).
Never run by the test suite. Prints the tables and writes them to ``docs/results/elastic.md``
(``--results DIR``, ``--no-results``). Run::

    python benchmarks/bench_elastic.py [--seeds 20] [--json out.json]
    python benchmarks/bench_elastic.py --skip-full --no-stats      # quickest
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from SynTumorLib.geometry.elastic import (  # noqa: E402
    PAIRS,
    control_point_displacements,
    deform_region,
    deformation_box,
    elastic_deform_mask,
)
from SynTumorLib.metrics import dice  # noqa: E402
from SynTumorLib.metrics.surface import hausdorff_from_distances, mean_from_distances, surface_distances  # noqa: E402
from SynTumorLib.utils.results import ResultsPage  # noqa: E402


def tumour_labels(diameters=(16, 28, 42)) -> list[tuple[str, np.ndarray]]:
    """Boolean tumour masks at 1 mm: phantom tumours (lobulated) when available, else ellipsoids."""
    out = []
    try:
        from SynTumorLib.data.phantom import generate_case
    except ImportError:
        generate_case = None
    for n, d in enumerate(diameters):
        if generate_case is not None:
            _, lab, _ = generate_case(2000 + n, spacing=(1.0, 1.0, 1.0), shape=(128, 128, 96), tumours=1,
                                      tumour_sizes=[float(d)])
            m = lab.array == 2
            name = f"phantom tumour d={d} mm"
        else:
            g = np.indices((96, 96, 96), dtype=np.float64) - 48
            m = (g[0] / (d * 0.4)) ** 2 + (g[1] / (d * 0.5)) ** 2 + (g[2] / (d * 0.6)) ** 2 <= 1
            name = f"ellipsoid d≈{d} mm"
        idx = np.nonzero(m)
        box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in idx)
        out.append((name, np.ascontiguousarray(m[box])))
    return out


def place(tumour: np.ndarray, shape, corner) -> np.ndarray:
    big = np.zeros(shape, dtype=np.uint8)
    big[tuple(slice(c, c + s) for c, s in zip(corner, tumour.shape, strict=True))] = tumour
    return big


def ref_random(ed, arr: np.ndarray, sigma: float, seed: int, mode: str) -> np.ndarray:
    """The reference's calls: deform_random_grid(order=0), 3-D or three axis-pair passes."""
    np.random.seed(seed)
    if mode == "independent":
        return ed.deform_random_grid(arr, sigma=sigma, points=3, order=0)
    for pair in PAIRS:
        arr = ed.deform_random_grid(arr, sigma=sigma, points=3, order=0, axis=pair)
    return arr


def timed(fn, repeat: int = 1) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def stats(clean: np.ndarray, outs: list[np.ndarray]) -> dict[str, np.ndarray]:
    rows = {"dice": [], "msd": [], "hd95": [], "changed": []}
    for o in outs:
        sd = surface_distances(o, clean, (1.0, 1.0, 1.0))
        rows["dice"].append(dice(o, clean))
        rows["msd"].append(mean_from_distances(sd))
        rows["hd95"].append(hausdorff_from_distances(sd, 95))
        rows["changed"].append(np.count_nonzero(o.astype(bool) ^ clean) / clean.sum())
    return {k: np.asarray(v) for k, v in rows.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="SynTumorLib elastic deformation vs elasticdeform")
    p.add_argument("--seeds", type=int, default=20, help="random draws per tumour, σ and library")
    p.add_argument("--sigmas", type=float, nargs="+", default=[1.0, 3.0], help="σ in voxels (= mm at 1 mm)")
    p.add_argument("--skip-full", action="store_true", help="skip the 512×512×120 timing (elasticdeform ≈ minutes)")
    p.add_argument("--no-stats", action="store_true", help="speed and identity only")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="results page folder")
    p.add_argument("--no-results", action="store_true", help="print only; write no results page")
    args = p.parse_args(argv)
    try:
        import elasticdeform as ed
    except ImportError:
        print("needs elasticdeform: pip install --no-binary elasticdeform elasticdeform==0.5.1", file=sys.stderr)
        return 2
    from scipy.stats import ks_2samp

    page = ResultsPage("elastic", "Elastic deformation against elasticdeform",
                       "The library's elastic deformation (`geometry.elastic`) side by side with "
                       "`elasticdeform.deform_random_grid` (what the reference code calls), on the same phantom "
                       "tumour labels at 1 mm (σ in voxels = σ in mm).")
    results: dict = {"timing": [], "identity": [], "statistics": []}
    tumours = tumour_labels()
    name, tum = tumours[1]
    cases = [("96³ crop around the tumour", (96, 96, 96), 1)]
    if not args.skip_full:
        cases.insert(0, ("full 120×512×512 label", (120, 512, 512), 1))
    rows = []
    for label, shape, rep in cases:
        corner = [(s - t) // 2 for s, t in zip(shape, tum.shape, strict=True)]
        arr = place(tum, shape, corner)
        for mode in ("independent", "pairs"):
            ours = timed(lambda a=arr, md=mode: elastic_deform_mask(a, 3.0, (1.0, 1.0, 1.0), seed=0, mode=md), 3)
            theirs = timed(lambda a=arr, md=mode: ref_random(ed, a, 3.0, 0, md), rep)
            results["timing"].append({"case": label, "mode": mode, "ours_s": ours, "elasticdeform_s": theirs})
            rows.append((label, mode, f"{ours:.3f}", f"{theirs:.3f}", f"{theirs / ours:.1f}×"))
    page.section("Speed", f"{name}, σ = 3 mm; SynTumorLib best of 3 runs, elasticdeform one run; seconds.")
    page.table(["case", "mode", "SynTumorLib s", "elasticdeform s", "SynTumorLib faster by"], rows)

    rows = []
    for name, tum in tumours:
        m = tum.astype(np.uint8)
        lo, hi = deformation_box(m, 3.0, (1.0, 1.0, 1.0))
        region = place(m, tuple(int(x) for x in hi - lo), [int(-x) for x in lo])
        for mode in ("independent", "pairs"):
            ours = deform_region(region, (3.0, 3.0, 3.0), np.random.default_rng(5), 3, mode)
            rng, theirs = np.random.default_rng(5), region
            for axes in ([(0, 1, 2)] if mode == "independent" else PAIRS):
                ctrl = control_point_displacements(rng, (3.0, 3.0, 3.0), 3, axes)
                theirs = ed.deform_grid(theirs, ctrl, order=0, mode="constant", axis=axes)
            n = int(np.count_nonzero(ours != theirs))
            results["identity"].append({"tumour": name, "mode": mode, "differing_voxels": n, "voxels": int(region.size)})
            rows.append((name, mode, n, f"{region.size:,d}"))
    page.section("Identity", "The same control-point displacements fed to both: voxels whose label differs.")
    page.table(["tumour", "mode", "differing voxels", "voxels"], rows)

    rows = []
    for name, tum in ([] if args.no_stats else tumours):
        m = tum.astype(np.uint8)
        for sigma in args.sigmas:
            lo, hi = deformation_box(m, sigma, (1.0, 1.0, 1.0))
            region = place(m, tuple(int(x) for x in hi - lo), [int(-x) for x in lo])
            clean = region.astype(bool)
            for mode in ("independent", "pairs"):
                ours = stats(clean, [elastic_deform_mask(region, sigma, (1.0, 1.0, 1.0), seed=1000 + s, mode=mode)
                                     for s in range(args.seeds)])
                theirs = stats(clean, [ref_random(ed, region, sigma, 2000 + s, mode) for s in range(args.seeds)])
                for k in ("dice", "msd", "hd95", "changed"):
                    pval = float(ks_2samp(ours[k], theirs[k]).pvalue)
                    results["statistics"].append({"tumour": name, "mode": mode, "sigma": sigma, "metric": k,
                                                  "ours_mean": float(ours[k].mean()), "ours_sd": float(ours[k].std()),
                                                  "ed_mean": float(theirs[k].mean()), "ed_sd": float(theirs[k].std()),
                                                  "ks_p": pval})
                    rows.append((name, mode, f"{sigma:g}", k, f"{ours[k].mean():.3f} ± {ours[k].std():.3f}",
                                 f"{theirs[k].mean():.3f} ± {theirs[k].std():.3f}", f"{pval:.2f}"))
    if rows:
        page.section("Statistics", f"{args.seeds} independent draws per tumour, σ and library, on the same region "
                     "(mean ± sd; KS p: two-sample Kolmogorov–Smirnov).")
        page.table(["tumour", "mode", "σ", "metric", "SynTumorLib", "elasticdeform", "KS p"], rows)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if not args.no_results:
        page.write(args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
