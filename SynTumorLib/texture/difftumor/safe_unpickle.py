"""Load third-party ``torch.save`` files without executing anything they contain.

Two layers, both before and during ``torch.load``:

1. **Static scan.** Every ``GLOBAL`` the pickle names is listed (:func:`pickle_globals`, by reading
   the opcodes, never running them) and compared with the exact set the file type is known to use.
   Anything else — ``os.system``, ``builtins.eval``, a class from some package — is refused before
   loading, and the error names it.
2. **Restricted unpickling.** ``torch.load(weights_only=True)`` (torch's hardened unpickler, which
   only calls allowlisted callables and only sets items on plain containers) runs with the
   file type's extra names mapped to *inert stand-ins*: classes that only store their pickled
   state, and functions that return plain values. So an ``omegaconf.DictConfig`` in a Lightning
   checkpoint becomes an :class:`InertObject` holding a dict; omegaconf is never imported.

Example:
    >>> import io, torch
    >>> buf = io.BytesIO(); torch.save({"w": torch.ones(2)}, buf)
    >>> sorted(pickle_globals(buf.getvalue()))
    ['collections.OrderedDict', 'torch.FloatStorage', 'torch._utils._rebuild_tensor_v2']
"""

from __future__ import annotations

import _compat_pickle
import io
import pickletools
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...utils.errors import InputError


class InertObject:
    """Stand-in for a pickled class instance: keeps the pickled state, has no behaviour.

    ``pickled_name`` says which global it replaced (subclasses are made per name by :func:`inert_class`).
    """

    pickled_name = "?"

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<inert {self.pickled_name}>"


_INERT_CLASSES: dict[str, type] = {}


def inert_class(name: str) -> type:
    """One :class:`InertObject` subclass per pickled global name (so stand-ins can be told apart)."""
    if name not in _INERT_CLASSES:
        _INERT_CLASSES[name] = type(f"Inert[{name}]", (InertObject,), {"pickled_name": name})
    return _INERT_CLASSES[name]


class InertValue:
    """Stand-in for a pickled non-class global (e.g. ``typing.Any``): a named, inert sentinel."""

    def __init__(self, name: str):
        self.pickled_name = name

    def __repr__(self) -> str:
        return f"<inert {self.pickled_name}>"


def as_plain_dict(*_args: Any) -> dict:
    """Stand-in for ``collections.defaultdict(factory)``: a plain dict (torch only fills dicts)."""
    return {}


def _canonical(module: str, name: str) -> str:
    # protocol-2 pickles written by Python 3 use Python 2 names (__builtin__.long = builtins.int)
    module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
    module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return f"{module}.{name}"


def _pickle_bytes(source: str | Path | bytes) -> tuple[bytes, str]:
    """The ``data.pkl`` record of a torch zip checkpoint, and a label for messages."""
    label = "<bytes>" if isinstance(source, bytes) else str(source)
    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except FileNotFoundError:
        raise InputError(f"{label}: file not found") from None
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(f"{label}: not a torch checkpoint (torch.save zip archive): {e}") from None
    with zf:
        names = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(names) != 1:
            raise InputError(f"{label}: not a torch checkpoint (expected one data.pkl, found {len(names)})")
        try:
            return zf.read(names[0]), label
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise InputError(f"{label}: corrupt or truncated checkpoint ({e})") from None


def pickle_globals(source: str | Path | bytes) -> set[str]:
    """Every global a torch checkpoint's pickle names (``module.name``), found without unpickling."""
    data, label = _pickle_bytes(source)
    found: set[str] = set()
    try:
        for op, arg, _pos in pickletools.genops(data):
            if op.name in ("GLOBAL", "INST"):
                module, name = str(arg).split(" ", 1)
                found.add(_canonical(module, name))
            elif op.name == "STACK_GLOBAL":
                # names come from the stack; torch's weights-only unpickler refuses this opcode anyway
                found.add("<STACK_GLOBAL>")
    except Exception as e:  # malformed opcode streams raise ValueError, struct.error, ...
        raise InputError(f"{label}: corrupt checkpoint pickle ({type(e).__name__}: {e})") from None
    return found


def check_globals(source: str | Path | bytes, allowed: Iterable[str], what: str) -> set[str]:
    """Refuse ``source`` when its pickle names a global outside ``allowed``; return the globals found."""
    found = pickle_globals(source)
    extra = sorted(found - set(allowed))
    if extra:
        label = "<bytes>" if isinstance(source, bytes) else str(source)
        raise InputError(f"{label}: refusing to load: the {what} names {', '.join(extra)}, which "
                         f"{'is' if len(extra) == 1 else 'are'} not among the globals such a file may contain "
                         "(nothing was unpickled)")
    return found


def restricted_load(source: str | Path | bytes, allowed: Iterable[str], what: str,
                    standins: Iterable[Any] = ()) -> tuple[Any, set[str]]:
    """Scan, then ``torch.load(weights_only=True)`` with ``standins`` (objects or ``(obj, "name")``).

    Returns the loaded object and the set of globals the pickle named.
    """
    import torch

    found = check_globals(source, allowed, what)
    label = "<bytes>" if isinstance(source, bytes) else str(source)
    f = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with torch.serialization.safe_globals(list(standins)):
            obj = torch.load(f, map_location="cpu", weights_only=True)
    except Exception as e:  # the hardened unpickler raises UnpicklingError; truncation raises others
        raise InputError(f"{label}: could not load the {what} safely ({type(e).__name__}: {str(e)[:300]})") from None
    return obj, found
