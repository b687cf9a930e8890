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


def member_spread_table(result: StoredResult) -> pd.DataFrame:
    """The members' training, validation and test accuracy (%), mean ± std over members, and the
    learning rate chosen on validation for them (every grid point's validation accuracy beside it)."""
    df = pd.DataFrame(result.value["members"])
    row = {f"{name} accuracy (%)": f"{100 * df[key].mean():.2f} ± {100 * df[key].std(ddof=1):.2f}"
           for name, key in (("training", "train_accuracy"), ("validation", "val_accuracy"),
                             ("test", "test_accuracy"))}
    row["members"] = f"{len(df)}"
    row["epochs"] = f"{result.value['epochs']}"
    return pd.DataFrame([row], index=["one member"])


def member_tuning_table(result: StoredResult) -> pd.DataFrame:
    """The members' learning-rate search (member seed 100): validation accuracy (%) per lr."""
    df = pd.DataFrame(result.value["tuning"])
    return pd.DataFrame({"validation accuracy (%)": (100 * df["val_accuracy"]).map("{:.2f}".format).to_list(),
                         "chosen": df["chosen"].map({True: "yes", False: ""}).to_list()},
                        index=pd.Index([f"{lr:g}" for lr in df["lr"]], name="learning rate"))


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


def teacher_report_table(result: StoredResult) -> pd.DataFrame:
    """Each ensemble as a teacher: training / validation / test accuracy (%) and its validation
    advantage over the members' architecture trained on labels for the student's epochs."""
    rows = {}
    for method, r in result.value["teacher_reports"].items():
        rows[f"{method} ensemble"] = {
            "training (%)": f"{100 * r['train_accuracy']:.2f}", "validation (%)": f"{100 * r['val_accuracy']:.2f}",
            "test (%)": f"{100 * r['test_accuracy']:.2f}",
            "labels at the student's epochs, validation (%)":
                f"{100 * r['student_val_accuracy']:.2f} ± {100 * r['student_val_accuracy_std']:.2f}",
            "advantage (points)": f"{100 * r['val_advantage']:.2f} ± {100 * r['val_advantage_std']:.2f}",
            "clear by the cautious rule": "yes" if r["has_advantage"] else "no"}
    return pd.DataFrame(rows).T.rename_axis("teacher")


def distill_tuning_table(result: StoredResult) -> pd.DataFrame:
    """The student's search (first student seed, arithmetic ensemble): validation accuracy (%) per (lr, T)."""
    df = pd.DataFrame(result.value["tuning"])
    return pd.DataFrame({"label weight": [f"{1 - a:g}" for a in df["alpha"]],
                         "validation accuracy (%)": (100 * df["val_accuracy"]).map("{:.2f}".format).to_list(),
                         "chosen": df["chosen"].map({True: "yes", False: ""}).to_list()},
                        index=pd.MultiIndex.from_arrays([[f"{v:g}" for v in df["lr"]], [f"{v:g}" for v in df["T"]]],
                                                        names=["learning rate", "T"]))


def chosen_distillation(result: StoredResult) -> dict:
    """The student's settings chosen on validation (lr, T, alpha)."""
    return next(r for r in result.value["tuning"] if r["chosen"])


def curve_figure(result: StoredResult):
    """Validation accuracy against epoch of the students and of labels at the student's epochs (mean over seeds)."""
    from .. import plots

    curves: dict[str, list] = {}
    for c in result.value["curves"]:
        curves.setdefault(c["model"], []).append(c["val_accuracy"])
    fig, (ax,) = plots.figure(width=6.0, height=3.3)
    for i, (name, ys) in enumerate(curves.items()):
        y = 100 * np.mean(np.asarray(ys, dtype=float), axis=0)
        ax.plot(np.arange(1, len(y) + 1), y, color=plots.PALETTE[i], label=name)
    ens = pd.DataFrame(result.value["rows"])
    ens = ens[ens["model"] == "ensemble (arithmetic)"]["val_accuracy"]
    if len(ens):
        ax.axhline(100 * float(ens.iloc[0]), ls="--", color="grey", lw=1, label="arithmetic ensemble")
    lo = min(100 * np.min(np.mean(np.asarray(ys, dtype=float), axis=0)[len(ys[0]) // 5:]) for ys in curves.values())
    ax.set_ylim(bottom=lo - 0.5)
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="students and the label run at the same epochs")
    ax.legend(fontsize=8)
    return fig


def labels_same_epochs(result: StoredResult) -> tuple[float, float]:
    """Test accuracy (fraction) of the members' architecture on labels for the student's epochs: mean, std."""
    d = distill_table(result)
    return float(d.loc["labels, student's epochs", "accuracy"]), float(d.loc["labels, student's epochs", "accuracy_std"])


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
SYSTEMS = ("generalist", "combined", "fine-tuned")
_SYSTEM_NAMES = {"generalist": "generalist", "combined": "with specialists", "fine-tuned": "fine-tuned generalist"}


def _generalists(result: StoredResult) -> list[dict]:
    return result.value["generalists"]


def cluster_names(result: StoredResult, which: int = 0) -> list[str]:
    """Each confusable-class cluster of generalist ``which`` as a readable list of class names."""
    names = result.value["class_names"]
    return [", ".join(names[c] for c in cl) for cl in _generalists(result)[which]["clusters"]]


def cluster_table(result: StoredResult) -> pd.DataFrame:
    """Every generalist's clusters: classes, enrichment (how much its errors stay inside) and
    whether it got a specialist (two or more classes and enrichment above 1)."""
    rows = []
    for i, g in enumerate(_generalists(result)):
        for name, cl, e in zip(cluster_names(result, i), g["clusters"], g["enrichment"]):
            rows.append({"generalist": f"seed {g['seed']}", "classes": name,
                         "enrichment": "-" if e != e else f"{e:.2f}",
                         "specialist": "yes" if len(cl) >= 2 and e > 1 else
                         ("no (a single class)" if len(cl) < 2 else "no (enrichment not above 1)")})
    return pd.DataFrame(rows).set_index(["generalist", "classes"])


def cluster_correlation(result: StoredResult, which: int = 0) -> tuple[float, float]:
    """Mean correlation of generalist ``which``'s predicted probabilities for two different classes
    in the same cluster, and for two classes in different clusters (NaN where there is no such pair)."""
    g = _generalists(result)[which]
    corr = np.asarray(g["correlation"], dtype=float)
    label = np.empty(len(corr), dtype=int)
    for i, cluster in enumerate(g["clusters"]):
        label[cluster] = i
    same = label[:, None] == label[None, :]
    off_diagonal = ~np.eye(len(corr), dtype=bool)
    return _mean_where(corr, same & off_diagonal), _mean_where(corr, ~same)


def _mean_where(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else float("nan")


def specialist_values(result: StoredResult, split: str = "test", where: str = "covered") -> pd.DataFrame:
    """Per generalist: accuracy (fraction) of the generalist alone, with its specialists and
    fine-tuned for the same steps, on ``where`` ('all', 'covered': the classes a specialist
    covers, 'active': the images on which a specialist is active)."""
    return pd.DataFrame([{"seed": g["seed"], **{k: g[split][where][k] for k in SYSTEMS},
                          "specialists": len(g["specialists"])} for g in _generalists(result)]).set_index("seed")


def specialist_table(result: StoredResult, split: str = "test") -> pd.DataFrame:
    """Accuracy (%) of the three systems overall, on the specialists' classes and on the images
    where a specialist is active: mean ± std over generalists."""
    rows = {}
    for where, label in (("all", "all images"), ("covered", "classes with a specialist"),
                         ("active", "images where a specialist is active")):
        v = 100 * specialist_values(result, split, where)[list(SYSTEMS)]
        rows[label] = {_SYSTEM_NAMES[k]: f"{v[k].mean():.2f} ± {v[k].std(ddof=1) if len(v) > 1 else 0:.2f}"
                       for k in SYSTEMS}
    return pd.DataFrame(rows).T.rename_axis("test images" if split == "test" else "validation images")


def specialist_styled(result: StoredResult, split: str = "test"):
    """:func:`specialist_table` for a page."""
    return specialist_table(result, split)


def paired_change(result: StoredResult, a: str, b: str, split: str = "test", where: str = "covered") -> tuple[float, float]:
    """Mean and std over generalists of system ``a`` minus system ``b`` (accuracy, points)."""
    v = 100 * specialist_values(result, split, where)
    d = (v[a] - v[b]).dropna()
    return float(d.mean()) if len(d) else float("nan"), float(d.std(ddof=1)) if len(d) > 1 else 0.0


def specialists_sentence(result: StoredResult) -> str:
    """How many specialists each generalist got, and on which classes."""
    gens = _generalists(result)
    names = result.value["class_names"]
    parts = []
    for g in gens:
        specs = g["specialists"]
        if not specs:
            parts.append(f"generalist {g['seed']} gets none")
            continue
        classes = "; ".join(", ".join(names[c] for c in sp["classes"]) for sp in specs)
        parts.append(f"generalist {g['seed']} gets {plural(len(specs), 'specialist')} ({classes})")
    text = join_words(parts) + "."
    return text[0].upper() + text[1:]


# ------------------------------------------------------------------------------ figures
def ensemble_size_figure(result: StoredResult):
    """Test accuracy, NLL and ECE against the number of members, arithmetic and geometric means
    (mean ± std over resampled sets), the size that reaches the saturation share marked."""
    from .. import plots

    arith, geo = curve_table(result, "arithmetic"), curve_table(result, "geometric")
    fig, axes = plots.figure(ncols=3, width=12, height=3.4)
    x = arith.index.to_numpy()
    for ax, key, label, scale in ((axes[0], "accuracy", "test accuracy (%)", 100), (axes[1], "nll", "test NLL", 1),
                                  (axes[2], "ece", "test ECE", 1)):
        plots.lines(x, {"arithmetic mean": scale * arith[key], "geometric mean": scale * geo[key]},
                    spread={"arithmetic mean": scale * arith[key + "_std"], "geometric mean": scale * geo[key + "_std"]},
                    xlabel="members N", ylabel=label, ax=ax)
    axes[0].axvline(saturation(arith, SATURATION_SHARE), ls=":", color="grey", lw=1)
    return fig


def share_figure(result: StoredResult):
    """The share of the ensemble's gain each student seed keeps, for both means, with the paper's."""
    from .. import plots

    fig, (ax,) = plots.figure(width=5.5, height=3.2)
    for i, method in enumerate(("arithmetic", "geometric")):
        shares = retained(result, method)[2]
        ax.scatter(np.full(len(shares), i), 100 * shares, color=plots.PALETTE[i], zorder=3)
    ax.axhline(100 * paper_retained(), ls="--", color="grey", lw=1, label="paper (speech)")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks([0, 1], ["student of the\narithmetic mean", "student of the\ngeometric mean"])
    ax.set(ylabel="share of the ensemble's gain kept (%)", xlim=(-0.6, 1.6), title="one dot per student seed")
    ax.legend(fontsize=8)
    return fig


def correlation_figure(result: StoredResult, which: int = 0):
    """Generalist ``which``'s prediction correlations between classes, reordered by cluster, the
    clusters outlined (the diagonal, always 1, blanked)."""
    from .. import plots

    g = _generalists(result)[which]
    names = result.value["class_names"]
    order = [c for cl in g["clusters"] for c in cl]
    shown = np.asarray(g["correlation"], dtype=float)[np.ix_(order, order)].copy()
    np.fill_diagonal(shown, np.nan)
    fig, (ax,) = plots.figure(width=6.2, height=5.2)
    lim = np.nanmax(np.abs(shown))
    im = ax.imshow(shown, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.grid(False)
    ax.set_xticks(range(len(order)), [names[c] for c in order], rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(order)), [names[c] for c in order], fontsize=8)
    for e in np.cumsum([len(cl) for cl in g["clusters"]])[:-1] - 0.5:
        ax.axhline(e, color="black", lw=0.8)
        ax.axvline(e, color="black", lw=0.8)
    ax.set_title(f"generalist {g['seed']}: correlation of predicted probabilities", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


# ------------------------------------------------------------------------------ the chapter in numbers
def headline(results: Results) -> dict[str, float]:
    """The chapter's findings as numbers (accuracies in %)."""
    members, distill, specs = results["members"], results["distill"], results["specialists"]
    arith, geo = curve_table(members, "arithmetic"), curve_table(members, "geometric")
    d = distill_table(distill)
    keep, keep_sd, _ = retained(distill, "arithmetic")
    keep_g, keep_g_sd, _ = retained(distill, "geometric")
    single, single_sd = member_accuracy(distill)
    long, long_sd = labels_same_epochs(distill)
    cov = specialist_values(specs, "test", "covered")
    within, between = cluster_correlation(specs, 0)
    spec_change, spec_change_sd = paired_change(specs, "combined", "generalist")
    fine_change, fine_change_sd = paired_change(specs, "combined", "fine-tuned")
    chosen = chosen_distillation(distill)
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
        "labels_long_acc": 100 * long, "labels_long_acc_std": 100 * long_sd,
        "retained": keep, "retained_std": keep_sd, "retained_geo": keep_g, "retained_geo_std": keep_g_sd,
        "member_mean_acc": 100 * single, "member_acc_std": 100 * single_sd,
        "paper_retained": paper_retained(),
        "student_T": chosen["T"], "student_lr": chosen["lr"], "student_label_weight": 1 - chosen["alpha"],
        "member_lr": distill.value["member_lr"],
        "member_epochs": distill.value["epochs"]["members"], "student_epochs": distill.value["epochs"]["students"],
        "spec_covered_gen": 100 * cov["generalist"].mean(), "spec_covered_comb": 100 * cov["combined"].mean(),
        "spec_covered_fine": 100 * cov["fine-tuned"].mean(),
        "spec_change": spec_change, "spec_change_std": spec_change_sd,
        "spec_vs_fine": fine_change, "spec_vs_fine_std": fine_change_sd,
        "n_generalists": len(cov), "n_specialists": int(cov["specialists"].sum()),
        "corr_within": within, "corr_between": between,
    }


def ours_vs_paper(results: Results) -> pd.DataFrame:
    """Hinton et al.'s ensemble, distillation and specialist numbers beside ours."""
    h, speech, jft = headline(results), PAPER["speech"], PAPER["jft"]
    kept = (f"{100 * h['retained']:.0f}% ± {100 * h['retained_std']:.0f}%" if h["retained"] == h["retained"]
            else "none to keep: the ensemble is not better than a single member")
    rows = [
        ("single model (accuracy %)", f"{speech['single model']} (speech frames)",
         f"{h['single_acc']:.2f} ± {h['single_acc_std']:.2f}"),
        ("ensemble (accuracy %)", f"{speech['ensemble of 10']} (10 models)", f"{h['ens_acc']:.2f} ({h['n_max']} models)"),
        ("one student distilled from the ensemble", f"{speech['distilled']}",
         f"{h['student_acc']:.2f} ± {h['student_acc_std']:.2f}"),
        ("share of the ensemble's gain kept by the student", f"{100 * h['paper_retained']:.0f}%", kept),
        ("specialists: accuracy on their classes (%)", f"{jft['generalist']} -> {jft['with specialists']} (JFT, conditional)",
         f"{h['spec_covered_gen']:.2f} -> {h['spec_covered_comb']:.2f} ({plural(h['n_specialists'], 'specialist')} "
         f"over {plural(h['n_generalists'], 'generalist')})"),
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


def _student_beats_labels_same_epochs(results: Results) -> tuple[bool, dict[str, float]]:
    student, student_sd = _student(results["distill"])
    long, long_sd = labels_same_epochs(results["distill"])
    return clearly_greater(student, student_sd, long, long_sd), {
        "student_accuracy": 100 * student, "student_std": 100 * student_sd,
        "labels_same_epochs_accuracy": 100 * long, "labels_same_epochs_std": 100 * long_sd}


def _student_below_member(results: Results) -> tuple[bool, dict[str, float]]:
    student, student_sd = _student(results["distill"])
    single, single_sd = member_accuracy(results["distill"])
    return clearly_greater(single, single_sd, student, student_sd), {
        "student_accuracy": 100 * student, "student_std": 100 * student_sd,
        "single_member_accuracy": 100 * single, "single_member_std": 100 * single_sd}


def _paired_gain(a: str, b: str):
    """A predicate: system ``a`` beats ``b`` on the specialists' classes by the paired rule over
    generalists (the mean change exceeds its standard deviation), with at least one specialist."""
    def predicate(results: Results) -> tuple[bool, dict[str, float]]:
        specs = results["specialists"]
        mean, sd = paired_change(specs, a, b)
        v = specialist_values(specs)
        n = int(v["specialists"].sum())
        return bool(n > 0 and mean == mean and mean > sd), {
            "change_points": mean, "change_std": sd, "generalists": len(v), "specialists": n,
            "change_on_validation_points": paired_change(specs, a, b, "val")[0]}
    return predicate


def _clusters_group_correlated_classes(results: Results) -> tuple[bool, dict[str, float]]:
    specs = results["specialists"]
    pairs = [cluster_correlation(specs, i) for i in range(len(_generalists(specs)))]
    holds = all(w > b for w, b in pairs if w == w and b == b) and any(w == w for w, _ in pairs)
    return holds, {f"generalist_{i}_within_minus_between": w - b for i, (w, b) in enumerate(pairs)}


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
          "On the classes the specialists cover, the generalist combined with them is clearly more accurate than the "
          "generalist alone (paired over generalists).",
          "On the classes the specialists cover, the generalist combined with them is not clearly more accurate than "
          "the generalist alone.", _paired_gain("combined", "generalist"), source="paper"),
    Claim("ch04.specialists_beat_fine_tuning",
          "On the classes the specialists cover, the specialists beat the control of fine-tuning the generalist on the "
          "same images for the same steps (paired over generalists).",
          "On the classes the specialists cover, the specialists do not clearly beat fine-tuning the generalist on the "
          "same images for the same steps.", _paired_gain("combined", "fine-tuned")),
    Claim("ch04.student_beats_labels_same_epochs",
          "The student of the arithmetic ensemble is clearly more accurate than the same network trained on labels "
          "for the same epochs.",
          "The student of the arithmetic ensemble is not clearly more accurate than the same network trained on "
          "labels for the same epochs.", _student_beats_labels_same_epochs),
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
          "The student distilled from the arithmetic ensemble is less accurate than a single member trained on labels.",
          "The student distilled from the arithmetic ensemble is not clearly less accurate than a single member "
          "trained on labels.", _student_below_member),
    Claim("ch04.clusters_group_correlated_classes",
          "For every generalist, two classes in the same cluster have on average a higher correlation of predicted "
          "probabilities than two classes in different clusters.",
          "For some generalist, two classes in the same cluster do not have a higher correlation of predicted "
          "probabilities on average than two classes in different clusters.", _clusters_group_correlated_classes),
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
        "ch04_generalist_words": plural(h["n_generalists"], "generalist"),
        "ch04_top_n_classes": plural(results["specialists"].value["top_n"], "class", "classes"),
        "ch04_student_seeds": plural(len(retained(results["distill"])[2]), "student seed"),
        "ch04_paper_single": speech["single model"], "ch04_paper_ensemble": speech["ensemble of 10"],
        "ch04_paper_distilled": speech["distilled"], "ch04_paper_retained_pct": 100 * paper_retained(),
        "ch04_paper_jft_generalist": jft["generalist"], "ch04_paper_jft_specialists": jft["with specialists"],
    }
