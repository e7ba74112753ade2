"""The model catalogue: published models SynTumor can take, where to get them, and on what terms.

``catalogue.json`` (next to this file) lists each model by name with its kind
(``difftumor-texture`` or ``difftumor-segmenter``), organ, download page, licence and files (path
under the source's base URL, approximate size, SHA-256 when one is published). Reading it never
touches the network; :mod:`SynTumorLib.models.download` fetches a model only when asked.

Two overrides let tests (or a mirror) stand in for the real host:

* ``SYNTUMOR_MODELS_CATALOGUE`` (or ``catalogue=`` / ``--catalogue``): another catalogue JSON file;
* ``SYNTUMOR_MODELS_BASE_URL`` (or ``base_url=`` / ``--base-url``): replaces every source's base URL.

Example:
    >>> cat = load_catalogue()
    >>> entry = cat.get("difftumor-unet-pancreas")
    >>> entry.kind, entry.architecture, entry.files[0].path
    ('difftumor-segmenter', 'unet', 'SegmentationModel/unet_synt_pancreas_tumors.pt')
    >>> entry.files[0].url("https://example.org/x")
    'https://example.org/x/SegmentationModel/unet_synt_pancreas_tumors.pt'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..utils.errors import InputError

# the organs DiffTumor released models for (texture sets and segmenters); kept here, in a module that
# imports no torch, so that the CLI's parsers can offer them as choices cheaply
ORGANS = ("pancreas", "liver", "kidney")

CATALOGUE = Path(__file__).with_name("catalogue.json")
FORMAT = "syntumor-model-catalogue"
ENV_CATALOGUE = "SYNTUMOR_MODELS_CATALOGUE"
ENV_BASE_URL = "SYNTUMOR_MODELS_BASE_URL"
KINDS = ("difftumor-texture", "difftumor-segmenter")


@dataclass(frozen=True)
class CatalogueFile:
    """One file of a catalogue entry."""

    path: str
    role: str
    base_url: str
    size_bytes: int | None = None
    size_approx_bytes: int | None = None
    sha256: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def url(self, base_url: str | None = None) -> str:
        """The file's URL under ``base_url`` (default: its source's)."""
        return (base_url or self.base_url).rstrip("/") + "/" + self.path.lstrip("/")


@dataclass(frozen=True)
class CatalogueEntry:
    """A published model: its name, what it is and its files."""

    name: str
    kind: str
    organ: str
    description: str
    page: str
    licence: dict[str, str]
    files: tuple[CatalogueFile, ...]
    architecture: str | None = None
    source: str = ""

    @property
    def total_approx_bytes(self) -> int:
        """The download's approximate size (exact sizes where known)."""
        return sum(f.size_bytes or f.size_approx_bytes or 0 for f in self.files)

    def consent_text(self) -> str:
        """What a user agrees to before a download: name, size, where from, and the licence terms."""
        lines = [f"Download '{self.name}' ({self.description})?",
                 f"  size: about {human_bytes(self.total_approx_bytes)} in {len(self.files)} file(s)",
                 f"  from: {self.page}"]
        lines += [f"    {f.path} (≈ {human_bytes(f.size_bytes or f.size_approx_bytes or 0)})" for f in self.files]
        lines += [f"  licence of the weights: {self.licence.get('weights', 'unknown')}",
                  f"  {self.licence.get('code', '')}".rstrip(), f"  {self.licence.get('notice', '')}".rstrip()]
        return "\n".join(line for line in lines if line.strip())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "organ": self.organ, "architecture": self.architecture,
                "description": self.description, "page": self.page, "licence": dict(self.licence),
                "approx_bytes": self.total_approx_bytes,
                "files": [{"path": f.path, "role": f.role, "url": f.url(), "size_bytes": f.size_bytes,
                           "size_approx_bytes": f.size_approx_bytes, "sha256": f.sha256} for f in self.files]}


@dataclass
class Catalogue:
    """The models of one catalogue file, by name."""

    path: Path
    entries: dict[str, CatalogueEntry] = field(default_factory=dict)
    notes: str = ""

    def get(self, name: str) -> CatalogueEntry:
        """The entry called ``name``; an unknown name is an InputError listing close or all names."""
        if name in self.entries:
            return self.entries[name]
        import difflib

        close = difflib.get_close_matches(name, list(self.entries), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(self.entries)}"
        raise InputError(f"{self.path}: no model named '{name}' in the catalogue ({hint})")

    def __iter__(self):
        return iter(self.entries.values())


def human_bytes(n: int | float) -> str:
    """``1234567`` → ``'1.2 MB'`` (decimal units, as download pages show them)."""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _need(obj: dict, key: str, kind: type | tuple, where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise InputError(f"{where}: '{key}' is missing or not a {getattr(kind, '__name__', kind)}")
    return value


def _size(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{where}: a size must be a non-negative integer or null, got {value!r}")
    return value


def load_catalogue(path: str | os.PathLike | None = None, base_url: str | None = None) -> Catalogue:
    """Read and check a catalogue (default: ``$SYNTUMOR_MODELS_CATALOGUE`` or the shipped one).

    Args:
        path: a catalogue JSON file.
        base_url: replaces every source's base URL (default: ``$SYNTUMOR_MODELS_BASE_URL`` if set).

    Raises:
        InputError: naming the file and the entry for anything malformed.
    """
    path = Path(path or os.environ.get(ENV_CATALOGUE) or CATALOGUE)
    base_url = base_url or os.environ.get(ENV_BASE_URL) or None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: model catalogue not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: unreadable model catalogue ({e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("format_version") != 1:
        raise InputError(f"{path}: not a {FORMAT} version 1 file")
    sources = _need(data, "sources", dict, str(path))
    cat = Catalogue(path=path, notes=str(data.get("notes", "")))
    for n, raw in enumerate(_need(data, "models", list, str(path))):
        where = f"{path}: models[{n}]"
        if not isinstance(raw, dict):
            raise InputError(f"{where}: not an object")
        name = _need(raw, "name", str, where)
        where = f"{path}: model '{name}'"
        if name in cat.entries:
            raise InputError(f"{where}: listed twice")
        kind = _need(raw, "kind", str, where)
        if kind not in KINDS:
            raise InputError(f"{where}: unknown kind '{kind}' (known: {', '.join(KINDS)})")
        source = sources.get(raw.get("source"))
        if not isinstance(source, dict) or not isinstance(source.get("base_url"), str):
            raise InputError(f"{where}: unknown source {raw.get('source')!r} (sources: {', '.join(sources)})")
        files = []
        for m, f in enumerate(_need(raw, "files", list, where)):
            fw = f"{where}: files[{m}]"
            if not isinstance(f, dict):
                raise InputError(f"{fw}: not an object")
            fpath = _need(f, "path", str, fw)
            if fpath.startswith("/") or ".." in fpath.split("/") or "\\" in fpath:
                raise InputError(f"{fw}: path '{fpath}' must be relative, without '..'")
            sha = f.get("sha256")
            if sha is not None and (not isinstance(sha, str) or len(sha) != 64):
                raise InputError(f"{fw}: sha256 must be 64 hex digits or null")
            files.append(CatalogueFile(path=fpath, role=str(f.get("role", "file")), base_url=base_url or source["base_url"],
                                       size_bytes=_size(f.get("size_bytes"), fw),
                                       size_approx_bytes=_size(f.get("size_approx_bytes"), fw),
                                       sha256=sha.lower() if sha else None))
        if not files or len({f.name for f in files}) != len(files):
            raise InputError(f"{where}: needs at least one file, with distinct file names")
        cat.entries[name] = CatalogueEntry(
            name=name, kind=kind, organ=str(raw.get("organ", "")), description=str(raw.get("description", "")),
            page=str(raw.get("page") or source.get("page", "")), licence=dict(source.get("licence") or {}),
            files=tuple(files), architecture=raw.get("architecture"), source=str(raw.get("source")))
    return cat
