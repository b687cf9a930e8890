"""Reading helpers shared by the chapters: the book's cautious comparison rule, plural words,
spreads over seeds, and the sentence on how long a chapter's stored results took."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ..store import StoredResult


def compare(a_mean: float, a_std: float, b_mean: float, b_std: float) -> str:
    """'higher than', 'lower than' or 'indistinguishable from': a difference counts only when it
    exceeds the sum of the two standard deviations over seeds (a deliberately cautious rule)."""
    diff = a_mean - b_mean
    if abs(diff) <= a_std + b_std:
        return "indistinguishable from"
    return "higher than" if diff > 0 else "lower than"


def clearly_greater(a_mean: float, a_std: float, b_mean: float, b_std: float) -> bool:
    """Whether ``a`` exceeds ``b`` by more than the sum of their standard deviations (the cautious rule)."""
    return compare(a_mean, a_std, b_mean, b_std) == "higher than"


def paired_relation(differences) -> str:
    """'higher than', 'lower than' or 'indistinguishable from', by the paired form of the cautious
    rule: the mean of the paired differences counts when it exceeds their own standard deviation."""
    import numpy as np

    d = np.asarray(differences, dtype=float)
    if len(d) == 0 or not np.isfinite(d).all():
        return "indistinguishable from"
    mean, std = float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0
    return "higher than" if mean > std else "lower than" if -mean > std else "indistinguishable from"


def plural(n: int | float, word: str, many: str | None = None) -> str:
    """'1 seed', '3 seeds', '2 classes' (``many`` overrides the plural form)."""
    n_int = int(n) if float(n).is_integer() else n
    form = word if n_int == 1 else (many or (word + "es" if word.endswith(("s", "x", "ch", "sh")) else word + "s"))
    return f"{n_int:,} {form}" if isinstance(n_int, int) else f"{n_int:g} {form}"


def join_words(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def mean_std(df: pd.DataFrame, by, cols) -> pd.DataFrame:
    """Mean of ``cols`` per group of ``by``, with their sample standard deviation (0 for one seed) as ``<col>_std``."""
    g = df.groupby(by, sort=False)[cols]
    return g.mean().join(g.std(ddof=1).fillna(0.0).add_suffix("_std"))


def run_time_sentence(results: Mapping[str, StoredResult]) -> str:
    """One sentence on how long a chapter's stored results took: wall minutes summed over its
    parts, the machine, and how many models were trained or loaded from the cache."""
    provs = [r.provenance for r in results.values()]
    minutes = sum(p.get("wall_seconds", 0.0) for p in provs) / 60
    devices = sorted({p.get("device_name", "?") for p in provs})
    trained = sum(p.get("models", {}).get("count", 0) - p.get("models", {}).get("loaded_from_cache", 0) for p in provs)
    loaded = sum(p.get("models", {}).get("loaded_from_cache", 0) for p in provs)
    training = sum(p.get("models", {}).get("training_seconds", 0.0) for p in provs) / 60
    profiles = sorted({p.get("profile", "?") for p in provs})
    text = (f"The stored results of this chapter ({', '.join(profiles)} profile) took {minutes:.1f} minutes "
            f"of wall time on {', '.join(devices)}")
    if trained or loaded:
        text += f", training {plural(trained, 'model')}"
        if loaded:
            text += f" and loading {loaded:,} trained earlier from the cache"
        text += f" ({training:.1f} minutes of training in all, cached models included)"
    return text + "."
