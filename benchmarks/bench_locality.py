"""Benchmark: the elastic deformation and the NSD work only around the objects — the cost of a small
tumour in a large CT against the same tumour in a crop around it, side by side in one run.

These were wall-clock assertions in the test suite (< 3 s, < 2 s on a shared 2-core machine, where a
busy neighbour made them flaky); the tests now check that the large-grid result equals the cropped
one, and this script measures the cost. A ratio near 1 means the large grid costs nothing extra.
Never run by the test suite; writes ``docs/results/locality.md`` (stamped). Run::

    .venv/bin/python benchmarks/bench_locality.py [--repeat 5] [--no-results]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from SynTumorLib.geometry.elastic import elastic_deform_mask  # noqa: E402
from SynTumorLib.metrics.surface import normalized_surface_dice  # noqa: E402
from SynTumorLib.utils.results import ResultsPage  # noqa: E402  (at the top: the page's start load is read now)

SPACING = (2.5, 0.8, 0.8)


def _median_s(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="results page folder")
    ap.add_argument("--no-results", action="store_true", help="print only; write no results page")
    args = ap.parse_args(argv)
    big = np.zeros((120, 512, 512), bool)
    big[55:65, 240:255, 250:262] = True
    box = (slice(35, 85), slice(200, 300), slice(210, 310))
    crop = np.ascontiguousarray(big[box])
    shifted = np.roll(big, 2, axis=0)
    rows = [
        ("elastic_deform_mask", lambda: elastic_deform_mask(big, 2.0, SPACING, seed=0),
         lambda: elastic_deform_mask(crop, 2.0, SPACING, seed=0)),
        ("normalized_surface_dice", lambda: normalized_surface_dice(big, shifted, SPACING),
         lambda: normalized_surface_dice(crop, np.ascontiguousarray(shifted[box]), SPACING)),
    ]
    print(f"{'function':26s} {'512²×120 (s)':>14s} {'crop 100²×50 (s)':>18s} {'ratio':>7s}")
    measured = []
    for name, on_big, on_crop in rows:
        a, b = _median_s(on_big, args.repeat), _median_s(on_crop, args.repeat)
        measured.append((name, a, b))
        print(f"{name:26s} {a:14.4f} {b:18.4f} {a / b:7.2f}")
    if not args.no_results:
        page = ResultsPage("locality", "Work only around the tumour: a small tumour in a whole CT vs in a crop",
                           "The elastic deformation and the NSD restrict their work to a box around the objects, "
                           "so a 10×15×12-voxel tumour in a 120×512×512 grid (63× the voxels of a 50×100×100 crop "
                           "around it) costs far less than 63× the crop's time; what remains is the pass that finds "
                           "the objects' box. The tests check that the results are equal.")
        page.section(f"Median of {args.repeat} calls, seconds", "Spacing 2.5 × 0.8 × 0.8 mm (k, j, i).")
        page.table(["function", "120×512×512 s", "crop 50×100×100 s", "whole / crop"],
                   [(n, f"{a:.4f}", f"{b:.4f}", f"{a / b:.2f}×") for n, a, b in measured])
        page.write(args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
