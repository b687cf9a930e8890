"""Chapter 9, three questions the articles leave open, each answered by a measurement.

1. Does distillation help less when there are fewer classes (less "dark knowledge" per target)?
2. Can soft targets come from a model without a softmax (a random forest, gradient boosting)?
3. Does matching the teacher's hidden representation (a "hint") help beyond its outputs?
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import metrics
from ..data import Dataset, load_dataset, restrict_classes
from ..hints import HintStudent, HintTeacher
from ..losses import DistillConfig, HintObjective, probs_to_logits
from ..models import ModelConfig, build_model
from ..profiles import get_profile
from ..store import StoredResult
from ..teachers import freeze
from ..train import TrainConfig, predict_probs, train
from .common import Part, run_parts, trained_model, with_changes, with_seed

TITLE = "Open questions"
NOTEBOOK = "ch09_open_questions.ipynb"


@dataclass(frozen=True)
class Settings:
    """Chapter 9's three experiments for one profile."""

    dataset: str
    train_limit: int | None
    seeds: tuple[int, ...]
    # few classes
    class_counts: tuple[int, ...]
    subsets_per_count: int
    teacher: ModelConfig
    teacher_train: TrainConfig
    student: ModelConfig
    student_train: TrainConfig
    T: float
    alpha: float
    # soft targets from trees
    forest_trees: int
    boosting_iterations: int
    tree_temperatures: tuple[float, ...]
    tree_student: ModelConfig
    # hints
    hint_widths: tuple[int, ...]
    hint_weight: float
    version: int = 1


SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        dataset="digits", train_limit=None, seeds=(0,), class_counts=(2, 5, 10), subsets_per_count=1,
        teacher=ModelConfig("mlp", (64, 64), dropout=0.1), teacher_train=TrainConfig(epochs=15, batch_size=64, lr=0.05),
        student=ModelConfig("mlp", (8,)), student_train=TrainConfig(epochs=10, batch_size=64, lr=0.05),
        T=4.0, alpha=0.9, forest_trees=20, boosting_iterations=10, tree_temperatures=(1.0, 4.0),
        tree_student=ModelConfig("mlp", (32,)), hint_widths=(8,), hint_weight=1.0),
    "full": Settings(
        dataset="fashion-mnist", train_limit=10000, seeds=(0, 1, 2), class_counts=(2, 3, 5, 10), subsets_per_count=3,
        teacher=ModelConfig("mlp", (512, 512), dropout=0.2), teacher_train=TrainConfig(epochs=20, batch_size=128, lr=0.05),
        student=ModelConfig("mlp", (16,)), student_train=TrainConfig(epochs=20, batch_size=128, lr=0.05),
        T=4.0, alpha=0.9, forest_trees=100, boosting_iterations=40, tree_temperatures=(1.0, 2.0, 4.0),
        tree_student=ModelConfig("mlp", (100,)), hint_widths=(16, 128), hint_weight=1.0),
    "paper": Settings(
        dataset="mnist", train_limit=None, seeds=(0, 1, 2), class_counts=(2, 3, 5, 10), subsets_per_count=3,
        teacher=ModelConfig("mlp", (1200, 1200), dropout=0.2), teacher_train=TrainConfig(epochs=30, batch_size=128, lr=0.05),
        student=ModelConfig("mlp", (16,)), student_train=TrainConfig(epochs=30, batch_size=128, lr=0.05),
        T=4.0, alpha=0.9, forest_trees=300, boosting_iterations=100, tree_temperatures=(1.0, 2.0, 4.0),
        tree_student=ModelConfig("mlp", (100,)), hint_widths=(16, 128), hint_weight=1.0),
}


def settings(profile: str) -> Settings:
    """Chapter 9's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


def class_subsets(num_classes: int, count: int, n_subsets: int, seed: int = 0) -> list[list[int]]:
    """``n_subsets`` distinct, seeded subsets of ``count`` classes (one subset when count = num_classes)."""
    if count >= num_classes:
        return [list(range(num_classes))]
    rng = np.random.default_rng(seed + 1000 * count)
    found: list[list[int]] = []
    while len(found) < n_subsets:
        pick = sorted(rng.choice(num_classes, size=count, replace=False).tolist())
        if pick not in found:
            found.append(pick)
    return found


def _accuracy(model, split) -> float:
    return metrics.accuracy(predict_probs(model, split.x), split.y)


# ----------------------------------------------------------------------------- 1. few classes
def _few_classes(s: Settings, ds: Dataset, device: str) -> list[dict]:
    rows = []
    for count in s.class_counts:
        for classes in class_subsets(ds.num_classes, count, s.subsets_per_count):
            sub = restrict_classes(ds, classes)
            key = f"{s.dataset}:{','.join(map(str, classes))}"
            for seed in s.seeds:
                teacher = freeze(trained_model("ch09-teacher", sub, key, s.teacher, s.teacher_train, seed,
                                               device=device, train_limit=s.train_limit))
                labels = trained_model("ch09-student", sub, key, s.student, s.student_train, seed,
                                       device=device, train_limit=s.train_limit)
                dcfg = DistillConfig(T=s.T, alpha=s.alpha)
                distilled = trained_model("ch09-student", sub, key, s.student, s.student_train, seed, device=device,
                                          train_limit=s.train_limit, objective=dcfg, teacher=teacher)
                rows.append({"classes": classes, "count": count, "seed": seed,
                             "teacher": _accuracy(teacher, sub.test), "labels": _accuracy(labels, sub.test),
                             "distilled": _accuracy(distilled, sub.test)})
    return rows


# ----------------------------------------------------------------------------- 2. trees
def _tree_models(s: Settings, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    return {
        "random forest": RandomForestClassifier(n_estimators=s.forest_trees, n_jobs=-1, random_state=seed),
        "gradient boosting": HistGradientBoostingClassifier(max_iter=s.boosting_iterations, random_state=seed,
                                                            early_stopping=False),
    }


def _trees(s: Settings, ds: Dataset, device: str) -> list[dict]:
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_predict

    x_train = ds.train.x.flatten(1).cpu().numpy()
    y_train = ds.train.y.cpu().numpy()
    rows = []
    for seed in s.seeds:
        for name, model in _tree_models(s, seed).items():
            # Soft targets for the training set come from models that did not see the example
            # (2-fold cross-fitting); the model fitted on everything is the one compared on test.
            held_out = cross_val_predict(clone(model), x_train, y_train, cv=2, method="predict_proba")
            fitted = clone(model).fit(x_train, y_train)
            tree_test = float((fitted.predict(ds.test.x.flatten(1).cpu().numpy()) == ds.test.y.cpu().numpy()).mean())
            log_p = probs_to_logits(torch.tensor(held_out, dtype=torch.float32))
            for T in s.tree_temperatures:
                student = build_model(s.tree_student, ds.input_shape, ds.num_classes, seed=seed)
                train(student, ds.train, with_seed(s.student_train, seed), DistillConfig(T=T),
                      teacher_logits=log_p, name=f"ch09 from {name} T={T}")
                rows.append({"teacher": name, "seed": seed, "T": T, "teacher_test": tree_test,
                             "held_out_train_accuracy": float((held_out.argmax(1) == y_train).mean()),
                             "student_val": _accuracy(student, ds.val), "student_test": _accuracy(student, ds.test)})
        labels = trained_model("ch09-tree-student", ds, s.dataset, s.tree_student, s.student_train, seed,
                               device=device, train_limit=s.train_limit)
        rows.append({"teacher": "labels", "seed": seed, "T": 0.0, "teacher_test": float("nan"),
                     "held_out_train_accuracy": float("nan"),
                     "student_val": _accuracy(labels, ds.val), "student_test": _accuracy(labels, ds.test)})
    return rows


# ----------------------------------------------------------------------------- 3. hints
HINT_VARIANTS = {  # name -> (weight of the soft term, weight of the hint)
    "labels": (0.0, 0.0),
    "outputs": (None, 0.0),
    "hint": (0.0, None),
    "outputs + hint": (None, None),
}


def _hints(s: Settings, ds: Dataset, device: str) -> list[dict]:
    rows = []
    for seed in s.seeds:
        teacher = freeze(trained_model("ch09-teacher", ds, s.dataset, s.teacher, s.teacher_train, seed,
                                       device=device, train_limit=s.train_limit))
        hint_teacher = HintTeacher(teacher)
        for width in s.hint_widths:
            for name, (soft, hint) in HINT_VARIANTS.items():
                soft = s.alpha if soft is None else soft
                hint = s.hint_weight if hint is None else hint
                base = build_model(ModelConfig("mlp", (width,)), ds.input_shape, ds.num_classes, seed=seed)
                student = HintStudent(base, s.teacher.widths[-1]).to(device)
                objective = HintObjective(ds.num_classes, T=s.T, soft_weight=soft, hint_weight=hint)
                train(student, ds.train, with_seed(s.student_train, seed), objective, teacher=hint_teacher,
                      name=f"ch09 {name} width {width}")
                rows.append({"seed": seed, "width": width, "variant": name,
                             "val": _accuracy(student, ds.val), "test": _accuracy(student, ds.test),
                             "teacher_test": _accuracy(teacher, ds.test)})
    return rows


def _compute(s: Settings, device: str) -> dict:
    ds = load_dataset(s.dataset, device=device, train_limit=s.train_limit)
    return {"dataset": ds.describe(), "few_classes": _few_classes(s, ds, device),
            "trees": _trees(s, ds, device), "hints": _hints(s, ds, device)}


PARTS = (Part("ch09-open-questions", _compute, tuple(f.name for f in dataclasses.fields(Settings)),
              name="open_questions"),)


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False,
        changes: Mapping[str, Any] | None = None) -> dict[str, StoredResult]:
    """Run (or load) the three experiments.
    ``changes`` varies the profile's settings by name (the fields of ``Settings``), for the exercises."""
    s = with_changes(settings(profile), changes)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.seeds)
