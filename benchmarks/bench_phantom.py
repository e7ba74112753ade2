"""Benchmark: time to generate one phantom case, small (128³ at 1.5 mm) vs large (512×512×120 at
0.8×0.8×2.5 mm — a typical clinical abdominal CT grid), with one tumour.

Prints and writes (``docs/results/phantom.md``) wall and CPU seconds (best of ``--repeats``),
throughput, and the large/small ratios side by side: the time ratio against the voxel-count ratio
shows how far generation scales sub-linearly (per-case fixed costs) or linearly (per-voxel costs:
HU lookup, noise, blur).

    python benchmarks/bench_phantom.py [--repeats 2] [--seed 1] [--results DIR | --no-results]

Targets (issue 2): small < 2 s, large < 20 s on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from SynTumorLib.utils.results import ResultsPage  # noqa: E402


def _time(fn, repeats: int) -> tuple[float, float]:
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="results page folder")
    ap.add_argument("--no-results", action="store_true", help="print only; write no results page")
    args = ap.parse_args()
    from SynTumorLib.data.phantom import generate_case

    page = ResultsPage("phantom", "Phantom generation speed",
                       "Time to generate one phantom case with one tumour, small grid against a clinical one "
                       f"(best of {args.repeats}). Targets: small < 2 s, large < 20 s on 2 cores.")
    generate_case(args.seed, spacing=(6, 6, 6), tumours=1)  # warm-up: imports, BLAS threads
    cases = {
        "small 128³ @ 1.5 mm": dict(spacing=(1.5, 1.5, 1.5), shape=(128, 128, 128)),
        "large 512×512×120 @ 0.8×0.8×2.5 mm": dict(spacing=(0.8, 0.8, 2.5), shape=(512, 512, 120)),
    }
    rows = []
    for name, kw in cases.items():
        n = kw["shape"][0] * kw["shape"][1] * kw["shape"][2]
        wall, cpu = _time(lambda kw=kw: generate_case(args.seed, tumours=1, **kw), args.repeats)
        rows.append((name, n, wall, cpu))
    page.table(["case", "voxels", "wall s", "CPU s", "Mvoxel/s"],
               [(name, f"{n:,d}", f"{wall:.2f}", f"{cpu:.2f}", f"{n / wall / 1e6:.2f}") for name, n, wall, cpu in rows])
    (_, n0, w0, c0), (_, n1, w1, c1) = rows
    page.text(f"Large / small: voxels ×{n1 / n0:.1f}, wall time ×{w1 / w0:.1f}, CPU time ×{c1 / c0:.1f}. "
              f"Targets: small < 2 s → {'met' if w0 < 2 else 'missed'}; large < 20 s → {'met' if w1 < 20 else 'missed'} "
              "(wall time).")
    if not args.no_results:
        page.write(args.results)


if __name__ == "__main__":
    main()
