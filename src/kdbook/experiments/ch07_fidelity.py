"""Chapter 7, does knowledge distillation really work? Fidelity vs generalisation (Stanton et al.
2021), on the book's recipe (:mod:`kdbook.recipe`).

The teachers are chapter 5's members (BatchNorm CNNs that fit their training data, trained once
and shared through the model cache): the teacher of seed index ``i`` is made of the first 1, 3 or
5 members of chapter 5's ensemble ``i``. Six stored results:

* ``ch07-baseline``: how often two *independently trained* members agree (every pair of chapter
  5's members), and how often a label-trained network of the students' recipe (a *twin*, the
  students' seed) agrees with each teacher; each teacher's report (train / val / test accuracy,
  validation advantage over the twin). Without this baseline an agreement cannot be read;
* ``ch07-fidelity``: students of the members' architecture distilled from each teacher (pure
  distillation at ``T``, patient: ``patience`` times the members' epochs, learning rate chosen
  on validation agreement), with accuracy, ECE and fidelity (top-1 agreement, KL(teacher ||
  student) at T = 1) on train, validation and test, and each run's validation-agreement curve;
* ``ch07-temperature``: the one-member teacher's students at other temperatures (``other_T``);
* ``ch07-augmentation``: the one-member teacher and its student under several augmentation
  policies, each teacher trained under the policy it labels (mixup's inputs have no label, so its
  teacher is the member trained without augmentation); the teacher labels the student's view at
  every step;
* ``ch07-long``: a long run (``long_patience`` times the members' epochs) on all the training
  images, train agreement after every epoch;
* ``ch07-init``: students started at lambda * teacher + (1 - lambda) * random and distilled on a
  small transfer set long enough for agreement to settle, each run with its per-epoch curve and
  a convergence verdict.

Tables, the paper's numbers, claims and sentences are in :mod:`kdbook.reports.ch07_fidelity`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import torch

from .. import augment as aug
from .. import metrics, recipe, validate
from ..data import Dataset, Split
from ..losses import DistillConfig
from ..profiles import get_profile
from ..store import StoredResult
from ..teachers import Ensemble
from ..train import TrainConfig, predict_probs
from . import ch05_three_mysteries as ch05
from .common import Interpolated, Part, TeacherAgreement, run_parts, trained_run, with_changes

TITLE = "Does distillation really work? Fidelity vs generalisation"
NOTEBOOK = "ch07_fidelity.ipynb"

#: first seed of chapter 7's students (and their twins): far from chapter 5's seeds (100-20,999)
STUDENT_SEED = 70_000
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Settings:
    """Chapter 7 for one profile: which of chapter 5's profiles supplies the teachers, and chapter
    7's own students. ``student_grid`` holds the learning rates tried on validation, for the
    distilled students (scored by validation agreement with the teacher) and for the twins (scored
    by validation accuracy): grids of the same size."""

    teachers_from: str
    teacher_sizes: tuple[int, ...]
    T: float
    patience: float
    student_grid: tuple[float, ...]
    policies: tuple[str, ...]
    policy_px: int
    long_patience: float
    lambda_subset: int
    lambda_patience: float
    lambdas: tuple[float, ...]
    #: a run has converged when its agreement rose by at most this many points over its last tenth
    converged_points: float = 0.5
    #: other temperatures for the one-member teacher's students (``ch07-temperature``)
    other_T: tuple[float, ...] = (1.0,)
    version: int = 2

    def __post_init__(self) -> None:
        validate.raise_if([
            None if self.teachers_from in ch05.SETTINGS else
            f"teachers_from must be one of chapter 5's profiles {sorted(ch05.SETTINGS)}, got {self.teachers_from!r}",
            None if self.teacher_sizes and all(isinstance(k, int) and k >= 1 for k in self.teacher_sizes)
            else f"teacher_sizes must be integers >= 1, got {self.teacher_sizes!r}",
            None if 1 in self.teacher_sizes else "teacher_sizes must include 1 (the self-distillation teacher)",
            validate.positive("T", self.T),
            None if self.patience >= 1 else f"patience must be >= 1 (students train at least as long as their "
                                            f"teachers), got {self.patience}",
            None if self.long_patience >= self.patience else "long_patience must be at least patience",
            None if self.lambda_patience >= 1 else "lambda_patience must be >= 1",
            None if self.student_grid else "student_grid must not be empty",
            *(validate.positive("student_grid lr", lr) for lr in self.student_grid),
            None if self.policies and set(self.policies) <= set(aug.POLICIES) and "none" in self.policies
            else f"policies must be among {sorted(aug.POLICIES)} and include 'none', got {self.policies!r}",
            validate.non_negative_int("policy_px", self.policy_px),
            validate.positive_int("lambda_subset", self.lambda_subset),
            None if self.lambdas and all(isinstance(x, (int, float)) and 0 <= x <= 1 for x in self.lambdas)
            else f"lambdas must lie in [0, 1], got {self.lambdas!r}",
            validate.non_negative("converged_points", self.converged_points),
            None if self.other_T and all(isinstance(x, (int, float)) and x > 0 and x != self.T for x in self.other_T)
            else f"other_T must be positive temperatures other than T, got {self.other_T!r}",
        ], "ch07 settings")

    @property
    def ch05(self) -> ch05.Settings:
        """Chapter 5's settings whose deep members are the teachers."""
        return ch05.settings(self.teachers_from)

    @property
    def teacher_spec(self) -> dict[str, Any]:
        """What decides the teachers (a change in chapter 5's deep setting re-keys this chapter)."""
        return ch05.deep_spec(self.ch05)

    @property
    def seeds(self) -> list[int]:
        """One seed index per chapter-5 ensemble."""
        return list(range(self.ch05.deep.ensembles))

    def student_seed(self, i: int) -> int:
        """The students of seed index ``i`` (all teachers of that index: paired), and their twin."""
        return STUDENT_SEED + i


SETTINGS: dict[str, Settings] = {
    "smoke": Settings(teachers_from="smoke", teacher_sizes=(1, 3), T=4.0, patience=1.5, student_grid=(0.05, 0.1),
                      policies=("none", "crop_flip", "mixup"), policy_px=1, long_patience=3.0, lambda_subset=300,
                      lambda_patience=3.0, lambdas=(0.0, 0.5, 1.0)),
    # chapter 5's members (5,500 Fashion-MNIST images, 20 epochs of SGD); students at 1.5x (30
    # epochs), the long run at 5x (100 epochs), the starting-point study at 5x on 1,000 images
    "full": Settings(teachers_from="full", teacher_sizes=(1, 3, 5), T=4.0, patience=1.5, student_grid=(0.05, 0.1),
                     policies=("none", "crop_flip", "mixup"), policy_px=2, long_patience=5.0, lambda_subset=1000,
                     lambda_patience=5.0, lambdas=(0.0, 0.25, 0.5, 0.75, 1.0)),
    # Stanton et al.: CIFAR-100 and ResNets for 300 epochs; here chapter 5's paper members
    # (CIFAR-10, ResNet-20, 160 epochs)
    "paper": Settings(teachers_from="paper", teacher_sizes=(1, 3, 5), T=4.0, patience=1.5, student_grid=(0.05, 0.1),
                      policies=("none", "crop_flip", "mixup"), policy_px=4, long_patience=5.0, lambda_subset=10_000,
                      lambda_patience=2.0, lambdas=(0.0, 0.25, 0.375, 0.5, 0.75, 1.0)),
}


def settings(profile: str) -> Settings:
    """Chapter 7's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


# ------------------------------------------------------------------------------ measurements
def probs(model, ds: Dataset) -> dict[str, torch.Tensor]:
    """A model's (or teacher's) probabilities on the train, validation and test splits."""
    return {split: predict_probs(model, getattr(ds, split).x) for split in SPLITS}


def fidelity_row(student: Mapping[str, torch.Tensor], teacher: Mapping[str, torch.Tensor],
                 ds: Dataset) -> dict[str, float]:
    """The student's test accuracy, NLL and ECE, and its fidelity to the teacher on every split:
    top-1 agreement and KL(teacher || student) at T = 1."""
    test = metrics.summary(student["test"], ds.test.y)
    row = {"accuracy": test["accuracy"], "nll": test["nll"], "ece": test["ece"],
           "val_accuracy": metrics.accuracy(student["val"], ds.val.y)}
    for split in SPLITS:
        row[f"{split}_agreement"] = metrics.agreement(teacher[split], student[split])
        row[f"{split}_kl"] = metrics.kl_teacher_student(teacher[split], student[split])
    return row


def _accuracies(p: Mapping[str, torch.Tensor], ds: Dataset) -> dict[str, float]:
    return {f"{split}_accuracy": metrics.accuracy(p[split], getattr(ds, split).y) for split in SPLITS}


def converged(curve: list[float], points: float) -> bool:
    """Whether a per-epoch agreement curve (fractions) rose by at most ``points`` percentage points
    over its last tenth (at least two epochs): training had ended."""
    tail = max(2, len(curve) // 10)
    return bool(len(curve) > tail and 100 * (curve[-1] - curve[-1 - tail]) <= points)


class Lab:
    """Chapter 7's data, teachers and runs (each trained once, then loaded from the model cache),
    with the tuning on validation."""

    def __init__(self, s: Settings, device: str):
        self.s, self.device = s, device
        self.ch05 = ch05.deep_lab(s.ch05, device)
        self.ds, self.key, self.limit = self.ch05.ds, self.ch05.key, self.ch05.limit
        self.model = s.ch05.deep.model
        self._tuned: dict[str, dict] = {}
        self._probs: dict[tuple, dict[str, torch.Tensor]] = {}

    # --- teachers
    def member(self, i: int, j: int) -> torch.nn.Module:
        """Member ``j`` of chapter 5's ensemble ``i``."""
        return self.ch05.members()[i * self.s.ch05.deep.n_members + j]

    def teacher(self, i: int, size: int):
        """The teacher of seed index ``i`` made of ``size`` members (a single network for 1)."""
        return self.member(i, 0) if size == 1 else Ensemble([self.member(i, j) for j in range(size)])

    def teacher_probs(self, i: int, size: int) -> dict[str, torch.Tensor]:
        if (i, size) not in self._probs:
            self._probs[(i, size)] = probs(self.teacher(i, size), self.ds)
        return self._probs[(i, size)]

    @property
    def member_train(self) -> TrainConfig:
        return self.ch05.member_train

    def student_train(self, lr: float, patience: float | None = None, augment: str = "none") -> TrainConfig:
        epochs = recipe.patient_epochs(self.member_train.epochs, self.s.patience if patience is None else patience)
        if augment == "none":
            return dataclasses.replace(self.member_train, lr=lr, epochs=epochs)
        return dataclasses.replace(self.member_train, lr=lr, epochs=epochs, augment=augment,
                                   augment_px=self.s.policy_px)

    def _tune(self, name: str, score) -> float:
        if name not in self._tuned:
            chosen, scores = recipe.choose_on_validation(list(self.s.student_grid), score)
            self._tuned[name] = {"points": list(self.s.student_grid), "val_score": scores, "chosen": chosen}
        return self._tuned[name]["chosen"]

    # --- runs
    def student_run(self, i: int, teacher, lr: float, augment: str = "none", T: float | None = None):
        """A student of ``teacher`` (pure distillation at T, the settings' unless given), its
        validation agreement after every epoch."""
        return trained_run("ch07-student", self.ds, self.key, self.model, self.student_train(lr, augment=augment),
                           self.s.student_seed(i), device=self.device, train_limit=self.limit,
                           objective=DistillConfig(T=self.s.T if T is None else T), teacher=teacher,
                           monitor=TeacherAgreement(teacher, self.ds.val, name="val_agreement"))

    def student_lr(self) -> float:
        """The students' learning rate, chosen on validation agreement (one-member teacher, seed index 0)."""
        t = self.teacher(0, 1)
        return self._tune("distilled (val agreement)", lambda lr: metrics.agreement(
            self.teacher_probs(0, 1)["val"], predict_probs(self.student_run(0, t, lr)[0], self.ds.val.x)))

    def twin_run(self, i: int, lr: float):
        """A label-trained network of the students' recipe and seed (the students' twin)."""
        return trained_run("ch07-twin", self.ds, self.key, self.model, self.student_train(lr), self.s.student_seed(i),
                           device=self.device, train_limit=self.limit, track_val=True)

    def twin_lr(self) -> float:
        """The twins' learning rate, chosen on validation accuracy (seed index 0), from the students' grid."""
        return self._tune("labels (val accuracy)",
                          lambda lr: self.twin_run(0, lr)[1]["epochs"][-1]["val_accuracy"])

    def policy_teacher(self, i: int, policy: str) -> torch.nn.Module:
        """The one-member teacher that labels ``policy``'s views: trained under that policy (the
        first member's seed and recipe), or chapter 5's member where inputs have no label (mixup)
        or there is no augmentation."""
        if policy == "none" or policy in aug.TEACHER_ONLY:
            return self.member(i, 0)
        cfg = dataclasses.replace(self.member_train, augment=policy, augment_px=self.s.policy_px)
        seed = self.s.ch05.deep.ensemble_seeds(i)[0]
        return trained_run("ch07-policy-member", self.ds, self.key, self.model, cfg, seed, device=self.device,
                           train_limit=self.limit, member=True)[0]

    def tuning_rows(self) -> list[dict]:
        return [{"tuned": name, "lr": lr, "val_score": score, "chosen": lr == t["chosen"]}
                for name, t in self._tuned.items() for lr, score in zip(t["points"], t["val_score"])]


def _curve(history: dict, name: str) -> list[float]:
    return [e[name] for e in history.get("epochs", [])]


# ------------------------------------------------------------------------------ parts
def _baseline_part(s: Settings, device: str) -> dict:
    """Independent agreement: member pairs, and each teacher against the students' twin; teacher reports."""
    lab = Lab(s, device)
    ds, n = lab.ds, s.ch05.deep.n_members
    members = lab.ch05.members()
    member_probs = [probs(m, ds) for m in members]
    seeds = s.ch05.deep.member_seeds
    pairs = [{"seed_a": seeds[a], "seed_b": seeds[b], "same_ensemble": a // n == b // n,
              **{f"{split}_agreement": metrics.agreement(member_probs[a][split], member_probs[b][split])
                 for split in SPLITS}}
             for a, b in combinations(range(len(members)), 2)]
    lr = lab.twin_lr()
    twins, reports = [], []
    for i in s.seeds:
        twin, history = lab.twin_run(i, lr)
        tp = probs(twin, ds)
        row = {"seed": i, "student_seed": s.student_seed(i), **_accuracies(tp, ds),
               "val_curve": _curve(history, "val_accuracy")}
        for size in s.teacher_sizes:
            t = lab.teacher_probs(i, size)
            row.update({f"agreement_teacher_{size}_{split}": metrics.agreement(t[split], tp[split]) for split in SPLITS})
        twins.append(row)
    for size in s.teacher_sizes:
        accs = [_accuracies(lab.teacher_probs(i, size), ds) for i in s.seeds]
        reports.append({"members": size, **recipe.teacher_report(accs, [t["val_accuracy"] for t in twins])})
    return {"dataset": ds.describe(), "pairs": pairs, "twins": twins, "teacher_reports": reports,
            "member_train_accuracy": [metrics.accuracy(p["train"], ds.train.y) for p in member_probs],
            "epochs": {"members": lab.member_train.epochs, "students": lab.student_train(lr).epochs},
            "twin_lr": lr, "tuning": lab.tuning_rows()}


def _fidelity_part(s: Settings, device: str) -> dict:
    """Students of every teacher (1, 3, 5 members) per seed index, with their curves."""
    lab = Lab(s, device)
    ds, lr = lab.ds, lab.student_lr()
    rows, teachers = [], []
    for i in s.seeds:
        for size in s.teacher_sizes:
            tp = lab.teacher_probs(i, size)
            test = metrics.summary(tp["test"], ds.test.y)
            teachers.append({"seed": i, "members": size, **_accuracies(tp, ds), "accuracy": test["accuracy"],
                             "ece": test["ece"], "nll": test["nll"]})
            student, history = lab.student_run(i, lab.teacher(i, size), lr)
            rows.append({"seed": i, "members": size, "student_seed": s.student_seed(i),
                         **fidelity_row(probs(student, ds), tp, ds),
                         "val_agreement_curve": _curve(history, "val_agreement")})
    return {"dataset": ds.describe(), "T": s.T, "student_lr": lr, "teachers": teachers, "students": rows,
            "epochs": {"members": lab.member_train.epochs, "students": lab.student_train(lr).epochs},
            "tuning": lab.tuning_rows()}


def _temperature_part(s: Settings, device: str) -> dict:
    """The one-member teacher's students at the other temperatures (same seeds, lr and epochs)."""
    lab = Lab(s, device)
    ds, lr = lab.ds, lab.student_lr()
    rows = []
    for i in s.seeds:
        teacher = lab.teacher(i, 1)
        for T in s.other_T:
            student, history = lab.student_run(i, teacher, lr, T=T)
            rows.append({"seed": i, "T": T, **fidelity_row(probs(student, ds), lab.teacher_probs(i, 1), ds),
                         "val_agreement_curve": _curve(history, "val_agreement")})
    return {"dataset": ds.describe(), "student_lr": lr, "rows": rows}


def _augmentation_part(s: Settings, device: str) -> dict:
    """The one-member teacher and its student per policy, the teacher trained under the policy it labels."""
    lab = Lab(s, device)
    ds, lr = lab.ds, lab.student_lr()
    rows, teachers = [], []
    for i in s.seeds:
        for policy in s.policies:
            teacher = lab.policy_teacher(i, policy)
            tp = probs(teacher, ds)
            teachers.append({"seed": i, "policy": policy,
                             "trained_under": "none" if policy in aug.TEACHER_ONLY else policy, **_accuracies(tp, ds)})
            student, history = lab.student_run(i, teacher, lr, augment=policy)
            rows.append({"seed": i, "policy": policy, **fidelity_row(probs(student, ds), tp, ds),
                         "val_agreement_curve": _curve(history, "val_agreement")})
    return {"dataset": ds.describe(), "T": s.T, "px": s.policy_px, "student_lr": lr, "teachers": teachers,
            "rows": rows}


def _long_part(s: Settings, device: str) -> dict:
    """One long run per seed index: the one-member teacher distilled on all training images."""
    lab = Lab(s, device)
    ds, lr = lab.ds, lab.student_lr()
    cfg = lab.student_train(lr, patience=s.long_patience)
    rows = []
    for i in s.seeds:
        teacher = lab.teacher(i, 1)
        student, history = trained_run("ch07-long", ds, lab.key, lab.model, cfg, s.student_seed(i), device=device,
                                       train_limit=lab.limit, objective=DistillConfig(T=s.T), teacher=teacher,
                                       monitor=TeacherAgreement(teacher, ds.train))
        curve = _curve(history, "train_agreement")
        rows.append({"seed": i, **fidelity_row(probs(student, ds), lab.teacher_probs(i, 1), ds),
                     "train_agreement_curve": curve, "converged": converged(curve, s.converged_points)})
    return {"dataset": ds.describe(), "T": s.T, "epochs": cfg.epochs, "lr": lr, "rows": rows}


def _init_part(s: Settings, device: str) -> dict:
    """Students started at lambda * teacher + (1 - lambda) * random, distilled on a small transfer set."""
    lab = Lab(s, device)
    ds, lr = lab.ds, lab.student_lr()
    n = min(s.lambda_subset, len(ds.train))
    subset: Split = ds.train.subset(torch.arange(n, device=ds.train.x.device))
    cfg = lab.student_train(lr, patience=s.lambda_patience)
    rows = []
    for i in s.seeds:
        teacher = lab.teacher(i, 1)
        t_sub, t_test = predict_probs(teacher, subset.x), lab.teacher_probs(i, 1)["test"]
        for lam in s.lambdas:
            init = Interpolated(teacher, lam)
            before = init.build(lab.model, ds, s.student_seed(i))
            student, history = trained_run("ch07-init", ds, lab.key, lab.model, cfg, s.student_seed(i),
                                           device=device, train_limit=lab.limit, objective=DistillConfig(T=s.T),
                                           teacher=teacher, train_split=subset, init=init,
                                           monitor=TeacherAgreement(teacher, subset))
            s_sub, s_test = predict_probs(student, subset.x), predict_probs(student, ds.test.x)
            curve = _curve(history, "train_agreement")
            rows.append({"seed": i, "lambda": lam,
                         "initial_train_agreement": metrics.agreement(t_sub, predict_probs(before, subset.x)),
                         "train_agreement": metrics.agreement(t_sub, s_sub),
                         "test_agreement": metrics.agreement(t_test, s_test),
                         "train_kl": metrics.kl_teacher_student(t_sub, s_sub),
                         "accuracy": metrics.accuracy(s_test, ds.test.y),
                         "train_agreement_curve": curve, "converged": converged(curve, s.converged_points)})
    return {"dataset": ds.describe(), "subset": n, "T": s.T, "epochs": cfg.epochs, "lr": lr, "rows": rows}


# What each part reads (``teacher_spec`` names chapter 5's deep setting, which decides the teachers).
_COMMON = ("version", "teachers_from", "teacher_spec", "teacher_sizes", "T", "patience", "student_grid")
PARTS = (Part("ch07-baseline", _baseline_part, _COMMON),
         Part("ch07-fidelity", _fidelity_part, _COMMON),
         Part("ch07-temperature", _temperature_part, (*_COMMON, "other_T")),
         Part("ch07-augmentation", _augmentation_part, (*_COMMON, "policies", "policy_px")),
         Part("ch07-long", _long_part, (*_COMMON, "long_patience", "converged_points")),
         Part("ch07-init", _init_part, (*_COMMON, "lambda_subset", "lambda_patience", "lambdas", "converged_points")))


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False,
        changes: Mapping[str, Any] | None = None) -> dict[str, StoredResult]:
    """Train (or load) chapter 7's teachers and students and store the measurements.
    ``changes`` varies the profile's settings by name (the fields of ``Settings``), for the exercises."""
    s = with_changes(settings(profile), changes)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.seeds)
