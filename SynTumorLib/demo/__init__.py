"""``syntumor demo``: the staged, resumable demo pipeline on the built-in phantom and its HTML report."""

from .pipeline import BUDGETS, STAGE_NAMES, Budget, DemoContext, Stage, run_demo
from .report import HtmlReport

__all__ = ["BUDGETS", "STAGE_NAMES", "Budget", "DemoContext", "HtmlReport", "Stage", "run_demo"]
