#!/usr/bin/env bash
# Slicer's Python stack: the Slicer harness and the tests of the Qt-free paths the panels and the CLI
# module use, under Python 3.12 (what Slicer 5.10 and 5.12 ship) with each release's numpy and scipy.
#
#   bash tools/slicer_stack.sh               # 5.10.0 and 5.12.3, side by side
#   bash tools/slicer_stack.sh 5.12.3        # one release
#
# Each release gets a small venv of its own, .venv-slicer-<release>/ (git-ignored), made here with
# Python 3.12 (PYTHON312, else pyenv's 3.12, else python3.12) and kept while its requirements are the
# same. It holds only that release's numpy and scipy; the packages both releases share (slicer-core +
# vtk for MRML, SimpleITK (Slicer ships it), pytest — no torch, no Qt) are installed once, into
# .venv-slicer-common/, which a .pth file appends to each release venv's sys.path: the release's own
# numpy/scipy come first (test_slicer_stack.py asserts the versions imported), and the shared 1.1 GB
# (vtk, SimpleITK, slicer-core) is on disk once instead of twice. Slicer's sources come from
# SYNTUMOR_SLICER_SOURCES (default ../shared/slicer); the harness fails, not skips, without them
# (SYNTUMOR_REQUIRE_SLICER_HARNESS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=(5.10.0 5.12.3)

is312() { [ -n "$1" ] && [ -x "$1" ] && "$1" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; }
py312="${PYTHON312:-}"
if [ -z "$py312" ]; then
  for candidate in "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.12*/bin/python \
                   "$(command -v python3.12 || true)"; do
    if is312 "$candidate"; then py312="$candidate"; break; fi
  done
fi
if ! is312 "$py312"; then
  echo "slicer_stack: Python 3.12 not found (set PYTHON312, or pyenv install 3.12)" >&2
  exit 1
fi

# numpy/scipy each release bundles (Slicer's SuperBuild/External_python-*.cmake; ../shared/slicer/versions.json)
stack_of() {
  case "$1" in
    5.10.0) stack="numpy==2.0.2 scipy==1.13.1" ;;
    5.12.3) stack="numpy==2.4.6 scipy==1.17.1" ;;
    *) echo "slicer_stack: unknown release $1" >&2; return 1 ;;
  esac
  echo "$stack"
}
common="slicer-core==5.13.31053.0 vtk==9.6.2 SimpleITK>=2.3 packaging pytest>=8 pytest-timeout>=2.3"

# release-specific: Slicer's own code of that release; the rest: the library on that numpy/scipy
tests_of() {
  echo Testing/test_slicer_stack.py Testing/test_slicer_harness_parameters.py Testing/test_slicer_harness_ui.py \
    Testing/test_slicer_harness_sampledata.py Testing/test_slicer_harness_cli.py Testing/test_slicer_harness_panels.py \
    Testing/test_slicer_logic_dependencies.py Testing/test_slicer_logic_insertion.py \
    Testing/test_slicer_logic_labelnoise.py Testing/test_slicer_logic_segmentation.py Testing/test_slicer_mrml.py \
    Testing/test_slicer_worker.py
}

common_dir=".venv-slicer-common"
prepare_common() {  # the shared packages, once, when missing or when their requirements changed
  local wanted
  wanted="$("$py312" -V 2>&1) $common"
  if [ ! -d "$common_dir" ] || [ "$(cat "$common_dir/.requirements" 2>/dev/null)" != "$wanted" ]; then
    rm -rf "$common_dir"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$py312" -m pip install -q --no-cache-dir --target "$common_dir" $common
    echo "$wanted" > "$common_dir/.requirements"
  fi
}

prepare() {  # $1 release: (re)create its venv when missing or when its requirements changed
  local venv=".venv-slicer-$1" wanted site
  wanted="$("$py312" -V 2>&1) $(stack_of "$1") $PWD/$common_dir"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$wanted" ]; then
    rm -rf "$venv"
    "$py312" -m venv "$venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q --no-cache-dir $(stack_of "$1")
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    # appended after the venv's own site-packages, so this release's numpy/scipy shadow the shared copies
    echo "$PWD/$common_dir" > "$site/slicer-common.pth"
    echo "$wanted" > "$venv/.requirements"
  fi
}

run() {  # $1 release
  local venv=".venv-slicer-$1"
  SYNTUMOR_SLICER_RELEASES="$1" SYNTUMOR_EXPECT_STACK="$(stack_of "$1")" SYNTUMOR_REQUIRE_SLICER_HARNESS=1 \
    PYTHONPATH="$PWD" PYTHONUTF8=1 OMP_NUM_THREADS=1 MPLBACKEND=Agg \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider $(tests_of "$1")
}

start=$(date +%s)
mkdir -p build
prepare_common
for r in "${releases[@]}"; do prepare "$r"; done
# the sem tools are shared: build them once before the releases run side by side (a missing
# compiler is reported by the tests themselves)
PYTHONPATH="$PWD" ".venv-slicer-${releases[0]}/bin/python" -c \
  "import sys; sys.path.insert(0, 'Testing'); from slicer_harness.sem import tools; tools()" >/dev/null 2>&1 || true
status=0
pids=()
for r in "${releases[@]}"; do
  run "$r" > "build/slicer-stack-$r.log" 2>&1 & pids+=($!)
done
for i in "${!releases[@]}"; do
  if wait "${pids[$i]}"; then result=passed; else result=FAILED; status=1; fi
  echo "== Slicer ${releases[$i]} stack ($(stack_of "${releases[$i]}"), $("$py312" -V 2>&1)): $result"
  tail -n 3 "build/slicer-stack-${releases[$i]}.log"
  [ "$result" = passed ] || cat "build/slicer-stack-${releases[$i]}.log"
done
echo "slicer_stack: $(( $(date +%s) - start )) s"
exit $status
