"""One way to show a table in the book: numbers formatted once, in one pass (a second
``Styler.format`` call would reset the first), missing values as '-', truths as words, tuples as
plain lists, counts with thousands separators, and column names a reader can read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

import pandas as pd

Format = str | Callable[[Any], str]
MISSING = "-"


def cell(value: Any, fmt: Format = "{:.2f}", truth: tuple[str, str] = ("yes", "no")) -> str:
    """One value as a reader sees it: '-' for None or NaN; else a callable ``fmt`` of the value, or
    the format string ``fmt`` for a float, thousands separators for an integer, ``truth`` for a
    boolean, 'a, b, c' for a tuple or list."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if callable(fmt):
        return fmt(value)
    if isinstance(value, bool):
        return truth[0] if value else truth[1]
    if isinstance(value, (tuple, list)):
        return ", ".join(cell(v, "{:g}", truth) for v in value) or MISSING
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if isinstance(value, Real):
        return fmt.format(value)
    return str(value)


def readable_name(name: Any) -> str:
    """A column or index name for a page: snake_case becomes words ('val_accuracy' -> 'val accuracy')."""
    return str(name).replace("_", " ") if isinstance(name, str) else str(name)


def styled(df: pd.DataFrame, default: Format = "{:.2f}", formats: Mapping[str, Format] | None = None, *,
           truth: tuple[str, str] = ("yes", "no"), hide_index: bool = False):
    """``df`` formatted for a page in one pass: each column in ``formats[column]`` or ``default``
    (see :func:`cell`), headers in words, optionally without its index."""
    formats = dict(formats or {})
    shown = df.rename(columns=readable_name)
    shown.index = shown.index.set_names([None if n is None else readable_name(n) for n in shown.index.names])
    names = dict(zip(df.columns, shown.columns))
    per_column = {names[c]: (lambda v, f=formats.get(c, default): cell(v, f, truth)) for c in df.columns}
    style = shown.style.format(per_column).format_index(lambda v: cell(v, "{:g}", truth), axis=0)
    return style.hide(axis="index") if hide_index else style


def table_text(df: pd.DataFrame, default: Format = "{:.2f}", formats: Mapping[str, Format] | None = None, *,
               truth: tuple[str, str] = ("yes", "no")) -> pd.DataFrame:
    """``df`` with every cell already a string (see :func:`cell`) and headers in words: for tables
    whose cells a test or a sentence reads."""
    formats = dict(formats or {})
    out = pd.DataFrame({readable_name(c): [cell(v, formats.get(c, default), truth) for v in df[c]] for c in df.columns},
                       index=df.index)
    out.index = out.index.set_names([None if n is None else readable_name(n) for n in out.index.names])
    return out


_SHAPE = re.compile(r"inputs \((\d+(?:, \d+)+)\)")


def shape_text(text: str) -> str:
    """A dataset's description with its input shape written as 1×28×28 instead of a tuple's
    repr (stored results from before the description changed)."""
    return _SHAPE.sub(lambda m: "inputs " + "×".join(m.group(1).split(", ")), text)
