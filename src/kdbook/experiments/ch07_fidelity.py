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

Tables, numbers, the paper's numbers, claims and sentences read from them are in
:mod:`kdbook.reports.ch07_fidelity`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .. import metrics, validate
from ..augment import POLICIES as AUGMENTATIONS
from ..data import Dataset, Split, load_dataset
from ..losses import DistillConfig
from ..models import ModelConfig
from ..profiles import get_profile
from ..store import StoredResult
from ..teachers import Ensemble
from ..train import TrainConfig, predict_probs
from .common import (
    Interpolated,
    Part,
    TeacherAgreement,
    run_parts,
    trained_members,
    trained_model,
    trained_run,
    with_changes,
)

TITLE = "Does distillation really work? Fidelity vs generalisation"
NOTEBOOK = "ch07_fidelity.ipynb"

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
        validate.raise_if([
            validate.seeds("seeds", self.seeds),
            None if len(self.seeds) >= 2 else "seeds must hold at least 2 seeds",
            None if self.teacher_sizes and all(isinstance(k, int) and k >= 1 for k in self.teacher_sizes)
            else f"teacher_sizes must be integers >= 1, got {self.teacher_sizes!r}",
            None if 1 in self.teacher_sizes else "teacher_sizes must include 1 (the self-distillation teacher)",
            validate.positive_int("teacher_seed_stride", self.teacher_seed_stride),
            None if max(self.teacher_sizes, default=1) <= self.teacher_seed_stride
            else "teacher_seed_stride must be at least the largest teacher size (seeds would overlap)",
            None if self.temperatures and all(isinstance(t, (int, float)) and t > 0 for t in self.temperatures)
            else f"temperatures must be positive numbers, got {self.temperatures!r}",
            None if self.policies and set(self.policies) <= set(AUGMENTATIONS)
            else f"policies must be among {sorted(AUGMENTATIONS)}, got {self.policies!r}",
            None if self.policy_teacher in self.teacher_sizes else "policy_teacher must be one of teacher_sizes",
            validate.positive_int("opt_subset", self.opt_subset),
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
    # Fashion-MNIST, 10,000 training images; teachers: the CNN members of chapter 5 before its rerun on the recipe.
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


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False,
        changes: Mapping[str, Any] | None = None) -> dict[str, StoredResult]:
    """Train (or load) chapter 7's teachers and students and store the measurements.
    ``changes`` varies the profile's settings by name (the fields of ``Settings``), for the exercises."""
    s = with_changes(settings(profile), changes)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.seeds)

