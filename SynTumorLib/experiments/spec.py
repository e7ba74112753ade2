"""A study spec: which arms to train and evaluate, on which data, with which split, seeds and budget.

A spec is JSON (``SynTumorLib/experiments/specs/*.json`` ship the paper's tables and smoke
versions). Keys::

    name, title            identifiers for the outputs
    table                  "size" (Table 1 layout) or "noise" (Tables 2–3 layout)
    datasets.real          real-tumour dataset (MSD Task07 …) or "phantom"
    datasets.healthy       list of healthy datasets (NIH, BTCV …) or ["phantom"]; [] when unused
    phantom                {n_real, n_healthy, seed, spacing, fov_mm, tumours, n_tumour_free} when a dataset
                           is "phantom" (n_tumour_free: tumour-free cases normal_### added to the real cohort)
    split                  {test_fraction, val_fraction} (4:1 as the paper) or {n_folds, folds, val_fraction};
                           optional "seed": one split shuffle for every study seed (null: each seed its own),
                           "test_only": case-id patterns (e.g. ["normal_*"]) always tested, never trained on
    seeds                  list of integer seeds (each seed: one training run per arm, and its own split
                           shuffle unless split.seed is set)
    arms                   {models: [...], sizes: [...], noise: [...]} — expanded to baselines + every
                           model × size (sizes except "none") + every model × noise level; or a list of
                           {model, size, noise, seeds} objects ("seeds": that arm's own seeds)
    budget                 TrainConfig keys shared by the MONAI arms (iterations, crop_size, batch_size …)
    models                 per model: {"model": {name, args}, ...other TrainConfig keys}; "nnunet":
                           NNUNetConfig keys (epochs, iterations_per_epoch, …)
    synthesis              {synthetic_prob, offline_copies, size_classes} — online probability; offline
                           copies per healthy case for nnU-Net size arms; the size classes the size arms
                           draw from: a preset ("syntumor", the default, or "difftumor"), a size-class
                           JSON as ``syntumor sizes analyze`` writes (a relative path in a spec file is
                           resolved against the file's folder, one given with --set against the working
                           directory) or such an object inline; a file is held as its content. Every size arm (tiny … large)
                           must be a class of it; "mixed" draws with its probabilities; "texture": the
                           tumours' texture, online and offline: "statistical" (default), a fitted-texture
                           JSON or a model folder (SynTumor's diffusion, or DiffTumor's released models as
                           ``syntumor models import difftumor`` writes them; a relative path in a spec file
                           is resolved against its folder), or {"name": "difftumor", "config": {"folder":
                           …, "mode": "reference"}} for a backend's options
    noise_options          extra keyword arguments of corrupt_dataset (control_points, mode …)
    evaluation             {tolerance_mm, size_classes, include_empty, detection_threshold, min_lesion_mm3,
                           hit_iou, n_bootstrap, bootstrap_seed} — detection: candidates from the tumour
                           probability maps (metrics.detection); statistics: experiments.comparisons
    device                 auto | cpu | cuda | cuda:N
    reference              optional published numbers per arm id: {"unet-baseline": {"dsc": 48.48, "nsd": 43.26}}

Overrides (``--set datasets.real=/data/Task07_Pancreas``) take a dotted key and a JSON value (a bare
word is a string).

Example:
    >>> s = StudySpec.from_dict({"name": "t", "table": "size", "datasets": {"real": "phantom", "healthy": ["phantom"]},
    ...                          "arms": {"models": ["unet"], "sizes": ["none", "large"]}})
    >>> [a.arm_id for a in s.arms]
    ['unet-baseline', 'unet-size-large']
    >>> apply_overrides({"a": {"b": 1}}, ["a.b=2", "a.c=x"])
    {'a': {'b': 2, 'c': 'x'}}
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runtime.devices import check_device_name
from ..utils.config import check_keys, merge
from ..utils.errors import InputError
from ..utils.jsonio import read_json

MODELS = ("unet", "dynunet", "swinunetr", "nnunet")
SIZES = ("none", "tiny", "small", "medium", "large", "mixed")
NOISE_LEVELS = ("none", "low", "moderate", "high", "extreme")
TABLES = ("size", "noise")
TOP_KEYS = {"name", "title", "description", "table", "datasets", "phantom", "split", "seeds", "arms", "budget",
            "models", "synthesis", "noise_options", "evaluation", "device", "reference"}
PHANTOM_DEFAULTS = {
    "n_real": 10,  # phantom cases with "real" tumours (the real cohort), integer ≥ 2
    "n_healthy": 6,  # tumour-free phantom cases that receive synthetic tumours, integer ≥ 0
    "seed": 0,  # cohort seed (integer)
    "spacing": [2.0, 2.0, 2.0],  # voxel size i j k in mm, three numbers > 0
    "fov_mm": [128.0, 96.0, 80.0],  # field of view i j k in mm around the pancreas
    "tumours": 1,  # real tumours per real case, integer ≥ 1
    "n_tumour_free": 0,  # tumour-free cases normal_### added to the real cohort (AUROC negatives), integer ≥ 0
}
SPLIT_DEFAULTS = {
    "test_fraction": 0.2,  # share of the real cases tested, in (0, 1) (the paper's 4:1)
    "val_fraction": 0.2,  # share of the remaining cases used for validation, in [0, 1)
    "n_folds": None,  # cross-validation folds instead of one split (integer ≥ 2, or null)
    "folds": None,  # which folds to run (list of integers, or null: all)
    "seed": None,  # one split shuffle for every study seed (integer), or null: each seed its own
    "test_only": [],  # case-id patterns (fnmatch) always tested, never trained on, e.g. ["normal_*"]
}
EVAL_DEFAULTS = {
    "tolerance_mm": 2.0,  # NSD tolerance in mm (> 0; the paper: 2)
    "size_classes": "syntumor",  # size classes of the per-class breakdown: a preset or a size-class JSON
    "include_empty": False,  # count test cases without a reference tumour in the tumour DSC/NSD means
    "detection_threshold": 0.1,  # lesion candidates: tumour probability ≥ this, in (0, 1)
    "min_lesion_mm3": 10.0,  # smallest candidate kept, mm³ (≥ 0)
    "hit_iou": 0.1,  # a candidate hits a reference lesion at IoU ≥ this (PI-CAI), in (0, 1]
    "n_bootstrap": 2000,  # bootstrap resamples for the confidence intervals, integer ≥ 100
    "bootstrap_seed": 0,  # seed of the bootstrap (integer)
}
SYNTH_DEFAULTS = {
    "synthetic_prob": 0.5,  # probability that an online training sample gets a synthetic tumour, in [0, 1]
    "offline_copies": 2,  # synthetic copies per healthy case for the nnU-Net size arms, integer ≥ 1
    "size_classes": "syntumor",  # the classes the size arms draw from: a preset, a size-class JSON or object
    "texture": "statistical",  # texture of the synthetic tumours: statistical, a fitted JSON or a model folder
}


@dataclass(frozen=True)
class Arm:
    """One arm: a model trained with one synthetic size arm and/or one label-noise level."""

    model: str
    size: str = "none"
    noise: str = "none"
    seeds: tuple[int, ...] | None = None  # this arm's own seeds (None: the spec's)

    @property
    def arm_id(self) -> str:
        parts = [self.model]
        if self.size != "none":
            parts.append(f"size-{self.size}")
        if self.noise != "none":
            parts.append(f"noise-{self.noise}")
        return "-".join(parts) if len(parts) > 1 else f"{self.model}-baseline"

    @property
    def is_baseline(self) -> bool:
        return self.size == "none" and self.noise == "none"


def _fail(msg: str):
    raise InputError(f"study spec: {msg}")


def _merge(name: str, defaults: dict, given: Any) -> dict:
    return merge(defaults, given, f"study spec '{name}'")


def _expand_arms(arms: Any) -> list[Arm]:
    if isinstance(arms, list):
        out = []
        for a in arms:
            if not isinstance(a, dict) or "model" not in a or set(a) - {"model", "size", "noise", "seeds"}:
                _fail(f"each arm must be an object with 'model' and optional 'size', 'noise', 'seeds', got {a!r}")
            seeds = a.get("seeds")
            if seeds is not None:
                _check_seeds(seeds, f"arm {a!r}: 'seeds'")
                seeds = tuple(seeds)
            out.append(Arm(a["model"], a.get("size", "none"), a.get("noise", "none"), seeds))
    elif isinstance(arms, dict):
        check_keys(arms, ("models", "sizes", "noise"), "study spec 'arms'")
        models = arms.get("models") or _fail("'arms.models' must list at least one model")
        sizes, levels = arms.get("sizes") or ["none"], arms.get("noise") or ["none"]
        out = []
        for m in models:
            if "none" in sizes or "none" in levels:
                out.append(Arm(m))
            out += [Arm(m, size=s) for s in sizes if s != "none"]
            out += [Arm(m, noise=n) for n in levels if n != "none"]
    else:
        _fail("'arms' must be an object {models, sizes, noise} or a list of arms")
    for a in out:
        if a.model not in MODELS:
            _fail(f"unknown model {a.model!r}; choose from {', '.join(MODELS)}")
        if a.size not in SIZES and not str(a.size).endswith(".json"):
            _fail(f"unknown size arm {a.size!r}; choose from {', '.join(SIZES)} or a size-class .json")
        if a.noise not in NOISE_LEVELS:
            _fail(f"unknown noise level {a.noise!r}; choose from {', '.join(NOISE_LEVELS)}")
    ids = [a.arm_id for a in out]
    if len(set(ids)) != len(ids):
        _fail(f"duplicate arms: {sorted({i for i in ids if ids.count(i) > 1})}")
    if not out:
        _fail("no arms")
    return out


def _check_seeds(seeds: Any, what: str = "'seeds'") -> None:
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        _fail(f"{what} must be a non-empty list of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        _fail(f"{what} lists a seed twice: {seeds!r}")


def _check_evaluation(ev: dict) -> dict:
    """Numbers of the detection rule and the bootstrap (types and ranges; the rule checks itself)."""
    from ..metrics.detection import DetectionRule

    for key in ("detection_threshold", "min_lesion_mm3", "hit_iou"):
        if not isinstance(ev[key], (int, float)) or isinstance(ev[key], bool):
            _fail(f"evaluation.{key} must be a number, got {ev[key]!r}")
    try:
        DetectionRule(ev["detection_threshold"], ev["min_lesion_mm3"], ev["hit_iou"])
    except InputError as e:
        _fail(f"evaluation: {e}")
    for key, low in (("n_bootstrap", 100), ("bootstrap_seed", 0)):
        v = ev[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            _fail(f"evaluation.{key} must be an integer ≥ {low}, got {v!r}")
    return ev


def _check_split_extras(split: dict) -> None:
    if split["seed"] is not None and (not isinstance(split["seed"], int) or isinstance(split["seed"], bool)):
        _fail(f"split.seed must be an integer or null, got {split['seed']!r}")
    t = split["test_only"]
    if not isinstance(t, list) or not all(isinstance(x, str) and x.strip() for x in t):
        _fail(f"split.test_only must be a list of case-id patterns, got {t!r}")


def _check_phantom(p: dict) -> dict:
    # every range up front: a bad cohort must fail before any case is generated or trained on
    for key, low in (("n_real", 2), ("n_healthy", 0), ("tumours", 1), ("n_tumour_free", 0), ("seed", 0)):
        n = p[key]
        if not isinstance(n, int) or isinstance(n, bool) or n < low:
            _fail(f"phantom.{key} must be an integer ≥ {low}, got {n!r}")
    for key in ("spacing", "fov_mm"):
        v = p[key]
        if (not isinstance(v, list) or len(v) != 3
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in v)):
            _fail(f"phantom.{key} must be three numbers > 0 (i j k, mm), got {v!r}")
    return p


def _anchor(value: str, base_dir: Path) -> str:
    """A relative size-class path made absolute against ``base_dir``; presets are left alone."""
    from ..geometry.sizes import PRESETS

    if value in PRESETS or not value.strip() or Path(value).expanduser().is_absolute():
        return value
    return str(base_dir / value)


def _texture(value: Any) -> str | dict:
    """Validate ``synthesis.texture`` (its files are read when a run starts, where errors name them)."""
    if isinstance(value, dict):
        if not isinstance(value.get("name"), str) or not isinstance(value.get("config", {}), dict):
            _fail("synthesis.texture: an object needs a 'name' and a 'config' object (a texture record)")
        return copy.deepcopy(value)
    if not isinstance(value, str) or not value.strip():
        from ..texture.registry import texture_names

        _fail(f"synthesis.texture must be a texture name ({', '.join(texture_names())}), a fitted-texture JSON or "
              f"a model folder, got {value!r}")
    return value


def _size_classes(value: Any, arms: list[Arm], base_dir: Path | None) -> str | dict:
    """Validate ``synthesis.size_classes``: a preset name stays a name; a JSON file becomes its content.

    A relative path is resolved against ``base_dir`` (default: the working directory; :func:`load_spec`
    has already anchored a path written in a spec file to that file's folder). The classes are then held as data (``{"source": path, "name", "classes", "probabilities"}``), so the
    saved ``OUT/spec.json`` and every arm's training config replay without the file, and an edited
    file shows up as a different spec.
    """
    from ..geometry.sizes import PRESETS, load_size_classes

    key = "synthesis.size_classes"
    source = value
    if isinstance(value, str) and value.strip() and value not in PRESETS:
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        if not path.is_file():
            _fail(f"{key}: {value!r} is neither one of the presets {', '.join(PRESETS)} nor an existing size-class "
                  f"JSON file ({path}); `syntumor sizes analyze` writes one")
        source = str(path.resolve())
    elif not (isinstance(value, dict) or value in PRESETS):
        _fail(f"{key} must be a preset ({', '.join(PRESETS)}), a size-class JSON path or its object, got {value!r}")
    try:
        sizes = load_size_classes(source)
    except InputError as e:
        _fail(f"{key}: {e}")
    for a in arms:
        if a.size not in ("none", "mixed") and not a.size.endswith(".json") and a.size not in sizes.names:
            _fail(f"{key} ({sizes.name}) has no class {a.size!r} for arm {a.arm_id}; its classes: "
                  f"{', '.join(sizes.names)}")
    if not isinstance(value, str) or value in PRESETS:
        return value  # a preset, or classes given (or saved) as an object: kept as written
    d = read_json(source)  # the file as written (not re-normalised), so a reload compares equal
    return {"source": source, "name": d.get("name", sizes.name), "classes": d["classes"],
            "probabilities": d.get("probabilities") or {}}


@dataclass
class StudySpec:
    """A validated study spec (the module doc shows the JSON layout).

    Args:
        name: identifier of the study's outputs (non-empty).
        table: ``"size"`` (Table 1 layout) or ``"noise"`` (Tables 2–3 layout).
        datasets: ``{"real": path | "phantom", "healthy": [path | "phantom", ...]}``.
        arms: the expanded arms (baselines, model × size, model × noise level).
        title: a title for the tables.
        description: free text shown with the tables.
        phantom: the phantom cohort when a dataset is ``"phantom"`` (the keys below).
        split: the case split (the keys below).
        seeds: integer seeds; each is one training run per arm.
        budget: TrainConfig keys shared by the MONAI arms (iterations, crop_size, batch_size …).
        models: per model, ``{"model": {name, args}, ...}`` TrainConfig keys; ``nnunet``: NNUNetConfig keys.
        synthesis: synthetic-tumour options (the keys below).
        noise_options: extra keyword arguments of ``corrupt_dataset`` (control_points, mode …).
        evaluation: metrics, detection and statistics options (the keys below).
        device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``.
        reference: published numbers per arm id, e.g. ``{"unet-baseline": {"dsc": 48.48, "nsd": 43.26}}``.
        raw: the spec as given (kept for the run's record).
    """

    name: str
    table: str
    datasets: dict
    arms: list[Arm]
    title: str = ""
    description: str = ""
    phantom: dict = field(default_factory=lambda: dict(PHANTOM_DEFAULTS))
    split: dict = field(default_factory=lambda: dict(SPLIT_DEFAULTS))
    seeds: list[int] = field(default_factory=lambda: [0])
    budget: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    synthesis: dict = field(default_factory=lambda: dict(SYNTH_DEFAULTS))
    noise_options: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=lambda: dict(EVAL_DEFAULTS))
    device: str = "auto"
    reference: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: Any, base_dir: str | Path | None = None) -> StudySpec:
        """Validate a spec dict; ``base_dir`` (the spec file's folder) anchors relative paths."""
        if not isinstance(d, dict):
            _fail(f"must be a JSON object, got {type(d).__name__}")
        check_keys(d, TOP_KEYS, "study spec")
        name = d.get("name")
        if not isinstance(name, str) or not name.strip():
            _fail("'name' must be a non-empty string")
        table = d.get("table", "size")
        if table not in TABLES:
            _fail(f"'table' must be one of {', '.join(TABLES)}, got {table!r}")
        ds = d.get("datasets")
        if not isinstance(ds, dict) or not ds.get("real"):
            _fail("'datasets.real' must name the real-tumour dataset (a folder or \"phantom\")")
        check_keys(ds, ("real", "healthy"), "study spec 'datasets'")
        healthy = ds.get("healthy") or []
        healthy = [healthy] if isinstance(healthy, str) else list(healthy)
        datasets = {"real": str(ds["real"]), "healthy": [str(h) for h in healthy]}
        arms = _expand_arms(d.get("arms"))
        if any(a.size != "none" for a in arms) and not datasets["healthy"]:
            _fail("size arms synthesise tumours into healthy scans: give 'datasets.healthy'")
        seeds = d.get("seeds", [0])
        _check_seeds(seeds)
        split = _merge("split", SPLIT_DEFAULTS, d.get("split"))
        _check_split_extras(split)
        if split["n_folds"] is not None:
            n = split["n_folds"]
            if not isinstance(n, int) or n < 2:
                _fail(f"split.n_folds must be an integer ≥ 2, got {n!r}")
            folds = split["folds"] if split["folds"] is not None else list(range(n))
            if not isinstance(folds, list) or not folds or any(not isinstance(f, int) or not 0 <= f < n for f in folds):
                _fail(f"split.folds must list folds in 0..{n - 1}, got {split['folds']!r}")
            split["folds"] = folds
        elif split["folds"] is not None:
            _fail("split.folds needs split.n_folds")
        for key in ("test_fraction", "val_fraction"):
            if not isinstance(split[key], (int, float)) or not 0 <= split[key] < 1:
                _fail(f"split.{key} must be a number in [0, 1), got {split[key]!r}")
        if split["n_folds"] is None and split["test_fraction"] <= 0:
            _fail("split.test_fraction must be > 0: a study evaluates on held-out test cases")
        models = d.get("models") or {}
        if not isinstance(models, dict) or set(models) - set(MODELS):
            _fail(f"'models' must map model names ({', '.join(MODELS)}) to settings")
        device = check_device_name(d.get("device", "auto"), "study spec")
        for key in ("budget", "noise_options", "reference"):
            if not isinstance(d.get(key) or {}, dict):
                _fail(f"'{key}' must be an object")
        synthesis = _merge("synthesis", SYNTH_DEFAULTS, d.get("synthesis"))
        synthesis["size_classes"] = _size_classes(synthesis["size_classes"], arms,
                                                  None if base_dir is None else Path(base_dir))
        synthesis["texture"] = _texture(synthesis["texture"])
        raw = copy.deepcopy(d)
        if "size_classes" in (d.get("synthesis") or {}):
            raw["synthesis"]["size_classes"] = copy.deepcopy(synthesis["size_classes"])
        return cls(
            name=name, table=table, datasets=datasets, arms=arms, title=str(d.get("title", "")),
            description=str(d.get("description", "")), phantom=_check_phantom(_merge("phantom", PHANTOM_DEFAULTS, d.get("phantom"))),
            split=split, seeds=list(seeds), budget=dict(d.get("budget") or {}), models=copy.deepcopy(models),
            synthesis=synthesis,
            noise_options=dict(d.get("noise_options") or {}),
            evaluation=_check_evaluation(_merge("evaluation", EVAL_DEFAULTS, d.get("evaluation"))), device=device,
            reference=dict(d.get("reference") or {}), raw=raw,
        )

    @property
    def folds(self) -> list[int | None]:
        return list(self.split["folds"]) if self.split["n_folds"] is not None else [None]

    def select(self, only: list[str] | None) -> list[Arm]:
        """Arms whose id matches one of ``only`` (exact ids or shell patterns like ``unet-*``)."""
        if not only:
            return list(self.arms)
        import fnmatch

        chosen = [a for a in self.arms if any(fnmatch.fnmatchcase(a.arm_id, p) for p in only)]
        if not chosen:
            _fail(f"--only {' '.join(only)} matches no arm; arms are {', '.join(a.arm_id for a in self.arms)}")
        return chosen


def apply_overrides(d: dict, overrides: list[str] | None) -> dict:
    """A copy of ``d`` with ``key.sub=value`` assignments applied (value parsed as JSON, else a string)."""
    out = copy.deepcopy(d)
    for item in overrides or []:
        if "=" not in item:
            raise InputError(f"--set {item!r}: expected KEY=VALUE, e.g. datasets.real=/data/Task07_Pancreas")
        key, text = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise InputError(f"--set {item!r}: empty key")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        node = out
        for p in parts[:-1]:
            nxt = node.get(p)
            if nxt is None:
                nxt = node[p] = {}
            if not isinstance(nxt, dict):
                raise InputError(f"--set {item!r}: '{p}' is not an object in the spec")
            node = nxt
        node[parts[-1]] = value
    return out


def load_spec(path_or_name: str | Path, overrides: list[str] | None = None) -> StudySpec:
    """Read a spec file (or a shipped spec by name, e.g. ``smoke-table1``) and apply overrides."""
    p = Path(path_or_name)
    if not p.is_file():
        shipped = Path(__file__).parent / "specs" / f"{str(path_or_name).removesuffix('.json')}.json"
        if shipped.is_file():
            p = shipped
        else:
            names = sorted(q.stem for q in (Path(__file__).parent / "specs").glob("*.json"))
            raise InputError(f"{path_or_name}: spec file not found (shipped specs: {', '.join(names)})")
    d = read_json(p)
    try:
        # A size-class path written in the file is relative to the file; one given with --set, to the
        # working directory (where the user typed it).
        synthesis = d.get("synthesis") if isinstance(d, dict) else None
        if isinstance(synthesis, dict) and isinstance(synthesis.get("size_classes"), str):
            d["synthesis"]["size_classes"] = _anchor(synthesis["size_classes"], p.parent)
        from ..texture.registry import texture_names

        if isinstance(synthesis, dict) and isinstance(synthesis.get("texture"), str) \
                and synthesis["texture"] not in texture_names():
            d["synthesis"]["texture"] = _anchor(synthesis["texture"], p.parent)
        return StudySpec.from_dict(apply_overrides(d, overrides))
    except InputError as e:
        raise InputError(f"{p}: {e}") from None
