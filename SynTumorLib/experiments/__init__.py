"""Studies: the paper's Tables 1–3 (and your own) as JSON specs that train, predict, evaluate and
tabulate every arm (model × synthetic size arm × label-noise level) × seed, resumably.

Public API:
    load_spec(path_or_name, overrides) -> StudySpec         -- .spec
    run_study(spec, out_dir, only=None, dry_run=False)      -- .study
    write_outputs(spec, out_dir)                            -- .tables (results.csv, table.md/.html, PNG)

Shipped specs (``specs/``): paper-table1, paper-table2-3 (GPU, MSD + NIH + BTCV paths set with
``--set``), smoke-table1, smoke-table2-3 (the built-in phantom, on a CPU).
"""

from .spec import StudySpec, load_spec
from .study import run_study
from .tables import write_outputs

__all__ = ["StudySpec", "load_spec", "run_study", "write_outputs"]
