"""Configs are data: one way to read and check them, used by every config SynTumor has
(``TrainConfig``, the texture-diffusion configs, ``NNUNetConfig``, ``StudySpec``, ``InsertionSpec``).

* :func:`check_keys` refuses unknown keys and names the nearest valid one (``difflib``), so a typo
  never silently falls back to a default;
* :func:`merge` is the one merge of given values over defaults (flat, or ``deep`` for nested
  sections; lists are replaced, never merged);
* :func:`typed_section` builds a typed (dataclass) section from a dict, checking its keys;
* ``require_*`` check one value's type and range *before any work starts*, with a message naming
  the key, the rule and the value.

Example:
    >>> merge({"lr": 0.1, "steps": 10}, {"steps": 3}, "training")
    {'lr': 0.1, 'steps': 3}
    >>> merge({"lr": 0.1, "steps": 10}, {"step": 3}, "training")
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: training: unknown key 'step' (did you mean 'steps'?); valid keys: lr, steps
    >>> require_int(0, "training.steps", min=1)
    Traceback (most recent call last):
    ...
    SynTumorLib.utils.errors.InputError: training.steps must be an integer ≥ 1, got 0
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from .errors import InputError

T = TypeVar("T")


def suggestion(key: str, valid: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the valid key nearest to ``key``, or an empty string."""
    close = difflib.get_close_matches(str(key), [str(v) for v in valid], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_keys(given: Mapping[str, Any], valid: Iterable[str], where: str) -> None:
    """Raise InputError for keys of ``given`` that are not in ``valid`` (nearest valid key suggested)."""
    valid = sorted(valid)
    unknown = sorted(set(given) - set(valid), key=str)
    if not unknown:
        return
    parts = [f"'{k}'{suggestion(k, valid)}" for k in unknown]
    noun = "key" if len(unknown) == 1 else "keys"
    raise InputError(f"{where}: unknown {noun} {', '.join(parts)}; valid keys: {', '.join(valid)}")


def merge(defaults: Mapping[str, Any], given: Mapping[str, Any] | None, where: str, *, deep: bool = False,
          check: bool = True) -> dict[str, Any]:
    """``given`` over a copy of ``defaults``.

    Args:
        where: the section's name, for messages (``"training config 'data'"``).
        deep: merge nested dicts key by key (else a given dict replaces the default's).
        check: refuse keys that ``defaults`` does not have; with ``deep``, also inside nested dicts
            whose default is a non-empty dict (an empty default dict is an open map).
    """
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise InputError(f"{where} must be an object, got {given!r}")
    if check:
        check_keys(given, defaults, where)
    out = copy.deepcopy(dict(defaults))
    for k, v in given.items():
        base = out.get(k)
        if deep and isinstance(v, Mapping) and isinstance(base, Mapping):
            out[k] = merge(base, v, f"{where}.{k}", deep=True, check=check and bool(base))
        else:
            out[k] = copy.deepcopy(v)
    return out


def typed_section(cls: type[T], given: Mapping[str, Any] | None, where: str) -> T:
    """A dataclass ``cls`` from a dict: unknown keys refused (with a suggestion), the rest passed on."""
    if given is None:
        given = {}
    if isinstance(given, cls):
        return given
    if not isinstance(given, Mapping):
        raise InputError(f"{where} must be an object, got {given!r}")
    names = [f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")]
    check_keys(given, names, where)
    return cls(**copy.deepcopy(dict(given)))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def require_int(value: Any, where: str, *, min: int | None = None, max: int | None = None,
                allow_none: bool = False) -> int | None:
    """``value`` as an int (a whole float is accepted), within [min, max]; else an InputError."""
    if value is None and allow_none:
        return None
    ok = _is_int(value) or (isinstance(value, float) and value.is_integer())
    if ok:
        value = int(value)
        ok = (min is None or value >= min) and (max is None or value <= max)
    if not ok:
        raise InputError(f"{where} must be {_int_rule(min, max)}{' or null' if allow_none else ''}, got {value!r}")
    return value


def _int_rule(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"an integer in {lo}..{hi}"
    if lo is not None:
        return f"an integer ≥ {lo}"
    if hi is not None:
        return f"an integer ≤ {hi}"
    return "an integer"


def require_number(value: Any, where: str, *, min: float | None = None, max: float | None = None,
                   min_open: bool = False, max_open: bool = False, allow_none: bool = False) -> float | None:
    """``value`` as a finite float within the (half-)open or closed range; else an InputError."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        v = float(value)
        ok = (min is None or (v > min if min_open else v >= min)) and (max is None or (v < max if max_open else v <= max))
    if not ok:
        if min is not None and max is not None:
            rule = f"a number in {'(' if min_open else '['}{min:g}, {max:g}{')' if max_open else ']'}"
        elif min is not None:
            rule = f"a number {'>' if min_open else '≥'} {min:g}"
        elif max is not None:
            rule = f"a number {'<' if max_open else '≤'} {max:g}"
        else:
            rule = "a finite number"
        raise InputError(f"{where} must be {rule}{' or null' if allow_none else ''}, got {value!r}")
    return float(value)


def require_choice(value: Any, where: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``; else an InputError listing them (and the nearest)."""
    choices = list(choices)
    if value not in choices:
        hint = suggestion(value, [str(c) for c in choices]) if isinstance(value, str) else ""
        raise InputError(f"{where} must be one of {', '.join(map(str, choices))}, got {value!r}{hint}")
    return value


def require_bool(value: Any, where: str) -> bool:
    """``value`` if it is a boolean (JSON true/false); else an InputError."""
    if not isinstance(value, bool):
        raise InputError(f"{where} must be true or false, got {value!r}")
    return value
