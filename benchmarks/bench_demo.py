"""Benchmark: how long ``syntumor demo`` takes, per stage, and what its arms reach — as a results page.

Runs the demo in a fresh folder in a child process (``python -m SynTumorLib demo``, one torch thread
per process as the demo is meant to run on a laptop CPU), measures its wall time, CPU time and peak
memory, and writes ``docs/results/demo.md`` with the stage times from ``demo_status.json`` and the
tumour DSC / NSD per arm from ``study/arms.csv``. Never run by the test suite.

    python benchmarks/bench_demo.py                     # the default budget (small), seed 0
    python benchmarks/bench_demo.py --budget tiny       # quickest: the chain only, learns nothing
    python benchmarks/bench_demo.py --out DIR --keep    # keep the demo's output folder
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from SynTumorLib.utils.results import ResultsPage  # noqa: E402


def _pct(row: dict, key: str) -> str:
    mean, sd = row.get(f"{key}_mean"), row.get(f"{key}_sd")
    if mean in (None, ""):
        return "–"
    return f"{100 * float(mean):.1f} ± {100 * float(sd or 0):.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", default="small", help="demo budget: tiny | small | full (default small)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="demo output folder (must not hold a demo yet; default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the output folder (a temporary one is removed)")
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the demo (default 1)")
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "results", help="results page folder")
    ap.add_argument("--no-results", action="store_true", help="print only; write no results page")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="syntumor-demo-"))
    if (out / "demo_status.json").exists():
        print(f"{out} already holds a demo: a re-run would skip its finished stages; use a new folder", file=sys.stderr)
        return 2
    command = ["-m", "SynTumorLib", "demo", "--budget", args.budget, "--seed", str(args.seed)]
    page = ResultsPage("demo", "The demo: time per stage and what the arms learn",
                       f"The whole demo in a fresh folder (`syntumor demo --budget {args.budget} --seed {args.seed}`, "
                       f"`OMP_NUM_THREADS={args.threads}`). The train stage's CPU seconds include its worker processes. "
                       "Phantom figures are not clinical results; with few test cases the differences between arms "
                       "are noise.")
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MPLBACKEND": "Agg", "PYTHONPATH": str(REPO)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *command, "--out", str(out)], env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        if proc.returncode not in (0, 1):  # 1: a dataset check failed, the demo still finished
            print(f"syntumor demo failed (exit {proc.returncode}); no results page written", file=sys.stderr)
            return proc.returncode
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        peak_gb = after.ru_maxrss / 2**20  # kB on Linux
        status = json.loads((out / "demo_status.json").read_text(encoding="utf-8"))
        stages = status["stages"]
        page.section("Time per stage", f"Whole run: **{wall:.0f} s** wall ({wall / 60:.1f} min), {cpu:.0f} s CPU, "
                     f"peak memory of one process {peak_gb:.1f} GB.")
        page.table(["stage", "wall s", "CPU s"],
                   [(name, f"{st['seconds']:.1f}", f"{st.get('cpu_seconds', 0.0):.1f}") for name, st in stages.items()]
                   + [("**total**", f"{sum(st['seconds'] for st in stages.values()):.0f}",
                       f"{sum(st.get('cpu_seconds', 0.0) for st in stages.values()):.0f}")])
        arms_csv = out / "study" / "arms.csv"
        if arms_csv.exists():
            with arms_csv.open(encoding="utf-8", newline="") as f:
                arms = list(csv.DictReader(f))
            page.section("What the arms reach", "Tumour DSC and NSD at 2 mm on the test cases with a tumour, "
                         "mean ± sd over test cases (%); lesion sensitivity; training seconds per run.")
            page.table(["arm", "test cases", "tumour DSC %", "tumour NSD %", "lesion sensitivity", "train s"],
                       [(r["arm"], r.get("n_cases", ""), _pct(r, "dsc"), _pct(r, "nsd"),
                         r.get("lesion_sensitivity", ""), r.get("train_s_mean", "")) for r in arms])
        if not args.no_results:
            page.write(args.results)
    finally:
        if args.out is None and not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
