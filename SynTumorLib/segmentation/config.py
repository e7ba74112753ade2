"""``TrainConfig`` — everything that defines a segmenter training run, as JSON-able data.

One trainer reads this config; variants (network, optimiser, synthetic-size arm, noisy labels) are
values, never subclasses. Unknown keys are refused with the list of valid ones, so a typo never
silently falls back to a default.

Spacing is given in **i, j, k order** (x, y, z as Slicer shows it) like ``Volume.spacing``; crop
sizes in **array order (k, j, i)** like ``Volume.array``. ``spacing: null`` means "the median
spacing of the training data" (resolved at the start of training and saved in the model folder).

Example:
    >>> cfg = TrainConfig.from_dict({"model": {"name": "unet"}, "data": {"real": "/data/Task07"},
    ...                              "iterations": 100, "crop_size": [64, 64, 64]})
    >>> cfg.optimizer, cfg.data["arm"], TrainConfig.from_dict(cfg.to_dict()) == cfg
    ('adamw', 'none', True)
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..utils.errors import InputError
from ..utils.jsonio import read_json

ARMS = ("none", "tiny", "small", "medium", "large", "mixed")
AMP_MODES = ("none", "fp16", "bf16")

DATA_DEFAULTS: dict[str, Any] = {
    "real": None,  # MSD-like folder of real tumour cases (its train split is used)
    "healthy": None,  # folder of healthy cases that receive online synthetic tumours
    "arm": "none",  # size arm: none|tiny|small|medium|large|mixed|path to a size-class JSON
    "size_classes": "syntumor",  # the classes a named arm is drawn from: preset, size-class JSON path or its object
    "synthetic_prob": 0.5,  # probability of synthesising a tumour on a healthy crop
    "offline_synthetic": None,  # MSD folder of pre-generated synthetic cases (all used for training)
    "noisy_labels": None,  # MSD copy of `real` with corrupted labels (same case ids): train on them
}
SPLIT_DEFAULTS: dict[str, Any] = {"seed": 0, "test_fraction": 0.2, "val_fraction": 0.2, "n_folds": None, "fold": None}
AUGMENT_DEFAULTS: dict[str, Any] = {
    "rotate_prob": 0.2, "rotate_deg": 15.0,  # random rotation about each axis
    "flip_prob": 0.2,  # per axis
    "translate_prob": 0.1, "translate_vox": 8,  # random spatial shift
    "intensity_prob": 0.2, "scale_intensity": 0.1, "shift_intensity": 0.1,  # on windowed [0, 1] values
}


@dataclass
class TrainConfig:
    """A segmenter training run. See ``docs/readme/50-segmentation.md`` for every key."""

    model: dict = field(default_factory=lambda: {"name": "unet", "args": {}})
    data: dict = field(default_factory=lambda: dict(DATA_DEFAULTS))
    split: dict = field(default_factory=lambda: dict(SPLIT_DEFAULTS))
    spacing: list | None = field(default_factory=lambda: [1.0, 1.0, 1.0])
    crop_size: list = field(default_factory=lambda: [96, 96, 96])
    hu_window: list = field(default_factory=lambda: [-175.0, 250.0])
    batch_size: int = 2  # per process; DDP's global batch is batch_size × world size
    pos_fraction: float = 0.5  # fraction of crops centred on tumour (equal tumour/background ratio)
    optimizer: str = "adamw"
    lr: float | None = None  # default 1e-4 (adamw) or 1e-2 (sgd)
    weight_decay: float = 1e-5
    momentum: float = 0.99  # sgd (Nesterov), as nnU-Net
    schedule: str = "cosine"  # cosine | poly | constant, after a linear warm-up
    warmup_iterations: int = 0
    iterations: int = 1000
    epochs: int | None = None  # if set: iterations = epochs × ceil(train cases / global batch)
    val_every: int = 250
    checkpoint_every: int = 100
    max_val_cases: int | None = None
    val_overlap: float = 0.5
    augment: dict = field(default_factory=lambda: dict(AUGMENT_DEFAULTS))
    seed: int = 0
    amp: str = "none"  # none | fp16 | bf16 — CUDA only; ignored with a warning on CPU
    compile: bool = False  # torch.compile on CUDA; ignored with a warning on CPU
    deterministic: bool = True
    num_workers: int = 0  # DataLoader worker processes; crops are identical for any number
    device: str = "auto"
    name: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        def fail(msg: str) -> None:
            raise InputError(f"training config: {msg}")

        if not isinstance(self.model, dict) or "name" not in self.model:
            fail("'model' must be an object with a 'name' (unet, dynunet, swinunetr)")
        self.model = {"name": str(self.model["name"]).lower(), "args": dict(self.model.get("args") or {}),
                      **{k: v for k, v in self.model.items() if k not in ("name", "args")}}
        if self.model["name"] not in ("unet", "dynunet", "swinunetr"):
            fail(f"unknown model '{self.model['name']}'; choose unet, dynunet or swinunetr")
        self.data = _merge("data", DATA_DEFAULTS, self.data)
        self.split = _merge("split", {**SPLIT_DEFAULTS, "train": None, "val": None, "test": None, "file": None}, self.split,
                            drop_none=True)
        self.augment = _merge("augment", AUGMENT_DEFAULTS, self.augment)
        if not (self.data["real"] or self.data["healthy"] or self.data["offline_synthetic"]):
            fail("'data' needs at least one of 'real', 'healthy', 'offline_synthetic'")
        if self.data["noisy_labels"] and not self.data["real"]:
            fail("'data.noisy_labels' replaces the labels of 'data.real'; give 'data.real' too")
        arm = self.data["arm"]
        if not isinstance(arm, str) or not (arm in ARMS or arm.endswith(".json")):
            fail(f"data.arm must be one of {', '.join(ARMS)} or a size-class .json file, got {arm!r}")
        _check_size_classes(self.data["size_classes"], arm, fail)
        if arm != "none" and not self.data["healthy"]:
            fail(f"data.arm is '{arm}' but no 'data.healthy' dataset is given to synthesise tumours into")
        if not 0.0 <= float(self.data["synthetic_prob"]) <= 1.0:
            fail(f"data.synthetic_prob must be in [0, 1], got {self.data['synthetic_prob']}")
        if self.spacing is not None:
            if len(self.spacing) != 3 or any(not float(s) > 0 for s in self.spacing):
                fail(f"'spacing' must be three positive numbers (mm, i j k order) or null, got {self.spacing}")
            self.spacing = [float(s) for s in self.spacing]
        if isinstance(self.crop_size, int):
            self.crop_size = [self.crop_size] * 3
        if len(self.crop_size) != 3 or any(int(c) < 8 for c in self.crop_size):
            fail(f"'crop_size' must be three integers ≥ 8 (k, j, i), got {self.crop_size}")
        self.crop_size = [int(c) for c in self.crop_size]
        if len(self.hu_window) != 2 or not float(self.hu_window[0]) < float(self.hu_window[1]):
            fail(f"'hu_window' must be [lo, hi] with lo < hi, got {self.hu_window}")
        if int(self.num_workers) < 0:
            fail(f"'num_workers' must be ≥ 0, got {self.num_workers}")
        for key in ("batch_size", "iterations", "val_every", "checkpoint_every"):
            if int(getattr(self, key)) < 1:
                fail(f"'{key}' must be ≥ 1, got {getattr(self, key)}")
        if self.epochs is not None and int(self.epochs) < 1:
            fail(f"'epochs' must be ≥ 1 or null, got {self.epochs}")
        if int(self.warmup_iterations) < 0:
            fail(f"'warmup_iterations' must be ≥ 0, got {self.warmup_iterations}")
        if not 0.0 <= float(self.pos_fraction) <= 1.0:
            fail(f"'pos_fraction' must be in [0, 1], got {self.pos_fraction}")
        from .networks import resolve_network_spec  # catch bad network arguments now, not at step 0

        resolve_network_spec(self.model, self.crop_size, (self.spacing or [1.0, 1.0, 1.0])[::-1])
        if self.optimizer not in ("adamw", "sgd"):
            fail(f"'optimizer' must be 'adamw' or 'sgd', got {self.optimizer!r}")
        if self.schedule not in ("cosine", "poly", "constant"):
            fail(f"'schedule' must be 'cosine', 'poly' or 'constant', got {self.schedule!r}")
        if self.lr is not None and not float(self.lr) > 0:
            fail(f"'lr' must be > 0, got {self.lr}")
        if self.amp not in AMP_MODES:
            fail(f"'amp' must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            fail(f"'device' must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if not 0.0 <= float(self.val_overlap) < 1.0:
            fail(f"'val_overlap' must be in [0, 1), got {self.val_overlap}")

    @property
    def learning_rate(self) -> float:
        return float(self.lr) if self.lr is not None else (1e-4 if self.optimizer == "adamw" else 1e-2)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict:
        return copy.deepcopy(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> TrainConfig:
        if not isinstance(d, dict):
            raise InputError(f"{source}: a training config must be a JSON object, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise InputError(f"{source}: unknown key(s) {unknown}; valid keys: {sorted(names)}")
        return cls(**copy.deepcopy(d))

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """Read a config file (a bare config, or a model folder's ``config.json``)."""
        return cls.from_dict(read_json(path), source=str(path))

    def replace(self, **changes) -> TrainConfig:
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def _check_size_classes(value: Any, arm: str, fail) -> None:
    """data.size_classes: a preset or an object is checked now (no I/O); a JSON path when training
    starts, so that a model folder whose class file has moved still loads."""
    from ..geometry.sizes import PRESETS, load_size_classes

    if isinstance(value, str) and value.lower().endswith(".json"):
        return
    if not (isinstance(value, dict) or value in PRESETS):
        fail(f"data.size_classes must be a preset ({', '.join(PRESETS)}), a size-class .json file or its object, "
             f"got {value!r}")
    try:
        sizes = load_size_classes(value)
    except InputError as e:
        fail(f"data.size_classes: {e}")
    if arm not in ("none", "mixed") and not arm.endswith(".json") and arm not in sizes.names:
        fail(f"data.arm {arm!r} is not a class of data.size_classes ({sizes.name}: {', '.join(sizes.names)})")


def _merge(name: str, defaults: dict, given: dict | None, drop_none: bool = False) -> dict:
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise InputError(f"training config: '{name}' must be an object, got {given!r}")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise InputError(f"training config: unknown key(s) {unknown} in '{name}'; valid: {sorted(defaults)}")
    out = {**defaults, **given}
    if drop_none:
        out = {k: v for k, v in out.items() if v is not None or k in SPLIT_DEFAULTS}
    return out
