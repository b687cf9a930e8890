"""Chapter 2, distilling a big net into a small one: tables, sentences and claims from the stored results.

Reads the five parts that ``kdbook.experiments.ch02_big_to_small.run`` returns: ``main`` (the
teacher search, the teacher's report and the tuned students in each training regime, with their
tuning tables and validation curves), ``temperature`` (student width x temperature),
``weighting`` (soft vs soft + hard, with and without T^2), ``consistency`` (fixed vs consistent
teaching under jitter) and ``small-data`` (a few percent of the images). Every comparison of
means uses the book's cautious rule: a difference counts only when it exceeds the sum of the
two standard deviations over seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import plots
from ..claims import Claim, Results
from ..store import StoredResult
from .common import clearly_greater, compare, join_words, mean_std, plural

#: Hinton et al. (2015): MNIST test errors (of 10,000), the temperature study, and the speech
#: model trained on 3% of its data (frame accuracy, %).
PAPER: dict[str, Any] = {
    "errors": {"teacher": 67, "small net": 146, "distilled": 74},
    "test_size": 10_000,
    "T": 20.0,
    "narrow_width": 30, "narrow_best_T": (2.5, 4.0),
    "wide_from_width": 300, "flat_from_T": 8.0,
    "small_data": {"fraction": 0.03, "hard targets": 44.5, "soft targets": 57.0, "full data": 58.9},
}
#: The networks of the main experiment, in the order the page shows them.
MODELS = ("teacher", "small net", "distilled", "label smoothing")
#: "Most" of a gap: more than this share, by the cautious rule over seeds.
MOST = 0.5
#: "Several times" the paper's error rate.
SEVERAL = 3.0
#: A curve "had ended" when its last fifth of epochs adds no clear validation accuracy.
LAST_SHARE = 0.2

_ERROR_WORDS = {"lower than": "fewer errors than", "higher than": "more errors than",
                "indistinguishable from": "about as many errors as"}


def paper_gap_closed() -> float:
    """The share of the small net's excess errors over the teacher that distillation removed in the paper."""
    e = PAPER["errors"]
    return (e["small net"] - e["distilled"]) / (e["small net"] - e["teacher"])


def paper_small_recovered() -> float:
    """The share of the full-data accuracy gain that soft targets recovered with 3% of the paper's speech data."""
    p = PAPER["small_data"]
    return (p["soft targets"] - p["hard targets"]) / (p["full data"] - p["hard targets"])


def pct(x: float, digits: int = 1) -> str:
    """A share as a percentage: 0.9123 -> '91.2%'."""
    return f"{100 * x:.{digits}f}%"


def _pm(mean: float, std: float, digits: int = 1, scale: float = 1.0) -> str:
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


# ------------------------------------------------------------------------------ the teacher
def teacher_name(result: StoredResult) -> str:
    """The teacher recipe chosen on validation."""
    return result.value["teacher"]


def candidates_table(result: StoredResult) -> pd.DataFrame:
    """The teacher search: each candidate's training, validation and test accuracy (seed 0, all the
    images), the one chosen on validation marked."""
    df = pd.DataFrame(result.value["candidates"])
    chosen = teacher_name(result)
    return pd.DataFrame({"epochs": [t["epochs"] for t in df["train"]],
                         "training accuracy": df["train_accuracy"].map(pct).to_list(),
                         "validation accuracy": df["val_accuracy"].map(pct).to_list(),
                         "test accuracy": df["test_accuracy"].map(pct).to_list(),
                         "chosen on validation": ["yes" if n == chosen else "" for n in df["name"]]},
                        index=pd.Index(df["name"].to_list(), name="teacher candidate"))


def teacher_report(result: StoredResult, regime: str | None = None) -> dict[str, Any]:
    """The stored teacher report of ``regime`` (default: all the images)."""
    return result.value["teacher_reports"][regime or regime_names(result)[0]]


def teacher_report_table(result: StoredResult) -> pd.DataFrame:
    """Per regime: the teacher's training / validation / test accuracy and its validation advantage
    over the label-trained small net (mean ± std over seeds, in points), and whether it is clear."""
    rows = {}
    for name in regime_names(result):
        r = teacher_report(result, name)
        rows[name] = {"teacher: training (%)": _pm(r["train_accuracy"], r["train_accuracy_std"], 2, 100),
                      "validation (%)": _pm(r["val_accuracy"], r["val_accuracy_std"], 2, 100),
                      "test (%)": _pm(r["test_accuracy"], r["test_accuracy_std"], 2, 100),
                      "small net on labels, validation (%)": _pm(r["student_val_accuracy"],
                                                                 r["student_val_accuracy_std"], 2, 100),
                      "advantage (points)": _pm(r["val_advantage"], r["val_advantage_std"], 2, 100),
                      "clear by the cautious rule": "yes" if r["has_advantage"] else "no"}
    return pd.DataFrame(rows).T.rename_axis("training set")


def teacher_sentence(result: StoredResult, regime: str) -> str:
    """What the teacher's report of ``regime`` says, before anything is distilled."""
    r = teacher_report(result, regime)
    text = (f"With {regime}, the teacher fits {pct(r['train_accuracy'])} of its training images and reaches "
            f"{pct(r['val_accuracy'])} on validation, {100 * r['val_advantage']:.1f} ± {100 * r['val_advantage_std']:.1f} "
            f"points above the small net trained on labels (over {plural(r['seeds'], 'seed')})")
    if r["has_advantage"]:
        return text + ": a clear advantage, so it has something to pass on."
    return text + (": not a clear advantage by the cautious rule, so whatever distillation does here it cannot be "
                   "read as passing on a better teacher's knowledge.")


# ------------------------------------------------------------------------------ the three networks
def regime_names(result: StoredResult) -> list[str]:
    """The regimes of the main experiment, in order (the first is all the data)."""
    return list(result.value["regimes"])


def _rows(result: StoredResult, regime: str | None) -> pd.DataFrame:
    df = pd.DataFrame(result.value["rows"])
    return df[df["regime"] == (regime or regime_names(result)[0])]


def main_table(result: StoredResult, regime: str | None = None) -> pd.DataFrame:
    """Test errors, accuracy, NLL, ECE, validation and training accuracy of the networks in
    ``regime`` (default: all the data), mean and std over seeds."""
    df = _rows(result, regime)
    cols = [c for c in ("errors", "accuracy", "nll", "ece", "val_accuracy", "train_accuracy") if c in df]
    out = mean_std(df, "model", cols)
    out["seeds"] = df.groupby("model", sort=False).size()
    return out


def per_seed_errors(result: StoredResult, regime: str | None = None) -> pd.DataFrame:
    """Test errors of each net (columns) for each seed (rows) in ``regime``."""
    table = _rows(result, regime).pivot(index="seed", columns="model", values="errors")
    return table[[m for m in MODELS if m in table.columns]]


def _errors_vs(m: pd.DataFrame, a: str, b: str) -> str:
    """'fewer errors than', 'more errors than' or 'about as many errors as': model ``a`` against ``b``."""
    return _ERROR_WORDS[compare(m.loc[a, "errors"], m.loc[a, "errors_std"], m.loc[b, "errors"], m.loc[b, "errors_std"])]


def gap_shares(result: StoredResult, regime: str) -> np.ndarray:
    """Per seed, the share of the small net's excess errors over the teacher that distillation removes
    (nan for a seed whose teacher is not better than its small net)."""
    e = per_seed_errors(result, regime).astype(float)
    excess = e["small net"] - e["teacher"]
    return ((e["small net"] - e["distilled"]) / excess.where(excess > 0)).to_numpy()


def regime_headline(result: StoredResult, regime: str) -> dict[str, float | str | bool]:
    """Mean errors of the networks in ``regime``, how the teacher, the distilled net and the
    label-smoothing control compare with the small net (and distillation with smoothing), the share
    of the small net's excess errors over the teacher that distillation removes, and whether the
    distilled net wins on every seed."""
    m = main_table(result, regime)
    err, sd = m["errors"], m["errors_std"]
    per_seed = per_seed_errors(result, regime)
    teacher_vs_small = _errors_vs(m, "teacher", "small net")
    out = {f"{k.replace(' ', '_')}": err[k] for k in m.index}
    out.update({f"{k.replace(' ', '_')}_std": sd[k] for k in m.index})
    out.update({
        "small": err["small net"], "small_std": sd["small net"],
        "gap_closed": float((err["small net"] - err["distilled"]) / (err["small net"] - err["teacher"]))
        if err["small net"] > err["teacher"] else float("nan"),
        "teacher_better": teacher_vs_small == _ERROR_WORDS["lower than"],
        "teacher_vs_small": teacher_vs_small,
        "distilled_vs_small": _errors_vs(m, "distilled", "small net"),
        "smoothing_vs_small": _errors_vs(m, "label smoothing", "small net"),
        "distilled_vs_smoothing": _errors_vs(m, "distilled", "label smoothing"),
        "distilled_better_every_seed": bool((per_seed["distilled"] < per_seed["small net"]).all()),
        "n_seeds": int(m["seeds"].min()),
        "train_size": int(_rows(result, regime)["train_size"].iloc[0]),
    })
    return out


def regime_sentence(result: StoredResult, regime: str) -> str:
    """What the networks of ``regime`` show, in words, with the cautious rule's verdicts."""
    r = regime_headline(result, regime)
    text = (f"With {regime}, the teacher makes {r['teacher']:.0f} test errors, the small net on labels "
            f"{r['small']:.0f}, the distilled net {r['distilled']:.0f} and the small net with label smoothing "
            f"{r['label_smoothing']:.0f}. By the cautious rule used throughout the book (a difference counts only "
            f"when it exceeds the two standard deviations added), the distilled net makes {r['distilled_vs_small']} "
            f"the small net and {r['distilled_vs_smoothing']} the label-smoothing control")
    text += (f"; distillation removes {100 * r['gap_closed']:.0f}% of the small net's excess errors over the "
             f"teacher (the paper: {100 * paper_gap_closed():.0f}%)." if r["teacher_better"] else
             ". With no clear teacher advantage on test, there is no excess over the teacher for distillation to remove.")
    if r["distilled_better_every_seed"]:
        text += " The distilled net makes fewer errors than the small net on every seed."
    return text


def main_display_table(result: StoredResult) -> pd.DataFrame:
    """The networks in every regime, ready to show: mean ± std over seeds, beside the paper's MNIST errors."""
    frames = []
    for name in regime_names(result):
        m = main_table(result, name)
        frames.append(pd.DataFrame({
            "training set": name,
            "test errors": [_pm(x, sd) for x, sd in zip(m["errors"], m["errors_std"])],
            "test accuracy (%)": [_pm(x, sd, 2, 100) for x, sd in zip(m["accuracy"], m["accuracy_std"])],
            "training accuracy (%)": [f"{100 * x:.2f}" for x in m["train_accuracy"]],
            "NLL": m["nll"].map("{:.3f}".format), "ECE": m["ece"].map("{:.3f}".format),
            "paper (MNIST errors)": [f"{PAPER['errors'][k]}" if k in PAPER["errors"] else "-" for k in m.index]},
            index=m.index))
    return pd.concat(frames).reset_index(names="network").set_index(["training set", "network"])


def recipe_table(result: StoredResult) -> pd.DataFrame:
    """Per regime: training images, teacher and student epochs, and the settings chosen on validation."""
    rows = {}
    for name in regime_names(result):
        ep = result.value["epochs"][name]
        chosen = {r["method"]: r for r in result.value["tuning"][name] if r["chosen"]}
        rows[name] = {"training images": f"{_rows(result, name)['train_size'].iloc[0]:,}",
                      "teacher epochs": ep["teacher"], "student epochs": ep["student"],
                      "labels: lr": f"{chosen['labels']['lr']:g}",
                      "distilled: lr, objective": f"{chosen['distilled']['lr']:g}, {chosen['distilled']['objective']}",
                      "smoothing: lr, objective": f"{chosen['label smoothing']['lr']:g}, "
                                                  f"{chosen['label smoothing']['objective']}"}
    return pd.DataFrame(rows).T.rename_axis("training set")


def tuning_table(result: StoredResult, regime: str | None = None) -> pd.DataFrame:
    """Every grid point of ``regime``'s search (seed 0): method, learning rate, objective, validation
    accuracy (%), the chosen one marked."""
    df = pd.DataFrame(result.value["tuning"][regime or regime_names(result)[0]])
    return pd.DataFrame({"method": df["method"], "lr": df["lr"].map("{:g}".format), "objective": df["objective"],
                         "validation accuracy (%)": (100 * df["val_accuracy"]).map("{:.2f}".format),
                         "chosen": df["chosen"].map({True: "yes", False: ""})}).set_index(["method", "lr", "objective"])


def grid_size(result: StoredResult) -> int:
    """How many points each method's tuning grid has (they are equal by construction)."""
    df = pd.DataFrame(result.value["tuning"][regime_names(result)[0]])
    sizes = df.groupby("method").size()
    return int(sizes.iloc[0]) if sizes.nunique() == 1 else -1


def seed_figure(result: StoredResult, test_size: int) -> Figure:
    """Every seed's test errors of the networks, one panel per regime, with mean ± std beside them."""
    names = regime_names(result)
    fig, axes = plots.figure(ncols=len(names), width=5.0 * len(names), height=3.4)
    for ax, name in zip(axes, names):
        per_seed = per_seed_errors(result, name)
        for i, model in enumerate(per_seed.columns):
            ys = per_seed[model].to_numpy(dtype=float)
            ax.scatter(np.full(len(ys), i) + np.linspace(-0.08, 0.08, len(ys)), ys, color=plots.PALETTE[i], zorder=3)
            ax.errorbar(i + 0.22, ys.mean(), yerr=ys.std(ddof=1) if len(ys) > 1 else 0, fmt="_", color="black",
                        capsize=4, ms=14)
        ax.set_xticks(range(len(per_seed.columns)), [c.replace(" ", "\n") for c in per_seed.columns])
        ax.set(ylabel=f"test errors (of {test_size:,})", xlim=(-0.5, len(per_seed.columns) - 0.3), title=name)
    return fig


# ------------------------------------------------------------------------------ did training end?
def mean_curves(curves: Sequence[dict], key: str, where: dict | None = None) -> dict[str, np.ndarray]:
    """Mean validation accuracy per epoch of each ``key`` value, over seeds (rows matching ``where``)."""
    out: dict[str, list] = {}
    for c in curves:
        if where and any(c.get(k) != v for k, v in where.items()):
            continue
        out.setdefault(c[key], []).append(c["val_accuracy"])
    return {k: np.mean(np.asarray(v, dtype=float), axis=0) for k, v in out.items()}


def late_gains(result: StoredResult, regime: str | None = None) -> pd.DataFrame:
    """Per student of ``regime``: the validation accuracy gained over the last fifth of its epochs
    (points), mean and std over seeds."""
    regime = regime or regime_names(result)[0]
    rows = []
    for c in result.value["curves"]:
        if c["regime"] != regime:
            continue
        ys = np.asarray(c["val_accuracy"], dtype=float)
        start = int(round(len(ys) * (1 - LAST_SHARE))) - 1
        rows.append({"model": c["model"], "gain": 100 * (ys[-1] - ys[start])})
    return mean_std(pd.DataFrame(rows), "model", ["gain"])


def curve_figure(result: StoredResult) -> Figure:
    """Validation accuracy against student epochs (mean over seeds), one panel per regime."""
    names = regime_names(result)
    fig, axes = plots.figure(ncols=len(names), width=5.0 * len(names), height=3.3)
    for ax, name in zip(axes, names):
        for i, (model, ys) in enumerate(mean_curves(result.value["curves"], "model", {"regime": name}).items()):
            ax.plot(np.arange(1, len(ys) + 1), 100 * ys, color=plots.PALETTE[MODELS.index(model)], label=model)
        ax.set(xlabel="student epoch", ylabel="validation accuracy (%)", title=name)
        lo = min(100 * min(ys[len(ys) // 5:]) for ys in mean_curves(result.value["curves"], "model", {"regime": name}).values())
        ax.set_ylim(bottom=lo - 0.5)
    axes[0].legend(fontsize=8)
    return fig


def curves_sentence(result: StoredResult) -> str:
    """Whether each regime's students had stopped improving, from the last fifth of their curves."""
    parts = []
    for name in regime_names(result):
        g = late_gains(result, name)
        worst = g["gain"].idxmax()
        parts.append(f"with {name}, the last fifth of the epochs adds at most {g.loc[worst, 'gain']:.2f} ± "
                     f"{g.loc[worst, 'gain_std']:.2f} points of validation accuracy ({worst})")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


# ------------------------------------------------------------------------------ the sweeps
def _sweep_regime(results: Results) -> str:
    return results["temperature"].value["regime"]


def sweep_seeds(result: StoredResult) -> int:
    """How many seeds a sweep (temperature or weighting) ran."""
    return int(pd.DataFrame(result.value["rows"])["seed"].nunique())


def _setting_std(df: pd.DataFrame, by: list[str]) -> float:
    return float(df.groupby(by, dropna=False)["errors"].std(ddof=1).fillna(0.0).median())


def sweep_spreads(results: Results) -> dict[str, float]:
    """The typical standard deviation over seeds (the median over settings, so that a collapsed
    run's huge spread does not stand for all) of one distilled net and of one net on labels in the
    temperature sweep."""
    rows = pd.DataFrame(results["temperature"].value["rows"])
    labels = rows["T"].isna()
    return {"distilled": _setting_std(rows[~labels], ["width", "T"]), "labels": _setting_std(rows[labels], ["width"])}


def _T_column(t) -> str:
    return "labels" if t is None or t != t else f"{t:g}"


def temperature_table(result: StoredResult) -> pd.DataFrame:
    """Mean test errors per width (rows) and temperature (columns; 'labels' = no teacher)."""
    df = pd.DataFrame(result.value["rows"])
    df["T"] = [_T_column(t) for t in df["T"]]
    table = df.groupby(["width", "T"], sort=False)["errors"].mean().unstack("T")
    return table[["labels"] + [c for c in table.columns if c != "labels"]]


def best_temperature(result: StoredResult, width: int) -> float:
    """The temperature with the best mean *validation* accuracy for ``width``."""
    df = pd.DataFrame(result.value["rows"])
    df = df[(df["width"] == width) & df["T"].notna()]
    return float(df.groupby("T")["val_accuracy"].mean().idxmax())


def validation_choice(result: StoredResult) -> pd.DataFrame:
    """Per width: the temperature chosen on validation, its mean test errors, and those of labels alone."""
    table = temperature_table(result)
    rows = []
    for width in table.index:
        T = best_temperature(result, width)
        rows.append({"width": int(width), "T": T, "errors": float(table.loc[width, f"{T:g}"]),
                     "labels": float(table.loc[width, "labels"])})
    return pd.DataFrame(rows).set_index("width")


def _wide_widths(widths: Sequence[int]) -> list[int]:
    """The widths the paper calls wide (300 units or more), or the widest one when none is."""
    return [w for w in widths if w >= PAPER["wide_from_width"]] or [max(widths)]


def _high_temperatures(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c != "labels" and float(c) >= PAPER["flat_from_T"]]


def high_T_spreads(result: StoredResult) -> dict[int, float]:
    """Per width, max - min of the mean test errors over the temperatures of 8 and above."""
    table = temperature_table(result)
    high = _high_temperatures(table)
    return {int(w): float(table.loc[w, high].max() - table.loc[w, high].min()) for w in table.index} if high else {}


def _given_styles(_: pd.DataFrame, css: pd.DataFrame) -> pd.DataFrame:
    return css


def temperature_display(result: StoredResult):
    """:func:`temperature_table` styled for the page: one decimal, the temperature chosen on validation in bold."""
    table = temperature_table(result)
    table.columns = ["labels" if c == "labels" else f"T = {c}" for c in table.columns]
    table.index.name = "units per layer"
    css = pd.DataFrame("", index=table.index, columns=table.columns)
    for width, T in validation_choice(result)["T"].items():
        css.loc[width, f"T = {T:g}"] = "font-weight: bold"
    return table.style.format("{:.1f}").apply(_given_styles, axis=None, css=css)


def temperature_sentence(result: StoredResult) -> str:
    """Per width, the temperature chosen on validation and its test errors against labels alone."""
    choice = validation_choice(result)
    parts = [f"with {w} units, validation picks T = {r['T']:g}, which makes {r['errors']:.0f} test errors "
             f"against {r['labels']:.0f} with labels alone" for w, r in choice.iterrows()]
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def spread_sentence(result: StoredResult) -> str:
    """How much the test errors vary over the high temperatures, wide students first ('' with fewer than two)."""
    spreads = high_T_spreads(result)
    if len(_high_temperatures(temperature_table(result))) < 2:
        return ""
    wide = _wide_widths(list(spreads))
    narrow = [w for w in spreads if w not in wide]

    def errors(ws: list[int]) -> str:
        return join_words([f"{spreads[w]:.0f} errors ({w} units)" for w in ws])

    text = (f"Between T = {PAPER['flat_from_T']:g} and the largest temperature, the mean test errors vary by "
            f"{errors(wide)}")
    if narrow:
        text += f", against {errors(narrow)}"
    return text + "."


#: A student "collapsed" when its mean test errors exceed this share of the test set (chance is 90%).
COLLAPSE_SHARE = 0.5


def collapsed(result: StoredResult, test_size: int) -> list[tuple[int, float]]:
    """(width, T) of the sweep's students whose mean test errors exceed :data:`COLLAPSE_SHARE` of the test set."""
    table = temperature_table(result)
    return [(int(w), float(c)) for w in table.index for c in table.columns
            if c != "labels" and table.loc[w, c] > COLLAPSE_SHARE * test_size]


def collapse_sentence(result: StoredResult, test_size: int) -> str:
    """Which sweep settings collapsed, and why that is the recipe's limit, not the temperature's ('' if none)."""
    bad = collapsed(result, test_size)
    if not bad:
        return ""
    by_width: dict[int, list[str]] = {}
    for w, T in bad:
        by_width.setdefault(w, []).append(f"{T:g}")
    parts = [f"the {w}-unit student at T = {join_words(ts)}" for w, ts in by_width.items()]
    lr = result.value.get("lr")
    return (f"Some runs collapsed to near-chance predictions: {join_words(parts)}. The sweep trains every width at "
            f"one learning rate{f' ({lr:g})' if lr else ''}, tuned for the 800-unit student at its chosen temperature; "
            f"with the T² factor a high temperature makes the soft term's gradients large for a narrow student, and "
            f"that learning rate is then too high. A lower one (or gradient clipping) would be needed there; the sweep "
            f"does not tune it, so those cells say nothing about the temperature itself.")


def noise_sentence(results: Results) -> str:
    """What counts as a difference in the sweeps, in words."""
    seeds = sweep_seeds(results["temperature"])
    spread = sweep_spreads(results)
    return (f"The sweep ran {plural(seeds, 'seed')}; a difference between two of its distilled students counts only "
            f"when it exceeds about {2 * spread['distilled']:.0f} errors, the sum of their spreads over seeds.")


def temperature_figure(result: StoredResult) -> Figure:
    """Test errors against T for each width, with labels alone and the temperature chosen on validation."""
    table = temperature_table(result)
    temps = [c for c in table.columns if c != "labels"]
    Ts = np.array([float(c) for c in temps])
    fig, axes = plots.figure(ncols=len(table.index), width=3.4 * len(table.index), height=3.0)
    for ax, width in zip(axes, table.index):
        plots.lines(Ts, {"distilled": table.loc[width, temps].to_numpy(dtype=float)}, xlabel="temperature T",
                    ylabel="test errors", logx=True, ax=ax, title=f"{width} units per layer")
        ax.axhline(table.loc[width, "labels"], ls="--", color="grey", lw=1, label="labels only")
        ax.axvline(best_temperature(result, width), ls=":", color=plots.PALETTE[1], lw=1.2,
                   label="best T on validation")
        ax.set_xticks(Ts, [f"{t:g}" for t in Ts])
        ax.minorticks_off()
    axes[0].legend(fontsize=8)
    return fig


def weighting_table(result: StoredResult) -> pd.DataFrame:
    """Test and validation metrics of each loss weighting, mean and std over seeds."""
    return mean_std(pd.DataFrame(result.value["rows"]), "weighting", ["errors", "accuracy", "val_accuracy"])


def diverged_seeds(result: StoredResult) -> pd.Series:
    """Per weighting, how many seeds diverged (0 for results stored before divergence was recorded)."""
    df = pd.DataFrame(result.value["rows"])
    flags = df["diverged"] if "diverged" in df else pd.Series(False, index=df.index)
    return flags.groupby(df["weighting"], sort=False).sum().astype(int)


def weighting_display_table(result: StoredResult) -> pd.DataFrame:
    """:func:`weighting_table` ready to show: test errors, test and validation accuracy in %, and
    the seeds that diverged (their numbers left out)."""
    wt = weighting_table(result)
    bad = diverged_seeds(result)

    def shown(values, fmt):
        return [fmt(v) if v == v else "diverged" for v in values]

    return pd.DataFrame({"test errors": [_pm(m, s) if m == m else "diverged" for m, s in zip(wt["errors"], wt["errors_std"])],
                         "test accuracy (%)": shown(100 * wt["accuracy"], "{:.2f}".format),
                         "validation accuracy (%)": shown(100 * wt["val_accuracy"], "{:.2f}".format),
                         "seeds that diverged": [f"{bad.get(k, 0)}" for k in wt.index]},
                        index=wt.index.rename("loss"))


def _weighting_rows(result: StoredResult) -> pd.DataFrame:
    df = pd.DataFrame(result.value["rows"])
    return df.groupby(["weighting", "alpha", "scale_T2"], sort=False)[["errors", "val_accuracy"]].agg(
        ["mean", "std"]).pipe(lambda d: d.set_axis([f"{a}{'' if b == 'mean' else '_std'}" for a, b in d.columns],
                                                  axis=1)).reset_index()


def best_weighting(result: StoredResult) -> pd.Series:
    """The weighting with the best mean validation accuracy among those that never diverged (its
    name, alpha, T^2 flag, errors)."""
    df = _weighting_rows(result)
    bad = diverged_seeds(result)
    ok = df[df["weighting"].map(lambda w: bad.get(w, 0) == 0)]
    return ok.loc[ok["val_accuracy"].idxmax()]


def no_T2_pair(result: StoredResult) -> tuple[pd.Series, pd.Series] | None:
    """(the weighting without T^2, the weighting with T^2 and the same alpha), or None if either is missing."""
    df = _weighting_rows(result)
    without = df[~df["scale_T2"]]
    if without.empty:
        return None
    row = without.iloc[0]
    same = df[df["scale_T2"] & (df["alpha"] == row["alpha"])]
    return (row, same.iloc[0]) if len(same) else None


def no_T2_learning_rate_sentence(hard_weight: float, distill_lr: float, student_lr: float) -> str:
    """What training on the label term alone at weight ``hard_weight`` and the distillation learning rate amounts to."""
    effective = hard_weight * distill_lr
    return (f"What is left is mostly the label term at a weight of {hard_weight:g}, trained at the distillation "
            f"learning rate of {distill_lr:g}: in effect labels at a learning rate of {effective:.2g}, "
            f"{student_lr / effective:.0f} times below the {student_lr:g} chosen on validation for the small net "
            f"trained on labels.")


# ------------------------------------------------------------------------------ consistency
def consistency_table(result: StoredResult) -> pd.DataFrame:
    """Test errors and validation accuracy of each run of the consistency study, mean and std over seeds."""
    return mean_std(pd.DataFrame(result.value["rows"]), "run", ["errors", "accuracy", "val_accuracy"])


def consistency_display_table(result: StoredResult) -> pd.DataFrame:
    """:func:`consistency_table` ready to show."""
    t = consistency_table(result)
    return pd.DataFrame({"test errors": [_pm(m, s) for m, s in zip(t["errors"], t["errors_std"])],
                         "validation accuracy (%)": [_pm(m, s, 2, 100) for m, s in zip(t["val_accuracy"],
                                                                                      t["val_accuracy_std"])]},
                        index=t.index.rename("student"))


def _runs_compare(result: StoredResult, a: str, b: str) -> str:
    t = consistency_table(result)
    return _ERROR_WORDS[compare(t.loc[a, "errors"], t.loc[a, "errors_std"], t.loc[b, "errors"], t.loc[b, "errors_std"])]


def consistency_sentence(result: StoredResult) -> str:
    """What the consistency study shows, in words."""
    t = consistency_table(result)
    px = result.value["px"]
    c, f, lj = ("distilled, jitter, consistent teacher", "distilled, jitter, fixed teacher", "labels, jitter")
    return (f"With images shifted by up to {plural(px, 'pixel')}, the student taught on the view it sees makes "
            f"{t.loc[c, 'errors']:.0f} test errors and the one given the teacher's fixed outputs on the clean images "
            f"{t.loc[f, 'errors']:.0f}: the consistent student makes {_runs_compare(result, c, f)} the fixed one, "
            f"and {_runs_compare(result, c, lj)} the small net trained on labels with the same jitter "
            f"({t.loc[lj, 'errors']:.0f}).")


# ------------------------------------------------------------------------------ few data
def small_data_table(result: StoredResult) -> pd.DataFrame:
    """Test accuracy (%) with a few percent of the data (hard labels, label smoothing, soft targets)
    and with all of it; the early-stopped epoch."""
    df = pd.DataFrame(result.value["rows"])
    df["accuracy %"] = 100 * df["accuracy"]
    out = mean_std(df, "model", ["accuracy %", "examples"])
    out["best epoch"] = df.groupby("model", sort=False)["best_epoch"].mean()
    return out.drop(columns=["examples_std"])


def small_data_display_table(result: StoredResult) -> pd.DataFrame:
    """:func:`small_data_table` ready to show, beside the paper's speech numbers."""
    small = small_data_table(result)
    p = PAPER["small_data"]
    paper = {"hard targets": p["hard targets"], "soft targets": p["soft targets"], "full data, hard targets": p["full data"]}
    return pd.DataFrame({
        "test accuracy (%)": [_pm(m, sd, 2) for m, sd in zip(small["accuracy %"], small["accuracy %_std"])],
        "training images": small["examples"].map("{:,.0f}".format),
        "best epoch (mean)": ["-" if b != b else f"{b:.0f}" for b in small["best epoch"]],
        "paper (speech, %)": [f"{paper[k]:g}" if k in paper else "-" for k in small.index]},
        index=small.index.rename("targets"))


def recovered_shares(result: StoredResult) -> np.ndarray:
    """Per seed, the share of the full-data accuracy gain over hard targets that soft targets recover."""
    acc = pd.DataFrame(result.value["rows"]).pivot(index="seed", columns="model", values="accuracy")
    return ((acc["soft targets"] - acc["hard targets"]) / (acc["full data, hard targets"] - acc["hard targets"])).to_numpy()


def val_curves(result: StoredResult) -> dict[str, np.ndarray]:
    """Mean validation accuracy per epoch of the few-data runs."""
    return mean_curves(result.value["curves"], "model")


def val_curve_figure(result: StoredResult) -> Figure:
    """Mean validation accuracy per epoch of the few-data runs, with the full-data net's test accuracy."""
    table = small_data_table(result)
    fig, (ax,) = plots.figure(width=5.5, height=3.2)
    for i, (name, ys) in enumerate(val_curves(result).items()):
        ax.plot(np.arange(1, len(ys) + 1), 100 * ys, color=plots.PALETTE[i], label=name)
    ax.axhline(table.loc["full data, hard targets", "accuracy %"], ls="--", color="grey", lw=1,
               label="all data, hard targets (test)")
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)",
           title=f"{table.loc['hard targets', 'examples']:,.0f} training images (mean over seeds)")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------------------ the map
def map_differences(result: StoredResult) -> pd.DataFrame:
    """Per training-set size, budget and seed: distilled minus label-trained test errors (negative:
    distillation helps), with the size in images."""
    df = pd.DataFrame(result.value["rows"])
    wide = df.pivot_table(index=["size", "train_size", "budget", "seed"], columns="method", values="errors").reset_index()
    wide["difference"] = wide["distilled"] - wide["labels"]
    return wide


def map_table(result: StoredResult) -> pd.DataFrame:
    """Mean and std over seeds of the paired difference (distilled - labels, test errors) per size
    (rows, in the stored order) and budget."""
    d = map_differences(result)
    g = d.groupby(["size", "budget"], sort=False)["difference"]
    out = g.mean().to_frame("difference").join(g.std(ddof=1).fillna(0.0).rename("difference_std")).reset_index()
    out["train_size"] = out["size"].map(d.groupby("size")["train_size"].first())
    order = {name: i for i, name in enumerate(result.value["sizes"])}
    return out.sort_values(["size", "budget"], key=lambda c: c.map(order) if c.name == "size" else c).reset_index(drop=True)


def clearly_helps(row) -> bool:
    """Paired form of the cautious rule: distillation clearly helps when the mean difference is
    below zero by more than its standard deviation over seeds."""
    return bool(-row["difference"] > row["difference_std"])


def clearly_hurts(row) -> bool:
    return bool(row["difference"] > row["difference_std"])


def map_display_table(result: StoredResult) -> pd.DataFrame:
    """:func:`map_table` ready to show: sizes as rows, one column per budget, with a verdict word."""
    t = map_table(result)
    cells = {}
    for _, row in t.iterrows():
        verdict = "helps" if clearly_helps(row) else "hurts" if clearly_hurts(row) else "no clear effect"
        cells.setdefault(row["size"], {})[f"{row['budget']:g}x the epochs"] = (
            f"{row['difference']:+.1f} ± {row['difference_std']:.1f} ({verdict})")
    return pd.DataFrame(cells).T.fillna("not run").rename_axis("training set")


def map_figure(result: StoredResult) -> Figure:
    """Distilled minus label-trained test errors against training-set size, one line per budget,
    mean ± std over seeds; below zero, distillation helps."""
    t = map_table(result)
    fig, (ax,) = plots.figure(width=6.0, height=3.4)
    for i, (budget, part) in enumerate(t.groupby("budget", sort=True)):
        ax.errorbar(part["train_size"], part["difference"], yerr=part["difference_std"], marker="o", capsize=3,
                    color=plots.PALETTE[i], label=f"students at {budget:g}x the epochs")
    ax.axhline(0, color="grey", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set(xlabel="training images (teacher and students)", ylabel="distilled - labels (test errors)",
           title="Below zero, distillation helps")
    ax.legend(fontsize=8)
    return fig


def map_sentence(result: StoredResult) -> str:
    """Where on the map distillation clearly helps and where it clearly hurts, in words."""
    t = map_table(result)
    helps = [f"{r['size']} at {r['budget']:g}x" for _, r in t.iterrows() if clearly_helps(r)]
    hurts = [f"{r['size']} at {r['budget']:g}x" for _, r in t.iterrows() if clearly_hurts(r)]
    seeds = int(map_differences(result)["seed"].nunique())
    rule = f"Over {plural(seeds, 'seed')}, with the paired rule (the mean difference must exceed its own spread), "
    if len(helps) == len(t) and len(t) > 1:
        return rule + f"distillation clearly helps in all {len(t)} cells of the map, and nowhere clearly hurts."
    text = rule + f"distillation clearly helps with {join_words(helps) if helps else 'no training set and budget'}"
    text += f" and clearly hurts with {join_words(hurts)}." if hurts else ", and nowhere clearly hurts."
    return text


# ------------------------------------------------------------------------------ the chapter's numbers
def headline(results: Results) -> dict[str, float | str]:
    """The chapter's findings as numbers (means over seeds) and comparison words; keys of the main
    experiment end in ``_r0``, ``_r1``... after their regime. Every choice is made on validation."""
    main = results["main"]
    out: dict[str, float | str] = {"paper_gap_closed": paper_gap_closed()}
    for i, name in enumerate(regime_names(main)):
        out.update({f"{k}_r{i}": val for k, val in regime_headline(main, name).items()})
        out[f"teacher_advantage_r{i}"] = teacher_report(main, name)["val_advantage"]
    choice = validation_choice(results["temperature"])
    for width, row in choice.iterrows():
        out[f"best_T_val_w{width}"] = row["T"]
        out[f"errors_at_best_T_w{width}"] = row["errors"]
        out[f"labels_w{width}"] = row["labels"]
    out.update({f"spread_high_T_w{w}": s for w, s in high_T_spreads(results["temperature"]).items()})
    out["narrowest"] = int(min(choice.index))
    out["best_weighting_val"] = str(best_weighting(results["weighting"])["weighting"])
    sd = small_data_table(results["small-data"])
    acc = sd["accuracy %"]
    out["small_hard"], out["small_soft"], out["small_full"] = (acc["hard targets"], acc["soft targets"],
                                                               acc["full data, hard targets"])
    out["small_smooth"] = acc["label smoothing"]
    out["small_examples"] = int(sd.loc["hard targets", "examples"])
    out["small_recovered"] = float((acc["soft targets"] - acc["hard targets"])
                                   / (acc["full data, hard targets"] - acc["hard targets"]))
    out["paper_small_recovered"] = paper_small_recovered()
    return out


def ours_vs_paper(h: dict, regimes: list[str], test_size: int) -> pd.DataFrame:
    """The closing table: each of the paper's numbers beside ours, for every regime."""
    def pm(k: str, i: int) -> str:
        return f"{h[f'{k}_r{i}']:.0f} ± {h[f'{k}_std_r{i}']:.0f}"

    e, p = PAPER["errors"], PAPER["small_data"]
    rows = []
    for i, name in enumerate(regimes):
        rows += [
            (f"teacher: test errors ({name})", f"{e['teacher']} of {PAPER['test_size']:,}",
             f"{pm('teacher', i)} of {test_size:,}"),
            (f"small net on labels ({name})", f"{e['small net']}", pm("small", i)),
            (f"small net distilled ({name})", f"{e['distilled']} (T = {PAPER['T']:g})", pm("distilled", i)),
            (f"share of the small net's excess errors removed ({name})", f"{100 * h['paper_gap_closed']:.0f}%",
             f"{100 * h[f'gap_closed_r{i}']:.0f}%" if h[f"teacher_better_r{i}"]
             else "none to remove: the teacher is not clearly better on test"),
        ]
    lo, hi = PAPER["narrow_best_T"]
    rows += [
        ("best T for the narrowest student", f"{lo:g} to {hi:g} ({PAPER['narrow_width']} units)",
         f"{h['best_T_val_w' + str(h['narrowest'])]:g} ({h['narrowest']} units, chosen on validation)"),
        ("few data: hard vs soft targets (accuracy %)",
         f"{p['hard targets']} vs {p['soft targets']} ({100 * p['fraction']:g}% of speech data)",
         f"{h['small_hard']:.1f} vs {h['small_soft']:.1f} ({h['small_examples']:,} images)"),
        ("few data: share of the full-data gain recovered by soft targets",
         f"{100 * h['paper_small_recovered']:.0f}%", f"{100 * h['small_recovered']:.0f}%"),
    ]
    n = h.get("n_seeds_r0", 0)
    return pd.DataFrame(rows, columns=["quantity", "paper (MNIST / speech)", f"ours (mean ± std over {plural(n, 'seed')})"])


# ------------------------------------------------------------------------------ the page
def chosen(result: StoredResult, method: str, regime: str | None = None) -> dict:
    """The grid point chosen on validation for ``method`` in ``regime`` (its lr and objective name)."""
    return next(r for r in result.value["tuning"][regime or regime_names(result)[0]]
                if r["method"] == method and r["chosen"])


def glue_values(results: Results, test_size: int) -> dict[str, float | str]:
    """Every number and sentence the page glues that comes from the stored results (``ch02_...``),
    the claims' outcome sentences included (``ch02_claim_<name>``)."""
    h = headline(results)
    main = results["main"]
    names = regime_names(main)
    wt = weighting_table(results["weighting"])
    pair = no_T2_pair(results["weighting"])
    sweep = _sweep_regime(results)
    labels_sweep = main_table(main, sweep).loc["small net", "errors"]
    outcomes = {c.id.split(".", 1)[1]: c.evaluate(results).sentence() for c in CLAIMS}
    lab_lr = float(chosen(main, "labels", sweep)["lr"])
    values = {
        "ch02_test_size": f"{test_size:,}",
        "ch02_teacher": teacher_name(main),
        "ch02_grid_size": plural(grid_size(main), "point"),
        "ch02_patience": f"{main.value['epochs'][names[0]]['student'] / main.value['epochs'][names[0]]['teacher']:g}",
        **{f"ch02_teacher_sentence_{i}": teacher_sentence(main, name) for i, name in enumerate(names)},
        **{f"ch02_regime_sentence_{i}": regime_sentence(main, name) for i, name in enumerate(names)},
        "ch02_curves_sentence": curves_sentence(main),
        "ch02_sweep_regime": sweep,
        "ch02_sweep_seeds": plural(sweep_seeds(results["temperature"]), "seed"),
        "ch02_sweep_alpha": f"{1 - results['temperature'].value['alpha']:g}",
        "ch02_temp_sentence": temperature_sentence(results["temperature"]),
        "ch02_spread_sentence": spread_sentence(results["temperature"]),
        "ch02_noise_sentence": noise_sentence(results),
        "ch02_collapse_sentence": collapse_sentence(results["temperature"], test_size),
        "ch02_weighting_T": f"{results['weighting'].value['T']:g}",
        "ch02_weighting_T2": f"{results['weighting'].value['T'] ** 2:g}",
        "ch02_best_weighting_val": h["best_weighting_val"],
        "ch02_weight_soft": f"{wt.loc['soft only', 'errors']:.0f}" if "soft only" in wt.index else "-",
        "ch02_weight_best_errors": f"{wt.loc[h['best_weighting_val'], 'errors']:.0f}",
        "ch02_weight_noT2": f"{pair[0]['errors']:.0f}" if pair else "-",
        "ch02_labels_sweep_regime": f"{labels_sweep:.0f}",
        "ch02_noT2_lr_sentence": no_T2_learning_rate_sentence(1 - pair[0]["alpha"], results["weighting"].value["lr"],
                                                              lab_lr) if pair else "",
        "ch02_consistency_sentence": consistency_sentence(results["consistency"]),
        "ch02_consistency_regime": results["consistency"].value["regime"],
        "ch02_small_examples": f"{h['small_examples']:,}",
        **{f"ch02_{k}": f"{h[k]:.1f}" for k in ("small_hard", "small_soft", "small_full", "small_smooth")},
        **{f"ch02_{k}": f"{100 * h[k]:.0f}%" for k in ("small_recovered", "paper_small_recovered", "paper_gap_closed")},
        "ch02_map_sentence": map_sentence(results["map"]),
        "ch02_map_seeds": plural(int(map_differences(results["map"])["seed"].nunique()), "seed"),
        **{f"ch02_claim_{name}": sentence for name, sentence in outcomes.items()},
    }
    return values


# ------------------------------------------------------------------------------ claims
Verdict = tuple[bool, dict[str, float]]


def _means(results: Results, which: int) -> pd.DataFrame:
    main = results["main"]
    return main_table(main, regime_names(main)[which])


def _beats(a: str, b: str, which: int) -> Callable[[Results], Verdict]:
    """``a`` makes clearly fewer test errors than ``b`` in regime ``which`` (0: all data, -1: the smallest)."""
    def predicate(results: Results) -> Verdict:
        m = _means(results, which)
        ka, kb = a.replace(" ", "_"), b.replace(" ", "_")
        return clearly_greater(m.loc[b, "errors"], m.loc[b, "errors_std"], m.loc[a, "errors"], m.loc[a, "errors_std"]), {
            f"{ka}_errors": m.loc[a, "errors"], f"{ka}_std": m.loc[a, "errors_std"],
            f"{kb}_errors": m.loc[b, "errors"], f"{kb}_std": m.loc[b, "errors_std"]}
    return predicate


def _teacher_has_advantage(which: int) -> Callable[[Results], Verdict]:
    def predicate(results: Results) -> Verdict:
        main = results["main"]
        r = teacher_report(main, regime_names(main)[which])
        return bool(r["has_advantage"]), {"val_advantage_points": 100 * r["val_advantage"],
                                          "advantage_std": 100 * r["val_advantage_std"],
                                          "teacher_train_accuracy": r["train_accuracy"]}
    return predicate


def _students_had_ended(results: Results) -> Verdict:
    main = results["main"]
    numbers, ended = {}, True
    for i, name in enumerate(regime_names(main)):
        g = late_gains(main, name)
        for model, row in g.iterrows():
            numbers[f"r{i}_{model.replace(' ', '_')}_late_gain"] = row["gain"]
            ended &= not clearly_greater(row["gain"], row["gain_std"], 0.0, 0.0)
    return bool(ended), numbers


def _removes_most_excess(results: Results) -> Verdict:
    main = results["main"]
    shares = gap_shares(main, regime_names(main)[-1])
    mean = float(np.mean(shares))
    std = float(np.std(shares, ddof=1)) if len(shares) > 1 else 0.0
    holds = bool(np.isfinite(shares).all()) and clearly_greater(mean, std, MOST, 0.0)
    return holds, {"share_removed": mean, "share_std": std, "paper": paper_gap_closed()}


def _harder_than_mnist(results: Results) -> Verdict:
    m = _means(results, 0)
    ratios = {f"{model.replace(' ', '_')}_times_paper": (1 - m.loc[model, "accuracy"])
              / (PAPER["errors"][model] / PAPER["test_size"]) for model in PAPER["errors"]}
    return min(ratios.values()) > SEVERAL, ratios


def _narrow_prefers_moderate_T(results: Results) -> Verdict:
    choice = validation_choice(results["temperature"])
    width = int(min(choice.index))
    T = choice.loc[width, "T"]
    lo, hi = PAPER["narrow_best_T"]
    return bool(lo <= T <= hi), {"width": width, "T_chosen_on_validation": T}


def _wide_flat_above_T8(results: Results) -> Verdict:
    temperature = results["temperature"]
    spreads = high_T_spreads(temperature)
    allowance = 2 * sweep_spreads(results)["distilled"]
    wide = _wide_widths(list(spreads)) if spreads else []
    enough = len(_high_temperatures(temperature_table(temperature))) >= 2
    holds = enough and all(spreads[w] <= allowance for w in wide)
    return holds, {**{f"spread_w{w}": spreads[w] for w in wide}, "allowance": allowance}


def _val_T_beats_labels(results: Results) -> Verdict:
    choice = validation_choice(results["temperature"])
    spread = sweep_spreads(results)
    wins = [clearly_greater(r["labels"], spread["labels"], r["errors"], spread["distilled"]) for _, r in choice.iterrows()]
    numbers = {f"w{w}_T{r['T']:g}_vs_labels": r["errors"] - r["labels"] for w, r in choice.iterrows()}
    return all(wins), {**numbers, "allowance": spread["labels"] + spread["distilled"]}


def _small_hard_weight_preferred(results: Results) -> Verdict:
    best = best_weighting(results["weighting"])
    hard = 1 - best["alpha"]
    return bool(best["scale_T2"] and 0 < hard < 0.5), {"hard_weight": hard, "with_T2": bool(best["scale_T2"])}


def _no_T2_hurts(results: Results) -> Verdict:
    pair = no_T2_pair(results["weighting"])
    if pair is None:
        return False, {}
    without, with_ = pair
    return clearly_greater(without["errors"], without["errors_std"], with_["errors"], with_["errors_std"]), {
        "errors_without_T2": without["errors"], "errors_with_T2": with_["errors"],
        "allowance": without["errors_std"] + with_["errors_std"]}


def _consistent_beats_fixed(results: Results) -> Verdict:
    t = consistency_table(results["consistency"])
    c, f = t.loc["distilled, jitter, consistent teacher"], t.loc["distilled, jitter, fixed teacher"]
    return clearly_greater(f["errors"], f["errors_std"], c["errors"], c["errors_std"]), {
        "consistent_errors": c["errors"], "fixed_errors": f["errors"], "allowance": c["errors_std"] + f["errors_std"]}


def _soft_beats(other: str) -> Callable[[Results], Verdict]:
    def predicate(results: Results) -> Verdict:
        sd = small_data_table(results["small-data"])
        o, soft = sd.loc[other], sd.loc["soft targets"]
        return clearly_greater(soft["accuracy %"], soft["accuracy %_std"], o["accuracy %"], o["accuracy %_std"]), {
            "soft_accuracy_pct": soft["accuracy %"], "soft_std": soft["accuracy %_std"],
            f"{other.replace(' ', '_')}_accuracy_pct": o["accuracy %"], f"{other.replace(' ', '_')}_std": o["accuracy %_std"]}
    return predicate


def _soft_recovers_most(results: Results) -> Verdict:
    shares = recovered_shares(results["small-data"])
    mean = float(np.mean(shares))
    std = float(np.std(shares, ddof=1)) if len(shares) > 1 else 0.0
    return clearly_greater(mean, std, MOST, 0.0), {"share_recovered": mean, "share_std": std,
                                                   "paper": paper_small_recovered()}


def _hard_early_soft_late(results: Results) -> Verdict:
    curves = val_curves(results["small-data"])
    hard, soft = curves["hard targets"], curves["soft targets"]
    last = min(len(hard), len(soft)) - 1
    return bool(hard[0] > soft[0] and soft[last] > hard[last]), {
        "hard_first_epoch": hard[0], "soft_first_epoch": soft[0], "hard_last_epoch": hard[last],
        "soft_last_epoch": soft[last]}



def _map_helps_somewhere(results: Results) -> Verdict:
    t = map_table(results["map"])
    best = t.loc[t["difference"].idxmin()]
    return bool(any(clearly_helps(r) for _, r in t.iterrows())), {
        "best_difference": best["difference"], "best_std": best["difference_std"], "at_size": best["train_size"],
        "at_budget": best["budget"]}


def _map_gain_larger_with_less_data(results: Results) -> Verdict:
    t = map_table(results["map"])
    numbers, holds = {}, True
    for budget, part in t.groupby("budget"):
        small, large = part.loc[part["train_size"].idxmin()], part.loc[part["train_size"].idxmax()]
        numbers[f"budget_{budget:g}x_smallest"] = small["difference"]
        numbers[f"budget_{budget:g}x_largest"] = large["difference"]
        holds &= clearly_greater(large["difference"], large["difference_std"], small["difference"],
                                 small["difference_std"])
    return bool(holds), numbers


def _map_longer_budget_helps_largest(results: Results) -> Verdict:
    t = map_table(results["map"])
    both = t.groupby("train_size")["budget"].nunique()
    size = both[both == t["budget"].nunique()].index.max()
    at = t[t["train_size"] == size]
    short, long = at.loc[at["budget"].idxmin()], at.loc[at["budget"].idxmax()]
    return clearly_greater(short["difference"], short["difference_std"], long["difference"], long["difference_std"]), {
        "train_size": size, "difference_short": short["difference"], "difference_long": long["difference"],
        "allowance": short["difference_std"] + long["difference_std"]}


CLAIMS: tuple[Claim, ...] = (
    Claim("ch02.teacher_has_val_advantage_full_data",
          "On all the training images the teacher has a clear validation advantage over the small net trained on labels.",
          "On all the training images the teacher has no clear validation advantage over the small net trained on labels.",
          _teacher_has_advantage(0)),
    Claim("ch02.teacher_has_val_advantage_10pct",
          "With a tenth of the images the teacher has a clear validation advantage over the small net trained on labels.",
          "With a tenth of the images the teacher has no clear validation advantage over the small net trained on "
          "labels.", _teacher_has_advantage(-1)),
    Claim("ch02.teacher_beats_labels_full_data",
          "On all the training images the teacher makes clearly fewer test errors than the small net trained on labels.",
          "On all the training images the teacher does not make clearly fewer test errors than the small net "
          "trained on labels.", _beats("teacher", "small net", 0), source="paper"),
    Claim("ch02.distilled_beats_labels_full_data",
          "On all the training images the distilled net makes clearly fewer test errors than the small net "
          "trained on labels.",
          "On all the training images the distilled net does not make clearly fewer test errors than the small "
          "net trained on labels.", _beats("distilled", "small net", 0), source="paper"),
    Claim("ch02.distilled_beats_smoothing_full_data",
          "On all the training images the distilled net makes clearly fewer test errors than the small net "
          "trained with label smoothing (the gain is more than regularisation).",
          "On all the training images the distilled net does not make clearly fewer test errors than the small "
          "net trained with label smoothing.", _beats("distilled", "label smoothing", 0)),
    Claim("ch02.teacher_beats_labels_10pct",
          "With a tenth of the images the teacher makes clearly fewer test errors than the small net trained on labels.",
          "With a tenth of the images the teacher does not make clearly fewer test errors than the small net "
          "trained on labels.", _beats("teacher", "small net", -1)),
    Claim("ch02.distilled_beats_labels_10pct",
          "With a tenth of the images the distilled net makes clearly fewer test errors than the small net "
          "trained on labels.",
          "With a tenth of the images the distilled net does not make clearly fewer test errors than the small "
          "net trained on labels.", _beats("distilled", "small net", -1)),
    Claim("ch02.distilled_beats_smoothing_10pct",
          "With a tenth of the images the distilled net makes clearly fewer test errors than the small net "
          "trained with label smoothing.",
          "With a tenth of the images the distilled net does not make clearly fewer test errors than the small "
          "net trained with label smoothing.", _beats("distilled", "label smoothing", -1)),
    Claim("ch02.distillation_removes_most_excess_errors_10pct",
          "With a tenth of the images, distillation removes most (clearly more than half) of the small net's "
          "excess errors over the teacher.",
          "With a tenth of the images, distillation does not clearly remove more than half of the small net's "
          f"excess errors over the teacher (the paper: {100 * paper_gap_closed():.0f}%).", _removes_most_excess,
          source="paper"),
    Claim("ch02.students_had_ended",
          "Every student's validation accuracy had stopped rising: its last fifth of epochs adds no clear gain.",
          "Some student's validation accuracy was still clearly rising over its last fifth of epochs.",
          _students_had_ended),
    Claim("ch02.harder_than_mnist",
          f"On all the training images every network makes more than {SEVERAL:g} times the test error rate of "
          f"its counterpart in the paper.",
          f"Some network makes less than {SEVERAL:g} times the test error rate of its counterpart in the paper.",
          _harder_than_mnist),
    Claim("ch02.narrow_student_prefers_moderate_t",
          "For the narrowest student, validation picks a temperature between 2.5 and 4, the paper's best range "
          "for 30 units.",
          "For the narrowest student, validation picks a temperature outside the paper's best range for 30 units "
          "(2.5 to 4).", _narrow_prefers_moderate_T, source="paper"),
    Claim("ch02.wide_students_flat_above_t8",
          "For students of 300 units or more, every temperature of 8 and above gives about the same test errors "
          "(within seed noise).",
          "For students of 300 units or more, the temperatures of 8 and above do not all give the same test "
          "errors within seed noise.", _wide_flat_above_T8, source="paper"),
    Claim("ch02.val_t_beats_labels_every_width",
          "At every width, the student distilled at the temperature chosen on validation makes clearly fewer "
          "test errors than the same width trained on labels.",
          "At some width, the student distilled at the temperature chosen on validation does not make clearly "
          "fewer test errors than the same width trained on labels.", _val_T_beats_labels),
    Claim("ch02.small_hard_weight_preferred",
          "Validation prefers a small weight (under one half) on the labels, with the T² factor, to the other "
          "weightings tried.",
          "Validation does not prefer a small weight on the labels with the T² factor.",
          _small_hard_weight_preferred, source="paper"),
    Claim("ch02.no_t2_hurts",
          "Without the T² factor the same weights give a student with clearly more test errors.",
          "Without the T² factor the same weights do not give a student with clearly more test errors.",
          _no_T2_hurts),
    Claim("ch02.consistent_beats_fixed",
          "With jittered images, the student taught on the view it sees makes clearly fewer test errors than the "
          "one given the teacher's fixed outputs on the clean images.",
          "With jittered images, the student taught on the view it sees does not make clearly fewer test errors "
          "than the one given fixed outputs on the clean images.", _consistent_beats_fixed),
    Claim("ch02.soft_beats_hard_few_data",
          "With a few percent of the images, soft targets give a clearly more accurate student than hard labels.",
          "With a few percent of the images, soft targets do not give a clearly more accurate student than hard "
          "labels.", _soft_beats("hard targets"), source="paper"),
    Claim("ch02.soft_beats_smoothing_few_data",
          "With a few percent of the images, soft targets give a clearly more accurate student than label smoothing.",
          "With a few percent of the images, soft targets do not give a clearly more accurate student than label "
          "smoothing.", _soft_beats("label smoothing")),
    Claim("ch02.soft_recovers_most_of_gap_few_data",
          "With a few percent of the images, soft targets recover most (clearly more than half) of the accuracy "
          "that the missing data cost.",
          f"With a few percent of the images, soft targets do not clearly recover more than half of the accuracy "
          f"that the missing data cost (the paper: {100 * paper_small_recovered():.0f}%).", _soft_recovers_most,
          source="paper"),
    Claim("ch02.few_data_hard_leads_early_soft_ends_higher",
          "On the few-data validation curves, the hard-label run is ahead after the first epoch and the "
          "soft-target run is ahead at the last.",
          "On the few-data validation curves, the hard-label run is not ahead at first, or the soft-target run "
          "not ahead at the end.", _hard_early_soft_late),
)

#: The map's claims (on its part, ``kdbook.experiments.ch02_big_to_small.MAP_PART``).
MAP_CLAIMS: tuple[Claim, ...] = (
    Claim("ch02.map_helps_somewhere",
          "On the map, distillation clearly helps at some training-set size and budget.",
          "On the map, distillation clearly helps at no training-set size and budget.", _map_helps_somewhere),
    Claim("ch02.map_gain_larger_with_less_data",
          "On the map, at every budget, distillation's gain is clearly larger on the smallest training set than "
          "on the largest one that budget ran on.",
          "On the map, at some budget, distillation's gain is not clearly larger on the smallest training set "
          "than on the largest one that budget ran on.", _map_gain_larger_with_less_data),
    Claim("ch02.map_longer_budget_helps_largest",
          "On the largest training set of the map with both budgets, distillation's gain is clearly larger when "
          "both students train for the longest budget than for the shortest.",
          "On the largest training set of the map with both budgets, distillation's gain is not clearly larger at "
          "the longest budget than at the shortest.", _map_longer_budget_helps_largest),
)

CLAIMS = CLAIMS + MAP_CLAIMS
