"""``syntumor demo``: a staged, resumable pipeline on the built-in phantom — the whole study on a CPU.

Stages (``_stages()``) share a :class:`DemoContext` (output folder, budget, seed, results): cohort
and split → dataset check → size quartiles → insertion gallery → diffusion texture (trained on the
train split, measured on the test split) → label-noise gallery → training of every arm through the
study runner → evaluation → ``report.html``. Each stage returns a JSON-able results dict which is
stored in ``<out>/demo_status.json`` together with the stage's key (budget, seed, version, plus
stage-specific settings such as a reused texture model), its wall and CPU seconds; a re-run skips a
stage whose key matches and whose outputs exist, and re-runs the stages after one that ran — all of
them, or only those it names in ``Stage.invalidates`` (the texture feeds only the report). Work
inside a stage resumes too: finished cases, texture checkpoints and finished study arms are kept.

Example:
    >>> import tempfile
    >>> ctx = run_demo(tempfile.mkdtemp(), budget="tiny", seed=1, log=lambda s: None)  # doctest: +SKIP
    >>> ctx.ran  # doctest: +SKIP
    ['cohort', 'check', 'sizes', 'insertion', 'texture', 'noise', 'train', 'evaluate', 'report']
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
from ..utils.timing import cpu_seconds

STATUS_FILE = "demo_status.json"


@dataclass(frozen=True)
class Budget:
    """How much work the demo does. ``shape`` None → the phantom's full field of view.

    Training keys are the study's ``budget`` (TrainConfig) values shared by every arm; ``channels``
    are the U-Net's feature channels; ``insert_cases`` healthy cases receive one tumour per class in
    the insertion gallery; ``seeds`` are the study seeds (each its own split shuffle and training).
    ``texture_*``: the diffusion texture's config name (``tiny`` | ``default``) and
    steps per training stage (None: the config's). ``study_jobs``: study runs trained side by side,
    one process each (the arms' tiny networks use one core each; see ``run_study(jobs=…)``).
    ``flip_prob``: the training augmentation's flip probability (None: the trainer's default).
    ``tumour_free_cases``: tumour-free phantom cases (``normal_###``) added to the real cohort and
    always tested, never trained on — the negatives of the patient-level AUROC.

    Args:
        name: the budget's name (``tiny`` | ``small`` | ``full``).
        real_cases: phantom cases with real tumours.
        healthy_cases: tumour-free phantom cases that receive synthetic tumours.
        spacing: phantom voxel size i j k in mm.
        shape: phantom grid i j k in voxels (None: the full field of view).
        figure_cases: cases drawn in the report's figures.
        insert_cases: healthy cases in the insertion gallery (one tumour per class each).
        crop: training crop edge in voxels.
        batch_size: training batch size.
        iterations: training iterations per arm.
        lr: learning rate.
        channels: the U-Net's feature channels per level.
        val_every: validate every this many iterations.
        test_fraction: share of the real cases tested.
        val_fraction: share of the remaining cases used for validation.
        seeds: study seeds (each its own split shuffle and training run).
        device: ``cpu`` | ``auto`` | ``cuda`` | ``cuda:N``.
        texture_config: the diffusion texture's config (``tiny`` | ``default``).
        texture_ae_steps: autoencoder training steps (None: the config's).
        texture_diffusion_steps: denoiser training steps (None: the config's).
        study_jobs: study runs trained side by side, one process each.
        flip_prob: the augmentation's flip probability (None: the trainer's default).
        tumour_free_cases: tumour-free test-only cases (AUROC negatives).
    """

    name: str
    real_cases: int
    healthy_cases: int
    spacing: tuple[float, float, float]
    shape: tuple[int, int, int] | None
    figure_cases: int
    insert_cases: int = 2
    crop: int = 32
    batch_size: int = 2
    iterations: int = 60
    lr: float = 3e-3
    channels: tuple[int, ...] = (8, 16, 32)
    val_every: int = 30
    test_fraction: float = 0.25
    val_fraction: float = 0.15
    seeds: tuple[int, ...] = (0,)
    device: str = "cpu"
    texture_config: str = "tiny"
    texture_ae_steps: int | None = None
    texture_diffusion_steps: int | None = None
    study_jobs: int = 1
    flip_prob: float | None = None  # None: the trainer's default augmentation
    tumour_free_cases: int = 0


BUDGETS: dict[str, Budget] = {
    # tests: 5 + 2 cases on a coarse grid, 2 training steps per arm and 3 per texture stage — checks
    # the chain, learns nothing
    "tiny": Budget("tiny", 6, 2, (4.0, 4.0, 4.0), (48, 40, 32), 2, insert_cases=1, crop=32, iterations=2,
                   lr=1e-3, channels=(4, 8, 16), val_every=2, test_fraction=0.34, val_fraction=0.0,
                   texture_ae_steps=3, texture_diffusion_steps=3, tumour_free_cases=1),
    # the default, sized for a laptop CPU (measured: docs/results/demo.md): 2 mm grid around the pancreas,
    # 10 arms; split 10/2/20 tumour cases + 6 tumour-free test cases (evaluation is cheap, and 20 paired
    # test cases give the paired intervals some width to speak of).
    # The arms: 500 steps of batch 2 at 40³ on one torch thread each, two arms at a time, lr 5e-3, no
    # flips — at this scale a U-Net tells tumour from pancreas only after a few hundred steps, and
    # mirrored crops delay that further (found with the smoke specs; 200 steps learnt the pancreas only).
    # The texture: the tiny config cut to 300 autoencoder / 600 denoiser steps (of its 600 / 1500) — a
    # trained but short-trained model (docs/guide/demo.md; times: docs/results/demo.md)
    "small": Budget("small", 32, 4, (2.0, 2.0, 2.0), (64, 56, 48), 4, insert_cases=2, crop=40, iterations=500,
                    lr=5e-3, channels=(8, 16, 32, 64), val_every=100, test_fraction=0.625, val_fraction=0.15,
                    texture_ae_steps=300, texture_diffusion_steps=600, study_jobs=2, flip_prob=0.0,
                    tumour_free_cases=6),
    # a GPU machine: more cases at 1.5 mm, 96³ crops, the paper's U-Net channels, 3 seeds; the texture
    # is the whole `tiny` config (the `default` one needs 100k + 200k GPU steps: train it apart
    # with `syntumor train` and pass it with --texture-model)
    "full": Budget("full", 60, 20, (1.5, 1.5, 1.5), (160, 128, 96), 6, insert_cases=3, crop=96, iterations=4000,
                   lr=1e-3, channels=(16, 32, 64, 128, 256), val_every=500, test_fraction=0.4, val_fraction=0.15,
                   seeds=(0, 1, 2), device="auto", texture_config="tiny", tumour_free_cases=10),
}


@dataclass
class DemoContext:
    """What every stage sees: the output folder, the budget, the master seed and earlier results."""

    out: Path
    budget: Budget
    seed: int
    results: dict[str, dict] = field(default_factory=dict)
    progress_factory: Callable[[str], ProgressCallback] | None = None
    log: Callable[[str], None] = print
    texture_model: Path | None = None  # a texture model folder to measure instead of training one
    ran: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)

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

    @property
    def study_dir(self) -> Path:
        return self.out / "study"

    @property
    def sizes_dir(self) -> Path:
        return self.out / "sizes"

    @property
    def img_dir(self) -> Path:
        return self.out / "img"


@dataclass(frozen=True)
class Stage:
    """One resumable step: ``run(ctx) -> results`` and the files whose absence forces a re-run.

    ``key_extra(ctx)``: settings besides budget and seed that change the result (part of the key);
    ``invalidates``: the later stages that read its outputs and must re-run after it ran (None: all).
    """

    name: str
    title: str
    run: Callable[[DemoContext], dict]
    outputs: Callable[[DemoContext], list[Path]]
    key_extra: Callable[[DemoContext], dict] | None = None
    invalidates: tuple[str, ...] | None = None


def _stage_report(ctx: DemoContext) -> dict:
    from .report_stage import write_report

    return write_report(ctx)


def _stages() -> list[Stage]:
    """The demo's stages in order (imported lazily: the CLI's --help must not import torch)."""
    from . import stages_data as d
    from . import stages_study as s
    from . import stages_texture as t

    return [
        Stage("cohort", "Generate phantom cohorts and the train/val/test split", d.stage_cohort,
              lambda c: [c.real_dir / "dataset.json", c.healthy_dir / "dataset.json", c.out / "splits.json"]),
        Stage("check", "Check the cohorts", d.stage_check, lambda c: [c.out / "checks"]),
        Stage("sizes", "Tumour-size quartiles → size classes", d.stage_sizes,
              lambda c: [c.sizes_dir / "size_classes.json", c.img_dir / "size_histogram.png"]),
        Stage("insertion", "Insert synthetic tumours of every class", d.stage_insertion,
              lambda c: [c.out / "insertion" / "insertions.json"]),
        Stage("texture", "Train the diffusion texture on the train split, measure it on the test split",
              t.stage_texture, lambda c: [c.out / "texture" / "quality.json", c.img_dir / "texture_quality.png"],
              key_extra=t.key_extra, invalidates=("report",)),
        Stage("noise", "Corrupt tumour labels at four levels", d.stage_noise,
              lambda c: [c.img_dir / "noise_levels.png"]),
        Stage("train", "Train the segmenter arms (study runner)", s.stage_train,
              lambda c: [c.study_dir / "results.csv", c.study_dir / "study.json"]),
        Stage("evaluate", "Evaluate on the test cases", s.stage_evaluate,
              lambda c: [c.out / "evaluation.json", c.img_dir / "dsc_by_arm.png"]),
        Stage("report", "Write report.html", _stage_report, lambda c: [c.out / "report.html"]),
    ]


STAGE_NAMES = ("cohort", "check", "sizes", "insertion", "texture", "noise", "train", "evaluate", "report")


# ----------------------------------------------------------------------------- runner
def _key(ctx: DemoContext, stage: Stage) -> str:
    extra = stage.key_extra(ctx) if stage.key_extra else {}
    blob = json.dumps({"stage": stage.name, "budget": asdict(ctx.budget), "seed": ctx.seed, "version": __version__,
                       **({"extra": extra} if extra else {})}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_demo(out: str | os.PathLike = "demo_out", budget: str = "small", seed: int = 0, *,
             progress_factory: Callable[[str], ProgressCallback] | None = None,
             log: Callable[[str], None] = print, stages: list[Stage] | None = None,
             texture_model: str | os.PathLike | None = None) -> DemoContext:
    """Run (or resume) the demo in ``out``; returns the context with every stage's results.

    ``texture_model``: a diffusion texture model folder to measure in the texture stage instead of
    training one (its key changes, so that stage and the report re-run; the others are kept).
    """
    if budget not in BUDGETS:
        raise InputError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    if texture_model is not None and not Path(texture_model).is_dir():
        raise InputError(f"{texture_model}: texture model folder not found (give a folder made by "
                         "`syntumor train diffusion`, e.g. <demo out>/texture/model)")
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out.resolve(), BUDGETS[budget], seed, progress_factory=progress_factory, log=log,
                      texture_model=Path(texture_model).resolve() if texture_model is not None else None)
    status_path = ctx.out / STATUS_FILE
    status = read_json(status_path) if status_path.exists() else {}
    if status and (status.get("seed"), status.get("budget")) != (seed, budget):
        raise InputError(f"{out}: holds a demo run with seed {status.get('seed')} and budget "
                         f"{status.get('budget')!r}; use another --out or the same --seed/--budget")
    status.update({"seed": seed, "budget": budget, "version": __version__,
                   "texture_model": str(ctx.texture_model) if ctx.texture_model else None})
    status.setdefault("stages", {})
    rerun_rest, rerun = False, set()  # every later stage / the named ones must re-run
    for stage in stages or _stages():
        key = _key(ctx, stage)
        prev = status["stages"].get(stage.name, {})
        done = (not rerun_rest and stage.name not in rerun and prev.get("key") == key and prev.get("done")
                and all(p.exists() for p in stage.outputs(ctx)))
        if done:
            ctx.results[stage.name] = prev.get("results", {})
            ctx.seconds[stage.name] = float(prev.get("seconds", 0.0))
            ctx.cpu_seconds[stage.name] = float(prev.get("cpu_seconds", 0.0))
            log(f"[{stage.name}] up to date — skipped ({stage.title})")
            continue
        log(f"[{stage.name}] {stage.title} …")
        t0, c0 = time.perf_counter(), cpu_seconds()
        results = stage.run(ctx)
        dt, dc = round(time.perf_counter() - t0, 2), round(cpu_seconds() - c0, 2)
        ctx.results[stage.name] = results
        ctx.seconds[stage.name], ctx.cpu_seconds[stage.name] = dt, dc
        ctx.ran.append(stage.name)
        if stage.invalidates is None:
            rerun_rest = True  # later stages depend on this one's outputs
        else:
            rerun.update(stage.invalidates)
        status["stages"][stage.name] = {"done": True, "key": key, "seconds": dt, "cpu_seconds": dc,
                                        "results": results, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_json_atomic(status_path, status)
        log(f"[{stage.name}] done in {dt:.1f} s ({dc:.1f} s CPU)")
    return ctx
