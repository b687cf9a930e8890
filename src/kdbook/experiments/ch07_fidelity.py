"""Chapter 7, does knowledge distillation really work? Fidelity vs generalisation (Stanton et al. 2021).

Four stored results:

* ``ch07-teachers``: students of the teachers' architecture distilled from ensembles of 1, 3 and
  5 members (pure distillation, tau = 4 and tau = 1), with accuracy, ECE, and fidelity (top-1
  agreement, KL(teacher || student) at T = 1) on the training data and on the test split;
* ``ch07-augmentation``: the same student and a one-member teacher with different augmentation
  policies for the distillation data (none, crop + flip, mixup labelled by the teacher,
  rotation, noise);
* ``ch07-epochs``: train agreement after every epoch of a long run, with SGD and with Adam, on a
  reduced transfer set;
* ``ch07-init``: students initialised at lambda * teacher + (1 - lambda) * random before
  distillation, for several lambda.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .. import metrics
from .. import validate as v
from ..data import Dataset, Split, load_dataset
from ..models import ModelConfig, build_model, interpolate_weights
from ..profiles import get_profile
from ..store import StoredResult
from ..teachers import Ensemble
from ..augment import POLICIES as AUGMENTATIONS
from ..train import DistillConfig, TrainConfig, predict_logits, predict_probs
from .common import Interpolated, Part, TeacherAgreement, compare, run_parts, trained_members, trained_model, trained_run

TITLE = "Does distillation really work? Fidelity vs generalisation"
NOTEBOOK = "ch07_fidelity.ipynb"

#: Stanton et al. (2021): CIFAR-100, pre-activation ResNet-56, tau = 4, pure distillation (%).
PAPER = {
    "test_agreement_mixup": 86.0,
    "test_agreement_crop_flip": 84.5,
    "train_agreement_300_epochs": 78.95,
    "train_agreement_5000_epochs": 83.3,
    "lambda_jump": 0.375,
}
#: Stanton et al. (2021), ImageNet, teachers of 1 / 3 / 5 members: test agreement (%) and KL.
PAPER_IMAGENET = {1: (85.5, 0.217), 3: (87.8, 0.157), 5: (88.4, 0.142)}
#: The paper's kinds of augmentation policy, in the order the chapter shows them.
POLICIES = ("none", "crop_flip", "mixup", "rotate", "noise")


@dataclass(frozen=True)
class Settings:
    """Chapter 7 for one profile.

    The teachers' members are cached under ``teacher_kind``; in ``full`` that is chapter 5's
    CNN members (same dataset, model and training), so the two chapters share them. Member j of
    the teacher of seed index i has seed ``100 + teacher_seed_stride * i + j``.
    """

    dataset: str
    train_limit: int | None
    teacher_kind: str
    model: ModelConfig
    teacher_train: TrainConfig
    teacher_sizes: tuple[int, ...]
    teacher_seed_stride: int
    seeds: tuple[int, ...]
    #: the students' optimisation, augmentation included (the paper's baseline is crop + flip)
    student_train: TrainConfig
    temperatures: tuple[float, ...]
    policies: tuple[str, ...]
    #: members of the teacher in the augmentation comparison
    policy_teacher: int
    #: transfer set of the optimisation experiments: this many training images, no augmentation
    opt_subset: int
    #: one long run per optimiser (their ``optimizer`` names them) for the epochs curve
    opt_runs: tuple[TrainConfig, ...]
    lambdas: tuple[float, ...]
    lambda_train: TrainConfig
    version: int = 1

    def __post_init__(self) -> None:
        v.raise_if([
            v.seeds("seeds", self.seeds),
            None if len(self.seeds) >= 2 else "seeds must hold at least 2 seeds",
            None if self.teacher_sizes and all(isinstance(k, int) and k >= 1 for k in self.teacher_sizes)
            else f"teacher_sizes must be integers >= 1, got {self.teacher_sizes!r}",
            None if 1 in self.teacher_sizes else "teacher_sizes must include 1 (the self-distillation teacher)",
            v.positive_int("teacher_seed_stride", self.teacher_seed_stride),
            None if max(self.teacher_sizes, default=1) <= self.teacher_seed_stride
            else "teacher_seed_stride must be at least the largest teacher size (seeds would overlap)",
            None if self.temperatures and all(isinstance(t, (int, float)) and t > 0 for t in self.temperatures)
            else f"temperatures must be positive numbers, got {self.temperatures!r}",
            None if self.policies and set(self.policies) <= set(AUGMENTATIONS)
            else f"policies must be among {sorted(AUGMENTATIONS)}, got {self.policies!r}",
            None if self.policy_teacher in self.teacher_sizes else "policy_teacher must be one of teacher_sizes",
            v.positive_int("opt_subset", self.opt_subset),
            None if self.opt_runs and all(c.augment == "none" for c in self.opt_runs)
            else "opt_runs must be non-empty and without augmentation (train agreement is measured on the transfer set)",
            None if len({c.optimizer for c in self.opt_runs}) == len(self.opt_runs)
            else "opt_runs must use different optimizers",
            None if self.lambdas and all(isinstance(x, (int, float)) and 0 <= x <= 1 for x in self.lambdas)
            else f"lambdas must lie in [0, 1], got {self.lambdas!r}",
            None if self.lambda_train.augment == "none" else "lambda_train must not augment",
        ], "ch07 settings")

    def member_seeds(self, i: int) -> list[int]:
        """Seeds of the members available to the teachers of seed index ``i``."""
        return [100 + self.teacher_seed_stride * i + j for j in range(max(self.teacher_sizes))]

    def student_seed(self, i: int) -> int:
        """Seed of the students of seed index ``i`` (the same for every teacher: paired comparisons)."""
        return 1000 + self.seeds[i]


_CNN_ADAM = TrainConfig(epochs=10, batch_size=128, lr=0.003, optimizer="adam")

SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        dataset="digits", train_limit=None, teacher_kind="ch07-member", model=ModelConfig("cnn", (8, 16)),
        teacher_train=TrainConfig(epochs=10, batch_size=64, lr=0.01, optimizer="adam"),
        teacher_sizes=(1, 3), teacher_seed_stride=3, seeds=(0, 1),
        student_train=TrainConfig(epochs=8, batch_size=64, lr=0.01, optimizer="adam", augment="crop_flip", augment_px=1),
        temperatures=(4.0, 1.0), policies=POLICIES, policy_teacher=1, opt_subset=400,
        opt_runs=(TrainConfig(epochs=10, batch_size=64, lr=0.01, optimizer="adam"),
                  TrainConfig(epochs=10, batch_size=64, lr=0.02, optimizer="sgd")),
        lambdas=(0.0, 0.375, 1.0), lambda_train=TrainConfig(epochs=5, batch_size=64, lr=0.01, optimizer="adam")),
    # Fashion-MNIST, 10,000 training images, chapter 5's CNN members as teachers (shared cache).
    # Students: the members' recipe, 12 epochs; crop + flip (2 px) as the paper's baseline policy.
    # SGD's learning rate was picked on the validation split (see the chapter).
    "full": Settings(
        dataset="fashion-mnist", train_limit=10_000, teacher_kind="ch05-deep-member",
        model=ModelConfig("cnn", (16, 32, 64)), teacher_train=_CNN_ADAM,
        teacher_sizes=(1, 3, 5), teacher_seed_stride=10, seeds=(0, 1, 2),
        student_train=TrainConfig(epochs=12, batch_size=128, lr=0.003, optimizer="adam", augment="crop_flip",
                                  augment_px=2),
        temperatures=(4.0, 1.0), policies=POLICIES, policy_teacher=1, opt_subset=2000,
        opt_runs=(TrainConfig(epochs=100, batch_size=128, lr=0.003, optimizer="adam"),
                  TrainConfig(epochs=100, batch_size=128, lr=0.02, optimizer="sgd")),
        lambdas=(0.0, 0.25, 0.375, 0.5, 0.75, 1.0),
        lambda_train=TrainConfig(epochs=20, batch_size=128, lr=0.003, optimizer="adam")),
    # Stanton et al.: CIFAR-100, pre-activation ResNet-56, SGD, crop + flip, 300 epochs.
    "paper": Settings(
        dataset="cifar100", train_limit=None, teacher_kind="ch07-member",
        model=ModelConfig("resnet", (16, 32, 64), depth=56),
        teacher_train=TrainConfig(epochs=300, batch_size=128, lr=0.1, weight_decay=5e-4, augment="crop_flip", augment_px=4),
        teacher_sizes=(1, 3, 5), teacher_seed_stride=10, seeds=(0, 1, 2),
        student_train=TrainConfig(epochs=300, batch_size=128, lr=0.1, weight_decay=5e-4, augment="crop_flip",
                                  augment_px=4),
        temperatures=(4.0, 1.0), policies=POLICIES, policy_teacher=1, opt_subset=50_000,
        opt_runs=(TrainConfig(epochs=1000, batch_size=128, lr=0.1, weight_decay=5e-4),
                  TrainConfig(epochs=1000, batch_size=128, lr=0.001, optimizer="adam")),
        lambdas=(0.0, 0.25, 0.375, 0.5, 0.75, 1.0),
        lambda_train=TrainConfig(epochs=300, batch_size=128, lr=0.1, weight_decay=5e-4)),
}


def settings(profile: str) -> Settings:
    """Chapter 7's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


# ------------------------------------------------------------------------------ computations
def _dataset(s: Settings, device: str) -> Dataset:
    return load_dataset(s.dataset, device=device, train_limit=s.train_limit)


def _members(s: Settings, ds: Dataset, device: str) -> list[list]:
    """The teachers' members, per seed index (all trained, or loaded, up front)."""
    seeds = [seed for i in range(len(s.seeds)) for seed in s.member_seeds(i)]
    flat = trained_members(s.teacher_kind, ds, s.dataset, s.model, s.teacher_train, seeds, device=device,
                           train_limit=s.train_limit)
    n = max(s.teacher_sizes)
    return [flat[i * n:(i + 1) * n] for i in range(len(s.seeds))]


def fidelity_row(student_probs: dict[str, torch.Tensor], teacher_probs: dict[str, torch.Tensor],
                 ds: Dataset) -> dict[str, float]:
    """Test accuracy, NLL and ECE of the student, and its fidelity to the teacher (agreement and
    KL(teacher || student) at T = 1) on the training data and on the test split."""
    test = metrics.summary(student_probs["test"], ds.test.y)
    row = {"accuracy": test["accuracy"], "nll": test["nll"], "ece": test["ece"]}
    for split in ("train", "test"):
        row[f"{split}_agreement"] = metrics.agreement(teacher_probs[split], student_probs[split])
        row[f"{split}_kl"] = metrics.kl_teacher_student(teacher_probs[split], student_probs[split])
    return row


def _probs(model, ds: Dataset) -> dict[str, torch.Tensor]:
    return {"train": predict_probs(model, ds.train.x), "test": predict_probs(model, ds.test.x)}


def _student(s: Settings, ds: Dataset, kind: str, teacher: Ensemble, T: float, cfg: TrainConfig, seed: int,
             device: str):
    return trained_model(kind, ds, s.dataset, s.model, cfg, seed, device=device, train_limit=s.train_limit,
                         objective=DistillConfig(T=T), teacher=teacher)


def _teachers_part(s: Settings, device: str) -> dict:
    ds = _dataset(s, device)
    members = _members(s, ds, device)
    teachers, students = [], []
    for i, seed in enumerate(s.seeds):
        for size in s.teacher_sizes:
            teacher = Ensemble(members[i][:size])
            t_probs = _probs(teacher, ds)
            t_sum = metrics.summary(t_probs["test"], ds.test.y)
            teachers.append({"seed": seed, "members": size, "accuracy": t_sum["accuracy"], "nll": t_sum["nll"],
                             "ece": t_sum["ece"], "train_accuracy": metrics.accuracy(t_probs["train"], ds.train.y)})
            for T in s.temperatures:
                student = _student(s, ds, "ch07-student", teacher, T, s.student_train, s.student_seed(i), device)
                students.append({"seed": seed, "members": size, "T": T,
                                 **fidelity_row(_probs(student, ds), t_probs, ds)})
    return {"dataset": ds.describe(), "teachers": teachers, "students": students}


def _with_augment(cfg: TrainConfig, policy: str) -> TrainConfig:
    return TrainConfig(**{**cfg.__dict__, "augment": policy})


def _augmentation_part(s: Settings, device: str) -> dict:
    ds = _dataset(s, device)
    members = _members(s, ds, device)
    rows = []
    T = s.temperatures[0]
    for i, seed in enumerate(s.seeds):
        teacher = Ensemble(members[i][:s.policy_teacher])
        t_probs = _probs(teacher, ds)
        for policy in s.policies:
            student = _student(s, ds, "ch07-student", teacher, T, _with_augment(s.student_train, policy),
                               s.student_seed(i), device)
            rows.append({"seed": seed, "policy": policy, **fidelity_row(_probs(student, ds), t_probs, ds)})
    return {"dataset": ds.describe(), "T": T, "teacher_members": s.policy_teacher, "rows": rows}


def _optimisation_setup(s: Settings, device: str) -> tuple[Dataset, list[list], Split, DistillConfig]:
    """Data, members, the reduced transfer set (first ``opt_subset`` training images) and the
    distillation config of the optimisation experiments."""
    ds = _dataset(s, device)
    n = min(s.opt_subset, len(ds.train))
    subset = ds.train.subset(torch.arange(n, device=ds.train.x.device))
    return ds, _members(s, ds, device), subset, DistillConfig(T=s.temperatures[0])


def _epochs_part(s: Settings, device: str) -> dict:
    """One long run per optimiser and seed, distilling the one-member teacher on the transfer subset."""
    ds, members, subset, dcfg = _optimisation_setup(s, device)
    curves, rows = [], []
    for i, seed in enumerate(s.seeds):
        teacher = members[i][0]
        t_sub, t_test = predict_probs(teacher, subset.x), predict_probs(teacher, ds.test.x)
        for cfg in s.opt_runs:
            student, history = trained_run(
                "ch07-long", ds, s.dataset, s.model, cfg, s.student_seed(i), device=device,
                train_limit=s.train_limit, objective=dcfg, teacher=teacher, train_split=subset,
                monitor=TeacherAgreement(teacher, subset))
            epochs = history["epochs"]
            curves.append({"seed": seed, "optimizer": cfg.optimizer,
                           "epoch": [e["epoch"] for e in epochs],
                           "train_agreement": [e["train_agreement"] for e in epochs],
                           "loss": [e["loss"] for e in epochs]})
            s_test = predict_probs(student, ds.test.x)
            rows.append({"seed": seed, "optimizer": cfg.optimizer, "epochs": cfg.epochs, "lr": cfg.lr,
                         "train_agreement": metrics.agreement(t_sub, predict_probs(student, subset.x)),
                         "train_kl": metrics.kl_teacher_student(t_sub, predict_probs(student, subset.x)),
                         "test_agreement": metrics.agreement(t_test, s_test),
                         "accuracy": metrics.accuracy(s_test, ds.test.y)})
    return {"dataset": ds.describe(), "subset": len(subset), "T": dcfg.T, "curves": curves, "rows": rows}


def _init_part(s: Settings, device: str) -> dict:
    """Students started at lambda * teacher + (1 - lambda) * random, then distilled on the transfer subset."""
    ds, members, subset, dcfg = _optimisation_setup(s, device)
    rows = []
    for i, seed in enumerate(s.seeds):
        teacher = members[i][0]
        t_sub, t_test = predict_probs(teacher, subset.x), predict_probs(teacher, ds.test.x)
        for lam in s.lambdas:
            init = Interpolated(teacher, lam)
            before = init.build(s.model, ds, s.student_seed(i))
            student = trained_model(
                "ch07-init", ds, s.dataset, s.model, s.lambda_train, s.student_seed(i), device=device,
                train_limit=s.train_limit, objective=dcfg, teacher=teacher, train_split=subset, init=init)
            s_sub, s_test = predict_probs(student, subset.x), predict_probs(student, ds.test.x)
            rows.append({"seed": seed, "lambda": lam,
                         "initial_train_agreement": metrics.agreement(t_sub, predict_probs(before, subset.x)),
                         "train_agreement": metrics.agreement(t_sub, s_sub),
                         "test_agreement": metrics.agreement(t_test, s_test),
                         "train_kl": metrics.kl_teacher_student(t_sub, s_sub),
                         "accuracy": metrics.accuracy(s_test, ds.test.y),
                         "teacher_accuracy": metrics.accuracy(t_test, ds.test.y)})
    return {"dataset": ds.describe(), "subset": len(subset), "T": dcfg.T, "rows": rows}


# What each part reads (member_seeds() reads teacher_seed_stride).
_TEACHERS = ("version", "dataset", "train_limit", "model", "teacher_kind", "teacher_train", "teacher_sizes",
             "teacher_seed_stride", "seeds", "temperatures")
PARTS = (Part("ch07-teachers", _teachers_part, (*_TEACHERS, "student_train")),
         Part("ch07-augmentation", _augmentation_part, (*_TEACHERS, "student_train", "policies", "policy_teacher")),
         Part("ch07-epochs", _epochs_part, (*_TEACHERS, "opt_subset", "opt_runs")),
         Part("ch07-init", _init_part, (*_TEACHERS, "opt_subset", "lambdas", "lambda_train")))


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False) -> dict[str, StoredResult]:
    """Train (or load) chapter 7's teachers and students and store the measurements."""
    s = settings(profile)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.seeds)


# ------------------------------------------------------------------------------ analyses
_PCT = ("accuracy", "train_agreement", "test_agreement")


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


def teacher_table(result: StoredResult) -> pd.DataFrame:
    """Teachers of 1/3/5 members: test accuracy (%) and ECE, mean and std over seeds."""
    df = _percent(pd.DataFrame(result.value["teachers"]))
    return _mean_std(df, ["members"], ["accuracy", "ece"])


def student_table(result: StoredResult) -> pd.DataFrame:
    """Students per (teacher members, T): accuracy, agreement and KL on train and test, ECE;
    mean and std over seeds; the teacher's accuracy and ECE beside them."""
    df = _percent(pd.DataFrame(result.value["students"]))
    out = _mean_std(df, ["members", "T"], ["accuracy", "train_agreement", "test_agreement", "train_kl", "test_kl",
                                           "ece"])
    teachers = teacher_table(result)
    out.insert(0, "teacher accuracy", [teachers.loc[m, "accuracy"] for m, _ in out.index])
    out.insert(1, "teacher ece", [teachers.loc[m, "ece"] for m, _ in out.index])
    return out


def augmentation_table(result: StoredResult) -> pd.DataFrame:
    """Per policy: test and train agreement, test KL, accuracy and ECE, with the paper's test agreement."""
    df = _percent(pd.DataFrame(result.value["rows"]))
    out = _mean_std(df, ["policy"], ["test_agreement", "train_agreement", "test_kl", "accuracy", "ece"])
    paper = {"mixup": PAPER["test_agreement_mixup"], "crop_flip": PAPER["test_agreement_crop_flip"]}
    out["paper test agreement"] = [paper.get(p, np.nan) for p in out.index]
    return out


def epochs_curves(result: StoredResult) -> dict[str, np.ndarray]:
    """Train agreement (%) per epoch, mean over seeds, per optimiser (plus 'epoch')."""
    curves = pd.DataFrame(result.value["curves"])
    out: dict[str, np.ndarray] = {}
    for opt, g in curves.groupby("optimizer", sort=False):
        out[opt] = 100 * np.mean(np.stack([np.asarray(c) for c in g["train_agreement"]]), axis=0)
        out["epoch"] = np.asarray(g["epoch"].iloc[0])
    return out


def epochs_table(result: StoredResult) -> pd.DataFrame:
    """Per optimiser, at the end of the long run: train and test agreement, train KL, accuracy."""
    df = _percent(pd.DataFrame(result.value["rows"]))
    return _mean_std(df, ["optimizer"], ["train_agreement", "test_agreement", "train_kl", "accuracy"])


def init_table(result: StoredResult) -> pd.DataFrame:
    """Per lambda: agreement at initialisation and after distillation (train, test), accuracy."""
    df = pd.DataFrame(result.value["rows"])
    df["initial_train_agreement"] *= 100
    df = _percent(df)
    return _mean_std(df, ["lambda"], ["initial_train_agreement", "train_agreement", "test_agreement", "train_kl",
                                      "accuracy"])


def scatter_points(results: dict[str, StoredResult], baseline_policy: str = "crop_flip") -> pd.DataFrame:
    """Every distinct student with its test agreement (%), ECE and accuracy, labelled by its source.
    The augmentation comparison's ``baseline_policy`` students are the teacher-of-1, T = 4 students
    of the main table (same cache entries), so they are listed once."""
    rows = []
    for r in results["teachers"].value["students"]:
        rows.append({"source": f"teacher of {r['members']}, T={r['T']:g}", "test_agreement": 100 * r["test_agreement"],
                     "ece": r["ece"], "accuracy": 100 * r["accuracy"]})
    for r in results["augmentation"].value["rows"]:
        if r["policy"] == baseline_policy:
            continue
        rows.append({"source": f"policy {r['policy']}", "test_agreement": 100 * r["test_agreement"], "ece": r["ece"],
                     "accuracy": 100 * r["accuracy"]})
    return pd.DataFrame(rows)


def condition_means(results: dict[str, StoredResult]) -> pd.DataFrame:
    """Mean test agreement and test accuracy (%) of every distinct condition of the chapter
    (teacher and T; policy; optimiser of the long runs; lambda)."""
    frames = [student_table(results["teachers"]).reset_index().assign(
                  condition=lambda d: "teacher of " + d["members"].astype(str) + ", T=" + d["T"].map("{:g}".format)),
              augmentation_table(results["augmentation"]).reset_index().assign(
                  condition=lambda d: "policy " + d["policy"]),
              epochs_table(results["epochs"]).reset_index().assign(condition=lambda d: "long run, " + d["optimizer"]),
              init_table(results["init"]).reset_index().assign(
                  condition=lambda d: "lambda " + d["lambda"].map("{:g}".format))]
    out = pd.concat([f[["condition", "test_agreement", "accuracy"]] for f in frames], ignore_index=True)
    return out.drop_duplicates("condition").set_index("condition")


def lambda_jump(result: StoredResult, threshold: float = 99.0) -> float | None:
    """The smallest lambda whose mean train agreement after distillation reaches ``threshold`` %
    (None if none does)."""
    t = init_table(result)
    hits = [lam for lam, a in t["train_agreement"].items() if a >= threshold]
    return float(min(hits)) if hits else None


def headline(results: dict[str, StoredResult]) -> dict[str, float | str]:
    """The chapter's numbers for the prose."""
    st = student_table(results["teachers"])
    out: dict[str, float] = {}
    for (m, T), row in st.iterrows():
        key = f"m{m}_T{T:g}"
        for col in ("accuracy", "train_agreement", "test_agreement", "test_kl", "train_kl", "ece"):
            out[f"{key}_{col}"] = float(row[col])
            out[f"{key}_{col}_std"] = float(row[f"{col} std"])
        out[f"{key}_teacher_accuracy"] = float(row["teacher accuracy"])
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
    ep = epochs_table(results["epochs"])
    curves = epochs_curves(results["epochs"])
    for opt, row in ep.iterrows():
        for col in ("train_agreement", "test_agreement", "accuracy"):
            out[f"ep_{opt}_{col}"] = float(row[col])
            out[f"ep_{opt}_{col}_std"] = float(row[f"{col} std"])
        c = curves[opt]
        out[f"ep_{opt}_train_agreement_at_tenth"] = float(c[max(len(c) // 10 - 1, 0)])
    out["ep_epochs"] = float(len(curves["epoch"]))
    it = init_table(results["init"])
    for lam, row in it.iterrows():
        for col in ("initial_train_agreement", "train_agreement", "test_agreement", "accuracy"):
            out[f"init_{lam:g}_{col}"] = float(row[col])
    jump = lambda_jump(results["init"])
    out["init_jump"] = float("nan") if jump is None else jump
    conditions = condition_means(results)
    out["conditions"] = float(len(conditions))
    out["agreement_accuracy_corr"] = (float(np.corrcoef(conditions["test_agreement"], conditions["accuracy"])[0, 1])
                                      if len(conditions) > 2 else float("nan"))
    pts = scatter_points(results)
    out["calibration_corr"] = float(np.corrcoef(pts["test_agreement"], pts["ece"])[0, 1]) if len(pts) > 2 else float("nan")
    out["calibration_points"] = float(len(pts))
    return out


def _pm(h: dict, key: str, digits: int = 1) -> str:
    std = h.get(f"{key}_std")
    return f"{h[key]:.{digits}f}%" + (f" (± {std:.{digits}f})" if std is not None and np.isfinite(std) else "")


def readings(h: dict, sizes: tuple[int, ...]) -> dict[str, str]:
    """The chapter's prose findings as sentences computed from the numbers (comparisons by the
    book's cautious rule), so the text stays true for whatever a run measured."""
    T0 = 4
    out: dict[str, str] = {}
    k = "m1_T4"
    out["reading_m1"] = (
        f"With a teacher of one network (self-distillation), the student reaches {_pm(h, f'{k}_accuracy')} test "
        f"accuracy against its teacher's {h[f'{k}_teacher_accuracy']:.1f}%: it is "
        f"{relation(h, f'{k}_accuracy', f'{k}_teacher_accuracy')} its teacher. It agrees with the teacher on "
        f"{_pm(h, f'{k}_test_agreement')} of the test images and on {_pm(h, f'{k}_train_agreement')} of the "
        f"training images it was distilled on; KL(teacher || student) is {h[f'{k}_test_kl']:.3f} nats on test "
        f"and {h[f'{k}_train_kl']:.3f} on train.")
    beats = relation(h, f"{k}_accuracy", f"{k}_teacher_accuracy") == "higher than"
    out["reading_paper_m1"] = (
        f"As in the paper, the self-distilled student beats its teacher while disagreeing with it on "
        f"{100 - h[f'{k}_test_agreement']:.1f}% of the test images." if beats else
        f"Unlike in the paper, our self-distilled students do not beat their teacher (student minus teacher: "
        f"{h[f'{k}_gap']:+.1f} points) and disagree with it on {100 - h[f'{k}_test_agreement']:.1f}% of the test "
        f"images" + (", so here low fidelity comes with lower accuracy." if h[f"{k}_gap"] < 0 else "."))
    big = max(sizes)
    kb = f"m{big}_T4"
    out["reading_ensembles"] = (
        f"With a teacher of {big} networks (test accuracy {h[f'{kb}_teacher_accuracy']:.1f}%), the student reaches "
        f"{_pm(h, f'{kb}_accuracy')}, {relation(h, f'{kb}_accuracy', f'{kb}_teacher_accuracy')} its teacher, and "
        f"agrees with it on {_pm(h, f'{kb}_test_agreement')} of the test images: its test agreement is "
        f"{relation(h, f'{kb}_test_agreement', f'{k}_test_agreement')} that of the self-distilled student, and its "
        f"test KL is {h[f'{kb}_test_kl']:.3f} against {h[f'{k}_test_kl']:.3f}. The student's accuracy minus its "
        f"teacher's is {h[f'{k}_gap']:+.1f} points with one network and {h[f'{kb}_gap']:+.1f} with {big}.")
    if "m1_T1_accuracy" in h:
        parts = []
        for m in sizes:
            a, b = f"m{m}_T1_test_agreement", f"m{m}_T{T0}_test_agreement"
            parts.append(f"teacher of {m}: {h[a]:.1f}% vs {h[b]:.1f}% ({relation(h, a, b).replace(' from', '').replace(' than', '')})")
        out["reading_T"] = ("At T = 1 instead of T = 4, test agreement is, " + "; ".join(parts) +
                            ". (A comparison reads 'higher' or 'lower' only when the difference exceeds the two "
                            "standard deviations added.)")
    else:
        out["reading_T"] = ""
    aug_keys = sorted({key[len("aug_"):-len("_test_agreement")] for key in h
                       if key.startswith("aug_") and key.endswith("_test_agreement")})
    base = "aug_crop_flip_test_agreement"
    comps = [f"{p}: {h[f'aug_{p}_test_agreement']:.1f}% "
             f"({relation(h, f'aug_{p}_test_agreement', base).replace(' from', '').replace(' than', '')})"
             for p in aug_keys if p != "crop_flip"]
    best = h["aug_best_policy"]
    out["reading_aug"] = (
        f"Against the crop + flip baseline ({h[base]:.1f}% test agreement), the policies give " + "; ".join(comps) +
        f". The highest test agreement comes with '{best}' ({h['aug_best_policy_agreement']:.1f}%); in the paper it "
        f"came with mixup. " + (f"No policy brings the student close to the teacher: the best still disagrees on "
                                f"{100 - h['aug_best_policy_agreement']:.1f}% of the test images."
                                if h["aug_best_policy_agreement"] < 97 else
                                "With that policy the student comes close to its teacher."))
    eps = int(h["ep_epochs"])
    out["reading_epochs"] = (
        f"After {eps} epochs, SGD students agree with their teacher on {_pm(h, 'ep_sgd_train_agreement')} of the "
        f"training images and Adam students on {_pm(h, 'ep_adam_train_agreement')}: Adam is "
        f"{relation(h, 'ep_adam_train_agreement', 'ep_sgd_train_agreement')} SGD here (in the paper it was worse). "
        f"A tenth of the way in, train agreement was {h['ep_sgd_train_agreement_at_tenth']:.1f}% (SGD) and "
        f"{h['ep_adam_train_agreement_at_tenth']:.1f}% (Adam). Test agreement at the end: "
        f"{_pm(h, 'ep_sgd_test_agreement')} (SGD), {_pm(h, 'ep_adam_test_agreement')} (Adam). " +
        ("Even on the very images it is trained on, after a long run, the student does not reproduce its teacher."
         if max(h["ep_sgd_train_agreement"], h["ep_adam_train_agreement"]) < 99 else
         "On the images it is trained on, a long enough run does bring the student to its teacher."))
    lams = sorted(float(key[len("init_"):-len("_train_agreement")]) for key in h
                  if key.startswith("init_") and key.endswith("_train_agreement") and "initial" not in key)
    desc = "; ".join(f"λ = {lam:g}: {h[f'init_{lam:g}_train_agreement']:.1f}% "
                     f"(from {h[f'init_{lam:g}_initial_train_agreement']:.1f}% at the start)" for lam in lams)
    jump = h["init_jump"]
    steps = [(h[f"init_{b:g}_train_agreement"] - h[f"init_{a:g}_train_agreement"], a, b) for a, b in zip(lams, lams[1:])]
    step, a_, b_ = max(steps) if steps else (float("nan"), 0.0, 0.0)
    out["reading_init"] = (
        "Train agreement after distillation, by starting point: " + desc + ". " +
        (f"The smallest λ whose students reach 99% train agreement is {jump:g} (paper: a jump at 0.375)."
         if np.isfinite(jump) else "No λ below 1 brings the students to 99% train agreement (paper: from 0.375).") +
        f" The largest rise between neighbouring starting points is {step:.1f} points (λ = {a_:g} to {b_:g}). "
        f"Test agreement goes from {h[f'init_{lams[0]:g}_test_agreement']:.1f}% at λ = {lams[0]:g} to "
        f"{h[f'init_{lams[-1]:g}_test_agreement']:.1f}% at λ = {lams[-1]:g}.")
    corr = h["calibration_corr"]
    out["reading_calibration"] = (
        f"Across the {int(h['calibration_points'])} students the correlation between test agreement and ECE is "
        f"{corr:+.2f}. " + (("More faithful students tend to be " if abs(corr) >= 0.6 else
                             "There is a weak tendency for more faithful students to be ") +
                            ("better calibrated here." if corr < 0 else "worse calibrated here.")
                            if abs(corr) >= 0.3 else "Fidelity says little about calibration here."))
    r = h["agreement_accuracy_corr"]
    out["reading_together"] = (
        f"Across the {int(h['conditions'])} conditions of this chapter (teachers and temperatures, policies, long runs, "
        f"starting points), mean test agreement and mean test accuracy have a correlation of {r:+.2f}: " +
        ("here, whatever made the student more faithful also made it more accurate" +
         ("; the teachers are more accurate than their students, so moving towards them helps."
          if h[f"{k}_gap"] < 0 else ".") if r >= 0.6 else
         "here, fidelity and accuracy are only loosely related." if r >= 0 else
         "here, more faithful students were less accurate."))
    return out


def relation(h: dict, a: str, b: str) -> str:
    """'higher than', 'lower than' or 'indistinguishable from' between two headline numbers with
    stds (keys ``a``, ``a + '_std'``), by the book's cautious rule."""
    return compare(h[a], h.get(f"{a}_std", 0.0), h[b], h.get(f"{b}_std", 0.0))


def ours_vs_paper(h: dict, sizes: tuple[int, ...] = (1, 3, 5)) -> pd.DataFrame:
    """The paper's numbers and claims beside ours (agreement in %, KL in nats)."""
    rows = []
    for m in sizes:
        if f"m{m}_T4_test_agreement" not in h:
            continue
        paper_agree, paper_kl = PAPER_IMAGENET.get(m, (np.nan, np.nan))
        rows.append({"quantity": f"test agreement, teacher of {m} (ImageNet in the paper)", "paper": paper_agree,
                     "ours": h[f"m{m}_T4_test_agreement"]})
        rows.append({"quantity": f"test KL(teacher || student), teacher of {m}", "paper": paper_kl,
                     "ours": h[f"m{m}_T4_test_kl"]})
    rows.append({"quantity": "test agreement, crop + flip (CIFAR-100 in the paper)",
                 "paper": PAPER["test_agreement_crop_flip"], "ours": h["aug_crop_flip_test_agreement"]})
    rows.append({"quantity": "test agreement, mixup", "paper": PAPER["test_agreement_mixup"],
                 "ours": h["aug_mixup_test_agreement"]})
    rows.append({"quantity": "train agreement at the end of a long run, SGD (paper: 300 epochs; 5,000 epochs: 83.3)",
                 "paper": PAPER["train_agreement_300_epochs"], "ours": h["ep_sgd_train_agreement"]})
    rows.append({"quantity": "train agreement at the end of a long run, Adam (paper: lower than SGD)",
                 "paper": np.nan, "ours": h["ep_adam_train_agreement"]})
    rows.append({"quantity": "smallest lambda reaching 99% train agreement", "paper": PAPER["lambda_jump"],
                 "ours": h["init_jump"]})
    return pd.DataFrame(rows).set_index("quantity")


def claims_table(h: dict, sizes: tuple[int, ...] = (1, 3, 5)) -> pd.DataFrame:
    """The paper's qualitative claims and whether our run shows them (cautious rule for comparisons)."""
    big = max(sizes)
    rows = [
        ("a student of one network can be more accurate than its teacher",
         f"student {h['m1_T4_accuracy']:.1f}% vs teacher {h['m1_T4_teacher_accuracy']:.1f}%",
         relation(h, "m1_T4_accuracy", "m1_T4_teacher_accuracy") == "higher than"),
        ("students disagree with their teachers even on the training data",
         f"train agreement {h['m1_T4_train_agreement']:.1f}% (teacher of 1)", h["m1_T4_train_agreement"] < 99),
        (f"a teacher of more members gives higher test agreement (1 vs {big})",
         f"{h['m1_T4_test_agreement']:.1f}% vs {h[f'm{big}_T4_test_agreement']:.1f}%",
         relation(h, f"m{big}_T4_test_agreement", "m1_T4_test_agreement") == "higher than"),
        ("mixup gives higher test agreement than crop + flip",
         f"{h['aug_mixup_test_agreement']:.1f}% vs {h['aug_crop_flip_test_agreement']:.1f}%",
         relation(h, "aug_mixup_test_agreement", "aug_crop_flip_test_agreement") == "higher than"),
        ("no augmentation policy brings test agreement near 100%",
         f"best {h['aug_best_policy_agreement']:.1f}% ({h['aug_best_policy']})", h["aug_best_policy_agreement"] < 97),
        ("training longer raises train agreement, but not to 100%",
         f"SGD {h['ep_sgd_train_agreement_at_tenth']:.1f}% at a tenth of the run, "
         f"{h['ep_sgd_train_agreement']:.1f}% at the end",
         h["ep_sgd_train_agreement"] > h["ep_sgd_train_agreement_at_tenth"] and h["ep_sgd_train_agreement"] < 99),
        ("Adam ends below SGD in train agreement",
         f"{h['ep_adam_train_agreement']:.1f}% vs {h['ep_sgd_train_agreement']:.1f}%",
         relation(h, "ep_adam_train_agreement", "ep_sgd_train_agreement") == "lower than"),
        ("students started at lambda >= 0.375 reach near-100% train agreement",
         "smallest lambda reaching 99%: " + (f"{h['init_jump']:g}" if np.isfinite(h["init_jump"]) else "none"),
         bool(np.isfinite(h["init_jump"]) and h["init_jump"] <= PAPER["lambda_jump"])),
    ]
    return pd.DataFrame(rows, columns=["paper's claim", "ours", "holds"]).set_index("paper's claim")
