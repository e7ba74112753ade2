"""Results pages: every measured figure is written by the run that measured it, never pasted.

Each benchmark (``benchmarks/bench_*.py``, the demo's ``benchmarks/bench_demo.py``) builds one
:class:`ResultsPage` and writes it to ``docs/results/<name>.md``. The page carries, next to the
figures, the command, the commit, the date, the machine (cores, CPU model, memory, GPU) and the load
average at the start and at the end of the run (the run is the process that writes the page: its
start time, and the load read when this module is first imported), so a number can always be traced to the run that
made it and judged by how busy the machine was. Writing a page replaces the previous run's page
(superseded runs are not kept) and rewrites the folder's ``index.md``.

A page must not embed a path of the machine it was made on (a home folder, the checkout, a
temporary folder): :meth:`ResultsPage.write` refuses such a page, naming the path.

Example:
    >>> import pathlib, tempfile
    >>> page = ResultsPage("example", "An example", command="python benchmarks/bench_x.py", echo=False)
    >>> page.table(["case", "wall s"], [["small", 0.5], ["large", 2.94]])
    >>> out = page.write(pathlib.Path(tempfile.mkdtemp()))
    >>> "| large | 2.94 |" in out.read_text(encoding="utf-8"), (out.parent / "index.md").exists()
    (True, True)
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from .atomic import write_text_atomic
from .errors import InputError

INDEX = "index.md"
_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)


# ----------------------------------------------------------------------------- the machine
def _run(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        model = _run(["sysctl", "-n", "machdep.cpu.brand_string"])
        if model:
            return model
    return platform.processor() or platform.machine() or "unknown CPU"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, ValueError, OSError):
        return None


def _gpus() -> list[str]:
    """GPU names (with memory) from ``nvidia-smi``, else from an already imported torch; [] if none."""
    if shutil.which("nvidia-smi"):
        out = _run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"])
        if out:
            return [", ".join(p.strip() for p in line.split(",")) for line in out.splitlines() if line.strip()]
    torch = sys.modules.get("torch")  # never imported just for the stamp: it costs seconds
    if torch is not None:
        try:
            if torch.cuda.is_available():
                return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        except Exception:  # a broken CUDA set-up must not lose the measurement
            return []
    return []


def load_average() -> tuple[float, float, float] | None:
    """The 1-, 5- and 15-minute load averages (None where the OS has none, e.g. Windows)."""
    try:
        return tuple(round(x, 2) for x in os.getloadavg())  # type: ignore[return-value]
    except (AttributeError, OSError):
        return None


def _process_start() -> float:
    """When this process started (epoch seconds): /proc on Linux, else the moment this module was imported."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration, AttributeError):
        return time.time()


# A page describes the run of the command that wrote it, and benchmarks build their page only once
# they have measured: so the date and duration are the process's (its start), and the load "at the
# start" is the one read when this module is imported — every benchmark imports it at the top, before
# any work (a page made at the end would otherwise report its own run's load as the machine's).
_RUN_STARTED = _process_start()
_RUN_LOAD = load_average()


def machine_info() -> dict:
    """Cores, CPU model, memory, GPUs, OS and Python of this machine (what a results page records).

    >>> info = machine_info()
    >>> info["cores"] >= 1 and isinstance(info["gpus"], list)
    True
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    mem = _memory_gib()
    return {"cores": os.cpu_count() or 1, "usable_cores": usable, "cpu": _cpu_model(),
            "memory_gib": round(mem, 1) if mem else None, "gpus": _gpus(),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def git_commit(where: Path) -> str:
    """Short commit of the checkout holding ``where``, marked when it has uncommitted changes."""
    commit = _run(["git", "rev-parse", "--short=10", "HEAD"], cwd=where)
    if not commit:
        return "unknown (not a git checkout)"
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where)
    return f"{commit} (with uncommitted changes)" if dirty else commit


# ----------------------------------------------------------------------------- machine paths
def machine_paths(root: Path | None = None) -> list[str]:
    """Absolute folders particular to this machine: ``root``, the working folder and the library's
    checkout (each with its parents), home, the Python environment, a non-default temp folder."""
    paths: set[str] = set()
    # the given folder, the working folder and the checkout this library runs from, with their parents
    for base in {Path(root).resolve() if root is not None else None, Path.cwd().resolve(),
                 Path(__file__).resolve().parents[2]} - {None}:
        paths.update(str(p) for p in (base, *base.parents) if p.parent != p)
    home = Path.home()
    if home.parent != home:
        paths.add(str(home))
    paths.add(str(Path(sys.prefix).resolve()))
    tmp = Path(tempfile.gettempdir()).resolve()
    if str(tmp) != "/tmp":  # /tmp itself is a fine example path; its generated names are caught below
        paths.add(str(tmp))
    # also when a checkout lies under /tmp (a CI clone): /tmp alone stays an example path (--work /tmp/nn)
    paths.discard("/tmp")
    return sorted(paths, key=len, reverse=True)


# paths of any machine: home folders, temporary files, installed packages
_ANY_MACHINE = re.compile(r"(/home/[^/\s`'\")]+/|/Users/[^/\s`'\")]+/|/root/|[A-Za-z]:\\Users\\|"
                          r"/tmp/(?:tmp|pytest-of-)|site-packages/|/\.venv/)")


def find_machine_paths(text: str, root: Path | None = None) -> list[str]:
    """The machine-local paths ``text`` embeds (see :func:`machine_paths`), each once.

    >>> find_machine_paths("made by /home/jdoe/src/x.py on 2 cores")
    ['/home/jdoe/']
    >>> find_machine_paths("python benchmarks/bench_phantom.py --repeats 2")
    []
    """
    found = [m.group(0) for m in _ANY_MACHINE.finditer(text)]
    for p in machine_paths(root):
        # a whole path: not inside a longer one (x/work/y) and not a prefix of a longer name (/workshop)
        if re.search(r"(?<![\w./\-])" + re.escape(p.rstrip("/")) + r"(?=[/\\\s`'\")]|$)", text, re.M):
            found.append(p)
    return list(dict.fromkeys(found))


def relative_command(argv: Sequence[str], root: Path) -> str:
    """``argv`` as a shell command run from ``root``: ``python`` for the interpreter, paths relative."""
    root = Path(root).resolve()
    words = ["python"]
    for a in argv:
        p = Path(a)
        if p.is_absolute():
            try:
                a = str(p.resolve().relative_to(root))
            except ValueError:
                a = p.name
        words.append(a if re.fullmatch(r"[\w@%+=:,./\-]+", a) else json.dumps(a, ensure_ascii=False))
    return " ".join(words)


# ----------------------------------------------------------------------------- pages
def escape_cell(text: str) -> str:
    r"""Text for one Markdown table cell: one line, ``|`` escaped outside code spans (inside them
    MkDocs' tables keep it), ``<``/``>`` escaped outside code spans so help texts are not HTML.

    >>> print(escape_cell("a|b `c|d` <e>"))
    a\|b `c|d` &lt;e&gt;
    """
    parts = re.split(r"(`+[^`]*`+)", " ".join(str(text).split()))
    return "".join(p if p.startswith("`") else p.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
                   for p in parts)


def _cell(v: object) -> str:
    if isinstance(v, float):
        a = abs(v)
        v = f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.3g}"
    return escape_cell(str(v))


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub/MkDocs table; floats get 3 significant digits (≥ 10: one decimal, ≥ 100: none).

    >>> print(markdown_table(["a", "b"], [[1, 0.12345], ["x", 123.4]]))
    | a | b |
    |---|---|
    | 1 | 0.123 |
    | x | 123 |
    """
    lines = ["| " + " | ".join(map(_cell, headers)) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


class ResultsPage:
    """One results page: figures added in order, then :meth:`write` stamps and writes it.

    Args:
        name: file name without ``.md`` (letters, digits, ``-``, ``_``), e.g. ``"phantom"``.
        title: the page's heading.
        summary: what is measured and how to read it (Markdown), shown under the heading.
        command: the command that made the page; default: ``sys.argv`` as run from the checkout.
        echo: also print every table and text block to stdout as it is added.
    """

    def __init__(self, name: str, title: str, summary: str = "", command: str | None = None,
                 echo: bool = True) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][\w\-]*", name) or name == INDEX[:-3]:
            raise InputError(f"results page name {name!r}: use letters, digits, '-' or '_' (not 'index')")
        self.name, self.title, self.summary, self.command, self.echo = name, title, summary, command, echo
        self.blocks: list[str] = []
        self.started = min(_RUN_STARTED, time.time())
        self.load_start = _RUN_LOAD

    def _add(self, block: str) -> None:
        self.blocks.append(block.strip())
        if self.echo:
            print(block.strip() + "\n", flush=True)

    def section(self, heading: str, text: str = "") -> None:
        """A ``##`` heading, optionally followed by text."""
        self._add(f"## {heading}" + (f"\n\n{text.strip()}" if text.strip() else ""))

    def text(self, markdown: str) -> None:
        """A paragraph (Markdown)."""
        self._add(markdown)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]], caption: str = "") -> None:
        """A table (see :func:`markdown_table`), with an optional caption line above it."""
        self._add((f"{caption.strip()}\n\n" if caption.strip() else "") + markdown_table(headers, rows))

    def figure(self, path: str | os.PathLike, caption: str, page_dir: str | os.PathLike = "docs/results") -> None:
        """An image; ``path`` is relative to the checkout (e.g. ``docs/img/x.png``) and is linked
        relative to the page's folder ``page_dir`` (also relative to the checkout)."""
        rel = os.path.relpath(Path(path), Path(page_dir)).replace(os.sep, "/")
        self._add(f"![{caption}]({rel})")

    def render(self, out_dir: Path) -> str:
        """The whole page, stamped with how, when and where it was measured."""
        root = Path(_run(["git", "rev-parse", "--show-toplevel"], cwd=out_dir) or out_dir)
        command = self.command or relative_command(sys.argv, root)
        m = machine_info()
        end = load_average()
        date = _dt.datetime.fromtimestamp(self.started, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        took = time.time() - self.started
        cores = f"{m['cores']} CPU cores" + (f" ({m['usable_cores']} usable)"
                                             if m["usable_cores"] not in (None, m["cores"]) else "")
        machine = f"{cores}, {m['cpu']}" + (f", {m['memory_gib']} GiB RAM" if m["memory_gib"] else "")
        machine += ", GPU: " + ("; ".join(m["gpus"]) if m["gpus"] else "none")
        loads = (f"{self.load_start[0]} at the start, {end[0]} at the end (1-minute average; "
                 f"{m['cores']} cores)" if self.load_start and end else "not available on this OS")
        versions = [f"Python {m['python']}"] + [f"{n} {sys.modules[n].__version__}" for n in ("numpy", "torch", "monai")
                                                if n in sys.modules and hasattr(sys.modules[n], "__version__")]
        meta = {"title": self.title, "date": date, "commit": git_commit(out_dir), "command": command,
                "cores": m["cores"], "cpu": m["cpu"], "gpus": m["gpus"], "load_start": self.load_start,
                "load_end": end}
        stamp = markdown_table(["", "this run"], [
            ["command", f"`{command}`"], ["commit", f"`{meta['commit']}`"], ["date", f"{date} (the run took {took:.0f} s)"],
            ["machine", f"{machine}; {m['os']}"], ["load average", loads], ["software", ", ".join(versions)]])
        body = "\n\n".join([f"# {self.title}", self.summary.strip(), *self.blocks,
                            "## How this was measured", stamp,
                            "*Written by the command above (`SynTumorLib.utils.results`); run it again to replace this "
                            "page.*"])
        return f"---\n{json.dumps(meta, ensure_ascii=False)}\n---\n\n" + re.sub(r"\n{3,}", "\n\n", body) + "\n"

    def write(self, out_dir: str | os.PathLike) -> Path:
        """Write ``out_dir/<name>.md`` atomically (replacing the previous run's page) and the index."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        text = self.render(out_dir)
        bad = find_machine_paths(text, Path(_run(["git", "rev-parse", "--show-toplevel"], cwd=out_dir) or out_dir))
        if bad:
            raise InputError(f"results page {self.name}.md would embed paths of this machine: {', '.join(bad)}; "
                             "pass relative paths (or set the page's command)")
        path = write_text_atomic(out_dir / f"{self.name}.md", text)
        write_text_atomic(out_dir / INDEX, render_index(out_dir))
        if self.echo:
            print(f"wrote {path}", flush=True)
        return path


def page_meta(path: Path) -> dict:
    """The stamp (front matter) of a results page; {} when it has none."""
    m = _FRONT.match(Path(path).read_text(encoding="utf-8"))
    try:
        return json.loads(m.group(1)) if m else {}
    except json.JSONDecodeError:
        return {}


def render_index(out_dir: str | os.PathLike) -> str:
    """The index of every results page in ``out_dir``: title, date, commit, machine, load."""
    rows = []
    for p in sorted(Path(out_dir).glob("*.md")):
        if p.name == INDEX:
            continue
        meta = page_meta(p)
        load = meta.get("load_start")
        rows.append([f"[{meta.get('title', p.stem)}]({p.name})", meta.get("date", "?"), f"`{meta.get('commit', '?')}`",
                     f"{meta.get('cores', '?')} cores" + (", GPU" if meta.get("gpus") else ""),
                     f"{load[0]}" if load else "–"])
    table = markdown_table(["page", "date", "commit", "machine", "load at start"], rows) if rows else "*No results yet.*"
    return ("# Results\n\nEvery figure on these pages was written by the command named on the page, with the commit, "
            "the date, the machine and its load average (wall times on a loaded machine are inflated; CPU times "
            "much less). Re-running a command replaces its page.\n\n" + table + "\n")
