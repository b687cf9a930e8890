"""Claims as data: every interpretive statement a chapter makes, with a predicate over its stored results.

A :class:`Claim` has a namespaced id (``ch02.distilled_beats_labels_10pct``), the statement a page
may make when it holds, the statement it makes when it does not, where it comes from (the paper
or the book's own prose) and a predicate. The predicate reads the chapter's stored results (the
mapping that ``kdbook.experiments.chNN.run`` returns: part name -> :class:`kdbook.store.StoredResult`)
and returns whether the claim holds together with the numbers it looked at.

Pages render the outcomes as a table (:func:`outcomes_table`) and may glue an outcome's
:meth:`Outcome.sentence`. Typed prose that asserts a claim marks it with a MyST comment line
right after its paragraph::

    % claim: ch02.distilled_beats_labels_10pct

and the test suite fails when a marked claim does not hold on the stored ``full`` results
(:func:`check_prose`). The outcomes on the ``full`` results are written as JSON, one file per
chapter under ``results/full/claims/`` (:func:`write_outcomes`), so they can be read without Jupyter.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .store import REPO_ROOT, StoredResult, atomic_write_bytes

Results = Mapping[str, StoredResult]
#: A predicate: stored results -> (holds, the numbers it used).
Predicate = Callable[[Results], "tuple[bool, dict[str, float]]"]
SOURCES = ("paper", "prose")
_ID = re.compile(r"^ch\d\d\.[a-z0-9_]+$")
MARKER = re.compile(r"^%\s*claim:\s*(\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Claim:
    """One statement and the predicate that decides it on a chapter's stored results."""

    id: str
    statement: str
    negation: str
    predicate: Predicate = field(repr=False, compare=False)
    source: str = "prose"

    def __post_init__(self) -> None:
        problems = [p for p in (
            None if _ID.match(self.id) else f"claim id must look like 'ch02.short_name', got {self.id!r}",
            None if self.source in SOURCES else f"claim source must be one of {SOURCES}, got {self.source!r}",
            None if self.statement.strip() and self.negation.strip() else f"claim {self.id}: empty statement",
        ) if p]
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def chapter(self) -> str:
        return self.id.split(".", 1)[0]

    def evaluate(self, results: Results) -> "Outcome":
        holds, numbers = self.predicate(results)
        return Outcome(self.id, self.statement, self.negation, bool(holds),
                       {k: _plain(v) for k, v in numbers.items()}, self.source)


@dataclass(frozen=True)
class Outcome:
    """A claim's outcome on one set of results."""

    id: str
    statement: str
    negation: str
    holds: bool
    numbers: dict[str, Any]
    source: str

    def sentence(self) -> str:
        """What the page says: the statement if it holds, else its negation."""
        return self.statement if self.holds else self.negation

    def verdict(self) -> str:
        return "holds" if self.holds else "does not hold"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "statement": self.statement, "negation": self.negation, "holds": self.holds,
                "numbers": self.numbers, "source": self.source}


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


def evaluate(claims: Iterable[Claim], results: Results) -> list[Outcome]:
    """Every claim's outcome on ``results``; ids must be unique."""
    claims = list(claims)
    ids = [c.id for c in claims]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"claim ids must be unique, repeated: {', '.join(dupes)}")
    return [c.evaluate(results) for c in claims]


def by_id(outcomes: Iterable[Outcome]) -> dict[str, Outcome]:
    return {o.id: o for o in outcomes}


def format_numbers(numbers: Mapping[str, Any]) -> str:
    """'a = 1.23, b = 4' in words a reader can scan (floats to 3 significant digits, at most four
    decimals: smaller magnitudes in scientific notation; NaN as '-')."""
    def fmt(v: Any) -> str:
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float):
            if v != v:
                return "-"
            return f"{v:.2e}" if v != 0 and abs(v) < 0.01 else f"{v:,.3g}" if abs(v) < 1e6 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return "-" if v is None else str(v)

    return ", ".join(f"{k.replace('_', ' ')} = {fmt(v)}" for k, v in numbers.items())


def outcomes_frame(outcomes: Sequence[Outcome]):
    """The outcomes as a DataFrame indexed by id: claim, where it comes from, holds / does not hold, numbers."""
    import pandas as pd

    return pd.DataFrame({
        "claim": [o.statement for o in outcomes],
        "from": ["the paper" if o.source == "paper" else "this chapter" for o in outcomes],
        "here": [o.verdict() for o in outcomes],
        "numbers": [format_numbers(o.numbers) for o in outcomes],
    }, index=pd.Index([o.id for o in outcomes], name="id"))


def outcomes_table(outcomes: Sequence[Outcome]):
    """The outcomes as a page shows them: :func:`outcomes_frame` styled, whole sentences (no truncated
    cells) and no index column."""
    return outcomes_frame(outcomes).reset_index(drop=True).style.hide(axis="index")


# ----------------------------------------------------------------------------- stored outcomes
def claims_root(root: Path | str | None = None) -> Path:
    return Path(root) if root is not None else REPO_ROOT / "results" / "full" / "claims"


def write_outcomes(chapter: str, outcomes: Sequence[Outcome], root: Path | str | None = None) -> Path:
    """Write ``outcomes`` as ``<root>/<chapter>.json`` (a list of {id, statement, holds, numbers, ...})."""
    path = claims_root(root) / f"{chapter}.json"
    doc = [o.to_dict() for o in outcomes]
    atomic_write_bytes(path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
    return path


def read_outcomes(chapter: str, root: Path | str | None = None) -> list[dict[str, Any]]:
    """The stored outcomes of ``chapter`` (empty when none were written)."""
    path = claims_root(root) / f"{chapter}.json"
    return json.loads(path.read_text()) if path.is_file() else []


# ----------------------------------------------------------------------------- prose
def asserted_claims(markdown: str) -> list[str]:
    """The claim ids that ``% claim: ID`` comment lines in ``markdown`` mark as asserted."""
    return MARKER.findall(markdown)


def notebook_markdown(path: Path | str) -> str:
    """All markdown cells of a notebook, joined."""
    nb = json.loads(Path(path).read_text())
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def check_prose(markdown: str, outcomes: Iterable[Outcome | Mapping[str, Any]]) -> list[str]:
    """Problems with the claims the prose asserts: unknown ids and claims that do not hold."""
    known = {(o.id if isinstance(o, Outcome) else o["id"]): (o.holds if isinstance(o, Outcome) else o["holds"])
             for o in outcomes}
    problems = []
    for cid in asserted_claims(markdown):
        if cid not in known:
            problems.append(f"prose asserts unknown claim {cid}")
        elif not known[cid]:
            problems.append(f"prose asserts {cid}, which does not hold on the stored results")
    return problems
