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
import os
import random
import time
import warnings
from pathlib import Path

import numpy as np

from ..data.datasets import open_dataset
from ..utils.errors import InputError
from ..utils.jsonio import read_json
from ..utils.progress import ProgressCallback
from ..utils.seeding import child_seed
from . import ddp
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig
from .data import CropSampler, load_case, median_spacing, steps_per_epoch
from .logs import write_logs
from .model_folder import WEIGHTS, save_weights, write_model_folder
from .splits import check_splits, make_splits

log = logging.getLogger(__name__)
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


def _check_resume(cfg: TrainConfig, out: Path) -> TrainConfig:
    saved = TrainConfig.from_json(out / "config.json")
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


def train(config: TrainConfig | dict | str | Path, out_dir: str | Path, resume: bool = False,
          progress: ProgressCallback | None = None) -> Path:
    """Train a segmenter and return the model folder (``out_dir``).

    Args:
        config: a TrainConfig, a dict or a JSON path.
        out_dir: the model folder to create (or continue with ``resume=True``).
        resume: continue from ``out_dir/checkpoints/last.pt``.
        progress: ``callback(fraction, message)`` after each step (raise to cancel).
    """
    import torch

    from .devices import resolve_device
    from .networks import build_network

    cfg = config if isinstance(config, TrainConfig) else (
        TrainConfig.from_dict(config) if isinstance(config, dict) else TrainConfig.from_json(config))
    out = Path(out_dir)
    ckpt_path = out / "checkpoints" / "last.pt"
    if resume and not ckpt_path.is_file():
        raise InputError(f"{out}: nothing to resume (no checkpoints/last.pt)")
    if not resume and ckpt_path.is_file():
        raise InputError(f"{out}: holds a training run already; pass resume=True (--resume) or choose another folder")
    if resume:
        cfg = _check_resume(cfg, out)
    device = resolve_device(cfg.device)
    info = ddp.init_distributed(device.type)
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_threads = torch.get_num_threads()
    try:
        if info.enabled and device.type == "cuda":
            device = torch.device("cuda", info.local_rank)
        if device.type == "cpu":
            torch.set_num_threads(cpu_threads(cfg, info.world_size, was_threads))
        return _train(cfg, out, resume, progress, device, info, torch, build_network)
    finally:
        torch.use_deterministic_algorithms(was_deterministic)  # leave the caller's process as it was
        torch.set_num_threads(was_threads)
        ddp.cleanup(info)


SMALL_STEP_VOXELS = 2 * 64**3


def cpu_threads(cfg: TrainConfig, world_size: int = 1, current: int | None = None) -> int:
    """Intra-op threads for CPU training.

    ``SYNTUMOR_CPU_THREADS`` wins when set. Otherwise a small step (batch × crop ≤ 2 × 64³ voxels,
    the tiny/smoke U-Nets) trains on **one** thread: its convolutions are too small to split, and
    OpenMP's spin-waiting made a 2-thread step cost 5–12× the CPU time of a 1-thread step on the
    shared 2-core machine (0.16 s vs 0.7–1.9 s CPU per 2×48³ step). Larger steps keep the current
    setting, divided among DDP processes on the same machine.
    """
    import torch

    env = os.environ.get("SYNTUMOR_CPU_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise InputError(f"SYNTUMOR_CPU_THREADS must be an integer, got '{env}'") from None
    current = current or torch.get_num_threads()
    if cfg.batch_size * math.prod(cfg.crop_size) <= SMALL_STEP_VOXELS:
        return 1
    return max(1, current // max(1, world_size))


def _train(cfg, out, resume, progress, device, info, torch, build_network) -> Path:
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    random.seed(cfg.seed)
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    amp = cfg.amp
    if device.type != "cuda" and (amp != "none" or cfg.compile):
        warnings.warn("amp/compile are CUDA-only options: ignored on the CPU", RuntimeWarning, stacklevel=2)
        amp = "none"
    train_cases, val_cases, splits, cfg = _load_training_data(cfg, info)
    total = cfg.iterations
    if cfg.epochs:
        total = cfg.epochs * steps_per_epoch(len(train_cases), cfg.batch_size, info.world_size)
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if not resume:
            from ..utils.atomic import write_json_atomic

            write_json_atomic(out / "config.json", cfg.to_dict())
            write_json_atomic(out / "splits.json", splits)
    torch.manual_seed(child_seed(cfg.seed, "init"))  # same initial weights on every rank
    net = build_network(cfg.model).to(device)
    model = net
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    fwd = torch.compile(model) if (cfg.compile and device.type == "cuda") else model
    if cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=cfg.learning_rate, momentum=cfg.momentum, nesterov=True,
                              weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=(amp == "fp16"))
    loss_fn = make_loss()
    start, history, best = 0, [], {"score": -1.0, "step": None, "metrics": None}
    if resume:
        ck = load_checkpoint(out / "checkpoints" / "last.pt")
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        scaler.load_state_dict(ck["scaler"])
        set_rng_state(ck["rng"][min(info.rank, len(ck["rng"]) - 1)])
        start, history, best = int(ck["step"]), list(ck["history"]), dict(ck["best"])
        log.info("resuming %s at step %d of %d", out, start, total)
    from .augment import make_augmenter, make_synthesizer

    sampler = CropSampler(train_cases, cfg.crop_size, cfg.seed, info.rank, cfg.pos_fraction,
                          make_synthesizer(cfg.data["arm"], cfg.data["synthetic_prob"], cfg.spacing[::-1],
                                           cfg.data["size_classes"]),
                          cfg.hu_window, make_augmenter(cfg.augment))
    bs = cfg.batch_size
    batches = [list(range(s * bs, (s + 1) * bs)) for s in range(start, total)]
    # crops are a pure function of their number, so workers change the speed, never the data
    loader = torch.utils.data.DataLoader(sampler, batch_sampler=batches, num_workers=cfg.num_workers,
                                         pin_memory=device.type == "cuda")
    autocast_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(amp)
    net.train()
    t0 = time.perf_counter()
    step = start
    for step, batch in enumerate(loader, start=start + 1):
        lr = lr_at(step, cfg, total)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batch["image"].to(device), batch["label"].to(device)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            loss = compute_loss(loss_fn, fwd(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        row = {"step": step, "loss": ddp.all_reduce_mean(loss.item(), info, device), "lr": lr,
               "seconds": round(time.perf_counter() - t0, 3)}
        if val_cases and (step % cfg.val_every == 0 or step == total):
            if info.is_main:
                metrics = validate(net, val_cases, cfg, device)
                row.update(val_tumour_dice=metrics["tumour_dice"], val_pancreas_dice=metrics["pancreas_dice"])
                if is_better(metrics, best["metrics"]):
                    best = {"score": metrics["tumour_dice"], "step": step, "metrics": metrics}
                    save_weights(net.state_dict(), out / "checkpoints" / "best.safetensors")
            ddp.barrier(info)
        history.append(row)
        if step % cfg.checkpoint_every == 0 or step == total:
            _save(out, net, opt, scaler, step, history, best, info, torch)
        if progress is not None:
            progress(step / total, f"step {step}/{total} loss {row['loss']:.4f}")
    return _finish(out, cfg, net, splits, history, best, total, info, torch)


def _save(out, net, opt, scaler, step, history, best, info, torch) -> None:
    states = [rng_state()]
    if info.enabled:  # every rank's RNG goes into rank 0's checkpoint
        import torch.distributed as dist

        states = [None] * info.world_size
        dist.all_gather_object(states, rng_state())
    if info.is_main:
        save_checkpoint(out / "checkpoints" / "last.pt", {
            "step": step, "model": net.state_dict(), "optimizer": opt.state_dict(), "scaler": scaler.state_dict(),
            "rng": states, "history": history, "best": best})
        write_logs(out, history)
    ddp.barrier(info)


def _finish(out, cfg, net, splits, history, best, total, info, torch) -> Path:
    digests = [_params_digest(net)]
    if info.enabled:
        import torch.distributed as dist

        digests = [None] * info.world_size
        dist.all_gather_object(digests, _params_digest(net))
    if info.is_main:
        state = net.state_dict()
        if best["step"] is not None:
            from safetensors.torch import load_file

            state = load_file(str(out / "checkpoints" / "best.safetensors"))
        card = {"steps": total, "selected_step": best["step"] or total,
                "selected_by": "best validation tumour Dice" if best["step"] else "last step (no validation cases)",
                "validation": best["metrics"], "final_loss": history[-1]["loss"] if history else None,
                "seed": cfg.seed, "world_size": info.world_size, "rank_param_sha256": digests}
        write_model_folder(out, cfg, state, splits, card)
        write_logs(out, history, plot=True)
    ddp.barrier(info)
    return out


__all__ = ["train", "lr_at", "make_loss", "compute_loss", "validate", "is_better", "WEIGHTS"]
