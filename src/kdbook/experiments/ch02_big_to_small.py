"""Chapter 2, distilling a big net into a small one (Hinton et al. 2015, the MNIST section), on the
book's recipe (:mod:`kdbook.recipe`): the teacher chosen on validation among candidates and
checked first, the label-trained baseline, the distilled student and a label-smoothing control
each tuned on validation from grids of the same size, students trained for a stated multiple of
their teacher's epochs with their validation curves kept.

Six stored results, each computed only when missing (trained models are cached one by one):

* ``ch02-main``: the teacher search, then per training regime (all the images, a tenth of them)
  and seed the teacher's report and the small net on labels, on soft targets and with label
  smoothing, with the tuning tables and validation curves;
* ``ch02-temperature``: student width x temperature over seeds, beside each width on labels;
* ``ch02-weighting``: soft targets alone vs soft + a small weight on the labels, with and
  without the T^2 factor, over seeds;
* ``ch02-consistency``: students that see jittered images, taught on that view (consistent) or
  from the teacher's logits on the clean images (fixed), beside labels with the same jitter;
* ``ch02-small-data``: a few percent of the images with hard labels, label smoothing or the
  teacher's soft targets, early-stopped on validation, with validation curves;
* ``ch02-map`` (:data:`MAP_PART`): a map of when distillation helps:
  distilled-minus-labels test errors over training-set sizes (teacher and students trained on
  the same images) x student budgets (multiples of the label run's epochs), over seeds.

The tables, sentences, claims and the paper's numbers are in :mod:`kdbook.reports.ch02_big_to_small`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .. import metrics, recipe, validate
from ..data import Dataset, Split, load_dataset
from ..errors import TrainingDiverged
from ..losses import DistillConfig, LabelObjective, Objective
from ..models import ModelConfig
from ..profiles import get_profile
from ..store import StoredResult
from ..teachers import freeze
from ..train import TrainConfig, label_objective, predict_probs
from .common import Part, run_parts, trained_run, with_changes

TITLE = "Distilling a big net into a small one"
NOTEBOOK = "ch02_big_to_small.ipynb"


@dataclass(frozen=True)
class Candidate:
    """One teacher recipe of the search (its training config is for all the images)."""

    name: str
    model: ModelConfig
    train: TrainConfig


@dataclass(frozen=True)
class Regime:
    """One size of training set (= transfer set). Teachers train ``epoch_scale`` times their
    candidate's epochs (fewer images, more epochs); students a patient multiple of that."""

    name: str
    train_limit: int | None  # None: the whole training split
    epoch_scale: float = 1.0
    batch_size: int = 128
    #: the map's student budgets at this size (None: the settings' ``map_budgets``)
    map_budgets: tuple[float, ...] | None = None

    def same_runs(self, other: "Regime") -> bool:
        """Whether the two train the same models (same images, epochs and batches), whatever their
        names and map budgets."""
        return (self.train_limit, self.epoch_scale, self.batch_size) == (other.train_limit, other.epoch_scale,
                                                                         other.batch_size)


@dataclass(frozen=True)
class Settings:
    """Chapter 2's teachers, students, tuning grids and studies for one profile.

    The teacher search runs on ``regimes[0]`` with ``seeds[0]``; the chosen recipe teaches in every
    regime. The tuning grids (learning rates; (lr, objective) pairs for distillation; (lr, label
    smoothing) pairs for the control) must have the same size, and are searched per regime on
    ``seeds[0]`` with the ``student_width`` student. The temperature and weighting sweeps run in
    ``regimes[sweep_regime]``, the consistency study in ``regimes[consistency_regime]``.
    """

    dataset: str
    candidates: tuple[Candidate, ...]
    regimes: tuple[Regime, ...]
    student_width: int
    patience: float
    label_grid: tuple[float, ...]
    distill_grid: tuple[tuple[float, DistillConfig], ...]
    smoothing_grid: tuple[tuple[float, float], ...]
    seeds: tuple[int, ...]
    sweep_regime: int
    sweep_widths: tuple[int, ...]
    sweep_temperatures: tuple[float, ...]
    weightings: tuple[DistillConfig, ...]
    consistency_regime: int
    consistency_px: int
    small_fraction: float
    small_epochs: int
    small_batch: int
    #: the map's training sets (a regime of ``regimes`` is reused, with its cached models)
    map_sizes: tuple[Regime, ...] = ()
    #: the map's student budgets, as multiples of a size's patient student epochs
    map_budgets: tuple[float, ...] = ()
    version: int = 2

    def __post_init__(self) -> None:
        validate.raise_if([
            validate.non_empty("candidates", self.candidates),
            validate.non_empty("regimes", self.regimes),
            *(None if 0 <= i < len(self.regimes) else f"{name} must index regimes (0..{len(self.regimes) - 1}), got {i}"
              for name, i in (("sweep_regime", self.sweep_regime), ("consistency_regime", self.consistency_regime))),
            validate.seeds("seeds", self.seeds),
            validate.widths("sweep_widths", self.sweep_widths),
            validate.positive_int("student_width", self.student_width),
            None if self.patience >= 1 else f"patience must be >= 1 (students train at least as long as their "
                                            f"teachers), got {self.patience}",
            recipe.equal_budgets({"label_grid": self.label_grid, "distill_grid": self.distill_grid,
                                  "smoothing_grid": self.smoothing_grid}),
            *(validate.positive("label_grid lr", lr) for lr in self.label_grid),
            validate.non_empty("sweep_temperatures", self.sweep_temperatures),
            *(validate.positive("sweep temperature", t) for t in self.sweep_temperatures),
            validate.non_empty("weightings", self.weightings),
            validate.positive_int("consistency_px", self.consistency_px),
            validate.unit_interval("small_fraction", self.small_fraction),
            validate.positive_int("small_epochs", self.small_epochs),
            validate.positive_int("small_batch", self.small_batch),
            *(None if b >= 1 else f"map_budgets must be >= 1, got {b}" for b in self.map_budgets),
            *(None if b >= 1 else f"{r.name}: map_budgets must be >= 1, got {b}" for r in self.map_sizes
              for b in (r.map_budgets or ())),
            None if bool(self.map_sizes) == bool(self.map_budgets) else "map_sizes and map_budgets go together",
        ], "ch02 settings")

    def student(self, width: int) -> ModelConfig:
        """The unregularised small net of ``width`` units per hidden layer (two layers)."""
        return ModelConfig("mlp", (width, width))


def weighting_label(d: DistillConfig) -> str:
    """A short name of a loss weighting, e.g. 'soft only' or 'soft + 0.1 hard, no T²'."""
    if d.alpha == 1.0:
        return "soft only" + ("" if d.scale_T2 else ", no T²")
    return f"soft + {1 - d.alpha:g} hard" + ("" if d.scale_T2 else ", no T²")


def objective_label(objective: Objective) -> str:
    """A short name of a student's objective: 'labels', 'label smoothing 0.1' or 'T = 4, soft + 0.5 hard'."""
    if isinstance(objective, DistillConfig):
        return f"T = {objective.T:g}, {weighting_label(objective)}"
    eps = getattr(objective, "label_smoothing", 0.0)
    return f"label smoothing {eps:g}" if eps else "labels"


def _weightings(T: float) -> tuple[DistillConfig, ...]:
    return (DistillConfig(T=T, alpha=1.0), DistillConfig(T=T, alpha=0.9),
            DistillConfig(T=T, alpha=0.9, scale_T2=False), DistillConfig(T=T, alpha=0.5))


def _grids(lrs: tuple[float, float], Ts: tuple[float, float], eps: tuple[float, float], label_lrs: tuple[float, ...]):
    return {"label_grid": label_lrs,
            "distill_grid": tuple((lr, DistillConfig(T=T, alpha=0.5)) for lr in lrs for T in Ts),
            "smoothing_grid": tuple((lr, e) for lr in lrs for e in eps)}


_CNN_TEACHER = ModelConfig("convnet", (32, 64), dropout=0.3, hidden=(128,))
SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        dataset="digits",
        candidates=(Candidate("MLP 256x256, dropout 0.2", ModelConfig("mlp", (256, 256), dropout=0.2),
                              TrainConfig(epochs=20, batch_size=64, lr=0.05, augment="jitter", augment_px=1)),
                    Candidate("CNN 16-32, FC 64", ModelConfig("convnet", (16, 32), dropout=0.3, hidden=(64,)),
                              TrainConfig(epochs=10, batch_size=64, lr=0.05, weight_decay=5e-4))),
        regimes=(Regime("all data", None, batch_size=64), Regime("a third of the data", 400, 2.0, batch_size=64)),
        student_width=64, patience=1.5, **_grids((0.05, 0.1), (2.0, 4.0), (0.1, 0.2), (0.02, 0.05, 0.1, 0.2)),
        seeds=(0, 1), sweep_regime=1, sweep_widths=(8, 64), sweep_temperatures=(1.0, 4.0, 20.0),
        weightings=_weightings(20.0), consistency_regime=1, consistency_px=1,
        small_fraction=0.1, small_epochs=30, small_batch=32,
        map_sizes=(Regime("200 images", 200, 3.0, batch_size=64), Regime("a third of the data", 400, 2.0, batch_size=64),
                   Regime("all data", None, batch_size=64)), map_budgets=(1.0, 2.0)),
    # The teacher search (seed 0, validation accuracy): the old 2x1200 teacher (dropout 0.2, 1 px
    # jitter), the paper's regularisation (dropout 0.5, input dropout 0.2, 2 px) and a BatchNorm CNN
    # for the MLP student (Ba & Caruana 2014; Urban et al. 2017). Epochs: as many as the chapter's
    # hour allows; students 2.5x their teacher's.
    "full": Settings(
        dataset="fashion-mnist",
        candidates=(Candidate("MLP 2x1200, dropout 0.2, 1 px jitter", ModelConfig("mlp", (1200, 1200), dropout=0.2),
                              TrainConfig(epochs=24, lr=0.05, augment="jitter", augment_px=1)),
                    Candidate("MLP 2x1200, the paper's regularisation",
                              ModelConfig("mlp", (1200, 1200), dropout=0.5, input_dropout=0.2),
                              TrainConfig(epochs=24, lr=0.05, augment="jitter", augment_px=2)),
                    Candidate("CNN 32-64 with BatchNorm, FC 128", _CNN_TEACHER,
                              TrainConfig(epochs=12, lr=0.05, weight_decay=5e-4))),
        regimes=(Regime("all 55,000 images", None), Regime("5,500 images (10%)", 5500, 3.0)),
        student_width=800, patience=2.5, **_grids((0.05, 0.1), (2.0, 4.0), (0.1, 0.2), (0.025, 0.05, 0.1, 0.2)),
        seeds=(0, 1, 2), sweep_regime=1, sweep_widths=(30, 300, 800), sweep_temperatures=(1.0, 2.0, 4.0, 8.0, 20.0),
        # at the temperature validation chose (T = 20, the paper's, diverged at the tuned learning rate).
        # The map's 3x budget stops at 30% of the images: on all 55,000 a 3x student epoch took 19 s
        # here, six such runs about 2.9 hours.
        weightings=_weightings(4.0), consistency_regime=1, consistency_px=1,
        small_fraction=0.03, small_epochs=150, small_batch=64,
        map_sizes=(Regime("550 images (1%)", 550, 10.0), Regime("1,650 images (3%)", 1650, 5.0),
                   Regime("5,500 images (10%)", 5500, 3.0), Regime("16,500 images (30%)", 16500, 1.7),
                   Regime("all 55,000 images", None, map_budgets=(1.0,))), map_budgets=(1.0, 3.0)),
    # MNIST at the paper's scale: the paper's teacher among the candidates, long training.
    "paper": Settings(
        dataset="mnist",
        candidates=(Candidate("MLP 2x1200, the paper's regularisation",
                              ModelConfig("mlp", (1200, 1200), dropout=0.5, input_dropout=0.2),
                              TrainConfig(epochs=200, lr=0.05, augment="jitter", augment_px=2)),
                    Candidate("CNN 32-64 with BatchNorm, FC 128", _CNN_TEACHER,
                              TrainConfig(epochs=30, lr=0.05, weight_decay=5e-4))),
        regimes=(Regime("all 55,000 images", None), Regime("5,500 images (10%)", 5500, 3.0)),
        student_width=800, patience=3.0, **_grids((0.05, 0.1), (4.0, 20.0), (0.1, 0.2), (0.025, 0.05, 0.1, 0.2)),
        seeds=(0, 1, 2), sweep_regime=0, sweep_widths=(30, 300, 800),
        sweep_temperatures=(1.0, 2.0, 3.0, 4.0, 8.0, 20.0), weightings=_weightings(20.0), consistency_regime=1,
        consistency_px=2, small_fraction=0.03, small_epochs=300, small_batch=64),
}


def settings(profile: str) -> Settings:
    """Chapter 2's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


# ------------------------------------------------------------------------------ the regime's runs
def teacher_train(candidate: Candidate, regime: Regime) -> TrainConfig:
    """``candidate``'s training config in ``regime`` (its epochs scaled, the regime's batch size)."""
    return dataclasses.replace(candidate.train, epochs=round(candidate.train.epochs * regime.epoch_scale),
                               batch_size=regime.batch_size)


def evaluate_model(model, ds: Dataset) -> dict:
    """Test errors, accuracy, NLL and ECE, and validation accuracy, of ``model`` on ``ds``."""
    probs = predict_probs(model, ds.test.x)
    return {"errors": metrics.error_count(probs, ds.test.y), "accuracy": metrics.accuracy(probs, ds.test.y),
            "nll": metrics.nll(probs, ds.test.y), "ece": metrics.ece(probs, ds.test.y),
            "val_accuracy": metrics.accuracy(predict_probs(model, ds.val.x), ds.val.y)}


def _curve(history: dict) -> list[float | None]:
    return [e.get("val_accuracy") for e in history.get("epochs", [])]


#: The ways the small net is trained, each tuned on its own grid of the same size.
METHODS = ("labels", "distilled", "label smoothing")


class _Lab:
    """One regime's data, teachers and tuned students (each trained once, then loaded from the cache)."""

    def __init__(self, s: Settings, regime: Regime, device: str, candidate: Candidate):
        self.s, self.r, self.device, self.candidate = s, regime, device, candidate
        self.ds: Dataset = load_dataset(s.dataset, device=device, train_limit=regime.train_limit)
        self._teachers: dict[tuple[str, int], torch.nn.Module] = {}
        self._tuned: dict[str, dict] = {}

    # --- teachers
    def teacher(self, seed: int, candidate: Candidate | None = None) -> torch.nn.Module:
        """The teacher of ``seed``: the chosen recipe, or ``candidate`` (trained once, then cached)."""
        c = candidate or self.candidate
        if (c.name, seed) not in self._teachers:
            model, _ = trained_run("ch02-teacher", self.ds, self.s.dataset, c.model, teacher_train(c, self.r), seed,
                                   device=self.device, train_limit=self.r.train_limit)
            self._teachers[c.name, seed] = freeze(model)
        return self._teachers[c.name, seed]

    def test_metrics(self, model) -> dict:
        return evaluate_model(model, self.ds)

    @property
    def student_epochs(self) -> int:
        return recipe.patient_epochs(teacher_train(self.candidate, self.r).epochs, self.s.patience)

    # --- students
    def student_train(self, lr: float, epochs: int | None = None, **changes: Any) -> TrainConfig:
        return TrainConfig(**{"epochs": epochs or self.student_epochs, "batch_size": self.r.batch_size, "lr": lr,
                              **changes})

    def student_run(self, width: int, seed: int, lr: float, objective: Objective = label_objective,
                    train_split: Split | None = None, **changes: Any) -> tuple[torch.nn.Module, dict]:
        """The ``width`` student trained with ``objective`` at ``lr`` (and the teacher of ``seed`` when
        the objective needs one), with its validation curve."""
        teaching = {"teacher": self.teacher(seed)} if objective.needs_teacher else {}
        return trained_run("ch02-student", self.ds, self.s.dataset, self.s.student(width),
                           self.student_train(lr, **changes), seed, device=self.device, objective=objective,
                           train_limit=self.r.train_limit, train_split=train_split, track_val=True, **teaching)

    def grid(self, method: str) -> list[tuple[float, Objective]]:
        """The (lr, objective) points of ``method``'s tuning grid ('labels', 'distilled', 'label smoothing')."""
        s = self.s
        return {"labels": lambda: [(lr, label_objective) for lr in s.label_grid],
                "distilled": lambda: list(s.distill_grid),
                "label smoothing": lambda: [(lr, LabelObjective(eps)) for lr, eps in s.smoothing_grid]}[method]()

    def tuning(self, method: str) -> dict:
        """``method``'s search (seed ``seeds[0]``, the ``student_width`` student): every grid point with
        its validation accuracy at the last epoch, and the chosen one's lr and objective."""
        if method not in self._tuned:
            s, points = self.s, self.grid(method)
            chosen, scores = recipe.choose_on_validation(
                points, lambda p: self.student_run(s.student_width, s.seeds[0], *p)[1]["epochs"][-1]["val_accuracy"])
            self._tuned[method] = {"points": points, "val_accuracy": scores, "lr": chosen[0], "objective": chosen[1]}
        return self._tuned[method]

    @property
    def tuned(self) -> dict[str, dict]:
        """:meth:`tuning` of every method."""
        return {method: self.tuning(method) for method in METHODS}

    def tuned_run(self, method: str, seed: int, width: int | None = None, **changes: Any):
        t = self.tuning(method)
        return self.student_run(width or self.s.student_width, seed, t["lr"], t["objective"], **changes)


def search_teacher(s: Settings, device: str) -> tuple[Candidate, list[dict]]:
    """The candidate with the best validation accuracy on ``regimes[0]`` and seed ``seeds[0]``, and
    every candidate's train / validation / test accuracy (scored once per process)."""
    key = (s, device)
    if key not in _SEARCHES:
        lab = _Lab(s, s.regimes[0], device, s.candidates[0])
        rows = {c.name: recipe.accuracies(lab.teacher(s.seeds[0], c), lab.ds) for c in s.candidates}
        chosen, _ = recipe.choose_on_validation(list(s.candidates), lambda c: rows[c.name]["val_accuracy"])
        _SEARCHES[key] = chosen, [{"name": c.name, "model": c.model, "train": teacher_train(c, s.regimes[0]),
                                   **rows[c.name]} for c in s.candidates]
    chosen, rows = _SEARCHES[key]
    return chosen, [dict(row) for row in rows]


_SEARCHES: dict[tuple[Settings, str], tuple[Candidate, list[dict]]] = {}


def teacher_model(s: Settings, regime: Regime, ds: Dataset, seed: int, device: str) -> torch.nn.Module:
    """Chapter 2's chosen teacher of ``seed`` in ``regime`` (shared with chapters 1 and 3 through the model cache)."""
    chosen, _ = search_teacher(s, device)
    return trained_run("ch02-teacher", ds, s.dataset, chosen.model, teacher_train(chosen, regime), seed,
                       device=device, train_limit=regime.train_limit)[0]


def label_train(s: Settings, regime: Regime, device: str) -> TrainConfig:
    """The label-trained small net's config in ``regime`` (its learning rate chosen on validation)."""
    chosen, _ = search_teacher(s, device)
    lab = _Lab(s, regime, device, chosen)
    return lab.student_train(lab.tuning("labels")["lr"])


def teacher_spec(s: Settings) -> dict[str, Any]:
    """What decides chapter 2's teachers on all the images: the part of its settings that another
    chapter reusing them (through the model cache) must name in its own results' keys."""
    return {"version": s.version, "dataset": s.dataset, "candidates": s.candidates, "regime": s.regimes[0],
            "seeds": s.seeds}


def label_spec(s: Settings) -> dict[str, Any]:
    """:func:`teacher_spec` and what decides the label-trained small net on all the images."""
    return {**teacher_spec(s), "student_width": s.student_width, "patience": s.patience, "label_grid": s.label_grid}


def _tuning_rows(lab: _Lab) -> list[dict]:
    return [{"method": method, "lr": lr, "objective": objective_label(obj), "val_accuracy": acc,
             "chosen": lr == t["lr"] and obj == t["objective"]}
            for method, t in lab.tuned.items() for (lr, obj), acc in zip(t["points"], t["val_accuracy"])]


_METHODS = {"small net": "labels", "distilled": "distilled", "label smoothing": "label smoothing"}


def _main(labs: list[_Lab], search: list[dict]) -> dict:
    s = labs[0].s
    rows, curves, reports, tuning = [], [], {}, {}
    for lab in labs:
        common_r = {"regime": lab.r.name, "train_size": len(lab.ds.train)}
        teacher_accs, student_vals = [], []
        for seed in s.seeds:
            teacher = lab.teacher(seed)
            accs = recipe.accuracies(teacher, lab.ds)
            teacher_accs.append(accs)
            rows.append({**common_r, "seed": seed, "model": "teacher", **lab.test_metrics(teacher),
                         "train_accuracy": accs["train_accuracy"]})
            for model_name, method in _METHODS.items():
                model, history = lab.tuned_run(method, seed)
                rows.append({**common_r, "seed": seed, "model": model_name, **lab.test_metrics(model),
                             "train_accuracy": metrics.accuracy(predict_probs(model, lab.ds.train.x), lab.ds.train.y)})
                curves.append({"regime": lab.r.name, "seed": seed, "model": model_name, "val_accuracy": _curve(history)})
                if method == "labels":
                    student_vals.append(rows[-1]["val_accuracy"])
        reports[lab.r.name] = recipe.teacher_report(teacher_accs, student_vals)
        tuning[lab.r.name] = _tuning_rows(lab)
    return {"dataset": labs[0].ds.describe(), "regimes": [lab.r.name for lab in labs],
            "teacher": labs[0].candidate.name, "candidates": search,
            "epochs": {lab.r.name: {"teacher": teacher_train(lab.candidate, lab.r).epochs,
                                    "student": lab.student_epochs} for lab in labs},
            "teacher_reports": reports, "tuning": tuning, "rows": rows, "curves": curves}


def _temperature(labs: list[_Lab], search: list[dict]) -> dict:
    lab = labs[labs[0].s.sweep_regime]
    s, d = lab.s, lab.tuned["distilled"]
    rows = []
    for width in s.sweep_widths:
        for seed in s.seeds:
            rows.append({"width": width, "T": None, "seed": seed, **lab.test_metrics(lab.tuned_run("labels", seed, width)[0])})
            for T in s.sweep_temperatures:
                model, _ = lab.student_run(width, seed, d["lr"], dataclasses.replace(d["objective"], T=T))
                rows.append({"width": width, "T": T, "seed": seed, **lab.test_metrics(model)})
    return {"regime": lab.r.name, "alpha": d["objective"].alpha, "lr": d["lr"], "rows": rows}


_FAILED = {"errors": float("nan"), "accuracy": float("nan"), "nll": float("nan"), "ece": float("nan"),
           "val_accuracy": float("nan")}


def _weighting(labs: list[_Lab], search: list[dict]) -> dict:
    lab = labs[labs[0].s.sweep_regime]
    s, d = lab.s, lab.tuning("distilled")
    rows = []
    for seed in s.seeds:
        for dcfg in s.weightings:
            row = {"weighting": weighting_label(dcfg), "alpha": dcfg.alpha, "scale_T2": dcfg.scale_T2, "seed": seed}
            try:  # a weighting that diverges at the study's one learning rate is a result, not a crash
                model, _ = lab.student_run(s.student_width, seed, d["lr"], dcfg)
                rows.append({**row, "diverged": False, **lab.test_metrics(model)})
            except TrainingDiverged:
                rows.append({**row, "diverged": True, **_FAILED})
    return {"T": s.weightings[0].T, "regime": lab.r.name, "lr": d["lr"], "rows": rows}


def _consistency(labs: list[_Lab], search: list[dict]) -> dict:
    lab = labs[labs[0].s.consistency_regime]
    s = lab.s
    jitter = {"augment": "jitter", "augment_px": s.consistency_px}
    runs = {"labels, no jitter": ("labels", {}), "labels, jitter": ("labels", jitter),
            "distilled, no jitter": ("distilled", {}),
            "distilled, jitter, fixed teacher": ("distilled", {**jitter, "fixed_teacher": True}),
            "distilled, jitter, consistent teacher": ("distilled", jitter)}
    rows, curves = [], []
    for seed in s.seeds:
        for name, (method, changes) in runs.items():
            model, history = lab.tuned_run(method, seed, **changes)
            rows.append({"run": name, "seed": seed, **lab.test_metrics(model)})
            curves.append({"run": name, "seed": seed, "val_accuracy": _curve(history)})
    return {"regime": lab.r.name, "px": s.consistency_px, "rows": rows, "curves": curves}


def small_subset(n: int, fraction: float, seed: int) -> torch.Tensor:
    """Sorted indices of a seeded random ``fraction`` of ``n`` training examples (at least one)."""
    k = max(1, round(fraction * n))
    return torch.randperm(n, generator=torch.Generator().manual_seed(10_000 + seed))[:k].sort().values


def _small_data(labs: list[_Lab], search: list[dict]) -> dict:
    lab = labs[0]
    s, ds = lab.s, lab.ds
    rows, curves = [], []
    for seed in s.seeds:
        idx = small_subset(len(ds.train), s.small_fraction, seed)
        subset = ds.train.subset(idx.to(ds.train.x.device))
        for name, method in (("hard targets", "labels"), ("label smoothing", "label smoothing"),
                             ("soft targets", "distilled")):
            model, history = lab.tuned_run(method, seed, train_split=subset, epochs=s.small_epochs,
                                           batch_size=s.small_batch, early_stopping=True)
            rows.append({"seed": seed, "model": name, "examples": len(idx), "best_epoch": history.get("best_epoch"),
                         **lab.test_metrics(model)})
            curves.append({"seed": seed, "model": name, "val_accuracy": _curve(history)})
        rows.append({"seed": seed, "model": "full data, hard targets", "examples": len(ds.train),
                     "best_epoch": None, **lab.test_metrics(lab.tuned_run("labels", seed)[0])})
    return {"fraction": s.small_fraction, "rows": rows, "curves": curves}


def _nearest(labs: list[_Lab], size: int) -> _Lab:
    """The lab whose training set is nearest ``size`` in log scale (whose tuned settings the map uses)."""
    return min(labs, key=lambda lab: abs(math.log(len(lab.ds.train)) - math.log(size)))


def _map(labs: list[_Lab], search: list[dict]) -> dict:
    s = labs[0].s
    rows = []
    for size in s.map_sizes:
        lab = next((lab for lab in labs if lab.r.same_runs(size)), None) or _Lab(s, size, labs[0].device,
                                                                                 labs[0].candidate)
        ref = _nearest(labs, len(lab.ds.train))
        for seed in s.seeds:
            teacher = recipe.accuracies(lab.teacher(seed), lab.ds)
            common = {"size": size.name, "train_size": len(lab.ds.train), "seed": seed, "tuned_in": ref.r.name,
                      "teacher_val_accuracy": teacher["val_accuracy"], "teacher_test_accuracy": teacher["test_accuracy"]}
            for budget in size.map_budgets or s.map_budgets:
                epochs = math.ceil(lab.student_epochs * budget)
                for method in ("labels", "distilled"):
                    t = ref.tuned[method]
                    model, _ = lab.student_run(s.student_width, seed, t["lr"], t["objective"], epochs=epochs)
                    rows.append({**common, "budget": budget, "epochs": epochs, "method": method,
                                 **lab.test_metrics(model)})
    return {"sizes": [r.name for r in s.map_sizes], "budgets": list(s.map_budgets),
            "budgets_per_size": {r.name: list(r.map_budgets or s.map_budgets) for r in s.map_sizes}, "rows": rows}


def _with_labs(part):
    """A part computed from (settings, device): the teacher search, then one lab per regime."""
    def compute(s: Settings, device: str) -> dict:
        chosen, search = search_teacher(s, device)
        return part([_Lab(s, r, device, chosen) for r in s.regimes], search)
    return compute


_NETS = ("version", "dataset", "candidates", "regimes", "seeds", "student_width", "patience", "label_grid",
         "distill_grid", "smoothing_grid")
PARTS = (Part("ch02-main", _with_labs(_main), _NETS),
         Part("ch02-temperature", _with_labs(_temperature), (*_NETS, "sweep_regime", "sweep_widths", "sweep_temperatures")),
         Part("ch02-weighting", _with_labs(_weighting), (*_NETS, "sweep_regime", "weightings")),
         Part("ch02-consistency", _with_labs(_consistency), (*_NETS, "consistency_regime", "consistency_px")),
         Part("ch02-small-data", _with_labs(_small_data), (*_NETS, "small_fraction", "small_epochs", "small_batch")),
         #: the map of when distillation helps: its own part, about an hour of CPU on its own
         Part("ch02-map", _with_labs(_map), (*_NETS, "map_sizes", "map_budgets")))
MAP_PART = PARTS[-1]


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False,
        changes: Mapping[str, Any] | None = None) -> dict[str, StoredResult]:
    """Train (or load) chapter 2's models and store each part's measurements.
    ``changes`` varies the profile's settings by name (the fields of ``Settings``), for the exercises."""
    s = with_changes(settings(profile), changes)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.seeds)
