"""The one segmenter trainer, driven entirely by a :class:`TrainConfig`.

``train(config, out_dir)`` loads the data (real train split, healthy cases with online synthetic
tumours, an offline synthetic set, or noisy labels), plans the network, trains with Dice + CE,
validates on the validation split (never the test split) with sliding-window inference, keeps the
best and the last weights, checkpoints atomically, and leaves a model folder in ``out_dir``.

Reproducibility: every seed is in the config; crops are a pure function of (seed, rank, sample
number); a run killed and resumed with ``resume=True`` ends with the same weights as an
uninterrupted one (CPU, deterministic algorithms). Under ``torchrun`` it trains with DDP.

Example:
    >>> folder = train(TrainConfig.from_json("cfg.json"), "models/unet")        # doctest: +SKIP
    >>> load_model(folder).card["validation"]["tumour_dice"]                      # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.datasets import open_dataset
from ..runtime.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from ..runtime.session import TrainingRuntime, due, seed_everything
from ..runtime.threads import step_threads
from ..utils.atomic import write_json_atomic
from ..utils.errors import InputError
from ..utils.jsonio import read_json
from ..utils.progress import ProgressCallback
from ..utils.seeding import child_seed
from .config import TrainConfig
from .data import CropSampler, load_case, median_spacing, steps_per_epoch
from .logs import write_logs
from .model_folder import save_weights, write_model_folder
from .splits import check_splits, make_splits

log = logging.getLogger(__name__)
CHECKPOINT_KIND = "segmenter"
RESUMABLE_CHANGES = {"device", "val_every", "checkpoint_every", "max_val_cases", "notes", "num_workers"}


def lr_at(step: int, cfg: TrainConfig, total: int) -> float:
    """Learning rate for 1-based ``step``: linear warm-up, then cosine / poly (0.9) / constant."""
    base = cfg.learning_rate
    w = int(cfg.warmup_iterations)
    if w and step <= w:
        return base * step / w
    t = (step - w) / max(1, total - w)
    if cfg.schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))
    if cfg.schedule == "poly":
        return base * (1.0 - min(t, 1.0)) ** 0.9
    return base


def make_loss():
    from monai.losses import DiceCELoss

    return DiceCELoss(to_onehot_y=True, softmax=True)


def compute_loss(loss_fn, out, target):
    """Dice+CE; with DynUNet deep supervision, nnU-Net's weights 1, ½, ¼ … (normalised) over heads."""
    if out.dim() == 6:
        w = [0.5**i for i in range(out.shape[1])]
        return sum(wi * loss_fn(out[:, i], target) for i, wi in enumerate(w)) / sum(w)
    return loss_fn(out, target)


def is_better(metrics: dict, best: dict | None) -> bool:
    """Model selection: does validation ``metrics`` beat the ``best`` so far (None: nothing yet)?

    Higher tumour Dice wins. Ties go to the higher pancreas Dice, then to the later step: early in
    training (or on a tiny validation split) tumour Dice is often 0 at every validation, and keeping
    the first checkpoint on such a tie selected barely trained weights that predict only background.
    """
    if best is None:
        return True
    return (metrics["tumour_dice"], metrics["pancreas_dice"]) >= (best["tumour_dice"], best["pancreas_dice"])


def _params_digest(net) -> str:
    h = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _load_training_data(cfg: TrainConfig, info) -> tuple[list, list, dict, TrainConfig]:
    """Open datasets, split, resolve spacing and the network, load and cache cases."""
    from .networks import resolve_network_spec

    d = cfg.data
    real = open_dataset(d["real"]) if d["real"] else None
    noisy = open_dataset(d["noisy_labels"]) if d["noisy_labels"] else None
    healthy = open_dataset(d["healthy"]) if d["healthy"] else None
    offline = open_dataset(d["offline_synthetic"]) if d["offline_synthetic"] else None
    if real is not None:
        ids = [c.case_id for c in real.cases()]
        if cfg.split.get("file"):
            splits = check_splits(read_json(cfg.split["file"]), ids, source=str(cfg.split["file"]))
        elif cfg.split.get("train"):
            splits = check_splits(cfg.split, ids, source="config split")
        else:
            s = cfg.split
            splits = make_splits(ids, s["seed"], s["test_fraction"], s["val_fraction"], s["n_folds"], s["fold"])
    else:
        splits = {"train": [], "val": [], "test": []}
    sources = []  # (dataset, case, source, label_dataset)
    if real is not None:
        sources += [(real, real.case(c), "real", noisy) for c in splits["train"]]
    for ds, kind in ((healthy, "healthy"), (offline, "synthetic")):
        if ds is not None:
            cases = ds.cases()
            if not cases:
                raise InputError(f"{ds.root}: dataset has no cases")
            sources += [(ds, c, kind, None) for c in cases]
            splits[f"{kind}_train"] = [c.case_id for c in cases]
    if not sources:
        raise InputError("no training cases: the real dataset's train split is empty and no other data is given")
    changes = {}
    if cfg.spacing is None:
        changes["spacing"] = median_spacing([(ds, c) for ds, c, _, _ in sources])
    spacing = changes.get("spacing", cfg.spacing)
    changes["model"] = resolve_network_spec(cfg.model, cfg.crop_size, spacing[::-1])
    cfg = cfg.replace(**changes)
    train_cases = [load_case(ds, c, spacing, cfg.crop_size, kind, lab) for ds, c, kind, lab in sources]
    if d["arm"] == "none" and not any(len(c.tumour_idx) for c in train_cases):
        log.warning("no training case has a tumour (label 2) and no synthesis arm is set: the model cannot learn tumours")
    val_ids = splits["val"][: cfg.max_val_cases] if cfg.max_val_cases else splits["val"]
    val_cases = [load_case(real, real.case(c), spacing, cfg.crop_size, "real", noisy) for c in val_ids] if real else []
    return train_cases, val_cases, splits, cfg


def validate(net, cases, cfg: TrainConfig, device) -> dict:
    """Sliding-window Dice on the validation cases (tumour = label 2; pancreas = labels 1+2)."""
    import torch

    from ..metrics.overlap import dice
    from .inference import sliding_window_logits

    lo, hi = cfg.hu_window
    tumour, pancreas = [], []
    for c in cases:
        x = np.clip((c.image.astype(np.float32) - lo) / (hi - lo), 0, 1)
        logits = sliding_window_logits(net, x, cfg.crop_size, overlap=cfg.val_overlap, device=device, amp=cfg.amp)
        pred = torch.argmax(logits[0], 0).numpy()
        tumour.append(dice(pred == 2, c.label == 2))
        pancreas.append(dice(pred >= 1, c.label >= 1))
    net.train()
    return {"tumour_dice": float(np.mean(tumour)), "pancreas_dice": float(np.mean(pancreas)), "n_cases": len(cases)}


def _check_resume(cfg: TrainConfig, out: Path, saved: TrainConfig) -> TrainConfig:
    """The config to continue with: the saved run's, with only :data:`RESUMABLE_CHANGES` taken from ``cfg``."""
    mine, theirs = cfg.to_dict(), saved.to_dict()
    # model args and spacing were resolved when training started: accept the unresolved originals
    if mine["spacing"] is None:
        mine["spacing"] = theirs["spacing"]
    m, t = mine["model"], theirs["model"]
    if m["name"] == t["name"] and all(t["args"].get(k) == v for k, v in m["args"].items()):
        mine["model"] = t
    diff = sorted(k for k in mine if mine[k] != theirs[k] and k not in RESUMABLE_CHANGES)
    if diff:
        raise InputError(f"{out}: cannot resume — the config differs from the run in that folder in {diff}")
    return saved.replace(**{k: mine[k] for k in RESUMABLE_CHANGES})


def _saved_config(ck: dict, out: Path) -> TrainConfig:
    """The run's resolved config: in the checkpoint (this release) or ``config.json`` (the previous one)."""
    if "config" in ck:
        return TrainConfig.from_dict(ck["config"], source=f"{out / 'checkpoints' / 'last.pt'}")
    return TrainConfig.from_json(out / "config.json")


def train(config: TrainConfig | dict | str | Path, out_dir: str | Path, resume: bool = False,
          progress: ProgressCallback | None = None) -> Path:
    """Train a segmenter and return the model folder (``out_dir``).

    Args:
        config: a TrainConfig, a dict or a JSON path.
        out_dir: the model folder to create (or continue with ``resume=True``).
        resume: continue from ``out_dir/checkpoints/last.pt``.
        progress: ``callback(fraction, message)`` after each step (raise to cancel).
    """
    cfg = config if isinstance(config, TrainConfig) else (
        TrainConfig.from_dict(config) if isinstance(config, dict) else TrainConfig.from_json(config))
    out = Path(out_dir)
    ckpt_path = out / "checkpoints" / "last.pt"
    if resume and not ckpt_path.is_file():
        raise InputError(f"{out}: nothing to resume (no checkpoints/last.pt)")
    if not resume and ckpt_path.is_file():
        raise InputError(f"{out}: holds a training run already; pass resume=True (--resume) or choose another folder")
    ck = None
    if resume:
        ck = load_checkpoint(ckpt_path, CHECKPOINT_KIND)
        cfg = _check_resume(cfg, out, _saved_config(ck, out))
    voxels = cfg.batch_size * math.prod(cfg.crop_size)
    with TrainingRuntime.start(cfg.device, amp=cfg.amp, compile=cfg.compile, deterministic=cfg.deterministic,
                               threads=lambda world: step_threads(voxels, world), warn=True) as rt:
        return _train(cfg, out, ck, progress, rt)


@dataclass
class _Run:
    """The state of one training run that checkpoints and the model folder are made from."""

    cfg: TrainConfig
    out: Path
    rt: TrainingRuntime
    net: Any
    opt: Any
    scaler: Any
    splits: dict
    total: int
    history: list = field(default_factory=list)
    best: dict = field(default_factory=lambda: {"score": -1.0, "step": None, "metrics": None})


def _train(cfg: TrainConfig, out: Path, ck: dict | None, progress, rt: TrainingRuntime) -> Path:
    """The training loop (see the module doc); ``ck`` is the checkpoint to resume from."""
    import torch

    from .networks import build_network

    seed_everything(cfg.seed)
    device, info = rt.device, rt.dist
    train_cases, val_cases, splits, cfg = _load_training_data(cfg, info)
    total = cfg.iterations
    if cfg.epochs:
        total = cfg.epochs * steps_per_epoch(len(train_cases), cfg.batch_size, info.world_size)
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if ck is None:
            write_json_atomic(out / "splits.json", splits)
    torch.manual_seed(child_seed(cfg.seed, "init"))  # same initial weights on every rank
    net = build_network(cfg.model).to(device)
    fwd = rt.wrap(net)
    if cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=cfg.learning_rate, momentum=cfg.momentum, nesterov=True,
                              weight_decay=cfg.weight_decay)
    run = _Run(cfg, out, rt, net, opt, rt.grad_scaler(), splits, total)
    loss_fn = make_loss()
    start = 0
    if ck is not None:
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        run.scaler.load_state_dict(ck["scaler"])
        set_rng_state(ck["rng"][min(info.rank, len(ck["rng"]) - 1)])
        start, run.history, run.best = int(ck["step"]), list(ck["history"]), dict(ck["best"])
        log.info("resuming %s at step %d of %d", out, start, total)
    from .augment import make_augmenter, make_synthesizer

    sampler = CropSampler(train_cases, cfg.crop_size, cfg.seed, info.rank, cfg.pos_fraction,
                          make_synthesizer(cfg.data["arm"], cfg.data["synthetic_prob"], cfg.spacing[::-1],
                                           cfg.data["size_classes"], cfg.data["texture"]),
                          cfg.hu_window, make_augmenter(cfg.augment))
    bs = cfg.batch_size
    batches = [list(range(s * bs, (s + 1) * bs)) for s in range(start, total)]
    # crops are a pure function of their number, so workers change the speed, never the data
    loader = torch.utils.data.DataLoader(sampler, batch_sampler=batches, num_workers=cfg.num_workers,
                                         pin_memory=device.type == "cuda")
    net.train()
    t0 = time.perf_counter()
    for step, batch in enumerate(loader, start=start + 1):
        lr = lr_at(step, cfg, total)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batch["image"].to(device), batch["label"].to(device)
        opt.zero_grad(set_to_none=True)
        with rt.autocast():
            loss = compute_loss(loss_fn, fwd(x), y)
        run.scaler.scale(loss).backward()
        run.scaler.step(opt)
        run.scaler.update()
        row = {"step": step, "loss": rt.mean(loss.item()), "lr": lr, "seconds": round(time.perf_counter() - t0, 3)}
        if val_cases and due(step, cfg.val_every, total):
            if info.is_main:
                metrics = validate(net, val_cases, cfg, device)
                row.update(val_tumour_dice=metrics["tumour_dice"], val_pancreas_dice=metrics["pancreas_dice"])
                if is_better(metrics, run.best["metrics"]):
                    run.best = {"score": metrics["tumour_dice"], "step": step, "metrics": metrics}
                    save_weights(net.state_dict(), out / "checkpoints" / "best.safetensors")
            rt.barrier()
        run.history.append(row)
        if due(step, cfg.checkpoint_every, total):
            _save(run, step)
        if progress is not None:
            progress(step / total, f"step {step}/{total} loss {row['loss']:.4f}")
    return _finish(run)


def _save(run: _Run, step: int) -> None:
    states = run.rt.gather(rng_state())  # every rank's RNG goes into rank 0's checkpoint
    if run.rt.is_main:
        save_checkpoint(run.out / "checkpoints" / "last.pt", CHECKPOINT_KIND, {
            "step": step, "config": run.cfg.to_dict(), "model": run.net.state_dict(),
            "optimizer": run.opt.state_dict(), "scaler": run.scaler.state_dict(),
            "rng": states, "history": run.history, "best": run.best})
        write_logs(run.out, run.history)
    run.rt.barrier()


def _finish(run: _Run) -> Path:
    digests = run.rt.gather(_params_digest(run.net))
    if run.rt.is_main:
        state, best = run.net.state_dict(), run.best
        if best["step"] is not None:
            from safetensors.torch import load_file

            state = load_file(str(run.out / "checkpoints" / "best.safetensors"))
        facts = {"steps": run.total, "selected_step": best["step"] or run.total,
                 "selected_by": "best validation tumour Dice" if best["step"] else "last step (no validation cases)",
                 "validation": best["metrics"], "final_loss": run.history[-1]["loss"] if run.history else None,
                 "seed": run.cfg.seed, "world_size": run.rt.world_size, "rank_param_sha256": digests}
        write_model_folder(run.out, run.cfg, state, run.splits, facts)
        write_logs(run.out, run.history, plot=True)
    run.rt.barrier()
    return run.out


__all__ = ["train", "lr_at", "make_loss", "compute_loss", "validate", "is_better"]
