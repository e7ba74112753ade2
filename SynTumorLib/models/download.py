"""Download a catalogue model — only when asked, only with consent, resumable and checked.

:func:`download_model` is the one downloader (``syntumor models download``, the Slicer panels'
download button through the worker). Nothing here runs at import time, and nothing else in
SynTumorLib opens a network connection. For each file of the entry:

1. consent first: ``consent=True`` (``--yes``) or a callable shown
   :meth:`~SynTumorLib.models.catalogue.CatalogueEntry.consent_text` (name, size, licence) that must
   answer True; a refusal raises :class:`ConsentRefused` before anything is written;
2. a file already there with its recorded (or published) SHA-256 is kept;
3. the bytes go to ``<file>.part``; a ``.part`` left by an interrupted run is resumed with an HTTP
   ``Range`` request (a server that ignores it sends everything again, and the part restarts);
4. a connection that ends early keeps the ``.part`` and raises, naming the URL and how far it got;
5. the SHA-256 of the whole file is computed; a published one that differs deletes the part and
   raises; then the part is renamed onto the file (atomic) and ``download.json`` records URL, size
   and SHA-256 of every file.

Example:
    >>> download_model("difftumor-unet-pancreas", "downloads/", consent=False)  # doctest: +SKIP
    Traceback (most recent call last):
    SynTumorLib.models.download.ConsentRefused: download of 'difftumor-unet-pancreas' declined; nothing written
"""

from __future__ import annotations

import datetime
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..utils.atomic import replace, write_json_atomic
from ..utils.errors import CancelledError, SynTumorError
from ..utils.hashing import sha256_file
from ..utils.jsonio import read_json
from ..utils.progress import ProgressCallback
from .catalogue import CatalogueEntry, CatalogueFile, human_bytes, load_catalogue

RECORD = "download.json"
CHUNK = 1 << 20
TIMEOUT_S = 60.0


class DownloadError(SynTumorError):
    """A download failed: the message names the URL and the problem."""


class ConsentRefused(CancelledError):
    """The user declined the download; nothing was written."""


def _recorded(out: Path) -> dict[str, dict]:
    """The files an earlier download into ``out`` recorded, by name (an unreadable record counts as none)."""
    try:
        rec = read_json(out / RECORD)
    except Exception:  # noqa: BLE001 - a damaged record only means the files get re-checked
        return {}
    files = rec.get("files") if isinstance(rec, dict) else None
    return {f["file"]: f for f in files if isinstance(f, dict) and "file" in f} if isinstance(files, list) else {}


def _open(url: str, start: int, timeout: float):
    headers = {"User-Agent": f"SynTumor/{__version__}"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # the part already holds every byte
            return None
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise DownloadError(f"{url}: cannot connect ({getattr(e, 'reason', e)})") from None


def _fetch(f: CatalogueFile, url: str, dst: Path, timeout: float, progress: Callable[[int, int | None], None]) -> int:
    """Stream ``url`` into ``dst.part`` (resuming it); returns the final size. The part is left on failure."""
    part = dst.with_name(dst.name + ".part")
    start = part.stat().st_size if part.is_file() else 0
    resp = _open(url, start, timeout)
    if resp is None:
        return start
    with resp:
        status = getattr(resp, "status", 200)
        if start and status != 206:
            start = 0  # the server ignored Range: it sends the whole file again
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else (f.size_bytes or None)
        got = start
        try:
            with open(part, "ab" if start else "wb") as fh:
                progress(got, total)
                while True:
                    block = resp.read(CHUNK)
                    if not block:
                        break
                    fh.write(block)
                    got += len(block)
                    progress(got, total)
        except (http.client.IncompleteRead, OSError) as e:
            raise DownloadError(f"{url}: interrupted after {human_bytes(got)}"
                                f"{f' of {human_bytes(total)}' if total else ''} ({type(e).__name__}); "
                                f"{part.name} is kept: run the download again to resume") from None
    if total is not None and got != total:
        raise DownloadError(f"{url}: incomplete, {got} of {total} bytes received; {part.name} is kept: run the "
                            "download again to resume")
    return got


def download_model(entry: str | CatalogueEntry, out: str | os.PathLike, *, consent: bool | Callable[[str], bool],
                   catalogue: str | os.PathLike | None = None, base_url: str | None = None,
                   progress: ProgressCallback | None = None, timeout: float = TIMEOUT_S) -> list[Path]:
    """Download a catalogue model's files into ``out`` (see the module doc).

    Args:
        entry: a catalogue name (``syntumor models list``) or entry.
        out: folder for the files (created after consent) and ``download.json``.
        consent: True when the user already agreed (``--yes``), or ``ask(text) -> bool``; anything else declines.
        catalogue, base_url: overrides (see :mod:`SynTumorLib.models.catalogue`).
        progress: ``callback(fraction, message)``.
        timeout: seconds without data before a connection counts as failed.

    Returns:
        The downloaded files, in catalogue order.

    Raises:
        ConsentRefused: declined (nothing written). DownloadError: naming the URL and the problem.
    """
    if not isinstance(entry, CatalogueEntry):
        entry = load_catalogue(catalogue, base_url).get(entry)
    agreed = consent is True or (callable(consent) and consent(entry.consent_text()) is True)
    if not agreed:
        raise ConsentRefused(f"download of '{entry.name}' declined; nothing written")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cb = progress or (lambda fraction, message="": None)
    total_all = max(entry.total_approx_bytes, 1)
    done_before, records, paths = 0, _recorded(out), []
    new_records: list[dict[str, Any]] = []
    for f in entry.files:
        url, dst = f.url(base_url), out / f.name
        known = f.sha256 or (records.get(f.name) or {}).get("sha256")
        if dst.is_file() and known and sha256_file(dst) == known:
            digest = known
            cb(min(1.0, (done_before + dst.stat().st_size) / total_all), f"{f.name}: already downloaded")
        else:
            def per_file(got: int, total: int | None, f=f, base=done_before) -> None:
                size = total or f.size_approx_bytes or 0
                cb(min(0.999, (base + got) / max(total_all, base + size, 1)),
                   f"{f.name}: {human_bytes(got)}" + (f" of {human_bytes(total)}" if total else ""))

            got = _fetch(f, url, dst, timeout, per_file)
            part = dst.with_name(dst.name + ".part")
            if f.size_bytes is not None and got != f.size_bytes:
                part.unlink()
                raise DownloadError(f"{url}: {got} bytes received, the catalogue says {f.size_bytes}; the download "
                                    "was deleted")
            digest = sha256_file(part)
            if f.sha256 and digest != f.sha256:
                part.unlink()
                raise DownloadError(f"{url}: SHA-256 {digest[:16]}… differs from the published {f.sha256[:16]}… "
                                    "(corrupt or replaced file); the download was deleted")
            replace(part, dst)
        new_records.append({"file": f.name, "role": f.role, "url": url, "size_bytes": dst.stat().st_size,
                            "sha256": digest, "sha256_published": f.sha256,
                            "verified": bool(f.sha256) and digest == f.sha256})
        done_before += dst.stat().st_size
        paths.append(dst)
        # recorded after every file: a later failure does not make the finished ones count as unchecked
        kept = [r for name, r in records.items() if name not in {n["file"] for n in new_records}]
        write_json_atomic(out / RECORD, {
            "name": entry.name, "kind": entry.kind, "organ": entry.organ, "architecture": entry.architecture,
            "page": entry.page, "licence": entry.licence, "files": new_records + kept, "library_version": __version__,
            "downloaded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    cb(1.0, f"{entry.name}: {len(paths)} file(s) downloaded")
    return paths


def stderr_progress(stream=None, step: float = 0.05) -> ProgressCallback:
    """A callback printing one line per ``step`` of progress (and every message change of file) on stderr."""
    import sys

    state = {"last": -1.0, "file": None}

    def cb(fraction: float, message: str = "") -> None:
        out = stream or sys.stderr
        head = message.split(":", 1)[0]
        if fraction >= 1.0 or fraction - state["last"] >= step or head != state["file"]:
            state["last"], state["file"] = fraction, head
            print(f"downloading {100 * max(0.0, min(1.0, fraction)):5.1f} %  {message}", file=out, flush=True)

    return cb
