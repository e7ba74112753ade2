"""Qt-free logic of the SynTumorInsertion module (importable with slicer-core alone)."""

from .logic import InsertionLogic, InsertionResult

__all__ = ["InsertionLogic", "InsertionResult"]
