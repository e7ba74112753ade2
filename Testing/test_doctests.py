"""Run the ``>>>`` examples of every SynTumorLib module (one test per module, so a failure names it).

The examples are documentation first: they must stay true. Examples that need data or minutes say
``# doctest: +SKIP``; the rest run here on tiny inputs.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import torch

import SynTumorLib

torch.set_num_threads(1)
MODULES = sorted(m.name for m in pkgutil.walk_packages(SynTumorLib.__path__, "SynTumorLib."))


def test_every_module_is_collected():
    assert len(MODULES) > 140 and "SynTumorLib.runtime.model_folder" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes relative paths writes here
    monkeypatch.delenv("SYNTUMOR_CPU_THREADS", raising=False)
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (see the output above)"
