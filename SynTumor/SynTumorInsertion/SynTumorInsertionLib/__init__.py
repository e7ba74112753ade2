"""Qt-free logic of the SynTumorInsertion module (importable with slicer-core alone).

Names are imported on first use (PEP 562): importing the package itself loads nothing heavy.
"""

import importlib

_LAZY = {"InsertionLogic": "logic", "InsertionResult": "logic", "SynTumorInsertionParameterNode": "parameters"}
__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
