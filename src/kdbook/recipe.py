"""The book's distillation recipe, as small functions every chapter uses.

* **Check the teacher first** (:func:`accuracies`, :func:`teacher_report`): its training,
  validation and test accuracy, and its validation advantage over a label-trained net of the
  student's architecture, paired by seed. A teacher without a clear advantage has nothing to
  pass on, and a page says so before it distils.
* **Equal tuning budgets** (:func:`equal_budgets`, :func:`choose_on_validation`): the label-trained
  baseline and the distilled student each get their settings chosen on the validation split
  from grids of the same size. Never on test.
* **Patient students** (:func:`patient_epochs`): a student trains for a stated multiple of its
  teacher's epochs, and its validation curve is kept so a reader sees whether training had ended.

Consistent teaching (the teacher labels the student's augmented view at every step) is the
trainer's behaviour (:func:`kdbook.train.fit`); ``TrainConfig.fixed_teacher`` is the switch to
fixed targets.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from torch import nn

from . import metrics
from .data import Dataset
from .train import predict_probs

P = TypeVar("P")


def accuracies(model: nn.Module, ds: Dataset) -> dict[str, float]:
    """``train_accuracy``, ``val_accuracy`` and ``test_accuracy`` of ``model`` on ``ds`` (eval mode,
    the un-augmented training images)."""
    return {f"{name}_accuracy": metrics.accuracy(predict_probs(model, split.x), split.y)
            for name, split in (("train", ds.train), ("val", ds.val), ("test", ds.test))}


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = [float(v) for v in values]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def teacher_report(teacher: Sequence[Mapping[str, float]], student_val: Sequence[float]) -> dict[str, Any]:
    """A teacher's report over seeds: its train / validation / test accuracy (mean and standard
    deviation) and its validation advantage over label-trained students (``student_val``, one per
    seed, paired with ``teacher`` in order). ``has_advantage`` applies the book's cautious rule:
    the teacher's mean validation accuracy exceeds the students' by more than the two standard
    deviations added."""
    if not teacher or len(teacher) != len(student_val):
        raise ValueError("a teacher report needs one label-trained student per teacher seed")
    out: dict[str, Any] = {"seeds": len(teacher)}
    for key in ("train_accuracy", "val_accuracy", "test_accuracy"):
        out[key], out[f"{key}_std"] = _mean_std([t[key] for t in teacher])
    out["student_val_accuracy"], out["student_val_accuracy_std"] = _mean_std(student_val)
    out["val_advantage"], out["val_advantage_std"] = _mean_std(
        [t["val_accuracy"] - s for t, s in zip(teacher, student_val)])
    out["has_advantage"] = bool(out["val_accuracy"] - out["student_val_accuracy"]
                                > out["val_accuracy_std"] + out["student_val_accuracy_std"])
    return out


def equal_budgets(grids: Mapping[str, Sequence[Any]]) -> str | None:
    """A problem (for :func:`kdbook.validate.raise_if`) when the named tuning grids are empty or do
    not all have the same number of points, else None."""
    sizes = {name: len(grid) for name, grid in grids.items()}
    if any(n == 0 for n in sizes.values()):
        return f"tuning grids must not be empty: {sizes}"
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{name} {n}" for name, n in sizes.items())
        return f"tuning grids must have the same size (equal tuning budgets), got {listed}"
    return None


def choose_on_validation(points: Sequence[P], val_accuracy: Callable[[P], float]) -> tuple[P, list[float]]:
    """The point of ``points`` whose run has the highest validation accuracy (the first on a tie),
    and every point's validation accuracy in order."""
    if not points:
        raise ValueError("choose_on_validation needs at least one point")
    scores = [float(val_accuracy(p)) for p in points]
    if any(math.isnan(s) for s in scores):
        raise ValueError("a validation accuracy is NaN")
    return points[max(range(len(points)), key=lambda i: (scores[i], -i))], scores


def patient_epochs(teacher_epochs: int, multiple: float) -> int:
    """A patient student's epochs: ``multiple`` (>= 1) times its teacher's, rounded up."""
    if multiple < 1:
        raise ValueError(f"a patient student trains at least as long as its teacher (multiple >= 1), got {multiple}")
    return math.ceil(teacher_epochs * multiple)
