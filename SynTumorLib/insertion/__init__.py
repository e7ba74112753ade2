"""Tumour insertion: ``insert_tumours`` / ``replay``, the insertion spec, the online MONAI transform
(:mod:`~SynTumorLib.insertion.transform`, imports MONAI lazily) and offline synthetic datasets
(:mod:`~SynTumorLib.insertion.dataset`)."""

from .insert import insert_tumours, replay
from .spec import InsertionSpec

__all__ = ["insert_tumours", "replay", "InsertionSpec"]
