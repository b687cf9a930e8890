"""Checks of parameters at the edge: each returns a problem description or None.

Config dataclasses call these in ``__post_init__`` and raise one :class:`ConfigError`
listing every problem, so that a bad notebook parameter or CLI flag fails before any work.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import ConfigError


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive(name: str, value: Any) -> str | None:
    """Problem if ``value`` is not a real number > 0."""
    if not _is_real(value) or not value > 0:
        return f"{name} must be a number > 0, got {value!r}"
    if not math.isfinite(value):
        return f"{name} must be finite, got {value!r}"
    return None


def non_negative(name: str, value: Any) -> str | None:
    """Problem if ``value`` is not a real number >= 0."""
    if not _is_real(value) or not value >= 0:
        return f"{name} must be a number >= 0, got {value!r}"
    return None


def unit_interval(name: str, value: Any) -> str | None:
    """Problem if ``value`` is not in [0, 1]."""
    if not _is_real(value) or not 0 <= value <= 1:
        return f"{name} must be a number in [0, 1], got {value!r}"
    return None


def probability_open(name: str, value: Any) -> str | None:
    """Problem if ``value`` is not in [0, 1)."""
    if not _is_real(value) or not 0 <= value < 1:
        return f"{name} must be a number in [0, 1), got {value!r}"
    return None


def positive_int(name: str, value: Any) -> str | None:
    """Problem if ``value`` is not an integer >= 1."""
    if not _is_int(value) or value < 1:
        return f"{name} must be an integer >= 1, got {value!r}"
    return None


def non_negative_int(name: str, value: Any) -> str | None:
    """Problem if ``value`` is not an integer >= 0."""
    if not _is_int(value) or value < 0:
        return f"{name} must be an integer >= 0, got {value!r}"
    return None


def seeds(name: str, value: Any) -> str | None:
    """Problem if ``value`` is not a non-empty sequence of integers."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return f"{name} must be a list of integers, got {value!r}"
    items = list(value)
    if not items:
        return f"{name} must not be empty"
    bad = [v for v in items if not _is_int(v)]
    if bad:
        return f"{name} must hold integers only, got {bad[0]!r}"
    return None


def widths(name: str, value: Any) -> str | None:
    """Problem if ``value`` is not a sequence of integers >= 1 (it may be empty)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return f"{name} must be a list of integers >= 1, got {value!r}"
    bad = [v for v in value if not _is_int(v) or v < 1]
    if bad:
        return f"{name} must hold integers >= 1, got {bad[0]!r}"
    return None


def choice(name: str, value: Any, allowed: Sequence[str]) -> str | None:
    """Problem if ``value`` is not one of ``allowed``."""
    if value not in allowed:
        return f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}"
    return None


def non_empty(name: str, value: Any) -> str | None:
    """Problem if ``value`` is an empty collection."""
    try:
        if len(value) == 0:
            return f"{name} must not be empty"
    except TypeError:
        return f"{name} must be a list, got {value!r}"
    return None


def raise_if(problems: Iterable[str | None], where: str = "") -> None:
    """Raise one ConfigError listing every non-None problem."""
    found = [p for p in problems if p]
    if found:
        prefix = f"{where}: " if where else ""
        raise ConfigError([prefix + p for p in found])


def collect(*builders) -> list:
    """Call each zero-argument builder; raise one ConfigError with every problem found, else return their values."""
    values, problems = [], []
    for build in builders:
        try:
            values.append(build())
        except ConfigError as exc:
            problems.extend(exc.problems)
            values.append(None)
    if problems:
        raise ConfigError(problems)
    return values
