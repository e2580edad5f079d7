"""Forgiving readers for values inside smartctl JSON.

smartctl's JSON changes between versions (keys renamed, objects that were numbers) and
third-party wrappers hand us edited copies, so every read goes through these: a wrong type
gives None (or an empty container), never an exception. Pure, standard library only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})

_INT_TEXT = re.compile(r"[+-]?\d{1,40}")
_FIRST_INT = re.compile(r"-?\d{1,40}")


def as_dict(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else a shared read-only empty mapping."""
    return value if isinstance(value, dict) else EMPTY


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


_I64 = 2**63


def as_int(value: object) -> int | None:
    """An integer from an int, an integral float or a decimal string; None otherwise.

    ``bool`` is refused although Python counts it as an int: ``true`` is not a count.
    Values outside the signed 64-bit range are refused too: no disk counts that far, and
    no database column holds it (a corrupt field must not fail the whole cycle's store).
    """
    if type(value) is int:  # the common case first: this runs for every field
        return value if -_I64 <= value < _I64 else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return as_int(int(value))
    if isinstance(value, float):
        return as_int(int(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if _INT_TEXT.fullmatch(text):
            return as_int(int(text))
    return None


def as_str(value: object) -> str | None:
    """A stripped, non-empty string; numbers are turned into text (a numeric serial)."""
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def as_text(value: object, default: str = "") -> str:
    """The string exactly as smartctl printed it (flags keep their padding), or default."""
    return value if isinstance(value, str) else default


def as_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def first_int(text: str) -> int | None:
    """The first integer in ``text``: "35 (Min/Max 21/44)" -> 35, "47060h+35m+00.858s" -> 47060."""
    match = _FIRST_INT.search(text)
    return int(match.group()) if match else None
