"""Qt-free logic of the SynTumorSegmentation module (importable with slicer-core alone)."""

try:
    import SynTumorLib  # noqa: F401  (an installed extension packages the library beside the modules)
except ImportError:  # development: module paths added in Application Settings, library in the source tree
    import sys
    from pathlib import Path

    _root = Path(__file__).resolve().parents[3]
    if (_root / "SynTumorLib" / "__init__.py").is_file():
        sys.path.insert(0, str(_root))


from .logic import EvaluationResult, SegmentationLogic
from .process import PredictionJob, parse_progress_line

__all__ = ["EvaluationResult", "PredictionJob", "SegmentationLogic", "parse_progress_line"]
