"""Chapter 1, soft targets and temperature: the logits of a trained teacher and student.

The trained part is small: a teacher MLP and an under-trained small student give concrete
logits on held-out images (stored as a result); everything else is computed from those
logits by the chapter's reading module, :mod:`kdbook.reports.ch01_soft_targets`, in milliseconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from .. import metrics
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

