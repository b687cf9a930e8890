"""Chapter 7 read from its stored results: the teachers' reports, the independent-agreement
baseline, accuracy and fidelity per teacher, augmentation policy, long run and starting point; the
paper's numbers; the chapter's claims and the sentences its page glues.

Everything here reads the six parts that ``kdbook.experiments.ch07_fidelity.run`` stores
(``baseline``, ``fidelity``, ``temperature``, ``augmentation``, ``long``, ``init``); nothing is trained. Agreement
and accuracy are shown in %, KL in nats, ECE as a fraction. Comparisons between conditions of one
seed index are paired (the students of a seed index share their seed and their teacher's
members) and read by the paired cautious rule (:func:`kdbook.reports.common.paired_relation`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .. import plots
from ..claims import Claim, Outcome, Results, by_id, evaluate
from ..store import StoredResult
from .common import paired_relation, plural, run_time_sentence

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
#: Training accuracy (%) the chapter calls fitting the training data.
FITS = 99.0
#: A step of the lambda curve counts as a jump when its slope exceeds this many times the
#: curve's average slope.
JUMP_FACTOR = 2.0
_PCT = ("accuracy", "val_accuracy", "train_agreement", "val_agreement", "test_agreement", "initial_train_agreement",
        "train_accuracy", "test_accuracy", "teacher_train_accuracy", "teacher_test_accuracy")


# ----------------------------------------------------------------------------- small helpers
def _percent(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in df.columns:
        if col in _PCT or col.startswith("agreement_teacher_"):
            df[col] = df[col] * 100
    return df


def _mean_std(df: pd.DataFrame, by: list[str], cols: list[str]) -> pd.DataFrame:
    g = df.groupby(by, sort=False)
    out = g[cols].mean()
    std = g[cols].std(ddof=1).fillna(0.0).add_suffix(" std")
    return out.join(std)[[c for col in cols for c in (col, f"{col} std")]]


def paired(a, b) -> dict[str, float | str]:
    """The paired differences a - b (points when a and b are in %): mean, standard deviation, and
    the paired cautious rule's word ('higher than', 'lower than', 'indistinguishable from')."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return {"mean": float(d.mean()), "std": float(d.std(ddof=1)) if len(d) > 1 else 0.0, "n": len(d),
            "relation": paired_relation(d)}


def _pm(mean: float, std: float, digits: int = 1, unit: str = "%") -> str:
    return f"{mean:.{digits}f}{unit} ± {std:.{digits}f}"


def _signed(p: Mapping, digits: int = 2) -> str:
    return f"{p['mean']:+.{digits}f} ± {p['std']:.{digits}f} points"


def correlation_interval(r: float, n: int, z_crit: float = 1.96) -> tuple[float, float]:
    """The approximate 95% interval of a correlation ``r`` over ``n`` points (Fisher's z); (nan, nan)
    for fewer than 4 points."""
    if n < 4 or not math.isfinite(r):
        return float("nan"), float("nan")
    z, half = math.atanh(max(min(r, 0.999999), -0.999999)), z_crit / math.sqrt(n - 3)
    return math.tanh(z - half), math.tanh(z + half)


def tail_rise(curve, share: float = 0.1) -> float:
    """Points gained over a per-epoch curve's (fractions) last ``share`` of epochs (at least two)."""
    tail = max(2, int(len(curve) * share))
    return float(100 * (curve[-1] - curve[-1 - tail])) if len(curve) > tail else float("nan")


# ----------------------------------------------------------------------------- tables
def settings_table(results: Mapping[str, StoredResult], teacher_sizes, T: float, policies) -> pd.DataFrame:
    """The settings a reader needs to place the numbers, one row each, read from the stored results."""
    from .tables import cell

    fid, base, long, init = (results[k].value for k in ("fidelity", "baseline", "long", "init"))
    return pd.DataFrame({"value": {
        "data": fid["dataset"],
        "teachers": f"the first {cell(tuple(teacher_sizes))} members of each of chapter 5's ensembles",
        "members' training": f"{fid['epochs']['members']} epochs of SGD (chapter 5's recipe), no augmentation",
        "students": f"pure distillation at T = {T:g}, {fid['epochs']['students']} epochs, lr {fid['student_lr']:g} "
                    "(chosen on validation agreement)",
        "label-trained twin": f"the students' recipe and seed on labels, lr {base['twin_lr']:g} (chosen on "
                              "validation accuracy)",
        "augmentation study": ", ".join(policies),
        "long run": f"{long['epochs']} epochs on all training images",
        "starting points": f"{init['epochs']} epochs on {init['subset']:,} training images",
        "seed indices": cell(tuple(r["seed"] for r in base["twins"]))}}).rename_axis("setting")


def teacher_report_table(result: StoredResult) -> pd.DataFrame:
    """Each teacher size's report: train / val / test accuracy (%), the twin's validation accuracy
    and the teacher's validation advantage over it (points), mean ± std over seeds."""
    rows = []
    for r in result.value["teacher_reports"]:
        rows.append({"teacher": f"{r['members']} member" + ("s" if r["members"] > 1 else ""),
                     "train": 100 * r["train_accuracy"], "val": 100 * r["val_accuracy"],
                     "test": 100 * r["test_accuracy"], "test std": 100 * r["test_accuracy_std"],
                     "twin val": 100 * r["student_val_accuracy"], "val advantage": 100 * r["val_advantage"],
                     "val advantage std": 100 * r["val_advantage_std"],
                     "advantage": "clear" if r["has_advantage"] else "none"})
    return pd.DataFrame(rows).set_index("teacher")


def pair_agreements(result: StoredResult) -> pd.DataFrame:
    """Agreement (%) of every pair of independently trained members, per split."""
    return _percent(pd.DataFrame(result.value["pairs"]))


def baseline_table(result: StoredResult) -> pd.DataFrame:
    """How often independently trained networks agree (%, mean ± std): two of chapter 5's members,
    and the students' label-trained twin with each teacher, on train, validation and test."""
    pairs = pair_agreements(result)
    rows = [{"pair": f"two members ({plural(len(pairs), 'pair')})",
             **{s: pairs[f"{s}_agreement"].mean() for s in ("train", "val", "test")},
             "test std": pairs["test_agreement"].std(ddof=1)}]
    twins = _percent(pd.DataFrame(result.value["twins"]))
    sizes = [r["members"] for r in result.value["teacher_reports"]]
    for m in sizes:
        cols = {s: f"agreement_teacher_{m}_{s}" for s in ("train", "val", "test")}
        rows.append({"pair": f"label-trained twin and teacher of {m}", **{s: twins[c].mean() for s, c in cols.items()},
                     "test std": twins[cols["test"]].std(ddof=1)})
    return pd.DataFrame(rows).set_index("pair")


def teacher_table(result: StoredResult) -> pd.DataFrame:
    """Teachers of 1/3/5 members: train and test accuracy (%) and ECE, mean and std over seeds."""
    df = _percent(pd.DataFrame(result.value["teachers"]))
    return _mean_std(df, ["members"], ["train_accuracy", "accuracy", "ece"])


def student_table(result: StoredResult) -> pd.DataFrame:
    """Students per teacher size: accuracy, agreement and KL on train and test, ECE; mean and std
    over seeds; the teacher's accuracy (with its std) and ECE beside them."""
    df = _percent(pd.DataFrame(result.value["students"]))
    out = _mean_std(df, ["members"], ["accuracy", "train_agreement", "test_agreement", "train_kl", "test_kl", "ece"])
    teachers = teacher_table(result)
    out.insert(0, "teacher accuracy", teachers["accuracy"].to_numpy())
    out.insert(1, "teacher accuracy std", teachers["accuracy std"].to_numpy())
    out.insert(2, "teacher ece", teachers["ece"].to_numpy())
    return out


def temperature_table(results: Mapping[str, StoredResult]) -> pd.DataFrame:
    """The one-member teacher's students per temperature (the first table's T and the others):
    accuracy, train and test agreement, test KL, ECE; mean and std over seeds."""
    fid = [{**r, "T": results["fidelity"].value["T"]} for r in results["fidelity"].value["students"]
           if r["members"] == 1]
    df = _percent(pd.DataFrame(fid + list(results["temperature"].value["rows"])))
    return _mean_std(df, ["T"], ["accuracy", "train_agreement", "test_agreement", "test_kl", "ece"]).sort_index()


def augmentation_table(result: StoredResult) -> pd.DataFrame:
    """Per policy: the teacher (the policy it was trained under, its train and test accuracy) and
    the student (test and train agreement, test KL, accuracy, ECE), with the paper's test agreement."""
    df = _percent(pd.DataFrame(result.value["rows"]))
    out = _mean_std(df, ["policy"], ["test_agreement", "train_agreement", "test_kl", "accuracy", "ece"])
    t = _percent(pd.DataFrame(result.value["teachers"]))
    tm = t.groupby("policy", sort=False).agg(trained_under=("trained_under", "first"),
                                             teacher_train=("train_accuracy", "mean"),
                                             teacher_test=("test_accuracy", "mean"))
    out.insert(0, "teacher trained under", tm.loc[out.index, "trained_under"].to_numpy())
    out.insert(1, "teacher train accuracy", tm.loc[out.index, "teacher_train"].to_numpy())
    out.insert(2, "teacher test accuracy", tm.loc[out.index, "teacher_test"].to_numpy())
    paper = {"mixup": PAPER["test_agreement_mixup"], "crop_flip": PAPER["test_agreement_crop_flip"]}
    out["paper test agreement"] = [paper.get(p, np.nan) for p in out.index]
    return out


def long_curves(result: StoredResult) -> np.ndarray:
    """(seeds, epochs) train agreement (%) of the long runs."""
    return 100 * np.stack([np.asarray(r["train_agreement_curve"]) for r in result.value["rows"]])


def long_table(result: StoredResult) -> pd.DataFrame:
    """Per seed index, at the end of the long run: train and test agreement, train KL, accuracy,
    the last tenth's rise and the convergence verdict."""
    rows = [{"seed": r["seed"], "train agreement": 100 * r["train_agreement"],
             "test agreement": 100 * r["test_agreement"], "train kl": r["train_kl"], "accuracy": 100 * r["accuracy"],
             "rise over the last tenth (points)": tail_rise(r["train_agreement_curve"]),
             "converged": bool(r["converged"])} for r in result.value["rows"]]
    return pd.DataFrame(rows).set_index("seed")


def init_table(result: StoredResult) -> pd.DataFrame:
    """Per lambda: agreement at initialisation and after distillation (train, test), accuracy,
    and how many of its runs had converged."""
    df = _percent(pd.DataFrame(result.value["rows"]))
    out = _mean_std(df, ["lambda"], ["initial_train_agreement", "train_agreement", "test_agreement", "train_kl",
                                     "accuracy"])
    conv = df.groupby("lambda", sort=False)["converged"]
    out["converged runs"] = [f"{int(c.sum())} of {len(c)}" for _, c in conv]
    return out


def lambda_steps(result: StoredResult) -> pd.DataFrame:
    """Between neighbouring lambdas: the rise in mean train agreement (points), its slope (points
    per unit of lambda) and whether it is clear by the paired cautious rule."""
    df = _percent(pd.DataFrame(result.value["rows"]))
    wide = df.pivot(index="seed", columns="lambda", values="train_agreement")
    lams = [float(x) for x in wide.columns]
    rows = []
    for a, b in zip(lams, lams[1:]):
        p = paired(wide[b], wide[a])
        rows.append({"from": a, "to": b, "rise": p["mean"], "slope": p["mean"] / (b - a),
                     "clear": p["relation"] == "higher than"})
    return pd.DataFrame(rows, columns=["from", "to", "rise", "slope", "clear"])


def scatter_points(results: Mapping[str, StoredResult]) -> pd.DataFrame:
    """Every distinct student with its test agreement (%), ECE and accuracy, labelled by its source
    (the augmentation study's 'none' students are the one-member students of the first table)."""
    rows = [{"source": f"teacher of {r['members']}", "test_agreement": 100 * r["test_agreement"],
             "ece": r["ece"], "accuracy": 100 * r["accuracy"]} for r in results["fidelity"].value["students"]]
    rows += [{"source": f"policy {r['policy']}", "test_agreement": 100 * r["test_agreement"], "ece": r["ece"],
              "accuracy": 100 * r["accuracy"]} for r in results["augmentation"].value["rows"] if r["policy"] != "none"]
    rows += [{"source": f"teacher of 1, T = {r['T']:g}", "test_agreement": 100 * r["test_agreement"],
              "ece": r["ece"], "accuracy": 100 * r["accuracy"]} for r in results["temperature"].value["rows"]]
    rows += [{"source": "long run", "test_agreement": 100 * r["test_agreement"], "ece": r["ece"],
              "accuracy": 100 * r["accuracy"]} for r in results["long"].value["rows"]]
    return pd.DataFrame(rows)


def condition_means(results: Mapping[str, StoredResult]) -> pd.DataFrame:
    """Mean test agreement and test accuracy (%) of every distinct condition of the chapter
    (teacher size; policy; long run; lambda)."""
    pts = scatter_points(results)
    out = pts.groupby("source", sort=False)[["test_agreement", "accuracy"]].mean()
    it = init_table(results["init"])
    lam = pd.DataFrame({"test_agreement": it["test_agreement"].to_numpy(), "accuracy": it["accuracy"].to_numpy()},
                       index=[f"lambda {x:g}" for x in it.index])
    return pd.concat([out, lam]).rename_axis("condition")


# ----------------------------------------------------------------------------- headline numbers
def _by_seed(rows, key: str, where: Mapping | None = None) -> list[float]:
    where = where or {}
    return [100 * r[key] for r in sorted(rows, key=lambda r: r["seed"]) if all(r[k] == v for k, v in where.items())]


def headline(results: Mapping[str, StoredResult]) -> dict[str, float | str]:
    """The chapter's numbers for the prose and the claims (paired differences in points)."""
    base, fid, aug, long, init = (results[k].value for k in ("baseline", "fidelity", "augmentation", "long", "init"))
    out: dict[str, float | str] = {}
    sizes = [r["members"] for r in base["teacher_reports"]]
    out["sizes"] = ", ".join(str(m) for m in sizes)
    out["largest"] = float(max(sizes))
    for r in base["teacher_reports"]:
        m = r["members"]
        for k in ("train_accuracy", "val_accuracy", "test_accuracy", "val_advantage"):
            out[f"teacher{m}_{k}"] = 100 * r[k]
            out[f"teacher{m}_{k}_std"] = 100 * r[f"{k}_std"]
        out[f"teacher{m}_has_advantage"] = float(r["has_advantage"])
    out["twin_val_accuracy"] = 100 * base["teacher_reports"][0]["student_val_accuracy"]
    out["member_train_accuracy_min"] = 100 * min(base["member_train_accuracy"])
    pairs = pair_agreements(results["baseline"])
    for split in ("train", "test"):
        out[f"pairs_{split}_agreement"] = float(pairs[f"{split}_agreement"].mean())
        out[f"pairs_{split}_agreement_std"] = float(pairs[f"{split}_agreement"].std(ddof=1))
    out["pairs"] = float(len(pairs))
    twins = sorted(base["twins"], key=lambda r: r["seed"])
    out["twin_test_accuracy"] = float(np.mean([100 * t["test_accuracy"] for t in twins]))
    for m in sizes:
        tw = [100 * t[f"agreement_teacher_{m}_test"] for t in twins]
        st = _by_seed(fid["students"], "test_agreement", {"members": m})
        out[f"twin_m{m}_test_agreement"] = float(np.mean(tw))
        p = paired(st, tw)
        out[f"m{m}_minus_twin_agreement"], out[f"m{m}_minus_twin_agreement_std"] = p["mean"], p["std"]
        out[f"m{m}_minus_twin_relation"] = p["relation"]
    table = student_table(results["fidelity"])
    for m, row in table.iterrows():
        for col in ("accuracy", "train_agreement", "test_agreement", "test_kl", "train_kl", "ece"):
            out[f"m{m}_{col}"] = float(row[col])
            out[f"m{m}_{col}_std"] = float(row[f"{col} std"])
        out[f"m{m}_teacher_accuracy"] = float(row["teacher accuracy"])
        out[f"m{m}_teacher_ece"] = float(row["teacher ece"])
        acc = _by_seed(fid["students"], "accuracy", {"members": m})
        tacc = _by_seed(fid["teachers"], "accuracy", {"members": m})
        p = paired(acc, tacc)
        out[f"m{m}_gap"], out[f"m{m}_gap_std"], out[f"m{m}_gap_relation"] = p["mean"], p["std"], p["relation"]
        out[f"m{m}_disagree_one_in"] = 100.0 / max(100.0 - float(row["test_agreement"]), 1e-9)
    big = int(max(sizes))
    p = paired(_by_seed(fid["students"], "test_agreement", {"members": big}),
               _by_seed(fid["students"], "test_agreement", {"members": 1}))
    out["more_members_agreement"], out["more_members_agreement_std"] = p["mean"], p["std"]
    out["more_members_relation"] = p["relation"]
    rises = [tail_rise(r["val_agreement_curve"]) for r in fid["students"]]
    out["students_largest_tail_rise"] = float(np.nanmax(rises))
    out["student_epochs"] = float(fid["epochs"]["students"])
    out["member_epochs"] = float(fid["epochs"]["members"])
    out["student_lr"] = float(fid["student_lr"])
    # temperature
    T0 = fid["T"]
    out["T"] = float(T0)
    m1 = _by_seed(fid["students"], "test_agreement", {"members": 1})
    m1_train = _by_seed(fid["students"], "train_agreement", {"members": 1})
    others = sorted({r["T"] for r in results["temperature"].value["rows"]})
    out["other_T"] = ", ".join(f"{x:g}" for x in others)
    for T in others:
        te = _by_seed(results["temperature"].value["rows"], "test_agreement", {"T": T})
        tr = _by_seed(results["temperature"].value["rows"], "train_agreement", {"T": T})
        tw = [100 * t[f"agreement_teacher_1_test"] for t in twins]
        key = f"T{T:g}"
        out[f"{key}_test_agreement"], out[f"{key}_train_agreement"] = float(np.mean(te)), float(np.mean(tr))
        p = paired(te, m1)
        out[f"{key}_minus_T{T0:g}"], out[f"{key}_minus_T{T0:g}_std"], out[f"{key}_relation"] = (
            p["mean"], p["std"], p["relation"])
        p = paired(te, tw)
        out[f"{key}_minus_twin"], out[f"{key}_minus_twin_std"], out[f"{key}_twin_relation"] = (
            p["mean"], p["std"], p["relation"])
        p = paired(tr, m1_train)
        out[f"{key}_train_minus_T{T0:g}"] = p["mean"]
    # augmentation
    at = augmentation_table(results["augmentation"])
    for policy, row in at.iterrows():
        for col in ("test_agreement", "train_agreement", "accuracy", "ece", "teacher train accuracy",
                    "teacher test accuracy"):
            key = col.replace(" ", "_")
            out[f"aug_{policy}_{key}"] = float(row[col])
            if f"{col} std" in row:
                out[f"aug_{policy}_{key}_std"] = float(row[f"{col} std"])
    out["aug_best_policy"] = str(at["test_agreement"].idxmax())
    out["aug_best_policy_agreement"] = float(at["test_agreement"].max())
    none = _by_seed(aug["rows"], "test_agreement", {"policy": "none"})
    for policy in at.index:
        if policy != "none":
            p = paired(_by_seed(aug["rows"], "test_agreement", {"policy": policy}), none)
            out[f"aug_{policy}_minus_none"], out[f"aug_{policy}_minus_none_std"] = p["mean"], p["std"]
            out[f"aug_{policy}_relation"] = p["relation"]
    if {"mixup", "crop_flip"} <= set(at.index):
        p = paired(_by_seed(aug["rows"], "test_agreement", {"policy": "mixup"}),
                   _by_seed(aug["rows"], "test_agreement", {"policy": "crop_flip"}))
        out["mixup_minus_crop_flip"], out["mixup_minus_crop_flip_std"] = p["mean"], p["std"]
        out["mixup_minus_crop_flip_relation"] = p["relation"]
    # long run
    curves = long_curves(results["long"])
    tenth = curves[:, max(curves.shape[1] // 10 - 1, 0)]
    out["long_epochs"] = float(long["epochs"])
    out["long_train_agreement"], out["long_train_agreement_std"] = float(curves[:, -1].mean()), float(
        curves[:, -1].std(ddof=1)) if len(curves) > 1 else 0.0
    out["long_train_agreement_at_tenth"] = float(tenth.mean())
    p = paired(curves[:, -1], tenth)
    out["long_gain_after_tenth"], out["long_gain_after_tenth_std"], out["long_gain_relation"] = (
        p["mean"], p["std"], p["relation"])
    lt = _by_seed(long["rows"], "test_agreement")
    out["long_test_agreement"] = float(np.mean(lt))
    out["long_accuracy"] = float(np.mean(_by_seed(long["rows"], "accuracy")))
    p = paired(lt, _by_seed(fid["students"], "test_agreement", {"members": 1}))
    out["long_minus_patient_test_agreement"], out["long_minus_patient_test_agreement_std"] = p["mean"], p["std"]
    out["long_minus_patient_relation"] = p["relation"]
    out["long_converged"] = float(sum(bool(r["converged"]) for r in long["rows"]))
    out["long_runs"] = float(len(long["rows"]))
    out["long_last_tenth_rise"] = float(np.nanmax([tail_rise(r["train_agreement_curve"]) for r in long["rows"]]))
    # starting points
    it = init_table(results["init"])
    for lam, row in it.iterrows():
        for col in ("initial_train_agreement", "train_agreement", "test_agreement", "accuracy"):
            out[f"init_{lam:g}_{col}"] = float(row[col])
    hits = [lam for lam, a in it["train_agreement"].items() if a >= NEAR_FULL]
    out["init_jump"] = float(min(hits)) if hits else float("nan")
    out["init_converged"] = float(sum(bool(r["converged"]) for r in init["rows"]))
    out["init_runs"] = float(len(init["rows"]))
    out["init_epochs"] = float(init["epochs"])
    out["init_subset"] = float(init["subset"])
    # across conditions
    conditions = condition_means(results)
    out["conditions"] = float(len(conditions))
    out["agreement_accuracy_corr"] = (float(np.corrcoef(conditions["test_agreement"], conditions["accuracy"])[0, 1])
                                      if len(conditions) > 2 else float("nan"))
    out["agreement_accuracy_corr_low"], out["agreement_accuracy_corr_high"] = correlation_interval(
        out["agreement_accuracy_corr"], len(conditions))
    pts = scatter_points(results)
    corr = float(np.corrcoef(pts["test_agreement"], pts["ece"])[0, 1]) if len(pts) > 2 else float("nan")
    out["calibration_corr"], out["calibration_points"] = corr, float(len(pts))
    out["calibration_corr_low"], out["calibration_corr_high"] = correlation_interval(corr, len(pts))
    return out


# ----------------------------------------------------------------------------- claims
def _h(results: Results) -> dict:
    return headline(results)


def _teachers_fit(results: Results):
    h = _h(results)
    sizes = [int(x) for x in h["sizes"].split(", ")]
    lowest = min(h[f"teacher{m}_train_accuracy"] for m in sizes)
    return lowest >= FITS, {"lowest_teacher_train_accuracy_pct": lowest, "fits_pct": FITS}


def _teacher_advantage(results: Results):
    h = _h(results)
    m = int(h["largest"])
    return bool(h[f"teacher{m}_has_advantage"]), {
        "members": m, "val_advantage_points": h[f"teacher{m}_val_advantage"],
        "std": h[f"teacher{m}_val_advantage_std"]}


def _beats_independent(results: Results):
    h = _h(results)
    holds = h["m1_minus_twin_relation"] == "higher than" and h["m1_test_agreement"] > h["pairs_test_agreement"]
    return holds, {"student_test_agreement_pct": h["m1_test_agreement"],
                   "twin_test_agreement_pct": h["twin_m1_test_agreement"],
                   "student_minus_twin_points": h["m1_minus_twin_agreement"],
                   "std": h["m1_minus_twin_agreement_std"], "member_pairs_pct": h["pairs_test_agreement"]}


def _every_student_beats_twin(results: Results):
    h = _h(results)
    sizes = [int(x) for x in h["sizes"].split(", ")]
    return all(h[f"m{m}_minus_twin_relation"] == "higher than" for m in sizes), {
        f"teacher_of_{m}_minus_twin_points": h[f"m{m}_minus_twin_agreement"] for m in sizes}


def _student_beats_teacher(results: Results):
    h = _h(results)
    return h["m1_gap_relation"] == "higher than", {"student_minus_teacher_points": h["m1_gap"], "std": h["m1_gap_std"]}


def _disagree_on_train(results: Results):
    h = _h(results)
    return h["m1_train_agreement"] < NEAR_FULL, {"train_agreement_pct": h["m1_train_agreement"],
                                                 "near_full_pct": NEAR_FULL}


def _more_members(results: Results):
    h = _h(results)
    return h["more_members_relation"] == "higher than", {
        "members": h["largest"], "largest_minus_one_points": h["more_members_agreement"],
        "std": h["more_members_agreement_std"]}


def _students_ended(results: Results):
    h = _h(results)
    return h["students_largest_tail_rise"] <= 0.5, {"largest_rise_over_last_tenth_points": h["students_largest_tail_rise"],
                                                    "tolerance_points": 0.5}


def _students_below_teachers(results: Results):
    h = _h(results)
    sizes = [int(x) for x in h["sizes"].split(", ")]
    return all(h[f"m{m}_gap_relation"] == "lower than" for m in sizes), {
        f"teacher_of_{m}_gap_points": h[f"m{m}_gap"] for m in sizes}


def _other_T_beats_twin(results: Results):
    h = _h(results)
    Ts = [float(x) for x in h["other_T"].split(", ")]
    return any(h[f"T{T:g}_twin_relation"] == "higher than" for T in Ts), {
        **{f"T{T:g}_minus_twin_points": h[f"T{T:g}_minus_twin"] for T in Ts},
        **{f"T{T:g}_std": h[f"T{T:g}_minus_twin_std"] for T in Ts}}


def _lower_T_raises_agreement(results: Results):
    h = _h(results)
    Ts = [float(x) for x in h["other_T"].split(", ") if float(x) < h["T"]]
    T0 = h["T"]
    return bool(Ts) and all(h[f"T{T:g}_relation"] == "higher than" for T in Ts), {
        **{f"T{T:g}_minus_T{T0:g}_points": h[f"T{T:g}_minus_T{T0:g}"] for T in Ts},
        **{f"T{T:g}_std": h[f"T{T:g}_minus_T{T0:g}_std"] for T in Ts}}


def _mixup_beats_crop_flip(results: Results):
    h = _h(results)
    if "mixup_minus_crop_flip" not in h:
        return False, {}
    return h["mixup_minus_crop_flip_relation"] == "higher than", {
        "mixup_minus_crop_flip_points": h["mixup_minus_crop_flip"], "std": h["mixup_minus_crop_flip_std"]}


def _no_policy_near_full(results: Results):
    h = _h(results)
    return h["aug_best_policy_agreement"] < CLOSE_TO_TEACHER, {"best_policy_agreement_pct": h["aug_best_policy_agreement"],
                                                               "close_pct": CLOSE_TO_TEACHER}


def _policies(h: Mapping) -> list[str]:
    return [k[len("aug_"):-len("_relation")] for k in h if k.startswith("aug_") and k.endswith("_relation")]


def _no_policy_beats_raw(results: Results):
    h = _h(results)
    above = [p for p in _policies(h) if h[f"aug_{p}_relation"] == "higher than"]
    return not above, {**{f"{p}_minus_none_points": h[f"aug_{p}_minus_none"] for p in _policies(h)},
                       "policies_clearly_above": len(above)}


def _longer_raises(results: Results):
    h = _h(results)
    holds = h["long_gain_relation"] == "higher than" and h["long_train_agreement"] < NEAR_FULL
    return holds, {"at_a_tenth_pct": h["long_train_agreement_at_tenth"], "at_the_end_pct": h["long_train_agreement"],
                   "epochs": h["long_epochs"]}


def _long_short_of_teacher(results: Results):
    h = _h(results)
    return h["long_train_agreement"] < NEAR_FULL, {"train_agreement_pct": h["long_train_agreement"],
                                                   "epochs": h["long_epochs"]}


def _long_raises_test(results: Results):
    h = _h(results)
    return h["long_minus_patient_relation"] == "higher than", {
        "long_minus_patient_points": h["long_minus_patient_test_agreement"],
        "std": h["long_minus_patient_test_agreement_std"]}


def _long_converged(results: Results):
    h = _h(results)
    return h["long_converged"] == h["long_runs"], {"converged": h["long_converged"], "runs": h["long_runs"],
                                                   "largest_rise_over_last_tenth_points": h["long_last_tenth_rise"]}


def _init_converged(results: Results):
    h = _h(results)
    return h["init_converged"] == h["init_runs"], {"converged": h["init_converged"], "runs": h["init_runs"]}


def _rises_with_lambda(results: Results):
    steps = lambda_steps(results["init"])
    return bool(len(steps) and steps["clear"].all()), {"steps": len(steps), "clear_steps": int(steps["clear"].sum()),
                                                        "smallest_rise_points": float(steps["rise"].min())}


def _without_jump(results: Results):
    """No jump: no step of lambda raises train agreement both clearly (paired) and more steeply than
    JUMP_FACTOR times the curve's average slope (a flat or falling curve has no jump)."""
    steps = lambda_steps(results["init"])
    t = init_table(results["init"])
    if len(t) < 2:
        return False, {}
    lams = t.index.to_numpy(dtype=float)
    mean_slope = float((t["train_agreement"].iloc[-1] - t["train_agreement"].iloc[0]) / (lams[-1] - lams[0]))
    jumps = steps[steps["clear"] & (steps["slope"] > JUMP_FACTOR * max(mean_slope, 0.0))]
    return len(jumps) == 0, {"steepest_slope": float(steps["slope"].max()), "average_slope": mean_slope,
                             "jump_factor": JUMP_FACTOR, "jumps": len(jumps)}


def _near_start_full(results: Results):
    t = init_table(results["init"])
    near = t.loc[t.index >= PAPER["lambda_jump"], "train_agreement"]
    return bool(len(near) and (near >= NEAR_FULL).all()), {
        "lowest_agreement_from_there_pct": float(near.min()) if len(near) else float("nan"),
        "paper_lambda": PAPER["lambda_jump"]}


def _teacher_start_keeps(results: Results):
    h = _h(results)
    a = h["init_1_train_agreement"]
    return a >= NEAR_FULL, {"train_agreement_from_the_teacher_pct": a, "near_full_pct": NEAR_FULL}


def _tracks_accuracy(results: Results):
    h = _h(results)
    low = h["agreement_accuracy_corr_low"]
    return bool(low > 0), {"correlation": h["agreement_accuracy_corr"], "interval_low": low,
                           "interval_high": h["agreement_accuracy_corr_high"], "conditions": h["conditions"]}


def _tracks_calibration(results: Results):
    h = _h(results)
    low, high = h["calibration_corr_low"], h["calibration_corr_high"]
    return bool(low > 0 or high < 0), {"correlation": h["calibration_corr"], "interval_low": low,
                                       "interval_high": high, "students": h["calibration_points"]}


CLAIMS: tuple[Claim, ...] = (
    Claim("ch07.teachers_fit_training_data",
          f"Every teacher fits its training data (train accuracy at least {FITS:g}%).",
          f"Some teacher fits less than {FITS:g}% of its training data.", _teachers_fit),
    Claim("ch07.largest_teacher_has_val_advantage",
          "The largest teacher is clearly more accurate on validation than a label-trained network of the students' "
          "recipe: it has something to pass on.",
          "The largest teacher is not clearly more accurate on validation than a label-trained network of the "
          "students' recipe.", _teacher_advantage),
    Claim("ch07.student_beats_independent_agreement",
          "A self-distilled student agrees with its teacher on clearly more test images than a label-trained network "
          "of the same recipe and seed does, and more than two independently trained members do: distillation "
          "transfers something of the teacher's function.",
          "A self-distilled student does not agree with its teacher clearly more often than a label-trained network "
          "of the same recipe and seed, or than two independently trained members.", _beats_independent),
    Claim("ch07.every_student_beats_its_twin",
          "For every teacher size, the distilled student agrees with its teacher clearly more often than the "
          "label-trained twin does.",
          "Not for every teacher size does the distilled student agree with its teacher clearly more often than the "
          "label-trained twin.", _every_student_beats_twin),
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
          "A teacher of more members gives clearly higher test agreement (largest teacher vs one network, paired).",
          "A teacher of more members does not give clearly higher test agreement (largest teacher vs one network, "
          "paired).", _more_members, source="paper"),
    Claim("ch07.lower_temperature_raises_test_agreement",
          "Distilling at a lower temperature gives clearly higher test agreement than at the first table's T "
          "(one-member teacher, paired).",
          "Distilling at a lower temperature does not give clearly higher test agreement than at the first "
          "table's T (one-member teacher, paired).", _lower_T_raises_agreement),
    Claim("ch07.other_temperature_beats_twin",
          "At some other temperature, the self-distilled student agrees with its teacher clearly more often than "
          "the label-trained twin does (paired).",
          "At no other temperature tried does the self-distilled student agree with its teacher clearly more often "
          "than the label-trained twin (paired).", _other_T_beats_twin),
    Claim("ch07.students_had_ended",
          "Every student of the first table had stopped gaining validation agreement (at most 0.5 points over its "
          "last tenth of epochs).",
          "Some student of the first table was still gaining validation agreement over its last tenth of epochs.",
          _students_ended),
    Claim("ch07.students_below_teachers",
          "Every student of the first table is clearly less accurate than its teacher (paired).",
          "Not every student of the first table is clearly less accurate than its teacher (paired).",
          _students_below_teachers),
    Claim("ch07.mixup_beats_crop_flip_agreement",
          "Distilling with mixup gives clearly higher test agreement than with crop + flip (paired).",
          "Distilling with mixup does not give clearly higher test agreement than with crop + flip (paired).",
          _mixup_beats_crop_flip, source="paper"),
    Claim("ch07.no_policy_near_full_agreement",
          f"No augmentation policy brings test agreement near 100% (all below {CLOSE_TO_TEACHER:g}%).",
          f"Some augmentation policy brings test agreement to {CLOSE_TO_TEACHER:g}% or more.",
          _no_policy_near_full, source="paper"),
    Claim("ch07.no_policy_beats_raw_images",
          "No augmentation policy gives clearly higher test agreement than distilling on the raw training images "
          "(paired).",
          "Some augmentation policy gives clearly higher test agreement than distilling on the raw training images "
          "(paired).", _no_policy_beats_raw),
    Claim("ch07.longer_training_raises_train_agreement",
          f"Training longer clearly raises train agreement (a tenth of the long run vs its end, paired), but not to "
          f"{NEAR_FULL:g}%.",
          "Training longer does not clearly raise train agreement (a tenth of the long run vs its end, paired), or it "
          f"reaches {NEAR_FULL:g}%.", _longer_raises, source="paper"),
    Claim("ch07.long_run_short_of_teacher",
          "Even on the images it is distilled on, after the long run, the student does not reproduce its teacher "
          f"(train agreement below {NEAR_FULL:g}%).",
          f"On the images it is distilled on, the long run brings the student to {NEAR_FULL:g}% train agreement "
          "with its teacher.", _long_short_of_teacher),
    Claim("ch07.long_run_raises_test_agreement",
          "The long run gives clearly higher test agreement than the patient students of the first table (paired).",
          "The long run does not give clearly higher test agreement than the patient students of the first table "
          "(paired).", _long_raises_test),
    Claim("ch07.long_runs_converged",
          "Every long run had converged (train agreement rose by at most 0.5 points over its last tenth).",
          "Some long run was still gaining train agreement over its last tenth.", _long_converged),
    Claim("ch07.lambda_runs_converged",
          "Every run of the starting-point study had converged (train agreement rose by at most 0.5 points over "
          "its last tenth).",
          "Some run of the starting-point study was still gaining train agreement over its last tenth.",
          _init_converged),
    Claim("ch07.agreement_rises_with_lambda",
          "Train agreement after distillation rises clearly at every step of lambda towards the teacher (paired).",
          "Train agreement after distillation does not rise clearly at every step of lambda towards the teacher "
          "(paired).", _rises_with_lambda),
    Claim("ch07.lambda_curve_without_jump",
          "Train agreement has no jump along lambda: no step raises it both clearly (paired) and more steeply than "
          f"{JUMP_FACTOR:g} times the curve's average slope.",
          "Train agreement jumps somewhere along lambda: one step raises it clearly (paired) and more steeply than "
          f"{JUMP_FACTOR:g} times the curve's average slope.", _without_jump),
    Claim("ch07.near_teacher_start_reaches_full_agreement",
          f"Students started at lambda = {PAPER['lambda_jump']:g} or closer to the teacher reach {NEAR_FULL:g}% "
          "train agreement.",
          f"Not every student started at lambda = {PAPER['lambda_jump']:g} or closer to the teacher reaches "
          f"{NEAR_FULL:g}% train agreement.", _near_start_full, source="paper"),
    Claim("ch07.teacher_start_keeps_agreement",
          f"Students started at the teacher itself keep at least {NEAR_FULL:g}% train agreement through "
          "distillation.",
          f"Students started at the teacher itself drift below {NEAR_FULL:g}% train agreement during distillation.",
          _teacher_start_keeps),
    Claim("ch07.fidelity_tracks_accuracy",
          "Across the chapter's conditions, more faithful students were more accurate: the correlation of the "
          "condition means is positive and its 95% interval excludes zero.",
          "Across the chapter's conditions, the correlation between test agreement and accuracy is not clearly "
          "positive (its 95% interval reaches zero).", _tracks_accuracy),
    Claim("ch07.fidelity_tracks_calibration",
          "Across the students, test agreement and ECE are correlated: the correlation's 95% interval excludes zero.",
          "Across the students, the correlation between test agreement and ECE is not distinguishable from zero "
          "(its 95% interval includes zero): fidelity says little about calibration here.", _tracks_calibration),
)


def outcomes(results: Results) -> list[Outcome]:
    """The chapter's claims evaluated on ``results``."""
    return evaluate(CLAIMS, results)


# ----------------------------------------------------------------------------- sentences
def _rel(word: str) -> str:
    return {"higher than": "clearly higher", "lower than": "clearly lower"}.get(word, "not clearly different")


def _reading_teachers(h: Mapping, o: Mapping[str, Outcome]) -> str:
    sizes = [int(x) for x in h["sizes"].split(", ")]
    parts = [f"{m} member{'s' if m > 1 else ''}: train {h[f'teacher{m}_train_accuracy']:.2f}%, val "
             f"{h[f'teacher{m}_val_accuracy']:.2f}%, test {h[f'teacher{m}_test_accuracy']:.2f}%, validation advantage "
             f"{h[f'teacher{m}_val_advantage']:+.2f} ± {h[f'teacher{m}_val_advantage_std']:.2f} points"
             for m in sizes]
    return ("The teachers (" + "; ".join(parts) + f"), against a label-trained twin of the students' recipe at "
            f"{h['twin_val_accuracy']:.2f}% validation accuracy. " + o["ch07.teachers_fit_training_data"].sentence()
            + " " + o["ch07.largest_teacher_has_val_advantage"].sentence())


def _reading_baseline(h: Mapping, o: Mapping[str, Outcome]) -> str:
    return (f"Two members trained independently on the same images agree on {h['pairs_test_agreement']:.2f}% "
            f"(± {h['pairs_test_agreement_std']:.2f} over {int(h['pairs'])} pairs) of the test images and on "
            f"{h['pairs_train_agreement']:.2f}% of the training images; the label-trained twin agrees with the "
            f"one-member teacher on {h['twin_m1_test_agreement']:.2f}% of the test images. These are the numbers a "
            "student's agreement has to beat before it says anything about what distillation passed on.")


def _reading_m1(h: Mapping, o: Mapping[str, Outcome]) -> str:
    return (f"The self-distilled student agrees with its teacher on {_pm(h['m1_test_agreement'], h['m1_test_agreement_std'], 2)} "
            f"of the test images, against the twin's {h['twin_m1_test_agreement']:.2f}%: "
            f"{_signed({'mean': h['m1_minus_twin_agreement'], 'std': h['m1_minus_twin_agreement_std']})} "
            f"(paired over seeds), {_rel(h['m1_minus_twin_relation'])}. "
            + o["ch07.student_beats_independent_agreement"].sentence()
            + f" On the training images it was distilled on it agrees on {h['m1_train_agreement']:.2f}%. Its test "
            f"accuracy is {h['m1_accuracy']:.2f}% against its teacher's {h['m1_teacher_accuracy']:.2f}% "
            f"({h['m1_gap']:+.2f} ± {h['m1_gap_std']:.2f} points, paired).")


def _reading_ensembles(h: Mapping, o: Mapping[str, Outcome]) -> str:
    big = int(h["largest"])
    return (f"With a teacher of {big} members (test accuracy {h[f'm{big}_teacher_accuracy']:.2f}%), the student reaches "
            f"{h[f'm{big}_accuracy']:.2f}% and agrees with its teacher on {h[f'm{big}_test_agreement']:.2f}% of the test "
            f"images ({h['more_members_agreement']:+.2f} ± {h['more_members_agreement_std']:.2f} points against the "
            f"self-distilled student, paired). " + o["ch07.more_members_higher_test_agreement"].sentence() + " "
            + o["ch07.students_below_teachers"].sentence() + " " + o["ch07.students_had_ended"].sentence())


def _reading_temperature(h: Mapping, o: Mapping[str, Outcome]) -> str:
    T0 = f"{h['T']:g}"
    parts = []
    for T in h["other_T"].split(", "):
        k = f"T{T}"
        parts.append(f"T = {T}: {h[f'{k}_test_agreement']:.2f}% test agreement ({h[f'{k}_minus_T{T0}']:+.2f} ± "
                     f"{h[f'{k}_minus_T{T0}_std']:.2f} points against T = {T0}; {h[f'{k}_minus_twin']:+.2f} ± "
                     f"{h[f'{k}_minus_twin_std']:.2f} against the twin) and {h[f'{k}_train_agreement']:.2f}% train "
                     "agreement")
    return ("With the one-member teacher at other temperatures: " + "; ".join(parts) + ". "
            + o["ch07.lower_temperature_raises_test_agreement"].sentence() + " "
            + o["ch07.other_temperature_beats_twin"].sentence())


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _reading_causes(h: Mapping, o: Mapping[str, Outcome]) -> str:
    """Where the main claim does not hold: each likely cause with what the experiments say of it."""
    if o["ch07.student_beats_independent_agreement"].holds:
        return ("The self-distilled student's agreement exceeds the independent baseline; the experiments below "
                "say how much of the teacher's function the recipe leaves untransferred.")
    big = int(h["largest"])
    adv = f"{h[f'teacher{big}_val_advantage']:+.2f} ± {h[f'teacher{big}_val_advantage_std']:.2f} points"
    if o["ch07.largest_teacher_has_val_advantage"].holds:
        teacher = (f"Not for want of a teacher with something to pass on: the teacher of {big} is ahead of the twin "
                   f"on validation by {adv}, and still " + _lower_first(o["ch07.every_student_beats_its_twin"].sentence()))
    else:
        teacher = (f"Perhaps because no teacher has anything to pass on: the teacher of {big} is ahead of the twin "
                   f"on validation by only {adv}.")
    ended = o["ch07.students_had_ended"]
    training = (("Not for unfinished training: " if ended.holds else "Perhaps because training had not ended: ")
                + _lower_first(ended.sentence()))
    return ("Why does the student not agree with its teacher more often than an independently trained network? "
            + teacher + " " + training + f" The learning rate was chosen on validation agreement (lr "
            f"{h['student_lr']:g}). The temperature, the augmentation and a 5x longer run are the next three "
            "experiments; the starting-point study then asks whether the teacher's function is reachable at all.")


def _reading_aug(h: Mapping, o: Mapping[str, Outcome]) -> str:
    comps = [f"{p}: {h[f'aug_{p}_test_agreement']:.2f}% ({h[f'aug_{p}_minus_none']:+.2f} ± "
             f"{h[f'aug_{p}_minus_none_std']:.2f}, teacher trained under "
             f"{'none' if p == 'mixup' else p}, {h[f'aug_{p}_teacher_train_accuracy']:.2f}% on its training images)"
             for p in _policies(h)]
    return (f"Against distilling on the raw images ({h['aug_none_test_agreement']:.2f}% test agreement), the policies "
            "give " + "; ".join(comps) + ". " + o["ch07.no_policy_beats_raw_images"].sentence() + " "
            + o["ch07.mixup_beats_crop_flip_agreement"].sentence() + " " + o["ch07.no_policy_near_full_agreement"].sentence())


def _reading_long(h: Mapping, o: Mapping[str, Outcome]) -> str:
    return (f"After {int(h['long_epochs'])} epochs ({h['long_epochs'] / h['member_epochs']:g} times the teacher's), the "
            f"students agree with their teachers on {_pm(h['long_train_agreement'], h['long_train_agreement_std'], 2)} "
            f"of the training images (a tenth of the way in: {h['long_train_agreement_at_tenth']:.2f}%) and on "
            f"{h['long_test_agreement']:.2f}% of the test images "
            f"({h['long_minus_patient_test_agreement']:+.2f} ± {h['long_minus_patient_test_agreement_std']:.2f} points "
            f"against the {int(h['student_epochs'])}-epoch students, paired). "
            + o["ch07.longer_training_raises_train_agreement"].sentence() + " "
            + o["ch07.long_run_raises_test_agreement"].sentence() + " " + o["ch07.long_runs_converged"].sentence())


def _reading_init(h: Mapping, o: Mapping[str, Outcome], steps: pd.DataFrame) -> str:
    lams = sorted(float(k[len("init_"):-len("_train_agreement")]) for k in h
                  if k.startswith("init_") and k.endswith("_train_agreement") and "initial" not in k)
    desc = "; ".join(f"λ = {lam:g}: {h[f'init_{lam:g}_train_agreement']:.2f}% "
                     f"(from {h[f'init_{lam:g}_initial_train_agreement']:.1f}% at the start)" for lam in lams)
    steep = steps.loc[steps["slope"].idxmax()] if len(steps) else None
    slope = ("" if steep is None else
             f" The steepest step is from λ = {steep['from']:g} to {steep['to']:g}: {steep['rise']:+.2f} points.")
    return (f"Train agreement after {int(h['init_epochs'])} epochs on {int(h['init_subset']):,} images, by starting "
            "point: " + desc + "." + slope + " " + o["ch07.lambda_runs_converged"].sentence() + " "
            + o["ch07.agreement_rises_with_lambda"].sentence() + " " + o["ch07.lambda_curve_without_jump"].sentence()
            + " " + o["ch07.near_teacher_start_reaches_full_agreement"].sentence())


def _reading_optimisation(h: Mapping, o: Mapping[str, Outcome]) -> str:
    """What the long run and the starting points say together about optimisation, from the claims."""
    ended = o["ch07.long_runs_converged"].holds and o["ch07.lambda_runs_converged"].holds
    short = o["ch07.long_run_short_of_teacher"].holds
    keeps = o["ch07.teacher_start_keeps_agreement"].holds
    if ended and short and keeps:
        return ("Training had ended, the student still does not reproduce its teacher on its own training images, "
                "and a student started at the teacher keeps it: the teacher's function is reachable and stable "
                "under this objective, and a random start settles elsewhere. That is the optimisation reading, "
                "supported here by runs that had converged.")
    if not ended:
        return ("Some runs were still gaining agreement at their end, so these runs cannot say where optimisation "
                "from a random start settles; a longer budget would.")
    return ("The long runs and starting points do not together single out optimisation here: "
            + _lower_first(o["ch07.long_run_short_of_teacher"].sentence()) + " "
            + o["ch07.teacher_start_keeps_agreement"].sentence())


def _reading_calibration(h: Mapping, o: Mapping[str, Outcome]) -> str:
    return (f"Across the {int(h['calibration_points'])} students the correlation between test agreement and ECE is "
            f"{h['calibration_corr']:+.2f} (95% interval {h['calibration_corr_low']:+.2f} to "
            f"{h['calibration_corr_high']:+.2f}; the interval treats the students as independent, though seeds "
            "share conditions, so it is if anything too narrow). " + o["ch07.fidelity_tracks_calibration"].sentence())


def _reading_together(h: Mapping, o: Mapping[str, Outcome]) -> str:
    return (f"Across the {int(h['conditions'])} conditions of this chapter (teachers, policies, long runs, starting "
            f"points), mean test agreement and mean test accuracy have a correlation of "
            f"{h['agreement_accuracy_corr']:+.2f} (95% interval {h['agreement_accuracy_corr_low']:+.2f} to "
            f"{h['agreement_accuracy_corr_high']:+.2f}). " + o["ch07.fidelity_tracks_accuracy"].sentence())


def readings(results: Mapping[str, StoredResult]) -> dict[str, str]:
    """The chapter's findings as sentences computed from the numbers and the claims' outcomes."""
    h = headline(results)
    o = by_id(outcomes(results))
    return {"reading_teachers": _reading_teachers(h, o), "reading_baseline": _reading_baseline(h, o),
            "reading_m1": _reading_m1(h, o), "reading_ensembles": _reading_ensembles(h, o),
            "reading_temperature": _reading_temperature(h, o), "reading_causes": _reading_causes(h, o),
            "reading_aug": _reading_aug(h, o), "reading_long": _reading_long(h, o),
            "reading_init": _reading_init(h, o, lambda_steps(results["init"])),
            "reading_optimisation": _reading_optimisation(h, o),
            "reading_calibration": _reading_calibration(h, o), "reading_together": _reading_together(h, o)}


def paper_values() -> dict[str, float]:
    """The paper's numbers the prose quotes, flat (ImageNet agreement per teacher size as ``imagenet_<m>``)."""
    flat = {k: v for k, v in PAPER.items() if not isinstance(v, dict)}
    flat.update({f"imagenet_{m}": a for m, a in PAPER["imagenet_test_agreement"].items()})
    return flat


def glue_values(results: Mapping[str, StoredResult]) -> dict[str, float | str]:
    """Every number and sentence the page glues, named ``ch07_*``."""
    h = headline(results)
    paper_outcomes = [o for o in outcomes(results) if o.source == "paper"]
    return {**{f"ch07_{k}": v for k, v in h.items()},
            **{f"ch07_{k}": v for k, v in readings(results).items()},
            **{f"ch07_paper_{k}": v for k, v in paper_values().items()},
            "ch07_paper_claims_hold": sum(o.holds for o in paper_outcomes), "ch07_paper_claims": len(paper_outcomes),
            "ch07_run_time": run_time_sentence(results)}


# ----------------------------------------------------------------------------- beside the paper
def ours_vs_paper(h: Mapping[str, float]) -> pd.DataFrame:
    """The paper's numbers beside ours (agreement in %, KL in nats). The paper's agreement comes
    from harder tasks (CIFAR-100, ImageNet) where any two networks agree less, so each row also
    gives ours *relative to our independent baseline* (student minus label-trained twin)."""
    rows = []
    for m in [int(x) for x in h["sizes"].split(", ")]:
        rows.append({"quantity": f"test agreement, teacher of {m} (ImageNet in the paper)",
                     "paper": PAPER["imagenet_test_agreement"].get(m, np.nan), "ours": h[f"m{m}_test_agreement"],
                     "ours minus independent twin": h[f"m{m}_minus_twin_agreement"]})
        rows.append({"quantity": f"test KL(teacher || student), teacher of {m}",
                     "paper": PAPER["imagenet_test_kl"].get(m, np.nan), "ours": h[f"m{m}_test_kl"],
                     "ours minus independent twin": np.nan})
    for p, key in (("crop_flip", "test_agreement_crop_flip"), ("mixup", "test_agreement_mixup")):
        if f"aug_{p}_test_agreement" in h:
            rows.append({"quantity": f"test agreement, {p.replace('_', ' + ')} (CIFAR-100 in the paper)",
                         "paper": PAPER[key], "ours": h[f"aug_{p}_test_agreement"],
                         "ours minus independent twin": h[f"aug_{p}_test_agreement"] - h["twin_m1_test_agreement"]})
    rows.append({"quantity": "train agreement at the end of a long run, SGD (paper: 300 epochs; "
                             f"5,000 epochs: {PAPER['train_agreement_5000_epochs']:g})",
                 "paper": PAPER["train_agreement_300_epochs"], "ours": h["long_train_agreement"],
                 "ours minus independent twin": np.nan})
    rows.append({"quantity": f"smallest lambda reaching {NEAR_FULL:g}% train agreement", "paper": PAPER["lambda_jump"],
                 "ours": h["init_jump"], "ours minus independent twin": np.nan})
    return pd.DataFrame(rows).set_index("quantity")


# ----------------------------------------------------------------------------- figures
def baseline_figure(results: Mapping[str, StoredResult]):
    """Test agreement of independently trained pairs (every member pair, the twin with each teacher)
    beside the distilled students' agreement with their teachers."""
    pairs = pair_agreements(results["baseline"])
    st = _percent(pd.DataFrame(results["fidelity"].value["students"]))
    twins = _percent(pd.DataFrame(results["baseline"].value["twins"]))
    groups = {"two members": pairs["test_agreement"].to_numpy()}
    for m in sorted(st["members"].unique()):
        groups[f"twin, teacher of {m}"] = twins[f"agreement_teacher_{m}_test"].to_numpy()
        groups[f"student, teacher of {m}"] = st.loc[st["members"] == m, "test_agreement"].to_numpy()
    fig, axes = plots.figure(ncols=1, width=9, height=3.8)
    ax = axes[0]
    for j, (name, vals) in enumerate(groups.items()):
        colour = plots.PALETTE[0 if name.startswith("two") else 1 if name.startswith("twin") else 2]
        ax.scatter(np.full(len(vals), j) + np.linspace(-0.15, 0.15, len(vals)), vals, s=18, color=colour)
        ax.hlines(np.mean(vals), j - 0.3, j + 0.3, color="black", lw=1.2)
    ax.set_xticks(range(len(groups)), list(groups), rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("test agreement (%)")
    ax.set_title("independent pairs (blue, orange) and distilled students (green)")
    return fig


def fidelity_figure(results: Mapping[str, StoredResult]):
    """Left: per teacher size, the teacher's and the student's test accuracy and their agreement.
    Right: the students' validation agreement after every epoch (one line per run)."""
    table = student_table(results["fidelity"])
    x = np.arange(len(table))
    fig, axes = plots.figure(ncols=2, width=12, height=3.6)
    ax = axes[0]
    for j, (col, name) in enumerate((("teacher accuracy", "teacher accuracy"), ("accuracy", "student accuracy"),
                                     ("test_agreement", "student-teacher agreement"))):
        err = table[f"{col} std"] if f"{col} std" in table else None
        ax.bar(x + (j - 1) * 0.27, table[col], width=0.27, yerr=err, capsize=3, label=name, color=plots.PALETTE[j])
    ax.set_xticks(x, [f"teacher of {m}" for m in table.index])
    ax.set_ylabel("test split (%)")
    ax.set_ylim(max(0, min(table[["teacher accuracy", "accuracy", "test_agreement"]].to_numpy().min() - 8, 90)), 100)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"accuracy and agreement (T = {results['fidelity'].value['T']:g})")
    ax = axes[1]
    for r in results["fidelity"].value["students"]:
        curve = 100 * np.asarray(r["val_agreement_curve"])
        ax.plot(np.arange(1, len(curve) + 1), curve, color=plots.PALETTE[sorted(table.index).index(r["members"])],
                lw=1, label=f"teacher of {r['members']}" if r["seed"] == 0 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation agreement (%)")
    ax.set_ylim(bottom=max(0, ax.get_ylim()[0]))
    ax.legend(fontsize=8)
    ax.set_title("had training ended?")
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


def long_figure(results: Mapping[str, StoredResult]):
    """Left: train agreement per epoch of the long runs (one line per seed). Right: the starting-point
    study's train agreement per epoch, one line per lambda (mean over seeds)."""
    fig, axes = plots.figure(ncols=2, width=12, height=3.6)
    curves = long_curves(results["long"])
    for k, c in enumerate(curves):
        axes[0].plot(np.arange(1, len(c) + 1), c, color=plots.PALETTE[0], lw=1, label="seeds" if k == 0 else None)
    axes[0].axhline(100, color="grey", lw=0.8, ls="--")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("train agreement (%)")
    axes[0].set_title(f"long run, {results['long'].value['epochs']} epochs on all training images")
    df = pd.DataFrame(results["init"].value["rows"])
    for j, (lam, g) in enumerate(df.groupby("lambda")):
        c = 100 * np.mean(np.stack([np.asarray(v) for v in g["train_agreement_curve"]]), axis=0)
        axes[1].plot(np.arange(1, len(c) + 1), c, color=plots.PALETTE[j % len(plots.PALETTE)], lw=1.2,
                     label=f"λ = {lam:g}")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("train agreement (%)")
    axes[1].set_title(f"starting points, {results['init'].value['subset']:,} images")
    axes[1].legend(fontsize=8)
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
    markers, seen = {"teacher": "o", "policy": "s", "long": "^"}, {}
    for src, g in pts.groupby("source", sort=False):
        kind = src.split()[0]
        j = seen[kind] = seen.get(kind, -1) + 1
        ax.scatter(g["test_agreement"], g["ece"], s=28, color=plots.PALETTE[j % len(plots.PALETTE)], label=src,
                   marker=markers.get(kind, "o"), edgecolor="black", linewidth=0.4)
    ax.set_xlabel("test agreement with the teacher (%)")
    ax.set_ylabel("student ECE (test)")
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig
