"""Chapter 5 read from its stored results: the six models in three settings, the paper's numbers,
its qualitative claims and the chapter's own, checked with the book's cautious rule.

Reads the mapping that :func:`kdbook.experiments.ch05_three_mysteries.run` returns (``deep``,
``rf``, ``gaussian`` -> :class:`kdbook.store.StoredResult`) and never trains anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import plots
from ..claims import Claim, evaluate
from ..store import StoredResult
from .common import compare, join_words, plural, run_time_sentence

Results = Mapping[str, StoredResult]

#: Allen-Zhu & Li (2020), test accuracy (%): deep nets (seed 000 article) and CIFAR-10 with random (NTK) features.
PAPER = {
    "deep": {"ensemble": 84.8, "distilled from the ensemble": 83.8, "single model": 81.5, "self-distilled": 83.5},
    "rf": {"single model": 66.68, "ensemble": 70.54, "distilled from the ensemble": 66.01, "trained average": 72.86},
}

#: how each setting is named in the tables
SETTING_NAMES = {"deep": "small CNN", "rf": "random features", "gaussian": "MLP"}
#: short names of the rows (as in :func:`headline`'s keys) and how the prose names them
ROW_NAMES = {"single": "a single model", "ens": "the ensemble", "kd": "the student distilled from the ensemble",
             "self": "the self-distilled student", "avg": "the trained average",
             "ens_kd": "the ensemble of distilled students"}
_SHORT = {"distilled from the ensemble": "kd", "self-distilled": "self", "trained average": "avg"}
_NOT_A_NAME = re.compile(r"\W+")
TABLE_FORMAT = {"accuracy": "{:.2f}", "accuracy std": "{:.2f}", "nets": "{:.0f}", "nll": "{:.4f}", "ece": "{:.4f}"}


# ------------------------------------------------------------------------------ tables
def table(result: StoredResult) -> pd.DataFrame:
    """Test accuracy (%), NLL and ECE per row: mean and std over nets, and how many nets."""
    df = pd.DataFrame(result.value["rows"])
    df["accuracy"] *= 100
    g = df.groupby("model", sort=False)
    out = g[["accuracy", "nll", "ece"]].mean().join(g[["accuracy"]].std(ddof=1).add_suffix(" std"))
    out["nets"] = g.size()
    return out[["accuracy", "accuracy std", "nets", "nll", "ece"]]


def styled_table(result: StoredResult):
    """:func:`table` formatted for a page."""
    return table(result).style.format(TABLE_FORMAT, na_rep="")


def gains(result: StoredResult) -> dict[str, float]:
    """Each row's accuracy minus the mean single model's (points)."""
    t = table(result)
    base = t.loc["single model", "accuracy"]
    return {name: float(acc - base) for name, acc in t["accuracy"].items() if name != "single model"}


def _paper_key(model: str) -> str:
    return "ensemble" if model.startswith("ensemble of") and "distilled" not in model else model


def combined_table(results: Results) -> pd.DataFrame:
    """All three settings in one table, with the paper's numbers where it has them."""
    frames = []
    for part, res in results.items():
        t = table(res).reset_index()
        data = "Gaussian inputs" if part == "gaussian" else res.value["dataset"].split(":")[0]
        t.insert(0, "setting", f"{SETTING_NAMES.get(part, part)}, {data}")
        paper = PAPER.get(part, {})
        t["paper"] = [paper.get(_paper_key(m), np.nan) for m in t["model"]]
        frames.append(t)
    return pd.concat(frames, ignore_index=True).set_index(["setting", "model"])


def styled_combined_table(results: Results):
    """:func:`combined_table` formatted for a page."""
    return combined_table(results).style.format({**TABLE_FORMAT, "paper": "{:.2f}"}, na_rep="")


def _short(name: str) -> str:
    """A row's short name: 'ens', 'ens_kd', 'kd', 'self' or 'avg'."""
    if name.startswith("ensemble of"):
        return "ens_kd" if "distilled students" in name else "ens"
    return _SHORT[name]


def headline(results: Results) -> dict[str, float]:
    """The chapter's findings as numbers: each setting's rows (accuracy %, std over nets) and gains
    over its single model, keyed '<setting>_<row>', '<setting>_<row>_std', '<setting>_<row>_gain'."""
    out: dict[str, float] = {}
    for part, res in results.items():
        t = table(res)
        out[f"{part}_single"] = t.loc["single model", "accuracy"]
        out[f"{part}_single_std"] = t.loc["single model", "accuracy std"]
        for name, gain in gains(res).items():
            short = _short(name)
            out[f"{part}_{short}_gain"] = gain
            out[f"{part}_{short}"] = t.loc[name, "accuracy"]
            out[f"{part}_{short}_std"] = t.loc[name, "accuracy std"] if t.loc[name, "nets"] > 1 else 0.0
    return out


# ------------------------------------------------------------------------------ readings
def relation(h: Mapping[str, float], part: str, row: str, ref: str) -> str:
    """'higher than', 'lower than' or 'indistinguishable from' (the book's cautious rule: a
    difference counts when it exceeds the two standard deviations over seeds added)."""
    return compare(h[f"{part}_{row}"], h[f"{part}_{row}_std"], h[f"{part}_{ref}"], h[f"{part}_{ref}_std"])


#: a relation by the cautious rule, in words about accuracy
ACCURACY_WORDS = {"higher than": "more accurate than", "lower than": "less accurate than",
                  "indistinguishable from": "indistinguishable in accuracy from"}


def reading(h: Mapping[str, float], part: str) -> str:
    """One sentence per setting: each model against a single model (and the trained average
    against the ensemble), by the cautious rule."""
    rows = [r for r in ("ens", "kd", "self", "avg", "ens_kd") if f"{part}_{r}" in h]
    parts = [f"{ROW_NAMES[r]} is {ACCURACY_WORDS[relation(h, part, r, 'single')]} a single model" for r in rows]
    if f"{part}_avg" in h:
        parts.append(f"the trained average is {ACCURACY_WORDS[relation(h, part, 'avg', 'ens')]} the ensemble")
    text = "; and ".join(["; ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else "".join(parts)
    return text[0].upper() + text[1:] + "."


def widths_text(widths: Sequence[int]) -> str:
    """'16, 32 and 64'."""
    return join_words([str(w) for w in widths])


def gains_figure(results: Results):
    """One panel per setting, stacked so each reads at page width: each model's accuracy minus the
    mean single model's, with the std over nets; one colour per model on every panel."""
    titles = {"deep": "small CNN", "rf": "random features", "gaussian": "Gaussian inputs (MLP)"}
    fig, axes = plots.figure(nrows=len(results), width=6.4, height=2.6 * len(results))
    for ax, (part, res) in zip(axes, results.items()):
        _gain_bars(res, titles.get(part, part), ax)
    return fig


#: one colour per kind of model, on every panel
_COLOURS = {"ens": plots.PALETTE[0], "kd": plots.PALETTE[1], "self": plots.PALETTE[2], "avg": plots.PALETTE[3],
            "ens_kd": plots.PALETTE[4]}


def _tick(model: str) -> str:
    """A row's name on two short lines, so that neighbouring tick labels never run together."""
    short = model.replace("ensemble of ", "ens. of ").replace("distilled", "dist.")
    for long, wrapped in ((" from the ", "\nfrom the "), ("trained average", "trained\naverage"),
                          (" dist. students", "\ndist. students")):
        short = short.replace(long, wrapped)
    return short


def _gain_bars(result: StoredResult, title: str, ax) -> None:
    t = table(result)
    base = t.loc["single model", "accuracy"]
    rows = [r for r in t.index if r != "single model"]
    ax.bar(range(len(rows)), [t.loc[r, "accuracy"] - base for r in rows],
           yerr=[t.loc[r, "accuracy std"] if t.loc[r, "nets"] > 1 else 0 for r in rows], capsize=3,
           color=[_COLOURS[_short(r)] for r in rows])
    ax.set_xticks(range(len(rows)), [_tick(r) for r in rows], fontsize=8)
    ax.set_ylabel("points vs a single model")
    ax.set_title(title, fontsize=10)
    ax.axhline(0, color="black", lw=0.8)


# ------------------------------------------------------------------------------ claims
#: the setting each claim is about, as its statement says it
_WHERE = {"deep": "With small CNNs", "rf": "With random features", "gaussian": "On Gaussian inputs"}
#: expected relation -> (the statement's verb, the negation's verb)
_VERBS = {"higher than": ("is more accurate than", "is not clearly more accurate than"),
          "lower than": ("is less accurate than", "is not clearly less accurate than"),
          "indistinguishable from": ("is as accurate as", "differs in accuracy from")}
#: the numbers' names of each row
_NUMBER_NAMES = {"single": "single_model", "ens": "ensemble", "kd": "distilled", "self": "self_distilled",
                 "avg": "trained_average", "ens_kd": "ensemble_of_distilled"}


def _relation_predicate(part: str, row: str, ref: str, expected: str):
    """A predicate: in setting ``part``, row ``row`` stands in relation ``expected`` to row ``ref``."""
    def predicate(results: Results) -> tuple[bool, dict[str, float]]:
        h = headline(results)
        numbers = {f"{_NUMBER_NAMES[r]}{suffix}": h[f"{part}_{r}{suffix}"] for r in (row, ref) for suffix in ("", "_std")}
        return relation(h, part, row, ref) == expected, numbers
    return predicate


def _relation_claim(cid: str, part: str, row: str, ref: str, expected: str, source: str) -> Claim:
    """A claim that one row of a setting is more accurate than, less accurate than or as accurate as another."""
    verb, negated = _VERBS[expected]
    subject, other = ROW_NAMES[row], ROW_NAMES[ref]
    return Claim(cid, f"{_WHERE[part]}, {subject} {verb} {other}.", f"{_WHERE[part]}, {subject} {negated} {other}.",
                 _relation_predicate(part, row, ref, expected), source=source)


#: (id, setting, row, reference row, expected relation, source)
_RELATIONS = (
    ("ch05.ensemble_beats_single_cnn", "deep", "ens", "single", "higher than", "paper"),
    ("ch05.distilled_beats_single_cnn", "deep", "kd", "single", "higher than", "paper"),
    ("ch05.self_distilled_beats_single_cnn", "deep", "self", "single", "higher than", "paper"),
    ("ch05.trained_average_below_ensemble_cnn", "deep", "avg", "ens", "lower than", "paper"),
    ("ch05.ensemble_beats_single_rf", "rf", "ens", "single", "higher than", "paper"),
    ("ch05.distilled_matches_single_rf", "rf", "kd", "single", "indistinguishable from", "paper"),
    ("ch05.trained_average_beats_ensemble_rf", "rf", "avg", "ens", "higher than", "paper"),
    ("ch05.ensemble_matches_single_gaussian", "gaussian", "ens", "single", "indistinguishable from", "paper"),
    ("ch05.distilled_below_single_cnn", "deep", "kd", "single", "lower than", "prose"),
    ("ch05.distilled_below_single_rf", "rf", "kd", "single", "lower than", "prose"),
)

CLAIMS: tuple[Claim, ...] = tuple(_relation_claim(*spec) for spec in _RELATIONS)


# ------------------------------------------------------------------------------ the page's glued values
def glue_values(results: Results) -> dict[str, float | int | str]:
    """Every number and sentence the page glues, named ``ch05_*``; ``ch05_says_<claim>`` is what the
    page says about claim ``ch05.<claim>`` (its statement if it holds, else its negation)."""
    h = headline(results)
    return {
        **{f"ch05_{k}": v for k, v in h.items()},
        **{f"ch05_says_{o.id.split('.', 1)[1]}": o.sentence() for o in evaluate(CLAIMS, results)},
        **{f"ch05_reading_{part}": reading(h, part) for part in results},
        "ch05_paper_claims_sentence": paper_claims_sentence(results),
        "ch05_run_time": run_time_sentence(results),
        **{f"ch05_paper_{part}_{_NOT_A_NAME.sub('_', row)}": v for part, rows in PAPER.items() for row, v in rows.items()},
    }


def paper_claims_sentence(results: Results) -> str:
    """How many of the paper's claims hold on ``results``, in words."""
    paper = [o for o in evaluate(CLAIMS, results) if o.source == "paper"]
    holding = sum(o.holds for o in paper)
    return f"{holding} of the paper's {plural(len(paper), 'claim')} {'holds' if holding == 1 else 'hold'} in our run."
