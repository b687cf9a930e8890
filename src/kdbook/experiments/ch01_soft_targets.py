"""Chapter 1, soft targets and temperature: the analyses, on logits of a trained teacher.

The trained part is small: a teacher MLP and an under-trained small student give concrete
logits on held-out images (stored as a result); everything else is computed from those
logits on the page, in milliseconds.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .. import losses, metrics
from ..data import load_dataset
from ..models import ModelConfig
from ..profiles import get_profile
from ..store import StoredResult
from ..train import TrainConfig, predict_logits
from .common import Part, run_parts, trained_model

TITLE = "Soft targets and temperature"
NOTEBOOK = "ch01_soft_targets.ipynb"


@dataclass(frozen=True)
class Settings:
    """What chapter 1 trains to obtain its logits."""

    dataset: str
    teacher: ModelConfig
    teacher_train: TrainConfig
    student: ModelConfig
    student_train: TrainConfig
    n_examples: int
    seeds: tuple[int, ...]
    temperatures: tuple[float, ...] = (1, 2, 3, 5, 10, 20, 50, 100)
    train_limit: int | None = None
    version: int = 1  # bump when the computation changes meaning


_T_GRID = (1, 1.5, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 200)

SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        dataset="digits",
        teacher=ModelConfig("mlp", (64, 64), dropout=0.1),
        teacher_train=TrainConfig(epochs=15, batch_size=64, lr=0.05, augment="jitter", augment_px=1),
        student=ModelConfig("mlp", (16,)),
        student_train=TrainConfig(epochs=1, batch_size=64, lr=0.02),
        n_examples=64,
        seeds=(0,),
        temperatures=_T_GRID,
    ),
    "full": Settings(
        dataset="fashion-mnist",
        teacher=ModelConfig("mlp", (1200, 1200), dropout=0.3),
        teacher_train=TrainConfig(epochs=12, batch_size=128, lr=0.05, augment="jitter", augment_px=2),
        student=ModelConfig("mlp", (30,)),
        student_train=TrainConfig(epochs=1, batch_size=128, lr=0.01),
        n_examples=300,
        seeds=(0, 1, 2),
        temperatures=_T_GRID,
    ),
    "paper": Settings(
        dataset="mnist",
        teacher=ModelConfig("mlp", (1200, 1200), dropout=0.3),
        teacher_train=TrainConfig(epochs=30, batch_size=128, lr=0.05, augment="jitter", augment_px=2),
        student=ModelConfig("mlp", (30,)),
        student_train=TrainConfig(epochs=1, batch_size=128, lr=0.01),
        n_examples=1000,
        seeds=(0, 1, 2),
        temperatures=_T_GRID,
    ),
}


def settings(profile: str) -> Settings:
    """Chapter 1's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


def _compute_logits(s: Settings, device: str) -> dict:
    ds = load_dataset(s.dataset, device=device, train_limit=s.train_limit)
    # A fixed, seeded sample of test images shared by all seeds.
    pick = torch.randperm(len(ds.test), generator=torch.Generator().manual_seed(1234))[: s.n_examples].sort().values
    x, y = ds.test.x[pick.to(device)], ds.test.y[pick.to(device)]
    per_seed = []
    for seed in s.seeds:
        made = {role: trained_model(f"ch01-{role}", ds, s.dataset, mcfg, tcfg, seed, device=device,
                                    train_limit=s.train_limit)
                for role, mcfg, tcfg in (("teacher", s.teacher, s.teacher_train),
                                         ("student", s.student, s.student_train))}
        t_test = metrics.summary(torch.softmax(predict_logits(made["teacher"], ds.test.x), -1), ds.test.y)
        s_test = metrics.summary(torch.softmax(predict_logits(made["student"], ds.test.x), -1), ds.test.y)
        per_seed.append({
            "seed": seed,
            "teacher_test": t_test,
            "student_test": s_test,
            "teacher_logits": predict_logits(made["teacher"], x).cpu().round(decimals=4),
            "student_logits": predict_logits(made["student"], x).cpu().round(decimals=4),
        })
    return {"labels": y.cpu(), "class_names": list(ds.class_names), "dataset": ds.describe(),
            "per_seed": per_seed}


PARTS = (Part("ch01-logits", _compute_logits, tuple(f.name for f in dataclasses.fields(Settings))),)


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False) -> dict[str, StoredResult]:
    """Train (or load) chapter 1's teacher and student and store their logits."""
    s = settings(profile)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.seeds)


def logits_of(result: StoredResult, seed_index: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(teacher logits, student logits, labels) of one seed as float64 tensors."""
    entry = result.value["per_seed"][seed_index]
    return (torch.tensor(entry["teacher_logits"], dtype=torch.float64),
            torch.tensor(entry["student_logits"], dtype=torch.float64),
            torch.tensor(result.value["labels"]))


# ------------------------------------------------------------------------------------ analyses
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


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats of each row."""
    return -torch.xlogy(probs, probs).sum(-1)


def entropy_curve(logits: torch.Tensor, temperatures) -> np.ndarray:
    """Mean entropy of the soft targets at each temperature."""
    return np.array([entropy(losses.soften(logits, T)).mean().item() for T in temperatures])


def dark_mass_curve(logits: torch.Tensor, temperatures) -> np.ndarray:
    """Mean probability placed on classes other than the arg-max, at each temperature."""
    return np.array([(1 - losses.soften(logits, T).max(-1).values).mean().item() for T in temperatures])


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


def autograd_check(student_logits, teacher_logits, temperatures) -> pd.DataFrame:
    """Largest |autograd - (q - p)/T| of the soft cross-entropy, per temperature."""
    rows = []
    for T in temperatures:
        g = soft_loss_grad(student_logits, teacher_logits, T,
                           loss=lambda z, v, T: losses.soft_cross_entropy(z, losses.soften(v, T), T))
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
    g_mse = soft_loss_grad(student_logits, teacher_logits, 1.0,
                           loss=lambda z, v, T: losses.logit_matching_loss(z, v))
    mse = losses.logit_matching_loss(student_logits, teacher_logits).item()
    rows = []
    for T in temperatures:
        g = soft_loss_grad(student_logits, teacher_logits, T, scale_T2=True)
        kd = losses.kd_loss(student_logits, teacher_logits, T).item()
        rows.append({"T": T,
                     "grad_rel_error": ((g - g_mse).norm() / g_mse.norm()).item(),
                     "kd_T2": kd, "logit_mse": mse, "loss_ratio": kd / mse})
    return pd.DataFrame(rows)


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


def seed_summary(result: StoredResult, fn, *args) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds of ``fn(teacher, student, *args)`` (an array)."""
    vals = []
    for i in range(len(result.value["per_seed"])):
        t, s, _ = logits_of(result, i)
        vals.append(np.asarray(fn(t, s, *args), dtype=float))
    arr = np.stack(vals)
    return arr.mean(0), arr.std(0, ddof=1) if len(arr) > 1 else np.zeros_like(arr[0])


def seed_table(result: StoredResult) -> pd.DataFrame:
    """Test accuracy of the teacher and of the (deliberately under-trained) student, per seed."""
    rows = [{"seed": e["seed"], "teacher accuracy": e["teacher_test"]["accuracy"],
             "teacher errors": e["teacher_test"]["errors"], "student accuracy": e["student_test"]["accuracy"]}
            for e in result.value["per_seed"]]
    return pd.DataFrame(rows).set_index("seed")


def headline_numbers(result: StoredResult, temperatures, high_T_from: float = 5.0) -> dict[str, float]:
    """The chapter's claims as numbers, each the mean (and std) over seeds."""
    Ts = np.asarray(temperatures, dtype=float)
    high = Ts >= high_T_from
    per_seed: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        per_seed.setdefault(key, []).append(float(value))

    for i in range(len(result.value["per_seed"])):
        t, s, _ = logits_of(result, i)
        norms = gradient_norms(s, t, Ts)
        lim = high_temperature_limit(s, t, Ts)
        add("autograd_max_abs_diff", autograd_check(s, t, Ts)["max_abs_diff"].max())
        add("slope_without_T2", loglog_slope(Ts[high], norms["without_T2"][high]))
        add("slope_with_T2", loglog_slope(Ts[high], norms["with_T2"][high]))
        add("with_T2_max_over_min", norms["with_T2"].max() / norms["with_T2"].min())
        add("without_T2_max_over_min", norms["without_T2"].max() / norms["without_T2"].min())
        add("limit_slope", loglog_slope(Ts[high], lim["grad_rel_error"][high]))
        for T in (1, 10, 100):
            row = lim[lim["T"] == T]
            if len(row):
                add(f"rel_error_T{T}", row["grad_rel_error"].iloc[0])
        add("reduction_ratio", reduction_pitfall(s, t, 4.0)["ratio"])
        add("T_gap_10pct", crossing_temperature(Ts, lim["grad_rel_error"].to_numpy(), 0.1))
    out: dict[str, float] = {}
    for key, vals in per_seed.items():
        arr = np.asarray(vals)
        out[key] = float(arr.mean())
        out[key + "_std"] = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
    out["n_seeds"] = len(result.value["per_seed"])
    return out


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


def ours_vs_paper(h: dict[str, float]) -> pd.DataFrame:
    """Closing table: each statement of Hinton et al. (2015, section 2) beside our measurement."""
    def pm(k: str, fmt: str) -> str:
        return f"{h[k]:{fmt}} ± {h[k + '_std']:{fmt}}" if h["n_seeds"] > 1 else f"{h[k]:{fmt}}"

    rows = [
        ("dC/dz_i = (q_i - p_i) / T", "derived (eq. 2)",
         f"largest |autograd - formula| = {h['autograd_max_abs_diff']:.1e}"),
        ("soft-target gradients scale as 1/T^2", "stated",
         f"log-log slope of the gradient norm vs T (T ≥ 5): {pm('slope_without_T2', '.3f')}"),
        ("multiplying by T^2 keeps gradient sizes comparable", "stated",
         f"max/min gradient norm over T in [1, 200]: {pm('with_T2_max_over_min', '.2f')} with T^2, "
         f"{pm('without_T2_max_over_min', '.3g')} without"),
        ("high-T limit = matching zero-mean logits", "derived (eq. 4)",
         f"relative gradient gap {pm('rel_error_T10', '.3g')} at T=10, {pm('rel_error_T100', '.2g')} at T=100 "
         f"(slope {pm('limit_slope', '.2f')})"),
        ("KL averaged over the batch only", "implicit",
         f"reduction='mean' is {pm('reduction_ratio', '.1f')} times smaller (the number of classes)"),
    ]
    return pd.DataFrame(rows, columns=["claim", "paper", f"ours (mean ± std over {h['n_seeds']} seeds)" if h["n_seeds"] > 1 else "ours (1 seed)"])
