"""Chapter 5, three mysteries: ensemble, knowledge distillation, self-distillation (Allen-Zhu & Li
2020), on the book's recipe (:mod:`kdbook.recipe`).

Three stored results, each the same comparison in one setting (read by
:mod:`kdbook.reports.ch05_three_mysteries`):

* ``ch05-deep``: BatchNorm CNNs on real images, trained to fit their training data: single models,
  ensembles of N, students distilled from each ensemble (consistently, on the view they see, and
  patiently), the same network on labels for the students' epochs, self-distillation (a fresh net
  distilled from one member), the average (F1 + ... + FN)/N trained directly as one model, and an
  ensemble of distilled students;
* ``ch05-rf``: the same with random-feature models (a frozen random ReLU layer, trained head);
* ``ch05-gaussian``: the same (without the trained average) on Gaussian inputs labelled by a fixed
  random network (no structure for members to disagree about).

In every setting the members' learning rate, the students' (learning rate, T) and the trained
average's own learning rate are chosen on validation from grids of the same size; every teacher
(each ensemble) has a report; member, student, control and sub-network seeds never collide.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .. import augment as aug
from .. import metrics, recipe, validate
from ..data import Dataset, load_dataset
from ..losses import DistillConfig, combine_probs
from ..models import ModelConfig
from ..profiles import get_profile
from ..store import StoredResult
from ..synthetic import gaussian_teacher_task
from ..teachers import Ensemble
from ..train import TrainConfig, predict_probs
from .common import (
    AverageInit,
    Part,
    run_parts,
    trained_members,
    trained_run,
    with_changes,
)

TITLE = "Three mysteries: ensemble, knowledge distillation, self-distillation"
NOTEBOOK = "ch05_three_mysteries.ipynb"

#: first seed of the members, the students (and their label-trained twins), the self-distilled
#: students and the trained averages' sub-networks: far enough apart never to collide
MEMBER_SEED, STUDENT_SEED, SELF_SEED, AVERAGE_SEED = 100, 500, 10_000, 20_000


@dataclass(frozen=True)
class Setting:
    """One model family on one task: ``ensembles`` disjoint ensembles of ``n_members`` members,
    each with ``students_per_ensemble`` distilled students (and a label-trained twin of each, same
    seed and epochs), one self-distilled student and one trained average.

    ``train`` is the members' recipe; its learning rate is replaced by the one chosen on validation
    from ``member_grid`` (first member). Students train ``patience`` times the members' epochs with
    (lr, objective) chosen from ``distill_grid`` (first student), on ``student_augment``'s view
    (which the teacher labels at every step), as do their twins on labels; the trained average trains the
    members' epochs at a learning rate of its own from ``average_grid`` (first ensemble; averaging
    N logits scales each sub-network's gradient by 1/N). The grids have the same size."""

    model: ModelConfig
    train: TrainConfig
    member_grid: tuple[float, ...]
    distill_grid: tuple[tuple[float, DistillConfig], ...]
    average_grid: tuple[float, ...] = ()  # empty: no trained average in this setting
    n_members: int = 5
    ensembles: int = 3
    students_per_ensemble: int = 2
    patience: float = 1.5
    #: the students' (and their twins') augmentation; the teacher labels the view the student sees
    student_augment: str = "none"
    student_augment_px: int = 1

    def __post_init__(self) -> None:
        grids = {"member_grid": self.member_grid, "distill_grid": self.distill_grid}
        if self.average_grid:
            grids["average_grid"] = self.average_grid
        validate.raise_if([
            validate.positive_int("n_members", self.n_members),
            None if self.n_members >= 2 else "n_members must be at least 2",
            None if isinstance(self.ensembles, int) and self.ensembles >= 2 else "ensembles must be an integer >= 2",
            None if isinstance(self.students_per_ensemble, int) and self.students_per_ensemble >= 2
            else "students_per_ensemble must be an integer >= 2",
            None if self.students_per_ensemble <= 10 else "students_per_ensemble must be at most 10",
            None if self.n_members * self.ensembles <= STUDENT_SEED - MEMBER_SEED
            else f"at most {STUDENT_SEED - MEMBER_SEED} members in all (their seeds would reach the students')",
            None if self.n_members < 1000 else "n_members must be below 1000",
            None if self.patience >= 1 else f"patience must be >= 1 (students train at least as long as the "
                                            f"members), got {self.patience}",
            recipe.equal_budgets(grids),
            validate.choice("student_augment", self.student_augment, sorted(set(aug.POLICIES) - aug.TEACHER_ONLY)),
            validate.non_negative_int("student_augment_px", self.student_augment_px),
            *(validate.positive("member_grid lr", lr) for lr in self.member_grid),
            *(validate.positive("average_grid lr", lr) for lr in self.average_grid),
        ], "ch05 setting")

    @property
    def member_seeds(self) -> list[int]:
        """Seeds of every member: ensemble i holds the i-th run of ``n_members`` of them."""
        return list(range(MEMBER_SEED, MEMBER_SEED + self.n_members * self.ensembles))

    def ensemble_seeds(self, i: int) -> list[int]:
        """Seeds of the members of ensemble ``i``."""
        return self.member_seeds[i * self.n_members:(i + 1) * self.n_members]

    def student_seeds(self, i: int) -> list[int]:
        """Seeds of ensemble ``i``'s students (and of their label-trained twins)."""
        return [STUDENT_SEED + 10 * i + j for j in range(self.students_per_ensemble)]

    def average_seeds(self, i: int) -> tuple[int, ...]:
        """Initial weights of ensemble ``i``'s trained average's sub-networks."""
        return tuple(AVERAGE_SEED + 1000 * i + k for k in range(self.n_members))

    @property
    def student_epochs(self) -> int:
        return recipe.patient_epochs(self.train.epochs, self.patience)


@dataclass(frozen=True)
class GaussianTask:
    """The structure-free task: its size and generator (see :func:`kdbook.synthetic.gaussian_teacher_task`)."""

    dim: int = 50
    width: int = 100
    num_classes: int = 10
    n_train: int = 5000
    n_test: int = 10000
    seed: int = 0


@dataclass(frozen=True)
class Settings:
    """Chapter 5's three settings for one profile."""

    dataset: str
    train_limit: int | None
    deep: Setting
    rf: Setting
    gaussian_task: GaussianTask
    gaussian: Setting
    version: int = 2


def _distill_grid(lrs: tuple[float, ...], Ts: tuple[float, ...], alpha: float = 0.5):
    return tuple((lr, DistillConfig(T=T, alpha=alpha)) for lr in lrs for T in Ts)


#: the members of chapter 5: a BatchNorm CNN that fits its training data. A pilot (one member,
#: 10,000 images) fitted 99.6% of them without augmentation in 20 epochs, but only 93.3% with
#: crop+flip (30 epochs) and 96.1% with 1 px jitter (24 epochs, FC 128), so members train without
#: it and the students, patient, see 1 px jitter with the teacher labelling their view.
FULL_MEMBER = ModelConfig("convnet", (16, 32), hidden=(64,))
FULL_MEMBER_TRAIN = TrainConfig(epochs=20, batch_size=128, lr=0.05, weight_decay=5e-4)

SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        dataset="digits", train_limit=None,
        deep=Setting(ModelConfig("convnet", (8, 16), hidden=(32,)), TrainConfig(epochs=3, batch_size=64, lr=0.05),
                     member_grid=(0.05, 0.1), distill_grid=_distill_grid((0.05,), (2.0, 4.0)),
                     average_grid=(0.1, 0.2), n_members=3, ensembles=2, student_augment="jitter"),
        rf=Setting(ModelConfig("rf", (256,)), TrainConfig(epochs=3, batch_size=64, lr=0.05),
                   member_grid=(0.05, 0.1), distill_grid=_distill_grid((0.05,), (2.0, 4.0)),
                   average_grid=(0.1, 0.2), n_members=3, ensembles=2),
        gaussian_task=GaussianTask(dim=10, width=20, n_train=500, n_test=1000),
        gaussian=Setting(ModelConfig("mlp", (32,)), TrainConfig(epochs=3, batch_size=64, lr=0.05),
                         member_grid=(0.05, 0.1), distill_grid=_distill_grid((0.05,), (2.0, 4.0)), n_members=3,
                         ensembles=2)),
    # Fashion-MNIST, a tenth of the training images (5,500, as in chapter 4), which keeps the 60-odd
    # CNN trainings (the trained averages count five each) within the chapter's hour on a 2-core
    # CPU. Members: SGD with a cosine schedule and weight decay; five per ensemble (Stanton et
    # al.'s largest teacher). Grids of two points each.
    "full": Settings(
        dataset="fashion-mnist", train_limit=5500,
        deep=Setting(FULL_MEMBER, FULL_MEMBER_TRAIN, member_grid=(0.05, 0.1),
                     distill_grid=_distill_grid((0.05,), (2.0, 4.0)), average_grid=(0.25, 0.5),
                     student_augment="jitter", student_augment_px=1),
        rf=Setting(ModelConfig("rf", (1024,)), TrainConfig(epochs=10, batch_size=128, lr=0.003, optimizer="adam"),
                   member_grid=(0.001, 0.003, 0.01), distill_grid=_distill_grid((0.003,), (1.0, 2.0, 4.0)),
                   average_grid=(0.001, 0.003, 0.01)),
        gaussian_task=GaussianTask(),
        gaussian=Setting(ModelConfig("mlp", (256, 256)), TrainConfig(epochs=30, batch_size=128, lr=0.02),
                         member_grid=(0.01, 0.02, 0.05), distill_grid=_distill_grid((0.02,), (1.0, 2.0, 4.0)))),
    "paper": Settings(
        dataset="cifar10", train_limit=None,
        deep=Setting(ModelConfig("resnet", (16, 32, 64), depth=20),
                     TrainConfig(epochs=160, batch_size=128, lr=0.1, augment="crop_flip", augment_px=4,
                                 weight_decay=5e-4),
                     member_grid=(0.05, 0.1, 0.2, 0.4), distill_grid=_distill_grid((0.05, 0.1), (2.0, 4.0)),
                     average_grid=(0.1, 0.5, 1.0, 2.0), n_members=10),
        rf=Setting(ModelConfig("rf", (8192,)), TrainConfig(epochs=30, batch_size=128, lr=0.02),
                   member_grid=(0.01, 0.02, 0.05), distill_grid=_distill_grid((0.02,), (1.0, 2.0, 4.0)),
                   average_grid=(0.02, 0.05, 0.1), n_members=10),
        gaussian_task=GaussianTask(),
        gaussian=Setting(ModelConfig("mlp", (256, 256)), TrainConfig(epochs=30, batch_size=128, lr=0.02),
                         member_grid=(0.01, 0.02, 0.05), distill_grid=_distill_grid((0.02,), (1.0, 2.0, 4.0)),
                         n_members=10)),
}


def settings(profile: str) -> Settings:
    """Chapter 5's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


# ------------------------------------------------------------------------------ one setting's runs
def _curve(history: dict) -> list[float | None]:
    return [e.get("val_accuracy") for e in history.get("epochs", [])]


def _last_val(run) -> float:
    return run[1]["epochs"][-1]["val_accuracy"]


class Lab:
    """One setting's data and runs: members, students, controls, trained averages (each trained
    once, then loaded from the model cache), with the tuning on validation. Chapter 7 reuses the
    deep setting's through :func:`deep_lab`."""

    def __init__(self, prefix: str, ds: Dataset, dataset_key: str, st: Setting, device: str,
                 train_limit: int | None = None):
        self.prefix, self.ds, self.key, self.st, self.device, self.limit = prefix, ds, dataset_key, st, device, train_limit
        self._tuned: dict[str, dict] = {}
        self._members: list[torch.nn.Module] | None = None

    def _run(self, kind: str, cfg: TrainConfig, seed: int, **kwargs):
        return trained_run(f"{self.prefix}-{kind}", self.ds, self.key, self.st.model, cfg, seed, device=self.device,
                           train_limit=self.limit, track_val=True, **kwargs)

    def _tune(self, name: str, points: list, score) -> dict:
        if name not in self._tuned:
            chosen, scores = recipe.choose_on_validation(points, score)
            self._tuned[name] = {"points": points, "val_accuracy": scores, "chosen": chosen}
        return self._tuned[name]

    # --- members
    def member_run(self, lr: float, seed: int):
        return self._run("member", dataclasses.replace(self.st.train, lr=lr), seed, member=True)

    def member_lr(self) -> float:
        """The members' learning rate, chosen on validation (the first member's seed)."""
        seed = self.st.member_seeds[0]
        return self._tune("members", list(self.st.member_grid), lambda lr: _last_val(self.member_run(lr, seed)))["chosen"]

    @property
    def member_train(self) -> TrainConfig:
        return dataclasses.replace(self.st.train, lr=self.member_lr())

    def members(self) -> list[torch.nn.Module]:
        if self._members is None:
            self._members = trained_members(f"{self.prefix}-member", self.ds, self.key, self.st.model,
                                            self.member_train, self.st.member_seeds, device=self.device,
                                            train_limit=self.limit, track_val=True)
        return self._members

    def ensemble(self, i: int) -> Ensemble:
        n = self.st.n_members
        return Ensemble(self.members()[i * n:(i + 1) * n], "arithmetic")

    # --- students and their label-trained twins
    def student_train(self, lr: float) -> TrainConfig:
        return dataclasses.replace(self.st.train, lr=lr, epochs=self.st.student_epochs,
                                   augment=self.st.student_augment, augment_px=self.st.student_augment_px)

    def student_run(self, seed: int, lr: float, objective: DistillConfig, teacher):
        return self._run("student", self.student_train(lr), seed, objective=objective, teacher=teacher)

    def distill_choice(self) -> tuple[float, DistillConfig]:
        """The students' (lr, objective), chosen on validation (ensemble 0's first student)."""
        seed, teacher = self.st.student_seeds(0)[0], self.ensemble(0)
        return self._tune("students", list(self.st.distill_grid),
                          lambda p: _last_val(self.student_run(seed, p[0], p[1], teacher)))["chosen"]

    def twin_run(self, seed: int):
        """The members' recipe on labels for the students' epochs (a student's seed: its twin)."""
        return self._run("labels", self.student_train(self.member_lr()), seed)

    # --- the trained average
    def average_run(self, i: int, lr: float):
        cfg = dataclasses.replace(self.st.train, lr=lr)
        return self._run("average", cfg, i, init=AverageInit(self.st.average_seeds(i)))

    def average_lr(self) -> float:
        """The trained average's own learning rate, chosen on validation (ensemble 0)."""
        return self._tune("average", list(self.st.average_grid),
                          lambda lr: _last_val(self.average_run(0, lr)))["chosen"]

    def tuning_rows(self) -> list[dict]:
        rows = []
        for name, t in self._tuned.items():
            for point, acc in zip(t["points"], t["val_accuracy"]):
                lr, obj = point if isinstance(point, tuple) else (point, None)
                rows.append({"tuned": name, "lr": lr, "T": getattr(obj, "T", None),
                             "alpha": getattr(obj, "alpha", None), "val_accuracy": acc,
                             "chosen": point == t["chosen"]})
        return rows


def _accuracies(probs: dict[str, torch.Tensor], ds: Dataset) -> dict[str, float]:
    return {f"{name}_accuracy": metrics.accuracy(p, getattr(ds, name).y) for name, p in probs.items()}


def _probs(model, ds: Dataset) -> dict[str, torch.Tensor]:
    return {name: predict_probs(model, getattr(ds, name).x) for name in ("train", "val", "test")}


def _row(model: str, ensemble: int, seed: int | None, probs: dict[str, torch.Tensor], ds: Dataset, **extra) -> dict:
    return {"model": model, "ensemble": ensemble, "seed": seed, **_accuracies(probs, ds),
            **metrics.summary(probs["test"], ds.test.y), **extra}


def compare_setting(prefix: str, ds: Dataset, dataset_key: str, st: Setting, device: str,
                    train_limit: int | None = None) -> dict:
    """Every row of the comparison for one setting, per net and ensemble (see :class:`Setting`),
    with the tuning tables, the validation curves and each ensemble's teacher report."""
    lab = Lab(prefix, ds, dataset_key, st, device, train_limit)
    members = lab.members()
    member_probs = [_probs(m, ds) for m in members]
    lr, objective = lab.distill_choice()
    rows, curves, teacher_accs, twin_vals = [], [], [], []
    n, ens_name = st.n_members, f"ensemble of {st.n_members}"
    for i in range(st.ensembles):
        team = range(i * n, (i + 1) * n)
        for k in team:
            rows.append(_row("single model", i, st.member_seeds[k], member_probs[k], ds))
        ens = {split: combine_probs(torch.stack([member_probs[k][split] for k in team]), "arithmetic")
               for split in ("train", "val", "test")}
        rows.append(_row(ens_name, i, None, ens, ds))
        teacher_accs.append(_accuracies(ens, ds))
        teacher = lab.ensemble(i)
        student_test = []
        for seed in st.student_seeds(i):
            student, history = lab.student_run(seed, lr, objective, teacher)
            p = _probs(student, ds)
            student_test.append(p["test"])
            rows.append(_row("distilled from the ensemble", i, seed, p, ds,
                             agreement_with_teacher=metrics.agreement(ens["test"], p["test"])))
            curves.append({"model": "distilled from the ensemble", "ensemble": i, "seed": seed,
                           "val_accuracy": _curve(history)})
            twin, twin_history = lab.twin_run(seed)
            tp = _probs(twin, ds)
            rows.append(_row("labels, students' epochs", i, seed, tp, ds))
            curves.append({"model": "labels, students' epochs", "ensemble": i, "seed": seed,
                           "val_accuracy": _curve(twin_history)})
            if seed == st.student_seeds(i)[0]:
                twin_vals.append(rows[-1]["val_accuracy"])
        ens_kd = combine_probs(torch.stack(student_test), "arithmetic")
        rows.append({"model": f"ensemble of {st.students_per_ensemble} distilled students", "ensemble": i,
                     "seed": None, **metrics.summary(ens_kd, ds.test.y)})
        first = team.start
        self_kd, self_history = lab.student_run(SELF_SEED + i, lr, objective, members[first])
        rows.append(_row("self-distilled", i, SELF_SEED + i, _probs(self_kd, ds), ds,
                         teacher_seed=st.member_seeds[first],
                         teacher_test_accuracy=metrics.accuracy(member_probs[first]["test"], ds.test.y)))
        curves.append({"model": "self-distilled", "ensemble": i, "seed": SELF_SEED + i,
                       "val_accuracy": _curve(self_history)})
        if st.average_grid:
            avg, avg_history = lab.average_run(i, lab.average_lr())
            rows.append(_row("trained average", i, i, _probs(avg, ds), ds))
            curves.append({"model": "trained average", "ensemble": i, "seed": i, "val_accuracy": _curve(avg_history)})
    for k, m in enumerate(members):  # the members' own curves (from the model cache's histories)
        curves.append({"model": "single model", "ensemble": k // n, "seed": st.member_seeds[k],
                       "val_accuracy": _curve(lab.member_run(lab.member_lr(), st.member_seeds[k])[1])})
    order = ["single model", ens_name, "distilled from the ensemble", "labels, students' epochs", "self-distilled",
             "trained average", f"ensemble of {st.students_per_ensemble} distilled students"]
    rows.sort(key=lambda r: order.index(r["model"]))
    return {"dataset": ds.describe(), "rows": rows, "curves": curves, "n_members": n,
            "epochs": {"members": st.train.epochs, "students": st.student_epochs},
            "chosen": {"member_lr": lab.member_lr(), "student_lr": lr, "T": objective.T, "alpha": objective.alpha,
                       **({"average_lr": lab.average_lr()} if st.average_grid else {})},
            "tuning": lab.tuning_rows(), "teacher_report": recipe.teacher_report(teacher_accs, twin_vals)}


def deep_lab(s: Settings, device: str) -> Lab:
    """Chapter 5's deep setting (data, members, students, their tuning), for another chapter to
    reuse through the model cache (chapter 7 takes its teachers from it)."""
    ds = load_dataset(s.dataset, device=device, train_limit=s.train_limit)
    return Lab("ch05-deep", ds, s.dataset, s.deep, device, s.train_limit)


def deep_spec(s: Settings) -> dict[str, Any]:
    """What decides the deep setting's models: the part of chapter 5's settings that another chapter
    reusing them must name in its own results' keys (a change here re-keys that chapter)."""
    return {"version": s.version, "dataset": s.dataset, "train_limit": s.train_limit, "deep": s.deep}


def _deep_part(s: Settings, device: str) -> dict:
    lab = deep_lab(s, device)
    return compare_setting("ch05-deep", lab.ds, s.dataset, s.deep, device, s.train_limit)


def _rf_part(s: Settings, device: str) -> dict:
    ds = load_dataset(s.dataset, device=device, train_limit=s.train_limit)
    return compare_setting("ch05-rf", ds, s.dataset, s.rf, device, s.train_limit)


def _gaussian_part(s: Settings, device: str) -> dict:
    g = s.gaussian_task
    ds = gaussian_teacher_task(dim=g.dim, width=g.width, num_classes=g.num_classes, n_train=g.n_train,
                               n_test=g.n_test, seed=g.seed).to(device)
    key = f"gaussian-teacher:{g.dim}:{g.width}:{g.num_classes}:{g.n_train}:{g.n_test}:{g.seed}"
    out = compare_setting("ch05-gauss", ds, key, s.gaussian, device)
    counts = torch.bincount(ds.train.y.cpu(), minlength=g.num_classes)
    out["class_share_range"] = [float(counts.min()) / len(ds.train), float(counts.max()) / len(ds.train)]
    return out


PARTS = (Part("ch05-deep", _deep_part, ("version", "dataset", "train_limit", "deep")),
         Part("ch05-rf", _rf_part, ("version", "dataset", "train_limit", "rf")),
         Part("ch05-gaussian", _gaussian_part, ("version", "gaussian_task", "gaussian")))


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False,
        changes: Mapping[str, Any] | None = None) -> dict[str, StoredResult]:
    """Train (or load) chapter 5's models in its three settings and store the measurements.
    ``changes`` varies the profile's settings by name (the fields of ``Settings``), for the exercises."""
    s = with_changes(settings(profile), changes)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.deep.member_seeds)
