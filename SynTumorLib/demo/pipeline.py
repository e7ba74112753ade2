"""``syntumor demo``: a staged, resumable pipeline on the built-in phantom.

Stages are small functions sharing a :class:`DemoContext` (output folder, budget, seed, results).
Each stage returns a JSON-able results dict which is stored in ``<out>/demo_status.json`` together
with the stage's key (budget, seed, version); a re-run skips a stage whose key matches and whose
outputs exist, and re-runs every stage after one that ran. New stages (size analysis, insertion,
label noise, training, evaluation) are added to ``STAGES`` in order.

Example:
    >>> import tempfile
    >>> ctx = run_demo(tempfile.mkdtemp(), budget="tiny", seed=1, log=lambda s: None)
    >>> (ctx.out / "report.html").exists(), ctx.ran
    (True, ['cohort', 'check', 'report'])
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import __version__
from ..utils.atomic import write_json_atomic
from ..utils.errors import InputError
from ..utils.jsonio import read_json
from ..utils.progress import ProgressCallback
from ..utils.seeding import child_seed

STATUS_FILE = "demo_status.json"


@dataclass(frozen=True)
class Budget:
    """How much work the demo does. ``shape`` None → the phantom's full field of view."""

    name: str
    real_cases: int
    healthy_cases: int
    spacing: tuple[float, float, float]
    shape: tuple[int, int, int] | None
    figure_cases: int


BUDGETS: dict[str, Budget] = {
    # tests: 2 + 2 cases on a coarse grid around the pancreas
    "tiny": Budget("tiny", 2, 2, (4.0, 4.0, 4.0), (48, 40, 32), 2),
    # the default: minutes on 2 CPU cores
    "small": Budget("small", 8, 8, (2.0, 2.0, 2.0), (112, 96, 80), 4),
    # the paper's scale of ideas on a GPU machine: full field of view, fine grid
    "full": Budget("full", 40, 40, (1.0, 1.0, 1.5), None, 6),
}


@dataclass
class DemoContext:
    out: Path
    budget: Budget
    seed: int
    results: dict[str, dict] = field(default_factory=dict)
    progress_factory: Callable[[str], ProgressCallback] | None = None
    log: Callable[[str], None] = print
    ran: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def progress(self, stage: str) -> ProgressCallback | None:
        return self.progress_factory(stage) if self.progress_factory else None

    def child_seed(self, *keys: str | int) -> int:
        return child_seed(self.seed, *keys)

    @property
    def real_dir(self) -> Path:
        return self.out / "data" / "real_tumours"

    @property
    def healthy_dir(self) -> Path:
        return self.out / "data" / "healthy"


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    run: Callable[[DemoContext], dict]
    outputs: Callable[[DemoContext], list[Path]]


# ----------------------------------------------------------------------------- stages
def stage_cohort(ctx: DemoContext) -> dict:
    """Two phantom cohorts: 'real' tumour cases (MSD-like) and healthy cases (NIH/BTCV-like)."""
    from ..data.phantom import generate_cohort

    b = ctx.budget
    out = {}
    total = b.real_cases + b.healthy_cases
    cb = ctx.progress("cohort")
    for kind, path, n, tumours, prefix, offset in (
        ("real_tumours", ctx.real_dir, b.real_cases, True, "pancreas", 0),
        ("healthy", ctx.healthy_dir, b.healthy_cases, False, "healthy", b.real_cases),
    ):
        seed = ctx.child_seed("cohort", kind)

        def sub(f: float, msg: str, offset=offset, n=n) -> None:
            if cb:
                cb((offset + f * n) / total, msg)

        generate_cohort(path, n, seed, tumours=tumours, spacing=b.spacing, shape=b.shape,
                        name=f"SynTumorPhantom_{kind}", progress=sub, case_prefix=prefix)
        out[kind] = {"path": str(path.relative_to(ctx.out)), "seed": seed, "cases": n, "tumours_per_case": int(tumours),
                     "prefix": prefix}
    return out


def stage_check(ctx: DemoContext) -> dict:
    """Validate both cohorts with the dataset checker; a failed check fails the demo."""
    try:
        from ..data.check import check_dataset
    except ImportError as e:  # the checker is a separate module; say so instead of crashing
        return {"available": False, "message": f"dataset checker unavailable: {e}"}
    out: dict = {"available": True}
    cb = ctx.progress("check")
    dirs = {"real_tumours": ctx.real_dir, "healthy": ctx.healthy_dir}
    for i, (kind, path) in enumerate(dirs.items()):
        sub = (lambda f, m, i=i: cb((i + f) / len(dirs), m)) if cb else None
        rep = check_dataset(path, progress=sub)
        md = ctx.out / "checks" / f"{kind}.md"
        from ..utils.atomic import write_text_atomic

        write_text_atomic(md, rep.to_markdown())
        out[kind] = {"ok": rep.ok, "errors": rep.errors, "warnings": rep.warnings, "summary": rep.summary,
                     "markdown": str(md.relative_to(ctx.out))}
    return out


def stage_report(ctx: DemoContext) -> dict:
    from .report_stage import write_report

    return write_report(ctx)


STAGES: list[Stage] = [
    Stage("cohort", "Generate phantom cohorts", stage_cohort,
          lambda c: [c.real_dir / "dataset.json", c.healthy_dir / "dataset.json"]),
    Stage("check", "Check the cohorts", stage_check, lambda c: [c.out / "checks"]),
    Stage("report", "Write report.html", stage_report, lambda c: [c.out / "report.html"]),
]


# ----------------------------------------------------------------------------- runner
def _key(ctx: DemoContext, stage: Stage) -> str:
    blob = json.dumps({"stage": stage.name, "budget": asdict(ctx.budget), "seed": ctx.seed, "version": __version__},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_demo(out: str | os.PathLike = "demo_out", budget: str = "small", seed: int = 0, *,
             progress_factory: Callable[[str], ProgressCallback] | None = None,
             log: Callable[[str], None] = print, stages: list[Stage] | None = None) -> DemoContext:
    """Run (or resume) the demo in ``out``; returns the context with every stage's results."""
    if budget not in BUDGETS:
        raise InputError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out.resolve(), BUDGETS[budget], seed, progress_factory=progress_factory, log=log)
    status_path = ctx.out / STATUS_FILE
    status = read_json(status_path) if status_path.exists() else {}
    if status and (status.get("seed"), status.get("budget")) != (seed, budget):
        raise InputError(f"{out}: holds a demo run with seed {status.get('seed')} and budget "
                         f"{status.get('budget')!r}; use another --out or the same --seed/--budget")
    status.update({"seed": seed, "budget": budget, "version": __version__})
    status.setdefault("stages", {})
    rerun_rest = False
    for stage in stages or STAGES:
        key = _key(ctx, stage)
        prev = status["stages"].get(stage.name, {})
        done = (not rerun_rest and prev.get("key") == key and prev.get("done")
                and all(p.exists() for p in stage.outputs(ctx)))
        if done:
            ctx.results[stage.name] = prev.get("results", {})
            ctx.seconds[stage.name] = float(prev.get("seconds", 0.0))
            log(f"[{stage.name}] up to date — skipped ({stage.title})")
            continue
        log(f"[{stage.name}] {stage.title} …")
        t0 = time.perf_counter()
        results = stage.run(ctx)
        dt = time.perf_counter() - t0
        ctx.results[stage.name] = results
        ctx.seconds[stage.name] = round(dt, 2)
        ctx.ran.append(stage.name)
        rerun_rest = True  # later stages depend on this one's outputs
        status["stages"][stage.name] = {"done": True, "key": key, "seconds": round(dt, 2), "results": results,
                                        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_json_atomic(status_path, status)
        log(f"[{stage.name}] done in {dt:.1f} s")
    return ctx
