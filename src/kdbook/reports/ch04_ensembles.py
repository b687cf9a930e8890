"""Chapter 4 read from its stored results: ensemble curves, the distilled student, specialists,
the paper's numbers and the chapter's claims.

Reads the mapping that :func:`kdbook.experiments.ch04_ensembles.run` returns (``members``,
``distill``, ``specialists`` -> :class:`kdbook.store.StoredResult`) and never trains anything.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..claims import Claim, by_id, evaluate
from ..store import StoredResult
from .common import clearly_greater, compare, join_words, plural, run_time_sentence

Results = Mapping[str, StoredResult]

#: Hinton et al. (2015): frame accuracy (%) on speech (baseline, 10-model ensemble, one distilled model),
#: and conditional test accuracy (%) on JFT (the baseline, and with 61 specialists).
PAPER = {
    "speech": {"single model": 58.9, "ensemble of 10": 61.1, "distilled": 60.8},
    "jft": {"generalist": 43.1, "with specialists": 45.9},
}
#: the share of the full ensemble's accuracy gain at which the curve counts as flattened
SATURATION_SHARE = 0.75


def paper_retained() -> float:
    """Share of the speech ensemble's gain over the single model that the paper's distilled model keeps."""
    p = PAPER["speech"]
    return (p["distilled"] - p["single model"]) / (p["ensemble of 10"] - p["single model"])


# ------------------------------------------------------------------------------ ensembles of N members
def curve_table(result: StoredResult, method: str = "arithmetic") -> pd.DataFrame:
    """Mean and std over resamplings of accuracy, NLL and ECE for each ensemble size N."""
    df = pd.DataFrame(result.value["rows"])
    df = df[df["method"] == method]
    g = df.groupby("n")[["accuracy", "nll", "ece"]]
    out = g.mean().join(g.std(ddof=1).fillna(0.0).add_suffix("_std"))
    out["subsets"] = df.groupby("n").size()
    return out


def curve_display(result: StoredResult, method: str = "arithmetic") -> pd.DataFrame:
    """The ensemble curve as a page shows it: one column per N, accuracy as 'mean ± std' (%)."""
    t = curve_table(result, method)
    shown = pd.DataFrame({"accuracy (%)": [f"{100 * m:.2f} ± {100 * sd:.2f}" for m, sd in zip(t["accuracy"], t["accuracy_std"])],
                          "NLL": t["nll"].map("{:.4f}".format), "ECE": t["ece"].map("{:.4f}".format),
                          "sets of members": t["subsets"]}, index=t.index.rename("N"))
    return shown.T


def saturation(table: pd.DataFrame, share: float = 0.9) -> int:
    """Smallest N whose mean accuracy gain over N = 1 reaches ``share`` of the largest N's gain."""
    gain = table["accuracy"] - table["accuracy"].iloc[0]
    total = gain.iloc[-1]
    if total <= 0:
        return int(table.index[-1])
    return int(gain.index[np.argmax(gain.to_numpy() >= share * total)])


def method_differences(result: StoredResult) -> pd.DataFrame:
    """Geometric minus arithmetic accuracy, NLL and ECE on each resampled set of two or more
    members (both means are taken over the same sets)."""
    df = pd.DataFrame(result.value["rows"])
    df = df[df["n"] >= 2].assign(members=df["members"].map(tuple))
    wide = df.pivot_table(index="members", columns="method", values=["accuracy", "nll", "ece"])
    return wide.xs("geometric", axis=1, level=1) - wide.xs("arithmetic", axis=1, level=1)


def _ends(result: StoredResult, metric: str) -> dict[str, float]:
    """A metric for one member (mean and std over members) and for the full ensemble."""
    t = curve_table(result, "arithmetic")
    return {"single": float(t[metric].iloc[0]), "single_std": float(t[metric + "_std"].iloc[0]),
            "ensemble": float(t[metric].iloc[-1]), "ensemble_std": float(t[metric + "_std"].iloc[-1]),
            "n_max": int(t.index[-1])}


# ------------------------------------------------------------------------------ the distilled student
def distill_table(result: StoredResult) -> pd.DataFrame:
    """Ensembles and their students: accuracy, NLL, ECE and agreement, mean and std over student seeds."""
    df = pd.DataFrame(result.value["rows"])
    cols = [c for c in ("accuracy", "nll", "ece", "agreement") if c in df]
    g = df.groupby("model", sort=False)[cols]
    return g.mean().join(g.std(ddof=1).fillna(0.0).add_suffix("_std"))


def member_accuracy(result: StoredResult) -> tuple[float, float]:
    """Mean and std over members of a single member's test accuracy (fraction), from the distill part."""
    acc = np.asarray(result.value["member_accuracy"], dtype=float)
    return float(acc.mean()), float(acc.std(ddof=1)) if len(acc) > 1 else 0.0


def distill_display(result: StoredResult) -> pd.DataFrame:
    """The ensembles, their students and the mean single member as a page shows them."""
    d = distill_table(result)
    seeds = pd.DataFrame(result.value["rows"]).groupby("model", sort=False).size()
    accuracy = [f"{100 * m:.2f} ± {100 * sd:.2f}" if seeds[name] > 1 else f"{100 * m:.2f}"
                for name, m, sd in zip(d.index, d["accuracy"], d["accuracy_std"])]
    shown = pd.DataFrame({"accuracy": accuracy, "nll": d["nll"].map("{:.4f}".format),
                          "ece": d["ece"].map("{:.4f}".format)}, index=d.index)
    has_agreement = "agreement" in d
    if has_agreement:
        shown["agreement with the ensemble (%)"] = [f"{100 * a:.2f}" if a == a else "" for a in d["agreement"]]
    single, single_sd = member_accuracy(result)
    shown.loc["single member (mean)"] = [f"{100 * single:.2f} ± {100 * single_sd:.2f}", "", ""] + [""] * has_agreement
    return shown


def retained(result: StoredResult, method: str = "arithmetic") -> tuple[float, float, np.ndarray]:
    """Share of the ensemble's accuracy gain over the mean single member that the student keeps:
    (mean, std over student seeds, per-seed values); NaN when the ensemble has no gain."""
    df = pd.DataFrame(result.value["rows"])
    single = float(np.mean(result.value["member_accuracy"]))
    ens = float(df[df["model"] == f"ensemble ({method})"]["accuracy"].iloc[0])
    students = df[df["model"] == f"student of the {method} ensemble"]["accuracy"].to_numpy(dtype=float)
    # a share of the gain only means something when there is a gain
    shares = (students - single) / (ens - single) if ens > single else np.full(len(students), np.nan)
    return float(shares.mean()), float(shares.std(ddof=1)) if len(shares) > 1 else 0.0, shares


def _student(result: StoredResult, method: str = "arithmetic") -> tuple[float, float]:
    d = distill_table(result)
    row = f"student of the {method} ensemble"
    return float(d.loc[row, "accuracy"]), float(d.loc[row, "accuracy_std"])


def share_sentence(result: StoredResult) -> str:
    """The share of the ensemble's gain that the students keep, for both means, in words."""
    keep, keep_sd, shares = retained(result, "arithmetic")
    keep_g, keep_g_sd, _ = retained(result, "geometric")
    if keep != keep:
        return "The arithmetic ensemble is not better than a single member here, so there is no gain to keep."
    geo = ("" if keep_g != keep_g else
           f" and {100 * keep_g:.0f}% ± {100 * keep_g_sd:.0f}% for the student of the geometric one")
    return (f"The share of the ensemble's gain that the student keeps is {100 * keep:.0f}% ± {100 * keep_sd:.0f}% "
            f"for the student of the arithmetic ensemble{geo} (mean ± std over {plural(len(shares), 'student seed')}).")


def student_sentence(result: StoredResult) -> str:
    """Where the student of the arithmetic ensemble ends against a single member, with the numbers."""
    student, student_sd = _student(result)
    single, single_sd = member_accuracy(result)
    word = compare(student, student_sd, single, single_sd)
    return (f"By the cautious rule its accuracy ({100 * student:.2f}% ± {100 * student_sd:.2f}) is {word} "
            f"a single member's ({100 * single:.2f}% ± {100 * single_sd:.2f}).")


# ------------------------------------------------------------------------------ specialists
def cluster_names(result: StoredResult) -> list[str]:
    """Each confusable-class cluster as a readable list of class names."""
    names = result.value["class_names"]
    return [", ".join(names[c] for c in cl) for cl in result.value["clusters"]]


def cluster_table(result: StoredResult) -> pd.DataFrame:
    """Each cluster's classes and whether it got a specialist (two or more classes)."""
    clusters = result.value["clusters"]
    return pd.DataFrame({"classes": cluster_names(result),
                         "specialist": ["yes" if len(c) >= 2 else "no (a single class)" for c in clusters]},
                        index=[f"cluster {i + 1}" for i in range(len(clusters))])


def cluster_covariance(result: StoredResult) -> tuple[float, float]:
    """Mean covariance of the generalist's predicted probabilities for two different classes in
    the same cluster, and for two classes in different clusters (NaN where there is no such pair)."""
    cov = np.asarray(result.value["covariance"], dtype=float)
    label = np.empty(len(cov), dtype=int)
    for i, cluster in enumerate(result.value["clusters"]):
        label[cluster] = i
    same = label[:, None] == label[None, :]
    off_diagonal = ~np.eye(len(cov), dtype=bool)
    return _mean_where(cov, same & off_diagonal), _mean_where(cov, ~same)


def _mean_where(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else float("nan")


def specialist_table(result: StoredResult, split: str = "test") -> pd.DataFrame:
    """Accuracy (%) of the generalist alone and combined with the specialists, overall, on the
    classes the specialists cover, and per specialist."""
    names = result.value["class_names"]
    r = result.value[split]
    rows = [{"examples": "all test examples" if split == "test" else "all", "count": None,
             "generalist": 100 * r["generalist"]["accuracy"], "with specialists": 100 * r["combined"]["accuracy"]},
            {"examples": "classes with a specialist", "count": r["covered"],
             "generalist": 100 * r["generalist_on_covered"], "with specialists": 100 * r["combined_on_covered"]}]
    for p in r["per_specialist"]:
        rows.append({"examples": "specialist: " + ", ".join(names[c] for c in p["classes"]), "count": p["count"],
                     "generalist": 100 * p["generalist"], "with specialists": 100 * p["combined"]})
    df = pd.DataFrame(rows).set_index("examples")
    df["change"] = df["with specialists"] - df["generalist"]
    return df


def specialist_styled(result: StoredResult, split: str = "test"):
    """:func:`specialist_table` formatted for a page."""
    return specialist_table(result, split).style.format(
        {"count": "{:,.0f}", "generalist": "{:.2f}", "with specialists": "{:.2f}", "change": "{:+.2f}"}, na_rep="")


def specialists_sentence(result: StoredResult) -> str:
    """How many specialists there are, which classes they cover and on how much training data."""
    specs = result.value["specialists"]
    if not specs:
        return "No cluster has two or more classes, so there is no specialist."
    names = result.value["class_names"]
    each = [f"one for {plural(len(s['classes']), 'class', 'classes')} ({', '.join(names[c] for c in s['classes'])}), "
            f"trained on {s['train_size']:,} images (its classes over-represented by a factor {s['oversampling']:.2f})"
            for s in specs]
    return f"There {'is' if len(specs) == 1 else 'are'} {plural(len(specs), 'specialist')}: {join_words(each)}."


# ------------------------------------------------------------------------------ the chapter in numbers
def headline(results: Results) -> dict[str, float]:
    """The chapter's findings as numbers (accuracies in %)."""
    members, distill, specs = results["members"], results["distill"], results["specialists"]
    arith, geo = curve_table(members, "arithmetic"), curve_table(members, "geometric")
    d = distill_table(distill)
    keep, keep_sd, _ = retained(distill, "arithmetic")
    keep_g, keep_g_sd, _ = retained(distill, "geometric")
    single, single_sd = member_accuracy(distill)
    st = specialist_table(specs)
    within, between = cluster_covariance(specs)
    return {
        "single_acc": 100 * arith["accuracy"].iloc[0], "single_acc_std": 100 * arith["accuracy_std"].iloc[0],
        "ens_acc": 100 * arith["accuracy"].iloc[-1], "n_max": int(arith.index[-1]),
        "ens_gain": 100 * (arith["accuracy"].iloc[-1] - arith["accuracy"].iloc[0]),
        "ens_nll_single": arith["nll"].iloc[0], "ens_nll": arith["nll"].iloc[-1],
        "ens_ece_single": arith["ece"].iloc[0], "ens_ece": arith["ece"].iloc[-1],
        "saturation_n": saturation(arith, SATURATION_SHARE), "saturation_share": 100 * SATURATION_SHARE,
        "geo_acc": 100 * geo["accuracy"].iloc[-1], "geo_nll": geo["nll"].iloc[-1],
        "geo_minus_arith": 100 * (geo["accuracy"].iloc[-1] - arith["accuracy"].iloc[-1]),
        "student_acc": 100 * d.loc["student of the arithmetic ensemble", "accuracy"],
        "student_acc_std": 100 * d.loc["student of the arithmetic ensemble", "accuracy_std"],
        "student_geo_acc": 100 * d.loc["student of the geometric ensemble", "accuracy"],
        "student_agreement": 100 * d.loc["student of the arithmetic ensemble", "agreement"],
        "retained": keep, "retained_std": keep_sd, "retained_geo": keep_g, "retained_geo_std": keep_g_sd,
        "member_mean_acc": 100 * single, "member_acc_std": 100 * single_sd,
        "paper_retained": paper_retained(),
        "spec_covered_gen": st.loc["classes with a specialist", "generalist"],
        "spec_covered_comb": st.loc["classes with a specialist", "with specialists"],
        "spec_covered_change": st.loc["classes with a specialist", "change"],
        "spec_all_gen": st.iloc[0]["generalist"], "spec_all_comb": st.iloc[0]["with specialists"],
        "spec_val_change": specialist_table(specs, "val").loc["classes with a specialist", "change"],
        "n_specialists": len(specs.value["specialists"]),
        "cov_within": within, "cov_between": between,
    }


def ours_vs_paper(results: Results) -> pd.DataFrame:
    """Hinton et al.'s ensemble, distillation and specialist numbers beside ours."""
    h, speech, jft = headline(results), PAPER["speech"], PAPER["jft"]
    kept = (f"{100 * h['retained']:.0f}% ± {100 * h['retained_std']:.0f}%" if h["retained"] == h["retained"]
            else "n/a: the ensemble is not better than a single member")
    rows = [
        ("single model (accuracy %)", f"{speech['single model']} (speech frames)",
         f"{h['single_acc']:.2f} ± {h['single_acc_std']:.2f}"),
        ("ensemble (accuracy %)", f"{speech['ensemble of 10']} (10 models)", f"{h['ens_acc']:.2f} ({h['n_max']} models)"),
        ("one student distilled from the ensemble", f"{speech['distilled']}",
         f"{h['student_acc']:.2f} ± {h['student_acc_std']:.2f}"),
        ("share of the ensemble's gain kept by the student", f"{100 * h['paper_retained']:.0f}%", kept),
        ("specialists: accuracy on their classes (%)", f"{jft['generalist']} -> {jft['with specialists']} (JFT, conditional)",
         f"{h['spec_covered_gen']:.2f} -> {h['spec_covered_comb']:.2f} ({plural(h['n_specialists'], 'specialist')})"),
    ]
    return pd.DataFrame(rows, columns=["quantity", "paper", "ours"])


# ------------------------------------------------------------------------------ claims
def _ensemble_beats_member(results: Results) -> tuple[bool, dict[str, float]]:
    e = _ends(results["members"], "accuracy")
    return clearly_greater(e["ensemble"], e["ensemble_std"], e["single"], e["single_std"]), {
        "ensemble_accuracy": 100 * e["ensemble"], "members": e["n_max"],
        "single_member_accuracy": 100 * e["single"], "single_member_std": 100 * e["single_std"]}


def _ensemble_lowers(metric: str):
    """A predicate: the full ensemble's ``metric`` is clearly below a single member's."""
    def predicate(results: Results) -> tuple[bool, dict[str, float]]:
        e = _ends(results["members"], metric)
        return clearly_greater(e["single"], e["single_std"], e["ensemble"], e["ensemble_std"]), {
            f"single_member_{metric}": e["single"], f"single_member_{metric}_std": e["single_std"],
            f"ensemble_{metric}": e["ensemble"], "members": e["n_max"]}
    return predicate


def _gain_flattens_early(results: Results) -> tuple[bool, dict[str, float]]:
    t = curve_table(results["members"], "arithmetic")
    n, n_max = saturation(t, SATURATION_SHARE), int(t.index[-1])
    gain = 100 * float(t["accuracy"].iloc[-1] - t["accuracy"].iloc[0])
    return gain > 0 and n <= n_max / 2, {"members_for_the_share": n, "share_of_the_gain": SATURATION_SHARE,
                                         "members": n_max, "gain_points": gain}


def _geometric_nll_worse(results: Results) -> tuple[bool, dict[str, float]]:
    diff = method_differences(results["members"])["nll"]
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    return clearly_greater(mean, sd, 0.0, 0.0), {"geometric_minus_arithmetic_nll": mean, "std_over_sets": sd,
                                                 "sets_of_members": len(diff)}


def _geometric_matches_arithmetic_accuracy(results: Results) -> tuple[bool, dict[str, float]]:
    diff = 100 * method_differences(results["members"])["accuracy"]
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    return compare(mean, sd, 0.0, 0.0) == "indistinguishable from", {
        "geometric_minus_arithmetic_points": mean, "std_over_sets": sd, "sets_of_members": len(diff)}


def _student_keeps_gain(results: Results) -> tuple[bool, dict[str, float]]:
    keep, keep_sd, shares = retained(results["distill"], "arithmetic")
    student, _ = _student(results["distill"])
    single, _ = member_accuracy(results["distill"])
    holds = keep == keep and clearly_greater(keep, keep_sd, 0.0, 0.0)
    return holds, {"retained_share": keep, "retained_share_std": keep_sd, "student_seeds": len(shares),
                   "student_accuracy": 100 * student, "single_member_accuracy": 100 * single,
                   "paper_retained_share": paper_retained()}


def _student_below_member(results: Results) -> tuple[bool, dict[str, float]]:
    student, student_sd = _student(results["distill"])
    single, single_sd = member_accuracy(results["distill"])
    return clearly_greater(single, single_sd, student, student_sd), {
        "student_accuracy": 100 * student, "student_std": 100 * student_sd,
        "single_member_accuracy": 100 * single, "single_member_std": 100 * single_sd}


def _specialists_help(results: Results) -> tuple[bool, dict[str, float]]:
    # one generalist and one set of specialists: the only spread over seeds at this scale is the
    # members' (the generalist is the first member), so it stands for both sides
    spec = results["specialists"].value
    _, member_sd = member_accuracy(results["distill"])
    gen, comb = spec["test"]["generalist_on_covered"], spec["test"]["combined_on_covered"]
    holds = bool(spec["specialists"]) and clearly_greater(comb, member_sd, gen, member_sd)
    val = spec["val"]
    return holds, {"generalist_on_their_classes": 100 * gen, "with_specialists": 100 * comb,
                   "change_points": 100 * (comb - gen), "member_std_points": 100 * member_sd,
                   "change_on_validation_points": 100 * (val["combined_on_covered"] - val["generalist_on_covered"]),
                   "specialists": len(spec["specialists"])}


def _clusters_group_covarying_classes(results: Results) -> tuple[bool, dict[str, float]]:
    within, between = cluster_covariance(results["specialists"])
    return within > between, {"mean_covariance_within_clusters": within, "mean_covariance_between_clusters": between}


CLAIMS: tuple[Claim, ...] = (
    Claim("ch04.ensemble_beats_member",
          "The ensemble of all members is more accurate than a single member.",
          "The ensemble of all members is not clearly more accurate than a single member.",
          _ensemble_beats_member, source="paper"),
    Claim("ch04.student_keeps_ensemble_gain",
          "The student distilled from the arithmetic ensemble keeps a share of the ensemble's gain over a single member "
          "that is clearly above zero.",
          "The student distilled from the arithmetic ensemble does not keep a share of the ensemble's gain over a single "
          "member that is clearly above zero.",
          _student_keeps_gain, source="paper"),
    Claim("ch04.specialists_beat_generalist_on_their_classes",
          "On the classes the specialists cover, the generalist combined with them is more accurate than the generalist alone.",
          "On the classes the specialists cover, the generalist combined with them is not clearly more accurate than the generalist alone.",
          _specialists_help, source="paper"),
    Claim("ch04.ensemble_lowers_nll",
          "The ensemble of all members has a lower test NLL than a single member.",
          "The ensemble of all members does not have a clearly lower test NLL than a single member.",
          _ensemble_lowers("nll")),
    Claim("ch04.ensemble_lowers_ece",
          "The ensemble of all members has a lower test ECE than a single member.",
          "The ensemble of all members does not have a clearly lower test ECE than a single member.",
          _ensemble_lowers("ece")),
    Claim("ch04.gain_flattens_early",
          f"Half of the members or fewer already give {SATURATION_SHARE:.0%} of the full ensemble's accuracy gain.",
          f"It takes more than half of the members to reach {SATURATION_SHARE:.0%} of the full ensemble's accuracy gain "
          "(or there is no gain).",
          _gain_flattens_early),
    Claim("ch04.geometric_matches_arithmetic_accuracy",
          "On the same sets of members, the geometric and the arithmetic mean are equally accurate.",
          "On the same sets of members, the geometric and the arithmetic mean differ in accuracy.",
          _geometric_matches_arithmetic_accuracy),
    Claim("ch04.geometric_nll_worse",
          "On the same sets of members, the geometric mean has a higher NLL than the arithmetic mean.",
          "On the same sets of members, the geometric mean does not have a clearly higher NLL than the arithmetic mean.",
          _geometric_nll_worse),
    Claim("ch04.student_below_member",
          "Under this recipe, the student distilled from the arithmetic ensemble is less accurate than a single member "
          "trained on labels.",
          "Under this recipe, the student distilled from the arithmetic ensemble is not clearly less accurate than a single "
          "member trained on labels.",
          _student_below_member),
    Claim("ch04.clusters_group_covarying_classes",
          "On average, two classes in the same cluster have a higher covariance of predicted probabilities than two classes in different clusters.",
          "On average, two classes in the same cluster do not have a higher covariance of predicted probabilities than two classes in different clusters.",
          _clusters_group_covarying_classes),
)


# ------------------------------------------------------------------------------ the page's glued values
def glue_values(results: Results) -> dict[str, float | int | str]:
    """Every number and sentence the page glues, named ``ch04_*``; ``ch04_says_<claim>`` is what the
    page says about claim ``ch04.<claim>`` (its statement if it holds, else its negation)."""
    h = headline(results)
    outcome = by_id(evaluate(CLAIMS, results))
    speech, jft = PAPER["speech"], PAPER["jft"]
    return {
        **{f"ch04_{k}": v for k, v in h.items()},
        **{f"ch04_says_{cid.split('.', 1)[1]}": o.sentence() for cid, o in outcome.items()},
        "ch04_run_time": run_time_sentence(results),
        "ch04_share_sentence": share_sentence(results["distill"]),
        "ch04_student_sentence": student_sentence(results["distill"]),
        "ch04_specialists_sentence": specialists_sentence(results["specialists"]),
        "ch04_specialist_words": plural(h["n_specialists"], "specialist"),
        "ch04_top_n_classes": plural(results["specialists"].value["top_n"], "class", "classes"),
        "ch04_student_seeds": plural(len(retained(results["distill"])[2]), "student seed"),
        "ch04_paper_single": speech["single model"], "ch04_paper_ensemble": speech["ensemble of 10"],
        "ch04_paper_distilled": speech["distilled"], "ch04_paper_retained_pct": 100 * paper_retained(),
        "ch04_paper_jft_generalist": jft["generalist"], "ch04_paper_jft_specialists": jft["with specialists"],
    }
