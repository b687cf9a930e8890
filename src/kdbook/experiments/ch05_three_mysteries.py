"""Chapter 5, three mysteries: ensemble, knowledge distillation, self-distillation (Allen-Zhu & Li 2020).

Three stored results, each the same comparison in one setting (read by
:mod:`kdbook.reports.ch05_three_mysteries`):

* ``ch05-deep``: small CNNs on real images: a single model, an ensemble of N, a student distilled
  from the ensemble, self-distillation (a fresh net distilled from one trained net), the average
  (F1 + ... + FN)/N trained directly as one model, and an ensemble of distilled students;
* ``ch05-rf``: the same with random-feature models (a frozen random ReLU layer, trained head);
* ``ch05-gaussian``: single models, their ensemble and a distilled student on Gaussian inputs
  labelled by a fixed random network (no structure for members to disagree about).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .. import metrics, validate
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
    trained_model,
    with_changes,
)

TITLE = "Three mysteries: ensemble, knowledge distillation, self-distillation"
NOTEBOOK = "ch05_three_mysteries.ipynb"

@dataclass(frozen=True)
class Setting:
    """One model family trained on one task: the members, the students and the trained average."""

    model: ModelConfig
    train: TrainConfig
    n_members: int
    seeds: tuple[int, ...]
    T: float = 4.0
    #: students distilled from each ensemble (their average is the "ensemble of distilled students")
    students_per_ensemble: int = 3

    def __post_init__(self) -> None:
        validate.raise_if([validate.positive_int("n_members", self.n_members),
                    None if isinstance(self.students_per_ensemble, int) and self.students_per_ensemble >= 2
                    else "students_per_ensemble must be an integer >= 2",
                    None if self.n_members >= 2 else "n_members must be at least 2",
                    validate.seeds("seeds", self.seeds), validate.positive("T", self.T),
                    None if len(self.seeds) >= 2 else "seeds must hold at least 2 seeds"],
                   "ch05 setting")

    @property
    def member_seeds(self) -> list[int]:
        """Seeds of every member: one ensemble of ``n_members`` per entry of ``seeds``."""
        return list(range(100, 100 + self.n_members * len(self.seeds)))

    def ensemble_seeds(self, i: int) -> list[int]:
        """Seeds of the members of ensemble ``i`` (the teacher of student ``seeds[i]``)."""
        return self.member_seeds[i * self.n_members:(i + 1) * self.n_members]


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
    version: int = 1


SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        dataset="digits", train_limit=None,
        deep=Setting(ModelConfig("cnn", (8, 16)), TrainConfig(epochs=3, batch_size=64, lr=0.05), n_members=3, seeds=(0, 1), students_per_ensemble=2),
        rf=Setting(ModelConfig("rf", (256,)), TrainConfig(epochs=3, batch_size=64, lr=0.05), n_members=3, seeds=(0, 1), students_per_ensemble=2),
        gaussian_task=GaussianTask(dim=10, width=20, n_train=500, n_test=1000),
        gaussian=Setting(ModelConfig("mlp", (32,)), TrainConfig(epochs=3, batch_size=64, lr=0.05), n_members=3, seeds=(0, 1))),
    # Fashion-MNIST with 10,000 training images keeps 66 CNN trainings within the CPU budget. Adam,
    # because the trained average scales each sub-network's gradient by 1/N (with SGD at the
    # members' rate it barely trained: 13.9% in a first run), and Adam is invariant to that scale.
    # The CNN (three blocks) and lr were picked on the validation split of one seed.
    "full": Settings(
        dataset="fashion-mnist", train_limit=10_000,
        deep=Setting(ModelConfig("cnn", (16, 32, 64)), TrainConfig(epochs=10, batch_size=128, lr=0.003, optimizer="adam"),
                     n_members=10, seeds=(0, 1, 2)),
        rf=Setting(ModelConfig("rf", (1024,)), TrainConfig(epochs=10, batch_size=128, lr=0.003, optimizer="adam"),
                   n_members=10, seeds=(0, 1, 2)),
        gaussian_task=GaussianTask(),
        gaussian=Setting(ModelConfig("mlp", (256, 256)), TrainConfig(epochs=30, batch_size=128, lr=0.02), n_members=10,
                         seeds=(0, 1, 2))),
    "paper": Settings(
        dataset="cifar10", train_limit=None,
        deep=Setting(ModelConfig("cnn", (64, 128, 256)),
                     TrainConfig(epochs=60, batch_size=128, lr=0.05, augment="crop_flip", augment_px=4, weight_decay=5e-4),
                     n_members=10, seeds=(0, 1, 2)),
        rf=Setting(ModelConfig("rf", (8192,)), TrainConfig(epochs=30, batch_size=128, lr=0.02), n_members=10,
                   seeds=(0, 1, 2)),
        gaussian_task=GaussianTask(),
        gaussian=Setting(ModelConfig("mlp", (256, 256)), TrainConfig(epochs=30, batch_size=128, lr=0.02), n_members=10,
                         seeds=(0, 1, 2))),
}


def settings(profile: str) -> Settings:
    """Chapter 5's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


# ------------------------------------------------------------------------------ computations
def trained_average(kind: str, ds: Dataset, dataset_key: str, st: Setting, seed: int, *, device: str = "cpu",
                    train_limit: int | None = None):
    """The average (F1 + ... + FN)/N of ``st.n_members`` sub-networks trained as one model on the
    labels (cached like any trained model); ``seed`` picks the sub-networks' initial weights and the
    data order."""
    sub_seeds = tuple(1000 * (seed + 1) + i for i in range(st.n_members))
    return trained_model(kind, ds, dataset_key, st.model, st.train, seed, device=device, train_limit=train_limit,
                         init=AverageInit(sub_seeds))


def compare_setting(prefix: str, ds: Dataset, dataset_key: str, st: Setting, device: str,
                    train_limit: int | None = None, with_average: bool = True) -> dict:
    """Every row of the comparison for one setting, per net: one ensemble of ``st.n_members`` per
    seed, ``st.students_per_ensemble`` students distilled from it and their ensemble, a
    self-distilled student of its first member, and a trained average; the single-model row
    holds every member."""
    y = ds.test.y
    members = trained_members(f"{prefix}-member", ds, dataset_key, st.model, st.train, st.member_seeds,
                              device=device, train_limit=train_limit)
    test_probs = torch.stack([predict_probs(m, ds.test.x) for m in members])
    rows = [{"model": "single model", "seed": s, **metrics.summary(p, y)} for s, p in zip(st.member_seeds, test_probs)]
    dcfg = DistillConfig(T=st.T)
    for i, seed in enumerate(st.seeds):
        team = slice(i * st.n_members, (i + 1) * st.n_members)
        ens_test = combine_probs(test_probs[team], "arithmetic")
        rows.append({"model": f"ensemble of {st.n_members}", "seed": seed, **metrics.summary(ens_test, y)})
        ensemble = Ensemble(members[team], "arithmetic")
        kd_probs = []
        for j in range(st.students_per_ensemble):
            kd = trained_model(f"{prefix}-kd", ds, dataset_key, st.model, st.train, seed + 100 * j, device=device,
                               train_limit=train_limit, objective=dcfg, teacher=ensemble)
            p = predict_probs(kd, ds.test.x)
            kd_probs.append(p)
            rows.append({"model": "distilled from the ensemble", "seed": seed + 100 * j, "teacher": i,
                         "agreement_with_teacher": metrics.agreement(ens_test, p), **metrics.summary(p, y)})
        rows.append({"model": f"ensemble of {st.students_per_ensemble} distilled students", "seed": seed,
                     **metrics.summary(combine_probs(torch.stack(kd_probs), "arithmetic"), y)})
        first = st.ensemble_seeds(i)[0]
        self_kd = trained_model(f"{prefix}-self", ds, dataset_key, st.model, st.train, 10_000 + seed, device=device,
                                train_limit=train_limit, objective=dcfg, teacher=members[team.start])
        rows.append({"model": "self-distilled", "seed": seed, "teacher_seed": first,
                     "teacher_accuracy": metrics.accuracy(test_probs[team.start], y),
                     **metrics.summary(predict_probs(self_kd, ds.test.x), y)})
        if with_average:
            avg = trained_average(f"{prefix}-average", ds, dataset_key, st, seed, device=device, train_limit=train_limit)
            rows.append({"model": "trained average", "seed": seed, **metrics.summary(predict_probs(avg, ds.test.x), y)})
    order = ["single model", f"ensemble of {st.n_members}", "distilled from the ensemble", "self-distilled",
             "trained average", f"ensemble of {st.students_per_ensemble} distilled students"]
    rows.sort(key=lambda r: order.index(r["model"]))
    return {"dataset": ds.describe(), "rows": rows, "n_members": st.n_members}


def _deep_part(s: Settings, device: str) -> dict:
    ds = load_dataset(s.dataset, device=device, train_limit=s.train_limit)
    return compare_setting("ch05-deep", ds, s.dataset, s.deep, device, s.train_limit)


def _rf_part(s: Settings, device: str) -> dict:
    ds = load_dataset(s.dataset, device=device, train_limit=s.train_limit)
    return compare_setting("ch05-rf", ds, s.dataset, s.rf, device, s.train_limit)


def _gaussian_part(s: Settings, device: str) -> dict:
    g = s.gaussian_task
    ds = gaussian_teacher_task(dim=g.dim, width=g.width, num_classes=g.num_classes, n_train=g.n_train,
                               n_test=g.n_test, seed=g.seed).to(device)
    key = f"gaussian-teacher:{g.dim}:{g.width}:{g.num_classes}:{g.n_train}:{g.n_test}:{g.seed}"
    out = compare_setting("ch05-gauss", ds, key, s.gaussian, device, with_average=False)
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
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.deep.seeds)
