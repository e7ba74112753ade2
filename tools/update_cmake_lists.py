#!/usr/bin/env python3
"""Regenerate the explicit file lists in SynTumorLib/CMakeLists.txt and Resources/CMakeLists.txt.

Slicer packages only the files a CMakeLists.txt names; a file that is not listed silently goes
missing from the extension. The lists between the ``# BEGIN GENERATED FILE LIST`` and
``# END GENERATED FILE LIST`` markers are rebuilt from the files on disk (not ``git ls-files``, so
files not yet committed count too); ``__pycache__``, hidden files and compiled files are skipped.

Usage:
    python tools/update_cmake_lists.py          # rewrite the lists
    python tools/update_cmake_lists.py --check  # exit 1 and name the files when a list is stale
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN = "# BEGIN GENERATED FILE LIST (tools/update_cmake_lists.py)"
END = "# END GENERATED FILE LIST"

# what Slicer needs at run time besides Python sources
RESOURCE_SUFFIXES = (".json", ".md", ".ui", ".xml", ".png", ".svg", ".txt", ".csv", ".html", ".css")
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}


def files_under(base: Path, suffixes: tuple[str, ...], exclude: tuple[str, ...] = ()) -> list[str]:
    """Relative POSIX paths of files with the given suffixes, sorted, skipping caches and hidden files."""
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                             and not d.endswith(".egg-info"))
        for name in filenames:
            if name.startswith(".") or not name.endswith(suffixes) or name in exclude:
                continue
            out.append((Path(dirpath) / name).relative_to(base).as_posix())
    return sorted(out)


def targets() -> list[tuple[Path, dict[str, list[str]]]]:
    """(CMakeLists.txt, {list variable: files}) for every generated list."""
    lib = REPO / "SynTumorLib"
    res = REPO / "Resources"
    return [
        (lib / "CMakeLists.txt", {
            "SynTumorLib_PYTHON_SCRIPTS": files_under(lib, (".py",)),
            "SynTumorLib_PYTHON_RESOURCES": files_under(lib, RESOURCE_SUFFIXES, exclude=("CMakeLists.txt",)),
        }),
        (res / "CMakeLists.txt", {
            "SynTumor_RESOURCE_FILES": files_under(res, RESOURCE_SUFFIXES + (".py",), exclude=("CMakeLists.txt",)),
        }),
    ]


def render(lists: dict[str, list[str]]) -> str:
    blocks = []
    for var, files in lists.items():
        body = "".join(f"  {f}\n" for f in files)
        blocks.append(f"set({var}\n{body}  )\n")
    return BEGIN + "\n" + "\n".join(blocks) + END


def listed(text: str, var: str) -> list[str]:
    m = re.search(rf"set\(\s*{re.escape(var)}\b(.*?)\)", text, re.S)
    return m.group(1).split() if m else []


def update(check: bool) -> int:
    stale = []
    for cmake, lists in targets():
        text = cmake.read_text(encoding="utf-8")
        start, end = text.find(BEGIN), text.find(END)
        if start < 0 or end < start:
            print(f"{cmake.relative_to(REPO)}: generated-list markers not found", file=sys.stderr)
            return 2
        new = text[:start] + render(lists) + text[end + len(END):]
        if new == text:
            continue
        for var, files in lists.items():
            old = set(listed(text, var))
            for f in sorted(set(files) - old):
                stale.append(f"{cmake.relative_to(REPO)}: {var} lacks {f}")
            for f in sorted(old - set(files)):
                stale.append(f"{cmake.relative_to(REPO)}: {var} lists {f}, which does not exist")
        if not check:
            tmp = cmake.with_name(f".{cmake.name}.tmp")
            tmp.write_text(new, encoding="utf-8")
            os.replace(tmp, cmake)
            print(f"updated {cmake.relative_to(REPO)}")
    if check and stale:
        print("\n".join(stale), file=sys.stderr)
        print("run: python tools/update_cmake_lists.py", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only report stale lists (exit 1), change nothing")
    return update(p.parse_args(argv).check)


if __name__ == "__main__":
    sys.exit(main())
