#!/usr/bin/env bash
# One-command set-up for a fresh machine with Python 3.11:
#   bash tools/bootstrap.sh demo   # create .venv, install SynTumorLib, run `syntumor demo` on the phantom
#   bash tools/bootstrap.sh test   # create .venv, install SynTumorLib with test extras, run the test suite
#   bash tools/bootstrap.sh docs   # create .venv, install the docs extra, build the site strictly (site/)
#   bash tools/bootstrap.sh docs serve   # ... and serve it at http://127.0.0.1:8000 (live reload)
# Extra arguments are passed on (to `syntumor demo`, to pytest or to mkdocs).
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-demo}"; shift || true
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# UTF-8 mode: file I/O defaults to UTF-8 whatever the locale (CI machines may have none set).
export PYTHONUTF8=1
case "$what" in
  demo)
    .venv/bin/pip install -q -e .
    exec .venv/bin/syntumor demo "$@"
    ;;
  test)
    .venv/bin/pip install -q -e ".[test]"
    # lint first (seconds): the tree stays ruff-clean ([tool.ruff] in pyproject.toml)
    .venv/bin/ruff check .
    # Keep the two cores for the tests themselves; each test sets its own small thread count.
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" MPLBACKEND=Agg QT_QPA_PLATFORM=offscreen
    exec .venv/bin/python -m pytest -q "$@"
    ;;
  docs)
    .venv/bin/pip install -q -e ".[docs]"
    export NO_MKDOCS_2_WARNING=1
    if [ "${1:-}" = "serve" ]; then
      shift
      .venv/bin/python tools/build_docs.py --check || echo "(serving anyway; regenerate with python tools/build_docs.py)" >&2
      exec .venv/bin/mkdocs serve "$@"
    fi
    # the generated reference pages must match the code before the site is built from them
    .venv/bin/python tools/build_docs.py --check
    exec .venv/bin/mkdocs build --strict "$@"
    ;;
  *)
    echo "usage: bash tools/bootstrap.sh demo|test|docs [args...]" >&2; exit 64;;
esac
