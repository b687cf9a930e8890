"""Chapter 1, soft targets and temperature: what the stored logits of a teacher and a student show.

Everything here is computed from the logits that ``kdbook.experiments.ch01_soft_targets`` stores
(``results["logits"]``), in milliseconds: soft targets at every temperature, the gradient of the
soft loss checked against autograd, gradient norms with and without the T^2 factor, the
high-temperature limit, and the ``reduction="mean"`` pitfall. The losses analysed are the
library's own (:mod:`kdbook.losses`), differentiated with torch's autograd; nothing is trained.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from .. import losses, plots
from ..claims import Claim, Results
from ..store import StoredResult
from .common import clearly_greater, plural

#: The temperatures the claims are judged on (the grid of the chapter's settings, every profile).
TEMPERATURES: tuple[float, ...] = (1, 1.5, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 200)
#: Slopes are fitted on temperatures from this one up (where the asymptotic behaviour shows).
HIGH_T_FROM = 5.0
#: How far a fitted log-log slope may be from the paper's for the paper's statement to hold.
SLOPE_TOLERANCE = 0.1
#: The temperatures commonly used for distillation in practice.
COMMON_TEMPERATURES = (2.0, 5.0)
#: The temperature of the reduction pitfall and of the "drowned soft term" comparison.
PITFALL_T = 4.0
DROWNED_T = 20.0
#: The top of the temperature grid: where the paper's large-T statements are checked a second time.
TOP_T_FROM = 50.0
#: With the T² factor, a gradient norm that grows by more than this factor from T = 1 to its peak
#: has not yet reached the asymptote where T no longer matters.
MODERATE_GROWTH = 1.5

#: Hinton et al. (2015), section 2: the log-log slopes their derivation predicts.
PAPER = {
    "gradient": "dC/dz_i = (q_i - p_i) / T (eq. 2)",
    "slope_without_T2": -2.0,  # soft-target gradients scale as 1/T^2
    "slope_with_T2": 0.0,      # multiplying by T^2 keeps them comparable
    "limit_slope": -1.0,       # the high-T expansion's first neglected term is O(1/T)
}


# ------------------------------------------------------------------------------ logits
def logits_of(result: StoredResult, seed_index: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(teacher logits, student logits, labels) of one seed as float64 tensors."""
    entry = result.value["per_seed"][seed_index]
    return (torch.tensor(entry["teacher_logits"], dtype=torch.float64),
            torch.tensor(entry["student_logits"], dtype=torch.float64),
            torch.tensor(result.value["labels"]))


def n_seeds(result: StoredResult) -> int:
    """How many seeds the stored logits cover."""
    return len(result.value["per_seed"])


def seed_table(result: StoredResult) -> pd.DataFrame:
    """Test accuracy of the teacher and of the (deliberately under-trained) student, per seed."""
    rows = [{"seed": e["seed"], "teacher accuracy": e["teacher_test"]["accuracy"],
             "teacher errors": e["teacher_test"]["errors"], "student accuracy": e["student_test"]["accuracy"]}
            for e in result.value["per_seed"]]
    return pd.DataFrame(rows).set_index("seed")


# ------------------------------------------------------------------------------ soft targets
def pick_confident_example(teacher_logits: torch.Tensor, threshold: float = 0.99) -> int:
    """Index of the first example the teacher classifies with probability above ``threshold``
    (else the most confident one): at T = 1 its other classes are almost invisible."""
    top = teacher_logits.softmax(-1).max(-1).values
    above = torch.nonzero(top > threshold).flatten()
    return int(above[0]) if len(above) else int(top.argmax())


def softmax_table(logits: torch.Tensor, temperatures, class_names) -> pd.DataFrame:
    """Probabilities of one example's classes (rows) at each temperature (columns)."""
    data = {f"T={T:g}": losses.soften(logits, T).numpy() for T in temperatures}
    return pd.DataFrame(data, index=list(class_names))


def confident_example_table(result: StoredResult, temperatures=(1, 2, 4, 10, 20)) -> pd.DataFrame:
    """:func:`softmax_table` of seed 0's confident example, classes sorted by their T = 1 probability."""
    teacher, _, _ = logits_of(result)
    table = softmax_table(teacher[pick_confident_example(teacher)], temperatures, result.value["class_names"])
    return table.sort_values(table.columns[0], ascending=False)


def confident_example_values(result: StoredResult) -> dict[str, float | str]:
    """The confident example in words and numbers: its true class, the top, runner-up and last
    classes, and their probabilities (%) at T = 1 and T = 4."""
    teacher, _, labels = logits_of(result)
    i = pick_confident_example(teacher)
    table = confident_example_table(result, (1, 4))
    order = list(table.index)
    return {"true": result.value["class_names"][int(labels[i])], "top": order[0], "runner": order[1],
            "last": order[-1], "top_T1": 100 * table.loc[order[0], "T=1"],
            "runner_T1": 100 * table.loc[order[1], "T=1"], "runner_T4": 100 * table.loc[order[1], "T=4"],
            "last_T4": 100 * table.loc[order[-1], "T=4"]}


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats of each row."""
    return -torch.xlogy(probs, probs).sum(-1)


def entropy_curve(logits: torch.Tensor, temperatures) -> np.ndarray:
    """Mean entropy of the soft targets at each temperature."""
    return np.array([entropy(losses.soften(logits, T)).mean().item() for T in temperatures])


def dark_mass_curve(logits: torch.Tensor, temperatures) -> np.ndarray:
    """Mean probability placed on classes other than the arg-max, at each temperature."""
    return np.array([(1 - losses.soften(logits, T).max(-1).values).mean().item() for T in temperatures])


def ranking_kept(logits: torch.Tensor, temperatures) -> bool:
    """Whether every example's arg-max class is the same at every temperature."""
    top = logits.argmax(-1)
    return all(bool((losses.soften(logits, T).argmax(-1) == top).all()) for T in temperatures)


# ------------------------------------------------------------------------------ gradients
def soft_loss_grad(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float,
                   scale_T2: bool = True, loss=losses.kd_loss) -> torch.Tensor:
    """Autograd gradient of the per-example soft loss w.r.t. the student logits, (B, C)."""
    z = student_logits.clone().requires_grad_(True)
    B = z.shape[0]
    out = loss(z, teacher_logits, T, scale_T2=scale_T2) if loss is losses.kd_loss else loss(z, teacher_logits, T)
    (g,) = torch.autograd.grad(out * B, z)  # losses are batch means: * B gives per-example gradients
    return g


def formula_grad(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    """Hinton's closed form of d(soft cross-entropy)/dz: (q - p) / T."""
    return (losses.soften(student_logits, T) - losses.soften(teacher_logits, T)) / T


def _soft_cross_entropy_at(z: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    return losses.soft_cross_entropy(z, losses.soften(teacher_logits, T), T)


def _logit_matching_at(z: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    return losses.logit_matching_loss(z, teacher_logits)


def autograd_check(student_logits, teacher_logits, temperatures) -> pd.DataFrame:
    """Largest |autograd - (q - p)/T| of the soft cross-entropy, per temperature."""
    rows = []
    for T in temperatures:
        g = soft_loss_grad(student_logits, teacher_logits, T, loss=_soft_cross_entropy_at)
        f = formula_grad(student_logits, teacher_logits, T)
        rows.append({"T": T, "max_abs_diff": (g - f).abs().max().item(), "max_abs_grad": f.abs().max().item()})
    return pd.DataFrame(rows)


def gradient_norms(student_logits, teacher_logits, temperatures) -> pd.DataFrame:
    """Mean per-example gradient norm of the soft term with and without T^2, and of hard-label CE."""
    hard = student_logits.clone().requires_grad_(True)
    labels = teacher_logits.argmax(-1)
    (g_hard,) = torch.autograd.grad(F.cross_entropy(hard, labels, reduction="sum"), hard)
    rows = []
    for T in temperatures:
        g0 = soft_loss_grad(student_logits, teacher_logits, T, scale_T2=False)
        g2 = soft_loss_grad(student_logits, teacher_logits, T, scale_T2=True)
        rows.append({"T": T, "without_T2": g0.norm(dim=-1).mean().item(),
                     "with_T2": g2.norm(dim=-1).mean().item(),
                     "hard_ce": g_hard.norm(dim=-1).mean().item()})
    return pd.DataFrame(rows)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def high_temperature_limit(student_logits, teacher_logits, temperatures) -> pd.DataFrame:
    """How far T^2 * KL is from logit matching, in gradient (relative) and in loss value."""
    g_mse = soft_loss_grad(student_logits, teacher_logits, 1.0, loss=_logit_matching_at)
    mse = losses.logit_matching_loss(student_logits, teacher_logits).item()
    rows = []
    for T in temperatures:
        g = soft_loss_grad(student_logits, teacher_logits, T, scale_T2=True)
        kd = losses.kd_loss(student_logits, teacher_logits, T).item()
        rows.append({"T": T,
                     "grad_rel_error": ((g - g_mse).norm() / g_mse.norm()).item(),
                     "kd_T2": kd, "logit_mse": mse, "loss_ratio": kd / mse})
    return pd.DataFrame(rows)


def crossing_temperature(Ts, gaps, level: float) -> float:
    """Smallest T at which the (decreasing) gap falls to ``level``, interpolated in log-log; inf if never."""
    Ts, gaps = np.asarray(Ts, float), np.asarray(gaps, float)
    below = np.nonzero(gaps <= level)[0]
    if len(below) == 0:
        return float("inf")
    k = below[0]
    if k == 0:
        return float(Ts[0])
    lt, lg = np.log(Ts[k - 1:k + 1]), np.log(gaps[k - 1:k + 1])
    return float(np.exp(lt[0] + (np.log(level) - lg[0]) * (lt[1] - lt[0]) / (lg[1] - lg[0])))


def reduction_pitfall(student_logits, teacher_logits, T: float) -> dict[str, float]:
    """The KD term with PyTorch's ``reduction='mean'`` (averaged over classes too) vs ``'batchmean'``."""
    log_q = F.log_softmax(student_logits / T, -1)
    p = losses.soften(teacher_logits, T)
    batchmean = F.kl_div(log_q, p, reduction="batchmean").item() * T * T
    with warnings.catch_warnings():  # PyTorch warns about exactly this pitfall
        warnings.simplefilter("ignore", UserWarning)
        mean = F.kl_div(log_q, p, reduction="mean").item() * T * T
    return {"T": T, "batchmean": batchmean, "mean": mean, "ratio": batchmean / mean,
            "num_classes": student_logits.shape[-1], "ours": losses.kd_loss(student_logits, teacher_logits, T).item()}


def reduction_pitfall_table(result: StoredResult, T: float = PITFALL_T) -> pd.DataFrame:
    """:func:`reduction_pitfall` on seed 0's logits, one row per quantity (``ours`` is ``kd_loss``)."""
    teacher, student, _ = logits_of(result)
    pit = reduction_pitfall(student, teacher, T)
    return pd.DataFrame({"value": [float(v) for v in pit.values()]}, index=pd.Index(list(pit), name="quantity"))


# ------------------------------------------------------------------------------ over seeds
def seed_summary(result: StoredResult, fn: Callable, *args) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds of ``fn(teacher, student, *args)`` (an array)."""
    vals = []
    for i in range(n_seeds(result)):
        t, s, _ = logits_of(result, i)
        vals.append(np.asarray(fn(t, s, *args), dtype=float))
    arr = np.stack(vals)
    return arr.mean(0), arr.std(0, ddof=1) if len(arr) > 1 else np.zeros_like(arr[0])


def _teacher_entropy(teacher, student, temperatures) -> np.ndarray:
    return entropy_curve(teacher, temperatures)


def _teacher_dark_mass(teacher, student, temperatures) -> np.ndarray:
    return dark_mass_curve(teacher, temperatures)


def _norms(teacher, student, temperatures, column: str) -> np.ndarray:
    return gradient_norms(student, teacher, temperatures)[column].to_numpy()


def soft_target_curves(result: StoredResult, temperatures) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Mean and std over seeds of the teacher's soft-target entropy and off-top mass per temperature."""
    return {"entropy": seed_summary(result, _teacher_entropy, temperatures),
            "dark_mass": seed_summary(result, _teacher_dark_mass, temperatures)}


def gradient_norm_curves(result: StoredResult, temperatures) -> dict[str, np.ndarray]:
    """Mean over seeds of the gradient norms of :func:`gradient_norms`, by its columns."""
    return {col: seed_summary(result, _norms, temperatures, col)[0] for col in ("without_T2", "with_T2", "hard_ce")}


def high_temperature_curves(result: StoredResult, temperatures) -> dict[str, pd.DataFrame]:
    """:func:`high_temperature_limit` per seed, keyed 'seed 0', 'seed 1', ..."""
    out = {}
    for i, entry in enumerate(result.value["per_seed"]):
        t, s, _ = logits_of(result, i)
        out[f"seed {entry['seed']}"] = high_temperature_limit(s, t, temperatures)
    return out


def headline_numbers(result: StoredResult, temperatures=TEMPERATURES, high_T_from: float = HIGH_T_FROM) -> dict[str, float]:
    """The chapter's findings as numbers, each the mean (and ``_std``) over seeds."""
    Ts = np.asarray(temperatures, dtype=float)
    high = Ts >= high_T_from
    common = (Ts >= COMMON_TEMPERATURES[0]) & (Ts <= COMMON_TEMPERATURES[1])
    per_seed: dict[str, list[float]] = {}
    for i in range(n_seeds(result)):
        t, s, _ = logits_of(result, i)
        norms = gradient_norms(s, t, Ts)
        lim = high_temperature_limit(s, t, Ts)
        pit = reduction_pitfall(s, t, PITFALL_T)
        seed = {
            "autograd_max_abs_diff": autograd_check(s, t, Ts)["max_abs_diff"].max(),
            "slope_without_T2": loglog_slope(Ts[high], norms["without_T2"][high]),
            "slope_with_T2": loglog_slope(Ts[high], norms["with_T2"][high]),
            "slope_without_T2_top": loglog_slope(Ts[Ts >= TOP_T_FROM], norms["without_T2"][Ts >= TOP_T_FROM]),
            "slope_with_T2_top": loglog_slope(Ts[Ts >= TOP_T_FROM], norms["with_T2"][Ts >= TOP_T_FROM]),
            "with_T2_max_over_min": norms["with_T2"].max() / norms["with_T2"].min(),
            "with_T2_at_T1": norms["with_T2"].iloc[0],
            "with_T2_peak": norms["with_T2"].max(),
            "with_T2_peak_T": float(Ts[int(norms["with_T2"].to_numpy().argmax())]),
            "without_T2_max_over_min": norms["without_T2"].max() / norms["without_T2"].min(),
            "limit_slope": loglog_slope(Ts[high], lim["grad_rel_error"][high]),
            "reduction_ratio": pit["ratio"],
            "kd_loss_vs_batchmean": abs(pit["ours"] - pit["batchmean"]),
            "T_gap_10pct": crossing_temperature(Ts, lim["grad_rel_error"].to_numpy(), 0.1),
            "min_gap_common_T": lim["grad_rel_error"][common].min() if common.any() else float("nan"),
            "soft_over_hard_T20": float(np.interp(DROWNED_T, Ts, norms["without_T2"] / norms["hard_ce"])),
        }
        seed.update({f"rel_error_T{T}": lim.loc[lim["T"] == T, "grad_rel_error"].iloc[0]
                     for T in (1, 10, 100) if (lim["T"] == T).any()})
        for key, value in seed.items():
            per_seed.setdefault(key, []).append(float(value))
    out: dict[str, float] = {}
    for key, vals in per_seed.items():
        arr = np.asarray(vals)
        out[key] = float(arr.mean())
        out[key + "_std"] = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    out["n_seeds"] = n_seeds(result)
    out["T_min"], out["T_max"] = float(Ts.min()), float(Ts.max())
    out["num_classes"] = len(result.value["class_names"])
    return out


# ------------------------------------------------------------------------------ the page
def glue_values(result: StoredResult, temperatures) -> dict[str, float | str]:
    """Every number and phrase the page glues, under its glue name (``ch01_...``)."""
    seeds = seed_table(result)
    h = headline_numbers(result, temperatures)
    curves = soft_target_curves(result, temperatures)
    ent = curves["entropy"][0]
    example = {f"ch01_{k}": v for k, v in confident_example_values(result).items()}
    return {
        "ch01_teacher_acc": 100 * seeds["teacher accuracy"].mean(),
        "ch01_student_acc": 100 * seeds["student accuracy"].mean(),
        "ch01_seeds": plural(len(seeds), "seed"), "ch01_n_examples": len(result.value["labels"]),
        **example,
        "ch01_entropy_T1": float(ent[0]), "ch01_entropy_T20": float(np.interp(20, np.asarray(temperatures, float), ent)),
        "ch01_autograd_diff": h["autograd_max_abs_diff"],
        **{f"ch01_{k}": h[k] for k in ("slope_without_T2", "slope_with_T2", "with_T2_max_over_min",
                                       "without_T2_max_over_min", "rel_error_T1", "rel_error_T10",
                                       "rel_error_T100", "limit_slope", "T_gap_10pct", "soft_over_hard_T20")},
        "ch01_with_T2_at_T1": f"{h['with_T2_at_T1']:.2f}", "ch01_with_T2_peak": f"{h['with_T2_peak']:.2f}",
        "ch01_with_T2_peak_T": f"{h['with_T2_peak_T']:g}", "ch01_high_T_from": f"{HIGH_T_FROM:g}",
        "ch01_top_T_from": f"{TOP_T_FROM:g}", "ch01_slope_without_T2_top": f"{h['slope_without_T2_top']:.3f}",
        "ch01_slope_with_T2_top": f"{h['slope_with_T2_top']:.3f}",
        "ch01_teacher": result.value.get("teacher", "the teacher"),
        "ch01_ratio": h["reduction_ratio"],
        **{f"ch01_says_{c.id.split('.', 1)[1]}": c.evaluate({"logits": result}).sentence() for c in CLAIMS},
        "ch01_num_classes": h["num_classes"],
    }


def soft_target_figure(result: StoredResult, temperatures) -> Figure:
    """Mean entropy and off-top mass of the teacher's soft targets against T, with their uniform limits."""
    Ts = np.asarray(temperatures, dtype=float)
    curves = soft_target_curves(result, Ts)
    n = len(result.value["class_names"])
    fig, axes = plots.figure(ncols=2)
    for ax, key, ylabel, limit in ((axes[0], "entropy", "mean entropy of soft targets (nats)", np.log(n)),
                                   (axes[1], "dark_mass", "mean probability off the top class", 1 - 1 / n)):
        mean, std = curves[key]
        plots.lines(Ts, {"teacher": mean}, spread={"teacher": std}, xlabel="temperature T", ylabel=ylabel,
                    logx=True, ax=ax)
        ax.axhline(limit, ls="--", color="grey", lw=1)
    return fig


def gradient_norm_figure(result: StoredResult, temperatures) -> Figure:
    """Mean gradient norms of the soft term with and without T^2, and of hard-label CE, against T."""
    Ts = np.asarray(temperatures, dtype=float)
    norms = gradient_norm_curves(result, Ts)
    return plots.lines(Ts, {"soft loss × T²": norms["with_T2"], "soft loss": norms["without_T2"],
                            "hard-label CE (reference)": norms["hard_ce"]},
                       xlabel="temperature T", ylabel="mean gradient norm w.r.t. student logits",
                       logx=True, logy=True)


def high_temperature_figure(result: StoredResult, temperatures) -> Figure:
    """Per seed: the relative gradient gap between T^2·KL and logit matching, and their loss ratio, against T."""
    Ts = np.asarray(temperatures, dtype=float)
    fig, axes = plots.figure(ncols=2)
    for label, lim in high_temperature_curves(result, Ts).items():
        axes[0].plot(Ts, lim["grad_rel_error"], marker="o", ms=3, label=label)
        axes[1].plot(Ts, lim["loss_ratio"], marker="o", ms=3, label=label)
    axes[0].set(xscale="log", yscale="log", xlabel="temperature T",
                ylabel="‖∇(T²·KL) − ∇(logit MSE)‖ / ‖∇(logit MSE)‖")
    axes[1].set(xscale="log", xlabel="temperature T", ylabel="T²·KL / logit MSE")
    axes[1].axhline(1, ls="--", color="grey", lw=1)
    axes[0].legend()
    return fig


def ours_vs_paper(h: dict[str, float]) -> pd.DataFrame:
    """Closing table: each statement of Hinton et al. (2015, section 2) beside our measurement."""
    def pm(k: str, fmt: str) -> str:
        return f"{h[k]:{fmt}} ± {h[k + '_std']:{fmt}}" if h["n_seeds"] > 1 else f"{h[k]:{fmt}}"

    rows = [
        (PAPER["gradient"], "derived (eq. 2)",
         f"largest |autograd - formula| = {h['autograd_max_abs_diff']:.1e}"),
        ("soft-target gradients scale as 1/T^2", f"stated (slope {PAPER['slope_without_T2']:g})",
         f"log-log slope of the gradient norm vs T (T ≥ {HIGH_T_FROM:g}): {pm('slope_without_T2', '.3f')}"),
        ("multiplying by T^2 keeps gradient sizes comparable", f"stated (slope {PAPER['slope_with_T2']:g})",
         f"max/min gradient norm over T in [{h['T_min']:g}, {h['T_max']:g}]: "
         f"{pm('with_T2_max_over_min', '.2f')} with T^2, {pm('without_T2_max_over_min', '.3g')} without"),
        ("high-T limit = matching zero-mean logits", f"derived (eq. 4; gap slope {PAPER['limit_slope']:g})",
         f"relative gradient gap {pm('rel_error_T10', '.3g')} at T=10, {pm('rel_error_T100', '.2g')} at T=100 "
         f"(slope {pm('limit_slope', '.2f')})"),
        ("KL averaged over the batch only", "implicit",
         f"reduction='mean' is {pm('reduction_ratio', '.1f')} times smaller (the number of classes)"),
    ]
    ours = f"ours (mean ± std over {plural(h['n_seeds'], 'seed')})" if h["n_seeds"] > 1 else "ours (1 seed)"
    return pd.DataFrame(rows, columns=["claim", "paper", ours])


# ------------------------------------------------------------------------------ claims
def _h(results: Results) -> dict[str, float]:
    return headline_numbers(results["logits"], TEMPERATURES)


def _gradient_formula_exact(results: Results) -> tuple[bool, dict[str, float]]:
    h = _h(results)
    largest = h["autograd_max_abs_diff"]
    # the order of magnitude only: the difference is rounding error, whose last digits vary from run to
    # run (float64 sums in another order), and the stored outcome must not
    return largest < 1e-10, {"log10_largest_abs_diff_at_most": float(np.ceil(np.log10(max(largest, 1e-300))))}


def _slope_near(key: str, target: float) -> Callable[[Results], tuple[bool, dict[str, float]]]:
    def predicate(results: Results) -> tuple[bool, dict[str, float]]:
        h = _h(results)
        return (abs(h[key] - target) <= SLOPE_TOLERANCE,
                {key: h[key], f"{key}_std": h[key + "_std"], "paper": target, "tolerance": SLOPE_TOLERANCE})
    return predicate


def _T2_factor_keeps_sizes(results: Results) -> tuple[bool, dict[str, float]]:
    h = _h(results)
    holds = (abs(h["slope_with_T2"] - PAPER["slope_with_T2"]) <= SLOPE_TOLERANCE
             and h["with_T2_max_over_min"] < h["without_T2_max_over_min"])
    return holds, {"slope_with_T2": h["slope_with_T2"], "with_T2_max_over_min": h["with_T2_max_over_min"],
                   "without_T2_max_over_min": h["without_T2_max_over_min"], "tolerance": SLOPE_TOLERANCE}


def _T2_exact_only_asymptotically(results: Results) -> tuple[bool, dict[str, float]]:
    h = _h(results)
    growth = h["with_T2_peak"] / h["with_T2_at_T1"]
    return growth > MODERATE_GROWTH, {"with_T2_at_T1": h["with_T2_at_T1"], "with_T2_peak": h["with_T2_peak"],
                                      "at_T": h["with_T2_peak_T"], "growth": growth}


def _soft_term_drowned(results: Results) -> tuple[bool, dict[str, float]]:
    h = _h(results)
    return h["soft_over_hard_T20"] < 0.1, {"soft_over_hard_gradient_at_T20": h["soft_over_hard_T20"]}


def _differs_at_common_T(results: Results) -> tuple[bool, dict[str, float]]:
    h = _h(results)
    return (h["min_gap_common_T"] > 0.1 and h["T_gap_10pct"] > COMMON_TEMPERATURES[1],
            {"smallest_gap_T2_to_5": h["min_gap_common_T"], "T_where_gap_reaches_10pct": h["T_gap_10pct"]})


def _reduction_ratio(results: Results) -> tuple[bool, dict[str, float]]:
    h = _h(results)
    return bool(np.isclose(h["reduction_ratio"], h["num_classes"], rtol=1e-9)), {
        "ratio": h["reduction_ratio"], "classes": h["num_classes"]}


def _kd_loss_is_batchmean(results: Results) -> tuple[bool, dict[str, float]]:
    h = _h(results)
    return h["kd_loss_vs_batchmean"] < 1e-9, {"abs_difference": h["kd_loss_vs_batchmean"]}


def _soft_targets_flatten(results: Results) -> tuple[bool, dict[str, float]]:
    curves = soft_target_curves(results["logits"], TEMPERATURES)
    ent, dark = curves["entropy"][0], curves["dark_mass"][0]
    holds = bool(np.all(np.diff(ent) > 0) and np.all(np.diff(dark) > 0))
    return holds, {"entropy_T1": ent[0], "entropy_T200": ent[-1], "off_top_mass_T1": dark[0],
                   "off_top_mass_T200": dark[-1]}


def _ranking_kept(results: Results) -> tuple[bool, dict[str, float]]:
    result = results["logits"]
    kept = [ranking_kept(logits_of(result, i)[0], TEMPERATURES) for i in range(n_seeds(result))]
    return all(kept), {"seeds_with_the_same_top_class_at_every_T": sum(kept), "seeds": len(kept)}


def _student_below_teacher(results: Results) -> tuple[bool, dict[str, float]]:
    seeds = seed_table(results["logits"])
    t, s = seeds["teacher accuracy"], seeds["student accuracy"]
    t_std, s_std = (t.std(ddof=1), s.std(ddof=1)) if len(seeds) > 1 else (0.0, 0.0)
    return clearly_greater(t.mean(), t_std, s.mean(), s_std), {
        "teacher_accuracy": t.mean(), "student_accuracy": s.mean(), "teacher_std": t_std, "student_std": s_std}


CLAIMS: tuple[Claim, ...] = (
    Claim("ch01.gradient_formula_exact",
          "The gradient of the soft cross-entropy is (q - p)/T: autograd and the formula agree to rounding error.",
          "Autograd and the formula (q - p)/T disagree by more than rounding error.",
          _gradient_formula_exact, source="paper"),
    Claim("ch01.soft_gradients_scale_as_inverse_t_squared",
          f"Without the T² factor, soft-target gradients shrink like 1/T² (log-log slope within "
          f"{SLOPE_TOLERANCE:g} of −2 for T ≥ {HIGH_T_FROM:g}).",
          f"Without the T² factor, the log-log slope of the soft-target gradients is not within "
          f"{SLOPE_TOLERANCE:g} of −2.",
          _slope_near("slope_without_T2", PAPER["slope_without_T2"]), source="paper"),
    Claim("ch01.t2_factor_keeps_gradients_comparable",
          f"Multiplying by T² removes that fall (slope within {SLOPE_TOLERANCE:g} of 0) and keeps gradient "
          f"sizes comparable across temperatures.",
          "Multiplying by T² does not remove the fall of the soft-target gradients with T.",
          _T2_factor_keeps_sizes, source="paper"),
    Claim("ch01.soft_gradients_inverse_t_squared_at_the_top",
          f"At the top of the temperature grid (T >= {TOP_T_FROM:g}), soft-target gradients without the T² factor "
          f"shrink like 1/T² (log-log slope within {SLOPE_TOLERANCE} of -2).",
          f"Even at the top of the temperature grid (T >= {TOP_T_FROM:g}), the log-log slope of the soft-target "
          f"gradients without the T² factor is not within {SLOPE_TOLERANCE} of -2.",
          _slope_near("slope_without_T2_top", PAPER["slope_without_T2"]), source="paper"),
    Claim("ch01.t2_factor_flat_at_the_top",
          f"At the top of the temperature grid (T >= {TOP_T_FROM:g}), the gradients with the T² factor no longer "
          f"change with T (log-log slope within {SLOPE_TOLERANCE} of 0).",
          f"Even at the top of the temperature grid (T >= {TOP_T_FROM:g}), the gradients with the T² factor still "
          f"change with T (log-log slope not within {SLOPE_TOLERANCE} of 0).",
          _slope_near("slope_with_T2_top", PAPER["slope_with_T2"]), source="paper"),
    Claim("ch01.t2_factor_exact_only_at_high_t",
          f"With the T² factor the soft gradient's norm still grows by more than {MODERATE_GROWTH:g} times between "
          "T = 1 and its peak: the factor makes the pull independent of T only at high temperature.",
          f"With the T² factor the soft gradient's norm changes by less than {MODERATE_GROWTH:g} times from T = 1 "
          "to its peak.", _T2_exact_only_asymptotically),
    Claim("ch01.high_t_gap_shrinks_as_inverse_t",
          f"At high temperature T²·KL tends to logit matching: the relative gradient gap shrinks like 1/T "
          f"(log-log slope within {SLOPE_TOLERANCE:g} of −1).",
          f"The relative gradient gap between T²·KL and logit matching does not shrink like 1/T (slope not "
          f"within {SLOPE_TOLERANCE:g} of −1).",
          _slope_near("limit_slope", PAPER["limit_slope"]), source="paper"),
    Claim("ch01.student_less_accurate_than_teacher",
          "The one-epoch student is clearly less accurate than the teacher, so it has something left to learn from it.",
          "The one-epoch student is not clearly less accurate than the teacher.",
          _student_below_teacher),
    Claim("ch01.temperature_keeps_the_ranking",
          "Raising the temperature never changes which class the teacher ranks first.",
          "Raising the temperature changes the teacher's top class on some example.",
          _ranking_kept),
    Claim("ch01.soft_targets_flatten_with_t",
          "The entropy of the soft targets and their mass off the top class both rise at every step of T.",
          "The entropy or the off-top mass of the soft targets does not rise at every step of T.",
          _soft_targets_flatten),
    Claim("ch01.soft_term_drowned_without_t2",
          f"At T = {DROWNED_T:g}, without the T² factor, the soft term's gradient is less than a tenth of the "
          f"hard-label term's.",
          f"At T = {DROWNED_T:g}, without the T² factor, the soft term's gradient is at least a tenth of the "
          f"hard-label term's.",
          _soft_term_drowned),
    Claim("ch01.logit_matching_differs_at_common_t",
          f"At the temperatures commonly used ({COMMON_TEMPERATURES[0]:g} to {COMMON_TEMPERATURES[1]:g}) "
          f"distillation's gradient differs from logit matching's by more than 10%.",
          f"At some temperature between {COMMON_TEMPERATURES[0]:g} and {COMMON_TEMPERATURES[1]:g} distillation's "
          f"gradient is within 10% of logit matching's.",
          _differs_at_common_T),
    Claim("ch01.mean_reduction_divides_by_classes",
          "PyTorch's reduction='mean' makes the soft term smaller by exactly the number of classes.",
          "PyTorch's reduction='mean' does not shrink the soft term by exactly the number of classes.",
          _reduction_ratio),
    Claim("ch01.kd_loss_is_batchmean",
          "The library's kd_loss equals the batchmean KL divergence times T².",
          "The library's kd_loss differs from the batchmean KL divergence times T².",
          _kd_loss_is_batchmean),
)
