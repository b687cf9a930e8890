"""Chapter 3, learning a class it never saw (Hinton et al. 2015, the MNIST section).

A student is distilled from chapter 2's teacher on a transfer set from which one class was
removed entirely (``ch03-omitted``), and on a transfer set holding only two classes
(``ch03-two-classes``), each for the same number of training steps. The student's output biases
are then shifted: up for the missing class, down for the two present ones. The shift is chosen
on the validation split, or without any label at all: the shift at which the shifted classes'
predicted share of the (unlabelled) validation images matches their prior share, 1 / C per
class. The test split is only measured, at every shift, to draw the curve, with the confusion
matrix at the chosen shift. The tables, sentences, claims and the paper's
numbers are in :mod:`kdbook.reports.ch03_unseen_class`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import validate
from ..data import Dataset, Split, load_dataset
from ..losses import DistillConfig
from ..models import ModelConfig
from ..profiles import get_profile
from ..store import StoredResult
from ..teachers import freeze
from ..train import TrainConfig, predict_logits
from . import ch02_big_to_small as ch02
from .common import Part, run_parts, trained_model, with_changes

TITLE = "Learning a class it never saw"
NOTEBOOK = "ch03_unseen_class.ipynb"

@dataclass(frozen=True)
class Settings:
    """Chapter 3's teacher (chapter 2's), students and bias grids for one profile."""

    teacher_from: str  # the chapter 2 profile whose teacher is reused
    student: ModelConfig
    student_train: TrainConfig  # the distilled students'; the labels-only control: the same steps at chapter 2's tuned lr
    T: float
    omitted_class: int
    kept_classes: tuple[int, int]
    shifts_up: tuple[float, ...]
    shifts_down: tuple[float, ...]
    seeds: tuple[int, ...]
    #: bump by passing a new value in SETTINGS (a field at its default is left out of the key)
    version: int = 1

    def __post_init__(self) -> None:
        validate.raise_if([
            validate.choice("teacher_from", self.teacher_from, sorted(ch02.SETTINGS)),
            validate.positive("T", self.T),
            validate.seeds("seeds", self.seeds),
            validate.non_empty("shifts_up", self.shifts_up),
            validate.non_empty("shifts_down", self.shifts_down),
            None if len(set(self.kept_classes)) == 2 else "kept_classes must be two different classes",
            None if 0.0 in self.shifts_up and 0.0 in self.shifts_down else "the shift grids must contain 0",
        ], "ch03 settings")

    @property
    def ch02(self) -> ch02.Settings:
        """Chapter 2's settings of profile ``teacher_from``."""
        return ch02.SETTINGS[self.teacher_from]

    @property
    def ch02_students(self) -> dict:
        """What decides chapter 2's teacher and label-trained net (part of this chapter's keys)."""
        return ch02.label_spec(self.ch02)


def _grid(lo: float, hi: float, step: float) -> tuple[float, ...]:
    return tuple(float(x) for x in np.round(np.arange(lo, hi + step / 2, step), 6))


SETTINGS: dict[str, Settings] = {
    "smoke": Settings(teacher_from="smoke", student=ModelConfig("mlp", (64, 64)),
                      student_train=TrainConfig(epochs=10, batch_size=64, lr=0.02), T=20.0,
                      omitted_class=3, kept_classes=(7, 8), shifts_up=_grid(0, 12, 0.5),
                      shifts_down=_grid(-20, 0, 0.5), seeds=(0, 1), version=3),
    "full": Settings(teacher_from="full", student=ModelConfig("mlp", (800, 800)),
                     student_train=TrainConfig(epochs=20, batch_size=128, lr=0.01), T=20.0,
                     omitted_class=3, kept_classes=(7, 8), shifts_up=_grid(0, 12, 0.25),
                     shifts_down=_grid(-20, 0, 0.25), seeds=(0, 1, 2), version=3),
    "paper": Settings(teacher_from="paper", student=ModelConfig("mlp", (800, 800)),
                      student_train=TrainConfig(epochs=60, batch_size=128, lr=0.01), T=20.0,
                      omitted_class=3, kept_classes=(7, 8), shifts_up=_grid(0, 12, 0.1),
                      shifts_down=_grid(-20, 0, 0.1), seeds=(0, 1, 2), version=3),
}


def settings(profile: str) -> Settings:
    """Chapter 3's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


# ------------------------------------------------------------------------------ the bias shift
def shift_bias(logits: torch.Tensor, classes, shift: float) -> torch.Tensor:
    """``logits`` with ``shift`` added to the columns of ``classes`` (the effect of moving their biases)."""
    out = logits.clone()
    out[:, list(classes)] += shift
    return out


def shift_curve(logits: torch.Tensor, labels: torch.Tensor, classes, shifts, focus=None) -> dict[str, list[int]]:
    """Errors overall, and on the classes in ``focus`` (default ``classes``), at every shift."""
    focus = list(classes if focus is None else focus)
    in_focus = torch.isin(labels, torch.tensor(focus, device=labels.device))
    total, on_focus = [], []
    for s in shifts:
        wrong = shift_bias(logits, classes, s).argmax(-1) != labels
        total.append(int(wrong.sum()))
        on_focus.append(int((wrong & in_focus).sum()))
    return {"errors": total, "focus_errors": on_focus}


def prior_matching_shift(logits: torch.Tensor, classes, shifts, num_classes: int) -> float:
    """The shift (from ``shifts``) at which the share of examples predicted as one of ``classes``
    is closest to their prior share len(classes) / num_classes: no label is used (the smallest
    shift in size on ties)."""
    target = len(list(classes)) / num_classes
    inside = torch.tensor(list(classes), device=logits.device)
    gaps = np.array([abs(torch.isin(shift_bias(logits, classes, s).argmax(-1), inside).float().mean().item() - target)
                     for s in shifts])
    shifts = np.asarray(shifts, dtype=float)
    best = np.flatnonzero(np.isclose(gaps, gaps.min()))
    return float(shifts[best[np.argmin(np.abs(shifts[best]))]])


def confusion(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[list[int]]:
    """Counts (true class rows, predicted class columns)."""
    pred = logits.argmax(-1)
    m = torch.zeros(num_classes, num_classes, dtype=torch.long)
    m.index_put_((labels.cpu(), pred.cpu()), torch.ones(len(labels), dtype=torch.long), accumulate=True)
    return m.tolist()


def choose_shift(val_errors, shifts) -> float:
    """The shift with the fewest validation errors (the smallest in size on ties)."""
    val_errors, shifts = np.asarray(val_errors), np.asarray(shifts, dtype=float)
    best = np.flatnonzero(val_errors == val_errors.min())
    return float(shifts[best[np.argmin(np.abs(shifts[best]))]])


def equal_steps(s: Settings, ds: Dataset, transfer_size: int) -> TrainConfig:
    """The distilled students' config for a transfer set of ``transfer_size`` images: as many
    optimisation steps as ``student_train`` takes on the omitted-class transfer set (more epochs
    on a smaller set)."""
    reference = int((ds.train.y != s.omitted_class).sum())
    epochs = max(1, round(s.student_train.epochs * reference / transfer_size))
    return dataclasses.replace(s.student_train, epochs=epochs)


def _transfer(split: Split, keep: torch.Tensor) -> tuple[Split, torch.Tensor]:
    idx = torch.nonzero(keep).flatten()
    return split.subset(idx), idx


def _measure(model, ds: Dataset, classes, shifts, focus) -> dict:
    out = {"count_test": int(torch.isin(ds.test.y, torch.tensor(list(focus), device=ds.test.y.device)).sum())}
    logits = {}
    for name, split in (("val", ds.val), ("test", ds.test)):
        logits[name] = predict_logits(model, split.x)
        out[name] = shift_curve(logits[name], split.y, classes, shifts, focus)
    out["chosen_shift"] = choose_shift(out["val"]["errors"], shifts)
    out["prior_shift"] = prior_matching_shift(logits["val"], classes, shifts, ds.num_classes)
    out["confusion_before"] = confusion(logits["test"], ds.test.y, ds.num_classes)
    out["confusion_after"] = confusion(shift_bias(logits["test"], classes, out["chosen_shift"]), ds.test.y,
                                       ds.num_classes)
    return out


def _compute(s: Settings, device: str, part: str) -> dict:
    c2 = s.ch02
    regime = c2.regimes[0]  # chapter 2's teachers trained on all the data
    ds = load_dataset(c2.dataset, device=device, train_limit=regime.train_limit)
    dcfg = DistillConfig(T=s.T)
    rows = []
    for seed in s.seeds:
        teacher = freeze(ch02.teacher_model(c2, regime, ds, seed, device))
        if part == "omitted":
            c = s.omitted_class
            transfer, idx = _transfer(ds.train, ds.train.y != c)
            classes, shifts, focus = (c,), s.shifts_up, (c,)
        else:
            kept = torch.tensor(list(s.kept_classes), device=ds.train.y.device)
            transfer, idx = _transfer(ds.train, torch.isin(ds.train.y, kept))
            classes, shifts, focus = s.kept_classes, s.shifts_down, tuple(range(ds.num_classes))
        common = dict(device=device, train_limit=regime.train_limit, train_split=transfer)
        models = {"distilled": trained_model("ch03-student", ds, c2.dataset, s.student, equal_steps(s, ds, len(idx)),
                                             seed, objective=dcfg, teacher=teacher, **common)}
        if part == "omitted":  # the control: the same transfer set with hard labels, no teacher
            labels_cfg = dataclasses.replace(equal_steps(s, ds, len(idx)), lr=ch02.label_train(c2, regime, device).lr)
            models["labels only"] = trained_model("ch03-student", ds, c2.dataset, s.student, labels_cfg, seed, **common)
        models["teacher"] = teacher
        for name, model in models.items():
            rows.append({"seed": seed, "model": name, "transfer_size": len(idx),
                         **_measure(model, ds, classes, shifts, focus)})
    return {"dataset": ds.describe(), "class_names": list(ds.class_names), "shifts": list(shifts),
            "classes": list(classes), "test_size": len(ds.test), "rows": rows,
            "student_epochs": equal_steps(s, ds, len(idx)).epochs}


# ``ch02_students`` is what decides chapter 2's teachers and label run, so a change there re-keys these parts.
_STUDENTS = ("version", "teacher_from", "ch02_students", "student", "student_train", "T", "seeds", "omitted_class")
PARTS = (Part("ch03-omitted", lambda s, device: _compute(s, device, "omitted"),
              (*_STUDENTS, "shifts_up")),
         Part("ch03-two-classes", lambda s, device: _compute(s, device, "two-classes"),
              (*_STUDENTS, "kept_classes", "shifts_down")))


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False,
        changes: Mapping[str, Any] | None = None) -> dict[str, StoredResult]:
    """Train (or load) chapter 3's students and store their errors at every bias shift.
    ``changes`` varies the profile's settings by name (the fields of ``Settings``), for the exercises."""
    s = with_changes(settings(profile), changes)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.seeds)

