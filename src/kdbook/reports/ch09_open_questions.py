"""Chapter 9's reading: the three open questions' tables, conclusions and claims, from the stored
result of ``kdbook.experiments.ch09_open_questions.run``.

The stored value has three lists of rows: ``few_classes`` (per class subset and seed: the teacher's,
the label-trained and the distilled student's test accuracy), ``trees`` (per tree teacher, seed and
temperature: the student's validation and test accuracy and the tree model's; teacher "labels" is
the same network trained on labels) and ``hints`` (per seed, student width and variant).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..claims import Claim, Outcome, Results
from ..store import StoredResult
from .common import clearly_greater, compare, plural

#: The tree teachers and the short names their glued values use.
TREE_KEYS = {"random forest": "rf", "gradient boosting": "gb"}
#: Above this test accuracy, the label-trained student leaves almost no room for a gain.
NO_ROOM_ACCURACY = 0.99
#: "Within a few points": how close to the label-trained network a tree student must come.
NEAR_POINTS = 5.0


def _value(results: Results) -> dict:
    return results["open_questions"].value


def _mean_std(df: pd.DataFrame, by, col: str) -> pd.DataFrame:
    g = df.groupby(by, sort=True)[col]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1).fillna(0.0), "n": g.size()})


def seed_count(result: StoredResult) -> int:
    """How many seeds the stored result holds."""
    return len({row["seed"] for row in result.value["few_classes"]})


# ----------------------------------------------------------------------------- 1. few classes
def few_classes_table(result: StoredResult) -> pd.DataFrame:
    """Per number of classes: accuracies and the distillation gain (mean, std over subsets x seeds)."""
    df = pd.DataFrame(result.value["few_classes"])
    df["gain"] = df["distilled"] - df["labels"]
    out = _mean_std(df, "count", "gain").add_prefix("gain_")
    for col in ("teacher", "labels", "distilled"):
        out[col] = df.groupby("count")[col].mean()
    return out


def gain_trend(result: StoredResult) -> float:
    """Slope of the distillation gain against log2(number of classes), fitted over all runs."""
    df = pd.DataFrame(result.value["few_classes"])
    return float(np.polyfit(np.log2(df["count"]), df["distilled"] - df["labels"], 1)[0])


def few_classes_curves(result: StoredResult) -> pd.DataFrame:
    """Per number of classes, in accuracy points: the gain with its std and the three accuracies."""
    t = few_classes_table(result)
    return pd.DataFrame({"gain": 100 * t["gain_mean"], "gain_std": 100 * t["gain_std"],
                         "teacher": 100 * t["teacher"], "student, labels": 100 * t["labels"],
                         "student, distilled": 100 * t["distilled"]}, index=t.index)


# ----------------------------------------------------------------------------- 2. trees
def trees_table(result: StoredResult) -> pd.DataFrame:
    """Per teacher and temperature: the student's test accuracy (mean, std over seeds) and the teacher's."""
    df = pd.DataFrame(result.value["trees"])
    out = _mean_std(df, ["teacher", "T"], "student_test")
    out["student_val"] = df.groupby(["teacher", "T"])["student_val"].mean()
    out["teacher_test"] = df.groupby(["teacher", "T"])["teacher_test"].mean()
    out["teacher_test_std"] = df.groupby(["teacher", "T"])["teacher_test"].std(ddof=1).fillna(0.0)
    return out


def trees_display_table(result: StoredResult) -> pd.DataFrame:
    """The tree students for the page: test accuracy (mean, std, runs), validation accuracy, the tree
    model's; temperatures written as on the page ('1', '2', '4'; '-' for the network on labels)."""
    table = trees_table(result)[["mean", "std", "n", "student_val", "teacher_test"]]
    temperatures = [f"{T:g}" if name != "labels" else "-" for name, T in table.index]
    return table.set_axis(pd.MultiIndex.from_arrays([table.index.get_level_values(0), temperatures],
                                                    names=["teacher", "T"]))


def tree_teachers(result: StoredResult) -> list[str]:
    """The tree models the stored result distilled (not 'labels')."""
    return [t for t in trees_table(result).index.get_level_values(0).unique() if t != "labels"]


def best_temperature(result: StoredResult, teacher: str) -> float:
    """The temperature with the best mean *validation* accuracy for students of ``teacher``."""
    t = trees_table(result).loc[teacher]
    return float(t["student_val"].idxmax())


def tree_students(result: StoredResult) -> pd.DataFrame:
    """One row per tree teacher: the validation-chosen T and that student's test accuracy (mean, std),
    the tree model's own test accuracy, and the label-trained network's accuracy beside them."""
    trees = trees_table(result)
    labels = trees.loc[("labels", 0.0)]
    rows = []
    for name in tree_teachers(result):
        T = best_temperature(result, name)
        row = trees.loc[(name, T)]
        rows.append({"teacher": name, "T": T, "student": row["mean"], "student_std": row["std"],
                     "model": row["teacher_test"], "model_std": row["teacher_test_std"],
                     "labels": labels["mean"], "labels_std": labels["std"],
                     "T1": trees.loc[(name, 1.0), "mean"] if (name, 1.0) in trees.index else float("nan"),
                     "T1_std": trees.loc[(name, 1.0), "std"] if (name, 1.0) in trees.index else float("nan")})
    return pd.DataFrame(rows).set_index("teacher")


def tree_bars(result: StoredResult) -> pd.DataFrame:
    """The bars of the trees figure, in %: the network on labels, each tree student, each tree model."""
    st = tree_students(result)
    labels = st["labels"].iloc[0] if len(st) else trees_table(result).loc[("labels", 0.0), "mean"]
    labels_std = st["labels_std"].iloc[0] if len(st) else trees_table(result).loc[("labels", 0.0), "std"]
    rows = [("MLP on labels", labels, labels_std)]
    rows += [(f"MLP from {n} (T={r['T']:g})", r["student"], r["student_std"]) for n, r in st.iterrows()]
    rows += [(n, r["model"], r["model_std"]) for n, r in st.iterrows()]
    bars = pd.DataFrame(rows, columns=["bar", "accuracy", "std"]).set_index("bar")
    return 100 * bars


# ----------------------------------------------------------------------------- 3. hints
def hints_table(result: StoredResult) -> pd.DataFrame:
    """Per student width and variant: test accuracy (mean, std over seeds)."""
    df = pd.DataFrame(result.value["hints"])
    return _mean_std(df, ["width", "variant"], "test")


def hint_widths(result: StoredResult) -> list[int]:
    """The student widths of the hint experiment, smallest first."""
    return sorted(int(w) for w in hints_table(result).index.get_level_values(0).unique())


def hint_variants(result: StoredResult) -> list[str]:
    """The ways each hint student was trained, in the order the experiment ran them."""
    return list(dict.fromkeys(row["variant"] for row in result.value["hints"]))


def hint_panels(result: StoredResult) -> dict[str, pd.DataFrame]:
    """Per panel title ('student width 16'): each variant's test accuracy in % (mean, std)."""
    hints = hints_table(result)
    return {f"student width {w}": 100 * hints.loc[w].reindex(hint_variants(result))[["mean", "std"]]
            for w in hint_widths(result)}


def hint_comparisons(result: StoredResult) -> pd.DataFrame:
    """Per width: outputs + hint against outputs alone, and hint + labels against labels alone."""
    hints = hints_table(result)
    rows = []
    for w in hint_widths(result):
        t = hints.loc[w]
        rows.append({"width": w, "both": t.loc["outputs + hint", "mean"], "both_std": t.loc["outputs + hint", "std"],
                     "outputs": t.loc["outputs", "mean"], "outputs_std": t.loc["outputs", "std"],
                     "hint_only": t.loc["hint", "mean"], "hint_only_std": t.loc["hint", "std"],
                     "labels": t.loc["labels", "mean"], "labels_std": t.loc["labels", "std"]})
    out = pd.DataFrame(rows).set_index("width")
    out["verdict"] = [compare(r.both, r.both_std, r.outputs, r.outputs_std) for r in out.itertuples()]
    out["hint_verdict"] = [compare(r.hint_only, r.hint_only_std, r.labels, r.labels_std) for r in out.itertuples()]
    return out


# ----------------------------------------------------------------------------- claims
def _result(results: Results) -> StoredResult:
    return results["open_questions"]


def _gain_grows_with_classes(results: Results) -> tuple[bool, dict[str, float]]:
    t = few_classes_table(_result(results))
    lo, hi = t.index.min(), t.index.max()
    holds = clearly_greater(t.loc[hi, "gain_mean"], t.loc[hi, "gain_std"], t.loc[lo, "gain_mean"], t.loc[lo, "gain_std"])
    return holds, {"fewest_classes": lo, "gain_fewest": t.loc[lo, "gain_mean"], "gain_fewest_std": t.loc[lo, "gain_std"],
                   "most_classes": hi, "gain_most": t.loc[hi, "gain_mean"], "gain_most_std": t.loc[hi, "gain_std"]}


def _helps_at_some_class_count(results: Results) -> tuple[bool, dict[str, float]]:
    t = few_classes_table(_result(results))
    helped = [c for c, row in t.iterrows() if clearly_greater(row["gain_mean"], row["gain_std"], 0.0, 0.0)]
    return bool(helped), {"class_counts_tried": len(t), "class_counts_where_it_helps": len(helped),
                          "largest_gain": t["gain_mean"].max()}


def _hurts_with_all_classes(results: Results) -> tuple[bool, dict[str, float]]:
    t = few_classes_table(_result(results))
    hi = t.index.max()
    return clearly_greater(0.0, 0.0, t.loc[hi, "gain_mean"], t.loc[hi, "gain_std"]), {
        "classes": hi, "gain": t.loc[hi, "gain_mean"], "gain_std": t.loc[hi, "gain_std"]}


def _fewest_classes_leave_no_room(results: Results) -> tuple[bool, dict[str, float]]:
    t = few_classes_table(_result(results))
    lo = t.index.min()
    return bool(t.loc[lo, "labels"] > NO_ROOM_ACCURACY), {"classes": lo, "labels_accuracy": t.loc[lo, "labels"],
                                                           "teacher_accuracy": t.loc[lo, "teacher"]}


def _tree_students_near_labels(results: Results) -> tuple[bool, dict[str, float]]:
    st = tree_students(_result(results))
    gaps = {f"{TREE_KEYS.get(n, n)}_labels_minus_student_points": 100 * (r["labels"] - r["student"])
            for n, r in st.iterrows()}
    return bool(gaps) and max(gaps.values()) < NEAR_POINTS, gaps


def _tree_student(results: Results, teacher: str) -> pd.Series:
    return tree_students(_result(results)).loc[teacher]


def _tree_beats_labels(teacher: str):
    def predicate(results: Results) -> tuple[bool, dict[str, float]]:
        r = _tree_student(results, teacher)
        return clearly_greater(r["student"], r["student_std"], r["labels"], r["labels_std"]), {
            "T": r["T"], "student": r["student"], "student_std": r["student_std"],
            "labels": r["labels"], "labels_std": r["labels_std"]}
    return predicate


def _tree_students_reach_their_models(results: Results) -> tuple[bool, dict[str, float]]:
    st = tree_students(_result(results))
    below = [n for n, r in st.iterrows() if compare(r["student"], r["student_std"], r["model"], r["model_std"]) == "lower than"]
    numbers = {f"{TREE_KEYS.get(n, n)}_student_minus_model_points": 100 * (r["student"] - r["model"]) for n, r in st.iterrows()}
    return not below, {**numbers, "students_below_their_model": len(below)}


def _temperature_helps_trees(results: Results) -> tuple[bool, dict[str, float]]:
    st = tree_students(_result(results))
    helped = [n for n, r in st.iterrows()
              if r["T"] > 1.0 and clearly_greater(r["student"], r["student_std"], r["T1"], r["T1_std"])]
    numbers = {f"{TREE_KEYS.get(n, n)}_chosen_T": r["T"] for n, r in st.iterrows()}
    numbers.update({f"{TREE_KEYS.get(n, n)}_gain_over_T1_points": 100 * (r["student"] - r["T1"]) for n, r in st.iterrows()})
    return bool(helped), numbers


def _hint_adds(column: str, reference: str):
    def predicate(results: Results) -> tuple[bool, dict[str, float]]:
        cmp = hint_comparisons(_result(results))
        wins = [w for w, r in cmp.iterrows()
                if clearly_greater(r[column], r[column + "_std"], r[reference], r[reference + "_std"])]
        numbers = {f"width_{w}_difference_points": 100 * (r[column] - r[reference]) for w, r in cmp.iterrows()}
        return bool(wins), {**numbers, "widths_where_it_helps": len(wins)}
    return predicate


CLAIMS: tuple[Claim, ...] = (
    Claim("ch09.gain_grows_with_classes",
          "The gain from distillation is larger with the most classes than with the fewest.",
          "The gain from distillation is not larger with the most classes than with the fewest.",
          _gain_grows_with_classes),
    Claim("ch09.distillation_helps_at_some_class_count",
          "Distillation beats labels for at least one number of classes.",
          "Distillation does not beat labels for any number of classes tried.",
          _helps_at_some_class_count),
    Claim("ch09.distillation_hurts_with_all_classes",
          "With all the classes, the distilled student is less accurate than the one trained on labels.",
          "With all the classes, the distilled student is not clearly less accurate than the one trained on labels.",
          _hurts_with_all_classes),
    Claim("ch09.fewest_classes_leave_no_room",
          f"With the fewest classes the student trained on labels is above {100 * NO_ROOM_ACCURACY:g}% test accuracy: "
          "there is almost no room for a gain.",
          f"With the fewest classes the student trained on labels is at or below {100 * NO_ROOM_ACCURACY:g}% test "
          "accuracy: there is room for a gain.",
          _fewest_classes_leave_no_room),
    Claim("ch09.tree_students_near_labels",
          f"At the validation-chosen temperature every tree student comes within {NEAR_POINTS:g} accuracy points "
          "of the same network trained on labels.",
          f"At the validation-chosen temperature some tree student ends {NEAR_POINTS:g} or more accuracy points "
          "below the same network trained on labels.",
          _tree_students_near_labels),
    Claim("ch09.forest_student_beats_labels",
          "The student distilled from the random forest beats the same network trained on labels.",
          "The student distilled from the random forest does not beat the same network trained on labels.",
          _tree_beats_labels("random forest")),
    Claim("ch09.boosting_student_beats_labels",
          "The student distilled from gradient boosting beats the same network trained on labels.",
          "The student distilled from gradient boosting does not beat the same network trained on labels.",
          _tree_beats_labels("gradient boosting")),
    Claim("ch09.tree_students_reach_their_models",
          "No tree student is less accurate than the tree model it learned from.",
          "At least one tree student is less accurate than the tree model it learned from.",
          _tree_students_reach_their_models),
    Claim("ch09.temperature_helps_tree_students",
          "For at least one tree model, a validation-chosen temperature above 1 beats T = 1.",
          "For no tree model does a validation-chosen temperature above 1 beat T = 1.",
          _temperature_helps_trees),
    Claim("ch09.hint_adds_to_outputs",
          "At some student width, outputs + hint beat the outputs alone.",
          "At no student width do outputs + hint beat the outputs alone.",
          _hint_adds("both", "outputs")),
    Claim("ch09.hint_adds_to_labels",
          "At some student width, labels + hint beat the labels alone.",
          "At no student width do labels + hint beat the labels alone.",
          _hint_adds("hint_only", "labels")),
)


def outcomes(results: Results) -> dict[str, Outcome]:
    """Every claim's outcome on ``results``, by id."""
    return {c.id: c.evaluate(results) for c in CLAIMS}


def _sentences(results: Results, ids: tuple[str, ...]) -> str:
    found = outcomes(results)
    return " ".join(found[i].sentence() for i in ids)


# ----------------------------------------------------------------------------- sentences
def few_classes_conclusion(results: Results) -> str:
    """Whether distillation helped at any number of classes, hurt with all of them, and grew with them."""
    return _sentences(results, ("ch09.distillation_helps_at_some_class_count",
                                "ch09.distillation_hurts_with_all_classes", "ch09.gain_grows_with_classes"))


def trees_conclusion(results: Results) -> str:
    """How the tree students compare with labels, with their tree models and across temperatures."""
    return _sentences(results, ("ch09.forest_student_beats_labels", "ch09.boosting_student_beats_labels",
                                "ch09.tree_students_reach_their_models", "ch09.temperature_helps_tree_students"))


def hints_conclusion(results: Results) -> str:
    """Whether the hint added to the outputs or to the labels at any width."""
    return _sentences(results, ("ch09.hint_adds_to_outputs", "ch09.hint_adds_to_labels"))


def _tree_answer(result: StoredResult) -> str:
    st = tree_students(result)
    parts = [f"student from {n} (T={r['T']:g}): {100 * r['student']:.1f}%" for n, r in st.iterrows()]
    labels = trees_table(result).loc[("labels", 0.0), "mean"]
    return "; ".join(parts + [f"on labels: {100 * labels:.1f}%"])


def _hint_answer(result: StoredResult) -> str:
    cmp = hint_comparisons(result)
    return "; ".join(f"width {w}: outputs + hint {r['verdict']} outputs alone" for w, r in cmp.iterrows())


def answers_table(results: Results) -> pd.DataFrame:
    """The three questions with this book's answers."""
    result = _result(results)
    return pd.DataFrame([
        ("Does distillation help less with fewer classes?",
         few_classes_conclusion(results)),
        ("Can a random forest or boosting be distilled with a temperature?", _tree_answer(result)),
        ("Does a hint help beyond outputs?", _hint_answer(result)),
    ], columns=["question", f"our answer ({plural(seed_count(result), 'seed')})"])


# ----------------------------------------------------------------------------- glue
def _widths_words(widths) -> str:
    return "x".join(map(str, widths))


def setting_values(*, T: float, alpha: float, student_widths, teacher_widths, subsets: int) -> dict[str, object]:
    """The settings the page's prose names, under their ``ch09_`` names (passed from ``ch09.settings``)."""
    return {"ch09_T": T, "ch09_alpha": alpha, "ch09_student": _widths_words(student_widths),
            "ch09_teacher": _widths_words(teacher_widths), "ch09_subsets": subsets}


def few_classes_values(results: Results) -> dict[str, object]:
    """Question 1's glued numbers and conclusion."""
    result = _result(results)
    few = few_classes_table(result)
    lo, hi = few.iloc[0], few.iloc[-1]
    return {"ch09_gain_lo": 100 * lo["gain_mean"], "ch09_gain_lo_std": 100 * lo["gain_std"],
            "ch09_gain_hi": 100 * hi["gain_mean"], "ch09_gain_hi_std": 100 * hi["gain_std"],
            "ch09_count_lo": int(few.index[0]), "ch09_count_hi": int(few.index[-1]),
            "ch09_teacher_lo": 100 * lo["teacher"], "ch09_labels_lo": 100 * lo["labels"],
            "ch09_slope": 100 * gain_trend(result),
            "ch09_few_classes_conclusion": few_classes_conclusion(results),
            "ch09_helps_sentence": outcomes(results)["ch09.distillation_helps_at_some_class_count"].sentence()}


def trees_values(results: Results) -> dict[str, object]:
    """Question 2's glued numbers, comparison words and conclusion."""
    result = _result(results)
    out: dict[str, object] = {"ch09_labels_acc": 100 * trees_table(result).loc[("labels", 0.0), "mean"],
                              "ch09_trees_conclusion": trees_conclusion(results)}
    for name, r in tree_students(result).iterrows():
        key = TREE_KEYS.get(name, name)
        out.update({f"ch09_{key}_T": r["T"], f"ch09_{key}_student": 100 * r["student"],
                    f"ch09_{key}_model": 100 * r["model"],
                    f"ch09_{key}_vs_labels": compare(r["student"], r["student_std"], r["labels"], r["labels_std"]),
                    f"ch09_{key}_vs_model": compare(r["student"], r["student_std"], r["model"], r["model_std"])})
    return out


def hints_values(results: Results) -> dict[str, object]:
    """Question 3's glued numbers for the smallest and the largest width, and the conclusion."""
    cmp = hint_comparisons(_result(results))
    out: dict[str, object] = {"ch09_hints_conclusion": hints_conclusion(results),
                              "ch09_hint_widths": plural(len(cmp), "width")}
    for size, w in (("small", cmp.index[0]), ("large", cmp.index[-1])):
        r = cmp.loc[w]
        out.update({f"ch09_width_{size}": int(w), f"ch09_both_{size}": 100 * r["both"],
                    f"ch09_outputs_{size}": 100 * r["outputs"], f"ch09_hint_only_{size}": 100 * r["hint_only"],
                    f"ch09_labels_{size}": 100 * r["labels"], f"ch09_verdict_{size}": r["verdict"],
                    f"ch09_hint_verdict_{size}": r["hint_verdict"]})
    return out


def glue_values(results: Results) -> dict[str, object]:
    """Every number and sentence the page glues that comes from the stored results."""
    return {"ch09_n_seeds": seed_count(_result(results)), "ch09_seeds": plural(seed_count(_result(results)), "seed"),
            **few_classes_values(results), **trees_values(results), **hints_values(results)}


# ------------------------------------------------------------------------------ figures
def few_classes_figure(result: StoredResult):
    """Left: distilled minus label-trained accuracy against the number of classes (with its spread);
    right: the teacher's and both students' test accuracy."""
    from .. import plots

    few = few_classes_curves(result)
    fig, axes = plots.figure(ncols=2)
    plots.lines(few.index.to_numpy(), {"gain": few["gain"]}, spread={"gain": few["gain_std"]},
                xlabel="number of classes", ylabel="distilled − labels (accuracy points)", ax=axes[0])
    axes[0].axhline(0, color="grey", lw=1, ls="--")
    plots.lines(few.index.to_numpy(), {name: few[name] for name in ("teacher", "student, labels", "student, distilled")},
                xlabel="number of classes", ylabel="test accuracy (%)", ax=axes[1])
    return fig


def trees_figure(result: StoredResult):
    """Test accuracy of the tree teachers and of their students, with spreads over seeds."""
    from .. import plots

    bars = tree_bars(result)
    fig, axes = plots.figure()
    plots.bars(bars.index, bars["accuracy"], errors=bars["std"], ylabel="test accuracy (%)", ax=axes[0])
    axes[0].set_ylim(bars["accuracy"].min() - 5, bars["accuracy"].max() + 2)
    axes[0].tick_params(axis="x", rotation=20)
    return fig


def hints_figure(result: StoredResult):
    """One panel per comparison of the hint study: test accuracy with spreads over seeds."""
    from .. import plots

    panels = hint_panels(result)
    fig, axes = plots.figure(ncols=len(panels))
    for ax, (title, panel) in zip(axes, panels.items()):
        plots.bars(panel.index, panel["mean"], errors=panel["std"], ylabel="test accuracy (%)", title=title, ax=ax)
        ax.set_ylim(panel["mean"].min() - 3, panel["mean"].max() + 1.5)
        ax.tick_params(axis="x", rotation=25)
    return fig
