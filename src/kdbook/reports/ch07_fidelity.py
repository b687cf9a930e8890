"""Chapter 7 read from its stored results: accuracy and fidelity per teacher, temperature,
augmentation policy, optimiser and starting point; the paper's numbers; the chapter's claims and
the sentences its page glues.

Everything here reads the four parts that ``kdbook.experiments.ch07_fidelity.run`` stores
(``teachers``, ``augmentation``, ``epochs``, ``init``); nothing is trained. Agreement and
accuracy are shown in %, KL in nats, ECE as a fraction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .. import plots
from ..claims import Claim, Outcome, Results, by_id, evaluate
from ..store import StoredResult
from .common import clearly_greater, compare, run_time_sentence

#: Stanton et al. (2021), typed once. CIFAR-100 with a pre-activation ResNet-56, tau = 4, pure
#: distillation (agreement in %); ImageNet with teachers of 1 / 3 / 5 ResNets (test agreement in %,
#: test KL(teacher || student) in nats).
PAPER = {
    "T": 4.0,
    "test_agreement_mixup": 86.0,
    "test_agreement_crop_flip": 84.5,
    "train_agreement_300_epochs": 78.95,
    "train_agreement_5000_epochs": 83.3,
    "lambda_jump": 0.375,
    "imagenet_test_agreement": {1: 85.5, 3: 87.8, 5: 88.4},
    "imagenet_test_kl": {1: 0.217, 3: 0.157, 5: 0.142},
}
#: Agreement (%) the chapter calls "near 100%" on the images a student is distilled on.
NEAR_FULL = 99.0
#: Test agreement (%) the chapter calls "close to the teacher".
CLOSE_TO_TEACHER = 97.0
#: A correlation this strong (or stronger) is what the chapter calls a strong relation.
STRONG_CORRELATION = 0.6
#: A step of the lambda curve counts as a jump when its slope exceeds this many times the
#: curve's average slope.
JUMP_FACTOR = 2.0
#: The paper's baseline augmentation policy (the students of the first table use it).
BASELINE_POLICY = "crop_flip"
_PCT = ("accuracy", "train_agreement", "test_agreement", "initial_train_agreement")


# ----------------------------------------------------------------------------- tables
def _percent(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in _PCT:
        if col in df:
            df[col] *= 100
    return df


def _mean_std(df: pd.DataFrame, by: list[str], cols: list[str]) -> pd.DataFrame:
    g = df.groupby(by, sort=False)
    out = g[cols].mean()
    std = g[cols].std(ddof=1).add_suffix(" std")
    return out.join(std)[[c for col in cols for c in (col, f"{col} std")]]


def settings_table(*, dataset: str, widths, teacher_sizes, student_train, temperatures, seeds) -> pd.DataFrame:
    """The settings a reader needs to place the numbers, one row each (``student_train`` is the
    students' training config: optimizer, lr, epochs, augment, augment_px)."""
    from .tables import cell, shape_text

    st = student_train
    return pd.DataFrame({"value": {
        "data": shape_text(dataset), "teacher members (CNN channels)": cell(tuple(widths)),
        "teacher sizes": cell(tuple(teacher_sizes)),
        "student training": f"{st.optimizer}, lr {st.lr:g}, {st.epochs} epochs, {st.augment} ({st.augment_px} px)",
        "temperatures": cell(tuple(temperatures)), "seeds": cell(tuple(seeds))}}).rename_axis("setting")


def teacher_table(result: StoredResult) -> pd.DataFrame:
    """Teachers of 1/3/5 members: test accuracy (%) and ECE, mean and std over seeds."""
    df = _percent(pd.DataFrame(result.value["teachers"]))
    return _mean_std(df, ["members"], ["accuracy", "ece"])


def student_table(result: StoredResult) -> pd.DataFrame:
    """Students per (teacher members, T): accuracy, agreement and KL on train and test, ECE;
    mean and std over seeds; the teacher's accuracy (with its std) and ECE beside them."""
    df = _percent(pd.DataFrame(result.value["students"]))
    out = _mean_std(df, ["members", "T"], ["accuracy", "train_agreement", "test_agreement", "train_kl", "test_kl",
                                           "ece"])
    teachers = teacher_table(result)
    out.insert(0, "teacher accuracy", [teachers.loc[m, "accuracy"] for m, _ in out.index])
    out.insert(1, "teacher accuracy std", [teachers.loc[m, "accuracy std"] for m, _ in out.index])
    out.insert(2, "teacher ece", [teachers.loc[m, "ece"] for m, _ in out.index])
    return out


def augmentation_table(result: StoredResult) -> pd.DataFrame:
    """Per policy: test and train agreement, test KL, accuracy and ECE, with the paper's test agreement."""
    df = _percent(pd.DataFrame(result.value["rows"]))
    out = _mean_std(df, ["policy"], ["test_agreement", "train_agreement", "test_kl", "accuracy", "ece"])
    paper = {"mixup": PAPER["test_agreement_mixup"], "crop_flip": PAPER["test_agreement_crop_flip"]}
    out["paper test agreement"] = [paper.get(p, np.nan) for p in out.index]
    return out


def _seed_curves(result: StoredResult) -> dict[str, np.ndarray]:
    """Per optimiser, (seeds, epochs) train agreement (%)."""
    curves = pd.DataFrame(result.value["curves"])
    return {opt: 100 * np.stack([np.asarray(c) for c in g["train_agreement"]])
            for opt, g in curves.groupby("optimizer", sort=False)}


def epochs_curves(result: StoredResult) -> dict[str, np.ndarray]:
    """Train agreement (%) per epoch, mean over seeds, per optimiser (plus 'epoch')."""
    out = {opt: c.mean(axis=0) for opt, c in _seed_curves(result).items()}
    out["epoch"] = np.asarray(result.value["curves"][0]["epoch"])
    return out


def epochs_table(result: StoredResult) -> pd.DataFrame:
    """Per optimiser, at the end of the long run: train and test agreement, train KL, accuracy."""
    df = _percent(pd.DataFrame(result.value["rows"]))
    return _mean_std(df, ["optimizer"], ["train_agreement", "test_agreement", "train_kl", "accuracy"])


def init_table(result: StoredResult) -> pd.DataFrame:
    """Per lambda: agreement at initialisation and after distillation (train, test), accuracy."""
    df = _percent(pd.DataFrame(result.value["rows"]))
    return _mean_std(df, ["lambda"], ["initial_train_agreement", "train_agreement", "test_agreement", "train_kl",
                                      "accuracy"])


def scatter_points(results: Mapping[str, StoredResult], baseline_policy: str = BASELINE_POLICY) -> pd.DataFrame:
    """Every distinct student with its test agreement (%), ECE and accuracy, labelled by its source.
    The augmentation comparison's ``baseline_policy`` students are the teacher-of-1, T = 4 students
    of the main table (same cache entries), so they are listed once."""
    rows = [{"source": f"teacher of {r['members']}, T={r['T']:g}", "test_agreement": 100 * r["test_agreement"],
             "ece": r["ece"], "accuracy": 100 * r["accuracy"]} for r in results["teachers"].value["students"]]
    rows += [{"source": f"policy {r['policy']}", "test_agreement": 100 * r["test_agreement"], "ece": r["ece"],
              "accuracy": 100 * r["accuracy"]}
             for r in results["augmentation"].value["rows"] if r["policy"] != baseline_policy]
    return pd.DataFrame(rows)


def condition_means(results: Mapping[str, StoredResult]) -> pd.DataFrame:
    """Mean test agreement and test accuracy (%) of every distinct condition of the chapter
    (teacher and T; policy; optimiser of the long runs; lambda)."""
    st = student_table(results["teachers"]).reset_index()
    st["condition"] = ["teacher of " + str(m) + ", T=" + format(T, "g") for m, T in zip(st["members"], st["T"])]
    aug = augmentation_table(results["augmentation"]).reset_index()
    aug["condition"] = "policy " + aug["policy"]
    ep = epochs_table(results["epochs"]).reset_index()
    ep["condition"] = "long run, " + ep["optimizer"]
    it = init_table(results["init"]).reset_index()
    it["condition"] = ["lambda " + format(lam, "g") for lam in it["lambda"]]
    out = pd.concat([f[["condition", "test_agreement", "accuracy"]] for f in (st, aug, ep, it)], ignore_index=True)
    return out.drop_duplicates("condition").set_index("condition")


def lambda_jump(result: StoredResult, threshold: float = NEAR_FULL) -> float | None:
    """The smallest lambda whose mean train agreement after distillation reaches ``threshold`` %
    (None if none does)."""
    t = init_table(result)
    hits = [lam for lam, a in t["train_agreement"].items() if a >= threshold]
    return float(min(hits)) if hits else None


def lambda_steps(result: StoredResult) -> pd.DataFrame:
    """Between neighbouring lambdas: the rise in mean train agreement (points), its slope (points
    per unit of lambda) and whether it is clear by the cautious rule."""
    t = init_table(result)
    lams = t.index.to_numpy(dtype=float)
    mean, std = t["train_agreement"].to_numpy(), t["train_agreement std"].to_numpy()
    rows = [{"from": a, "to": b, "rise": mean[i + 1] - mean[i], "slope": (mean[i + 1] - mean[i]) / (b - a),
             "clear": clearly_greater(mean[i + 1], std[i + 1], mean[i], std[i])}
            for i, (a, b) in enumerate(zip(lams, lams[1:]))]
    return pd.DataFrame(rows, columns=["from", "to", "rise", "slope", "clear"])


def correlation_interval(r: float, n: int, z_crit: float = 1.96) -> tuple[float, float]:
    """The approximate 95% interval of a correlation ``r`` over ``n`` points (Fisher's z); (nan, nan)
    for fewer than 4 points."""
    if n < 4 or not math.isfinite(r):
        return float("nan"), float("nan")
    z, half = math.atanh(max(min(r, 0.999999), -0.999999)), z_crit / math.sqrt(n - 3)
    return math.tanh(z - half), math.tanh(z + half)


# ----------------------------------------------------------------------------- headline numbers
def headline(results: Mapping[str, StoredResult], baseline_policy: str = BASELINE_POLICY) -> dict[str, float | str]:
    """The chapter's numbers for the prose and the claims."""
    out: dict[str, float | str] = {}
    for (m, T), row in student_table(results["teachers"]).iterrows():
        key = f"m{m}_T{T:g}"
        for col in ("accuracy", "train_agreement", "test_agreement", "test_kl", "train_kl", "ece"):
            out[f"{key}_{col}"] = float(row[col])
            out[f"{key}_{col}_std"] = float(row[f"{col} std"])
        out[f"{key}_teacher_accuracy"] = float(row["teacher accuracy"])
        out[f"{key}_teacher_accuracy_std"] = float(row["teacher accuracy std"])
        out[f"{key}_teacher_ece"] = float(row["teacher ece"])
        out[f"{key}_gap"] = float(row["accuracy"] - row["teacher accuracy"])
        out[f"{key}_disagree_one_in"] = 100.0 / max(100.0 - float(row["test_agreement"]), 1e-9)
    aug = augmentation_table(results["augmentation"])
    for policy, row in aug.iterrows():
        for col in ("test_agreement", "train_agreement", "accuracy", "ece"):
            out[f"aug_{policy}_{col}"] = float(row[col])
            out[f"aug_{policy}_{col}_std"] = float(row[f"{col} std"])
    out["aug_best_policy_agreement"] = float(aug["test_agreement"].max())
    out["aug_best_policy"] = str(aug["test_agreement"].idxmax())
    seed_curves = _seed_curves(results["epochs"])
    for opt, row in epochs_table(results["epochs"]).iterrows():
        for col in ("train_agreement", "test_agreement", "accuracy"):
            out[f"ep_{opt}_{col}"] = float(row[col])
            out[f"ep_{opt}_{col}_std"] = float(row[f"{col} std"])
        tenth = seed_curves[opt][:, max(seed_curves[opt].shape[1] // 10 - 1, 0)]
        out[f"ep_{opt}_train_agreement_at_tenth"] = float(tenth.mean())
        out[f"ep_{opt}_train_agreement_at_tenth_std"] = float(tenth.std(ddof=1)) if len(tenth) > 1 else 0.0
    out["ep_epochs"] = float(len(results["epochs"].value["curves"][0]["epoch"]))
    for lam, row in init_table(results["init"]).iterrows():
        for col in ("initial_train_agreement", "train_agreement", "test_agreement", "accuracy"):
            out[f"init_{lam:g}_{col}"] = float(row[col])
    jump = lambda_jump(results["init"])
    out["init_jump"] = float("nan") if jump is None else jump
    conditions = condition_means(results)
    out["conditions"] = float(len(conditions))
    out["agreement_accuracy_corr"] = (float(np.corrcoef(conditions["test_agreement"], conditions["accuracy"])[0, 1])
                                      if len(conditions) > 2 else float("nan"))
    pts = scatter_points(results, baseline_policy)
    corr = float(np.corrcoef(pts["test_agreement"], pts["ece"])[0, 1]) if len(pts) > 2 else float("nan")
    out["calibration_corr"] = corr
    out["calibration_points"] = float(len(pts))
    out["calibration_corr_low"], out["calibration_corr_high"] = correlation_interval(corr, len(pts))
    return out


def relation(h: Mapping[str, float], a: str, b: str) -> str:
    """'higher than', 'lower than' or 'indistinguishable from' between two headline numbers with
    stds (keys ``a``, ``a + '_std'``), by the book's cautious rule."""
    return compare(h[a], h.get(f"{a}_std", 0.0), h[b], h.get(f"{b}_std", 0.0))


def _short(relation_words: str) -> str:
    """'higher than' -> 'higher', 'indistinguishable from' -> 'indistinguishable'."""
    return relation_words.rsplit(" ", 1)[0]


def _sizes(h: Mapping[str, float]) -> list[int]:
    """The teacher sizes the headline holds, smallest first."""
    return sorted({int(k[1:].split("_", 1)[0]) for k in h if k.startswith("m") and k.endswith("_test_agreement")})


def _temperatures(h: Mapping[str, float]) -> list[float]:
    return sorted({float(k.split("_")[1][1:]) for k in h if k.startswith("m1_T") and k.endswith("_test_agreement")})


def _lambdas(h: Mapping[str, float]) -> list[float]:
    return sorted(float(k[len("init_"):-len("_train_agreement")]) for k in h
                  if k.startswith("init_") and k.endswith("_train_agreement") and "initial" not in k)


# ----------------------------------------------------------------------------- claims
_T = f"T{PAPER['T']:g}"


def _student_beats_teacher(results: Results):
    h = headline(results)
    k = f"m1_{_T}"
    return relation(h, f"{k}_accuracy", f"{k}_teacher_accuracy") == "higher than", {
        "student_accuracy_pct": h[f"{k}_accuracy"], "student_std": h[f"{k}_accuracy_std"],
        "teacher_accuracy_pct": h[f"{k}_teacher_accuracy"], "teacher_std": h[f"{k}_teacher_accuracy_std"]}


def _disagree_on_train(results: Results):
    h = headline(results)
    a = h[f"m1_{_T}_train_agreement"]
    return a < NEAR_FULL, {"train_agreement_pct": a, "near_full_pct": NEAR_FULL}


def _more_members_higher_agreement(results: Results):
    h = headline(results)
    big = max(_sizes(h))
    a, b = f"m{big}_{_T}_test_agreement", f"m1_{_T}_test_agreement"
    return relation(h, a, b) == "higher than", {"members": big, "agreement_one_pct": h[b],
                                                "agreement_one_std": h[f"{b}_std"],
                                                "agreement_many_pct": h[a], "agreement_many_std": h[f"{a}_std"]}


def _mixup_beats_crop_flip(results: Results):
    h = headline(results)
    a, b = "aug_mixup_test_agreement", "aug_crop_flip_test_agreement"
    return relation(h, a, b) == "higher than", {"mixup_pct": h[a], "mixup_std": h[f"{a}_std"],
                                                "crop_flip_pct": h[b], "crop_flip_std": h[f"{b}_std"]}


def _no_policy_near_full(results: Results):
    h = headline(results)
    best = h["aug_best_policy_agreement"]
    return best < CLOSE_TO_TEACHER, {"best_policy_agreement_pct": best, "close_pct": CLOSE_TO_TEACHER}


def _longer_raises_train_agreement(results: Results):
    h = headline(results)
    end, tenth = "ep_sgd_train_agreement", "ep_sgd_train_agreement_at_tenth"
    holds = relation(h, end, tenth) == "higher than" and h[end] < NEAR_FULL
    return holds, {"sgd_at_a_tenth_pct": h[tenth], "sgd_at_the_end_pct": h[end], "epochs": h["ep_epochs"]}


def _adam_below_sgd(results: Results):
    h = headline(results)
    a, b = "ep_adam_train_agreement", "ep_sgd_train_agreement"
    return relation(h, a, b) == "lower than", {"adam_pct": h[a], "adam_std": h[f"{a}_std"],
                                               "sgd_pct": h[b], "sgd_std": h[f"{b}_std"]}


def _near_start_reaches_full(results: Results):
    t = init_table(results["init"])
    near = t.loc[t.index >= PAPER["lambda_jump"], "train_agreement"]
    jump = lambda_jump(results["init"])
    return bool(len(near) and (near >= NEAR_FULL).all()), {
        "lowest_agreement_from_there_pct": float(near.min()) if len(near) else float("nan"),
        "smallest_lambda_reaching_99pct": float("nan") if jump is None else jump, "paper_lambda": PAPER["lambda_jump"]}


def _t1_above_t4(results: Results):
    h = headline(results)
    low = min(_temperatures(h))
    pairs = [(f"m{m}_T{low:g}_test_agreement", f"m{m}_{_T}_test_agreement") for m in _sizes(h)]
    numbers = {f"teacher_of_{m}_T{low:g}_minus_{_T}_points": h[a] - h[b] for m, (a, b) in zip(_sizes(h), pairs)}
    return all(relation(h, a, b) == "higher than" for a, b in pairs), numbers


def _students_below_teachers(results: Results):
    h = headline(results)
    keys = sorted({k[:-len("_gap")] for k in h if k.startswith("m") and k.endswith("_gap")})
    below = [relation(h, f"{k}_accuracy", f"{k}_teacher_accuracy") == "lower than" for k in keys]
    gaps = [h[f"{k}_gap"] for k in keys]
    return all(below), {"conditions": len(keys), "largest_gap_points": max(gaps), "smallest_gap_points": min(gaps)}


def _no_policy_beats_raw_images(results: Results):
    h = headline(results)
    policies = sorted({k[len("aug_"):-len("_test_agreement")] for k in h
                       if k.startswith("aug_") and k.endswith("_test_agreement") and "best" not in k})
    above = [p for p in policies if p != "none" and relation(h, f"aug_{p}_test_agreement", "aug_none_test_agreement")
             == "higher than"]
    return not above, {"no_augmentation_pct": h["aug_none_test_agreement"], "policies_clearly_above": len(above),
                       "best_policy_agreement_pct": h["aug_best_policy_agreement"]}


def _long_run_short_of_teacher(results: Results):
    h = headline(results)
    best = max(h["ep_sgd_train_agreement"], h["ep_adam_train_agreement"])
    return best < NEAR_FULL, {"sgd_pct": h["ep_sgd_train_agreement"], "adam_pct": h["ep_adam_train_agreement"],
                              "epochs": h["ep_epochs"]}


def _agreement_rises_with_lambda(results: Results):
    steps = lambda_steps(results["init"])
    return bool(len(steps) and steps["clear"].all()), {"steps": len(steps), "clear_steps": int(steps["clear"].sum()),
                                                        "smallest_rise_points": float(steps["rise"].min())}


def _lambda_without_jump(results: Results):
    steps = lambda_steps(results["init"])
    t = init_table(results["init"])
    if len(t) < 2:
        return False, {"steepest_slope": float("nan"), "average_slope": float("nan"), "jump_factor": JUMP_FACTOR}
    lams = t.index.to_numpy(dtype=float)
    mean_slope = (t["train_agreement"].iloc[-1] - t["train_agreement"].iloc[0]) / (lams[-1] - lams[0])
    steepest = float(steps["slope"].max())
    return steepest <= JUMP_FACTOR * mean_slope, {"steepest_slope": steepest, "average_slope": float(mean_slope),
                                                  "jump_factor": JUMP_FACTOR}


def _teacher_start_keeps_agreement(results: Results):
    h = headline(results)
    a = h["init_1_train_agreement"]
    return a >= NEAR_FULL, {"train_agreement_from_the_teacher_pct": a, "near_full_pct": NEAR_FULL}


def _fidelity_tracks_accuracy(results: Results):
    h = headline(results)
    r = h["agreement_accuracy_corr"]
    return bool(r >= STRONG_CORRELATION), {"correlation": r, "conditions": h["conditions"]}


def _fidelity_tracks_calibration(results: Results):
    h = headline(results)
    low, high = h["calibration_corr_low"], h["calibration_corr_high"]
    return bool(low > 0 or high < 0), {"correlation": h["calibration_corr"], "interval_low": low,
                                       "interval_high": high, "students": h["calibration_points"]}


CLAIMS: tuple[Claim, ...] = (
    Claim("ch07.self_distilled_student_beats_teacher",
          "A self-distilled student (teacher of one network) is clearly more accurate than its teacher.",
          "A self-distilled student (teacher of one network) is not clearly more accurate than its teacher.",
          _student_beats_teacher, source="paper"),
    Claim("ch07.students_disagree_on_train_data",
          "Self-distilled students disagree with their teachers even on the training images they were distilled on "
          f"(train agreement below {NEAR_FULL:g}%).",
          f"Self-distilled students agree with their teachers on at least {NEAR_FULL:g}% of the training images.",
          _disagree_on_train, source="paper"),
    Claim("ch07.more_members_higher_test_agreement",
          "A teacher of more members gives clearly higher test agreement (largest teacher vs one network).",
          "A teacher of more members does not give clearly higher test agreement (largest teacher vs one network).",
          _more_members_higher_agreement, source="paper"),
    Claim("ch07.mixup_beats_crop_flip_agreement",
          "Distilling with mixup gives clearly higher test agreement than with crop + flip.",
          "Distilling with mixup does not give clearly higher test agreement than with crop + flip.",
          _mixup_beats_crop_flip, source="paper"),
    Claim("ch07.no_policy_near_full_agreement",
          f"No augmentation policy brings test agreement near 100% (all below {CLOSE_TO_TEACHER:g}%).",
          f"Some augmentation policy brings test agreement to {CLOSE_TO_TEACHER:g}% or more.",
          _no_policy_near_full, source="paper"),
    Claim("ch07.longer_training_raises_train_agreement",
          f"Training longer clearly raises train agreement (SGD, a tenth of the run vs its end), but not to "
          f"{NEAR_FULL:g}%.",
          "Training longer does not clearly raise train agreement (SGD, a tenth of the run vs its end), or it "
          f"reaches {NEAR_FULL:g}%.",
          _longer_raises_train_agreement, source="paper"),
    Claim("ch07.adam_below_sgd_train_agreement",
          "At the end of the long run, Adam students are clearly below SGD students in train agreement.",
          "At the end of the long run, Adam students are not clearly below SGD students in train agreement.",
          _adam_below_sgd, source="paper"),
    Claim("ch07.near_teacher_start_reaches_full_agreement",
          f"Students started at lambda = {PAPER['lambda_jump']:g} or closer to the teacher reach {NEAR_FULL:g}% "
          "train agreement.",
          f"Not every student started at lambda = {PAPER['lambda_jump']:g} or closer to the teacher reaches "
          f"{NEAR_FULL:g}% train agreement.",
          _near_start_reaches_full, source="paper"),
    Claim("ch07.t1_agreement_above_t4",
          f"For every teacher, distilling at T = 1 gives clearly higher test agreement than at T = {PAPER['T']:g}.",
          f"Not for every teacher does distilling at T = 1 give clearly higher test agreement than at "
          f"T = {PAPER['T']:g}.",
          _t1_above_t4),
    Claim("ch07.students_below_teachers",
          "Every student of the first table is clearly less accurate than its teacher.",
          "Not every student of the first table is clearly less accurate than its teacher.",
          _students_below_teachers),
    Claim("ch07.no_policy_beats_raw_images",
          "No augmentation policy gives clearly higher test agreement than distilling on the raw training images.",
          "Some augmentation policy gives clearly higher test agreement than distilling on the raw training images.",
          _no_policy_beats_raw_images),
    Claim("ch07.long_run_short_of_teacher",
          "Even on the images it is distilled on, after the long run, the student does not reproduce its teacher "
          f"(below {NEAR_FULL:g}% train agreement with both optimisers).",
          f"On the images it is distilled on, the long run brings the student to {NEAR_FULL:g}% train agreement "
          "with its teacher.",
          _long_run_short_of_teacher),
    Claim("ch07.agreement_rises_with_lambda",
          "Train agreement after distillation rises clearly at every step of lambda towards the teacher.",
          "Train agreement after distillation does not rise clearly at every step of lambda towards the teacher.",
          _agreement_rises_with_lambda),
    Claim("ch07.lambda_curve_without_jump",
          f"Train agreement rises with lambda without a jump: no step is steeper than {JUMP_FACTOR:g} times the "
          "curve's average slope.",
          f"Train agreement jumps somewhere along lambda: one step is steeper than {JUMP_FACTOR:g} times the "
          "curve's average slope.",
          _lambda_without_jump),
    Claim("ch07.teacher_start_keeps_agreement",
          f"Students started at the teacher itself keep at least {NEAR_FULL:g}% train agreement through "
          "distillation.",
          f"Students started at the teacher itself drift below {NEAR_FULL:g}% train agreement during distillation.",
          _teacher_start_keeps_agreement),
    Claim("ch07.fidelity_tracks_accuracy",
          "Across the chapter's conditions, more faithful students were more accurate (correlation of the condition "
          f"means at least {STRONG_CORRELATION:g}).",
          "Across the chapter's conditions, fidelity and accuracy are not strongly related (correlation of the "
          f"condition means below {STRONG_CORRELATION:g}).",
          _fidelity_tracks_accuracy),
    Claim("ch07.fidelity_tracks_calibration",
          "Across the students, test agreement and ECE are correlated: the correlation's 95% interval excludes zero.",
          "Across the students, the correlation between test agreement and ECE is not distinguishable from zero "
          "(its 95% interval includes zero): fidelity says little about calibration here.",
          _fidelity_tracks_calibration),
)


def outcomes(results: Results) -> list[Outcome]:
    """The chapter's claims evaluated on ``results``."""
    return evaluate(CLAIMS, results)


# ----------------------------------------------------------------------------- sentences
def _pm(h: Mapping[str, float], key: str, digits: int = 1) -> str:
    std = h.get(f"{key}_std")
    return f"{h[key]:.{digits}f}%" + (f" (± {std:.{digits}f})" if std is not None and np.isfinite(std) else "")


def _reading_m1(h: Mapping[str, float], o: Mapping[str, Outcome]) -> str:
    k = f"m1_{_T}"
    return (f"With a teacher of one network (self-distillation), the student reaches {_pm(h, f'{k}_accuracy')} test "
            f"accuracy against its teacher's {_pm(h, f'{k}_teacher_accuracy')}: it is "
            f"{relation(h, f'{k}_accuracy', f'{k}_teacher_accuracy')} its teacher. It agrees with the teacher on "
            f"{_pm(h, f'{k}_test_agreement')} of the test images and on {_pm(h, f'{k}_train_agreement')} of the "
            f"training images it was distilled on; KL(teacher || student) is {h[f'{k}_test_kl']:.3f} nats on test "
            f"and {h[f'{k}_train_kl']:.3f} on train.")


def _reading_paper_m1(h: Mapping[str, float], o: Mapping[str, Outcome]) -> str:
    k = f"m1_{_T}"
    disagree = 100 - h[f"{k}_test_agreement"]
    if o["ch07.self_distilled_student_beats_teacher"].holds:
        return (f"As in the paper, the self-distilled student beats its teacher while disagreeing with it on "
                f"{disagree:.1f}% of the test images.")
    lower = relation(h, f"{k}_accuracy", f"{k}_teacher_accuracy") == "lower than"
    return (f"Unlike in the paper, our self-distilled students do not beat their teacher (student minus teacher: "
            f"{h[f'{k}_gap']:+.1f} points) and disagree with it on {disagree:.1f}% of the test images"
            + (", so here low fidelity comes with lower accuracy." if lower else "."))


def _reading_ensembles(h: Mapping[str, float], o: Mapping[str, Outcome]) -> str:
    k, big = f"m1_{_T}", max(_sizes(h))
    kb = f"m{big}_{_T}"
    return (f"With a teacher of {big} networks (test accuracy {h[f'{kb}_teacher_accuracy']:.1f}%), the student reaches "
            f"{_pm(h, f'{kb}_accuracy')}, {relation(h, f'{kb}_accuracy', f'{kb}_teacher_accuracy')} its teacher, "
            f"and agrees with it on {_pm(h, f'{kb}_test_agreement')} of the test images: its test agreement is "
            f"{relation(h, f'{kb}_test_agreement', f'{k}_test_agreement')} that of the self-distilled student, and "
            f"its test KL is {h[f'{kb}_test_kl']:.3f} against {h[f'{k}_test_kl']:.3f}. The student's accuracy minus "
            f"its teacher's is {h[f'{k}_gap']:+.1f} points with one network and {h[f'{kb}_gap']:+.1f} with {big}.")


def _reading_T(h: Mapping[str, float], o: Mapping[str, Outcome]) -> str:
    low = min(_temperatures(h))
    if low == PAPER["T"]:
        return ""
    parts = [f"teacher of {m}: {h[f'm{m}_T{low:g}_test_agreement']:.1f}% vs {h[f'm{m}_{_T}_test_agreement']:.1f}% "
             f"({_short(relation(h, f'm{m}_T{low:g}_test_agreement', f'm{m}_{_T}_test_agreement'))})"
             for m in _sizes(h)]
    return (f"At T = {low:g} instead of T = {PAPER['T']:g}, test agreement is, " + "; ".join(parts) + ". "
            + o["ch07.t1_agreement_above_t4"].sentence() + " (A comparison reads 'higher' or 'lower' only when the "
            "difference exceeds the two standard deviations added.)")


def _reading_aug(h: Mapping[str, float], o: Mapping[str, Outcome]) -> str:
    policies = sorted({k[len("aug_"):-len("_test_agreement")] for k in h
                       if k.startswith("aug_") and k.endswith("_test_agreement") and "best" not in k})
    base = "aug_crop_flip_test_agreement"
    comps = [f"{p}: {h[f'aug_{p}_test_agreement']:.1f}% ({_short(relation(h, f'aug_{p}_test_agreement', base))})"
             for p in policies if p != "crop_flip"]
    best = h["aug_best_policy"]
    tail = (f" The best still disagrees with the teacher on {100 - h['aug_best_policy_agreement']:.1f}% of the test "
            "images." if o["ch07.no_policy_near_full_agreement"].holds else "")
    return (f"Against the crop + flip baseline ({h[base]:.1f}% test agreement), the policies give " + "; ".join(comps)
            + f". The highest test agreement comes with '{best}' ({h['aug_best_policy_agreement']:.1f}%); in the paper "
            f"it came with mixup. " + o["ch07.no_policy_beats_raw_images"].sentence() + " "
            + o["ch07.no_policy_near_full_agreement"].sentence() + tail)


def _reading_epochs(h: Mapping[str, float], o: Mapping[str, Outcome]) -> str:
    eps = int(h["ep_epochs"])
    return (f"After {eps} epochs, SGD students agree with their teacher on {_pm(h, 'ep_sgd_train_agreement')} of the "
            f"training images and Adam students on {_pm(h, 'ep_adam_train_agreement')}: Adam is "
            f"{relation(h, 'ep_adam_train_agreement', 'ep_sgd_train_agreement')} SGD here (in the paper it was "
            f"worse). A tenth of the way in, train agreement was {h['ep_sgd_train_agreement_at_tenth']:.1f}% (SGD) "
            f"and {h['ep_adam_train_agreement_at_tenth']:.1f}% (Adam). Test agreement at the end: "
            f"{_pm(h, 'ep_sgd_test_agreement')} (SGD), {_pm(h, 'ep_adam_test_agreement')} (Adam). "
            + o["ch07.long_run_short_of_teacher"].sentence())


def _reading_init(h: Mapping[str, float], o: Mapping[str, Outcome], steps: pd.DataFrame) -> str:
    lams = _lambdas(h)
    desc = "; ".join(f"λ = {lam:g}: {h[f'init_{lam:g}_train_agreement']:.1f}% "
                     f"(from {h[f'init_{lam:g}_initial_train_agreement']:.1f}% at the start)" for lam in lams)
    jump = h["init_jump"]
    reach = (f"The smallest λ whose students reach {NEAR_FULL:g}% train agreement is {jump:g} (paper: a jump at "
             f"{PAPER['lambda_jump']:g})." if np.isfinite(jump) else
             f"No λ brings the students to {NEAR_FULL:g}% train agreement (paper: from {PAPER['lambda_jump']:g}).")
    steep = steps.loc[steps["slope"].idxmax()] if len(steps) else None
    average = o["ch07.lambda_curve_without_jump"].numbers["average_slope"]
    slope = (" " if steep is None else
             f" The steepest step is from λ = {steep['from']:g} to {steep['to']:g}: {steep['rise']:.1f} points, "
             f"{steep['slope']:.0f} points per unit of λ, against {average:.0f} on average over the whole curve. ")
    return ("Train agreement after distillation, by starting point: " + desc + ". " + reach + slope
            + o["ch07.agreement_rises_with_lambda"].sentence() + " " + o["ch07.lambda_curve_without_jump"].sentence()
            + f" Test agreement goes from {h[f'init_{lams[0]:g}_test_agreement']:.1f}% at λ = {lams[0]:g} to "
            f"{h[f'init_{lams[-1]:g}_test_agreement']:.1f}% at λ = {lams[-1]:g}.")


def _reading_calibration(h: Mapping[str, float], o: Mapping[str, Outcome]) -> str:
    return (f"Across the {int(h['calibration_points'])} students the correlation between test agreement and ECE is "
            f"{h['calibration_corr']:+.2f} (95% interval {h['calibration_corr_low']:+.2f} to "
            f"{h['calibration_corr_high']:+.2f}; the interval treats the students as independent, though three seeds "
            "share each condition, so it is if anything too narrow). "
            + o["ch07.fidelity_tracks_calibration"].sentence())


def _reading_together(h: Mapping[str, float], o: Mapping[str, Outcome]) -> str:
    r = h["agreement_accuracy_corr"]
    explain = (" Every student of the first table is clearly less accurate than its teacher, so moving towards the "
               "teacher is moving towards a more accurate model."
               if o["ch07.fidelity_tracks_accuracy"].holds and o["ch07.students_below_teachers"].holds else "")
    return (f"Across the {int(h['conditions'])} conditions of this chapter (teachers and temperatures, policies, long "
            f"runs, starting points), mean test agreement and mean test accuracy have a correlation of {r:+.2f}. "
            + o["ch07.fidelity_tracks_accuracy"].sentence() + explain)


def readings(results: Mapping[str, StoredResult], baseline_policy: str = BASELINE_POLICY) -> dict[str, str]:
    """The chapter's findings as sentences computed from the numbers and the claims' outcomes
    (comparisons by the book's cautious rule), so the text stays true for whatever a run measured."""
    h = headline(results, baseline_policy)
    o = by_id(outcomes(results))
    return {"reading_m1": _reading_m1(h, o), "reading_paper_m1": _reading_paper_m1(h, o),
            "reading_ensembles": _reading_ensembles(h, o), "reading_T": _reading_T(h, o),
            "reading_aug": _reading_aug(h, o), "reading_epochs": _reading_epochs(h, o),
            "reading_init": _reading_init(h, o, lambda_steps(results["init"])),
            "reading_calibration": _reading_calibration(h, o), "reading_together": _reading_together(h, o)}


def paper_values() -> dict[str, float]:
    """The paper's numbers the prose quotes, flat (ImageNet agreement per teacher size as ``imagenet_<m>``)."""
    flat = {k: v for k, v in PAPER.items() if not isinstance(v, dict)}
    flat.update({f"imagenet_{m}": a for m, a in PAPER["imagenet_test_agreement"].items()})
    return flat


def glue_values(results: Mapping[str, StoredResult], baseline_policy: str = BASELINE_POLICY) -> dict[str, float | str]:
    """Every number and sentence the page glues, named ``ch07_*``."""
    h = headline(results, baseline_policy)
    paper_outcomes = [o for o in outcomes(results) if o.source == "paper"]
    return {**{f"ch07_{k}": v for k, v in h.items()},
            **{f"ch07_{k}": v for k, v in readings(results, baseline_policy).items()},
            **{f"ch07_paper_{k}": v for k, v in paper_values().items()},
            "ch07_subset": results["epochs"].value["subset"],
            "ch07_paper_claims_hold": sum(o.holds for o in paper_outcomes), "ch07_paper_claims": len(paper_outcomes),
            "ch07_run_time": run_time_sentence(results)}


# ----------------------------------------------------------------------------- tables beside the paper
def ours_vs_paper(h: Mapping[str, float]) -> pd.DataFrame:
    """The paper's numbers beside ours (agreement in %, KL in nats)."""
    rows = []
    for m in _sizes(h):
        rows.append({"quantity": f"test agreement, teacher of {m} (ImageNet in the paper)",
                     "paper": PAPER["imagenet_test_agreement"].get(m, np.nan), "ours": h[f"m{m}_{_T}_test_agreement"]})
        rows.append({"quantity": f"test KL(teacher || student), teacher of {m}",
                     "paper": PAPER["imagenet_test_kl"].get(m, np.nan), "ours": h[f"m{m}_{_T}_test_kl"]})
    rows.append({"quantity": "test agreement, crop + flip (CIFAR-100 in the paper)",
                 "paper": PAPER["test_agreement_crop_flip"], "ours": h["aug_crop_flip_test_agreement"]})
    rows.append({"quantity": "test agreement, mixup", "paper": PAPER["test_agreement_mixup"],
                 "ours": h["aug_mixup_test_agreement"]})
    rows.append({"quantity": "train agreement at the end of a long run, SGD (paper: 300 epochs; "
                             f"5,000 epochs: {PAPER['train_agreement_5000_epochs']:g})",
                 "paper": PAPER["train_agreement_300_epochs"], "ours": h["ep_sgd_train_agreement"]})
    rows.append({"quantity": "train agreement at the end of a long run, Adam (paper: lower than SGD)",
                 "paper": np.nan, "ours": h["ep_adam_train_agreement"]})
    rows.append({"quantity": f"smallest lambda reaching {NEAR_FULL:g}% train agreement", "paper": PAPER["lambda_jump"],
                 "ours": h["init_jump"]})
    return pd.DataFrame(rows).set_index("quantity")


# ----------------------------------------------------------------------------- figures
def fidelity_figure(table: pd.DataFrame, temperatures):
    """Left: per teacher (at the first temperature), the teacher's and the student's test accuracy
    and their agreement. Right: every student by its test agreement and its accuracy minus its teacher's."""
    T0 = temperatures[0]
    t0 = table.xs(T0, level="T")
    x = np.arange(len(t0))
    fig, axes = plots.figure(ncols=2, width=12, height=3.6)
    ax = axes[0]
    for j, (col, name) in enumerate((("teacher accuracy", "teacher accuracy"), ("accuracy", "student accuracy"),
                                     ("test_agreement", "student-teacher agreement"))):
        ax.bar(x + (j - 1) * 0.27, t0[col], width=0.27, yerr=t0[f"{col} std"], capsize=3, label=name,
               color=plots.PALETTE[j])
    ax.set_xticks(x, [f"teacher of {m}" for m in t0.index])
    ax.set_ylabel("test split (%)")
    ax.set_ylim(max(0, min(t0[["teacher accuracy", "accuracy", "test_agreement"]].to_numpy().min() - 8, 90)), 100)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"accuracy and agreement (T = {T0:g})")
    ax = axes[1]
    for j, T in enumerate(temperatures):
        tt = table.xs(T, level="T")
        gap = tt["accuracy"] - tt["teacher accuracy"]
        ax.errorbar(tt["test_agreement"], gap, xerr=tt["test_agreement std"], yerr=tt["accuracy std"], fmt="o",
                    capsize=3, color=plots.PALETTE[j], label=f"T = {T:g}")
        for m, a, g in zip(tt.index, tt["test_agreement"], gap):
            ax.annotate(f"{m}", (a, g), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("test agreement with the teacher (%)")
    ax.set_ylabel("student minus teacher accuracy (points)")
    ax.set_title("labels: members in the teacher")
    ax.legend(fontsize=8)
    return fig


def augmentation_figure(aug: pd.DataFrame):
    """Per policy: test agreement (with the paper's two lines) and student accuracy."""
    fig, axes = plots.figure(ncols=2, width=12, height=3.4)
    plots.bars(list(aug.index), aug["test_agreement"], errors=aug["test_agreement std"], ylabel="test agreement (%)",
               title="fidelity on the test split", ax=axes[0])
    for name, key, ls in (("paper: crop + flip", "test_agreement_crop_flip", "--"),
                          ("paper: mixup", "test_agreement_mixup", ":")):
        axes[0].axhline(PAPER[key], color="grey", ls=ls, lw=1, label=name)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[0].set_ylim(max(0, min(aug["test_agreement"].min(), PAPER["test_agreement_crop_flip"]) - 8), 100)
    plots.bars(list(aug.index), aug["accuracy"], errors=aug["accuracy std"], ylabel="test accuracy (%)",
               title="student accuracy", ax=axes[1])
    axes[1].set_ylim(max(0, aug["accuracy"].min() - 8), min(100, aug["accuracy"].max() + 4))
    return fig


def epochs_figure(result: StoredResult):
    """Train agreement per epoch of the long runs, one line per optimiser (mean over seeds)."""
    curves = epochs_curves(result)
    fig, axes = plots.figure(ncols=1, width=7.5, height=3.6)
    plots.lines(curves["epoch"], {opt: c for opt, c in curves.items() if opt != "epoch"}, xlabel="epoch",
                ylabel="train agreement (%)", title=f"self-distillation on {result.value['subset']} images",
                ax=axes[0])
    axes[0].axhline(100, color="grey", lw=0.8, ls="--")
    return fig


def init_figure(init: pd.DataFrame):
    """Agreement after distillation (train, test) and at initialisation, against lambda, with the paper's jump."""
    fig, axes = plots.figure(ncols=1, width=7.5, height=3.6)
    plots.lines(init.index.to_numpy(), {"after distillation, train": init["train_agreement"],
                                        "after distillation, test": init["test_agreement"],
                                        "at initialisation, train": init["initial_train_agreement"]},
                spread={"after distillation, train": init["train_agreement std"]},
                xlabel="lambda (share of the teacher's weights at the start)", ylabel="agreement (%)", ax=axes[0])
    axes[0].axvline(PAPER["lambda_jump"], color="grey", ls=":", lw=1)
    axes[0].text(PAPER["lambda_jump"], 50, " paper's jump", fontsize=8, color="grey")
    return fig


def calibration_figure(pts: pd.DataFrame):
    """Every student of :func:`scatter_points` by its test agreement and ECE, marked by its source."""
    fig, axes = plots.figure(ncols=1, width=9.5, height=4)
    ax = axes[0]
    markers, seen = {"teacher": "o", "policy": "s"}, {}
    for src, g in pts.groupby("source", sort=False):
        kind = src.split()[0]
        j = seen[kind] = seen.get(kind, -1) + 1
        ax.scatter(g["test_agreement"], g["ece"], s=28, color=plots.PALETTE[j % len(plots.PALETTE)], label=src,
                   marker=markers[kind], edgecolor="black", linewidth=0.4)
    ax.set_xlabel("test agreement with the teacher (%)")
    ax.set_ylabel("student ECE (test)")
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig
