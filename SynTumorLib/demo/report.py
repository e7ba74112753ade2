"""A small, dependency-free HTML report builder: sections of paragraphs, key/value lists, tables
(from lists of dicts), code blocks and images referenced by relative path. All text is escaped.

Example:
    >>> r = HtmlReport("Demo")
    >>> s = r.section("Cohort")
    >>> s.table([{"case": "a<b", "mL": 1.5}])
    >>> "a&lt;b" in r.render() and "<table>" in r.render()
    True
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..utils.atomic import write_text_atomic

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #2a7;padding-bottom:.2em}h2{margin-top:1.6em;color:#175}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right;white-space:nowrap}th{background:#eef6f1;
white-space:normal;vertical-align:bottom}
td:first-child,th:first-child{text-align:left}
pre{background:#f5f5f5;padding:.6em;overflow-x:auto;font-size:.9em}
figure{margin:.8em 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.88em;color:#555}.note{background:#fff8e1;border-left:4px solid #fb0;padding:.5em .8em}
.bad{color:#b00;font-weight:bold}.good{color:#070;font-weight:bold}
tr.block th{text-align:left;background:#f4f4f4;font-style:italic}
caption{caption-side:top;text-align:left;font-size:.9em;color:#444;padding:.2em 0}
.warn{background:#fdecea;border-left:4px solid #c33;padding:.6em .9em;font-weight:bold}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:.6em}
"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    return "" if v is None else str(v)


class Section:
    """One titled block of the report; methods append content in order."""

    def __init__(self, title: str, anchor: str):
        self.title, self.anchor, self.parts = title, anchor, []

    def paragraph(self, text: str, cls: str | None = None) -> None:
        c = f' class="{html.escape(cls)}"' if cls else ""
        self.parts.append(f"<p{c}>{html.escape(text)}</p>")

    def html(self, raw: str) -> None:
        """Append trusted HTML produced by this module's callers (not user text)."""
        self.parts.append(raw)

    def code(self, text: str) -> None:
        self.parts.append(f"<pre><code>{html.escape(text)}</code></pre>")

    def table(self, rows: Sequence[dict], columns: Sequence[str] | None = None, source: str | None = None,
              caption: str = "") -> None:
        """A table from dicts; ``source`` (a file of the run) is stored as ``data-source`` so every
        number can be traced back to it."""
        if not rows:
            self.paragraph("(no rows)")
            return
        cols = list(columns) if columns else list(dict.fromkeys(k for r in rows for k in r))
        body = [({}, [_fmt(r.get(c)) for c in cols]) for r in rows]
        self.grouped_table(cols, [(None, body)], source, caption)

    def grouped_table(self, header: Sequence[str], blocks: Sequence[tuple[str | None, Sequence[tuple[dict, Sequence[str]]]]],
                      source: str | None = None, caption: str = "") -> None:
        """A table in blocks, each with an optional full-width title row (the paper's "Without
        synthetic volumes" / "With synthetic volumes" layout). Rows are ``(attributes, cells)``;
        attributes become ``data-*`` attributes of the ``<tr>`` (e.g. the arm a row comes from)."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
        body = []
        for title, rows in blocks:
            if title:
                body.append(f'<tr class="block"><th colspan="{len(header)}">{html.escape(title)}</th></tr>')
            for attrs, cells in rows:
                a = "".join(f' data-{html.escape(k)}="{html.escape(str(v))}"' for k, v in attrs.items())
                body.append(f"<tr{a}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
        src = f' data-source="{html.escape(source)}"' if source else ""
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self.parts.append(f"<table{src}>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")

    def links(self, items: Sequence[tuple[str, str]], prefix: str = "") -> None:
        """A paragraph of links to files of the run, by *relative* path (e.g. loss logs)."""
        for href, _ in items:
            if os.path.isabs(href) or href.startswith(("http:", "https:", "file:")):
                raise ValueError(f"report links must be relative paths, got {href!r}")
        body = " · ".join(f'<a href="{html.escape(h)}">{html.escape(t)}</a>' for h, t in items)
        self.parts.append(f"<p>{html.escape(prefix)}{body}</p>")

    def key_values(self, items: dict) -> None:
        self.table([{"item": k, "value": v} for k, v in items.items()], ["item", "value"])

    def images(self, items: Sequence[tuple[str, str]]) -> None:
        """Several (src, caption) images side by side in a responsive grid."""
        figs = []
        for src, caption in items:
            before = len(self.parts)
            self.image(src, caption)
            figs.append(self.parts.pop(before))
        self.parts.append(f'<div class="grid">{"".join(figs)}</div>')

    def image(self, src: str, caption: str = "", alt: str | None = None) -> None:
        """An image by *relative* path (the report stays relocatable with its img/ folder)."""
        if os.path.isabs(src) or src.startswith(("http:", "https:", "file:")):
            raise ValueError(f"report images must be relative paths, got {src!r}")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure><img src="{html.escape(src)}" alt="{html.escape(alt or caption)}">{cap}</figure>')


class HtmlReport:
    """A self-contained HTML page (inline CSS; images referenced relatively)."""

    def __init__(self, title: str, subtitle: str = ""):
        self.title, self.subtitle, self.sections = title, subtitle, []

    def section(self, title: str) -> Section:
        s = Section(title, f"s{len(self.sections) + 1}")
        self.sections.append(s)
        return s

    def render(self) -> str:
        toc = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in self.sections)
        body = "".join(f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{"".join(s.parts)}</section>'
                       for s in self.sections)
        sub = f"<p>{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{html.escape(self.title)}</title><style>{CSS}</style></head><body>"
                f"<h1>{html.escape(self.title)}</h1>{sub}<nav><ol>{toc}</ol></nav>{body}</body></html>\n")

    def write(self, path: str | os.PathLike) -> Path:
        return write_text_atomic(path, self.render())
