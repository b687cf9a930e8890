"""Chapter 8's reading: the four models' size, latency, accuracy and calibration, the sweeps over
the weight of the soft term and the form of the soft loss, sentences, the papers' numbers and the
chapter's claims, all from the stored result of ``kdbook.experiments.ch08_deployment.run``.

The stored value has one entry per seed: ``models`` (teacher, ensemble, small net and the
``alpha = max`` student, each measured), ``students`` (every small net of both sweeps) and
``member_accuracy`` (the ensemble's members on test).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..claims import Claim, Results
from ..store import StoredResult
from .common import clearly_greater, compare, plural

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
#: Below this test accuracy a student run counts as collapsed.
COLLAPSE_ACCURACY = 0.5
#: "Within this many accuracy points of the teacher" is what the chapter calls close.
CLOSE_POINTS = 2.0
#: What the chapter calls an order of magnitude.
ORDER_OF_MAGNITUDE = 10.0
#: Two students' accuracies count as the same when every seed agrees within this.
SAME_ACCURACY = 1e-4
LOSS_NAMES = {"kl": "KL divergence", "soft_ce": "soft cross-entropy", "logit_mse": "squared error on logits"}
SHOWN_MODEL_COLUMNS = ("parameters", "latency_b1_ms", "latency_large_ms", "accuracy", "ece", "nll")
SHOWN_LOSS_COLUMNS = ["accuracy", "accuracy_std", "ece", "agreement", "val_accuracy"]
COST_COLUMNS = ("parameters", "latency_b1_ms", "latency_large_ms")


# ----------------------------------------------------------------------------- tables
def n_seeds(result: StoredResult) -> int:
    """How many seeds the stored result holds."""
    return len(result.value["per_seed"])


def _students(result: StoredResult, family: str) -> list[dict]:
    return [st for e in result.value["per_seed"] for st in e["students"].values() if st["family"] == family]


def student_table(result: StoredResult, family: str) -> pd.DataFrame:
    """Mean and std over seeds of the small net's test metrics for each value of ``family``
    ('alpha' or 'loss')."""
    df = pd.DataFrame([{k: v for k, v in st.items() if k != "family"} for st in _students(result, family)])
    g = df.groupby("value", sort=False)
    return g.mean().join(g.std(ddof=1).fillna(0.0).add_suffix("_std"))


def best_alpha(result: StoredResult) -> float:
    """The weight of the soft term with the best mean *validation* accuracy over seeds."""
    return float(student_table(result, "alpha")["val_accuracy"].idxmax())


def _seed_rows(entry: dict, alpha: float) -> dict[str, dict]:
    """One seed's models, with "distilled" replaced by the student of weight ``alpha`` (its size and
    latency are those of the small net: the same architecture)."""
    rows = {k: dict(v) for k, v in entry["models"].items()}
    chosen = next(st for st in entry["students"].values() if st["family"] == "alpha" and st["value"] == alpha)
    cost = {k: rows["small net"][k] for k in COST_COLUMNS}
    rows["distilled"] = {**{k: v for k, v in chosen.items() if k not in ("family", "value")}, **cost}
    return rows


def model_table(result: StoredResult) -> pd.DataFrame:
    """Mean and std over seeds of every measurement of the four models (one row per model).

    The "distilled" row is the small net trained with the validation-chosen ``alpha``; its size and
    latency are those of the small net (the same architecture, measured on the label-trained one).
    """
    alpha = best_alpha(result)
    df = pd.concat([pd.DataFrame(_seed_rows(e, alpha)).T for e in result.value["per_seed"]])
    df = df.reset_index(names="model")
    for col in df.columns[1:]:
        df[col] = df[col].astype(float)
    g = df.groupby("model", sort=False)
    return g.mean().join(g.std(ddof=1).fillna(0.0).add_suffix("_std"))


def latency_column(large_batch: int) -> str:
    """The heading of the large-batch latency column."""
    return f"latency, batch {large_batch} (ms)"


def model_display_table(result: StoredResult, large_batch: int) -> pd.DataFrame:
    """The four models for the page: parameters, latencies, accuracy, ECE and NLL as 'mean ± std'."""
    models = model_table(result)
    table = pd.DataFrame(index=models.index)
    table["parameters"] = models["parameters"].map("{:,.0f}".format)
    for c in SHOWN_MODEL_COLUMNS[1:]:
        table[c] = [f"{m:.3f} ± {sd:.3f}" for m, sd in zip(models[c], models[c + "_std"])]
    return table.rename(columns={"latency_b1_ms": "latency, batch 1 (ms)",
                                 "latency_large_ms": latency_column(large_batch)})


def loss_display_table(result: StoredResult) -> pd.DataFrame:
    """The soft-loss comparison for the page: accuracy (with its std), ECE, agreement, validation accuracy."""
    return student_table(result, "loss")[SHOWN_LOSS_COLUMNS]


def pareto_points(result: StoredResult) -> pd.DataFrame:
    """Per model: parameters, large-batch latency and test error in % with its std (for the Pareto plot)."""
    m = model_table(result)
    return pd.DataFrame({"parameters": m["parameters"], "latency_large_ms": m["latency_large_ms"],
                         "error": 100 * (1 - m["accuracy"]), "error_std": 100 * m["accuracy_std"]})


def alpha_curves(result: StoredResult) -> pd.DataFrame:
    """Per weight of the soft term: test and validation accuracy in % and ECE, with their stds."""
    a = student_table(result, "alpha")
    return pd.DataFrame({"test": 100 * a["accuracy"], "test_std": 100 * a["accuracy_std"],
                         "validation": 100 * a["val_accuracy"], "validation_std": 100 * a["val_accuracy_std"],
                         "ece": a["ece"], "ece_std": a["ece_std"]}, index=a.index.astype(float))


def speedups(result: StoredResult) -> pd.DataFrame:
    """Per seed: how many times faster the small net answers than the teacher, at batch 1 and large batch."""
    return pd.DataFrame([{
        "b1": e["models"]["teacher"]["latency_b1_ms"] / e["models"]["small net"]["latency_b1_ms"],
        "large": e["models"]["teacher"]["latency_large_ms"] / e["models"]["small net"]["latency_large_ms"],
    } for e in result.value["per_seed"]])


def member_accuracy(result: StoredResult) -> float:
    """The ensemble's average member's test accuracy, averaged over seeds."""
    return float(np.mean([np.mean(e["member_accuracy"]) for e in result.value["per_seed"]]))


def gap_closed(models: pd.DataFrame, reference: str = "teacher") -> float:
    """Fraction of the small net's excess error over ``reference`` that distillation removes."""
    err = 1 - models["accuracy"]
    return float((err["small net"] - err["distilled"]) / (err["small net"] - err[reference]))


def collapsed_runs(result: StoredResult, family: str) -> dict[str, int]:
    """For each value of ``family`` ('alpha' or 'loss'), how many seeds ended below 50% test accuracy."""
    out: dict[str, int] = {}
    for st in _students(result, family):
        key = f"{st['value']}" if family == "loss" else f"alpha={st['value']:g}"
        out[key] = out.get(key, 0) + int(st["accuracy"] < COLLAPSE_ACCURACY)
    return out


def headline(result: StoredResult) -> dict[str, float | str]:
    """The chapter's comparison numbers: size, speed and accuracy of the distilled student vs the teacher."""
    m = model_table(result)
    teacher_better = m.loc["teacher", "accuracy"] > m.loc["small net", "accuracy"]
    return {
        "size_ratio": m.loc["teacher", "parameters"] / m.loc["distilled", "parameters"],
        "speedup_b1": m.loc["teacher", "latency_b1_ms"] / m.loc["distilled", "latency_b1_ms"],
        "speedup_large": m.loc["teacher", "latency_large_ms"] / m.loc["distilled", "latency_large_ms"],
        "accuracy_retained": m.loc["distilled", "accuracy"] / m.loc["teacher", "accuracy"],
        # the share of the small net's excess error removed only means something if there is an excess
        "gap_closed": gap_closed(m) if teacher_better else float("nan"),
        "ensemble_gain": m.loc["ensemble", "accuracy"] - m.loc["teacher", "accuracy"],
        "distilled_vs_labels": compare(m.loc["distilled", "accuracy"], m.loc["distilled", "accuracy_std"],
                                       m.loc["small net", "accuracy"], m.loc["small net", "accuracy_std"]),
        "teacher_vs_small": compare(m.loc["teacher", "accuracy"], m.loc["teacher", "accuracy_std"],
                                    m.loc["small net", "accuracy"], m.loc["small net", "accuracy_std"]),
        "collapsed_loss_runs": sum(collapsed_runs(result, "loss").values()),
        "collapsed_alpha_runs": sum(collapsed_runs(result, "alpha").values()),
        "loss_runs": len(_students(result, "loss")),
        "best_alpha": best_alpha(result),
    }


def paper_gap_closed() -> float:
    """The share of the small net's excess errors that distillation removed in Hinton et al.'s MNIST run."""
    small, distilled, teacher = (PAPER[k] for k in ("mnist_small_errors", "mnist_distilled_errors",
                                                     "mnist_teacher_errors"))
    return (small - distilled) / (small - teacher)


def _gap_closed_words(gap: float) -> str:
    return f"{100 * gap:.0f}%" if gap == gap else "n/a: the small net alone is as accurate as the teacher"


def ours_vs_paper(result: StoredResult) -> pd.DataFrame:
    """DistilBERT's deployment claim and Hinton et al.'s MNIST result beside ours."""
    h = headline(result)
    rows = [
        ("size of the student", f"{100 * PAPER['distilbert_smaller']:.0f}% smaller (DistilBERT)",
         f"{h['size_ratio']:.0f}x fewer parameters"),
        ("speed, batch 1", f"{100 * PAPER['distilbert_faster']:.0f}% faster (DistilBERT)",
         f"{h['speedup_b1']:.1f}x faster on this CPU"),
        ("speed, large batch", "-", f"{h['speedup_large']:.1f}x faster on this CPU"),
        ("accuracy kept", f"{100 * PAPER['distilbert_retained']:.0f}% of BERT's GLUE score",
         f"{100 * h['accuracy_retained']:.1f}% of the teacher's accuracy"),
        ("share of the small net's excess error removed",
         f"{100 * paper_gap_closed():.0f}% (Hinton, MNIST: {PAPER['mnist_small_errors']:.0f} -> "
         f"{PAPER['mnist_distilled_errors']:.0f} vs {PAPER['mnist_teacher_errors']:.0f})",
         _gap_closed_words(h["gap_closed"])),
    ]
    return pd.DataFrame(rows, columns=["quantity", "paper", f"ours (mean over {plural(n_seeds(result), 'seed')})"])


# ----------------------------------------------------------------------------- claims
def _deployment(results: Results) -> StoredResult:
    return results["deployment"]


def _accuracy_pair(m: pd.DataFrame, a: str, b: str, column: str = "accuracy") -> dict[str, float]:
    return {f"{a.replace(' ', '_')}_{column}": m.loc[a, column], f"{a.replace(' ', '_')}_std": m.loc[a, column + "_std"],
            f"{b.replace(' ', '_')}_{column}": m.loc[b, column], f"{b.replace(' ', '_')}_std": m.loc[b, column + "_std"]}


def _beats(m: pd.DataFrame, a: str, b: str, column: str = "accuracy") -> bool:
    return clearly_greater(m.loc[a, column], m.loc[a, column + "_std"], m.loc[b, column], m.loc[b, column + "_std"])


def _distilled_beats_labels(results: Results) -> tuple[bool, dict[str, float]]:
    result = _deployment(results)
    m = model_table(result)
    return _beats(m, "distilled", "small net"), {"alpha": best_alpha(result), **_accuracy_pair(m, "distilled", "small net")}


def _teacher_beats_small_net(results: Results) -> tuple[bool, dict[str, float]]:
    m = model_table(_deployment(results))
    return _beats(m, "teacher", "small net"), _accuracy_pair(m, "teacher", "small net")


def _small_net_close_to_teacher(results: Results) -> tuple[bool, dict[str, float]]:
    m = model_table(_deployment(results))
    gap = 100 * (m.loc["teacher", "accuracy"] - m.loc["small net", "accuracy"])
    return bool(gap < CLOSE_POINTS), {"teacher_minus_small_net_points": gap}


def _order_of_magnitude_cheaper(results: Results) -> tuple[bool, dict[str, float]]:
    h = headline(_deployment(results))
    holds = h["size_ratio"] >= ORDER_OF_MAGNITUDE and h["speedup_large"] >= ORDER_OF_MAGNITUDE
    return bool(holds), {"size_ratio": h["size_ratio"], "speedup_large_batch": h["speedup_large"]}


def _speedup_grows_with_batch(results: Results) -> tuple[bool, dict[str, float]]:
    result = _deployment(results)
    sp = speedups(result)
    std = sp.std(ddof=1).fillna(0.0)
    size_ratio = headline(result)["size_ratio"]
    holds = clearly_greater(sp["large"].mean(), std["large"], sp["b1"].mean(), std["b1"]) and sp["b1"].mean() < size_ratio
    return bool(holds), {"speedup_b1": sp["b1"].mean(), "speedup_b1_std": std["b1"],
                         "speedup_large": sp["large"].mean(), "speedup_large_std": std["large"], "size_ratio": size_ratio}


def _ensemble_beats_teacher(results: Results) -> tuple[bool, dict[str, float]]:
    m = model_table(_deployment(results))
    return _beats(m, "ensemble", "teacher"), _accuracy_pair(m, "ensemble", "teacher")


def _ece_rises_with_alpha(results: Results) -> tuple[bool, dict[str, float]]:
    ece = student_table(_deployment(results), "alpha")["ece"].sort_index()
    return bool((ece.diff().dropna() > 0).all()), {f"ece_alpha_{a:g}": v for a, v in ece.items()}


def _distilled_worse_calibrated_than_labels(results: Results) -> tuple[bool, dict[str, float]]:
    m = model_table(_deployment(results))
    return _beats(m, "distilled", "small net", "ece"), _accuracy_pair(m, "distilled", "small net", "ece")


def _distilled_calibrated_like_teacher(results: Results) -> tuple[bool, dict[str, float]]:
    m = model_table(_deployment(results))
    word = compare(m.loc["distilled", "ece"], m.loc["distilled", "ece_std"], m.loc["teacher", "ece"], m.loc["teacher", "ece_std"])
    return word == "indistinguishable from", _accuracy_pair(m, "distilled", "teacher", "ece")


def _every_student_run_trains(results: Results) -> tuple[bool, dict[str, float]]:
    result = _deployment(results)
    alpha, loss = (sum(collapsed_runs(result, f).values()) for f in ("alpha", "loss"))
    return alpha + loss == 0, {"collapsed_alpha_runs": alpha, "alpha_runs": len(_students(result, "alpha")),
                               "collapsed_loss_runs": loss, "loss_runs": len(_students(result, "loss"))}


def _loss_accuracies(result: StoredResult, name: str) -> list[float]:
    return [st["accuracy"] for st in _students(result, "loss") if st["value"] == name]


def _kl_equals_soft_ce(results: Results) -> tuple[bool, dict[str, float]]:
    result = _deployment(results)
    kl, soft_ce = _loss_accuracies(result, "kl"), _loss_accuracies(result, "soft_ce")
    if not soft_ce or len(kl) != len(soft_ce):
        return False, {"soft_ce_runs": len(soft_ce)}
    diff = max(abs(a - b) for a, b in zip(kl, soft_ce))
    return bool(diff <= SAME_ACCURACY), {"largest_difference_points": 100 * diff, "soft_ce_runs": len(soft_ce)}


def _keeps_distilbert_share(results: Results) -> tuple[bool, dict[str, float]]:
    retained = headline(_deployment(results))["accuracy_retained"]
    return bool(retained >= PAPER["distilbert_retained"]), {"accuracy_retained": retained,
                                                            "paper": PAPER["distilbert_retained"]}


def _smaller_and_faster_than_distilbert(results: Results) -> tuple[bool, dict[str, float]]:
    h = headline(_deployment(results))
    size_needed, speed_needed = 1 / (1 - PAPER["distilbert_smaller"]), 1 + PAPER["distilbert_faster"]
    holds = h["size_ratio"] >= size_needed and h["speedup_b1"] >= speed_needed
    return bool(holds), {"size_ratio": h["size_ratio"], "paper_size_ratio": size_needed,
                         "speedup_b1": h["speedup_b1"], "paper_speedup": speed_needed}


def _removes_most_excess_error(results: Results) -> tuple[bool, dict[str, float]]:
    result = _deployment(results)
    gap = headline(result)["gap_closed"]
    beats, _ = _distilled_beats_labels(results)
    return bool(beats and gap >= 0.5), {"gap_closed": gap, "paper_gap_closed": paper_gap_closed(),
                                         "distilled_clearly_beats_labels": beats}


CLAIMS: tuple[Claim, ...] = (
    Claim("ch08.distilled_beats_labels",
          "The distilled student (validation-chosen α) is more accurate than the same small net trained on labels.",
          "The distilled student (validation-chosen α) is not clearly more accurate than the same small net "
          "trained on labels: the difference does not exceed the spread over seeds.",
          _distilled_beats_labels),
    Claim("ch08.teacher_beats_small_net",
          "The teacher is more accurate than the small net trained on labels.",
          "The teacher is not clearly more accurate than the small net trained on labels.",
          _teacher_beats_small_net),
    Claim("ch08.small_net_close_to_teacher",
          f"The small net trained on labels alone is within {CLOSE_POINTS:g} accuracy points of the teacher.",
          f"The small net trained on labels alone is {CLOSE_POINTS:g} or more accuracy points below the teacher.",
          _small_net_close_to_teacher),
    Claim("ch08.student_order_of_magnitude_cheaper",
          "The student has at least ten times fewer parameters than the teacher and is at least ten times "
          "faster on a large batch.",
          "The student is less than ten times smaller or less than ten times faster on a large batch than the teacher.",
          _order_of_magnitude_cheaper),
    Claim("ch08.speedup_grows_with_batch",
          "The student's speed-up over the teacher is smaller than the ratio of parameters at batch size 1 "
          "and grows with a large batch.",
          "The student's speed-up over the teacher does not clearly grow from batch size 1 to a large batch, "
          "or already matches the ratio of parameters at batch size 1.",
          _speedup_grows_with_batch),
    Claim("ch08.ensemble_beats_teacher",
          "The ensemble is more accurate than the teacher.",
          "The ensemble is not more accurate than the teacher.",
          _ensemble_beats_teacher),
    Claim("ch08.ece_rises_with_alpha",
          "The calibration error (ECE) rises at every step of α: the more weight on the soft targets, "
          "the worse calibrated the student.",
          "The calibration error (ECE) does not rise at every step of α.",
          _ece_rises_with_alpha),
    Claim("ch08.distilled_worse_calibrated_than_labels",
          "At the chosen α the student is worse calibrated (higher ECE) than the small net trained on labels.",
          "At the chosen α the student is not clearly worse calibrated than the small net trained on labels.",
          _distilled_worse_calibrated_than_labels),
    Claim("ch08.distilled_calibrated_like_teacher",
          "At the chosen α the student is calibrated like its teacher: their ECEs are indistinguishable.",
          "At the chosen α the student's ECE differs from its teacher's by more than the spreads: the soft "
          "targets do not simply hand the teacher's calibration on to the student.",
          _distilled_calibrated_like_teacher),
    Claim("ch08.every_student_run_trains",
          "Every student run of both sweeps reached at least 50% test accuracy.",
          "Some student runs of the sweeps ended below 50% test accuracy.",
          _every_student_run_trains),
    Claim("ch08.kl_and_soft_ce_train_the_same_student",
          "KL divergence and soft cross-entropy train students of the same test accuracy on every seed.",
          "KL divergence and soft cross-entropy students differ in test accuracy, or soft cross-entropy was not run.",
          _kl_equals_soft_ce),
    Claim("ch08.student_keeps_97pct_of_teacher",
          "The distilled student keeps at least 97% of its teacher's accuracy (DistilBERT: 97% of BERT's score).",
          "The distilled student keeps less than 97% of its teacher's accuracy (DistilBERT: 97% of BERT's score).",
          _keeps_distilbert_share, source="paper"),
    Claim("ch08.student_smaller_and_faster",
          "The student is at least 40% smaller and 60% faster at batch size 1 than its teacher, as DistilBERT is.",
          "The student is not both 40% smaller and 60% faster at batch size 1 than its teacher.",
          _smaller_and_faster_than_distilbert, source="paper"),
    Claim("ch08.distillation_removes_most_excess_error",
          "Distillation removes most of the small net's excess error over the teacher (Hinton et al., MNIST: 91%).",
          "Distillation does not clearly remove most of the small net's excess error over the teacher "
          "(Hinton et al., MNIST: 91%).",
          _removes_most_excess_error, source="paper"),
)


def _outcome(claim_id: str, results: Results):
    return next(c for c in CLAIMS if c.id == claim_id).evaluate(results)


# ----------------------------------------------------------------------------- sentences
def ensemble_sentence(results: Results) -> str:
    """Whether the ensemble beats the teacher, with the accuracies and the ensemble's relative cost."""
    m = model_table(_deployment(results))
    params = m.loc["ensemble", "parameters"] / m.loc["teacher", "parameters"]
    latency = m.loc["ensemble", "latency_b1_ms"] / m.loc["teacher", "latency_b1_ms"]
    verdict = _outcome("ch08.ensemble_beats_teacher", results).sentence().rstrip(".")
    return (f"{verdict} ({100 * m.loc['ensemble', 'accuracy']:.2f}% against {100 * m.loc['teacher', 'accuracy']:.2f}%), "
            f"with {params:.2f} times the teacher's parameters and {latency:.1f} times its latency at batch size 1.")


def calibration_sentence(results: Results) -> str:
    """How the ECE moves with α and how the chosen student's compares with its teacher's."""
    return " ".join(_outcome(cid, results).sentence() for cid in (
        "ch08.ece_rises_with_alpha", "ch08.distilled_calibrated_like_teacher"))


def alpha_collapse_sentence(result: StoredResult, T: float) -> str:
    """How many runs of the α sweep collapsed, and a possible reason (stated as untested)."""
    n_bad = sum(collapsed_runs(result, "alpha").values())
    if not n_bad:
        return "Every run of this sweep reached at least 50% test accuracy."
    n_runs = len(_students(result, "alpha"))
    return (f"{n_bad} of the {plural(n_runs, 'run')} of this sweep ended below 50% test accuracy, which the large "
            "spread at high α shows. A possible reason, not tested here, is the size of the soft gradient rather "
            "than its direction: the gradient of T²·KL with respect to the student's logits is T·(q_T − p_T), whose "
            "entries can reach T in size when the teacher is confident, against at most 1 for cross-entropy on "
            f"labels, so at the learning rate that suits the labels pure distillation at T = {T:g} can take steps "
            "several times larger early in training. Chapter 1's T² argument is about the typical gradient, "
            "not the largest.")


def loss_accuracy_sentence(result: StoredResult) -> str:
    """The mean test accuracy of each soft loss that ran."""
    losses = student_table(result, "loss")
    parts = [f"{LOSS_NAMES.get(k, k)} {100 * losses.loc[k, 'accuracy']:.2f}%" for k in losses.index]
    return "Mean test accuracy over " + plural(n_seeds(result), "seed") + ": " + ", ".join(parts) + "."


def kl_soft_ce_sentence(results: Results) -> str:
    """Whether KL and soft cross-entropy trained the same students, with the largest difference."""
    outcome = _outcome("ch08.kl_and_soft_ce_train_the_same_student", results)
    if not outcome.numbers.get("soft_ce_runs"):
        return "Soft cross-entropy was not run in this profile."
    return (f"{outcome.sentence().rstrip('.')} (largest difference on one seed: "
            f"{outcome.numbers['largest_difference_points']:.3f} percentage points).")


def loss_collapse_sentence(result: StoredResult) -> str:
    """Which soft losses had runs below 50% test accuracy."""
    bad = {k: v for k, v in collapsed_runs(result, "loss").items() if v}
    if not bad:
        return "No run of the loss comparison ended below 50% test accuracy."
    listed = ", ".join(f"{LOSS_NAMES.get(k, k)}: {v} of {plural(n_seeds(result), 'seed')}" for k, v in bad.items())
    return (f"Runs that ended below 50% test accuracy: {listed}. The KL and soft cross-entropy runs here are pure "
            "distillation (α = 1), the same runs as in the previous section; the spread in the table shows them.")


def teacher_errors_sentence(result: StoredResult) -> str:
    """The teacher's test errors here against Hinton et al.'s MNIST teacher (a clause, no capital)."""
    errors = model_table(result).loc["teacher", "errors"]
    return f"our teacher makes {errors:,.0f} test errors, against {PAPER['mnist_teacher_errors']:.0f} for Hinton et al.'s MNIST teacher"


# ----------------------------------------------------------------------------- glue
def glue_values(results: Results, *, large_batch: int, n_members: int, T: float) -> dict[str, object]:
    """Every value the page glues, under its ``ch08_`` name (settings passed from ``ch08.settings``)."""
    result = _deployment(results)
    models = model_table(result)
    alphas = student_table(result, "alpha")
    losses = student_table(result, "loss")
    chosen = best_alpha(result)
    return {
        **{f"ch08_{k}": v for k, v in headline(result).items()},
        "ch08_large_batch": large_batch, "ch08_members": n_members, "ch08_T": T,
        "ch08_seeds": plural(n_seeds(result), "seed"),
        "ch08_member_acc": 100 * member_accuracy(result),
        **{f"ch08_acc_{k.replace(' ', '_')}": 100 * models.loc[k, "accuracy"] for k in models.index},
        "ch08_teacher_ece": models.loc["teacher", "ece"],
        "ch08_small_gap": 100 * (models.loc["teacher", "accuracy"] - models.loc["small net", "accuracy"]),
        "ch08_ensemble_sentence": ensemble_sentence(results),
        "ch08_best_alpha_acc": 100 * alphas.loc[chosen, "accuracy"],
        "ch08_best_alpha_ece": alphas.loc[chosen, "ece"],
        "ch08_alpha0_acc": 100 * alphas.loc[0.0, "accuracy"],
        "ch08_alpha0_ece": alphas.loc[0.0, "ece"], "ch08_alpha1_ece": alphas.loc[1.0, "ece"],
        "ch08_calibration_sentence": calibration_sentence(results),
        "ch08_alpha_collapse_sentence": alpha_collapse_sentence(result, T),
        **{f"ch08_loss_acc_{k}": 100 * losses.loc[k, "accuracy"] for k in losses.index},
        "ch08_loss_sentence": loss_accuracy_sentence(result),
        "ch08_kl_soft_ce_sentence": kl_soft_ce_sentence(results),
        "ch08_collapse_sentence": loss_collapse_sentence(result),
        "ch08_teacher_errors_sentence": teacher_errors_sentence(result),
        "ch08_paper_size_ratio": 1 / (1 - PAPER["distilbert_smaller"]),
        "ch08_distilled_sentence": _outcome("ch08.distilled_beats_labels", results).sentence(),
    }


def plot_labels(large_batch: int) -> Mapping[str, str]:
    """Axis labels of the Pareto plot."""
    return {"parameters": "parameters", "latency": f"CPU latency, batch {large_batch} (ms)", "error": "test error (%)"}


# ------------------------------------------------------------------------------ figures
def pareto_figure(result: StoredResult, large_batch: int):
    """Test error against parameters (left) and against large-batch latency (right), one marker per
    model with its spread over seeds."""
    import matplotlib.ticker

    from .. import plots

    points = pareto_points(result)
    axis = plot_labels(large_batch)
    fig, axes = plots.figure(ncols=2)
    for i, (name, p) in enumerate(points.iterrows()):
        for ax, x in ((axes[0], p["parameters"]), (axes[1], p["latency_large_ms"])):
            ax.errorbar(x, p["error"], yerr=p["error_std"], fmt="o", color=plots.PALETTE[i], capsize=3, label=name)
            ax.annotate(name, (x, p["error"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    axes[0].set(xscale="log", xlabel=axis["parameters"], ylabel=axis["error"])
    axes[1].set(xscale="log", xlabel=axis["latency"], ylabel=axis["error"])
    for ax in axes:
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[0].legend(fontsize=8)
    return fig


def alpha_figure(result: StoredResult):
    """Test and validation accuracy (left) and ECE (right) against the weight of the soft term, with
    the validation-chosen weight marked."""
    from .. import plots

    curves = alpha_curves(result)
    fig, axes = plots.figure(ncols=2)
    plots.lines(curves.index, {"test": curves["test"], "validation": curves["validation"]},
                spread={"test": curves["test_std"], "validation": curves["validation_std"]},
                xlabel="α (weight of the soft term)", ylabel="accuracy (%)", ax=axes[0])
    axes[0].axvline(best_alpha(result), ls="--", color="grey", lw=1)
    plots.lines(curves.index, {"ECE": curves["ece"]}, spread={"ECE": curves["ece_std"]},
                xlabel="α (weight of the soft term)", ylabel="expected calibration error", ax=axes[1])
    return fig
