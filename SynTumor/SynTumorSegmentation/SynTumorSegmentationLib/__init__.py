"""Qt-free logic of the SynTumorSegmentation module (importable with slicer-core alone)."""

from .logic import EvaluationResult, SegmentationLogic
from .process import PredictionJob, parse_progress_line

__all__ = ["EvaluationResult", "PredictionJob", "SegmentationLogic", "parse_progress_line"]
