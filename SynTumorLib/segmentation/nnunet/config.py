"""The budget and settings of one real nnU-Net v2 run, as data (JSON), never as trainer subclasses.

nnU-Net changes its hyper-parameters by subclassing its 1,400-line trainer (it ships dozens of
``nnUNetTrainer_<N>epochs``-style classes). We do not: our runner builds nnU-Net's *stock*
``nnUNetTrainer`` through its Python API and sets the budget attributes (``num_epochs``,
``num_iterations_per_epoch``, ``num_val_iterations_per_epoch``, ``initial_lr``) before training
starts. The checkpoint therefore names the stock trainer, so nnU-Net's own predictor (and its
``nnUNetv2_predict`` command) can load our models without any extra class-lookup path.

Example:
    >>> c = NNUNetConfig.from_dict({"dataset_id": 501, "epochs": 1, "iterations_per_epoch": 3})
    >>> c.dataset_name, c.fold, c.to_dict()["device"]
    ('Dataset501_SynTumor', 0, 'auto')
    >>> NNUNetConfig.from_dict({"dataset_id": 1000})
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: nnunet config: dataset_id must be an integer in 1..999, got 1000
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from ...runtime.devices import check_device_name
from ...utils.config import check_keys
from ...utils.errors import InputError

CONFIGURATIONS = ("3d_fullres", "3d_lowres", "2d")


@dataclass(frozen=True)
class NNUNetConfig:
    """Settings of one nnU-Net v2 training/prediction run.

    Args:
        dataset_id: nnU-Net dataset number (1..999); the raw folder is ``Dataset<ID>_<name>``.
        name: dataset name part (letters, digits, ``_``, ``-``).
        configuration: nnU-Net configuration (``3d_fullres`` as in the study).
        fold: ``0``..``4`` or ``"all"``. With explicit validation cases the runner writes its own
            ``splits_final.json`` whose fold 0 is that split (validation separate from test).
        epochs, iterations_per_epoch, val_iterations_per_epoch: the training budget (nnU-Net's
            defaults are 1000 × 250 and 50; on a GPU the paper-like run uses the defaults).
        initial_lr: None keeps nnU-Net's default (1e-2, SGD-Nesterov, poly schedule).
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N`` (fails when no GPU is
            visible) — the rule of :mod:`SynTumorLib.runtime.devices`.
        seed: seeds python/numpy/torch in the training process (nnU-Net's augmentation workers
            are not seeded by nnU-Net, so runs with worker processes are not bit-reproducible).
        da_processes: data-augmentation worker processes; 0 runs augmentation in the training
            process (no spawned workers — best on 2-core machines); None keeps nnU-Net's default.
        preprocess_processes: processes for fingerprinting/preprocessing.
        tta: mirror test-time augmentation at prediction (nnU-Net default; it predicts each case several times, mirrored).
        validate: run nnU-Net's own full validation after training (our study evaluates on its
            own test split instead, so this is off by default).
    """

    dataset_id: int = 501
    name: str = "SynTumor"
    configuration: str = "3d_fullres"
    fold: int | str = 0
    epochs: int = 1000
    iterations_per_epoch: int = 250
    val_iterations_per_epoch: int = 50
    initial_lr: float | None = None
    device: str = "auto"
    seed: int = 0
    da_processes: int | None = None
    preprocess_processes: int = 2
    tta: bool = True
    validate: bool = False

    def __post_init__(self) -> None:
        def bad(msg: str):
            raise InputError(f"nnunet config: {msg}")

        if not isinstance(self.dataset_id, int) or not 1 <= self.dataset_id <= 999:
            bad(f"dataset_id must be an integer in 1..999, got {self.dataset_id!r}")
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", self.name):
            bad(f"name must be letters, digits, '_' or '-', got {self.name!r}")
        if self.configuration not in CONFIGURATIONS:
            bad(f"configuration must be one of {', '.join(CONFIGURATIONS)}, got {self.configuration!r}")
        if not (self.fold == "all" or (isinstance(self.fold, int) and 0 <= self.fold <= 4)):
            bad(f"fold must be 0..4 or 'all', got {self.fold!r}")
        for key in ("epochs", "iterations_per_epoch", "val_iterations_per_epoch", "preprocess_processes"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                bad(f"{key} must be a positive integer, got {v!r}")
        if self.da_processes is not None and (not isinstance(self.da_processes, int) or self.da_processes < 0):
            bad(f"da_processes must be a non-negative integer or null, got {self.da_processes!r}")
        if self.initial_lr is not None and not (isinstance(self.initial_lr, (int, float)) and self.initial_lr > 0):
            bad(f"initial_lr must be a positive number or null, got {self.initial_lr!r}")
        object.__setattr__(self, "device", check_device_name(self.device, "nnunet config"))
        if not isinstance(self.seed, int):
            bad(f"seed must be an integer, got {self.seed!r}")

    @property
    def dataset_name(self) -> str:
        return f"Dataset{self.dataset_id:03d}_{self.name}"

    @property
    def trainer_folder_name(self) -> str:
        """The results sub-folder nnU-Net uses for the stock trainer and default plans."""
        return f"nnUNetTrainer__nnUNetPlans__{self.configuration}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NNUNetConfig:
        if not isinstance(d, dict):
            raise InputError(f"nnunet config: expected a JSON object, got {type(d).__name__}")
        check_keys(d, [f.name for f in dataclasses.fields(cls)], "nnunet config")
        d = dict(d)
        if isinstance(d.get("fold"), str) and d["fold"].isdigit():
            d["fold"] = int(d["fold"])
        return cls(**d)

    def replace(self, **changes: Any) -> NNUNetConfig:
        return dataclasses.replace(self, **changes)
