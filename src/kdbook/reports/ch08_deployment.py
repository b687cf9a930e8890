"""Chapter 8's reading: the teachers' reports, the tuned students, sizes, arithmetic and latency
(with confidence intervals), the paired verdicts, failures and medians of the sweeps, sentences,
figures, the papers' numbers and the chapter's claims, all from the stored results of
``kdbook.experiments.ch08_deployment.run``.

The stored results:

* ``deployment``: ``rows`` (one per seed and model: the teacher, the three students, and one for
  the ensemble, which is one model), ``teacher_reports`` (the teacher's and the ensemble's),
  ``tuning`` (both grids on the first seed), ``curves`` (the students' validation accuracy per
  epoch), ``sizes`` (parameters and multiply-accumulates per input) and ``latency`` (per batch
  size and seed, every round's milliseconds of teacher, ensemble and student);
* ``sweeps``: ``rows`` (one per seed and value of the soft term's weight ``alpha`` or of the
  soft loss) at the distilled student's chosen learning rate and temperature.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import latency as lat
from ..claims import Claim, Results, evaluate
from ..store import StoredResult
from .common import clearly_greater, paired_relation, plural, run_time_sentence

#: The papers' numbers, typed once: DistilBERT's summary (Sanh et al.) and Hinton et al.'s MNIST
#: result (test errors of the big net, the small net on labels and the distilled small net).
PAPER: dict[str, float] = {
    "distilbert_smaller": 0.40,      # 40% fewer parameters than BERT
    "distilbert_faster": 0.60,       # 60% faster inference
    "distilbert_retained": 0.97,     # 97% of BERT's GLUE score
    "mnist_teacher_errors": 67,
    "mnist_small_errors": 146,
    "mnist_distilled_errors": 74,
}
#: A student run that diverged, or ended below this validation accuracy, counts as failed.
COLLAPSE_ACCURACY = 0.5
#: What the chapter calls an order of magnitude.
ORDER_OF_MAGNITUDE = 10.0
#: "Most" of the small net's excess error.
MOST = 0.5
#: Two students' accuracies count as the same when every seed agrees within this.
SAME_ACCURACY = 1e-4
#: The share of a curve's epochs whose gain says whether training had ended.
LAST_SHARE = 0.2
#: The confidence level of every latency interval.
LEVEL = 0.95

#: The models of the main part, in the order the page shows them, with their names on the page.
MODELS = {"teacher": "teacher", "ensemble": "ensemble of the teachers", "labels": "small net on labels",
          "distilled": "distilled from the teacher", "distilled from the ensemble": "distilled from the ensemble"}
STUDENTS = ("labels", "distilled", "distilled from the ensemble")
#: Which measured network's size and latency stands for each model (the students share one network).
MEASURED_AS = {"teacher": "teacher", "ensemble": "ensemble", "labels": "student", "distilled": "student",
               "distilled from the ensemble": "student"}
#: The three students share one network; the Pareto plot draws them this factor apart on its log axes.
STUDENT_NUDGE = 1.12
LOSS_NAMES = {"kl": "KL divergence", "soft_ce": "soft cross-entropy", "logit_mse": "squared error on logits"}


# ----------------------------------------------------------------------------- rows
def _deployment(results: Results) -> StoredResult:
    return results["deployment"]


def n_seeds(result: StoredResult) -> int:
    """How many seeds the stored result holds."""
    return len(result.value["seeds"])


def failed(row: Mapping[str, Any]) -> bool:
    """Whether a student run failed: its loss diverged, or it ended below :data:`COLLAPSE_ACCURACY`
    validation accuracy."""
    val = row.get("val_accuracy")
    return bool(row.get("diverged")) or val is None or not math.isfinite(val) or val < COLLAPSE_ACCURACY


def rows(result: StoredResult) -> pd.DataFrame:
    """The main part's rows with a ``failed`` column."""
    df = pd.DataFrame(result.value["rows"])
    df["failed"] = [failed(r) for r in result.value["rows"]]
    return df


def _values(df: pd.DataFrame, model: str, column: str) -> pd.Series:
    """``column`` of ``model`` per seed (the ensemble, one model, repeated for every seed), indexed by seed."""
    part = df[df["model"] == model]
    if model == "ensemble":
        seeds = sorted(s for s in df["seed"].dropna().unique())
        return pd.Series(float(part[column].iloc[0]), index=seeds)
    return part.set_index("seed")[column].astype(float)


def paired_differences(result: StoredResult, a: str, b: str, column: str = "accuracy") -> np.ndarray:
    """``column`` of model ``a`` minus that of ``b``, per seed (NaN where a run diverged)."""
    df = rows(result)
    va, vb = _values(df, a, column), _values(df, b, column)
    return (va - vb.reindex(va.index)).to_numpy(dtype=float)


def _mean_std(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def paired(result: StoredResult, a: str, b: str, column: str = "accuracy") -> dict[str, Any]:
    """The paired comparison of ``a`` with ``b`` on ``column``: the mean and standard deviation of
    the per-seed differences and the book's paired verdict (:func:`kdbook.reports.common.paired_relation`)."""
    d = paired_differences(result, a, b, column)
    mean, std = _mean_std(d)
    return {"mean": mean, "std": std, "pairs": int(np.isfinite(d).sum()), "relation": paired_relation(d)}


# ----------------------------------------------------------------------------- the teachers
def teacher_report_table(result: StoredResult) -> pd.DataFrame:
    """The teacher (one per seed) and the ensemble (one model) as teachers: training / validation /
    test accuracy (%) and the validation advantage over the small net trained on labels (points,
    paired by seed), and whether it is clear."""
    out = {}
    for which, label in (("teacher", f"teacher: {result.value['teacher']}"), ("ensemble", MODELS["ensemble"])):
        r = result.value["teacher_reports"][which]
        spread = which == "teacher"

        def pm(key: str, r=r, spread=spread) -> str:
            return f"{100 * r[key]:.2f}" + (f" ± {100 * r[key + '_std']:.2f}" if spread else "")

        out[label] = {"training (%)": pm("train_accuracy"), "validation (%)": pm("val_accuracy"),
                      "test (%)": pm("test_accuracy"),
                      "small net on labels, validation (%)":
                          f"{100 * r['student_val_accuracy']:.2f} ± {100 * r['student_val_accuracy_std']:.2f}",
                      "advantage (points)": f"{100 * r['val_advantage']:.2f} ± {100 * r['val_advantage_std']:.2f}",
                      "clear by the cautious rule": "yes" if r["has_advantage"] else "no"}
    return pd.DataFrame(out).T.rename_axis("teacher")


def teacher_sentence(result: StoredResult) -> str:
    """What the teacher's report says before anything is distilled."""
    r = result.value["teacher_reports"]["teacher"]
    text = (f"The teacher fits {100 * r['train_accuracy']:.2f}% of its training images and reaches "
            f"{100 * r['val_accuracy']:.2f}% on validation, {100 * r['val_advantage']:.2f} ± "
            f"{100 * r['val_advantage_std']:.2f} points above the small net trained on labels "
            f"(over {plural(r['seeds'], 'seed')})")
    if r["has_advantage"]:
        return text + ": a clear advantage, so it has something to pass on."
    return text + ": not a clear advantage by the cautious rule, so it has little to pass on."


# ----------------------------------------------------------------------------- the tuning
def tuning_table(result: StoredResult) -> pd.DataFrame:
    """Both searches (first seed): learning rate, T and the weight of the labels for distillation,
    validation accuracy (%) and which point was chosen."""
    df = pd.DataFrame(result.value["tuning"])
    return pd.DataFrame({
        "method": df["method"].map({"labels": "labels", "distilled": "distillation"}),
        "learning rate": df["lr"],
        "T": df["T"],
        "label weight": [None if a is None or (isinstance(a, float) and math.isnan(a)) else 1 - a for a in df["alpha"]],
        "validation accuracy (%)": 100 * df["val_accuracy"].astype(float),
        "chosen": df["chosen"].astype(bool)})


def chosen(result: StoredResult, method: str) -> dict:
    """The chosen point of ``method``'s search ('labels' or 'distilled')."""
    return next(r for r in result.value["tuning"] if r["method"] == method and r["chosen"])


def grid_failures(result: StoredResult) -> int:
    """How many runs of the two searches ended below :data:`COLLAPSE_ACCURACY` on validation (or diverged)."""
    return sum(failed(r) for r in result.value["tuning"])


# ----------------------------------------------------------------------------- sizes and latency
def _pooled(result: StoredResult, batch: int, model: str) -> list[float]:
    return [t for per_model in result.value["latency"][str(batch)].values() for t in per_model[model]]


def batch_sizes(result: StoredResult) -> list[int]:
    """The batch sizes latency was measured at (1 and the large batch)."""
    return sorted(int(b) for b in result.value["latency"])


def latency_interval(result: StoredResult, batch: int, model: str) -> dict[str, float]:
    """The median milliseconds of ``model`` ('teacher', 'ensemble', 'student') at ``batch`` over every
    round of every seed, with its bootstrap interval."""
    return lat.median_interval(_pooled(result, batch, model), level=LEVEL)


def speedup(result: StoredResult, batch: int, slow: str = "teacher", fast: str = "student") -> dict[str, float]:
    """How many times faster ``fast`` answers than ``slow`` at ``batch``: the median of the per-round
    ratios over every round of every seed, with its bootstrap interval."""
    return lat.speedup_interval(_pooled(result, batch, slow), _pooled(result, batch, fast), level=LEVEL)


def seed_speedups(result: StoredResult, batch: int) -> dict[str, float]:
    """The student's speed-up over the teacher at ``batch`` seed by seed (median of that seed's rounds)."""
    return {seed: float(np.median(np.asarray(t["teacher"]) / np.asarray(t["student"])))
            for seed, t in result.value["latency"][str(batch)].items()}


def sig(x: float) -> str:
    """``x`` to three significant digits, without an exponent (1,034 rather than 1.03e+03)."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _interval_text(d: Mapping[str, float], key: str) -> str:
    return f"{sig(d[key])} [{sig(d['low'])}, {sig(d['high'])}]"


def latency_table(result: StoredResult) -> pd.DataFrame:
    """Per batch size: the median milliseconds of teacher, ensemble and student with their 95%
    intervals, and the student's speed-up over each (median per-round ratio, 95% interval)."""
    out = {}
    for batch in batch_sizes(result):
        row = {f"{name} (ms)": _interval_text(latency_interval(result, batch, name), "median")
               for name in ("teacher", "ensemble", "student")}
        row["student's speed-up over the teacher"] = _interval_text(speedup(result, batch), "ratio")
        row["over the ensemble"] = _interval_text(speedup(result, batch, "ensemble"), "ratio")
        out[f"{batch:,}"] = row
    return pd.DataFrame(out).T.rename_axis("batch size")


def size_ratios(result: StoredResult) -> dict[str, float]:
    """How many times more parameters and multiply-accumulates per input the teacher has than the student."""
    sizes = result.value["sizes"]
    return {"parameters": sizes["teacher"]["parameters"] / sizes["student"]["parameters"],
            "macs": sizes["teacher"]["macs"] / sizes["student"]["macs"]}


# ----------------------------------------------------------------------------- the models table
def model_table(result: StoredResult) -> pd.DataFrame:
    """Per model: runs, failed runs, test accuracy (mean, std and median over the runs that
    finished), ECE and agreement with its teacher (means), training and validation accuracy,
    parameters and multiply-accumulates per input. The ensemble is one model."""
    df = rows(result)
    out = {}
    for model in MODELS:
        part = df[df["model"] == model]
        done = part[~part["diverged"].astype(bool)]
        acc = done["accuracy"].astype(float)
        size = result.value["sizes"].get(MEASURED_AS[model], {})
        out[model] = {"runs": len(part), "failed": int(part["failed"].sum()),
                      "accuracy": acc.mean(), "accuracy_std": acc.std(ddof=1) if len(acc) > 1 else 0.0,
                      "accuracy_median": acc.median(), "errors": done["errors"].astype(float).mean(),
                      "ece": done["ece"].astype(float).mean(),
                      "ece_std": done["ece"].astype(float).std(ddof=1) if len(done) > 1 else 0.0,
                      "agreement": done["agreement"].astype(float).mean() if "agreement" in done else float("nan"),
                      "train_accuracy": done["train_accuracy"].astype(float).mean(),
                      "val_accuracy": done["val_accuracy"].astype(float).mean(),
                      "parameters": size.get("parameters", float("nan")), "macs": size.get("macs", float("nan"))}
    return pd.DataFrame(out).T


def model_display_table(result: StoredResult) -> pd.DataFrame:
    """The models for the page: parameters, arithmetic, test accuracy (mean ± std and median, %),
    ECE, training accuracy, failed runs, and latency at each batch size (median ms, 95% interval)."""
    m = model_table(result)
    table = pd.DataFrame(index=[MODELS[k] for k in m.index])
    table["parameters"] = [f"{v:,.0f}" for v in m["parameters"]]
    table["multiply-adds per input"] = [f"{v:,.0f}" for v in m["macs"]]
    table["test accuracy (%)"] = [f"{100 * a:.2f} ± {100 * s:.2f}" for a, s in zip(m["accuracy"], m["accuracy_std"])]
    table["median (%)"] = [f"{100 * v:.2f}" for v in m["accuracy_median"]]
    table["ECE"] = [f"{e:.3f} ± {s:.3f}" for e, s in zip(m["ece"], m["ece_std"])]
    table["training accuracy (%)"] = [f"{100 * v:.2f}" for v in m["train_accuracy"]]
    table["failed runs"] = [f"{f:.0f} of {n:.0f}" for f, n in zip(m["failed"], m["runs"])]
    for batch in batch_sizes(result):
        table[f"latency, batch {batch:,} (ms)"] = [
            _interval_text(latency_interval(result, batch, MEASURED_AS[k]), "median") for k in m.index]
    return table.rename_axis("model")


def verdict_table(result: StoredResult) -> pd.DataFrame:
    """The paired comparisons the chapter reads (differences per seed, mean ± std): test accuracy in
    points and ECE, with the paired verdict."""
    comparisons = [("distilled", "labels", "accuracy"), ("distilled from the ensemble", "labels", "accuracy"),
                   ("distilled from the ensemble", "distilled", "accuracy"), ("ensemble", "teacher", "accuracy"),
                   ("distilled", "labels", "ece"), ("distilled", "teacher", "ece")]
    out = []
    for a, b, column in comparisons:
        p = paired(result, a, b, column)
        scale, unit = (100, "points") if column == "accuracy" else (1, "")
        out.append({"comparison": f"{MODELS[a]} − {MODELS[b]}",
                    "measure": "test accuracy (points)" if column == "accuracy" else "ECE",
                    "mean difference": f"{scale * p['mean']:+.3f}" if unit == "" else f"{scale * p['mean']:+.2f}",
                    "std over seeds": f"{scale * p['std']:.3f}" if unit == "" else f"{scale * p['std']:.2f}",
                    "pairs": p["pairs"], "verdict": p["relation"]})
    return pd.DataFrame(out).set_index("comparison")


# ----------------------------------------------------------------------------- curves
def late_gains(result: StoredResult) -> pd.DataFrame:
    """Per student: the validation accuracy gained over the last fifth of its epochs (points), mean
    and std over seeds (diverged runs, without a curve, left out)."""
    out = []
    for c in result.value["curves"]:
        ys = np.asarray([np.nan if v is None else v for v in c["val_accuracy"]], dtype=float)
        if len(ys) < 2:
            continue
        start = max(0, round(len(ys) * (1 - LAST_SHARE)) - 1)
        out.append({"model": c["model"], "gain": 100 * (ys[-1] - ys[start])})
    df = pd.DataFrame(out)
    g = df.groupby("model", sort=False)["gain"]
    return pd.DataFrame({"gain": g.mean(), "gain_std": g.std(ddof=1).fillna(0.0)})


def mean_curves(result: StoredResult) -> dict[str, np.ndarray]:
    """Each student's validation accuracy per epoch, averaged over the seeds that finished."""
    out: dict[str, list] = {}
    for c in result.value["curves"]:
        if c["val_accuracy"]:
            out.setdefault(c["model"], []).append(c["val_accuracy"])
    return {k: np.mean(np.asarray(v, dtype=float), axis=0) for k, v in out.items()}


# ----------------------------------------------------------------------------- the sweeps
def sweep_rows(sweeps: StoredResult, family: str) -> pd.DataFrame:
    """The sweep's rows of ``family`` ('alpha' or 'loss') with a ``failed`` column."""
    picked = [r for r in sweeps.value["rows"] if r["family"] == family]
    df = pd.DataFrame(picked)
    df["failed"] = [failed(r) for r in picked]
    return df


def sweep_table(sweeps: StoredResult, family: str) -> pd.DataFrame:
    """Per value of ``family``: runs, failed runs, test accuracy (mean, median, min over the runs
    that finished, %), median ECE and median agreement with the teacher."""
    df = sweep_rows(sweeps, family)
    out = {}
    for value, part in df.groupby("value", sort=False):
        done = part[~part["diverged"].astype(bool)]
        acc = 100 * done["accuracy"].astype(float)
        out[value] = {"runs": len(part), "failed": int(part["failed"].sum()),
                      "mean (%)": acc.mean(), "median (%)": acc.median(), "lowest (%)": acc.min(),
                      "validation, median (%)": 100 * done["val_accuracy"].astype(float).median(),
                      "ECE, median": done["ece"].astype(float).median(),
                      "agreement, median (%)": 100 * done["agreement"].astype(float).median()}
    table = pd.DataFrame(out).T
    table.index.name = "α" if family == "alpha" else "soft loss"
    if family == "loss":
        table.index = [LOSS_NAMES.get(k, k) for k in table.index]
        table.index.name = "soft loss"
    return table


def sweep_failures(sweeps: StoredResult) -> dict[str, int]:
    """Failed runs and runs per sweep."""
    out = {}
    for family in ("alpha", "loss"):
        df = sweep_rows(sweeps, family)
        out[f"{family}_failed"], out[f"{family}_runs"] = int(df["failed"].sum()), len(df)
    return out


def failure_sentence(sweeps: StoredResult, family: str) -> str:
    """Which values of the sweep had failed runs (diverged, or below 50% validation accuracy), or that none did."""
    table = sweep_table(sweeps, family)
    bad = table[table["failed"] > 0]
    what = "sweep over α" if family == "alpha" else "comparison of soft losses"
    if bad.empty:
        return (f"No run of the {what} failed (none diverged, every one reached "
                f"{100 * COLLAPSE_ACCURACY:.0f}% validation accuracy).")
    listed = ", ".join(f"{(f'α = {v:g}' if family == 'alpha' else v)}: {r['failed']:.0f} of {r['runs']:.0f}"
                       for v, r in bad.iterrows())
    return (f"Failed runs of the {what} (diverged, or below {100 * COLLAPSE_ACCURACY:.0f}% validation accuracy): "
            f"{listed}. A failed run pulls its setting's mean down; the median shows the typical run.")


def _median_ece_by_alpha(sweeps: StoredResult) -> pd.Series:
    df = sweep_rows(sweeps, "alpha")
    done = df[~df["diverged"].astype(bool)]
    return done.groupby("value")["ece"].median().sort_index()


# ----------------------------------------------------------------------------- headline numbers
def gap_closed(result: StoredResult) -> tuple[float, float]:
    """The share of the label-trained net's excess test errors over the teacher that distillation
    removes, per seed: mean and std (NaN where the teacher is not better)."""
    df = rows(result)
    t, lab, d = (_values(df, m, "errors") for m in ("teacher", "labels", "distilled"))
    shares = ((lab - d) / (lab - t)).where(lab > t)
    return _mean_std(shares.to_numpy(dtype=float))


def paper_gap_closed() -> float:
    """The share of the small net's excess errors that distillation removed in Hinton et al.'s MNIST run."""
    small, distilled, teacher = (PAPER[k] for k in ("mnist_small_errors", "mnist_distilled_errors",
                                                     "mnist_teacher_errors"))
    return (small - distilled) / (small - teacher)


def headline(result: StoredResult) -> dict[str, float]:
    """The chapter's comparison numbers: size, arithmetic, speed and accuracy of the distilled
    student against its teacher."""
    m = model_table(result)
    ratios = size_ratios(result)
    large = max(batch_sizes(result))
    one, big = speedup(result, 1), speedup(result, large)
    share, share_std = gap_closed(result)
    return {"size_ratio": ratios["parameters"], "macs_ratio": ratios["macs"],
            "speedup_b1": one["ratio"], "speedup_b1_low": one["low"], "speedup_b1_high": one["high"],
            "speedup_large": big["ratio"], "speedup_large_low": big["low"], "speedup_large_high": big["high"],
            "accuracy_retained": m.loc["distilled", "accuracy"] / m.loc["teacher", "accuracy"],
            "gap_closed": share, "gap_closed_std": share_std, "large_batch": large}


def _gap_words(share: float, std: float) -> str:
    return f"{100 * share:.0f}% ± {100 * std:.0f}%" if math.isfinite(share) else "n/a: the teacher is not more accurate"


def ours_vs_paper(results: Results) -> pd.DataFrame:
    """DistilBERT's deployment claim and Hinton et al.'s MNIST result beside ours."""
    result = _deployment(results)
    h = headline(result)
    rows_ = [
        ("size of the student", f"{100 * PAPER['distilbert_smaller']:.0f}% smaller (DistilBERT)",
         f"{h['size_ratio']:.1f}x fewer parameters, {h['macs_ratio']:.0f}x fewer multiply-adds per input"),
        ("speed, batch 1", f"{100 * PAPER['distilbert_faster']:.0f}% faster (DistilBERT)",
         f"{h['speedup_b1']:.1f}x faster on this CPU [95%: {h['speedup_b1_low']:.1f}, {h['speedup_b1_high']:.1f}]"),
        (f"speed, batch {h['large_batch']:,}", "-",
         f"{h['speedup_large']:.1f}x faster [95%: {h['speedup_large_low']:.1f}, {h['speedup_large_high']:.1f}]"),
        ("accuracy kept", f"{100 * PAPER['distilbert_retained']:.0f}% of BERT's GLUE score",
         f"{100 * h['accuracy_retained']:.1f}% of the teacher's test accuracy"),
        ("share of the small net's excess errors removed",
         (f"{100 * paper_gap_closed():.0f}% (Hinton, MNIST: {PAPER['mnist_small_errors']:.0f} -> "
          f"{PAPER['mnist_distilled_errors']:.0f} vs {PAPER['mnist_teacher_errors']:.0f})"),
         _gap_words(h["gap_closed"], h["gap_closed_std"])),
    ]
    return pd.DataFrame(rows_, columns=["quantity", "paper", f"ours ({plural(n_seeds(result), 'seed')})"])


# ----------------------------------------------------------------------------- claims
Verdict = tuple[bool, dict[str, Any]]


def _paired_claim(a: str, b: str, column: str = "accuracy", expected: str = "higher than"
                  ) -> Callable[[Results], Verdict]:
    """``a``'s ``column`` is ``expected`` ``b``'s by the paired rule over seeds."""
    scale = 100 if column == "accuracy" else 1

    def predicate(results: Results) -> Verdict:
        p = paired(_deployment(results), a, b, column)
        unit = "_points" if column == "accuracy" else ""
        return p["relation"] == expected, {f"mean_difference{unit}": scale * p["mean"],
                                           f"difference_std{unit}": scale * p["std"], "pairs": p["pairs"]}
    return predicate


def _has_advantage(which: str) -> Callable[[Results], Verdict]:
    def predicate(results: Results) -> Verdict:
        r = _deployment(results).value["teacher_reports"][which]
        return bool(r["has_advantage"]), {"val_advantage_points": 100 * r["val_advantage"],
                                          "advantage_std": 100 * r["val_advantage_std"],
                                          "train_accuracy": r["train_accuracy"]}
    return predicate


def _students_had_ended(results: Results) -> Verdict:
    g = late_gains(_deployment(results))
    numbers = {f"{m.replace(' ', '_')}_late_gain_points": row["gain"] for m, row in g.iterrows()}
    ended = not any(clearly_greater(row["gain"], row["gain_std"], 0.0, 0.0) for _, row in g.iterrows())
    return bool(ended), numbers


def _order_of_magnitude_faster(results: Results) -> Verdict:
    h = headline(_deployment(results))
    return bool(h["speedup_large_low"] >= ORDER_OF_MAGNITUDE), {
        "speedup_large_batch": h["speedup_large"], "interval_low": h["speedup_large_low"],
        "interval_high": h["speedup_large_high"], "large_batch": h["large_batch"]}


def _speedup_grows_with_batch(results: Results) -> Verdict:
    h = headline(_deployment(results))
    holds = h["speedup_large_low"] > h["speedup_b1_high"] and h["speedup_b1_high"] < h["macs_ratio"]
    return bool(holds), {"speedup_b1": h["speedup_b1"], "speedup_b1_high": h["speedup_b1_high"],
                         "speedup_large": h["speedup_large"], "speedup_large_low": h["speedup_large_low"],
                         "macs_ratio": h["macs_ratio"]}


def _beyond_arithmetic(results: Results) -> Verdict:
    h = headline(_deployment(results))
    return bool(h["speedup_large_low"] > h["macs_ratio"]), {
        "speedup_large": h["speedup_large"], "speedup_large_low": h["speedup_large_low"], "macs_ratio": h["macs_ratio"]}


def _ece_rises_with_alpha(results: Results) -> Verdict:
    ece = _median_ece_by_alpha(results["sweeps"])
    return bool(len(ece) > 1 and (ece.diff().dropna() > 0).all()), {f"median_ece_alpha_{a:g}": v for a, v in ece.items()}


def _every_run_trains(results: Results) -> Verdict:
    result, sweeps = _deployment(results), results["sweeps"]
    students = rows(result)
    students = students[students["model"].isin(STUDENTS)]
    counts = {"grid_failed": grid_failures(result), "grid_runs": len(result.value["tuning"]),
              "tuned_failed": int(students["failed"].sum()), "tuned_runs": len(students), **sweep_failures(sweeps)}
    total = counts["grid_failed"] + counts["tuned_failed"] + counts["alpha_failed"] + counts["loss_failed"]
    return total == 0, counts


def _loss_accuracies(sweeps: StoredResult, name: str) -> list[float]:
    df = sweep_rows(sweeps, "loss")
    return df[df["value"] == name].sort_values("seed")["accuracy"].astype(float).tolist()


def _kl_equals_soft_ce(results: Results) -> Verdict:
    sweeps = results["sweeps"]
    kl, soft_ce = _loss_accuracies(sweeps, "kl"), _loss_accuracies(sweeps, "soft_ce")
    if not soft_ce or len(kl) != len(soft_ce):
        return False, {"soft_ce_runs": len(soft_ce)}
    diff = max(abs(a - b) for a, b in zip(kl, soft_ce))
    return bool(diff <= SAME_ACCURACY), {"largest_difference_points": 100 * diff, "soft_ce_runs": len(soft_ce)}


def _keeps_distilbert_share(results: Results) -> Verdict:
    retained = headline(_deployment(results))["accuracy_retained"]
    return bool(retained >= PAPER["distilbert_retained"]), {"accuracy_retained": retained,
                                                            "paper": PAPER["distilbert_retained"]}


def _smaller_and_faster_than_distilbert(results: Results) -> Verdict:
    h = headline(_deployment(results))
    size_needed, speed_needed = 1 / (1 - PAPER["distilbert_smaller"]), 1 + PAPER["distilbert_faster"]
    holds = h["size_ratio"] >= size_needed and h["speedup_b1_low"] >= speed_needed
    return bool(holds), {"size_ratio": h["size_ratio"], "paper_size_ratio": size_needed,
                         "speedup_b1": h["speedup_b1"], "speedup_b1_low": h["speedup_b1_low"],
                         "paper_speedup": speed_needed}


def _removes_most_excess_error(results: Results) -> Verdict:
    share, std = gap_closed(_deployment(results))
    holds = math.isfinite(share) and clearly_greater(share, std, MOST, 0.0)
    return bool(holds), {"share_removed": share, "share_std": std, "paper_share": paper_gap_closed()}


CLAIMS: tuple[Claim, ...] = (
    Claim("ch08.teacher_has_advantage",
          "The teacher has a clear validation advantage over the small net trained on labels.",
          "The teacher has no clear validation advantage over the small net trained on labels.",
          _has_advantage("teacher")),
    Claim("ch08.ensemble_has_advantage",
          "The ensemble has a clear validation advantage over the small net trained on labels.",
          "The ensemble has no clear validation advantage over the small net trained on labels.",
          _has_advantage("ensemble")),
    Claim("ch08.distilled_beats_labels",
          "The distilled student is clearly more accurate on test than the same small net trained on labels, "
          "each tuned on validation (paired over seeds).",
          "The distilled student is not clearly more accurate on test than the same small net trained on labels, "
          "each tuned on validation (paired over seeds).",
          _paired_claim("distilled", "labels")),
    Claim("ch08.ensemble_beats_teacher",
          "The ensemble is clearly more accurate on test than a single teacher (paired over the teachers' seeds).",
          "The ensemble is not clearly more accurate on test than a single teacher (paired over the teachers' seeds).",
          _paired_claim("ensemble", "teacher")),
    Claim("ch08.ensemble_student_beats_distilled",
          "The student distilled from the ensemble is clearly more accurate on test than the one distilled from "
          "a single teacher (paired over seeds).",
          "The student distilled from the ensemble is not clearly more accurate on test than the one distilled "
          "from a single teacher (paired over seeds).",
          _paired_claim("distilled from the ensemble", "distilled")),
    Claim("ch08.ensemble_student_beats_labels",
          "The student distilled from the ensemble is clearly more accurate on test than the small net trained "
          "on labels (paired over seeds).",
          "The student distilled from the ensemble is not clearly more accurate on test than the small net "
          "trained on labels (paired over seeds).",
          _paired_claim("distilled from the ensemble", "labels")),
    Claim("ch08.students_had_ended",
          "No student was still clearly improving: over the last fifth of its epochs its validation accuracy "
          "gained no more than the spread over seeds.",
          "Some student was still clearly improving over the last fifth of its epochs: longer training might "
          "change the comparison.",
          _students_had_ended),
    Claim("ch08.student_order_of_magnitude_faster",
          "On a large batch the student answers at least ten times faster than its teacher (the whole 95% "
          "interval of the speed-up).",
          "On a large batch the student is not surely ten times faster than its teacher (the 95% interval of "
          "the speed-up reaches below ten).",
          _order_of_magnitude_faster),
    Claim("ch08.speedup_grows_with_batch",
          "The student's speed-up over the teacher is larger on a large batch than on one input (the 95% "
          "intervals do not overlap), and on one input it stays below the ratio of their arithmetic.",
          "The student's speed-up over the teacher does not clearly grow from one input to a large batch, or on "
          "one input it already reaches the ratio of their arithmetic.",
          _speedup_grows_with_batch),
    Claim("ch08.large_batch_speedup_exceeds_arithmetic",
          "On a large batch the student's speed-up exceeds even the ratio of their arithmetic per input (the whole "
          "95% interval): on this CPU the teacher's layers do each operation more slowly than the student's.",
          "On a large batch the student's speed-up does not surely exceed the ratio of their arithmetic per input.",
          _beyond_arithmetic),
    Claim("ch08.ece_rises_with_alpha",
          "The calibration error (median ECE over seeds) rises at every step of α: the more weight on the soft "
          "targets, the worse calibrated the student.",
          "The calibration error (median ECE over seeds) does not rise at every step of α.",
          _ece_rises_with_alpha),
    Claim("ch08.distilled_worse_calibrated_than_labels",
          "The tuned distilled student is clearly worse calibrated (higher ECE) than the small net trained on "
          "labels (paired over seeds).",
          "The tuned distilled student is not clearly worse calibrated than the small net trained on labels "
          "(paired over seeds).",
          _paired_claim("distilled", "labels", "ece")),
    Claim("ch08.distilled_ece_above_teacher",
          "The tuned distilled student is clearly worse calibrated (higher ECE) than its teacher (paired over "
          "seeds): it does not simply take on the teacher's calibration.",
          "The tuned distilled student's ECE is not clearly above its teacher's (paired over seeds).",
          _paired_claim("distilled", "teacher", "ece")),
    Claim("ch08.every_student_run_trains",
          "No student run failed: none diverged and every one reached 50% validation accuracy, in the searches, "
          "the tuned runs and both sweeps.",
          "Some student runs failed (diverged, or ended below 50% validation accuracy).",
          _every_run_trains),
    Claim("ch08.kl_and_soft_ce_train_the_same_student",
          "KL divergence and soft cross-entropy train students of the same test accuracy on every seed.",
          "KL divergence and soft cross-entropy students differ in test accuracy, or soft cross-entropy was not run.",
          _kl_equals_soft_ce),
    Claim("ch08.student_keeps_97pct_of_teacher",
          "The distilled student keeps at least 97% of its teacher's test accuracy (DistilBERT: 97% of BERT's score).",
          "The distilled student keeps less than 97% of its teacher's test accuracy (DistilBERT: 97% of BERT's score).",
          _keeps_distilbert_share, source="paper"),
    Claim("ch08.student_smaller_and_faster",
          "The student is at least 40% smaller than its teacher and at least 60% faster on one input (the whole "
          "95% interval), as DistilBERT is.",
          "The student is not both 40% smaller and surely 60% faster on one input than its teacher.",
          _smaller_and_faster_than_distilbert, source="paper"),
    Claim("ch08.distillation_removes_most_excess_error",
          "Distillation clearly removes most of the small net's excess test errors over the teacher "
          "(Hinton et al., MNIST: 91%).",
          "Distillation does not clearly remove most of the small net's excess test errors over the teacher "
          "(Hinton et al., MNIST: 91%).",
          _removes_most_excess_error, source="paper"),
)


def outcomes(results: Results):
    """The chapter's claims evaluated on ``results``."""
    return evaluate(CLAIMS, results)


def claim_sentences(results: Results, prefix: str = "ch08_claim_") -> dict[str, str]:
    """Each claim's sentence (its statement if it holds, else its negation), keyed by the part of
    its id after the chapter, with ``prefix``."""
    return {prefix + o.id.split(".", 1)[1]: o.sentence() for o in outcomes(results)}


# ----------------------------------------------------------------------------- sentences
def _pm_points(p: Mapping[str, float]) -> str:
    return f"{100 * p['mean']:+.2f} ± {100 * p['std']:.2f} points"


def distilled_sentence(results: Results) -> str:
    """The headline verdict, distilled vs labels, with the paired difference in points and test errors."""
    result = _deployment(results)
    p, e = paired(result, "distilled", "labels"), paired(result, "distilled", "labels", "errors")
    verdict = next(o for o in outcomes(results) if o.id == "ch08.distilled_beats_labels").sentence().rstrip(".")
    return (f"{verdict}: {_pm_points(p)} of test accuracy, {e['mean']:+.1f} ± {e['std']:.1f} test errors, "
            f"over {plural(p['pairs'], 'pair')} of runs.")


def ensemble_sentence(results: Results) -> str:
    """The ensemble against a single teacher and what its student gets, with the paired differences."""
    result = _deployment(results)
    m = model_table(result)
    by = {o.id: o.sentence().rstrip(".") for o in outcomes(results)}
    ens, stu = paired(result, "ensemble", "teacher"), paired(result, "distilled from the ensemble", "distilled")
    macs = result.value["sizes"]["ensemble"]["macs"] / result.value["sizes"]["teacher"]["macs"]
    return (f"{by['ch08.ensemble_beats_teacher']}: {100 * m.loc['ensemble', 'accuracy']:.2f}% against "
            f"{100 * m.loc['teacher', 'accuracy']:.2f}% ({_pm_points(ens)}), for {macs:.0f} times the teacher's "
            f"arithmetic. {by['ch08.ensemble_student_beats_distilled']}: {_pm_points(stu)}.")


def calibration_sentence(results: Results) -> str:
    """How the ECE moves with α and how the tuned student's compares with its labels twin and its teacher."""
    result, sweeps = _deployment(results), results["sweeps"]
    m = model_table(result)
    ece = _median_ece_by_alpha(sweeps)
    by = {o.id: o.sentence() for o in outcomes(results)}
    return (f"The median ECE is {ece.iloc[0]:.3f} at α = {ece.index[0]:g} and {ece.iloc[-1]:.3f} at α = "
            f"{ece.index[-1]:g}. {by['ch08.ece_rises_with_alpha']} The tuned distilled student's ECE is "
            f"{m.loc['distilled', 'ece']:.3f}, the label-trained net's {m.loc['labels', 'ece']:.3f} and the "
            f"teacher's {m.loc['teacher', 'ece']:.3f}. {by['ch08.distilled_worse_calibrated_than_labels']} "
            f"{by['ch08.distilled_ece_above_teacher']}")


def latency_sentence(results: Results) -> str:
    """The speed-ups with their intervals, against the ratio of arithmetic, and the per-seed spread."""
    result = _deployment(results)
    h = headline(result)
    by = {o.id: o.sentence() for o in outcomes(results)}
    per_seed = seed_speedups(result, h["large_batch"])
    return (f"The student does {sig(h['macs_ratio'])} times less arithmetic per input than the teacher. "
            f"It answers one input {sig(h['speedup_b1'])} times faster (95% interval {sig(h['speedup_b1_low'])} to "
            f"{sig(h['speedup_b1_high'])}) and a batch of {h['large_batch']:,} {sig(h['speedup_large'])} times "
            f"faster ({sig(h['speedup_large_low'])} to {sig(h['speedup_large_high'])}); seed by seed, the "
            f"large-batch speed-up ranges from {sig(min(per_seed.values()))} to {sig(max(per_seed.values()))}. "
            f"{by['ch08.speedup_grows_with_batch']} {by['ch08.student_order_of_magnitude_faster']} "
            f"{by['ch08.large_batch_speedup_exceeds_arithmetic']}")


def kl_soft_ce_sentence(results: Results) -> str:
    """Whether KL and soft cross-entropy trained the same students, with the largest difference."""
    outcome = next(o for o in outcomes(results) if o.id == "ch08.kl_and_soft_ce_train_the_same_student")
    if not outcome.numbers.get("soft_ce_runs"):
        return "Soft cross-entropy was not run in this profile."
    return (f"{outcome.sentence().rstrip('.')} (largest difference on one seed: "
            f"{outcome.numbers['largest_difference_points']:.3f} percentage points).")


def causes_table(results: Results) -> pd.DataFrame:
    """What could hide a gain from distillation, and what the run shows for each: the teacher's
    advantage, the tuning budgets, the students' patience and whether their curves had ended,
    failed runs, and what the teacher labels."""
    result = _deployment(results)
    r = result.value["teacher_reports"]["teacher"]
    g = late_gains(result)
    epochs, sizes = result.value["epochs"], result.value["grid_sizes"]
    grid_bad = grid_failures(result)
    students = rows(result)
    students = students[students["model"].isin(STUDENTS)]
    worst = g["gain"].idxmax()
    failures = (f"{grid_bad} of {len(result.value['tuning'])} search runs and {int(students['failed'].sum())} of "
                f"{len(students)} tuned runs failed (gradients clipped at norm {result.value['clip_grad_norm']:g})")
    patience = (f"{epochs['student']} epochs against the teacher's {epochs['teacher']}; the last fifth adds at most "
                f"{g.loc[worst, 'gain']:+.2f} ± {g.loc[worst, 'gain_std']:.2f} points ({MODELS.get(worst, worst)})")
    advantage = (f"validation advantage {100 * r['val_advantage']:.2f} ± {100 * r['val_advantage_std']:.2f} points "
                 "over the small net on labels")
    budgets = (f"{sizes['labels']} learning rates against {sizes['distilled']} (learning rate, T, α) points, both on "
               "validation")
    rows_ = [
        ("the teacher has nothing to pass on", advantage, r["has_advantage"]),
        ("the baseline was tuned more, or less, than the student", budgets, sizes["labels"] == sizes["distilled"]),
        ("the students stopped too early", patience, _students_had_ended(results)[0]),
        ("runs failed", failures, grid_bad == 0 and not students["failed"].any()),
        ("the teacher labelled other images than the student saw",
         "no augmentation: the teacher's targets are its outputs on the very training images", True),
    ]
    rows_ = [(cause, shown, "ruled out" if ruled_out else "not ruled out") for cause, shown, ruled_out in rows_]
    return pd.DataFrame(rows_, columns=["possible cause", "what the run shows", "verdict"]).set_index("possible cause")


# ----------------------------------------------------------------------------- glue
def glue_values(results: Results) -> dict[str, object]:
    """Every value the page glues, under its ``ch08_`` name."""
    result, sweeps = _deployment(results), results["sweeps"]
    m = model_table(result)
    h = headline(result)
    d, lab = chosen(result, "distilled"), chosen(result, "labels")
    return {
        **{f"ch08_{k}": v for k, v in h.items()},
        **claim_sentences(results),
        "ch08_seeds": plural(n_seeds(result), "seed"),
        "ch08_teacher": result.value["teacher"],
        "ch08_dataset_name": result.value["dataset"].split(":", 1)[0],
        "ch08_teacher_epochs": result.value["epochs"]["teacher"],
        "ch08_student_epochs": result.value["epochs"]["student"],
        "ch08_clip": result.value["clip_grad_norm"],
        "ch08_grid_size": result.value["grid_sizes"]["labels"],
        "ch08_labels_lr": lab["lr"], "ch08_distill_lr": d["lr"], "ch08_distill_T": d["T"],
        "ch08_distill_alpha": d["alpha"],
        "ch08_sweep_lr": sweeps.value["lr"], "ch08_sweep_T": sweeps.value["T"],
        **{f"ch08_acc_{k.replace(' ', '_')}": 100 * m.loc[k, "accuracy"] for k in m.index},
        "ch08_teacher_sentence": teacher_sentence(result),
        "ch08_distilled_sentence": distilled_sentence(results),
        "ch08_ensemble_sentence": ensemble_sentence(results),
        "ch08_calibration_sentence": calibration_sentence(results),
        "ch08_latency_sentence": latency_sentence(results),
        "ch08_alpha_failures": failure_sentence(sweeps, "alpha"),
        "ch08_loss_failures": failure_sentence(sweeps, "loss"),
        "ch08_kl_soft_ce_sentence": kl_soft_ce_sentence(results),
        "ch08_threads": plural(result.value["threads"], "CPU thread"),
        "ch08_paper_size_ratio": 1 / (1 - PAPER["distilbert_smaller"]),
        "ch08_run_time": run_time_sentence(results),
    }


# ------------------------------------------------------------------------------ figures
def pareto_figure(result: StoredResult):
    """Test error against multiply-adds per input (left) and against the large-batch latency
    (right), one marker per model with its spread over seeds (the students share one network)."""
    import matplotlib.ticker

    from .. import plots

    m = model_table(result)
    large = max(batch_sizes(result))
    fig, axes = plots.figure(ncols=2, width=9.0, height=3.6)
    for i, key in enumerate(m.index):
        err, spread = 100 * (1 - m.loc[key, "accuracy"]), 100 * m.loc[key, "accuracy_std"]
        ms = latency_interval(result, large, MEASURED_AS[key])["median"]
        nudge = STUDENT_NUDGE ** (STUDENTS.index(key) - 1) if key in STUDENTS else 1.0  # side by side
        for ax, x in ((axes[0], m.loc[key, "macs"]), (axes[1], ms)):
            ax.errorbar(x * nudge, err, yerr=spread, fmt="o", color=plots.PALETTE[i], capsize=3, label=MODELS[key])
    axes[0].set(xscale="log", xlabel="multiply-adds per input", ylabel="test error (%)")
    axes[1].set(xscale="log", xlabel=f"CPU latency, batch {large:,} (ms)", ylabel="test error (%)")
    for ax in axes:
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[1].legend(fontsize=8, loc="upper right")
    return fig


def curve_figure(result: StoredResult):
    """The three students' validation accuracy per epoch (mean over seeds)."""
    from .. import plots

    curves = mean_curves(result)
    fig, axes = plots.figure(width=6.0, height=3.4)
    ax = axes[0]
    for i, key in enumerate(STUDENTS):
        if key in curves:
            ys = 100 * curves[key]
            ax.plot(np.arange(1, len(ys) + 1), ys, color=plots.PALETTE[2 + i], label=MODELS[key])
    lows = [100 * c[len(c) // 5:].min() for c in curves.values()]
    if lows:
        ax.set_ylim(bottom=min(lows) - 0.5)
    ax.set(xlabel="student epoch", ylabel="validation accuracy (%)")
    ax.legend(fontsize=8)
    return fig


def alpha_figure(sweeps: StoredResult, chosen_alpha: float | None = None):
    """Against the weight of the soft term: every run's test accuracy with the median over seeds
    (left) and the same for ECE (right); failed runs are drawn as crosses, and the weight chosen on
    validation for the tuned student is marked."""
    from .. import plots

    df = sweep_rows(sweeps, "alpha")
    done = df[~df["diverged"].astype(bool)]
    fig, axes = plots.figure(ncols=2, width=9.0, height=3.4)
    for ax, column, scale, label in ((axes[0], "accuracy", 100, "test accuracy (%)"),
                                     (axes[1], "ece", 1, "expected calibration error")):
        ok, bad = done[~done["failed"]], done[done["failed"]]
        ax.scatter(ok["value"], scale * ok[column].astype(float), s=12, color=plots.PALETTE[0], alpha=0.6,
                   label="one run")
        if len(bad):
            ax.scatter(bad["value"], scale * bad[column].astype(float), marker="x", color=plots.PALETTE[1],
                       label="failed run")
        med = done.groupby("value")[column].median().sort_index()
        ax.plot(med.index, scale * med.to_numpy(dtype=float), color=plots.PALETTE[0], label="median")
        if chosen_alpha is not None:
            ax.axvline(chosen_alpha, ls="--", color="grey", lw=1)
        ax.set(xlabel="α (weight of the soft term)", ylabel=label)
    axes[0].legend(fontsize=8)
    return fig

