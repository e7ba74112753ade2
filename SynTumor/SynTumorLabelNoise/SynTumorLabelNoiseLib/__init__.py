"""Qt-free logic of the SynTumorLabelNoise module (importable with slicer-core alone)."""

from .logic import LabelNoiseLogic, LabelNoiseResult

__all__ = ["LabelNoiseLogic", "LabelNoiseResult"]
