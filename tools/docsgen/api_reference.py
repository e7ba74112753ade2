"""API reference pages: one page per SynTumorLib subpackage, rendered by mkdocstrings from the docstrings.

The pages hold only mkdocstrings directives (``::: SynTumorLib.insertion.insert``) and a generated
index; the text comes from the docstrings when the site is built. Which modules appear follows the
code, read statically (nothing is imported):

- the front page lists the public API of ``SynTumorLib/__init__.py`` (``__all__``, with the module
  each lazy name comes from), each linked to the object's documentation;
- a top-level subpackage's page renders the package's docstring, the names its ``__all__`` exports
  (linked to where they are defined) and every public module (no leading underscore);
- a nested subpackage with an ``__all__`` (``data.phantom``, ``segmentation.nnunet``, ...) renders its
  docstring and the modules that define its exported names; one without renders every module.

``cli`` is left out: the command line has its own generated reference (``reference/cli.md``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from SynTumorLib.utils.results import escape_cell

from .griffe_docstrings import convert

PACKAGE = "SynTumorLib"
SKIP = {"cli"}  # documented as the CLI reference


def _mod_file(root: Path, dotted: str) -> Path:
    p = root / Path(*dotted.split("."))
    return p / "__init__.py" if p.is_dir() else p.with_suffix(".py")


def _tree(root: Path, dotted: str) -> ast.Module:
    return ast.parse(_mod_file(root, dotted).read_text(encoding="utf-8"))


def _all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            names = []
            for elt in getattr(node.value, "elts", []):
                if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                    names.append(elt.value)
                elif isinstance(elt, ast.Starred) and isinstance(elt.value, ast.Name):  # [*_LAZY]
                    names += list(_dict_literal(tree, elt.value.id))
            return names
    return None


def _defined(tree: ast.Module) -> set[str]:
    out = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
    return out


def _resolve_from(dotted: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    base = dotted.split(".") if is_pkg else dotted.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def canonical(root: Path, dotted: str, name: str, depth: int = 0) -> str:
    """Where ``dotted.name`` is defined, following relative ``from .x import name`` re-exports."""
    tree = _tree(root, dotted)
    if name in _defined(tree) or depth > 4:
        return f"{dotted}.{name}"
    is_pkg = _mod_file(root, dotted).name == "__init__.py"
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    target = _resolve_from(dotted, is_pkg, node)
                    sub = f"{target}.{alias.name}"
                    if _mod_file(root, sub).exists():  # `from . import module`
                        return sub
                    return canonical(root, target, alias.name, depth + 1)
    if is_pkg:  # resolved by a module __getattr__ (lazy): the package module that defines it
        for mod in _modules(root, dotted)[0]:
            if name in _defined(_tree(root, mod)):
                return f"{mod}.{name}"
    return f"{dotted}.{name}"


def _dict_literal(tree: ast.Module, var: str) -> dict[str, str]:
    """A module-level ``var = {"name": "module", ...}`` (the top package's lazy-import map)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == var for t in node.targets):
            return {k.value: v.value for k, v in zip(node.value.keys, node.value.values, strict=True)}
    return {}


def summary(root: Path, path: str) -> str:
    """First line of the docstring of the object ``path`` (a module, class or function)."""
    mod, _, name = path.rpartition(".")
    if _mod_file(root, path).exists():
        doc = ast.get_docstring(_tree(root, path))
    else:
        doc = None
        for node in _tree(root, mod).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                doc = ast.get_docstring(node)
    first = (doc or "").strip().split("\n\n")[0].replace("\n", " ")
    return escape_cell(convert(first))


def _modules(root: Path, dotted: str) -> tuple[list[str], list[str]]:
    """Public modules and subpackages of a package (sorted)."""
    folder = root / Path(*dotted.split("."))
    mods = sorted(f"{dotted}.{p.stem}" for p in folder.glob("*.py") if not p.stem.startswith("_"))
    pkgs = sorted(f"{dotted}.{p.name}" for p in folder.iterdir()
                  if p.is_dir() and (p / "__init__.py").exists() and not p.name.startswith("_"))
    return mods, pkgs


def subpackages(root: Path) -> list[str]:
    return [p for p in _modules(root, PACKAGE)[1] if p.split(".")[-1] not in SKIP]


def _directive(path: str, level: int, members: list[str] | None | bool = None) -> str:
    opts = [f"      heading_level: {level}"]
    if members is False:
        opts.append("      members: false")
    elif members:
        opts.append("      members: [" + ", ".join(members) + "]")
    return f"::: {path}\n    options:\n" + "\n".join(opts) + "\n"


def _exports(root: Path, dotted: str, tree: ast.Module) -> str:
    names = _all(tree) or []
    if not names:
        return ""
    links = [f"[`{n}`][{canonical(root, dotted, n)}]" for n in names]
    return "**Exported here:** " + ", ".join(links) + "\n"


def _package_block(root: Path, dotted: str, level: int) -> list[str]:
    tree = _tree(root, dotted)
    exported, own = _all(tree), sorted(n for n in _defined(tree) if not n.startswith("_"))
    own_exported = [n for n in (exported or own) if n in own and n != "__all__"]
    blocks = [_directive(dotted, level, own_exported or False)]
    if exported:
        blocks.append(_exports(root, dotted, tree))
    mods, pkgs = _modules(root, dotted)
    if exported and level > 1:  # a nested package: only the modules that define what it exports
        wanted = {canonical(root, dotted, n).rsplit(".", 1)[0] for n in exported}
        mods = [m for m in mods if m in wanted]
        pkgs = [p for p in pkgs if p in wanted]
    blocks += [_directive(m, level + 1) for m in mods]
    for p in pkgs:
        blocks += _package_block(root, p, level + 1)
    return blocks


def package_page(root: Path, dotted: str) -> str:
    head = (f"<!-- Generated by tools/build_docs.py from the code of {dotted}; the text is rendered from the "
            "docstrings at build time. Do not edit. -->\n\n")
    return head + "\n".join(_package_block(root, dotted, 1))


def index_page(root: Path) -> str:
    tree = _tree(root, PACKAGE)
    lazy = _dict_literal(tree, "_LAZY")
    rows = []
    for name in _all(tree) or []:
        if name.startswith("__"):
            continue
        where = f"{PACKAGE}.{lazy[name]}" if name in lazy else PACKAGE
        target = canonical(root, where, name)
        rows.append(f"| [`{name}`][{target}] | `{target.rsplit('.', 1)[0]}` | {summary(root, target)} |")
    pages = [f"| [`{p}`]({p.split('.', 1)[1]}.md) | {summary(root, p)} |" for p in subpackages(root)]
    return ("<!-- Generated by tools/build_docs.py from SynTumorLib/__init__.py. Do not edit. -->\n\n"
            "# API reference\n\n"
            "Generated from the docstrings. `import SynTumorLib` is cheap: the names below are imported on first "
            "use (torch and MONAI only by the functions that need them).\n\n"
            "## The public API (`import SynTumorLib as st`)\n\n"
            "| name | defined in | summary |\n|---|---|---|\n" + "\n".join(rows) + "\n\n"
            "## Subpackages\n\n| package | summary |\n|---|---|\n" + "\n".join(pages) + "\n")


def pages(root: Path) -> dict[str, str]:
    """``{path relative to docs/: text}`` for every API page."""
    out = {"reference/api/index.md": index_page(root)}
    for p in subpackages(root):
        out[f"reference/api/{p.split('.', 1)[1]}.md"] = package_page(root, p)
    return out
