"""Slicer packaging: every .py/.ui/.xml/.png/.svg/.json under SynTumor/, SynTumorLib/ and Resources/
must be named by the CMakeLists.txt that packages it (an unlisted file silently disappears from a
Slicer package), every listed file must exist (CMake stops otherwise), and every add_subdirectory
target must exist. Fix a failure with ``python tools/update_cmake_lists.py`` (library, Resources)
or by listing the file in the module's CMakeLists.txt."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cmake_support import STUB_SLICER_CONFIG, stub_config_version

REPO = Path(__file__).resolve().parents[1]
AREAS = ("SynTumor", "SynTumorLib", "Resources")
PACKAGED_SUFFIXES = (".py", ".ui", ".xml", ".png", ".svg", ".json")
SKIP_DIRS = {"__pycache__", ".pytest_cache"}


def _strip_comments(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def _calls(text: str, name: str) -> list[str]:
    """Argument strings of every ``name(...)`` call (CMake commands are case-insensitive)."""
    return [m.group(1) for m in re.finditer(rf"\b{name}\s*\((.*?)\)", text, re.S | re.I)]


def _variables(text: str) -> dict[str, list[str]]:
    out = {}
    for args in _calls(text, "set"):
        words = args.split()
        if words:
            out[words[0]] = words[1:]
    return out


def _inherited_variables(path: Path, root: Path = REPO) -> dict[str, list[str]]:
    """Variables set by the CMakeLists.txt files of the parent folders (CMake directory scope:
    e.g. ``${MODULE_NAME}`` in a module's Testing/Python/CMakeLists.txt)."""
    try:
        rel = path.parent.relative_to(root)
    except ValueError:
        return {}
    out: dict[str, list[str]] = {}
    for n in range(len(rel.parts)):  # root, then each folder above path's own
        cm = root.joinpath(*rel.parts[:n]) / "CMakeLists.txt"
        if cm.is_file():
            out.update(_variables(_strip_comments(cm.read_text(encoding="utf-8"))))
    return out


def parse_cmake(path: Path, root: Path = REPO) -> tuple[set[str], list[str]]:
    """(files packaged by this CMakeLists.txt, relative to its folder; add_subdirectory targets)."""
    text = _strip_comments(path.read_text(encoding="utf-8"))
    variables = {**_inherited_variables(path, root), **_variables(text)}
    variables["CMAKE_CURRENT_SOURCE_DIR"] = ["."]

    def expand(word: str, depth: int = 0) -> list[str]:
        m = re.fullmatch(r"\$\{(\w+)\}", word)
        if m and depth < 5:
            return [w for v in variables.get(m.group(1), []) for w in expand(v, depth + 1)]
        # ${MODULE_NAME} inside a name, e.g. Resources/Icons/${MODULE_NAME}.png
        return [re.sub(r"\$\{(\w+)\}", lambda n: " ".join(variables.get(n.group(1), [n.group(0)])), word)]

    packaged: set[str] = set()
    for args in _calls(text, "slicerMacroBuildScriptedModule"):
        words = args.split()
        section = None
        for w in words:
            if w in ("NAME", "SCRIPTS", "RESOURCES"):
                section = w
            elif w.isupper() and w.isidentifier():
                section = None  # an option such as WITH_SUBDIR or WITH_GENERIC_TESTS
            elif section == "SCRIPTS":
                packaged |= {f if "." in Path(f).name else f + ".py" for f in expand(w)}
            elif section == "RESOURCES":
                packaged |= set(expand(w))
    for args in _calls(text, "slicerMacroBuildScriptedCLI"):
        # the scripted-CLI macro packages <NAME>.py and its Execution Model <NAME>.xml
        name = expand(args.split()[args.split().index("NAME") + 1])[0]
        packaged |= {f"{name}.py", f"{name}.xml"}
    for args in _calls(text, "install"):
        words = args.split()
        if words and words[0] == "FILES":
            for w in words[1:]:
                if w in ("DESTINATION", "COMPONENT", "PERMISSIONS", "RENAME"):
                    break
                packaged |= set(expand(w))
    for args in _calls(text, "foreach"):  # foreach(_file ${LIST}) install(FILES ${_file} ...)
        words = args.split()
        if len(words) > 1 and re.search(rf"install\s*\(\s*FILES\s+\$\{{{words[0]}\}}", text, re.I):
            packaged |= {f for w in words[1:] for f in expand(w)}
    for args in _calls(text, "slicer_add_python_unittest"):
        words = args.split()
        if "SCRIPT" in words:
            packaged |= set(expand(words[words.index("SCRIPT") + 1]))
    subdirs = [args.split()[0] for args in _calls(text, "add_subdirectory") if args.split()]
    return {os.path.normpath(p).replace("\\", "/") for p in packaged}, subdirs


def governing_cmake(path: Path) -> Path | None:
    """The nearest CMakeLists.txt in the file's folder or above it, within its area."""
    d = path.parent
    area_roots = {REPO / a for a in AREAS}
    while True:
        if (d / "CMakeLists.txt").is_file():
            return d / "CMakeLists.txt"
        if d in area_roots or d == REPO:
            return None
        d = d.parent


def packaged_candidates() -> list[Path]:
    out = []
    for area in AREAS:
        for p in sorted((REPO / area).rglob("*")):
            if (p.is_file() and p.suffix in PACKAGED_SUFFIXES and not p.name.startswith(".")
                    and not SKIP_DIRS & set(p.parts)):
                out.append(p)
    return out


def test_every_packaged_file_is_listed():
    missing = []
    cache: dict[Path, set[str]] = {}
    for f in packaged_candidates():
        cmake = governing_cmake(f)
        if cmake is None:
            missing.append(f"{f.relative_to(REPO)}: no CMakeLists.txt packages this folder")
            continue
        if cmake not in cache:
            cache[cmake] = parse_cmake(cmake)[0]
        if f.relative_to(cmake.parent).as_posix() not in cache[cmake]:
            missing.append(f"{f.relative_to(REPO)}: not listed in {cmake.relative_to(REPO)}")
    assert not missing, "unlisted files (run python tools/update_cmake_lists.py, or list them):\n" + "\n".join(missing)


def test_every_listed_file_exists():
    absent = []
    for cmake in sorted(p for a in AREAS for p in (REPO / a).rglob("CMakeLists.txt")):
        for rel in parse_cmake(cmake)[0]:
            if not (cmake.parent / rel).is_file():
                absent.append(f"{cmake.relative_to(REPO)} lists {rel}, which does not exist")
    assert not absent, "\n".join(absent)


def test_add_subdirectory_targets_exist():
    top = REPO / "CMakeLists.txt"
    _, subdirs = parse_cmake(top)
    assert {"SynTumorLib", "SynTumor/SynTumorInsertion", "SynTumor/SynTumorLabelNoise",
            "SynTumor/SynTumorSegmentation", "SynTumor/SynTumorTrain"} <= set(subdirs)
    absent = []
    todo = [(top, s) for s in subdirs]
    while todo:
        parent, sub = todo.pop()
        target = parent.parent / sub / "CMakeLists.txt"
        if not target.is_file():
            absent.append(f"{parent.relative_to(REPO)}: add_subdirectory({sub}) has no {target.relative_to(REPO)}")
            continue
        todo.extend((target, s) for s in parse_cmake(target)[1])
    assert not absent, "\n".join(absent)


def test_top_level_is_a_slicer_extension():
    text = _strip_comments((REPO / "CMakeLists.txt").read_text())
    for needed in ("cmake_minimum_required", "project(SynTumor)", "EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY",
                   "EXTENSION_CONTRIBUTORS", "EXTENSION_DESCRIPTION", "EXTENSION_ICONURL",
                   "EXTENSION_SCREENSHOTURLS", 'EXTENSION_DEPENDS "PyTorch"', "find_package(Slicer REQUIRED)",
                   "include(${Slicer_USE_FILE})", "include(${Slicer_EXTENSION_GENERATE_CONFIG})",
                   "include(${Slicer_EXTENSION_CPACK})"):
        assert needed in text, needed
    lib = _strip_comments((REPO / "SynTumorLib" / "CMakeLists.txt").read_text())
    assert re.search(r"slicerMacroBuildScriptedModule\(.*NAME \$\{MODULE_NAME\}.*WITH_SUBDIR", lib, re.S)
    icon = REPO / "Resources" / "Icons" / "SynTumor.png"
    assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_parser_catches_an_unlisted_file(tmp_path):
    """The check itself must be able to fail: a module CMakeLists that forgets a file."""
    (tmp_path / "CMakeLists.txt").write_text(
        "set(MODULE_NAME Foo)\nset(MODULE_PYTHON_SCRIPTS\n  ${MODULE_NAME}.py\n  ${MODULE_NAME}Lib/__init__\n  )\n"
        "set(MODULE_PYTHON_RESOURCES\n  Resources/Icons/${MODULE_NAME}.png # the icon\n  )\n"
        "slicerMacroBuildScriptedModule(\n  NAME ${MODULE_NAME}\n  SCRIPTS ${MODULE_PYTHON_SCRIPTS}\n"
        "  RESOURCES ${MODULE_PYTHON_RESOURCES}\n  WITH_GENERIC_TESTS\n  )\n")
    packaged, _ = parse_cmake(tmp_path / "CMakeLists.txt")
    assert packaged == {"Foo.py", "FooLib/__init__.py", "Resources/Icons/Foo.png"}
    (tmp_path / "cli.txt").write_text("set(MODULE_NAME Bar)\nSlicerMacroBuildScriptedCLI(\n  NAME ${MODULE_NAME}\n  )\n")
    assert parse_cmake(tmp_path / "cli.txt")[0] == {"Bar.py", "Bar.xml"}


def test_parser_resolves_variables_of_parent_folders(tmp_path):
    """A module's Testing/Python/CMakeLists.txt uses the module's ${MODULE_NAME}."""
    (tmp_path / "Mod" / "Testing" / "Python").mkdir(parents=True)
    (tmp_path / "CMakeLists.txt").write_text("project(X)\nadd_subdirectory(Mod)\n")
    (tmp_path / "Mod" / "CMakeLists.txt").write_text("set(MODULE_NAME Mod)\nadd_subdirectory(Testing)\n")
    test_cmake = tmp_path / "Mod" / "Testing" / "Python" / "CMakeLists.txt"
    test_cmake.write_text("slicer_add_python_unittest(SCRIPT ${MODULE_NAME}ModuleTest.py)\n")
    assert _inherited_variables(test_cmake, tmp_path) == {"MODULE_NAME": ["Mod"]}
    assert parse_cmake(test_cmake, tmp_path)[0] == {"ModModuleTest.py"}


def test_update_tool_check_mode_agrees():
    r = subprocess.run([sys.executable, str(REPO / "tools" / "update_cmake_lists.py"), "--check"],
                       capture_output=True, text=True, encoding="utf-8", timeout=60)
    if r.returncode != 0:
        pytest.fail("tools/update_cmake_lists.py --check:\n" + r.stderr)


# ---------------------------------------------------------------------------------- CMake itself
def test_cmake_configures_against_a_stub_slicer(tmp_path):
    """Configure the real CMake files with a stub Slicer; every packaged candidate must be recorded
    by a packaging macro, as evaluated by CMake itself (independent of the parser above)."""
    import shutil

    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not installed")
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "SlicerConfig.cmake").write_text(STUB_SLICER_CONFIG)
    (stub / "SlicerConfigVersion.cmake").write_text(stub_config_version("5.10.0"))
    (stub / "UseSlicer.cmake").write_text("set(BUILD_TESTING ON)\n")
    (stub / "Noop.cmake").write_text("\n")
    build = tmp_path / "build"
    r = subprocess.run([cmake, "-S", str(REPO), "-B", str(build), f"-DSlicer_DIR={stub}"],
                       capture_output=True, text=True, encoding="utf-8", timeout=240)
    assert r.returncode == 0, f"cmake configure failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    packaged = {Path(line).resolve() for line in (build / "packaged.txt").read_text().splitlines() if line}
    unlisted = [str(f.relative_to(REPO)) for f in packaged_candidates() if f.resolve() not in packaged]
    assert not unlisted, "not packaged by any Slicer macro:\n" + "\n".join(unlisted)
