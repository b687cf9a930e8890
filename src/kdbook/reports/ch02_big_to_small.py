"""Chapter 2, distilling a big net into a small one: tables, sentences and claims from the stored results.

Reads the four parts that ``kdbook.experiments.ch02_big_to_small.run`` returns: ``main`` (the three
networks in each training regime), ``temperature`` (student width x temperature), ``weighting``
(soft vs soft + hard, with and without T^2) and ``small-data`` (a few percent of the images).
Every comparison of means uses the book's cautious rule: a difference counts only when it
exceeds the sum of the two standard deviations over seeds. The sweeps may have a single seed;
their spread is then taken from the main experiment's networks in the same regime.
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
MODELS = ("teacher", "small net", "distilled")
#: "Most" of a gap: more than this share, by the cautious rule over seeds.
MOST = 0.5
#: "Several times" the paper's error rate.
SEVERAL = 3.0

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


# ------------------------------------------------------------------------------ the three networks
def regime_names(result: StoredResult) -> list[str]:
    """The regimes of the main experiment, in order (the first is all the data)."""
    return list(result.value["regimes"])


def _rows(result: StoredResult, regime: str | None) -> pd.DataFrame:
    df = pd.DataFrame(result.value["rows"])
    return df[df["regime"] == (regime or regime_names(result)[0])]


def main_table(result: StoredResult, regime: str | None = None) -> pd.DataFrame:
    """Test errors (out of the test set), accuracy, NLL and ECE of the three nets in ``regime``
    (default: all the data), mean and std over seeds."""
    df = _rows(result, regime)
    out = mean_std(df, "model", ["errors", "accuracy", "nll", "ece", "val_accuracy"])
    out["seeds"] = df.groupby("model", sort=False).size()
    return out


def per_seed_errors(result: StoredResult, regime: str | None = None) -> pd.DataFrame:
    """Test errors of each net (columns) for each seed (rows) in ``regime``."""
    return _rows(result, regime).pivot(index="seed", columns="model", values="errors")[list(MODELS)]


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
    """Mean errors of the three nets in ``regime``, how the teacher and the distilled net compare with
    the small net, the share of the small net's excess errors over the teacher that distillation
    removes, and whether the distilled net wins on every seed."""
    m = main_table(result, regime)
    err, sd = m["errors"], m["errors_std"]
    per_seed = per_seed_errors(result, regime)
    teacher_vs_small = _errors_vs(m, "teacher", "small net")
    return {
        "teacher": err["teacher"], "small": err["small net"], "distilled": err["distilled"],
        "teacher_std": sd["teacher"], "small_std": sd["small net"], "distilled_std": sd["distilled"],
        "gap_closed": float((err["small net"] - err["distilled"]) / (err["small net"] - err["teacher"]))
        if err["small net"] > err["teacher"] else float("nan"),
        "teacher_better": teacher_vs_small == _ERROR_WORDS["lower than"],
        "teacher_vs_small": teacher_vs_small,
        "distilled_vs_small": _errors_vs(m, "distilled", "small net"),
        "distilled_better_every_seed": bool((per_seed["distilled"] < per_seed["small net"]).all()),
        "n_seeds": int(m["seeds"].min()),
        "train_size": int(_rows(result, regime)["train_size"].iloc[0]),
    }


def regime_sentence(result: StoredResult, regime: str) -> str:
    """What the three networks of ``regime`` show, in words, with the cautious rule's verdicts."""
    r = regime_headline(result, regime)
    text = (f"With {regime}, the teacher makes {r['teacher']:.0f} test errors, the small net on labels "
            f"{r['small']:.0f} and the distilled net {r['distilled']:.0f}. By the cautious rule used throughout the "
            f"book (a difference counts only when it exceeds the two standard deviations added), the teacher makes "
            f"{r['teacher_vs_small']} the small net, and the distilled net {r['distilled_vs_small']} the small net")
    text += (f"; distillation removes {100 * r['gap_closed']:.0f}% of the small net's excess errors over the "
             f"teacher (the paper: {100 * paper_gap_closed():.0f}%)." if r["teacher_better"] else
             ". With no clear teacher advantage, there is no excess over the teacher for distillation to remove.")
    if r["distilled_better_every_seed"]:
        text += " The distilled net makes fewer errors than the small net on every seed."
    return text


def main_display_table(result: StoredResult) -> pd.DataFrame:
    """The three networks in every regime, ready to show: mean ± std over seeds, beside the paper's MNIST errors."""
    frames = []
    for name in regime_names(result):
        m = main_table(result, name)
        frames.append(pd.DataFrame({
            "regime": name,
            "test errors": [f"{x:.1f} ± {sd:.1f}" for x, sd in zip(m["errors"], m["errors_std"])],
            "accuracy (%)": [f"{100 * x:.2f} ± {100 * sd:.2f}" for x, sd in zip(m["accuracy"], m["accuracy_std"])],
            "NLL": m["nll"].map("{:.3f}".format), "ECE": m["ece"].map("{:.3f}".format), "seeds": m["seeds"],
            "paper (MNIST errors)": [PAPER["errors"][k] for k in m.index]}, index=m.index))
    return pd.concat(frames).reset_index(names="model").set_index(["regime", "model"])


def regimes_table(regimes: Sequence[Any]) -> pd.DataFrame:
    """The training recipe of each regime (the settings' ``Regime`` objects): images, epochs, distillation lr."""
    return pd.DataFrame({r.name: {"training images": "all" if r.train_limit is None else f"{r.train_limit:,}",
                                  "teacher epochs": r.teacher_train.epochs, "student epochs": r.student_train.epochs,
                                  "distillation lr": r.distill_train.lr} for r in regimes}).T


def seed_figure(result: StoredResult, test_size: int) -> Figure:
    """Every seed's test errors of the three nets, one panel per regime, with mean ± std beside them."""
    names = regime_names(result)
    fig, axes = plots.figure(ncols=len(names), width=4.6 * len(names), height=3.3)
    for ax, name in zip(axes, names):
        per_seed = per_seed_errors(result, name)
        for i, model in enumerate(per_seed.columns):
            ys = per_seed[model].to_numpy(dtype=float)
            ax.scatter(np.full(len(ys), i) + np.linspace(-0.08, 0.08, len(ys)), ys, color=plots.PALETTE[i], zorder=3)
            ax.errorbar(i + 0.22, ys.mean(), yerr=ys.std(ddof=1) if len(ys) > 1 else 0, fmt="_", color="black",
                        capsize=4, ms=14)
        ax.set_xticks(range(len(per_seed.columns)), list(per_seed.columns))
        ax.set(ylabel=f"test errors (of {test_size:,})", xlim=(-0.5, len(per_seed.columns) - 0.3), title=name)
    return fig


# ------------------------------------------------------------------------------ the sweeps
def _sweep_regime(results: Results) -> str:
    return results["temperature"].value["regime"]


def sweep_seeds(result: StoredResult) -> int:
    """How many seeds a sweep (temperature or weighting) ran."""
    return int(pd.DataFrame(result.value["rows"])["seed"].nunique())


def _setting_std(df: pd.DataFrame, by: list[str]) -> float:
    return float(df.groupby(by, dropna=False)["errors"].std(ddof=1).mean())


def sweep_spreads(results: Results) -> dict[str, float]:
    """The standard deviation over seeds of one distilled net and of one net on labels in the sweeps:
    from the temperature sweep itself when it ran several seeds, else from the main experiment's
    distilled and small nets in the same regime."""
    rows = pd.DataFrame(results["temperature"].value["rows"])
    if rows["seed"].nunique() > 1:
        labels = rows["T"].isna()
        return {"distilled": _setting_std(rows[~labels], ["width", "T"]),
                "labels": _setting_std(rows[labels], ["width"])}
    m = main_table(results["main"], _sweep_regime(results))
    return {"distilled": float(m.loc["distilled", "errors_std"]), "labels": float(m.loc["small net", "errors_std"])}


def temperature_table(result: StoredResult) -> pd.DataFrame:
    """Mean test errors per width (rows) and temperature (columns; 'labels' = no teacher)."""
    df = pd.DataFrame(result.value["rows"])
    df["T"] = ["labels" if t is None or t != t else f"{t:g}" for t in df["T"]]
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
    css = pd.DataFrame("", index=table.index, columns=table.columns)
    for width, T in validation_choice(result)["T"].items():
        css.loc[width, f"{T:g}"] = "font-weight: bold"
    return table.style.format("{:.1f}").apply(_given_styles, axis=None, css=css)


def temperature_sentence(result: StoredResult) -> str:
    """Per width, the temperature chosen on validation and its test errors against labels alone."""
    choice = validation_choice(result)
    parts = [f"with {w} units, validation picks T = {r['T']:g}, which makes {r['errors']:.0f} test errors "
             f"against {r['labels']:.0f} with labels alone" for w, r in choice.iterrows()]
    return "; ".join(parts) + "."


def spread_sentence(result: StoredResult) -> str:
    """How much the test errors vary over the high temperatures, wide students first ('' with fewer than two)."""
    spreads = high_T_spreads(result)
    if len(_high_temperatures(temperature_table(result))) < 2:
        return ""
    wide = _wide_widths(list(spreads))
    narrow = [w for w in spreads if w not in wide]
    text = (f"Between T = {PAPER['flat_from_T']:g} and the largest temperature, the test errors of the "
            f"{join_words([f'{w}-unit' for w in wide])} {'student' if len(wide) == 1 else 'students'} vary by "
            f"{join_words([f'{spreads[w]:.0f}' for w in wide])} errors")
    if narrow:
        text += (f", and those of the {join_words([f'{w}-unit' for w in narrow])} "
                 f"{'student' if len(narrow) == 1 else 'students'} by {join_words([f'{spreads[w]:.0f}' for w in narrow])}")
    return text + "."


def noise_sentence(results: Results) -> str:
    """What counts as a difference in the sweeps, in words."""
    seeds = sweep_seeds(results["temperature"])
    spread = sweep_spreads(results)
    if seeds > 1:
        return (f"The sweep ran {plural(seeds, 'seed')}; a difference between two of its students counts only "
                f"when it exceeds about {2 * spread['distilled']:.0f} errors, the sum of their spreads over seeds.")
    return (f"With one sweep seed, a difference between two distilled students counts here only when it exceeds "
            f"{2 * spread['distilled']:.0f} errors, twice the spread over seeds of the distilled net of the main "
            f"experiment in the same regime.")


def temperature_figure(result: StoredResult) -> Figure:
    """Test errors against T for each width, with labels alone and the temperature chosen on validation."""
    table = temperature_table(result)
    temps = [c for c in table.columns if c != "labels"]
    Ts = np.array([float(c) for c in temps])
    fig, axes = plots.figure(ncols=len(table.index), width=3.3 * len(table.index), height=3.0)
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


def weighting_display_table(result: StoredResult) -> pd.DataFrame:
    """:func:`weighting_table` ready to show: test errors, test and validation accuracy in %."""
    wt = weighting_table(result)
    return pd.DataFrame({"test errors": wt["errors"],
                         "test accuracy (%)": (100 * wt["accuracy"]).map("{:.2f}".format),
                         "validation accuracy (%)": (100 * wt["val_accuracy"]).map("{:.2f}".format)})


def _weighting_rows(result: StoredResult) -> pd.DataFrame:
    df = pd.DataFrame(result.value["rows"])
    return df.groupby(["weighting", "alpha", "scale_T2"], sort=False)[["errors", "val_accuracy"]].mean().reset_index()


def best_weighting(result: StoredResult) -> pd.Series:
    """The weighting with the best mean validation accuracy (its name, alpha, T^2 flag, errors)."""
    df = _weighting_rows(result)
    return df.loc[df["val_accuracy"].idxmax()]


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
            f"{student_lr / effective:.0f} times below the {student_lr:g} of the small net trained on labels.")


# ------------------------------------------------------------------------------ few data
def small_data_table(result: StoredResult) -> pd.DataFrame:
    """Test accuracy (%) with a few percent of the data, hard vs soft targets, and with all of it."""
    df = pd.DataFrame(result.value["rows"])
    df["accuracy %"] = 100 * df["accuracy"]
    out = mean_std(df, "model", ["accuracy %", "examples"])
    return out.drop(columns=["examples_std"])


def small_data_display_table(result: StoredResult) -> pd.DataFrame:
    """:func:`small_data_table` ready to show, beside the paper's speech numbers."""
    small = small_data_table(result)
    p = PAPER["small_data"]
    return pd.DataFrame({
        "accuracy %": [f"{m:.2f} ± {sd:.2f}" for m, sd in zip(small["accuracy %"], small["accuracy %_std"])],
        "examples": small["examples"].map("{:,.0f}".format),
        "paper (speech, %)": small.index.map({"hard targets": p["hard targets"], "soft targets": p["soft targets"],
                                              "full data, hard targets": p["full data"]})}, index=small.index)


def recovered_shares(result: StoredResult) -> np.ndarray:
    """Per seed, the share of the full-data accuracy gain over hard targets that soft targets recover."""
    acc = pd.DataFrame(result.value["rows"]).pivot(index="seed", columns="model", values="accuracy")
    return ((acc["soft targets"] - acc["hard targets"]) / (acc["full data, hard targets"] - acc["hard targets"])).to_numpy()


def val_curves(result: StoredResult) -> dict[str, np.ndarray]:
    """Mean validation accuracy per epoch of the hard- and soft-target runs on the small subset."""
    out: dict[str, list] = {}
    for c in result.value["curves"]:
        out.setdefault(c["model"], []).append(c["val_accuracy"])
    return {k: np.mean(np.asarray(v, dtype=float), axis=0) for k, v in out.items()}


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


# ------------------------------------------------------------------------------ the chapter's numbers
def headline(results: Results) -> dict[str, float | str]:
    """The chapter's findings as numbers (means over seeds) and comparison words; keys of the main
    experiment end in ``_r0``, ``_r1``... after their regime."""
    main = results["main"]
    out: dict[str, float | str] = {"paper_gap_closed": paper_gap_closed()}
    for i, name in enumerate(regime_names(main)):
        out.update({f"{k}_r{i}": val for k, val in regime_headline(main, name).items()})
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
    out["small_hard_std"] = sd.loc["hard targets", "accuracy %_std"]
    out["small_soft_std"] = sd.loc["soft targets", "accuracy %_std"]
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
            (f"teacher: test errors ({name})", f"{e['teacher']} / {PAPER['test_size']:,}",
             f"{pm('teacher', i)} / {test_size:,}"),
            (f"small net on labels ({name})", f"{e['small net']}", pm("small", i)),
            (f"small net distilled at T = {PAPER['T']:g} ({name})", f"{e['distilled']}", pm("distilled", i)),
            (f"share of the small net's excess errors removed ({name})", f"{100 * h['paper_gap_closed']:.0f}%",
             f"{100 * h[f'gap_closed_r{i}']:.0f}%" if h[f"teacher_better_r{i}"]
             else "n/a: the teacher is not clearly better than the small net"),
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
def glue_values(results: Results, test_size: int) -> dict[str, float | str]:
    """Every number and sentence the page glues that comes from the stored results (``ch02_...``),
    the claims' outcome sentences included (``ch02_claim_<name>``)."""
    h = headline(results)
    main = results["main"]
    wt = weighting_table(results["weighting"])
    pair = no_T2_pair(results["weighting"])
    labels_sweep = main_table(main, _sweep_regime(results)).loc["small net", "errors"]
    outcomes = {c.id.split(".", 1)[1]: c.evaluate(results).sentence() for c in CLAIMS}
    return {
        "ch02_test_size": f"{test_size:,}",
        **{f"ch02_regime_sentence_{i}": regime_sentence(main, name) for i, name in enumerate(regime_names(main))},
        "ch02_sweep_regime": _sweep_regime(results),
        "ch02_sweep_seeds": plural(sweep_seeds(results["temperature"]), "seed"),
        "ch02_temp_sentence": temperature_sentence(results["temperature"]),
        "ch02_spread_sentence": spread_sentence(results["temperature"]),
        "ch02_noise_sentence": noise_sentence(results),
        "ch02_best_weighting_val": h["best_weighting_val"],
        "ch02_weight_soft": wt.loc["soft only", "errors"] if "soft only" in wt.index else float("nan"),
        "ch02_weight_best_errors": wt.loc[h["best_weighting_val"], "errors"],
        "ch02_weight_noT2": pair[0]["errors"] if pair else float("nan"),
        "ch02_noT2_hard_weight": 1 - pair[0]["alpha"] if pair else float("nan"),
        "ch02_labels_sweep_regime": labels_sweep,
        "ch02_gap_closed_last": h[f"gap_closed_r{len(regime_names(main)) - 1}"],
        **{f"ch02_{k}": h[k] for k in ("small_examples", "small_hard", "small_soft", "small_full", "small_recovered",
                                       "paper_small_recovered", "paper_gap_closed")},
        **{f"ch02_claim_{name}": sentence for name, sentence in outcomes.items()},
    }


def recipe_values(results: Results, *, teacher_widths: Sequence[int], teacher_dropout: float, jitter_px: int,
                  student_width: int, student_lr: float, distill_lr: float) -> dict[str, float | str]:
    """The page's phrases about the recipe, from the settings the notebook passes (``ch02_...``)."""
    pair = no_T2_pair(results["weighting"])
    return {
        "ch02_teacher_desc": f"{teacher_widths[0]}x{len(teacher_widths)}, dropout {teacher_dropout:g}, "
                             f"jitter up to {jitter_px} px",
        "ch02_width": student_width, "ch02_student_lr": student_lr, "ch02_distill_lr": distill_lr,
        "ch02_noT2_lr_sentence": no_T2_learning_rate_sentence(1 - pair[0]["alpha"], distill_lr, student_lr)
        if pair else "",
    }


# ------------------------------------------------------------------------------ claims
Verdict = tuple[bool, dict[str, float]]


def _means(results: Results, which: int) -> pd.DataFrame:
    main = results["main"]
    return main_table(main, regime_names(main)[which])


def _beats(a: str, b: str, which: int) -> Callable[[Results], Verdict]:
    """``a`` makes clearly fewer test errors than ``b`` in regime ``which`` (0: all data, -1: the smallest)."""
    def predicate(results: Results) -> Verdict:
        m = _means(results, which)
        return clearly_greater(m.loc[b, "errors"], m.loc[b, "errors_std"], m.loc[a, "errors"], m.loc[a, "errors_std"]), {
            f"{a}_errors": m.loc[a, "errors"], f"{a}_std": m.loc[a, "errors_std"],
            f"{b}_errors": m.loc[b, "errors"], f"{b}_std": m.loc[b, "errors_std"]}
    return predicate


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
              / (PAPER["errors"][model] / PAPER["test_size"]) for model in MODELS}
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


def _no_T2_numbers(results: Results) -> tuple[pd.Series, pd.Series, float] | None:
    pair = no_T2_pair(results["weighting"])
    return (*pair, sweep_spreads(results)["distilled"]) if pair else None


def _no_T2_hurts(results: Results) -> Verdict:
    got = _no_T2_numbers(results)
    if got is None:
        return False, {}
    without, with_, sd = got
    return clearly_greater(without["errors"], sd, with_["errors"], sd), {
        "errors_without_T2": without["errors"], "errors_with_T2": with_["errors"], "allowance": 2 * sd}


def _no_T2_worse_than_labels(results: Results) -> Verdict:
    got = _no_T2_numbers(results)
    if got is None:
        return False, {}
    without, _, sd = got
    m = main_table(results["main"], _sweep_regime(results))
    labels, labels_sd = m.loc["small net", "errors"], m.loc["small net", "errors_std"]
    return clearly_greater(without["errors"], sd, labels, labels_sd), {
        "errors_without_T2": without["errors"], "errors_on_labels": labels, "allowance": sd + labels_sd}


def _soft_beats_hard_few_data(results: Results) -> Verdict:
    sd = small_data_table(results["small-data"])
    hard, soft = sd.loc["hard targets"], sd.loc["soft targets"]
    return clearly_greater(soft["accuracy %"], soft["accuracy %_std"], hard["accuracy %"], hard["accuracy %_std"]), {
        "soft_accuracy_pct": soft["accuracy %"], "soft_std": soft["accuracy %_std"],
        "hard_accuracy_pct": hard["accuracy %"], "hard_std": hard["accuracy %_std"]}


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


CLAIMS: tuple[Claim, ...] = (
    Claim("ch02.teacher_beats_labels_full_data",
          "On all the training images the teacher makes clearly fewer test errors than the small net trained on labels.",
          "On all the training images the teacher does not make clearly fewer test errors than the small net "
          "trained on labels.", _beats("teacher", "small net", 0), source="paper"),
    Claim("ch02.teacher_worse_than_labels_full_data",
          "On all the training images the teacher makes clearly more test errors than the small net trained on labels.",
          "On all the training images the teacher does not make clearly more test errors than the small net "
          "trained on labels.", _beats("small net", "teacher", 0)),
    Claim("ch02.distilled_beats_labels_full_data",
          "On all the training images the distilled net makes clearly fewer test errors than the small net "
          "trained on labels.",
          "On all the training images the distilled net does not make clearly fewer test errors than the small "
          "net trained on labels.", _beats("distilled", "small net", 0), source="paper"),
    Claim("ch02.distilled_worse_than_labels_full_data",
          "On all the training images the distilled net makes clearly more test errors than the small net "
          "trained on labels.",
          "On all the training images the distilled net does not make clearly more test errors than the small "
          "net trained on labels.", _beats("small net", "distilled", 0)),
    Claim("ch02.teacher_beats_labels_10pct",
          "With a tenth of the images the teacher makes clearly fewer test errors than the small net trained on labels.",
          "With a tenth of the images the teacher does not make clearly fewer test errors than the small net "
          "trained on labels.", _beats("teacher", "small net", -1)),
    Claim("ch02.distilled_beats_labels_10pct",
          "With a tenth of the images the distilled net makes clearly fewer test errors than the small net "
          "trained on labels.",
          "With a tenth of the images the distilled net does not make clearly fewer test errors than the small "
          "net trained on labels.", _beats("distilled", "small net", -1)),
    Claim("ch02.distillation_removes_most_excess_errors_10pct",
          "With a tenth of the images, distillation removes most (clearly more than half) of the small net's "
          "excess errors over the teacher.",
          "With a tenth of the images, distillation does not clearly remove more than half of the small net's "
          f"excess errors over the teacher (the paper: {100 * paper_gap_closed():.0f}%).", _removes_most_excess,
          source="paper"),
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
    Claim("ch02.no_t2_worse_than_labels",
          "Without the T² factor the student makes clearly more test errors than the same net trained on labels alone.",
          "Without the T² factor the student does not make clearly more test errors than the same net trained "
          "on labels alone.", _no_T2_worse_than_labels),
    Claim("ch02.soft_beats_hard_few_data",
          "With a few percent of the images, soft targets give a clearly more accurate student than hard labels.",
          "With a few percent of the images, soft targets do not give a clearly more accurate student than hard "
          "labels.", _soft_beats_hard_few_data, source="paper"),
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
