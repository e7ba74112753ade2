"""One line for a ``torch.load`` that failed: refused (not plain tensor data) or damaged.

torch's own message for a refused file is a paragraph that ends in advice to retry with
``weights_only=False`` — exactly what must never be done with an untrusted file. Every loader of
``.pt``/``.pth`` files reports through :func:`describe_load_error` instead.

Example:
    >>> describe_load_error(RuntimeError("Weights only load failed. ... Trying to load unsupported GLOBAL posix.system"))
    'refused: it references posix.system, which is not plain tensor data — loading it could run code'
"""

from __future__ import annotations

import re


def describe_load_error(e: BaseException) -> str:
    """A one-line description of why a checkpoint could not be loaded (no advice to load it unsafely)."""
    text = str(e)
    found = (re.search(r"Unsupported global: GLOBAL (\S+)", text) or re.search(r"unsupported GLOBAL (\S+)", text)
             or re.search(r"got <class '([^']+)'>", text))
    if found:
        return f"refused: it references {found.group(1).rstrip('.,')}, which is not plain tensor data — loading it could run code"
    # torch wraps *every* unpickler failure in its "weights only" message, also those of a stream
    # that is simply not a pickle (random bytes, a cut-off file): those are damage, not a threat.
    damaged = re.search(r"Unsupported operand|invalid load key|stack underflow|Ran out of input|truncated|"
                        r"unexpected EOF|failed finding central directory", text, re.I)
    if damaged:
        return f"corrupt or truncated (not a complete torch checkpoint: {damaged.group(0)})"
    if "weights_only" in text or "Unpickl" in type(e).__name__:
        return "refused: it holds Python objects that are not plain tensor data — loading it could run code"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(e).__name__)
    return f"corrupt or truncated ({type(e).__name__}: {first[:120]})"
