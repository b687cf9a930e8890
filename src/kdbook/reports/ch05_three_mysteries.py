"""Chapter 5 read from its stored results: the models of three settings, each ensemble compared
with its own members (paired), the teachers' reports, the paper's numbers, and the claims checked
with the book's cautious rule.

Reads the mapping that :func:`kdbook.experiments.ch05_three_mysteries.run` returns (``deep``,
``rf``, ``gaussian`` -> :class:`kdbook.store.StoredResult`) and never trains anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from .. import plots
from ..claims import Claim, evaluate
from ..store import StoredResult
from .common import clearly_greater, join_words, paired_relation, plural, run_time_sentence

Results = Mapping[str, StoredResult]
Verdict = tuple[bool, dict[str, float]]

#: Allen-Zhu & Li (2020), test accuracy (%), as a secondary summary of the paper reports them (the
#: source article in the book's seeds): deep nets (CIFAR) and CIFAR-10 with random (NTK) features.
#: The summary gives no number for the deep trained average, only that it gains nothing over a
#: single model.
PAPER = {
    "deep": {"ensemble": 84.8, "distilled from the ensemble": 83.8, "single model": 81.5, "self-distilled": 83.5},
    "rf": {"single model": 66.68, "ensemble": 70.54, "distilled from the ensemble": 66.01, "trained average": 72.86},
}
PAPER_SOURCE = "a secondary summary of the paper"

#: how each setting is named in the tables and figures
SETTING_NAMES = {"deep": "small CNN", "rf": "random features", "gaussian": "MLP on Gaussian inputs"}
#: the claims' and sentences' opening per setting
_WHERE = {"deep": "With small CNNs", "rf": "With random features", "gaussian": "On Gaussian inputs"}

_NOT_A_NAME = re.compile(r"\W+")


# ------------------------------------------------------------------------------ rows
def frame(result: StoredResult) -> pd.DataFrame:
    """Every stored row with a short ``kind``: single, ens, kd, twin, self, avg, ens_kd."""
    df = pd.DataFrame(result.value["rows"])
    df["kind"] = df["model"].map(_kind)
    return df


def _kind(model: str) -> str:
    if model.startswith("ensemble of"):
        return "ens_kd" if "distilled" in model else "ens"
    return {"single model": "single", "distilled from the ensemble": "kd", "labels, students' epochs": "twin",
            "self-distilled": "self", "trained average": "avg"}[model]


def table(result: StoredResult) -> pd.DataFrame:
    """Per model: test accuracy (%) mean and std over nets, training accuracy (%), how many nets,
    NLL and ECE."""
    df = frame(result)
    df["accuracy"] = 100 * df["accuracy"]
    df["train_accuracy"] = 100 * df.get("train_accuracy", np.nan)
    g = df.groupby("model", sort=False)
    out = pd.DataFrame({"accuracy": g["accuracy"].mean(), "accuracy std": g["accuracy"].std(ddof=1).fillna(0.0),
                        "train accuracy": g["train_accuracy"].mean(), "nets": g.size(),
                        "nll": g["nll"].mean(), "ece": g["ece"].mean()})
    return out


def display_table(result: StoredResult) -> pd.DataFrame:
    """:func:`table` as a reader wants it: percentages with their spread, counts, plain headers."""
    t = table(result)
    return pd.DataFrame({
        "test accuracy (%)": [f"{a:.2f} ± {s:.2f}" if n > 1 else f"{a:.2f}"
                              for a, s, n in zip(t["accuracy"], t["accuracy std"], t["nets"])],
        "training accuracy (%)": ["-" if np.isnan(v) else f"{v:.2f}" for v in t["train accuracy"]],
        "networks": [f"{n:.0f}" for n in t["nets"]],
        "test NLL": [f"{v:.3f}" for v in t["nll"]], "test ECE": [f"{v:.3f}" for v in t["ece"]],
    }, index=t.index.rename("model"))


# ------------------------------------------------------------------------------ paired comparisons
def _per_ensemble(df: pd.DataFrame, kind: str, column: str = "accuracy") -> pd.Series:
    return df[df["kind"] == kind].groupby("ensemble")[column].mean()


def _self_minus_teacher(df: pd.DataFrame) -> np.ndarray:
    s = df[df["kind"] == "self"].set_index("ensemble")
    return (100 * (s["accuracy"] - s["teacher_test_accuracy"])).to_numpy()


def _seed_pairs(df: pd.DataFrame, kind: str, ref: str) -> np.ndarray:
    a = df[df["kind"] == kind].set_index("seed")["accuracy"]
    b = df[df["kind"] == ref].set_index("seed")["accuracy"]
    return (100 * (a - b.loc[a.index])).to_numpy()


def _ensemble_pairs(kind: str, ref: str) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda df: (100 * (_per_ensemble(df, kind) - _per_ensemble(df, ref))).dropna().to_numpy()


#: the chapter's paired comparisons, test accuracy in points: name -> (what it compares, differences)
COMPARISONS: dict[str, tuple[str, Callable[[pd.DataFrame], np.ndarray]]] = {
    "ens_vs_single": ("ensemble - its own members", _ensemble_pairs("ens", "single")),
    "kd_vs_single": ("distilled student - the members of its teacher", _ensemble_pairs("kd", "single")),
    "kd_vs_twin": ("distilled student - the same seed on labels for the same epochs",
                   lambda df: _seed_pairs(df, "kd", "twin")),
    "self_vs_teacher": ("self-distilled student - the member it was distilled from", _self_minus_teacher),
    "self_vs_twin": ("self-distilled student - label-trained nets of the same epochs", _ensemble_pairs("self", "twin")),
    "avg_vs_ens": ("trained average - the ensemble of the same size", _ensemble_pairs("avg", "ens")),
    "ens_kd_vs_kd": ("ensemble of distilled students - one distilled student", _ensemble_pairs("ens_kd", "kd")),
}


def differences(result: StoredResult, name: str) -> np.ndarray:
    """The paired differences (points of test accuracy) of comparison ``name`` (:data:`COMPARISONS`):
    one per ensemble, or per student seed for a student against its label-trained twin."""
    return np.asarray(COMPARISONS[name][1](frame(result)), dtype=float)


def _mean_std(d: np.ndarray) -> tuple[float, float]:
    return float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0


_VERDICT = {"higher than": "gain", "lower than": "loss", "indistinguishable from": "no clear difference"}


def comparisons_table(results: Results) -> pd.DataFrame:
    """Every paired comparison (rows) in every setting (columns): mean ± std in points and a verdict."""
    cells: dict[str, dict[str, str]] = {}
    for part, res in results.items():
        for name, (what, _) in COMPARISONS.items():
            d = differences(res, name)
            if len(d) == 0:
                cells.setdefault(what, {})[SETTING_NAMES.get(part, part)] = "-"
                continue
            m, s = _mean_std(d)
            cells.setdefault(what, {})[SETTING_NAMES.get(part, part)] = (
                f"{m:+.2f} ± {s:.2f} ({_VERDICT[paired_relation(d)]})")
    return pd.DataFrame(cells).T.rename_axis("test accuracy, points (pairs)")


# ------------------------------------------------------------------------------ teachers and training
def teacher_report(result: StoredResult) -> dict:
    """The ensembles' report as a teacher: train / validation / test accuracy over ensembles and the
    validation advantage over the same network on labels for the students' epochs."""
    return result.value["teacher_report"]


def teacher_table(results: Results) -> pd.DataFrame:
    """Each setting's teacher report in percent, one row per setting."""
    rows = {}
    for part, res in results.items():
        r = teacher_report(res)
        rows[SETTING_NAMES.get(part, part)] = {
            "teacher": f"ensemble of {res.value['n_members']}",
            **{f"{split} accuracy (%)": f"{100 * r[f'{split}_accuracy']:.2f} ± {100 * r[f'{split}_accuracy_std']:.2f}"
               for split in ("train", "val", "test")},
            "student on labels, val (%)": f"{100 * r['student_val_accuracy']:.2f} ± {100 * r['student_val_accuracy_std']:.2f}",
            "val advantage (points)": f"{100 * r['val_advantage']:+.2f} ± {100 * r['val_advantage_std']:.2f}",
            "clear": "yes" if r["has_advantage"] else "no",
        }
    return pd.DataFrame(rows).T.rename_axis("setting")


def teacher_sentence(results: Results, part: str) -> str:
    """The teacher report of ``part`` in one sentence."""
    res = results[part]
    r = teacher_report(res)
    verdict = ("a clear advantage" if r["has_advantage"] else "no clear advantage")
    return (f"{_WHERE[part]}, the ensembles of {res.value['n_members']} reach {100 * r['train_accuracy']:.2f}% "
            f"training, {100 * r['val_accuracy']:.2f}% validation and {100 * r['test_accuracy']:.2f}% test accuracy: "
            f"{verdict} of {100 * r['val_advantage']:+.2f} ± {100 * r['val_advantage_std']:.2f} validation points over "
            f"the same network trained on labels for the students' epochs.")


def members_fit(result: StoredResult) -> tuple[float, float]:
    """The members' training accuracy (%): mean and lowest."""
    df = frame(result)
    tr = 100 * df[df["kind"] == "single"]["train_accuracy"]
    return float(tr.mean()), float(tr.min())


def recipe_table(results: Results) -> pd.DataFrame:
    """What was chosen on validation in each setting, and the epochs."""
    rows = {}
    for part, res in results.items():
        c, e = res.value["chosen"], res.value["epochs"]
        rows[SETTING_NAMES.get(part, part)] = {
            "members: epochs, lr": f"{e['members']}, {c['member_lr']:g}",
            "students: epochs, lr": f"{e['students']}, {c['student_lr']:g}",
            "students: T, label weight": f"{c['T']:g}, {1 - c['alpha']:g}",
            "trained average: lr": f"{c['average_lr']:g}" if "average_lr" in c else "-",
            "grid points each": f"{len(res.value['tuning']) // max(1, len({r['tuned'] for r in res.value['tuning']}))}",
        }
    return pd.DataFrame(rows).T.rename_axis("setting")


def tuning_table(result: StoredResult) -> pd.DataFrame:
    """Every grid point of one setting with its validation accuracy (%), the chosen one marked."""
    df = pd.DataFrame(result.value["tuning"])
    return pd.DataFrame({
        "tuned": df["tuned"], "lr": df["lr"].map("{:g}".format),
        "T": df["T"].map(lambda v: "-" if v is None or pd.isna(v) else f"{v:g}"),
        "validation accuracy (%)": (100 * df["val_accuracy"]).map("{:.2f}".format),
        "chosen": df["chosen"].map({True: "chosen", False: ""}),
    })


def curves(result: StoredResult) -> pd.DataFrame:
    """Mean validation accuracy (%) per model and epoch (columns: models)."""
    out = {}
    for model, group in pd.DataFrame(result.value["curves"]).groupby("model", sort=False):
        arr = np.array([[np.nan if v is None else v for v in c] for c in group["val_accuracy"]], dtype=float)
        out[model] = pd.Series(100 * np.nanmean(arr, axis=0), index=np.arange(1, arr.shape[1] + 1))
    return pd.DataFrame(out)


def late_gain(result: StoredResult, model: str) -> tuple[float, float]:
    """Per net of ``model``: validation accuracy (points) at the last epoch minus four fifths of the
    way; mean and std over nets."""
    group = pd.DataFrame(result.value["curves"]).query("model == @model")
    gains = []
    for c in group["val_accuracy"]:
        k = max(0, round(0.8 * len(c)) - 1)
        gains.append(100 * (c[-1] - c[k]))
    d = np.asarray(gains, dtype=float)
    return _mean_std(d)


def curve_figure(result: StoredResult):
    """Validation accuracy against epoch (mean over nets) for members, students, their twins and
    the self-distilled students: had training ended?"""
    c = curves(result)
    fig, (ax,) = plots.figure(width=6.0, height=3.4)
    for model in c.columns:
        ax.plot(c.index, c[model], color=_COLOURS.get(model, "grey"), label=model)
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Mean over nets")
    lo = np.nanpercentile(c.to_numpy(), 5)
    ax.set_ylim(lo, None)
    ax.legend(fontsize=8)
    return fig


#: one colour per model on every figure of the chapter
_COLOURS = {"single model": plots.PALETTE[0], "distilled from the ensemble": plots.PALETTE[1],
            "labels, students' epochs": plots.PALETTE[2], "self-distilled": plots.PALETTE[3],
            "trained average": plots.PALETTE[4]}
#: one colour per comparison on every panel
_COMPARISON_COLOURS = {name: plots.PALETTE[i] for i, name in enumerate(COMPARISONS)}
_SHORT_LABELS = {"ens_vs_single": "ensemble\n- members", "kd_vs_single": "student\n- members",
                 "kd_vs_twin": "student\n- labels twin", "self_vs_teacher": "self-dist.\n- its teacher",
                 "self_vs_twin": "self-dist.\n- labels twins", "avg_vs_ens": "trained avg.\n- ensemble",
                 "ens_kd_vs_kd": "ens. of students\n- student"}


def gains_figure(results: Results):
    """One panel per setting (stacked, so each is readable at page width): each paired comparison's
    mean difference in test accuracy with its std over pairs; one colour per comparison."""
    fig, axes = plots.figure(nrows=len(results), width=6.4, height=2.6 * len(results))
    for ax, (part, res) in zip(axes, results.items()):
        names = [n for n in COMPARISONS if len(differences(res, n))]
        stats = [_mean_std(differences(res, n)) for n in names]
        ax.bar(range(len(names)), [m for m, _ in stats], yerr=[s for _, s in stats], capsize=3,
               color=[_COMPARISON_COLOURS[n] for n in names])
        ax.set_xticks(range(len(names)), [_SHORT_LABELS[n] for n in names], fontsize=8)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_ylabel("points")
        ax.set_title(SETTING_NAMES.get(part, part), fontsize=10)
    return fig


# ------------------------------------------------------------------------------ readings
_WORDS = {"higher than": "more accurate than", "lower than": "less accurate than",
          "indistinguishable from": "indistinguishable in accuracy from"}
_SUBJECTS = {"ens_vs_single": ("the ensemble", "its own members"),
             "kd_vs_single": ("the distilled student", "the members of its teacher"),
             "kd_vs_twin": ("the distilled student", "the same network trained on labels for as long"),
             "self_vs_teacher": ("the self-distilled student", "the member it learned from"),
             "avg_vs_ens": ("the trained average", "the ensemble")}


def reading(results: Results, part: str) -> str:
    """One sentence per setting: each paired comparison's relation, in words."""
    res = results[part]
    parts = [f"{a} is {_WORDS[paired_relation(differences(res, name))]} {b}"
             for name, (a, b) in _SUBJECTS.items() if len(differences(res, name))]
    return f"{_WHERE[part]}, by the paired rule, " + join_words(parts) + "."


def headline(results: Results) -> dict[str, float]:
    """Each setting's mean paired differences and test accuracies, keyed '<setting>_<name>'."""
    out: dict[str, float] = {}
    for part, res in results.items():
        t = table(res)
        out[f"{part}_single"] = t.loc["single model", "accuracy"]
        out[f"{part}_single_train"] = t.loc["single model", "train accuracy"]
        for name in COMPARISONS:
            d = differences(res, name)
            if len(d):
                out[f"{part}_{name}"], out[f"{part}_{name}_std"] = _mean_std(d)
    return out


# ------------------------------------------------------------------------------ claims
_VERBS = {"higher than": ("is more accurate than", "is not clearly more accurate than"),
          "lower than": ("is less accurate than", "is not clearly less accurate than"),
          "indistinguishable from": ("is as accurate as", "differs clearly in accuracy from")}


def _paired_claim(cid: str, part: str, name: str, expected: str, source: str = "paper") -> Claim:
    subject, other = _SUBJECTS[name]
    verb, negated = _VERBS[expected]

    def predicate(results: Results) -> Verdict:
        d = differences(results[part], name)
        m, s = _mean_std(d)
        return paired_relation(d) == expected, {"mean_difference": m, "difference_std": s, "pairs": len(d)}

    return Claim(cid, f"{_WHERE[part]}, {subject} {verb} {other} (paired).",
                 f"{_WHERE[part]}, {subject} {negated} {other} (paired).", predicate, source=source)


def _members_fit(results: Results) -> Verdict:
    mean, low = members_fit(results["deep"])
    return bool(low >= 99.0), {"train_accuracy_mean": mean, "train_accuracy_lowest": low}


def _teacher_has_advantage(results: Results) -> Verdict:
    r = teacher_report(results["deep"])
    return bool(r["has_advantage"]), {"val_advantage": 100 * r["val_advantage"],
                                      "val_advantage_std": 100 * r["val_advantage_std"]}


def _students_had_ended(results: Results) -> Verdict:
    numbers, ended = {}, True
    for model in ("distilled from the ensemble", "labels, students' epochs", "self-distilled"):
        m, s = late_gain(results["deep"], model)
        numbers[f"{_NOT_A_NAME.sub('_', model).strip('_')}_late_gain"] = m
        ended &= not clearly_greater(m, s, 0.0, 0.0)
    return bool(ended), numbers


def _member_gaps(result: StoredResult) -> np.ndarray:
    df = frame(result)
    s = df[df["kind"] == "single"]
    return (100 * (s["train_accuracy"] - s["accuracy"])).to_numpy()


def _gaussian_clearly_larger(values: Callable[[StoredResult], np.ndarray], name: str) -> Callable[[Results], Verdict]:
    """A predicate: ``values`` (one per net or pair) are clearly larger on Gaussian inputs than with
    small CNNs, by the cautious rule on their means and spreads."""
    def predicate(results: Results) -> Verdict:
        (gm, gs), (cm, cs) = _mean_std(values(results["gaussian"])), _mean_std(values(results["deep"]))
        return clearly_greater(gm, gs, cm, cs), {f"gaussian_{name}": gm, f"gaussian_{name}_std": gs,
                                                 f"cnn_{name}": cm, f"cnn_{name}_std": cs}
    return predicate


_gaussian_members_overfit_more = _gaussian_clearly_larger(_member_gaps, "gap")
_gaussian_gain_larger = _gaussian_clearly_larger(lambda r: differences(r, "ens_vs_single"), "gain")


CLAIMS: tuple[Claim, ...] = (
    Claim("ch05.members_fit_training_data",
          "With small CNNs, every member fits at least 99% of its training images.",
          "With small CNNs, some member fits less than 99% of its training images.", _members_fit),
    Claim("ch05.teacher_has_val_advantage_cnn",
          "With small CNNs, the ensemble has a clear validation advantage over the same network trained on labels "
          "for the students' epochs.",
          "With small CNNs, the ensemble has no clear validation advantage over the same network trained on labels "
          "for the students' epochs.", _teacher_has_advantage),
    _paired_claim("ch05.ensemble_beats_single_cnn", "deep", "ens_vs_single", "higher than"),
    _paired_claim("ch05.distilled_beats_single_cnn", "deep", "kd_vs_single", "higher than"),
    _paired_claim("ch05.distilled_beats_labels_same_epochs_cnn", "deep", "kd_vs_twin", "higher than", "prose"),
    _paired_claim("ch05.self_distilled_beats_single_cnn", "deep", "self_vs_teacher", "higher than"),
    _paired_claim("ch05.trained_average_below_ensemble_cnn", "deep", "avg_vs_ens", "lower than"),
    Claim("ch05.students_had_ended",
          "With small CNNs, the students' and their twins' validation accuracy had stopped rising: the last fifth "
          "of their epochs adds no clear gain.",
          "With small CNNs, some students' validation accuracy was still clearly rising over the last fifth of "
          "their epochs.", _students_had_ended),
    _paired_claim("ch05.ensemble_beats_single_rf", "rf", "ens_vs_single", "higher than"),
    _paired_claim("ch05.distilled_matches_single_rf", "rf", "kd_vs_single", "indistinguishable from"),
    _paired_claim("ch05.trained_average_beats_ensemble_rf", "rf", "avg_vs_ens", "higher than"),
    _paired_claim("ch05.ensemble_matches_single_gaussian", "gaussian", "ens_vs_single", "indistinguishable from"),
    Claim("ch05.gaussian_members_overfit_more",
          "The MLP members on Gaussian inputs lose clearly more accuracy from training to test images than the CNN "
          "members do.",
          "The MLP members on Gaussian inputs do not lose clearly more accuracy from training to test images than "
          "the CNN members do.", _gaussian_members_overfit_more, source="prose"),
    Claim("ch05.gaussian_ensemble_gain_exceeds_cnn",
          "The ensemble's gain over its own members is clearly larger on Gaussian inputs than with small CNNs.",
          "The ensemble's gain over its own members is not clearly larger on Gaussian inputs than with small CNNs.",
          _gaussian_gain_larger, source="prose"),
)


# ------------------------------------------------------------------------------ the page's glued values
def glue_values(results: Results) -> dict[str, float | int | str]:
    """Every number and sentence the page glues, named ``ch05_*``; ``ch05_says_<claim>`` is what the
    page says about claim ``ch05.<claim>`` (its statement if it holds, else its negation)."""
    h = headline(results)
    deep = results["deep"].value
    fit_mean, fit_low = members_fit(results["deep"])
    return {
        **{f"ch05_{k}": f"{v:+.2f}" if "_vs_" in k and not k.endswith("_std") else f"{v:.2f}" for k, v in h.items()},
        **{f"ch05_says_{o.id.split('.', 1)[1]}": o.sentence() for o in evaluate(CLAIMS, results)},
        **{f"ch05_reading_{part}": reading(results, part) for part in results},
        **{f"ch05_teacher_{part}": teacher_sentence(results, part) for part in results},
        "ch05_fit_mean": f"{fit_mean:.2f}", "ch05_fit_low": f"{fit_low:.2f}",
        "ch05_n": f"{deep['n_members']}",
        "ch05_ensembles": plural(len({r['ensemble'] for r in deep['rows']}), "ensemble"),
        "ch05_member_epochs": f"{deep['epochs']['members']}", "ch05_student_epochs": f"{deep['epochs']['students']}",
        "ch05_T": f"{deep['chosen']['T']:g}", "ch05_label_weight": f"{1 - deep['chosen']['alpha']:g}",
        "ch05_paper_claims_sentence": paper_claims_sentence(results),
        "ch05_paper_source": PAPER_SOURCE,
        "ch05_run_time": run_time_sentence(results),
        **{f"ch05_paper_{part}_{_NOT_A_NAME.sub('_', row)}": f"{v:g}" for part, rows in PAPER.items()
           for row, v in rows.items()},
    }


def paper_claims_sentence(results: Results) -> str:
    """How many of the paper's claims hold on ``results``, in words."""
    paper = [o for o in evaluate(CLAIMS, results) if o.source == "paper"]
    holding = sum(o.holds for o in paper)
    return f"{holding} of the paper's {plural(len(paper), 'claim')} {'holds' if holding == 1 else 'hold'} in our run."


def paper_table(results: Results) -> pd.DataFrame:
    """Ours beside the paper (as :data:`PAPER_SOURCE` reports it), test accuracy (%)."""
    rows = []
    for part, res in results.items():
        t = table(res)
        paper = PAPER.get(part, {})
        for model in t.index:
            key = "ensemble" if _kind(model) == "ens" else model
            rows.append({"setting": SETTING_NAMES.get(part, part), "model": model,
                         "ours (%)": f"{t.loc[model, 'accuracy']:.2f}",
                         "paper (%)": f"{paper[key]:.2f}" if key in paper else "-"})
    return pd.DataFrame(rows).set_index(["setting", "model"])
