"""Qt-free logic of the SynTumorLabelNoise module (importable with slicer-core alone).

Names are imported on first use (PEP 562): importing the package itself loads nothing heavy.
"""

import importlib

_LAZY = {"LabelNoiseLogic": "logic", "LabelNoiseResult": "logic", "SynTumorLabelNoiseParameterNode": "parameters"}
__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
