"""``TrainConfig`` — everything that defines a segmenter training run, as JSON-able data.

One trainer reads this config; variants (network, optimiser, synthetic-size arm, noisy labels) are
values, never subclasses. Unknown keys are refused with the nearest valid one suggested, so a typo
never silently falls back to a default; every range is checked when the config is made, before any
work starts (:mod:`SynTumorLib.utils.config`).

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

from ..runtime.devices import check_device_name
from ..runtime.precision import AMP_MODES
from ..utils.config import check_keys, merge, require_bool, require_choice, require_int, require_number
from ..utils.errors import InputError
from ..utils.jsonio import read_json

ARMS = ("none", "tiny", "small", "medium", "large", "mixed")

DATA_DEFAULTS: dict[str, Any] = {
    "real": None,  # MSD-like folder of real tumour cases (its train split is used)
    "healthy": None,  # folder of healthy cases that receive online synthetic tumours
    "arm": "none",  # size arm: none|tiny|small|medium|large|mixed|path to a size-class JSON
    "size_classes": "syntumor",  # the classes a named arm is drawn from: preset, size-class JSON path or its object
    "synthetic_prob": 0.5,  # probability of synthesising a tumour on a healthy crop, in [0, 1]
    "texture": "statistical",  # texture of the online tumours: statistical, a fitted JSON or a model folder
    "offline_synthetic": None,  # MSD folder of pre-generated synthetic cases (all used for training)
    "noisy_labels": None,  # MSD copy of `real` with corrupted labels (same case ids): train on them
}
SPLIT_DEFAULTS: dict[str, Any] = {
    "seed": 0,  # seed of the case shuffle (int ≥ 0); the same seed gives the same train/val/test lists
    "test_fraction": 0.2,  # share of the real cases held out for testing, in [0, 1) (the paper's 4:1)
    "val_fraction": 0.2,  # share of the real cases used for model selection, in [0, 1)
    "n_folds": None,  # k-fold cross-validation instead of fractions (int ≥ 2), or null
    "fold": None,  # which fold (0 … n_folds − 1) when n_folds is set
}
AUGMENT_DEFAULTS: dict[str, Any] = {
    "rotate_prob": 0.2,  # probability of a random rotation of a crop, in [0, 1]
    "rotate_deg": 15.0,  # largest rotation about each axis, degrees (≥ 0)
    "flip_prob": 0.2,  # probability of a mirror flip, per axis, in [0, 1]
    "translate_prob": 0.1,  # probability of a random shift of a crop, in [0, 1]
    "translate_vox": 8,  # largest shift per axis, voxels (≥ 0)
    "intensity_prob": 0.2,  # probability of an intensity scale and shift, in [0, 1]
    "scale_intensity": 0.1,  # largest relative scale of the windowed [0, 1] values (≥ 0)
    "shift_intensity": 0.1,  # largest shift of the windowed [0, 1] values (≥ 0)
}


@dataclass
class TrainConfig:
    """A segmenter training run (every key below is in the configuration reference, docs/reference/config.md).

    Args:
        model: the network, ``{"name": "unet" | "dynunet" | "swinunetr", "args": {...}}``; ``args`` are
            the network's own arguments (channels, strides, feature size …; empty: the defaults).
        data: the datasets and the synthetic arm (the keys below); at least one of ``real``, ``healthy``,
            ``offline_synthetic``.
        split: the case split of ``data.real`` (the keys below), or explicit lists
            ``{"train": [...], "val": [...], "test": [...]}``, or ``{"file": "splits.json"}``.
        spacing: training grid in mm, i j k order, three numbers > 0; ``null`` = the median spacing of the
            training data.
        crop_size: training crop in voxels, k j i (array) order, three integers ≥ 8 (SwinUNETR: multiples of 32).
        hu_window: [lo, hi] in HU (lo < hi) mapped to [0, 1] before the network.
        batch_size: per process; DDP's global batch is batch_size × world size (integer ≥ 1).
        pos_fraction: share of crops centred on a tumour voxel, in [0, 1] (0.5: the paper's equal
            tumour/background ratio).
        optimizer: ``adamw`` or ``sgd`` (SGD with Nesterov momentum, as nnU-Net).
        lr: learning rate (> 0); ``null`` = 1e-4 for adamw, 1e-2 for sgd.
        weight_decay: decoupled (AdamW) or L2 (SGD) weight decay, ≥ 0.
        momentum: SGD momentum in [0, 1) (Nesterov), as nnU-Net; ignored by adamw.
        schedule: ``cosine``, ``poly`` (power 0.9) or ``constant``, after the linear warm-up.
        warmup_iterations: steps of linear warm-up from 0 to ``lr`` (integer ≥ 0).
        iterations: training steps (integer ≥ 1); replaced by ``epochs`` when that is set.
        epochs: if set (integer ≥ 1): iterations = epochs × ⌈train cases / global batch⌉.
        val_every: steps between validations (sliding window over the val split; integer ≥ 1).
        checkpoint_every: steps between checkpoints ``checkpoints/last.pt`` (integer ≥ 1).
        max_val_cases: validate on at most this many val cases (integer ≥ 1), ``null`` = all.
        val_overlap: sliding-window overlap of the validation inference, in [0, 1).
        augment: augmentation probabilities and magnitudes (the keys below), drawn per crop from the seed.
        seed: master seed of every random draw of the run (integer ≥ 0): crops, augmentation, initialisation.
        amp: ``none``, ``fp16`` (with a GradScaler) or ``bf16`` — CUDA only; ignored with a warning on the CPU.
        compile: ``torch.compile`` the network on CUDA (true/false); ignored with a warning on the CPU.
        deterministic: ``torch.use_deterministic_algorithms`` (true/false): bit-reproducible runs.
        num_workers: DataLoader worker processes (integer ≥ 0); crops are identical for any number
            (4–8 suit a GPU machine).
        device: ``auto`` (CUDA when torch sees a GPU, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``
            (an error when no GPU is visible).
        name: free text naming the run, copied into the model card.
        notes: free text, copied into the model card.
    """

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
        """Check every key (types, ranges, combinations) and normalise the sections; before any work starts."""
        where = "training config"

        def fail(msg: str) -> None:
            raise InputError(f"{where}: {msg}")

        if not isinstance(self.model, dict) or "name" not in self.model:
            fail("'model' must be an object with a 'name' (unet, dynunet, swinunetr)")
        self.model = {"name": str(self.model["name"]).lower(), "args": dict(self.model.get("args") or {}),
                      **{k: v for k, v in self.model.items() if k not in ("name", "args")}}
        if self.model["name"] not in ("unet", "dynunet", "swinunetr"):
            fail(f"unknown model '{self.model['name']}'; choose unet, dynunet or swinunetr")
        self.data = merge(DATA_DEFAULTS, self.data, f"{where} 'data'")
        split_keys = {**SPLIT_DEFAULTS, "train": None, "val": None, "test": None, "file": None}
        self.split = {k: v for k, v in merge(split_keys, self.split, f"{where} 'split'").items()
                      if v is not None or k in SPLIT_DEFAULTS}
        self.augment = merge(AUGMENT_DEFAULTS, self.augment, f"{where} 'augment'")
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
        require_number(self.data["synthetic_prob"], f"{where}: data.synthetic_prob", min=0.0, max=1.0)
        if not isinstance(self.data["texture"], (str, dict)) or not self.data["texture"]:
            fail(f"data.texture must be a texture name, fitted-texture JSON or model folder, got {self.data['texture']!r}")
        if self.spacing is not None:
            if len(self.spacing) != 3 or any(not float(s) > 0 for s in self.spacing):
                fail(f"'spacing' must be three positive numbers (mm, i j k order) or null, got {self.spacing}")
            self.spacing = [float(s) for s in self.spacing]
        if isinstance(self.crop_size, int):
            self.crop_size = [self.crop_size] * 3
        if len(self.crop_size) != 3 or any(int(c) < 8 for c in self.crop_size):
            fail(f"'crop_size' must be three integers ≥ 8 (k, j, i), got {self.crop_size}")
        self.crop_size = [int(c) for c in self.crop_size]
        if int(self.batch_size) >= 1:  # before any allocation: a 100000³ crop fails here, clearly
            from ..utils.limits import HOST_BYTES_PER_TRAINING_VOXEL, check_voxels

            check_voxels([int(self.batch_size), *self.crop_size], HOST_BYTES_PER_TRAINING_VOXEL,
                         f"training config: a batch of {self.batch_size} crops of {self.crop_size} voxels",
                         "use a smaller crop_size or batch_size")
        if len(self.hu_window) != 2 or not float(self.hu_window[0]) < float(self.hu_window[1]):
            fail(f"'hu_window' must be [lo, hi] with lo < hi, got {self.hu_window}")
        require_int(self.num_workers, f"{where}: 'num_workers'", min=0)
        for key in ("batch_size", "iterations", "val_every", "checkpoint_every"):
            require_int(getattr(self, key), f"{where}: '{key}'", min=1)
        require_int(self.epochs, f"{where}: 'epochs'", min=1, allow_none=True)
        require_int(self.warmup_iterations, f"{where}: 'warmup_iterations'", min=0)
        require_int(self.max_val_cases, f"{where}: 'max_val_cases'", min=1, allow_none=True)
        require_number(self.pos_fraction, f"{where}: 'pos_fraction'", min=0.0, max=1.0)
        from .networks import resolve_network_spec  # catch bad network arguments now, not at step 0

        resolve_network_spec(self.model, self.crop_size, (self.spacing or [1.0, 1.0, 1.0])[::-1])
        require_choice(self.optimizer, f"{where}: 'optimizer'", ("adamw", "sgd"))
        require_choice(self.schedule, f"{where}: 'schedule'", ("cosine", "poly", "constant"))
        require_number(self.lr, f"{where}: 'lr'", min=0.0, min_open=True, allow_none=True)
        require_choice(self.amp, f"{where}: 'amp'", AMP_MODES)
        require_bool(self.compile, f"{where}: 'compile'")
        require_bool(self.deterministic, f"{where}: 'deterministic'")
        self.device = check_device_name(self.device, f"{where}: 'device'")
        require_number(self.val_overlap, f"{where}: 'val_overlap'", min=0.0, max=1.0, max_open=True)

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
        check_keys(d, [f.name for f in dataclasses.fields(cls)], source)
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
