"""Griffe extension for the API reference: reads our docstrings as Markdown without editing them.

The library's docstrings are Google style with a few reStructuredText habits that Markdown renders
badly; this rewrites them in memory, when mkdocstrings loads the package (the files stay as they are):

- ``Example:`` / ``Example (note)::`` followed by ``>>>`` lines becomes an ``Examples:`` section, which
  mkdocstrings renders as a Python console block. (An ``Example:`` admonition would be Markdown, where
  ``>>>`` starts nested block quotes and ``x["a"][0]`` is a reference link.)
- Sphinx roles (``:class:`~SynTumorLib.data.volume.Volume```, ``:func:`x```) become code spans.
- A paragraph ending in ``::`` (a reStructuredText literal-block marker) ends in ``:``.
- Other ``>>>`` blocks (a doctest in the body of a docstring) become fenced ``pycon`` code blocks.
- A grouped argument entry (``pred, ref: label maps`` or ``level / sigma_mm: ...``) becomes one entry
  per name, so that griffe still checks every documented name against the signature.

Loaded by ``mkdocs.yml`` (``extensions: [tools/docsgen/griffe_docstrings.py:ReadDocstringsAsMarkdown]``).
"""

from __future__ import annotations

import re

try:
    from griffe import Extension
except ImportError:  # the docs generator uses convert() in environments without the docs extra
    Extension = object

_EXAMPLE = re.compile(r"^(?P<indent>[ \t]*)Examples?\b(?P<note>[^\n:]*?)\s*::?[ \t]*$")
_ARGS = re.compile(r"^(?P<indent>[ \t]*)(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|"
                   r"Other Parameters):[ \t]*$")
_GROUP = re.compile(r"^(?P<names>\*{0,2}\w+(?:\s*(?:,|/)\s*\*{0,2}\w+)+)(?P<rest>\s*(?:\([^)]*\))?:(?:\s.*)?)$")
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`~?(?P<target>[^`]+)`")


def _role(m: re.Match) -> str:
    target = m.group("target")
    if m.group(0).split("`", 1)[1].startswith("~"):
        target = target.rsplit(".", 1)[-1]  # Sphinx's ~: show only the last component
    return f"``{target}``"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _split_groups(lines: list[str]) -> list[str]:
    """One entry per name for grouped entries of argument sections."""
    out: list[str] = []
    n = 0
    while n < len(lines):
        line = lines[n]
        out.append(line)
        n += 1
        head = _ARGS.match(line)
        if not head:
            continue
        base, entry = _indent(line), None
        while n < len(lines) and (not lines[n].strip() or _indent(lines[n]) > base):
            cur = lines[n]
            entry = entry if entry is not None or not cur.strip() else _indent(cur)
            m = _GROUP.match(cur.strip()) if cur.strip() and _indent(cur) == entry else None
            if not m:
                out.append(cur)
                n += 1
                continue
            body = [cur]
            n += 1
            while n < len(lines) and lines[n].strip() and _indent(lines[n]) > entry:
                body.append(lines[n])
                n += 1
            pad = " " * entry
            for name in re.split(r"\s*(?:,|/)\s*", m.group("names")):
                out.append(pad + name + m.group("rest"))
                out.extend(body[1:])
    return out


def convert(text: str) -> str:
    r"""Docstring text → what mkdocstrings should parse (see the module doc).

    >>> print(convert("Args:\n    pred, ref: label maps\n        on one grid.\n"))
    Args:
        pred: label maps
            on one grid.
        ref: label maps
            on one grid.
    """
    lines = _split_groups(text.splitlines())
    out: list[str] = []
    section = None  # indentation of the Examples: heading we are inside, if any
    n = 0
    while n < len(lines):
        line = lines[n]
        if section is not None and line.strip() and _indent(line) <= section:
            section = None
        m = _EXAMPLE.match(line)
        following = next((x for x in lines[n + 1:] if x.strip()), "")
        if m and following.lstrip().startswith(">>>"):
            out.append(f"{m.group('indent')}Examples:")
            section = len(m.group("indent"))
            note = m.group("note").strip()
            if note:  # "Example (CPU, tiny budget)::" keeps its note as the section's first text
                out.append(following[: len(following) - len(following.lstrip())] + note.strip("() ") + ":")
            n += 1
            continue
        if section is None and line.lstrip().startswith(">>>"):  # a doctest in the body: a code block
            pad = " " * _indent(line)
            out.append(pad + "```pycon")
            while n < len(lines) and lines[n].strip():
                out.append(pad + lines[n][len(pad):])
                n += 1
            out.append(pad + "```")
            continue
        if line.rstrip().endswith("::") and not line.lstrip().startswith(">>>"):
            line = line.rstrip()[:-1]
        out.append(_ROLE.sub(_role, line))
        n += 1
    return "\n".join(out)


class ReadDocstringsAsMarkdown(Extension):
    """Applies :func:`convert` to every docstring griffe loads."""

    def on_instance(self, *, obj, **kwargs) -> None:  # noqa: D102 - griffe hook
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
