"""Chapter 9's reading: the four open questions' tables, figures, sentences and claims, from the
stored results of ``kdbook.experiments.ch09_open_questions.run``.

* ``classes``: per class subset and seed, the teacher's and both students' accuracies (rows), the
  teachers' reports, the subsets the sampling rule picked (with their validation confusion) and the
  tuning grids;
* ``transfer``: per seed, the students of the unlabelled-transfer study (rows), both teachers'
  reports, the tuning grids and validation curves;
* ``trees``: per seed, the network on labels and the students of each tree model (rows), the tree
  models' reports and the tuning grids;
* ``hints``: per student width, variant and seed, validation and test accuracy, and the grids.

Every comparison is paired over seeds (:func:`kdbook.reports.common.paired_relation`): the mean
of the per-seed differences counts only when it exceeds their standard deviation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..claims import Claim, Outcome, Results, evaluate
from ..store import StoredResult
from .common import paired_relation, plural, run_time_sentence

#: The published numbers this chapter sets its own beside (see book/references.bib).
PAPER = {
    # Hinton et al. 2015, speech: frame accuracy with 3% of the training data
    "speech_hard_3pct": 44.5, "speech_soft_3pct": 57.0, "speech_baseline_all": 58.9,
    # Stanton et al. 2021, CIFAR-100: test agreement with the teacher, crop+flip vs mixup transfer set
    "agreement_baseline": 84.5, "agreement_mixup": 86.0,
}
#: "Most of the gap": the share of the way from labels on the few images to labels on all of them.
MOST = 0.5
#: The rank correlation above which a gain "follows the room" the label-trained student leaves.
ROOM_CORRELATION = 0.5

#: The transfer study's students, as the page names them.
STUDENT_NAMES = {
    "labels": "labels, labelled images",
    "distilled, labelled images": "distilled, labelled images only",
    "distilled, + unlabelled images": "distilled, + unlabelled images",
    "labels, all images": "labels, all images",
}
#: The transfer study's teachers, as the page names them.
TEACHER_NAMES = {"all labels": "teacher with all the labels", "same labels": "teacher with the same labels"}
TREE_KEYS = {"random forest": "rf", "gradient boosting": "gb"}


def _part(results: Results, name: str) -> StoredResult:
    return results[name]


def _pm(mean: float, std: float, digits: int = 2) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def paired(differences: Sequence[float]) -> dict[str, Any]:
    """Mean and standard deviation of per-seed differences and the paired verdict ('higher than',
    'lower than', 'indistinguishable from')."""
    mean, std = _mean_std(differences)
    return {"mean": mean, "std": std, "relation": paired_relation(differences), "n": len(differences)}


def seed_count(results: Results) -> int:
    """How many seeds the stored results hold."""
    return len({row["seed"] for row in _part(results, "classes").value["rows"]})


def class_label(names: Sequence[str], classes: Sequence[int]) -> str:
    """The classes of a subset by name: 'T-shirt/top vs Shirt', or 'Pullover, Coat, Shirt'."""
    words = [names[c] for c in classes]
    if len(words) == len(names):
        return f"all {len(words)} classes"
    return " vs ".join(words) if len(words) == 2 else ", ".join(words)


# ----------------------------------------------------------------------------- 1. few classes
def classes_frame(result: StoredResult) -> pd.DataFrame:
    """One row per subset and seed, with the gain (distilled minus labels, test, in points), the
    label-trained student's test error (%) and both students' error counts."""
    df = pd.DataFrame(result.value["rows"])
    df["subset"] = [class_label(result.value["class_names"], c) for c in df["classes"]]
    df["gain"] = 100 * (df["distilled_test"] - df["labels_test"])
    df["label_error"] = 100 * (1 - df["labels_test"])
    df["labels_errors"] = (1 - df["labels_test"]) * df["test_size"]
    df["distilled_errors"] = (1 - df["distilled_test"]) * df["test_size"]
    df["advantage"] = 100 * (df["teacher_val_accuracy"] - df["labels_val"])
    return df


def class_counts(result: StoredResult) -> list[int]:
    """The numbers of classes studied, fewest first."""
    return sorted({int(r["count"]) for r in result.value["rows"]})


def per_seed(result: StoredResult, column: str, *, hard_only: bool = False) -> pd.DataFrame:
    """Per seed (rows) and number of classes (columns): the mean of ``column`` over the subsets
    (the hardest subsets only with ``hard_only``; all the classes count as one subset)."""
    df = classes_frame(result)
    if hard_only:
        df = df[df["hard"] | (df["count"] == df["count"].max())]
    return df.groupby(["seed", "count"])[column].mean().unstack("count")


def relative_gains(result: StoredResult) -> pd.DataFrame:
    """Per seed and number of classes: the share (%) of the label-trained students' test errors that
    distillation removed, pooled over the subsets (negative: it added errors)."""
    df = classes_frame(result)
    g = df.groupby(["seed", "count"])
    return (100 * (g["labels_errors"].sum() - g["distilled_errors"].sum()) / g["labels_errors"].sum().clip(lower=1)
            ).unstack("count")


def count_table(result: StoredResult) -> pd.DataFrame:
    """Per number of classes: how many subsets, the teachers' validation advantage, both students'
    test accuracy, the gain and the share of errors removed (mean ± std over seeds, each seed's value
    a mean over the subsets) with their paired verdicts against zero."""
    df = classes_frame(result)
    gains, relative, adv = per_seed(result, "gain"), relative_gains(result), per_seed(result, "advantage")
    rows = {}
    for c in class_counts(result):
        sub = df[df["count"] == c]
        g, r, a = paired(gains[c]), paired(relative[c]), paired(adv[c])
        rows[c] = {"subsets": sub["subset"].nunique(), "teacher ahead on validation (points)": _pm(a["mean"], a["std"]),
                   "labels, test (%)": 100 * sub["labels_test"].mean(),
                   "distilled, test (%)": 100 * sub["distilled_test"].mean(),
                   "gain (points)": _pm(g["mean"], g["std"]), "distilled vs labels": g["relation"],
                   "errors removed (%)": _pm(r["mean"], r["std"], 1)}
    return pd.DataFrame(rows).T.rename_axis("classes")


def subset_table(result: StoredResult) -> pd.DataFrame:
    """Per subset: its classes, its rank by the validation confusion (1 = hardest), the teacher's
    validation advantage, both students' test accuracy (means over seeds) and the paired gain."""
    df = classes_frame(result)
    rows = []
    for (count, subset), sub in df.groupby(["count", "subset"], sort=False):
        g = paired(sub.sort_values("seed")["gain"].to_numpy())
        first = sub.iloc[0]
        rows.append({"classes": subset, "n": int(count), "rank": f"{int(first['rank']) + 1} of {_ranked(result, first)}",
                     "hardest": bool(first["hard"]), "confusion (%)": 100 * first["confusion"],
                     "teacher ahead (points)": sub["advantage"].mean(), "labels (%)": 100 * sub["labels_test"].mean(),
                     "distilled (%)": 100 * sub["distilled_test"].mean(), "gain (points)": _pm(g["mean"], g["std"]),
                     "verdict": g["relation"]})
    return pd.DataFrame(rows).set_index("classes")


def _ranked(result: StoredResult, row) -> int:
    found = [s["ranked"] for s in result.value["subsets"] if s["classes"] == list(row["classes"])]
    return int(found[0]) if found else 1


def teacher_table(result: StoredResult) -> pd.DataFrame:
    """Per number of classes: the teachers' training, validation and test accuracy (mean ± std over
    subsets and seeds), the label-trained students' validation accuracy, and how many subsets'
    teachers have a clear validation advantage by the cautious rule of their reports."""
    df = classes_frame(result)
    reports = pd.DataFrame(result.value["teacher_reports"])

    def pm(sub: pd.DataFrame, column: str) -> str:
        return _pm(*_mean_std(100 * sub[column]))

    rows = {}
    for c in class_counts(result):
        sub, rep = df[df["count"] == c], reports[reports["count"] == c]
        rows[c] = {"teacher: training (%)": pm(sub, "teacher_train_accuracy"),
                   "validation (%)": pm(sub, "teacher_val_accuracy"), "test (%)": pm(sub, "teacher_test_accuracy"),
                   "student on labels, validation (%)": pm(sub, "labels_val"),
                   "clear advantage": f"{int(rep['has_advantage'].sum())} of {len(rep)} subsets"}
    return pd.DataFrame(rows).T.rename_axis("classes")


def tuning_table(result: StoredResult) -> pd.DataFrame:
    """Per number of classes and student: the setting chosen on validation and its score (mean over
    the tuning subsets, first seed), beside the grid's worst."""
    df = pd.DataFrame(result.value["tuning"])
    rows = []
    for (count, method), sub in df.groupby(["count", "method"]):
        best = sub[sub["chosen"]].iloc[0]
        setting = f"lr {best['lr']:g}" + ("" if method == "labels" else f", T = {best['T']:g}, alpha = {best['alpha']:g}")
        rows.append({"classes": int(count), "student": method, "grid points": len(sub), "chosen": setting,
                     "validation (%)": 100 * best["val_accuracy"], "worst point (%)": 100 * sub["val_accuracy"].min()})
    return pd.DataFrame(rows).set_index(["classes", "student"])


def _rank_correlation(a: pd.Series, b: pd.Series) -> float:
    if len(a) < 3:
        return float("nan")
    return float(a.rank().corr(b.rank()))


def room_correlation(result: StoredResult) -> float:
    """The rank correlation, over the subsets, between the gain and the label-trained student's test
    error (both means over seeds): does the gain follow the room left?"""
    per = classes_frame(result).groupby("subset")[["gain", "label_error"]].mean()
    return _rank_correlation(per["gain"], per["label_error"])


def classes_figure(result: StoredResult):
    """Left: per subset, the gain against the label-trained student's test error (the room it
    leaves), one marker per number of classes; right: per number of classes, the gain over all its
    subsets and over its hardest ones, with their spread over seeds."""
    import matplotlib.pyplot as plt

    from .. import plots

    df = classes_frame(result)
    per = df.groupby(["count", "subset"]).agg(gain=("gain", "mean"), gain_std=("gain", "std"),
                                              room=("label_error", "mean")).reset_index()
    fig, axes = plots.figure(ncols=2, width=11, height=4.2)
    markers = "osD^v<>"
    with plt.rc_context(plots.STYLE):
        for i, c in enumerate(class_counts(result)):
            sub = per[per["count"] == c]
            axes[0].errorbar(sub["room"], sub["gain"], yerr=sub["gain_std"].fillna(0.0), fmt=markers[i % len(markers)],
                             color=plots.PALETTE[i % len(plots.PALETTE)], ms=5, capsize=2, label=plural(c, "class"))
        axes[0].axhline(0, color="grey", lw=1, ls="--")
        axes[0].set_xlabel("label-trained student's test error (%)")
        axes[0].set_ylabel("distilled − labels, test (points)")
        axes[0].legend()
    counts = class_counts(result)
    gains, hard = per_seed(result, "gain"), per_seed(result, "gain", hard_only=True)
    plots.lines(counts, {"all subsets": gains.mean().to_numpy(), "hardest subsets": hard.mean().to_numpy()},
                spread={"all subsets": gains.std(ddof=1).fillna(0.0).to_numpy(),
                        "hardest subsets": hard.std(ddof=1).fillna(0.0).to_numpy()},
                xlabel="number of classes", ylabel="distilled − labels, test (points)", ax=axes[1])
    axes[1].axhline(0, color="grey", lw=1, ls="--")
    axes[1].set_xticks(counts)
    return fig


# ----------------------------------------------------------------------------- 2. the unlabelled transfer set
def transfer_frame(result: StoredResult) -> pd.DataFrame:
    """The transfer study's rows, the teacher written '-' for students without one."""
    df = pd.DataFrame(result.value["rows"])
    df["teacher"] = df["teacher"].fillna("-")
    return df


def _transfer_column(result: StoredResult, method: str, teacher: str, column: str = "test") -> np.ndarray:
    df = transfer_frame(result)
    sub = df[(df["method"] == method) & (df["teacher"] == teacher)].sort_values("seed")
    return sub[column].to_numpy(dtype=float)


def transfer_table(result: StoredResult) -> pd.DataFrame:
    """Per student: what it learned from, its validation and test accuracy, its accuracy on the
    images whose labels it never saw, and its test agreement with its teacher (means ± std over seeds)."""
    df = transfer_frame(result)
    rows = []
    for (method, teacher), sub in df.groupby(["method", "teacher"], sort=False):
        test, unl = _mean_std(100 * sub["test"]), _mean_std(100 * sub["unlabelled"])
        agree = sub["agreement"].dropna()
        rows.append({"student": STUDENT_NAMES.get(method, method), "teacher": TEACHER_NAMES.get(teacher, teacher),
                     "validation (%)": 100 * sub["val"].mean(), "test (%)": _pm(*test),
                     "unlabelled images (%)": _pm(*unl),
                     "agreement with teacher, test (%)": _pm(*_mean_std(100 * agree)) if len(agree) else None})
    return pd.DataFrame(rows).set_index(["student", "teacher"])


def transfer_comparisons(result: StoredResult) -> pd.DataFrame:
    """Per teacher, paired over seeds (test accuracy, points): the student with the unlabelled images
    against the one distilled on the labelled images only, that one against labels, and the first
    against labels on the labelled images and on all of them."""
    labels = _transfer_column(result, "labels", "-")
    ceiling = _transfer_column(result, "labels, all images", "-")
    rows = []
    for teacher in teachers_in(result):
        b = _transfer_column(result, "distilled, labelled images", teacher)
        c = _transfer_column(result, "distilled, + unlabelled images", teacher)
        for name, x, y in (("+ unlabelled vs labelled images only", c, b), ("labelled images only vs labels", b, labels),
                           ("+ unlabelled vs labels", c, labels), ("+ unlabelled vs labels on all images", c, ceiling)):
            p = paired(100 * (x - y))
            rows.append({"teacher": TEACHER_NAMES.get(teacher, teacher), "comparison": name,
                         "difference (points)": _pm(p["mean"], p["std"]), "verdict": p["relation"],
                         "mean": p["mean"], "std": p["std"]})
    return pd.DataFrame(rows).set_index(["teacher", "comparison"])


def teachers_in(result: StoredResult) -> list[str]:
    """The transfer study's teachers, in the order stored."""
    return list(result.value["teacher_reports"])


def gap_share(result: StoredResult, method: str, teacher: str) -> tuple[float, float]:
    """The share of the way from labels on the labelled images to labels on all the images that
    ``method`` with ``teacher`` covers (test accuracy; mean, std over seeds)."""
    labels = _transfer_column(result, "labels", "-")
    ceiling = _transfer_column(result, "labels, all images", "-")
    x = _transfer_column(result, method, teacher)
    gap = ceiling - labels
    return _mean_std(np.where(np.abs(gap) > 0, (x - labels) / np.where(gap == 0, 1, gap), np.nan))


def transfer_teacher_table(result: StoredResult) -> pd.DataFrame:
    """Both teachers' reports: training accuracy (on the images each was trained on), validation,
    test and accuracy on the images whose labels the student never sees, and the validation
    advantage over the student trained on the labelled images."""
    rows = {}
    for name, r in result.value["teacher_reports"].items():
        rows[TEACHER_NAMES.get(name, name)] = {
            "training (%)": _pm(100 * r["train_accuracy"], 100 * r["train_accuracy_std"]),
            "validation (%)": _pm(100 * r["val_accuracy"], 100 * r["val_accuracy_std"]),
            "test (%)": _pm(100 * r["test_accuracy"], 100 * r["test_accuracy_std"]),
            "unlabelled images (%)": _pm(100 * r["unlabelled_accuracy"], 100 * r["unlabelled_accuracy_std"]),
            "student on the labelled images, validation (%)": _pm(100 * r["student_val_accuracy"],
                                                                  100 * r["student_val_accuracy_std"]),
            "advantage (points)": _pm(100 * r["val_advantage"], 100 * r["val_advantage_std"]),
            "clear by the cautious rule": bool(r["has_advantage"])}
    return pd.DataFrame(rows).T.rename_axis("teacher")


def transfer_diagnostics(result: StoredResult) -> pd.DataFrame:
    """Per teacher, the causes that could stop the unlabelled images from helping, each with its
    number: the teacher is no better than the student on those images; there is no room above the
    student distilled on the labelled images; no soft-target setting makes use of them (the best
    validation accuracy of the grid, first seed); training had not ended (seeds whose kept epoch is
    the last)."""
    df = transfer_frame(result)
    tuning = pd.DataFrame(result.value["tuning"])
    tuning["teacher"] = tuning["teacher"].fillna("-")
    ceiling = _transfer_column(result, "labels, all images", "-")
    rows = []
    for teacher in teachers_in(result):
        b = _transfer_column(result, "distilled, labelled images", teacher)
        c_rows = df[(df["method"] == "distilled, + unlabelled images") & (df["teacher"] == teacher)]
        t_u = result.value["teacher_reports"][teacher]["unlabelled_accuracy"]
        b_u = _transfer_column(result, "distilled, labelled images", teacher, "unlabelled")
        best = {m: tuning[(tuning["method"] == m) & (tuning["teacher"] == teacher)]["val_accuracy"].max()
                for m in ("distilled, labelled images", "distilled, + unlabelled images")}
        ended = int((c_rows["best_epoch"] < c_rows["epochs"]).sum())
        rows.append({"teacher": TEACHER_NAMES.get(teacher, teacher),
                     "teacher minus student on the unlabelled images (points)": 100 * (t_u - b_u.mean()),
                     "room: labels on all images minus the student (points)": 100 * (ceiling - b).mean(),
                     "best grid point with vs without the unlabelled images, validation (points)":
                         100 * (best["distilled, + unlabelled images"] - best["distilled, labelled images"]),
                     "seeds kept before their last epoch": f"{ended} of {len(c_rows)}"})
    return pd.DataFrame(rows).set_index("teacher")


def transfer_tuning_table(result: StoredResult) -> pd.DataFrame:
    """Per student of the transfer study: the setting chosen on validation (first seed) and its score."""
    df = pd.DataFrame(result.value["tuning"])
    df["teacher"] = df["teacher"].fillna("-")
    rows = []
    for (method, teacher), sub in df.groupby(["method", "teacher"], sort=False):
        best = sub[sub["chosen"]].iloc[0]
        setting = f"lr {best['lr']:g}" + ("" if method == "labels" else f", T = {best['T']:g}, alpha = {best['alpha']:g}")
        rows.append({"student": STUDENT_NAMES.get(method, method), "teacher": TEACHER_NAMES.get(teacher, teacher),
                     "grid points": len(sub), "chosen": setting, "validation (%)": 100 * best["val_accuracy"]})
    return pd.DataFrame(rows).set_index(["student", "teacher"])


def transfer_figure(result: StoredResult):
    """Left: every student's test accuracy (mean, spread over seeds); right: the validation curves of
    the distilled students (first seed) against the share of their training done."""
    from .. import plots

    df = transfer_frame(result)
    order = [("labels", "-")] + [(m, t) for t in teachers_in(result)
                                 for m in ("distilled, labelled images", "distilled, + unlabelled images")]
    order.append(("labels, all images", "-"))
    bars = []
    for method, teacher in order:
        sub = df[(df["method"] == method) & (df["teacher"] == teacher)]
        short = {"labels": "labels", "distilled, labelled images": "distilled", "labels, all images": "labels, all",
                 "distilled, + unlabelled images": "distilled + unl."}[method]
        who = "" if teacher == "-" else "\n" + ("all-labels T" if teacher == "all labels" else "same-labels T")
        bars.append((short + who, 100 * sub["test"].mean(), 100 * sub["test"].std(ddof=1) if len(sub) > 1 else 0.0))
    fig, axes = plots.figure(ncols=2, width=11.5, height=4.2)
    plots.bars([b[0] for b in bars], [b[1] for b in bars], errors=[b[2] for b in bars], ylabel="test accuracy (%)",
               ax=axes[0])
    lo = min(b[1] for b in bars)
    axes[0].set_ylim(lo - 4, max(b[1] for b in bars) + 2)
    axes[0].tick_params(axis="x", labelsize=7)
    series = {}
    for curve in result.value["curves"]:
        if curve["teacher"] is None:
            name = STUDENT_NAMES.get(curve["method"], curve["method"])
        else:
            name = f"{'distilled' if curve['method'] == 'distilled, labelled images' else 'distilled + unl.'}, " \
                   f"{'all-labels' if curve['teacher'] == 'all labels' else 'same-labels'} teacher"
        values = [100 * v for v in curve["val_accuracy"] if v is not None]
        series[name] = values
    for i, (name, values) in enumerate(series.items()):
        x = np.linspace(0, 1, len(values) + 1)[1:]
        axes[1].plot(x, values, label=name, color=plots.PALETTE[i % len(plots.PALETTE)], lw=1.2)
    axes[1].set_xlabel("share of the training done")
    axes[1].set_ylabel("validation accuracy (%)")
    top = max(max(v) for v in series.values())
    axes[1].set_ylim(top - 12, top + 1)
    axes[1].legend(fontsize=7)
    return fig


# ----------------------------------------------------------------------------- 3. trees
def _trees_frame(result: StoredResult) -> pd.DataFrame:
    return pd.DataFrame(result.value["rows"])


def tree_names(result: StoredResult) -> list[str]:
    """The tree models distilled, in the order stored."""
    return list(result.value["teacher_reports"])


def tree_teacher_table(result: StoredResult) -> pd.DataFrame:
    """Each tree model's report: training accuracy (fitted on every training image), the accuracy
    of the cross-fitted soft targets on the training images (what the student learns from),
    validation and test accuracy, and the validation advantage over the network on labels."""
    rows = {}
    for name, r in result.value["teacher_reports"].items():
        rows[name] = {"training (%)": _pm(100 * r["train_accuracy"], 100 * r["train_accuracy_std"]),
                      "soft targets on the training images (%)": _pm(100 * r["held_out_train_accuracy"],
                                                                     100 * r["held_out_train_accuracy_std"]),
                      "validation (%)": _pm(100 * r["val_accuracy"], 100 * r["val_accuracy_std"]),
                      "test (%)": _pm(100 * r["test_accuracy"], 100 * r["test_accuracy_std"]),
                      "network on labels, validation (%)": _pm(100 * r["student_val_accuracy"],
                                                               100 * r["student_val_accuracy_std"]),
                      "advantage (points)": _pm(100 * r["val_advantage"], 100 * r["val_advantage_std"]),
                      "clear by the cautious rule": bool(r["has_advantage"])}
    return pd.DataFrame(rows).T.rename_axis("tree model")


def tree_tuning_table(result: StoredResult) -> pd.DataFrame:
    """Every grid point of the tree students and of the network on labels with its validation
    accuracy (first seed), the chosen ones marked."""
    df = pd.DataFrame(result.value["tuning"])
    df["setting"] = [f"lr {r.lr:g}" if r.teacher == "labels" else f"lr {r.lr:g}, T = {r.T:g}, alpha = {r.alpha:g}"
                     + (" (soft targets only)" if r.alpha == 1 else "") for r in df.itertuples()]
    return pd.DataFrame({"validation (%)": (100 * df["val_accuracy"]).to_list(), "chosen": df["chosen"].to_list()},
                        index=pd.MultiIndex.from_arrays([df["teacher"], df["setting"]], names=["student of", "setting"]))


def tree_students(result: StoredResult) -> pd.DataFrame:
    """Per tree model: the chosen T and alpha, the student's test accuracy, and, paired over seeds,
    its difference from the network on labels and from its own tree model (points)."""
    df = _trees_frame(result)
    labels = df[df["teacher"] == "labels"].sort_values("seed")["test"].to_numpy(dtype=float)
    rows = []
    for name in tree_names(result):
        sub = df[df["teacher"] == name].sort_values("seed")
        test = sub["test"].to_numpy(dtype=float)
        vs_labels, vs_model = paired(100 * (test - labels)), paired(100 * (test - sub["model_test"].to_numpy(dtype=float)))
        rows.append({"tree model": name, "T": float(sub["T"].iloc[0]), "alpha": float(sub["alpha"].iloc[0]),
                     "student, test (%)": 100 * test.mean(), "student_std": 100 * (test.std(ddof=1) if len(test) > 1 else 0.0),
                     "tree model, test (%)": 100 * sub["model_test"].mean(), "network on labels, test (%)": 100 * labels.mean(),
                     "vs labels (points)": vs_labels["mean"], "vs labels std": vs_labels["std"],
                     "vs labels": vs_labels["relation"], "vs its model (points)": vs_model["mean"],
                     "vs model std": vs_model["std"], "vs its model": vs_model["relation"]})
    return pd.DataFrame(rows).set_index("tree model")


def tree_students_display(result: StoredResult) -> pd.DataFrame:
    """:func:`tree_students` as the page shows it."""
    st = tree_students(result)
    return pd.DataFrame({
        "T, alpha (chosen)": [f"{r['T']:g}, {r['alpha']:g}" for _, r in st.iterrows()],
        "student, test (%)": [_pm(r["student, test (%)"], r["student_std"]) for _, r in st.iterrows()],
        "minus network on labels (points)": [_pm(r["vs labels (points)"], r["vs labels std"]) for _, r in st.iterrows()],
        "verdict": st["vs labels"].to_list(),
        "tree model, test (%)": st["tree model, test (%)"].to_list(),
        "minus its tree model (points)": [_pm(r["vs its model (points)"], r["vs model std"]) for _, r in st.iterrows()],
    }, index=st.index)


def trees_figure(result: StoredResult):
    """Test accuracy of the network on labels, of each tree model's student and of the tree models."""
    from .. import plots

    df = _trees_frame(result)
    bars = [("network\non labels", df[df["teacher"] == "labels"]["test"])]
    for name in tree_names(result):
        sub = df[df["teacher"] == name]
        bars.append((f"student of\n{name}", sub["test"]))
        bars.append((name.replace(" ", "\n"), sub["model_test"]))
    values = [100 * b[1].mean() for b in bars]
    errors = [100 * b[1].std(ddof=1) if len(b[1]) > 1 else 0.0 for b in bars]
    fig, axes = plots.figure(width=7.5, height=3.8)
    plots.bars([b[0] for b in bars], values, errors=errors, ylabel="test accuracy (%)", ax=axes[0])
    axes[0].set_ylim(min(values) - 4, max(values) + 2)
    axes[0].tick_params(axis="x", labelsize=8)
    return fig


# ----------------------------------------------------------------------------- 4. hints
def hints_frame(result: StoredResult) -> pd.DataFrame:
    return pd.DataFrame(result.value["rows"])


def hint_widths(result: StoredResult) -> list[str]:
    """The hint students' hidden layers ('16', '256x256'), in the order stored."""
    return list(dict.fromkeys(r["width"] for r in result.value["rows"]))


def hint_variants(result: StoredResult) -> list[str]:
    """The ways each hint student was trained, in the order stored."""
    return list(dict.fromkeys(r["variant"] for r in result.value["rows"]))


def hints_table(result: StoredResult) -> pd.DataFrame:
    """Per student width and variant: the setting chosen on validation and the test accuracy (mean ±
    std over seeds)."""
    df = hints_frame(result)
    rows = []
    for (width, variant), sub in df.groupby(["width", "variant"], sort=False):
        first = sub.iloc[0]
        setting = f"lr {first['lr']:g}" + ("" if pd.isna(first["T"]) or variant == "labels + hint"
                                           else f", T = {first['T']:g}, alpha = {first['alpha']:g}")
        rows.append({"student": f"MLP {width}", "variant": variant, "chosen": setting,
                     "test (%)": _pm(*_mean_std(100 * sub["test"]))})
    return pd.DataFrame(rows).set_index(["student", "variant"])


def hint_comparisons(result: StoredResult) -> pd.DataFrame:
    """Per width, paired over seeds (test, points): outputs + hint against outputs alone, and labels +
    hint against labels alone."""
    df = hints_frame(result)
    rows = []
    for width in hint_widths(result):
        def col(variant: str) -> np.ndarray:
            return df[(df["width"] == width) & (df["variant"] == variant)].sort_values("seed")["test"].to_numpy(dtype=float)
        for name, a, b in (("outputs + hint vs outputs", "outputs + hint", "outputs"),
                           ("labels + hint vs labels", "labels + hint", "labels"),
                           ("outputs vs labels", "outputs", "labels")):
            p = paired(100 * (col(a) - col(b)))
            rows.append({"student": f"MLP {width}", "comparison": name, "difference (points)": _pm(p["mean"], p["std"]),
                         "verdict": p["relation"], "mean": p["mean"], "std": p["std"]})
    return pd.DataFrame(rows).set_index(["student", "comparison"])


def hint_teacher_table(result: StoredResult) -> pd.DataFrame:
    """The hint teacher's report beside each student width on labels."""
    rows = {}
    for width, r in result.value["teacher_reports"].items():
        rows[f"MLP {width}"] = {"teacher: training (%)": _pm(100 * r["train_accuracy"], 100 * r["train_accuracy_std"]),
                                "validation (%)": _pm(100 * r["val_accuracy"], 100 * r["val_accuracy_std"]),
                                "test (%)": _pm(100 * r["test_accuracy"], 100 * r["test_accuracy_std"]),
                                "student on labels, validation (%)": _pm(100 * r["student_val_accuracy"],
                                                                         100 * r["student_val_accuracy_std"]),
                                "advantage (points)": _pm(100 * r["val_advantage"], 100 * r["val_advantage_std"]),
                                "clear by the cautious rule": bool(r["has_advantage"])}
    return pd.DataFrame(rows).T.rename_axis("student")


def hints_figure(result: StoredResult):
    """One panel per student width: every variant's test accuracy with its spread over seeds."""
    from .. import plots

    df = hints_frame(result)
    widths = hint_widths(result)
    fig, axes = plots.figure(ncols=len(widths), width=4.4 * len(widths), height=3.8)
    for ax, width in zip(axes, widths):
        sub = df[df["width"] == width]
        g = sub.groupby("variant", sort=False)["test"]
        means, stds = 100 * g.mean(), 100 * g.std(ddof=1).fillna(0.0)
        plots.bars([v.replace(" + ", "\n+ ") for v in means.index], means.to_numpy(), errors=stds.to_numpy(),
                   ylabel="test accuracy (%)", title=f"student MLP {width}", ax=ax)
        ax.set_ylim(means.min() - 3, means.max() + 1.5)
        ax.tick_params(axis="x", labelsize=8)
    return fig


# ----------------------------------------------------------------------------- claims
def _classes(results: Results) -> StoredResult:
    return _part(results, "classes")


def _teachers_ahead_at_every_count(results: Results) -> tuple[bool, dict[str, float]]:
    adv = per_seed(_classes(results), "advantage")
    found = {c: paired(adv[c]) for c in adv.columns}
    numbers = {f"advantage_{c}_classes_points": p["mean"] for c, p in found.items()}
    return all(p["relation"] == "higher than" for p in found.values()), numbers


def _helps_at_some_count(results: Results) -> tuple[bool, dict[str, float]]:
    gains = per_seed(_classes(results), "gain")
    helped = [c for c in gains.columns if paired(gains[c])["relation"] == "higher than"]
    return bool(helped), {"class_counts_tried": len(gains.columns), "class_counts_where_it_helps": len(helped),
                          "largest_mean_gain_points": float(gains.mean().max())}


def _helps_with_all_classes(results: Results) -> tuple[bool, dict[str, float]]:
    gains = per_seed(_classes(results), "gain")
    p = paired(gains[gains.columns.max()])
    return p["relation"] == "higher than", {"classes": int(gains.columns.max()), "gain_points": p["mean"],
                                            "gain_std": p["std"]}


def _helps_hardest_fewest(results: Results) -> tuple[bool, dict[str, float]]:
    gains = per_seed(_classes(results), "gain", hard_only=True)
    fewest = gains.columns.min()
    p = paired(gains[fewest])
    hard = sum(1 for s in _classes(results).value["subsets"] if s["count"] == fewest and s["hard"])
    return p["relation"] == "higher than", {"classes": int(fewest), "hardest_subsets": hard,
                                            "gain_points": p["mean"], "gain_std": p["std"]}


def _grows(column: str):
    def predicate(results: Results) -> tuple[bool, dict[str, float]]:
        result = _classes(results)
        table = per_seed(result, "gain") if column == "gain" else relative_gains(result)
        lo, hi = table.columns.min(), table.columns.max()
        p = paired(table[hi] - table[lo])
        return p["relation"] == "higher than", {
            "fewest_classes": int(lo), f"{column}_fewest": float(table[lo].mean()), "most_classes": int(hi),
            f"{column}_most": float(table[hi].mean()), "difference": p["mean"], "difference_std": p["std"]}
    return predicate


def _gain_follows_room(results: Results) -> tuple[bool, dict[str, float]]:
    rho = room_correlation(_classes(results))
    return bool(rho > ROOM_CORRELATION), {"rank_correlation": rho, "threshold": ROOM_CORRELATION,
                                          "subsets": classes_frame(_classes(results))["subset"].nunique()}


def _transfer(results: Results) -> StoredResult:
    return _part(results, "transfer")


def _comparison(results: Results, teacher: str, name: str) -> pd.Series:
    return transfer_comparisons(_transfer(results)).loc[(TEACHER_NAMES.get(teacher, teacher), name)]


def _unlabelled_helps(results: Results) -> tuple[bool, dict[str, float]]:
    result = _transfer(results)
    numbers, holds = {}, True
    for teacher in teachers_in(result):
        r = _comparison(results, teacher, "+ unlabelled vs labelled images only")
        key = teacher.replace(" ", "_")
        numbers[f"{key}_teacher_gain_points"], numbers[f"{key}_teacher_gain_std"] = r["mean"], r["std"]
        holds = holds and r["verdict"] == "higher than"
    return holds, {"labelled_images": result.value["labelled"], "images": result.value["train_size"], **numbers}


def _soft_targets_help_few_labels(results: Results) -> tuple[bool, dict[str, float]]:
    r = _comparison(results, "all labels", "labelled images only vs labels")
    share, share_std = gap_share(_transfer(results), "distilled, labelled images", "all labels")
    return r["verdict"] == "higher than", {"gain_points": r["mean"], "gain_std": r["std"],
                                           "share_of_the_gap": share, "share_std": share_std}


def _unlabelled_recovers_most(results: Results) -> tuple[bool, dict[str, float]]:
    share, share_std = gap_share(_transfer(results), "distilled, + unlabelled images", "all labels")
    return bool(share > MOST), {"share_of_the_gap": share, "share_std": share_std, "threshold": MOST}


def _agreement_rises(results: Results) -> tuple[bool, dict[str, float]]:
    result = _transfer(results)
    numbers, holds = {}, True
    for teacher in teachers_in(result):
        c = _transfer_column(result, "distilled, + unlabelled images", teacher, "agreement")
        b = _transfer_column(result, "distilled, labelled images", teacher, "agreement")
        p = paired(100 * (c - b))
        key = teacher.replace(" ", "_")
        numbers[f"{key}_teacher_points"], numbers[f"{key}_teacher_std"] = p["mean"], p["std"]
        holds = holds and p["relation"] == "higher than"
    return holds, numbers


def _trees(results: Results) -> StoredResult:
    return _part(results, "trees")


def _tree_beats_labels(teacher: str):
    def predicate(results: Results) -> tuple[bool, dict[str, float]]:
        r = tree_students(_trees(results)).loc[teacher]
        return r["vs labels"] == "higher than", {"T": r["T"], "alpha": r["alpha"], "difference_points": r["vs labels (points)"],
                                                 "difference_std": r["vs labels std"]}
    return predicate


def _tree_students_reach_their_models(results: Results) -> tuple[bool, dict[str, float]]:
    st = tree_students(_trees(results))
    below = [n for n, r in st.iterrows() if r["vs its model"] == "lower than"]
    numbers = {f"{TREE_KEYS.get(n, n)}_student_minus_model_points": r["vs its model (points)"] for n, r in st.iterrows()}
    return not below, {**numbers, "students_below_their_model": len(below)}


def _tree_teachers_ahead(results: Results) -> tuple[bool, dict[str, float]]:
    reports = _trees(results).value["teacher_reports"]
    numbers = {f"{TREE_KEYS.get(n, n)}_advantage_points": 100 * r["val_advantage"] for n, r in reports.items()}
    return all(r["has_advantage"] for r in reports.values()), numbers


def _hint_adds(comparison: str):
    def predicate(results: Results) -> tuple[bool, dict[str, float]]:
        cmp = hint_comparisons(_part(results, "hints"))
        sub = cmp.xs(comparison, level="comparison")
        wins = [w for w, r in sub.iterrows() if r["verdict"] == "higher than"]
        numbers = {f"{w.replace('MLP ', 'width_')}_difference_points": r["mean"] for w, r in sub.iterrows()}
        return bool(wins), {**numbers, "widths_where_it_helps": len(wins)}
    return predicate


CLAIMS: tuple[Claim, ...] = (
    Claim("ch09.teachers_ahead_at_every_count",
          "At every number of classes the teachers are clearly ahead of the label-trained students on validation.",
          "At some number of classes the teachers are not clearly ahead of the label-trained students on validation.",
          _teachers_ahead_at_every_count),
    Claim("ch09.distillation_helps_at_some_class_count",
          "Distillation beats labels for at least one number of classes.",
          "Distillation does not beat labels for any number of classes tried.",
          _helps_at_some_count),
    Claim("ch09.distillation_helps_with_all_classes",
          "With all the classes, the distilled student is clearly more accurate than the one trained on labels.",
          "With all the classes, the distilled student is not clearly more accurate than the one trained on labels.",
          _helps_with_all_classes),
    Claim("ch09.distillation_helps_hardest_pairs",
          "On the hardest pairs of classes, the distilled student is clearly more accurate than the one on labels.",
          "On the hardest pairs of classes, the distilled student is not clearly more accurate than the one on labels.",
          _helps_hardest_fewest),
    Claim("ch09.gain_grows_with_classes",
          "The gain from distillation is clearly larger with the most classes than with the fewest.",
          "The gain from distillation is not clearly larger with the most classes than with the fewest.",
          _grows("gain")),
    Claim("ch09.relative_gain_grows_with_classes",
          "Distillation removes a clearly larger share of the label-trained student's errors with the most classes "
          "than with the fewest.",
          "Distillation does not remove a clearly larger share of the label-trained student's errors with the most "
          "classes than with the fewest.",
          _grows("relative")),
    Claim("ch09.gain_follows_room",
          f"Across the class subsets, the gain rises with the label-trained student's error (rank correlation above "
          f"{ROOM_CORRELATION:g}).",
          f"Across the class subsets, the gain does not clearly rise with the label-trained student's error (rank "
          f"correlation at most {ROOM_CORRELATION:g}).",
          _gain_follows_room),
    Claim("ch09.unlabelled_transfer_helps",
          "With either teacher, the student that also learns the teacher's soft targets on images whose labels it "
          "never sees is clearly more accurate than the one distilled on the labelled images only.",
          "With at least one teacher, the student that also learns the teacher's soft targets on images whose labels "
          "it never sees is not clearly more accurate than the one distilled on the labelled images only.",
          _unlabelled_helps),
    Claim("ch09.soft_targets_help_few_labels",
          "On the labelled images alone, soft targets from the teacher with all the labels clearly beat the labels.",
          "On the labelled images alone, soft targets from the teacher with all the labels do not clearly beat the "
          "labels.",
          _soft_targets_help_few_labels, source="paper"),
    Claim("ch09.unlabelled_transfer_recovers_most",
          f"With the unlabelled images and the teacher with all the labels, the student covers more than "
          f"{100 * MOST:g}% of the way from labels on the labelled images to labels on all the images.",
          f"With the unlabelled images and the teacher with all the labels, the student covers at most "
          f"{100 * MOST:g}% of the way from labels on the labelled images to labels on all the images.",
          _unlabelled_recovers_most),
    Claim("ch09.unlabelled_transfer_raises_agreement",
          "With either teacher, the unlabelled images clearly raise the student's test agreement with its teacher.",
          "With at least one teacher, the unlabelled images do not clearly raise the student's test agreement with its "
          "teacher.",
          _agreement_rises, source="paper"),
    Claim("ch09.tree_teachers_ahead",
          "Both tree models are clearly ahead of the network trained on labels on validation.",
          "At least one tree model is not clearly ahead of the network trained on labels on validation.",
          _tree_teachers_ahead),
    Claim("ch09.forest_student_beats_labels",
          "The student distilled from the random forest clearly beats the same network trained on labels.",
          "The student distilled from the random forest does not clearly beat the same network trained on labels.",
          _tree_beats_labels("random forest")),
    Claim("ch09.boosting_student_beats_labels",
          "The student distilled from gradient boosting clearly beats the same network trained on labels.",
          "The student distilled from gradient boosting does not clearly beat the same network trained on labels.",
          _tree_beats_labels("gradient boosting")),
    Claim("ch09.tree_students_reach_their_models",
          "No tree student is clearly less accurate than the tree model it learned from.",
          "At least one tree student is clearly less accurate than the tree model it learned from.",
          _tree_students_reach_their_models),
    Claim("ch09.hint_adds_to_outputs",
          "At some student width, outputs + hint clearly beat the outputs alone.",
          "At no student width do outputs + hint clearly beat the outputs alone.",
          _hint_adds("outputs + hint vs outputs")),
    Claim("ch09.hint_adds_to_labels",
          "At some student width, labels + hint clearly beat the labels alone.",
          "At no student width do labels + hint clearly beat the labels alone.",
          _hint_adds("labels + hint vs labels")),
)


def outcomes(results: Results) -> dict[str, Outcome]:
    """Every claim's outcome on ``results``, by id."""
    return {o.id: o for o in evaluate(CLAIMS, results)}


def claim_sentences(results: Results, prefix: str = "ch09_claim_") -> dict[str, str]:
    """Each claim's sentence (its statement if it holds, else its negation), keyed by the part of its
    id after the chapter, with ``prefix``."""
    return {prefix + cid.split(".", 1)[1]: o.sentence() for cid, o in outcomes(results).items()}


# ----------------------------------------------------------------------------- sentences
def tree_sentence(results: Results) -> str:
    """What the tree students' numbers say against the network on labels and their own models."""
    parts = []
    for name, r in tree_students(_trees(results)).iterrows():
        parts.append(f"the student of {name} (T = {r['T']:g}, alpha = {r['alpha']:g}) is {r['vs labels']} the network "
                     f"on labels ({r['vs labels (points)']:+.2f} ± {r['vs labels std']:.2f} points) and {r['vs its model']} "
                     f"its tree model ({r['vs its model (points)']:+.2f} ± {r['vs model std']:.2f})")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "." if text else ""


def transfer_sentence(results: Results) -> str:
    """Per teacher: the student with the unlabelled images against the one on the labelled images only."""
    parts = []
    for teacher in teachers_in(_transfer(results)):
        r = _comparison(results, teacher, "+ unlabelled vs labelled images only")
        parts.append(f"with the {TEACHER_NAMES[teacher]}, the student that also learns from the unlabelled images is "
                     f"{r['verdict']} the one distilled on the labelled images only ({r['mean']:+.2f} ± {r['std']:.2f} "
                     f"points)")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "." if text else ""


def answers_table(results: Results) -> pd.DataFrame:
    """The four questions with this book's answers, each decided by its claims."""
    o = outcomes(results)
    return pd.DataFrame([
        ("Does distillation help less with fewer classes?",
         " ".join(o[i].sentence() for i in ("ch09.gain_grows_with_classes", "ch09.relative_gain_grows_with_classes",
                                              "ch09.gain_follows_room"))),
        ("Do images without labels help a distilled student?", transfer_sentence(results)),
        ("Can a random forest or boosting teach a network?", tree_sentence(results)),
        ("Does a hint help beyond the outputs?",
         " ".join(o[i].sentence() for i in ("ch09.hint_adds_to_outputs", "ch09.hint_adds_to_labels"))),
    ], columns=["question", f"our answer ({plural(seed_count(results), 'seed')})"])


def paper_table(results: Results) -> pd.DataFrame:
    """The published numbers beside ours: Hinton et al.'s 3% of the speech data, Stanton et al.'s
    larger transfer set (test agreement)."""
    result = _transfer(results)
    labels = 100 * _transfer_column(result, "labels", "-").mean()
    soft = 100 * _transfer_column(result, "distilled, labelled images", "all labels").mean()
    ceiling = 100 * _transfer_column(result, "labels, all images", "-").mean()
    unl = 100 * _transfer_column(result, "distilled, + unlabelled images", "all labels").mean()
    agree_b = 100 * _transfer_column(result, "distilled, labelled images", "all labels", "agreement").mean()
    agree_c = 100 * _transfer_column(result, "distilled, + unlabelled images", "all labels", "agreement").mean()
    share_paper = (PAPER["speech_soft_3pct"] - PAPER["speech_hard_3pct"]) / (PAPER["speech_baseline_all"]
                                                                             - PAPER["speech_hard_3pct"])
    share_b, _ = gap_share(result, "distilled, labelled images", "all labels")
    share_c, _ = gap_share(result, "distilled, + unlabelled images", "all labels")
    frac = 100 * result.value["labelled"] / result.value["train_size"]
    return pd.DataFrame([
        {"what": f"hard labels on a few images ({frac:.0f}% here, 3% in the paper)", "paper": PAPER["speech_hard_3pct"],
         "ours": labels},
        {"what": "soft targets on the same few images", "paper": PAPER["speech_soft_3pct"], "ours": soft},
        {"what": "hard labels on all the images", "paper": PAPER["speech_baseline_all"], "ours": ceiling},
        {"what": "share of the way covered by soft targets (%)", "paper": 100 * share_paper, "ours": 100 * share_b},
        {"what": "soft targets on all the images, labels on the few", "paper": float("nan"), "ours": unl},
        {"what": "share of the way covered with the unlabelled images (%)", "paper": float("nan"), "ours": 100 * share_c},
        {"what": "test agreement, smaller transfer set (%)", "paper": PAPER["agreement_baseline"], "ours": agree_b},
        {"what": "test agreement, larger transfer set (%)", "paper": PAPER["agreement_mixup"], "ours": agree_c},
    ]).set_index("what")


# ----------------------------------------------------------------------------- glue
def _widths_words(widths) -> str:
    return "x".join(map(str, widths))


def _layers_words(widths) -> str:
    """'one hidden layer of 16 units', 'two hidden layers of 256 units', 'hidden layers of 64, 32 units'."""
    count = {1: "one", 2: "two", 3: "three"}.get(len(widths), str(len(widths)))
    if len(set(widths)) == 1:
        return f"{count} hidden layer{'s' if len(widths) > 1 else ''} of {widths[0]} units"
    return f"hidden layers of {', '.join(map(str, widths))} units"


def setting_values(s: Any) -> dict[str, object]:
    """The settings the page's prose names, under their ``ch09_`` names (``s``: ``ch09.settings``)."""
    grid = s.distill_grid
    hidden = f", then a hidden layer of {s.teacher.hidden[-1]} units" if s.teacher.hidden else ""
    return {"ch09_teacher": f"convolutions of {' and '.join(map(str, s.teacher.widths))} channels{hidden}",
            "ch09_student": _layers_words(s.student.widths), "ch09_patience": s.patience,
            "ch09_label_grid": ", ".join(f"{lr:g}" for lr in s.label_grid),
            "ch09_distill_lrs": ", ".join(f"{lr:g}" for lr in dict.fromkeys(lr for lr, _ in grid)),
            "ch09_recipes": " or ".join(f"T = {d.T:g} with alpha = {d.alpha:g}"
                                        for d in dict.fromkeys(d for _, d in grid)),
            "ch09_grid_size": len(s.label_grid), "ch09_labelled": s.labelled,
            "ch09_forest_trees": s.forest_trees, "ch09_boosting_iterations": s.boosting_iterations,
            "ch09_tree_Ts": ", ".join(f"{T:g}" for T in dict.fromkeys(d.T for d in s.tree_grid)),
            "ch09_tree_alphas": ", ".join(f"{a:g}" for a in dict.fromkeys(d.alpha for d in s.tree_grid)),
            "ch09_hint_weight": s.hint_weight,
            "ch09_hint_widths": " and ".join(_widths_words(m.widths) for m in s.hint_students)}


def classes_values(results: Results) -> dict[str, object]:
    """Section 1's glued numbers."""
    result = _classes(results)
    counts = class_counts(result)
    lo, hi = counts[0], counts[-1]
    gains, relative, hard = per_seed(result, "gain"), relative_gains(result), per_seed(result, "gain", hard_only=True)
    subsets = result.value["subsets"]
    pairs = [s for s in subsets if s["count"] == lo]
    names = result.value["class_names"]
    out: dict[str, object] = {
        "ch09_count_lo": lo, "ch09_count_hi": hi, "ch09_counts": ", ".join(map(str, counts)),
        "ch09_n_subsets": len(subsets), "ch09_n_pairs": len(pairs), "ch09_n_ranked_pairs": pairs[0]["ranked"] if pairs else 0,
        "ch09_n_hard_pairs": sum(s["hard"] for s in pairs),
        "ch09_hardest_pair": class_label(names, pairs[0]["classes"]) if pairs else "",
        "ch09_hardest_pair_confusion": 100 * pairs[0]["confusion"] if pairs else 0.0,
        "ch09_gain_lo": float(gains[lo].mean()), "ch09_gain_lo_std": paired(gains[lo])["std"],
        "ch09_gain_hi": float(gains[hi].mean()), "ch09_gain_hi_std": paired(gains[hi])["std"],
        "ch09_gain_hard_lo": float(hard[lo].mean()), "ch09_gain_hard_lo_std": paired(hard[lo])["std"],
        "ch09_relative_lo": float(relative[lo].mean()), "ch09_relative_hi": float(relative[hi].mean()),
        "ch09_room_correlation": room_correlation(result),
    }
    adv = per_seed(result, "advantage")
    out.update({"ch09_advantage_lo": float(adv[lo].mean()), "ch09_advantage_hi": float(adv[hi].mean())})
    reports = pd.DataFrame(result.value["teacher_reports"])
    out.update({"ch09_teachers_ahead": int(reports["has_advantage"].sum()), "ch09_n_teacher_reports": len(reports),
                "ch09_teacher_train_lo": 100 * classes_frame(result).query("count == @lo")["teacher_train_accuracy"].mean(),
                "ch09_teacher_train_hi": 100 * classes_frame(result).query("count == @hi")["teacher_train_accuracy"].mean()})
    return out


def transfer_values(results: Results) -> dict[str, object]:
    """Section 2's glued numbers."""
    result = _transfer(results)
    reports = result.value["teacher_reports"]
    out: dict[str, object] = {"ch09_transfer_labelled": result.value["labelled"],
                              "ch09_transfer_images": result.value["train_size"],
                              "ch09_transfer_unlabelled": result.value["train_size"] - result.value["labelled"],
                              "ch09_transfer_sentence": transfer_sentence(results)}
    for teacher in teachers_in(result):
        key = teacher.replace(" ", "_")
        out[f"ch09_t_{key}_val"] = 100 * reports[teacher]["val_accuracy"]
        out[f"ch09_t_{key}_train"] = 100 * reports[teacher]["train_accuracy"]
        out[f"ch09_t_{key}_unlabelled"] = 100 * reports[teacher]["unlabelled_accuracy"]
        for method, short in (("distilled, labelled images", "b"), ("distilled, + unlabelled images", "c")):
            out[f"ch09_{short}_{key}"] = 100 * _transfer_column(result, method, teacher).mean()
    out["ch09_a"] = 100 * _transfer_column(result, "labels", "-").mean()
    out["ch09_ceiling"] = 100 * _transfer_column(result, "labels, all images", "-").mean()
    share_b, _ = gap_share(result, "distilled, labelled images", "all labels")
    share_c, _ = gap_share(result, "distilled, + unlabelled images", "all labels")
    out["ch09_share_b"], out["ch09_share_c"] = 100 * share_b, 100 * share_c
    return out


def trees_values(results: Results) -> dict[str, object]:
    """Section 3's glued numbers and sentence."""
    result = _trees(results)
    out: dict[str, object] = {"ch09_trees_sentence": tree_sentence(results)}
    df = _trees_frame(result)
    out["ch09_labels_acc"] = 100 * df[df["teacher"] == "labels"]["test"].mean()
    for name, r in result.value["teacher_reports"].items():
        key = TREE_KEYS.get(name, name)
        out[f"ch09_{key}_val"] = 100 * r["val_accuracy"]
        out[f"ch09_{key}_held_out"] = 100 * r["held_out_train_accuracy"]
        out[f"ch09_{key}_advantage"] = 100 * r["val_advantage"]
    return out


def hints_values(results: Results) -> dict[str, object]:
    """Section 4's glued numbers."""
    result = _part(results, "hints")
    return {"ch09_hint_dim": result.value["hint_dim"], "ch09_n_hint_widths": len(hint_widths(result))}


def glue_values(results: Results) -> dict[str, object]:
    """Every number and sentence the page glues that comes from the stored results."""
    return {"ch09_n_seeds": seed_count(results), "ch09_seeds": plural(seed_count(results), "seed"),
            **classes_values(results), **transfer_values(results), **trees_values(results), **hints_values(results),
            **claim_sentences(results), "ch09_run_time": run_time_sentence(results)}


def display_tables(results: Results) -> Mapping[str, pd.DataFrame]:
    """Every table of the page, by name (for a reader who wants them all at once)."""
    return {"teachers": teacher_table(_classes(results)), "classes": count_table(_classes(results)),
            "subsets": subset_table(_classes(results)), "transfer": transfer_table(_transfer(results)),
            "trees": tree_students_display(_trees(results)), "hints": hints_table(_part(results, "hints"))}
