"""Refresh the generated command table in README.md from the ``syntumor`` argparse parsers.

README.md is written by hand (it is the front door, kept short); only the block between
``<!-- BEGIN commands`` and ``<!-- END commands -->`` is generated, so that the table can never
disagree with ``syntumor --help``. Each row links to the command's section of the CLI reference.

    python tools/build_readme.py          # rewrite the block in README.md
    python tools/build_readme.py --check  # exit 1 when the block is out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

from docsgen.cli_reference import _anchor, _esc, _subparsers, _unique  # noqa: E402

BLOCK = re.compile(r"(<!-- BEGIN commands[^\n]*-->\n).*?(<!-- END commands -->)", re.S)


def table() -> str:
    """One row per top-level command: its sub-commands and its help line."""
    from SynTumorLib.cli.main import build_parser

    sub = _subparsers(build_parser())
    helps = {c.dest: c.help for c in sub._choices_actions}
    rows = ["| command | what it does |", "|---|---|"]
    for name, p in _unique(sub):
        inner = _subparsers(p)
        leaves = " \\| ".join(n for n, _ in _unique(inner)) if inner is not None else ""
        cmd = f"`syntumor {name}{' ' + leaves if leaves else ''}`"
        rows.append(f"| [{cmd}](docs/reference/cli.md#{_anchor(p.prog)}) | {_esc(helps.get(name) or '')} |")
    return "\n".join(rows) + "\n"


def build(text: str) -> str:
    if not BLOCK.search(text):
        raise SystemExit("README.md has no '<!-- BEGIN commands ... -->' / '<!-- END commands -->' block")
    return BLOCK.sub(lambda m: m.group(1) + table() + m.group(2), text, count=1)


def main(argv: list[str]) -> int:
    readme = ROOT / "README.md"
    old = readme.read_text(encoding="utf-8")
    new = build(old)
    if "--check" in argv:
        if new != old:
            print("README.md's command table is out of date: run python tools/build_readme.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new, encoding="utf-8")
    print(f"wrote {readme} ({len(new.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
