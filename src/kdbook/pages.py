"""Small helpers for chapter pages: glue values into prose and show provenance."""

from __future__ import annotations


class Plain(str):
    """A string whose text representation has no quotes, for ``{glue:text}`` in prose."""

    def __repr__(self) -> str:
        return str(self)


def glue_all(values: dict, prefix: str = "") -> None:
    """``myst_nb.glue`` every (name, value) pair without displaying it.

    Strings become :class:`Plain` (no quotes in prose); numpy and torch scalars become Python numbers.
    """
    from myst_nb import glue

    for name, value in values.items():
        if isinstance(value, str):
            value = Plain(value)
        elif hasattr(value, "item"):  # numpy and torch scalars: glue:text needs plain numbers
            value = value.item()
        glue(prefix + name, value, display=False)


def run_time_sentence(results: dict) -> str:
    """One sentence on how long a chapter's stored results took: wall minutes summed over its
    parts, the machine, and how many models were trained or loaded from the cache."""
    provs = [r.provenance for r in results.values()]
    minutes = sum(p.get("wall_seconds", 0.0) for p in provs) / 60
    devices = sorted({p.get("device_name", "?") for p in provs})
    trained = sum(p.get("models", {}).get("count", 0) - p.get("models", {}).get("loaded_from_cache", 0) for p in provs)
    loaded = sum(p.get("models", {}).get("loaded_from_cache", 0) for p in provs)
    profiles = sorted({p.get("profile", "?") for p in provs})
    text = (f"The stored results of this chapter ({', '.join(profiles)} profile) took {minutes:.1f} minutes "
            f"of wall time on {', '.join(devices)}")
    if trained or loaded:
        text += f", training {trained} model(s)" + (f" and loading {loaded} trained earlier from the cache" if loaded else "")
    return text + "."
