"""Slicer's CLI-module XML parser, and the command line Slicer builds from a parsed description.

``tools()`` builds, once per source revision, SlicerExecutionModel's ``ModuleDescriptionParser`` (the
revision Slicer 5.10 and 5.12 pin, in ``../shared/slicer/sem``) into ``sem_check`` (with its own
``build.sh``) and ``sem_dump`` (``sem_dump.cxx`` here: the parameters as Slicer parsed them), under
``build/slicer-harness/`` (git-ignored). Without g++ or libexpat the tests that need them skip.

:func:`command_line` follows ``vtkSlicerCLIModuleLogic::ConstructCommandLine`` (``Base/Logic`` in
both releases) for the parameter kinds a description may use with a flag:

* a plain value (integer, float, double, enumerations, …): ``--flag value``, always — even empty;
* ``boolean``: the bare ``--flag`` when the value is ``"true"``, nothing otherwise;
* ``file`` / ``directory`` / ``string`` / the ``-vector`` kinds: ``--flag value`` only when the
  value is not empty;
* node kinds (image, transform, point, …) are written to files by Slicer first; descriptions that
  use them are not supported here (SynTumorTrain has none).

Long flags win over short ones, parameters keep their XML order, index parameters follow.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import REPO
from .sources import sem_dir

DUMP_SOURCE = Path(__file__).with_name("sem_dump.cxx")
NOT_SIMPLE = {"boolean", "file", "directory", "string", "integer-vector", "float-vector", "double-vector",
              "string-vector", "image", "point", "pointfile", "region", "transform", "geometry", "table",
              "measurement"}
OMITTED_WHEN_EMPTY = {"file", "directory", "string", "integer-vector", "float-vector", "double-vector",
                      "string-vector"}


@dataclass(frozen=True)
class Parameter:
    """One parameter as SlicerExecutionModel parsed it."""

    tag: str
    name: str
    longflag: str
    flag: str
    channel: str
    index: str
    value: str  # the XML default: what a fresh CLI node holds
    elements: tuple[str, ...]


@dataclass(frozen=True)
class SemTools:
    sem_check: Path
    sem_dump: Path

    def check(self, *xml: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.sem_check), *map(str, xml)], capture_output=True, text=True, timeout=60)

    def parameters(self, xml: Path) -> list[Parameter]:
        r = subprocess.run([str(self.sem_dump), str(xml)], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"ModuleDescriptionParser rejects {xml}:\n{r.stdout}{r.stderr}")
        out = []
        for line in r.stdout.splitlines():
            tag, name, longflag, flag, channel, index, value, elements = line.split("\t")
            out.append(Parameter(tag, name, longflag, flag, channel, index, value,
                                 tuple(elements.split("|")) if elements else ()))
        return out


def tools() -> SemTools:
    """``sem_check`` and ``sem_dump``, built on first use (skips when g++ or libexpat is missing)."""
    src = sem_dir()
    digest = hashlib.sha256()
    for f in sorted([*src.rglob("*.cxx"), *src.rglob("*.h*"), src / "build.sh", DUMP_SOURCE]):
        digest.update(f.name.encode() + f.read_bytes())
    out = REPO / "build" / "slicer-harness" / f"sem-{digest.hexdigest()[:12]}"
    tools_ = SemTools(out / "sem_check", out / "sem_dump")
    if tools_.sem_check.is_file() and tools_.sem_dump.is_file():
        return tools_
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed: cannot build Slicer's ModuleDescriptionParser (apt-get install g++)")
    out.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["bash", str(src / "build.sh"), str(out)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        _skip_or_fail("building sem_check with ../shared/slicer/sem/build.sh", r)
    parser = src / "ModuleDescriptionParser"
    sources = sorted(str(p) for p in parser.glob("*.cxx"))
    r = subprocess.run(["g++", "-std=c++17", "-O1", "-w", "-DModuleDescriptionParser_STATIC", f"-I{out / 'include'}",
                        f"-I{parser}", str(DUMP_SOURCE), *sources, "-lexpat", "-o", str(tools_.sem_dump)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        _skip_or_fail("building sem_dump", r)
    return tools_


def _skip_or_fail(what: str, r: subprocess.CompletedProcess) -> None:
    text = r.stdout + r.stderr
    if "expat.h" in text or "-lexpat" in text or "cannot find -lexpat" in text:
        pytest.skip(f"libexpat is not installed: {what} failed (apt-get install libexpat1-dev)")
    raise AssertionError(f"{what} failed:\n{text[-3000:]}")


def command_line(parameters: list[Parameter], values: dict[str, str] | None = None) -> list[str]:
    """The arguments Slicer passes the CLI executable when the node holds ``values`` (name → the
    string the node stores; the rest keep their XML defaults)."""
    values = values or {}
    args: list[str] = []
    indexed = []
    for p in parameters:
        value = values.get(p.name, p.value)
        if p.longflag:
            flag = "--" + p.longflag
        elif p.flag:
            flag = "-" + p.flag
        else:
            indexed.append((int(p.index), p, value))
            continue
        if p.tag not in NOT_SIMPLE:
            args += [flag, value]
        elif p.tag == "boolean":
            if value == "true":
                args.append(flag)
        elif p.tag in OMITTED_WHEN_EMPTY:
            if value != "":
                args += [flag, value]
        else:
            raise NotImplementedError(f"parameter {p.name}: <{p.tag}> (a node written to a file by Slicer)")
    for _index, p, value in sorted(indexed, key=lambda t: t[0]):  # index parameters follow, in index order
        if p.tag not in NOT_SIMPLE:
            args.append(value)
        elif p.tag in OMITTED_WHEN_EMPTY:
            if value == "":
                raise ValueError(f'No value assigned to "{p.name}"')  # Slicer refuses to run the module
            args.append(value)
        else:
            raise NotImplementedError(f"index parameter {p.name}: <{p.tag}>")
    return args
