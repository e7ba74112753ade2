"""The child process that does nnU-Net v2's work: ``python -m SynTumorLib.segmentation.nnunet.run
STEP --work DIR`` with STEP ``plan``, ``train`` or ``predict``.

Why a separate process: nnU-Net reads its folders from the ``nnUNet_raw`` / ``nnUNet_preprocessed``
/ ``nnUNet_results`` environment variables and spawns worker processes (fingerprinting,
preprocessing, data augmentation), which re-import the main module — so its work must run under an
``if __name__ == "__main__":`` guard, with the variables set *before* nnunetv2 is imported, and must
never touch the caller's environment. The caller (:mod:`.api`) starts this module with the three
variables pointing into the work folder, streams its output into ``DIR/logs/STEP.log`` and reads
progress from it. Everything this module needs is in ``DIR/nnunet.json`` (written by the caller)
and, for ``predict``, a JSON job file.

A bad input found here is printed as one line ``SYNTUMOR-ERROR: <message>`` and exit code 2; the
caller turns that into an ``InputError``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .env import ERROR_PREFIX, PARENT_PID_ENV, set_nnunet_env


def _device(name: str):
    """The torch device by SynTumor's one rule (no GPU for ``cuda`` is an error); CPU threads by its policy."""
    import torch

    from ...runtime.devices import resolve_device
    from ...runtime.threads import cpu_threads

    device = resolve_device(name)
    if device.type == "cpu":
        # nnU-Net's own default: every core OMP_NUM_THREADS allows (SYNTUMOR_CPU_THREADS overrides)
        torch.set_num_threads(cpu_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)))
    return device


def _load_state(work: Path) -> dict:
    from ...utils.jsonio import read_json

    return read_json(work / "nnunet.json")


def step_plan(work: Path) -> None:
    """Fingerprint, plan and preprocess the one configuration we train; write our split file."""
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (
        extract_fingerprints,
        plan_experiments,
        preprocess,
    )

    from ...utils.atomic import write_json_atomic
    from .config import NNUNetConfig

    state = _load_state(work)
    cfg = NNUNetConfig.from_dict(state["config"])
    n = cfg.preprocess_processes
    # No integrity check: export_nnunet already checked every grid and canonicalised labels,
    # and the check costs another pool of worker processes.
    extract_fingerprints([cfg.dataset_id], num_processes=n, check_dataset_integrity=False, clean=True)
    plans_identifier = plan_experiments([cfg.dataset_id])
    preprocess([cfg.dataset_id], plans_identifier, configurations=(cfg.configuration,), num_processes=(n,))
    if state.get("splits"):
        # Our own split (validation separate from the test split, synthetic cases never validated)
        # replaces nnU-Net's random 5-fold split of every case it sees.
        write_json_atomic(work / "nnUNet_preprocessed" / cfg.dataset_name / "splits_final.json", state["splits"])


def step_train(work: Path) -> None:
    """Train the stock ``nnUNetTrainer`` with our budget set on the instance (no subclass)."""
    import random

    import numpy as np
    import torch
    from batchgenerators.utilities.file_and_folder_operations import load_json
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    from .config import NNUNetConfig

    state = _load_state(work)
    cfg = NNUNetConfig.from_dict(state["config"])
    device = _device(cfg.device)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    pre = work / "nnUNet_preprocessed" / cfg.dataset_name
    fold_dir = work / "nnUNet_results" / cfg.dataset_name / cfg.trainer_folder_name / f"fold_{cfg.fold}"
    latest = fold_dir / "checkpoint_latest.pth"
    plans = load_json(str(pre / "nnUNetPlans.json"))
    # nnU-Net's trainer pops this key from the plans it is given (the CLI sets it from --c).
    plans["continue_training"] = latest.is_file()
    trainer = nnUNetTrainer(plans=plans, configuration=cfg.configuration, fold=cfg.fold,
                            dataset_json=load_json(str(pre / "dataset.json")), device=device)
    trainer.num_epochs = cfg.epochs
    trainer.num_iterations_per_epoch = cfg.iterations_per_epoch
    trainer.num_val_iterations_per_epoch = cfg.val_iterations_per_epoch
    # nnU-Net saves checkpoint_latest every `save_every` epochs; keep resumption cheap on short runs.
    trainer.save_every = max(1, min(50, cfg.epochs // 4 or 1))
    if cfg.initial_lr is not None:
        trainer.initial_lr = float(cfg.initial_lr)
    if latest.is_file():
        trainer.load_checkpoint(str(latest))
    trainer.run_training()
    if cfg.validate:
        trainer.perform_actual_validation(False)


def step_predict(work: Path, job_file: Path) -> None:
    """Predict the files listed in the job: ``{"items": [[input, output_without_ext], ...], ...}``."""
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    from ...utils.errors import ModelFolderError
    from ...utils.jsonio import read_json
    from .config import NNUNetConfig

    state = _load_state(work)
    cfg = NNUNetConfig.from_dict(state["config"])
    job = read_json(job_file)
    model = work / "nnUNet_results" / cfg.dataset_name / cfg.trainer_folder_name
    if not (model / f"fold_{cfg.fold}" / "checkpoint_final.pth").is_file():
        raise ModelFolderError(f"{model}: no fold_{cfg.fold}/checkpoint_final.pth — train first")
    device = _device(job.get("device") or cfg.device)
    tta = cfg.tta if job.get("tta") is None else bool(job["tta"])
    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=tta,
                                device=device, verbose=False, allow_tqdm=False)
    _initialize_safely(predictor, model, cfg.fold)
    inputs = [[item[0]] for item in job["items"]]
    outputs = [item[1] for item in job["items"]]
    predictor.predict_from_files_sequential(inputs, outputs, save_probabilities=False, overwrite=True)


def _initialize_safely(predictor, model: Path, fold) -> None:
    """``initialize_from_trained_model_folder`` without its ``torch.load(weights_only=False)``: the
    checkpoint is loaded by :func:`.checkpoints.load_nnunet_checkpoint` and the network handed to
    nnU-Net with ``manual_initialization`` (the same steps as nnU-Net 2.8's own initializer)."""
    import inspect

    from batchgenerators.utilities.file_and_folder_operations import load_json
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name
    from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from ...utils.errors import ModelFolderError
    from .safe_loading import load_nnunet_checkpoint

    ckpt_path = model / f"fold_{fold}" / "checkpoint_final.pth"
    ckpt = load_nnunet_checkpoint(ckpt_path)
    dataset_json = load_json(str(model / "dataset.json"))
    plans_manager = PlansManager(load_json(str(model / "plans.json")))
    try:
        trainer_name, configuration = str(ckpt["trainer_name"]), str(ckpt["init_args"]["configuration"])
    except (KeyError, TypeError):
        raise ModelFolderError(f"{ckpt_path}: not an nnU-Net checkpoint (no trainer_name / init_args)") from None
    configuration_manager = plans_manager.get_configuration(configuration)
    trainer_class = recursive_find_trainer_class_by_name(trainer_name)  # a name among nnU-Net's own trainers
    if trainer_class is None:
        raise ModelFolderError(f"{ckpt_path}: unknown nnU-Net trainer {trainer_name!r}")
    n_in = determine_num_input_channels(plans_manager, configuration_manager, dataset_json)
    n_out = plans_manager.get_label_manager(dataset_json).num_segmentation_heads
    if "plans_manager" in inspect.signature(trainer_class.build_network_architecture).parameters:
        network = trainer_class.build_network_architecture(plans_manager, configuration_manager, n_in, n_out,
                                                           enable_deep_supervision=False)
    else:  # the older signature
        network = trainer_class.build_network_architecture(
            configuration_manager.network_arch_class_name, configuration_manager.network_arch_init_kwargs,
            configuration_manager.network_arch_init_kwargs_req_import, n_in, n_out, enable_deep_supervision=False)
    weights = ckpt["network_weights"]
    try:
        network.load_state_dict(weights)
    except RuntimeError as e:
        raise ModelFolderError(f"{ckpt_path}: the weights do not match the network in plans.json ({str(e)[:200]})") from None
    predictor.manual_initialization(network, plans_manager, configuration_manager, [weights], dataset_json,
                                    trainer_name, ckpt.get("inference_allowed_mirroring_axes"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m SynTumorLib.segmentation.nnunet.run",
                                     description="nnU-Net v2 work for SynTumor (started by SynTumorLib.segmentation.nnunet.api)")
    parser.add_argument("step", choices=("plan", "train", "predict"))
    parser.add_argument("--work", required=True, type=Path, help="the SynTumor nnU-Net work folder")
    parser.add_argument("--job", type=Path, help="predict: the JSON job file")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    set_nnunet_env(work)  # before any nnunetv2 import
    from ...utils.errors import SynTumorError
    from ...utils.workers import watch_parent
    from .safe_loading import install_safe_pickle_loading, install_safe_torch_load

    if os.environ.get(PARENT_PID_ENV):  # a kill -9 of the caller takes this process and its workers with it
        watch_parent(int(os.environ[PARENT_PID_ENV]), kill_group=True)
    install_safe_torch_load()  # no torch.load in this process unpickles arbitrary objects,
    install_safe_pickle_loading()  # and no pickle of nnU-Net's either

    try:
        if args.step == "plan":
            step_plan(work)
        elif args.step == "train":
            step_train(work)
        else:
            if args.job is None:
                raise SystemExit("predict needs --job")
            step_predict(work, args.job)
    except SynTumorError as e:
        print(f"{ERROR_PREFIX}{e}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
