"""Segmentation: networks (U-Net, DynUNet planned like nnU-Net, SwinUNETR), the config-driven
trainer (CPU, GPU, torchrun DDP; resumable), model folders and whole-CT inference.

The real nnU-Net v2 path lives in :mod:`.nnunet`. Heavy imports (torch, MONAI) happen inside the
functions, so importing this package is cheap.

Example:
    >>> from SynTumorLib.segmentation import TrainConfig, make_splits
    >>> make_splits(["a", "b", "c", "d", "e"], seed=1, test_fraction=0.2, val_fraction=0.25)["test"]
    ['e']
"""

from .config import TrainConfig
from .splits import make_splits
from .train import train  # the function shadows its module name on purpose: segmentation.train(...)


def load_model(folder, device="cpu"):
    """See :func:`SynTumorLib.segmentation.model_folder.load_model`."""
    from .model_folder import load_model as _load

    return _load(folder, device=device)


def predict_volume(model, image, pancreas=None, device="auto", overlap=None, progress=None, **kwargs):
    """See :func:`SynTumorLib.segmentation.inference.predict_volume`."""
    from .inference import predict_volume as _predict

    return _predict(model, image, pancreas, device=device, overlap=overlap, progress=progress, **kwargs)


def __getattr__(name):
    if name == "LoadedModel":
        from .model_folder import LoadedModel

        return LoadedModel
    if name in ("predict_with_probability", "Prediction"):  # labels + tumour probability (detection)
        from . import inference

        return getattr(inference, name)
    raise AttributeError(name)


__all__ = ["TrainConfig", "make_splits", "train", "load_model", "predict_volume", "predict_with_probability",
           "Prediction", "LoadedModel"]
