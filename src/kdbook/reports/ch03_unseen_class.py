"""Chapter 3, learning a class it never saw: tables, sentences and claims from the stored bias-shift curves.

Reads the two parts that ``kdbook.experiments.ch03_unseen_class.run`` returns: ``omitted`` (one
class removed from the transfer set; the distilled student, a labels-only control and the
teacher) and ``two-classes`` (a transfer set of two classes; the distilled student and the
teacher). Each row holds the errors at every bias shift on validation and test, and the shift
chosen on validation; "before" is the model as trained, "after" is at that chosen shift.
Comparisons of means use the book's cautious rule (the difference must exceed the sum of the
two standard deviations over seeds).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import plots
from ..claims import Claim, Results
from ..store import StoredResult
from .common import clearly_greater, join_words, mean_std, plural

#: Hinton et al. (2015), MNIST: the transfer set without any 3 (test errors of 10,000; the shift
#: chosen on test), and the transfer set of only 7s and 8s (test error in %).
PAPER = {
    "omitted": {"errors": 206, "class_errors": 133, "class_count": 1010, "shift": 3.5,
                "errors_after": 109, "class_errors_after": 14, "test_size": 10_000},
    "two_classes": {"error": 47.3, "error_after": 13.2, "shift": -7.6},
}
#: "Most" of a count or a gap: more than this share.
MOST = 0.5

_PAPER_TWO = f"{PAPER['two_classes']['error']}% to {PAPER['two_classes']['error_after']}% test error"
_COLUMNS = ["shift", "errors before", "errors after", "class errors before", "class errors after"]
_LABEL_FREE = ["label-free shift", "errors after (label-free)", "class errors after (label-free)"]


# ------------------------------------------------------------------------------ tables
def _index(shifts, value: float) -> int:
    return int(np.argmin(np.abs(np.asarray(shifts) - value)))


def before_after(result: StoredResult) -> pd.DataFrame:
    """Per seed and model: test errors (overall and on the focus classes) at no shift and at the
    shift chosen on validation."""
    shifts = result.value["shifts"]
    rows = []
    for r in result.value["rows"]:
        i0, i1 = _index(shifts, 0.0), _index(shifts, r["chosen_shift"])
        i2 = _index(shifts, r.get("prior_shift", r["chosen_shift"]))
        rows.append({"seed": r["seed"], "model": r["model"], "shift": r["chosen_shift"],
                     "errors before": r["test"]["errors"][i0], "errors after": r["test"]["errors"][i1],
                     "class errors before": r["test"]["focus_errors"][i0],
                     "class errors after": r["test"]["focus_errors"][i1], "class count": r["count_test"],
                     "label-free shift": r.get("prior_shift", float("nan")),
                     "errors after (label-free)": r["test"]["errors"][i2],
                     "class errors after (label-free)": r["test"]["focus_errors"][i2]})
    return pd.DataFrame(rows)


def summary(result: StoredResult) -> pd.DataFrame:
    """:func:`before_after` as mean and std over seeds, one row per model."""
    df = before_after(result)
    cols = [c for c in df.columns if c not in ("seed", "model")]
    return mean_std(df, "model", cols)


def n_seeds(result: StoredResult) -> int:
    """How many seeds the stored rows cover."""
    return len({r["seed"] for r in result.value["rows"]})


def test_curve(result: StoredResult, model: str = "distilled",
               key: str = "focus_errors") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(shifts, mean test errors over seeds, std) of ``model`` for ``key`` ('errors' or 'focus_errors')."""
    arr = np.array([r["test"][key] for r in result.value["rows"] if r["model"] == model], dtype=float)
    return (np.asarray(result.value["shifts"]), arr.mean(0),
            arr.std(0, ddof=1) if len(arr) > 1 else np.zeros(arr.shape[1]))


def oracle_shift(result: StoredResult, model: str = "distilled") -> float:
    """The shift that would minimise the *test* errors averaged over seeds (what tuning on test picks;
    shown only to measure what choosing on validation costs)."""
    shifts, mean, _ = test_curve(result, model, "errors")
    return float(shifts[int(np.argmin(mean))])


def omitted_display_table(result: StoredResult) -> pd.DataFrame:
    """The omitted-class summary ready to show: mean ± std over seeds of the shift and the errors."""
    summ = summary(result)
    return pd.DataFrame({col: [f"{m:+.2f} ± {sd:.2f}" if col == "shift" else f"{m:.1f} ± {sd:.1f}"
                               for m, sd in zip(summ[col], summ[col + "_std"])] for col in _COLUMNS},
                        index=summ.index)


def label_free_display_table(result: StoredResult) -> pd.DataFrame:
    """The shift chosen without labels (the shifted classes' predicted share of the unlabelled
    validation images matches their prior) and the test errors there, beside the validation choice."""
    summ = summary(result)
    cols = ["shift", "label-free shift", "errors after", "errors after (label-free)", "class errors after",
            "class errors after (label-free)"]
    names = {"shift": "shift (validation labels)", "errors after": "errors (validation labels)",
             "class errors after": "class errors (validation labels)", "label-free shift": "shift (no labels)",
             "errors after (label-free)": "errors (no labels)", "class errors after (label-free)": "class errors (no labels)"}
    return pd.DataFrame({names[c]: [f"{m:+.2f} ± {sd:.2f}" if "shift" in c else f"{m:.1f} ± {sd:.1f}"
                                    for m, sd in zip(summ[c], summ[c + "_std"])] for c in cols}, index=summ.index)


def confusion_figure(result: StoredResult, model: str = "distilled") -> Figure:
    """The test confusion matrix (rows: true class, share of its images) of ``model``'s first seed,
    before and after the shift chosen on validation."""
    row = next(r for r in result.value["rows"] if r["model"] == model)
    names = result.value["class_names"]
    fig, axes = plots.figure(ncols=2, width=10.5, height=4.6)
    for ax, key, title in zip(axes, ("confusion_before", "confusion_after"),
                              ("before the shift", f"after the shift ({row['chosen_shift']:+g})")):
        m = np.asarray(row[key], dtype=float)
        share = m / m.sum(1, keepdims=True).clip(min=1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        ax.grid(False)
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        for i in range(len(names)):
            for j in range(len(names)):
                if share[i, j] >= 0.05:
                    ax.text(j, i, f"{100 * share[i, j]:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if share[i, j] > 0.5 else "black")
        ax.set(xlabel="predicted class", ylabel="true class", title=f"{model}, seed {row['seed']}: {title}")
    return fig


def two_class_display_table(result: StoredResult) -> pd.DataFrame:
    """The two-class summary ready to show: the chosen shift and the test error (%) before and after it."""
    summ = summary(result)
    n = result.value["test_size"]
    return pd.DataFrame({"shift": [f"{m:+.2f} ± {sd:.2f}" for m, sd in zip(summ["shift"], summ["shift_std"])],
                         "test error before (%)": (100 * summ["errors before"] / n).map("{:.1f}".format),
                         "test error after (%)": (100 * summ["errors after"] / n).map("{:.1f}".format)},
                        index=summ.index)


def class_names(result: StoredResult) -> list[str]:
    """The names of the shifted classes (the omitted one, or the two kept ones)."""
    return [result.value["class_names"][c] for c in result.value["classes"]]


def ours_vs_paper_omitted(result: StoredResult) -> pd.DataFrame:
    """The omitted-class numbers of the paper beside ours (mean over seeds)."""
    m = summary(result).loc["distilled"]
    p = PAPER["omitted"]
    rows = [
        ("test errors, no shift", f"{p['errors']} / {p['test_size']:,}",
         f"{m['errors before']:.0f} / {result.value['test_size']:,}"),
        ("errors on the omitted class, no shift", f"{p['class_errors']} of {p['class_count']:,} threes",
         f"{m['class errors before']:.0f} of {m['class count']:,.0f} ({class_names(result)[0]})"),
        ("bias shift", f"+{p['shift']} (chosen on test)", f"+{m['shift']:.2f} (chosen on validation)"),
        ("test errors after the shift", f"{p['errors_after']}", f"{m['errors after']:.0f}"),
        ("errors on the omitted class after the shift", f"{p['class_errors_after']}", f"{m['class errors after']:.0f}"),
    ]
    return pd.DataFrame(rows, columns=["quantity", "paper (MNIST, no 3s)", "ours (mean over seeds)"])


def ours_vs_paper_two(result: StoredResult) -> pd.DataFrame:
    """The two-class transfer set's numbers of the paper beside ours (mean over seeds)."""
    m = summary(result).loc["distilled"]
    n = result.value["test_size"]
    p = PAPER["two_classes"]
    rows = [
        ("test error, no shift", f"{p['error']}%", f"{100 * m['errors before'] / n:.1f}%"),
        ("bias shift of the two classes", f"{p['shift']} (chosen on test)", f"{m['shift']:.2f} (chosen on validation)"),
        ("test error after the shift", f"{p['error_after']}%", f"{100 * m['errors after'] / n:.1f}%"),
    ]
    return pd.DataFrame(rows, columns=["quantity", "paper (only 7s and 8s)", f"ours (only {join_words(class_names(result))})"])


# ------------------------------------------------------------------------------ figures
def omitted_figure(result: StoredResult) -> Figure:
    """Test errors on the omitted class and on all classes against the shift, distilled vs labels only."""
    summ = summary(result)
    name = class_names(result)[0]
    fig, axes = plots.figure(ncols=2, width=9, height=3.3)
    for i, model in enumerate(["distilled", "labels only"]):
        for ax, key in zip(axes, ("focus_errors", "errors")):
            x, mean, sd = test_curve(result, model, key)
            ax.plot(x, mean, color=plots.PALETTE[i], label=model)
            ax.fill_between(x, mean - sd, mean + sd, color=plots.PALETTE[i], alpha=0.2)
    for ax in axes:
        ax.axvline(summ.loc["distilled", "shift"], ls="--", color="grey", lw=1, label="chosen on validation")
        ax.set_xlabel(f"shift of the {name} bias")
    axes[0].set(ylabel=f"test errors on {name} (of {summ.loc['distilled', 'class count']:.0f})",
                title="the omitted class")
    axes[1].set(ylabel=f"test errors (of {result.value['test_size']:,})", title="all classes")
    axes[0].legend(fontsize=8)
    return fig


def two_class_figure(result: StoredResult) -> Figure:
    """The two-class student's test error (%) against the shift of both biases."""
    n = result.value["test_size"]
    fig, (ax,) = plots.figure(width=5.5, height=3.2)
    x, mean, sd = test_curve(result, "distilled", "errors")
    ax.plot(x, 100 * mean / n, color=plots.PALETTE[0], label="distilled, test")
    ax.fill_between(x, 100 * (mean - sd) / n, 100 * (mean + sd) / n, color=plots.PALETTE[0], alpha=0.2)
    ax.axvline(summary(result).loc["distilled", "shift"], ls="--", color="grey", lw=1, label="chosen on validation")
    ax.set(xlabel="shift of both biases", ylabel="test error (%)",
           title=f"transfer set: {join_words(class_names(result))} only")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------------------ the page
def glue_values(results: Results, *, width: int, T: float) -> dict[str, float | str]:
    """Every number and sentence the page glues (``ch03_...``); ``width`` and ``T`` are the student's
    settings, the claims' outcome sentences are ``ch03_claim_<name>``."""
    om, two = results["omitted"], results["two-classes"]
    summ, summ2 = summary(om), summary(two)
    d, d2, d_teacher = summ.loc["distilled"], summ2.loc["distilled"], summ.loc["teacher"]
    n = two.value["test_size"]
    outcomes = {c.id.split(".", 1)[1]: c.evaluate(results).sentence() for c in CLAIMS}
    return {
        "ch03_width": width, "ch03_T": T, "ch03_class_name": class_names(om)[0],
        "ch03_class_count": d["class count"], "ch03_seeds": plural(n_seeds(om), "seed"),
        "ch03_om_before": d["errors before"], "ch03_om_after": d["errors after"],
        "ch03_om_class_before": d["class errors before"], "ch03_om_class_after": d["class errors after"],
        "ch03_om_shift": d["shift"], "ch03_om_shift_std": d["shift_std"], "ch03_om_oracle": oracle_shift(om),
        "ch03_labels_class_before": summ.loc["labels only", "class errors before"],
        "ch03_labels_class_after": summ.loc["labels only", "class errors after"],
        "ch03_labels_shift": summ.loc["labels only", "shift"],
        "ch03_labels_recovered": f"{100 * (1 - summ.loc['labels only', 'class errors after'] / d['class count']):.0f}%",
        "ch03_right_before": f"{100 * (1 - d['class errors before'] / d['class count']):.0f}%",
        "ch03_om_free_shift": f"{d['label-free shift']:+.2f}",
        "ch03_om_free_class_after": f"{d['class errors after (label-free)']:.0f}",
        "ch03_om_free_after": f"{d['errors after (label-free)']:.0f}",
        "ch03_two_free_shift": f"{d2['label-free shift']:+.2f}",
        "ch03_two_free_after": f"{100 * d2['errors after (label-free)'] / n:.1f}",
        "ch03_two_epochs": two.value.get("student_epochs", ""), "ch03_om_epochs": om.value.get("student_epochs", ""),
        "ch03_transfer_size": om.value["rows"][0]["transfer_size"],
        "ch03_two_names": join_words(class_names(two)),
        "ch03_two_before": 100 * d2["errors before"] / n, "ch03_two_after": 100 * d2["errors after"] / n,
        "ch03_two_shift": d2["shift"], "ch03_two_oracle": oracle_shift(two),
        "ch03_two_transfer": two.value["rows"][0]["transfer_size"],
        "ch03_teacher_errors": d_teacher["errors before"],
        "ch03_om_excess_removed": excess_removed(om, "class errors"),
        "ch03_two_excess_removed": excess_removed(two, "errors"),
        **{f"ch03_claim_{name}": sentence for name, sentence in outcomes.items()},
    }


# ------------------------------------------------------------------------------ claims
Verdict = tuple[bool, dict[str, float]]


def _per_seed(result: StoredResult) -> pd.DataFrame:
    """:func:`before_after` with one row per seed and (column, model) columns."""
    return before_after(result).pivot(index="seed", columns="model")


def excess_shares(result: StoredResult, column: str) -> np.ndarray:
    """Per seed, the share of the distilled student's excess ``column`` over the teacher (both before
    any shift) that the chosen shift removes (nan where the student has no excess)."""
    p = _per_seed(result)
    before, after = p[(f"{column} before", "distilled")], p[(f"{column} after", "distilled")]
    excess = before - p[(f"{column} before", "teacher")]
    return ((before - after) / excess.where(excess > 0)).to_numpy(dtype=float)


def excess_removed(result: StoredResult, column: str) -> float:
    """Mean over seeds of :func:`excess_shares`."""
    return float(np.nanmean(excess_shares(result, column)))


def _mean_and_std(values: np.ndarray) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _fewer(result_key: str, a: tuple[str, str], b: tuple[str, str]) -> Callable[[Results], Verdict]:
    """(model, column) ``a`` has clearly fewer errors than ``b`` in part ``result_key``, by the cautious rule."""
    def predicate(results: Results) -> Verdict:
        s = summary(results[result_key])
        (ma, ca), (mb, cb) = a, b
        holds = clearly_greater(s.loc[mb, cb], s.loc[mb, cb + "_std"], s.loc[ma, ca], s.loc[ma, ca + "_std"])
        return holds, {f"{ma} {ca}": s.loc[ma, ca], f"{ma} {ca} std": s.loc[ma, ca + "_std"],
                       f"{mb} {cb}": s.loc[mb, cb], f"{mb} {cb} std": s.loc[mb, cb + "_std"]}
    return predicate


def _recognises_omitted_class(results: Results) -> Verdict:
    s = summary(results["omitted"]).loc["distilled"]
    share_right = 1 - s["class errors before"] / s["class count"]
    return bool(share_right > MOST), {"share_right_before_shift": share_right,
                                      "paper": 1 - PAPER["omitted"]["class_errors"] / PAPER["omitted"]["class_count"]}


def _knowledge_from_soft_targets(results: Results) -> Verdict:
    before, numbers_before = _fewer("omitted", ("distilled", "class errors before"),
                                    ("labels only", "class errors before"))(results)
    after, numbers_after = _fewer("omitted", ("distilled", "class errors after"),
                                  ("labels only", "class errors after"))(results)
    return before and after, {**numbers_before, **numbers_after}


def _shift_removes_most_excess(part: str, column: str) -> Callable[[Results], Verdict]:
    def predicate(results: Results) -> Verdict:
        mean, std = _mean_and_std(excess_shares(results[part], column))
        return bool(np.isfinite(mean)) and clearly_greater(mean, std, MOST, 0.0), {"share_removed": mean,
                                                                                   "share_std": std}
    return predicate


def _total_falls_then_rises(results: Results) -> Verdict:
    shifts, mean, _ = test_curve(results["omitted"], "distilled", "errors")
    i = int(np.argmin(mean))
    holds = bool(0 < i < len(mean) - 1 and mean[0] > mean[i] < mean[-1])
    return holds, {"errors_at_no_shift": mean[0], "fewest_errors": mean[i], "at_shift": shifts[i],
                   "errors_at_largest_shift": mean[-1]}


CLAIMS: tuple[Claim, ...] = (
    Claim("ch03.distilled_recognises_omitted_class",
          "Without a single training image of the omitted class, the distilled student classifies most of its "
          "test images correctly, before any bias shift.",
          "Before any bias shift, the distilled student misclassifies at least half of the omitted class's test images.",
          _recognises_omitted_class, source="paper"),
    Claim("ch03.knowledge_comes_from_soft_targets",
          "The distilled student makes clearly fewer errors on the omitted class than the control trained on "
          "the labels of the same transfer set, before and after the bias shift.",
          "The distilled student does not make clearly fewer errors on the omitted class than the labels-only "
          "control, before and after the bias shift.",
          _knowledge_from_soft_targets),
    Claim("ch03.shift_cuts_omitted_class_errors",
          "Raising the omitted class's bias by the shift chosen on validation clearly cuts the errors on that class.",
          "Raising the omitted class's bias by the shift chosen on validation does not clearly cut the errors on "
          "that class.",
          _fewer("omitted", ("distilled", "class errors after"), ("distilled", "class errors before")), source="paper"),
    Claim("ch03.shift_cuts_total_errors",
          "The same shift clearly cuts the student's test errors over all classes.",
          "The same shift does not clearly cut the student's test errors over all classes.",
          _fewer("omitted", ("distilled", "errors after"), ("distilled", "errors before")), source="paper"),
    Claim("ch03.shift_removes_most_excess_class_errors",
          "The shift removes most (clearly more than half) of the distilled student's excess errors on the omitted "
          "class over the teacher's.",
          "The shift does not clearly remove more than half of the distilled student's excess errors on the omitted "
          "class over the teacher's.",
          _shift_removes_most_excess("omitted", "class errors")),
    Claim("ch03.total_errors_fall_then_rise",
          "As the omitted class's bias rises, the student's total test errors first fall and then rise again.",
          "As the omitted class's bias rises, the student's total test errors do not first fall and then rise.",
          _total_falls_then_rises),
    Claim("ch03.label_free_shift_cuts_class_errors",
          "A shift chosen without any label (the omitted class's predicted share of unlabelled images set to its "
          "prior) also clearly cuts the errors on the omitted class.",
          "A shift chosen without any label does not clearly cut the errors on the omitted class.",
          _fewer("omitted", ("distilled", "class errors after (label-free)"), ("distilled", "class errors before"))),
    Claim("ch03.labels_only_recovers_some_after_shift",
          "Even the control trained on labels alone, which never saw the class, gets clearly fewer of its images wrong "
          "after its own validation-chosen shift.",
          "The labels-only control does not get clearly fewer of the omitted class's images wrong after its shift.",
          _fewer("omitted", ("labels only", "class errors after"), ("labels only", "class errors before"))),
    Claim("ch03.two_class_shift_cuts_errors",
          "Lowering the biases of the two present classes clearly cuts the two-class student's test errors.",
          "Lowering the biases of the two present classes does not clearly cut the two-class student's test errors.",
          _fewer("two-classes", ("distilled", "errors after"), ("distilled", "errors before")), source="paper"),
    Claim("ch03.two_class_shift_removes_most_excess",
          f"Lowering the two biases removes most (clearly more than half) of the two-class student's excess test "
          f"errors over the teacher, as in the paper ({_PAPER_TWO}).",
          f"Lowering the two biases does not clearly remove more than half of the two-class student's excess test "
          f"errors over the teacher, unlike in the paper ({_PAPER_TWO}).",
          _shift_removes_most_excess("two-classes", "errors"), source="paper"),
)
