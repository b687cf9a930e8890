"""Chapter 9, four questions the articles leave open, each answered by a measurement on the book's
recipe (:mod:`kdbook.recipe`): every teacher checked first, the label-trained baseline and the
distilled students tuned on validation from grids of the same size, students trained at least as
long as their teachers and kept at their best validation epoch (the same rule for every student).

Four stored results (read by :mod:`kdbook.reports.ch09_open_questions`):

* ``ch09-classes``: does distillation help less with fewer classes? For each number of classes, a
  stated sample of class subsets (the hardest by the validation confusion of a label-trained net
  on all the classes, and more spread evenly over the rest), a teacher per subset and seed, and
  the student on labels and distilled, their settings chosen per number of classes on validation;
* ``ch09-transfer``: an **unlabelled transfer set**: the student sees the labels of a few of the
  training images only, and the teacher's soft targets on all of them (images whose labels it
  never sees), beside the same student on the labelled images alone, with a teacher that had all
  the labels and one that had the same few;
* ``ch09-trees``: soft targets from a random forest and from gradient boosting (cross-fitted on
  the training images), students with and without a label term, their temperature chosen on
  validation;
* ``ch09-hints``: a hint (the teacher's hidden layer) beside the outputs, per student width, every
  variant tuned on validation.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import metrics, recipe, validate
from .. import transfer as tr
from ..data import Dataset, Split, load_dataset, restrict_classes
from ..hints import HintStudent, HintTeacher
from ..losses import DistillConfig, HintObjective, Objective, probs_to_logits
from ..models import ModelConfig, build_model
from ..profiles import get_profile
from ..store import StoredResult, fit_or_load
from ..teachers import freeze
from ..train import TrainConfig, label_objective, predict_probs, train
from .common import Part, run_key, run_parts, teacher_key, trained_run, with_changes

TITLE = "Open questions"
NOTEBOOK = "ch09_open_questions.ipynb"


@dataclass(frozen=True)
class Sample:
    """Which subsets of ``count`` classes are studied: the ``hardest`` ones, by the confusion between
    their classes of a label-trained net on all the classes (on validation), and ``spread`` more,
    evenly spaced over the rest in that order (so the easiest is among them). Their teachers train
    for ``teacher_epochs``."""

    count: int
    hardest: int
    spread: int
    teacher_epochs: int

    def __post_init__(self) -> None:
        validate.raise_if([
            None if isinstance(self.count, int) and self.count >= 2 else f"count must be an integer >= 2, got {self.count!r}",
            validate.non_negative_int("hardest", self.hardest), validate.non_negative_int("spread", self.spread),
            None if self.hardest + self.spread >= 1 else "a sample needs at least one subset (hardest + spread >= 1)",
            validate.positive_int("teacher_epochs", self.teacher_epochs),
        ], "ch09 sample")


@dataclass(frozen=True)
class Settings:
    """Chapter 9's teachers, students, grids and the four studies for one profile.

    Every teacher is ``teacher`` trained with ``teacher_train`` (its epochs: ``teacher_epochs`` on
    all the classes, the sample's on fewer); every student is ``student`` trained with
    ``student_train`` for ``patience`` times its teacher's epochs, kept at its best validation epoch.
    The label-trained student's learning rate comes from ``label_grid``, a distilled student's
    (lr, T, alpha) from ``distill_grid``, a tree student's (T, alpha) from ``tree_grid`` at the learning
    rate chosen for the student on labels: grids of one size."""

    dataset: str
    train_limit: int | None
    seeds: tuple[int, ...]
    teacher: ModelConfig
    teacher_train: TrainConfig
    teacher_epochs: int
    student: ModelConfig
    student_train: TrainConfig
    patience: float
    label_grid: tuple[float, ...]
    distill_grid: tuple[tuple[float, DistillConfig], ...]
    # 1. few classes: the smaller numbers of classes (all the classes are always studied too)
    samples: tuple[Sample, ...]
    # 2. the unlabelled transfer set: how many training images keep their labels (at most half)
    labelled: int
    # 3. trees
    forest_trees: int
    boosting_iterations: int
    tree_grid: tuple[DistillConfig, ...]
    # 4. hints: the students (MLPs), the weight of the hint term
    hint_students: tuple[ModelConfig, ...]
    hint_weight: float
    version: int = 2

    def __post_init__(self) -> None:
        counts = [x.count for x in self.samples]
        validate.raise_if([
            validate.seeds("seeds", self.seeds),
            None if len(self.seeds) >= 2 else "seeds must hold at least 2 seeds (comparisons are paired over seeds)",
            validate.positive_int("teacher_epochs", self.teacher_epochs),
            None if self.patience >= 1 else f"patience must be >= 1 (students train at least as long as their "
                                            f"teachers), got {self.patience}",
            recipe.equal_budgets({"label_grid": self.label_grid, "distill_grid": self.distill_grid,
                                  "tree_grid": self.tree_grid}),
            *(validate.positive("label_grid lr", lr) for lr in self.label_grid),
            *(validate.positive("distill_grid lr", lr) for lr, _ in self.distill_grid),
            None if counts == sorted(set(counts)) else f"samples must have distinct, increasing counts, got {counts}",
            validate.positive_int("labelled", self.labelled),
            validate.positive_int("forest_trees", self.forest_trees),
            validate.positive_int("boosting_iterations", self.boosting_iterations),
            validate.non_empty("hint_students", self.hint_students),
            *(None if m.kind == "mlp" and m.widths else f"a hint student must be an MLP with a hidden layer, got {m}"
              for m in self.hint_students),
            validate.positive("hint_weight", self.hint_weight),
        ], "ch09 settings")

    def teacher_config(self, epochs: int) -> TrainConfig:
        """The teachers' training config for ``epochs``."""
        return dataclasses.replace(self.teacher_train, epochs=epochs)

    def student_config(self, lr: float, teacher_epochs: int, scale: float = 1.0) -> TrainConfig:
        """A student's training config at ``lr``: ``patience`` times ``teacher_epochs`` (times ``scale``,
        for a smaller training set seen for as many steps), kept at its best validation epoch."""
        epochs = math.ceil(recipe.patient_epochs(teacher_epochs, self.patience) * scale)
        return dataclasses.replace(self.student_train, lr=lr, epochs=epochs, early_stopping=True)


def _distill_grid(lrs: Sequence[float], recipes: Sequence[tuple[float, float]]) -> tuple[tuple[float, DistillConfig], ...]:
    return tuple((lr, DistillConfig(T=T, alpha=alpha)) for lr in lrs for T, alpha in recipes)


#: The distilled students' recipes: a low temperature with an equal label term, or a higher one alone.
_RECIPES = ((2.0, 0.5), (4.0, 1.0))
#: The tree students': T = 1 (the trees' own probabilities) or 2, each with and without a label term.
_TREE_RECIPES = ((1.0, 1.0), (1.0, 0.5), (2.0, 1.0), (2.0, 0.5))

_TEACHER = ModelConfig("convnet", (16, 32), dropout=0.3, hidden=(64,))
SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        dataset="digits", train_limit=None, seeds=(0, 1), teacher=ModelConfig("convnet", (8, 16), hidden=(32,)),
        teacher_train=TrainConfig(batch_size=64, lr=0.05, weight_decay=5e-4), teacher_epochs=8,
        student=ModelConfig("mlp", (32,)), student_train=TrainConfig(batch_size=64), patience=1.0,
        label_grid=(0.05, 0.1), distill_grid=_distill_grid((0.05,), _RECIPES),
        samples=(Sample(2, 1, 1, 8), Sample(5, 1, 0, 8)), labelled=200,
        forest_trees=20, boosting_iterations=10,
        tree_grid=tuple(DistillConfig(T=T, alpha=a) for T, a in _TREE_RECIPES[2:]),
        hint_students=(ModelConfig("mlp", (8,)),), hint_weight=1.0),
    # The teacher: a BatchNorm CNN (in a pilot on 10,000 images: 96% training, 88.5% validation accuracy)
    # for an MLP student (87% on labels). Fewer classes have fewer images: more epochs. Gradients are
    # clipped for every student: in a pilot one distilled pair student collapsed to a constant at lr 0.05.
    "full": Settings(
        dataset="fashion-mnist", train_limit=10000, seeds=(0, 1, 2), teacher=_TEACHER,
        teacher_train=TrainConfig(batch_size=128, lr=0.05, weight_decay=5e-4), teacher_epochs=15,
        student=ModelConfig("mlp", (256, 256)), student_train=TrainConfig(batch_size=128, clip_grad_norm=5.0),
        patience=1.5, label_grid=(0.02, 0.05, 0.1, 0.2), distill_grid=_distill_grid((0.05, 0.1), _RECIPES),
        samples=(Sample(2, 5, 10, 25), Sample(3, 2, 2, 20), Sample(5, 1, 2, 15)), labelled=1000,
        forest_trees=100, boosting_iterations=100,
        tree_grid=tuple(DistillConfig(T=T, alpha=a) for T, a in _TREE_RECIPES),
        hint_students=(ModelConfig("mlp", (16,)), ModelConfig("mlp", (256, 256))), hint_weight=1.0),
    "paper": Settings(
        dataset="mnist", train_limit=None, seeds=(0, 1, 2), teacher=_TEACHER,
        teacher_train=TrainConfig(batch_size=128, lr=0.05, weight_decay=5e-4), teacher_epochs=12,
        student=ModelConfig("mlp", (800, 800)), student_train=TrainConfig(batch_size=128, clip_grad_norm=5.0),
        patience=1.5,
        label_grid=(0.02, 0.05, 0.1, 0.2), distill_grid=_distill_grid((0.05, 0.1), _RECIPES),
        samples=(Sample(2, 5, 10, 20), Sample(3, 2, 4, 15), Sample(5, 1, 3, 12)), labelled=1650,
        forest_trees=300, boosting_iterations=200,
        tree_grid=tuple(DistillConfig(T=T, alpha=a) for T, a in _TREE_RECIPES),
        hint_students=(ModelConfig("mlp", (16,)), ModelConfig("mlp", (800, 800))), hint_weight=1.0),
}


def settings(profile: str) -> Settings:
    """Chapter 9's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


# ----------------------------------------------------------------------------- small pieces
def _accuracy(model, split: Split) -> float:
    return metrics.accuracy(predict_probs(model, split.x), split.y)


def _curve(history: dict) -> list[float | None]:
    return [e.get("val_accuracy") for e in history.get("epochs", [])]


def _best_val(history: dict) -> float:
    """The validation accuracy of the epoch a student was kept at (its best)."""
    epochs = history["epochs"]
    best = history.get("best_epoch") or len(epochs)
    return float(epochs[best - 1]["val_accuracy"])


def confusion_matrix(probs: torch.Tensor, labels: torch.Tensor, num_classes: int) -> np.ndarray:
    """Counts (true class, predicted class) of ``probs``' arg-max against ``labels``."""
    pred = probs.argmax(-1).cpu()
    flat = labels.cpu() * num_classes + pred
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes).numpy()


def subset_confusion(cm: np.ndarray, classes: Sequence[int]) -> float:
    """The share of the images of ``classes`` that a net assigns to *another* class of the subset:
    how hard the subset is for that net."""
    idx = list(classes)
    block = cm[np.ix_(idx, idx)]
    total = cm[idx].sum()
    return float((block.sum() - np.trace(block)) / total) if total else 0.0


def sample_subsets(cm: np.ndarray, sample: Sample) -> list[dict]:
    """The subsets ``sample`` picks from every subset of ``sample.count`` classes ranked by
    :func:`subset_confusion` (hardest first): the ``hardest`` first ones, then ``spread`` evenly
    spaced over the rest. Each with its confusion, its rank (0 = hardest), whether it is one of the
    hardest, and how many subsets were ranked."""
    n = cm.shape[0]
    if sample.count >= n:
        raise validate.ConfigError(f"ch09: a sample of {sample.count} classes needs fewer than the {n} classes")
    ranked = sorted(itertools.combinations(range(n), sample.count), key=lambda c: (-subset_confusion(cm, c), c))
    picks = list(range(min(sample.hardest, len(ranked))))
    rest = len(ranked) - len(picks)
    if sample.spread and rest:
        picks += sorted({len(picks) + int(i) for i in np.linspace(0, rest - 1, min(sample.spread, rest)).round()})
    return [{"classes": list(ranked[i]), "count": sample.count, "confusion": subset_confusion(cm, ranked[i]),
             "rank": i, "hard": i < sample.hardest, "ranked": len(ranked)} for i in picks]


class _Lab:
    """The chapter's data, teachers and students, each trained once and then loaded from the cache."""

    def __init__(self, s: Settings, device: str):
        self.s, self.device = s, device
        self.ds: Dataset = load_dataset(s.dataset, device=device, train_limit=s.train_limit)
        self.all_classes: tuple[int, ...] = tuple(range(self.ds.num_classes))
        self._subsets: dict[tuple[int, ...], Dataset] = {self.all_classes: self.ds}
        #: per number of classes, the subsets its students' settings are tuned on (together)
        self.groups: dict[int, list[tuple[int, ...]]] = {self.ds.num_classes: [self.all_classes]}
        self._tuned: dict[tuple[str, int], dict] = {}

    # --- data
    def subset(self, classes: Sequence[int]) -> Dataset:
        key = tuple(classes)
        if key not in self._subsets:
            self._subsets[key] = restrict_classes(self.ds, list(key))
        return self._subsets[key]

    def data_key(self, classes: Sequence[int]) -> str:
        """The dataset's name in a model's cache key: the dataset for all its classes, else with the classes."""
        return self.s.dataset if tuple(classes) == self.all_classes else f"{self.s.dataset}:{','.join(map(str, classes))}"

    def teacher_epochs(self, count: int) -> int:
        """The epochs of a teacher of ``count`` classes (the settings' samples name the smaller counts)."""
        if count == self.ds.num_classes:
            return self.s.teacher_epochs
        return next(x.teacher_epochs for x in self.s.samples if x.count == count)

    # --- runs
    def teacher(self, classes: Sequence[int], seed: int, train_split: Split | None = None, epochs: int | None = None):
        """The teacher of ``classes`` and ``seed`` (on ``train_split``, a part of the training images, if given)."""
        cfg = self.s.teacher_config(epochs or self.teacher_epochs(len(classes)))
        model, _ = trained_run("ch09-teacher", self.subset(classes), self.data_key(classes), self.s.teacher, cfg, seed,
                               device=self.device, train_limit=self.s.train_limit, train_split=train_split)
        return freeze(model)

    def student(self, classes: Sequence[int], seed: int, lr: float, objective: Objective = label_objective,
                teacher=None, *, train_split: Split | None = None, scale: float = 1.0, kind: str = "ch09-student",
                model: ModelConfig | None = None, **teaching: Any):
        """A student of ``classes`` and ``seed`` at ``lr`` with ``objective`` (distilled from ``teacher``
        when it needs one), kept at its best validation epoch; returns (model, history)."""
        cfg = self.s.student_config(lr, self.teacher_epochs(len(classes)), scale)
        if teacher is not None:
            teaching["teacher"] = teacher
        return trained_run(kind, self.subset(classes), self.data_key(classes), model or self.s.student, cfg, seed,
                           device=self.device, train_limit=self.s.train_limit, objective=objective,
                           train_split=train_split, track_val=True, **teaching)

    # --- tuning, per number of classes, pooled over its subsets (the first seed)
    def tuning(self, method: str, count: int) -> dict:
        """``method``'s ('labels' or 'distilled') setting for ``count`` classes, chosen on the mean
        best-epoch validation accuracy over that count's tuning subsets (:attr:`groups`, first seed),
        with every grid point's."""
        if (method, count) not in self._tuned:
            seed, group = self.s.seeds[0], self.groups[count]
            if method == "labels":
                chosen, scores = recipe.choose_on_validation(
                    list(self.s.label_grid), lambda lr: np.mean([_best_val(self.student(c, seed, lr)[1]) for c in group]))
                points = [{"lr": lr, "val_accuracy": v, "chosen": lr == chosen}
                          for lr, v in zip(self.s.label_grid, scores)]
                self._tuned[method, count] = {"lr": chosen, "objective": label_objective, "points": points}
            else:
                chosen, scores = recipe.choose_on_validation(
                    list(self.s.distill_grid),
                    lambda p: np.mean([_best_val(self.student(c, seed, p[0], p[1], self.teacher(c, seed))[1])
                                       for c in group]))
                points = [{"lr": lr, "T": d.T, "alpha": d.alpha, "val_accuracy": v, "chosen": (lr, d) == chosen}
                          for (lr, d), v in zip(self.s.distill_grid, scores)]
                self._tuned[method, count] = {"lr": chosen[0], "objective": chosen[1], "points": points}
        return self._tuned[method, count]

    def tuned_run(self, method: str, classes: Sequence[int], seed: int):
        """The student of ``classes`` and ``seed`` trained by ``method`` at its tuned setting: (model, history)."""
        t = self.tuning(method, len(classes))
        teacher = self.teacher(classes, seed) if method == "distilled" else None
        return self.student(classes, seed, t["lr"], t["objective"], teacher)


# ----------------------------------------------------------------------------- 1. few classes
def _classes(s: Settings, device: str) -> dict:
    lab = _Lab(s, device)
    ds, full = lab.ds, lab.all_classes
    # the rule that picks the subsets looks at validation only: the confusion of the label-trained
    # student on all the classes (first seed, its learning rate chosen on validation)
    difficulty_model, _ = lab.tuned_run("labels", full, s.seeds[0])
    cm = confusion_matrix(predict_probs(difficulty_model, ds.val.x), ds.val.y, ds.num_classes)
    chosen = [row for x in s.samples for row in sample_subsets(cm, x)]
    chosen.append({"classes": list(full), "count": len(full), "confusion": subset_confusion(cm, full), "rank": 0,
                   "hard": False, "ranked": 1})
    for x in s.samples:  # tuned on the hardest subsets, where settings can make a difference (or on all)
        mine = [row for row in chosen if row["count"] == x.count]
        lab.groups[x.count] = [tuple(row["classes"]) for row in mine if row["hard"] or not x.hardest]
    rows, reports, curves = [], [], []
    for sub in chosen:
        classes, data = sub["classes"], lab.subset(sub["classes"])
        teacher_accs, student_vals = [], []
        for seed in s.seeds:
            accs = recipe.accuracies(lab.teacher(classes, seed), data)
            labels, labels_history = lab.tuned_run("labels", classes, seed)
            distilled, distilled_history = lab.tuned_run("distilled", classes, seed)
            teacher_accs.append(accs)
            student_vals.append(_accuracy(labels, data.val))
            rows.append({**{k: sub[k] for k in ("classes", "count", "confusion", "rank", "hard")}, "seed": seed,
                         "test_size": len(data.test), **{f"teacher_{k}": v for k, v in accs.items()},
                         "labels_val": student_vals[-1], "labels_test": _accuracy(labels, data.test),
                         "labels_train": _accuracy(labels, data.train),
                         "distilled_val": _accuracy(distilled, data.val), "distilled_test": _accuracy(distilled, data.test),
                         "distilled_train": _accuracy(distilled, data.train),
                         "labels_best_epoch": labels_history.get("best_epoch"),
                         "distilled_best_epoch": distilled_history.get("best_epoch")})
            if tuple(classes) == full:
                curves += [{"seed": seed, "method": m, "val_accuracy": _curve(h)}
                           for m, h in (("labels", labels_history), ("distilled", distilled_history))]
        reports.append({"classes": classes, "count": sub["count"], **recipe.teacher_report(teacher_accs, student_vals)})
    tuning = [{"count": count, "method": method, **point} for count in lab.groups
              for method in ("labels", "distilled") for point in lab.tuning(method, count)["points"]]
    return {"dataset": ds.describe(), "class_names": list(ds.class_names), "subsets": chosen, "rows": rows,
            "teacher_reports": reports, "tuning": tuning, "curves": curves,
            "epochs": [{"count": c, "teacher": lab.teacher_epochs(c),
                        "student": s.student_config(0.1, lab.teacher_epochs(c)).epochs} for c in sorted(lab.groups)]}


# ----------------------------------------------------------------------------- 2. the unlabelled transfer set
#: The students of the transfer study: what each learns from.
TRANSFER_METHODS = ("labels", "distilled, labelled images", "distilled, + unlabelled images")
#: The teachers: one trained on every training image's label (Hinton's setting), one on the
#: labelled images only (the student's own labels: no label reaches it that the student lacks).
TRANSFER_TEACHERS = ("all labels", "same labels")


def _transfer(s: Settings, device: str) -> dict:
    lab = _Lab(s, device)
    ds, full = lab.ds, lab.all_classes
    n = len(ds.train)
    labelled_count = min(s.labelled, n // 2)  # at most half the images keep their labels
    scale = n / labelled_count  # the students on the labelled images train for as many steps
    seed0 = s.seeds[0]

    def splits(seed: int) -> tuple[torch.Tensor, Split, Split]:
        idx = tr.labelled_rows(n, labelled_count, seed).to(ds.train.y.device)
        return idx, ds.train.subset(idx), tr.hide_labels(ds.train, idx)

    def teachers(seed: int, labelled: Split) -> dict[str, torch.nn.Module]:
        return {"all labels": lab.teacher(full, seed),
                "same labels": lab.teacher(full, seed, train_split=labelled,
                                           epochs=math.ceil(s.teacher_epochs * scale))}

    def run(method: str, teacher_name: str | None, seed: int, lr: float, objective: Objective | None):
        _, labelled, hidden = splits(seed)
        if method == "labels":
            return lab.student(full, seed, lr, train_split=labelled, scale=scale)
        teacher = teachers(seed, labelled)[teacher_name]
        if method == "distilled, labelled images":
            return lab.student(full, seed, lr, objective, teacher, train_split=labelled, scale=scale)
        return lab.student(full, seed, lr, objective, teacher, train_split=hidden, kind="ch09-transfer-student")

    def grid(method: str) -> list[tuple[float, Objective | None]]:
        if method == "labels":
            return [(lr, None) for lr in s.label_grid]
        if method == "distilled, labelled images":
            return list(s.distill_grid)
        return [(lr, tr.TransferObjective(T=d.T, alpha=d.alpha)) for lr, d in s.distill_grid]

    studied = [("labels", None)] + [(m, t) for m in TRANSFER_METHODS[1:] for t in TRANSFER_TEACHERS]
    tuned, tuning = {}, []
    for method, teacher_name in studied:
        chosen, scores = recipe.choose_on_validation(
            grid(method), lambda p: _best_val(run(method, teacher_name, seed0, p[0], p[1])[1]))
        tuned[method, teacher_name] = chosen
        tuning += [{"method": method, "teacher": teacher_name, "lr": lr,
                    "T": getattr(obj, "T", None), "alpha": getattr(obj, "alpha", None), "val_accuracy": v,
                    "chosen": (lr, obj) == chosen} for (lr, obj), v in zip(grid(method), scores)]
    rows, curves, reports = [], [], {name: ([], []) for name in TRANSFER_TEACHERS}
    for seed in s.seeds:
        idx, labelled, hidden = splits(seed)
        unlabelled = torch.ones(n, dtype=torch.bool, device=idx.device)
        unlabelled[idx] = False
        u = Split(ds.train.x[unlabelled], ds.train.y[unlabelled])
        ceiling, _ = lab.tuned_run("labels", full, seed)
        labels_model, _ = run("labels", None, seed, *tuned["labels", None])
        for name, teacher in teachers(seed, labelled).items():
            # training accuracy on the images each teacher was trained on
            accs = recipe.accuracies(teacher, ds if name == "all labels" else dataclasses.replace(ds, train=labelled))
            reports[name][0].append({**accs, "unlabelled_accuracy": _accuracy(teacher, u)})
            reports[name][1].append(_accuracy(labels_model, ds.val))
        rows.append({"seed": seed, "method": "labels, all images", "teacher": None, "val": _accuracy(ceiling, ds.val),
                     "test": _accuracy(ceiling, ds.test), "unlabelled": _accuracy(ceiling, u), "agreement": None,
                     "best_epoch": None, "epochs": None})
        for method, teacher_name in studied:
            model, history = run(method, teacher_name, seed, *tuned[method, teacher_name])
            teacher = None if teacher_name is None else teachers(seed, labelled)[teacher_name]
            test_probs = predict_probs(model, ds.test.x)
            rows.append({"seed": seed, "method": method, "teacher": teacher_name, "val": _accuracy(model, ds.val),
                         "test": metrics.accuracy(test_probs, ds.test.y), "unlabelled": _accuracy(model, u),
                         "agreement": None if teacher is None else
                         metrics.agreement(predict_probs(teacher, ds.test.x), test_probs),
                         "best_epoch": history.get("best_epoch"), "epochs": len(history.get("epochs", []))})
            if seed == seed0:
                curves.append({"method": method, "teacher": teacher_name, "val_accuracy": _curve(history)})
    teacher_reports = {}
    for name, (accs, vals) in reports.items():
        report = recipe.teacher_report(accs, vals)
        u_acc = [a["unlabelled_accuracy"] for a in accs]
        report["unlabelled_accuracy"] = float(np.mean(u_acc))
        report["unlabelled_accuracy_std"] = float(np.std(u_acc, ddof=1)) if len(u_acc) > 1 else 0.0
        teacher_reports[name] = report
    return {"dataset": ds.describe(), "train_size": n, "labelled": labelled_count,
            "epochs": {"teacher": s.teacher_epochs, "teacher_same_labels": math.ceil(s.teacher_epochs * scale),
                       "student_all_images": s.student_config(0.1, s.teacher_epochs).epochs,
                       "student_labelled_images": s.student_config(0.1, s.teacher_epochs, scale).epochs},
            "teacher_reports": teacher_reports, "tuning": tuning, "rows": rows, "curves": curves}


# ----------------------------------------------------------------------------- 3. trees
def _tree_models(s: Settings, seed: int) -> dict:
    """The two tree teachers. Gradient boosting without subsampling or early stopping is
    deterministic, so one boosted model serves every seed; the forest is seeded."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    return {"random forest": RandomForestClassifier(n_estimators=s.forest_trees, n_jobs=-1, random_state=seed),
            "gradient boosting": HistGradientBoostingClassifier(max_iter=s.boosting_iterations, random_state=0,
                                                                early_stopping=False)}


def _tree_teacher(model, ds: Dataset) -> dict:
    """A tree model's soft targets for the training images, each from a model fitted on the other
    half (2-fold cross-fitting), and the accuracies of the model fitted on all of them."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_predict

    x, y = ds.train.x.flatten(1).cpu().numpy(), ds.train.y.cpu().numpy()
    held_out = cross_val_predict(clone(model), x, y, cv=2, method="predict_proba")
    fitted = clone(model).fit(x, y)

    def acc(split: Split) -> float:
        return float((fitted.predict(split.x.flatten(1).cpu().numpy()) == split.y.cpu().numpy()).mean())

    return {"targets": probs_to_logits(torch.tensor(held_out, dtype=torch.float32)).to(ds.train.x.device),
            "accuracies": {"train_accuracy": acc(ds.train), "val_accuracy": acc(ds.val), "test_accuracy": acc(ds.test),
                           "held_out_train_accuracy": float((held_out.argmax(1) == y).mean())}}


def _trees(s: Settings, device: str) -> dict:
    lab = _Lab(s, device)
    ds, full = lab.ds, lab.all_classes
    fitted: dict[tuple[str, str], dict] = {}

    def teacher(name: str, seed: int) -> tuple[dict, dict]:
        model = _tree_models(s, seed)[name]
        spec = {"tree": name, "params": {k: v for k, v in model.get_params().items() if k != "n_jobs"}, "cross_fit": 2}
        key = (name, repr(spec))
        if key not in fitted:
            fitted[key] = _tree_teacher(model, ds)
        return fitted[key], spec

    def run(name: str, seed: int, lr: float, objective: DistillConfig):
        t, spec = teacher(name, seed)
        return lab.student(full, seed, lr, objective, teacher_logits=t["targets"], teacher_spec=spec,
                           kind="ch09-tree-student")

    names = list(_tree_models(s, s.seeds[0]))
    labels_tuning = lab.tuning("labels", len(full))
    lr = labels_tuning["lr"]  # the tree students train at the learning rate chosen for the network on labels
    tuned, tuning = {}, []
    for name in names:
        chosen, scores = recipe.choose_on_validation(list(s.tree_grid),
                                                     lambda d: _best_val(run(name, s.seeds[0], lr, d)[1]))
        tuned[name] = (lr, chosen)
        tuning += [{"teacher": name, "lr": lr, "T": d.T, "alpha": d.alpha, "val_accuracy": v, "chosen": d == chosen}
                   for d, v in zip(s.tree_grid, scores)]
    tuning += [{"teacher": "labels", "lr": p["lr"], "T": None, "alpha": None, "val_accuracy": p["val_accuracy"],
                "chosen": p["chosen"]} for p in labels_tuning["points"]]
    rows, reports = [], {name: ([], []) for name in names}
    for seed in s.seeds:
        labels, _ = lab.tuned_run("labels", full, seed)
        labels_val = _accuracy(labels, ds.val)
        rows.append({"seed": seed, "teacher": "labels", "T": None, "alpha": None, "val": labels_val,
                     "test": _accuracy(labels, ds.test)})
        for name in names:
            t, _ = teacher(name, seed)
            reports[name][0].append(t["accuracies"])
            reports[name][1].append(labels_val)
            model, history = run(name, seed, *tuned[name])
            rows.append({"seed": seed, "teacher": name, "T": tuned[name][1].T, "alpha": tuned[name][1].alpha,
                         "val": _accuracy(model, ds.val), "test": _accuracy(model, ds.test),
                         "model_val": t["accuracies"]["val_accuracy"], "model_test": t["accuracies"]["test_accuracy"],
                         "best_epoch": history.get("best_epoch")})
    teacher_reports = {}
    for name, (accs, vals) in reports.items():
        report = recipe.teacher_report(accs, vals)
        held = [a["held_out_train_accuracy"] for a in accs]
        report["held_out_train_accuracy"] = float(np.mean(held))
        report["held_out_train_accuracy_std"] = float(np.std(held, ddof=1)) if len(held) > 1 else 0.0
        teacher_reports[name] = report
    return {"dataset": ds.describe(), "teacher_reports": teacher_reports, "tuning": tuning, "rows": rows,
            "forest_trees": s.forest_trees, "boosting_iterations": s.boosting_iterations}


# ----------------------------------------------------------------------------- 4. hints
#: The hint study's variants: (uses the teacher's outputs, uses the hint).
HINT_VARIANTS = {"labels": (False, False), "outputs": (True, False), "labels + hint": (False, True),
                 "outputs + hint": (True, True)}


def _hints(s: Settings, device: str) -> dict:
    lab = _Lab(s, device)
    ds, full = lab.ds, lab.all_classes
    hidden = s.teacher.hidden[-1] if s.teacher.kind == "convnet" and s.teacher.hidden else s.teacher.widths[-1]

    def hint_run(model: ModelConfig, seed: int, lr: float, objective: HintObjective):
        teacher = lab.teacher(full, seed)
        cfg = s.student_config(lr, s.teacher_epochs).with_seed(seed)
        key = run_key(s.dataset, model, cfg, train_limit=s.train_limit, objective=objective,
                      teacher_spec={"hint_teacher": teacher_key(teacher)}, track_val=True)

        def build():
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)  # the same MLP as build_model(seed=seed), then its projection
                return HintStudent(build_model(model, ds.input_shape, ds.num_classes), hidden)

        student, _, meta = fit_or_load(
            "ch09-hint-student", key, build=build, device=device,
            fit=lambda m: train(m, ds.train, cfg, objective, teacher=HintTeacher(teacher), val=ds.val,
                                name=f"ch09-hint-student seed {seed}"))
        return student, meta.get("history", {})

    def split(variant: str, point) -> tuple[float, DistillConfig | None]:
        return point if HINT_VARIANTS[variant][0] else (point, None)

    def run(model: ModelConfig, variant: str, seed: int, point):
        lr, d = split(variant, point)
        if not HINT_VARIANTS[variant][1]:
            if d is None:
                return lab.student(full, seed, lr, model=model)
            return lab.student(full, seed, lr, d, lab.teacher(full, seed), model=model)
        objective = HintObjective(ds.num_classes, T=d.T if d else 4.0, soft_weight=d.alpha if d else 0.0,
                                  hint_weight=s.hint_weight)
        return hint_run(model, seed, lr, objective)

    rows, tuning, reports = [], [], {}
    teacher_accs = [recipe.accuracies(lab.teacher(full, seed), ds) for seed in s.seeds]
    for model in s.hint_students:
        width = _width(model)
        for variant, (outputs, _) in HINT_VARIANTS.items():
            points = list(s.distill_grid) if outputs else list(s.label_grid)
            chosen, scores = recipe.choose_on_validation(points,
                                                         lambda p: _best_val(run(model, variant, s.seeds[0], p)[1]))
            for p, v in zip(points, scores):
                lr, d = split(variant, p)
                tuning.append({"width": width, "variant": variant, "lr": lr, "T": d.T if d else None,
                               "alpha": d.alpha if d else None, "val_accuracy": v, "chosen": p == chosen})
            lr, d = split(variant, chosen)
            for seed in s.seeds:
                student, _ = run(model, variant, seed, chosen)
                rows.append({"width": width, "variant": variant, "seed": seed, "lr": lr,
                             "T": d.T if d else None, "alpha": d.alpha if d else None,
                             "val": _accuracy(student, ds.val), "test": _accuracy(student, ds.test)})
        labels_val = [r["val"] for r in rows if r["width"] == width and r["variant"] == "labels"]
        reports[width] = recipe.teacher_report(teacher_accs, labels_val)
    return {"dataset": ds.describe(), "hint_dim": hidden, "hint_weight": s.hint_weight, "rows": rows,
            "tuning": tuning, "teacher_reports": reports}


def _width(model: ModelConfig) -> str:
    """A student's hidden layers as the page names them: '16' or '256x256'."""
    return "x".join(map(str, model.widths))


_COMMON = ("version", "dataset", "train_limit", "seeds", "student", "student_train", "patience", "label_grid",
           "teacher_epochs")
_TEACHERS = ("teacher", "teacher_train", "distill_grid")
PARTS = (Part("ch09-classes", _classes, (*_COMMON, *_TEACHERS, "samples")),
         Part("ch09-transfer", _transfer, (*_COMMON, *_TEACHERS, "labelled")),
         Part("ch09-trees", _trees, (*_COMMON, "forest_trees", "boosting_iterations", "tree_grid")),
         Part("ch09-hints", _hints, (*_COMMON, *_TEACHERS, "hint_students", "hint_weight")))


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False,
        changes: Mapping[str, Any] | None = None) -> dict[str, StoredResult]:
    """Run (or load) the four studies.
    ``changes`` varies the profile's settings by name (the fields of ``Settings``), for the exercises."""
    s = with_changes(settings(profile), changes)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.seeds)
