"""Chapter 1, soft targets and temperature: the logits of a trained teacher and student.

The trained part is small: chapter 2's teacher (chosen there on validation, shared through the
model cache) and an under-trained small student give concrete logits on held-out images (stored
as a result); everything else is computed from those logits by the chapter's reading module,
:mod:`kdbook.reports.ch01_soft_targets`, in milliseconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .. import metrics, validate
from ..data import load_dataset
from ..models import ModelConfig
from ..profiles import get_profile
from ..store import StoredResult
from ..train import TrainConfig, predict_logits
from . import ch02_big_to_small as ch02
from .common import Part, run_parts, trained_model, with_changes

TITLE = "Soft targets and temperature"
NOTEBOOK = "ch01_soft_targets.ipynb"


@dataclass(frozen=True)
class Settings:
    """What chapter 1 trains to obtain its logits: the teacher is chapter 2's (of profile
    ``teacher_from``, trained on all its images), the student its own."""

    teacher_from: str
    student: ModelConfig
    student_train: TrainConfig
    n_examples: int
    seeds: tuple[int, ...]
    temperatures: tuple[float, ...] = (1, 2, 3, 5, 10, 20, 50, 100)
    version: int = 2  # bump when the computation changes meaning

    def __post_init__(self) -> None:
        validate.raise_if([validate.choice("teacher_from", self.teacher_from, sorted(ch02.SETTINGS)),
                           validate.seeds("seeds", self.seeds)], "ch01 settings")

    @property
    def ch02(self) -> ch02.Settings:
        """Chapter 2's settings of profile ``teacher_from``."""
        return ch02.SETTINGS[self.teacher_from]

    @property
    def ch02_teacher(self) -> dict:
        """What decides chapter 2's teacher (part of this chapter's key: a change there re-keys it)."""
        return ch02.teacher_spec(self.ch02)


_T_GRID = (1, 1.5, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 200)

SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        teacher_from="smoke",
        student=ModelConfig("mlp", (16,)),
        student_train=TrainConfig(epochs=1, batch_size=64, lr=0.02),
        n_examples=64,
        seeds=(0,),
        temperatures=_T_GRID,
    ),
    "full": Settings(
        teacher_from="full",
        student=ModelConfig("mlp", (30,)),
        student_train=TrainConfig(epochs=1, batch_size=128, lr=0.01),
        n_examples=300,
        seeds=(0, 1, 2),
        temperatures=_T_GRID,
    ),
    "paper": Settings(
        teacher_from="paper",
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
    c2 = s.ch02
    regime = c2.regimes[0]
    ds = load_dataset(c2.dataset, device=device, train_limit=regime.train_limit)
    teacher_name = ch02.search_teacher(c2, device)[0].name
    # A fixed, seeded sample of test images shared by all seeds.
    pick = torch.randperm(len(ds.test), generator=torch.Generator().manual_seed(1234))[: s.n_examples].sort().values
    x, y = ds.test.x[pick.to(device)], ds.test.y[pick.to(device)]
    per_seed = []
    for seed in s.seeds:
        made = {"teacher": ch02.teacher_model(c2, regime, ds, seed, device),
                "student": trained_model("ch01-student", ds, c2.dataset, s.student, s.student_train, seed,
                                         device=device, train_limit=regime.train_limit)}
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
            "teacher": teacher_name, "per_seed": per_seed}


PARTS = (Part("ch01-logits", _compute_logits, (*(f.name for f in dataclasses.fields(Settings)), "ch02_teacher")),)


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False,
        changes: Mapping[str, Any] | None = None) -> dict[str, StoredResult]:
    """Train (or load) chapter 1's teacher and student and store their logits.
    ``changes`` varies the profile's settings by name (the fields of ``Settings``), for the exercises."""
    s = with_changes(settings(profile), changes)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.seeds)

