"""The real nnU-Net v2 path: export our datasets to nnU-Net's raw format, plan/preprocess, train
and predict through nnU-Net's own Python API in a child process, and read the predictions back into
our evaluation (:func:`SynTumorLib.metrics.evaluate.evaluate_folders`).

The budget (epochs, iterations per epoch, validation iterations, device, seed) is data
(:class:`NNUNetConfig`), applied to nnU-Net's stock trainer — no trainer subclasses.

Public API:
    NNUNetConfig, compose_raw_dataset, train_nnunet, predict_nnunet, model_folder
"""

from .api import model_folder, predict_nnunet, train_nnunet
from .config import NNUNetConfig
from .raw import compose_raw_dataset

__all__ = ["NNUNetConfig", "compose_raw_dataset", "train_nnunet", "predict_nnunet", "model_folder"]
