"""Generate the documentation site's reference pages from the code, or check that they are current.

    python tools/build_docs.py          # rewrite the generated pages (and the API part of mkdocs.yml's nav)
    python tools/build_docs.py --check  # exit 1 naming every generated page that is out of date

Generated, never edited by hand (each says so in its first line):

- ``docs/reference/cli.md``     — from the ``syntumor`` argparse parser tree (``tools/docsgen/cli_reference.py``)
- ``docs/reference/config.md``  — from the config dataclasses and the shipped JSON presets (``config_reference.py``)
- ``docs/reference/api/*.md``   — mkdocstrings directives for every subpackage (``api_reference.py``)
- ``docs/results/index.md``     — the index of the results pages (``SynTumorLib.utils.results``)
- the blocks of ``mkdocs.yml``'s nav between ``# BEGIN generated …`` and ``# END generated …`` (API and
  results pages)

The site itself is built with ``mkdocs build --strict`` (see docs/contributing.md).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from docsgen import api_reference, cli_reference, config_reference  # noqa: E402

from SynTumorLib.utils.results import render_index  # noqa: E402

DOCS = ROOT / "docs"


def _nav(mkdocs_yml: str, block: str, pages: list[str]) -> str:
    """mkdocs.yml with ``pages`` between ``# BEGIN generated <block>`` and ``# END generated <block>``."""
    begin, end = f"# BEGIN generated {block}", f"# END generated {block}"
    m = re.search(rf"^([ \t]*){re.escape(begin)}.*?\n(.*?)^[ \t]*{re.escape(end)}", mkdocs_yml, re.S | re.M)
    if not m:
        raise SystemExit(f"mkdocs.yml: no '{begin}' … '{end}' block in the nav")
    pad = m.group(1)
    entries = "".join(f"{pad}- {p}\n" for p in pages)
    return mkdocs_yml[: m.start(2)] + entries + mkdocs_yml[m.end(2):]


def generated() -> dict[Path, str]:
    """Every generated file → its current content."""
    from SynTumorLib.cli.main import build_parser

    out: dict[Path, str] = {
        DOCS / "reference" / "cli.md": cli_reference.page(build_parser()),
        DOCS / "reference" / "config.md": config_reference.page(ROOT),
        DOCS / "results" / "index.md": render_index(DOCS / "results"),
    }
    api = api_reference.pages(ROOT)
    out.update({DOCS / rel: text for rel, text in api.items()})
    yml = ROOT / "mkdocs.yml"
    text = _nav(yml.read_text(encoding="utf-8"), "API pages",
                [f"{Path(rel).stem}: {rel}" for rel in api if rel != "reference/api/index.md"])
    results = sorted(f"results/{p.name}" for p in (DOCS / "results").glob("*.md") if p.name != "index.md")
    out[yml] = _nav(text, "results pages", results)
    return out


def stale() -> list[str]:
    """Generated files whose content differs from what the code gives (relative paths)."""
    api_dir = DOCS / "reference" / "api"
    files = generated()
    bad = [str(p.relative_to(ROOT)) for p, text in files.items()
           if not p.exists() or p.read_text(encoding="utf-8") != text]
    extra = [str(p.relative_to(ROOT)) for p in api_dir.glob("*.md") if p not in files]  # a removed subpackage
    return sorted(bad + [f"{e} (no longer generated)" for e in extra])


def main(argv: list[str]) -> int:
    if "--check" in argv:
        bad = stale()
        if bad:
            print("out of date (run python tools/build_docs.py): " + ", ".join(bad), file=sys.stderr)
            return 1
        return 0
    files = generated()
    for p in (DOCS / "reference" / "api").glob("*.md"):
        if p not in files:
            p.unlink()
    for p, text in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
            print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
