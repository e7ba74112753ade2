#!/usr/bin/env python
"""What the NIfTI integrity check costs: ``read_volume`` (ITK read + one streaming pass over the gzip
stream, CRC-32 and length checked, NaN counted for float data) against ITK's read alone, for a CT-like
int16 volume and a float32 one. Prints seconds and the ratio, and writes ``docs/results/io-integrity.md``
(stamped with commit, date, machine and load).

    .venv/bin/python benchmarks/bench_io_integrity.py [--shape 128 512 512] [--repeat 3] [--no-results]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from SynTumorLib.utils.results import ResultsPage  # noqa: E402  (at the top: the page's start load is read now)


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    import numpy as np
    import SimpleITK as sitk

    from SynTumorLib import Volume
    from SynTumorLib.data.integrity import verify_nifti
    from SynTumorLib.data.io import read_volume, write_volume

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", type=int, nargs=3, default=(128, 512, 512), metavar=("K", "J", "I"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="results page folder")
    ap.add_argument("--no-results", action="store_true", help="print only; write no results page")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, dtype in (("int16 CT", np.int16), ("float32", np.float32)):
            # smooth-ish values compress like a CT does (pure noise would not compress at all)
            base = rng.normal(0, 200, (args.shape[0], 64, 64)).astype(np.float32)
            arr = np.kron(base, np.ones((1, args.shape[1] // 64, args.shape[2] // 64), np.float32)).astype(dtype)
            p = write_volume(Volume.from_geometry(arr, spacing=(0.8, 0.8, 2.5)), Path(d) / f"{dtype.__name__}.nii.gz")
            itk = _best(lambda p=p: sitk.GetArrayViewFromImage(sitk.ReadImage(str(p))), args.repeat)
            check = _best(lambda p=p, f=dtype is np.float32: verify_nifti(p, count_nonfinite=f), args.repeat)
            ours = _best(lambda p=p: read_volume(p), args.repeat)
            rows.append((name, p.stat().st_size / 2**20, arr.nbytes / 2**20, itk, check, ours))
    print(f"{'volume':10s} {'file MiB':>9s} {'data MiB':>9s} {'ITK read s':>11s} {'check s':>8s} "
          f"{'read_volume s':>14s} {'read_volume / ITK':>18s}")
    for name, fmib, dmib, itk, check, ours in rows:
        print(f"{name:10s} {fmib:9.1f} {dmib:9.1f} {itk:11.3f} {check:8.3f} {ours:14.3f} {ours / itk:18.2f}")
    if not args.no_results:
        page = ResultsPage("io-integrity", "Reading NIfTI with the integrity check",
                           "`read_volume` verifies a `.nii.gz` before trusting it (gzip CRC-32 and length, the data "
                           "size the header promises; NaN counted for float data), because ITK zero-fills a "
                           "truncated stream without an error. This is what that costs next to ITK's read alone.")
        page.section(f"Best of {args.repeat} reads, seconds",
                     f"A {args.shape[0]}×{args.shape[1]}×{args.shape[2]} volume (k×j×i) of smooth values that "
                     "compress like a CT.")
        page.table(["volume", "file MiB", "data MiB", "ITK read s", "check alone s", "read_volume s", "read_volume / ITK"],
                   [(n, f"{f:.1f}", f"{d:.1f}", f"{i:.3f}", f"{c:.3f}", f"{o:.3f}", f"{o / i:.2f}×")
                    for n, f, d, i, c, o in rows])
        page.write(args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
