"""The real nnU-Net v2 path: export our datasets to nnU-Net's raw format (with
:func:`SynTumorLib.data.nnunet_export.export_nnunet`, the one raw-dataset writer), plan/preprocess, train
and predict through nnU-Net's own Python API in a child process, and read the predictions back into
our evaluation (:func:`SynTumorLib.metrics.evaluate.evaluate_folders`).

The budget (epochs, iterations per epoch, validation iterations, device, seed) is data
(:class:`NNUNetConfig`), applied to nnU-Net's stock trainer — no trainer subclasses.

Public API:
    NNUNetConfig, train_nnunet, predict_nnunet, model_folder
"""

from .api import model_folder, predict_nnunet, train_nnunet
from .config import NNUNetConfig

__all__ = ["NNUNetConfig", "train_nnunet", "predict_nnunet", "model_folder"]
