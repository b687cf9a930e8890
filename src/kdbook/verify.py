"""Staleness of stored results: which were computed by other library code than today's, which the
current settings no longer reach, and recomputing one to compare its values with the stored ones."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import provenance as prov
from .store import ResultStore, list_results, stores_at


@dataclass(frozen=True)
class StoredEntry:
    """One stored result and how it relates to the current code."""

    profile: str
    kind: str
    hash: str
    source: str | None
    date: str | None
    reachable: bool          # the current settings of its chapter key this file
    current_source: bool     # computed by the library source of this checkout
    uncommitted: bool        # computed from uncommitted library code

    def status(self) -> str:
        if not self.reachable:
            return "orphan (no current setting keys it)"
        if self.current_source:
            return "current"
        return "old source (values may differ; recompute to compare)"


def expected_paths(profile: str, store: ResultStore | None = None) -> dict[str, Path]:
    """kind -> the path each chapter part's result has under the current settings of ``profile``."""
    from .experiments import CHAPTERS, chapter
    from .experiments.common import part_config

    store = store or ResultStore()
    out = {}
    for name in CHAPTERS:
        mod = chapter(name)
        s = mod.settings(profile)
        for part in mod.PARTS:
            out[part.kind] = store.path(profile, part.kind, part_config(s, part.reads))
    return out


def stored_entries(profile: str = "full", store: ResultStore | None = None) -> list[StoredEntry]:
    """Every stored result of ``profile`` (benchmarks excluded), with its status."""
    store = store or ResultStore()
    expected = {p.resolve() for p in expected_paths(profile, store).values()}
    current = prov.source_hash()
    rows = []
    for r in list_results(store.root, profile):
        if r["kind"] == "bench" or r.get("device") == "DAMAGED FILE":
            continue
        path = (store.root / r["profile"] / r["kind"] / f"{r['hash']}.json").resolve()
        rows.append(StoredEntry(r["profile"], r["kind"], r["hash"], r.get("source"), r.get("date"),
                                path in expected, r.get("source") == current, bool(r.get("uncommitted"))))
    return rows


def _leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k in sorted(value):
            yield from _leaves(value[k], f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


#: Tolerances of "the same values": a recomputation on the same kind of CPU moves the 6th or 7th
#: significant digit (summation order across threads); a change of method moves far more.
REL_TOL, ABS_TOL = 1e-4, 1e-5


def compare_values(stored: Any, fresh: Any, rel: float = REL_TOL, abs_tol: float = ABS_TOL) -> list[str]:
    """Where two result values differ: numbers beyond the tolerances, anything else unequal."""
    a, b = dict(_leaves(stored)), dict(_leaves(fresh))
    problems = [f"{k}: only in the {'stored' if k in a else 'recomputed'} result" for k in sorted(set(a) ^ set(b))]
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
        if numbers:
            both_nan = isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)
            if not both_nan and not math.isclose(x, y, rel_tol=rel, abs_tol=abs_tol):
                problems.append(f"{k}: stored {x!r}, recomputed {y!r}")
        elif x != y:
            problems.append(f"{k}: stored {x!r}, recomputed {y!r}")
    return [p for p in problems if not _timing(p)]


def _timing(problem: str) -> bool:
    """Timings never reproduce exactly; they are not part of the comparison."""
    key = problem.split(":", 1)[0]
    return any(word in key for word in ("seconds", "latency", "_ms", "speedup", "throughput"))


def recompute_and_compare(kinds: Sequence[str], profile: str = "full", device: str = "cpu", rel: float = REL_TOL,
                          store_if_same: bool = False, replace: bool = False
                          ) -> Iterator[tuple[str, list[str], float]]:
    """Recompute each part in ``kinds`` from scratch and compare its values with the stored result,
    yielding (kind, differences, seconds) as each finishes. The parts share one fresh result store
    and model cache (so a chapter's members are trained once, by this code, for all its parts) and
    reuse nothing cached before. With ``store_if_same``, a recomputation that reproduces the stored
    values replaces the stored result, so that it carries this source's provenance; with ``replace``,
    the recomputation replaces it even where the values differ (the differences are still yielded)."""
    import time

    from .experiments import CHAPTERS, chapter
    from .experiments.common import part_config, run_parts

    parts = {part.kind: (chapter(name), part) for name in CHAPTERS for part in chapter(name).PARTS}
    unknown = [k for k in kinds if k not in parts]
    if unknown:
        raise KeyError(f"unknown result kind {unknown[0]!r}; one of {', '.join(sorted(parts))}")
    store = ResultStore()
    with tempfile.TemporaryDirectory() as tmp, stores_at(results=f"{tmp}/results", cache=f"{tmp}/cache"):
        for kind in kinds:
            mod, part = parts[kind]
            s = mod.settings(profile)
            stored = store.load(profile, kind, part_config(s, part.reads))
            if stored is None:
                yield kind, [f"no stored {profile} result under the current settings"], 0.0
                continue
            start = time.perf_counter()
            fresh = next(iter(run_parts([part], s, profile=profile, device=device, recompute=True,
                                        seeds=stored.provenance.get("seeds", [])).values()))
            seconds = time.perf_counter() - start
            problems = compare_values(stored.value, fresh.value, rel)
            if replace or (store_if_same and not problems):
                earlier = {"source": stored.provenance.get("source_hash"), "date": stored.provenance.get("date"),
                           "differences": len(problems)}
                record = dict(fresh.provenance, **{"replaces" if problems else "reproduces": earlier})
                store.save(profile, kind, part_config(s, part.reads), fresh.value, record)
            yield kind, problems, seconds
