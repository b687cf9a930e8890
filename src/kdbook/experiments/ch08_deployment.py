"""Chapter 8, what a distilled student buys you: size, arithmetic, latency, accuracy and
calibration of a teacher worth distilling and of the small net it teaches, on the book's recipe.

* The teacher is chapter 2's (the one its search chose on validation: a BatchNorm CNN on
  Fashion-MNIST in ``full``), reused through the model cache, one per seed; the **ensemble** is
  the average of those teachers' probabilities (one model).
* The student is a small MLP meant for a CPU. The label-trained net and the distilled student
  each get their settings chosen on validation (seed ``seeds[0]``) from grids of the same size
  (learning rates; learning rate x (T, alpha)), train with gradient clipping for a patient
  multiple of the teacher's epochs and keep their validation curves. A third student is
  distilled from the ensemble on the distilled student's chosen settings.
* No augmentation: the teacher labels exactly the images the student sees (fixed and consistent
  targets are then the same), computed once per teacher.
* Latency on the CPU: teacher, ensemble and student measured in interleaved rounds at batch 1 and
  at a large batch (:func:`kdbook.latency.interleaved_latency_ms`); every round's times are stored,
  so the reading layer can give each speed-up a confidence interval.
* The sweeps (their own part): the weight ``alpha`` of the soft term, and the soft loss (KL, soft
  cross-entropy, squared error on logits), at the distilled student's chosen learning rate and T,
  over every seed; runs that diverge are recorded, not dropped.

The tables, sentences, claims and the papers' numbers are in :mod:`kdbook.reports.ch08_deployment`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import metrics, recipe, validate
from ..data import Dataset, load_dataset
from ..errors import TrainingDiverged
from ..latency import forward_macs, interleaved_latency_ms
from ..losses import SOFT_LOSSES, DistillConfig, combine_probs, probs_to_logits
from ..models import ModelConfig, count_parameters
from ..profiles import get_profile
from ..store import StoredResult
from ..teachers import Ensemble, freeze
from ..train import Objective, TrainConfig, label_objective, predict_logits
from . import ch02_big_to_small as ch02
from .common import Part, run_parts, teacher_key, trained_run, with_changes

TITLE = "What a distilled student buys you"
NOTEBOOK = "ch08_deployment.ipynb"


@dataclass(frozen=True)
class Settings:
    """Chapter 8's student, tuning grids, sweeps and latency measurement for one profile; the
    teachers are chapter 2's of profile ``teacher_from`` (trained on all its images)."""

    teacher_from: str
    student: ModelConfig
    patience: float  # the students' epochs: this multiple of the teacher's
    batch_size: int
    clip_grad_norm: float
    label_grid: tuple[float, ...]  # learning rates of the label-trained net
    distill_grid: tuple[tuple[float, DistillConfig], ...]  # (learning rate, objective) of the distilled one
    alphas: tuple[float, ...]
    soft_losses: tuple[str, ...]
    seeds: tuple[int, ...]
    large_batch: int = 1024
    rounds_one: int = 200  # latency rounds at batch size 1, per seed
    rounds_large: int = 30  # latency rounds at the large batch, per seed
    version: int = 2

    def __post_init__(self) -> None:
        validate.raise_if([
            validate.choice("teacher_from", self.teacher_from, sorted(ch02.SETTINGS)),
            None if self.patience >= 1 else f"patience must be >= 1 (students train at least as long as their "
                                            f"teacher), got {self.patience}",
            validate.positive_int("batch_size", self.batch_size),
            validate.positive("clip_grad_norm", self.clip_grad_norm),
            recipe.equal_budgets({"label_grid": self.label_grid, "distill_grid": self.distill_grid}),
            *(validate.positive("label_grid lr", lr) for lr in self.label_grid),
            *(validate.positive("distill_grid lr", lr) for lr, _ in self.distill_grid),
            validate.non_empty("alphas", self.alphas),
            *(validate.unit_interval("alpha", a) for a in self.alphas),
            validate.non_empty("soft_losses", self.soft_losses),
            *(validate.choice("soft_loss", name, sorted(SOFT_LOSSES)) for name in self.soft_losses),
            validate.seeds("seeds", self.seeds),
            None if len(set(self.seeds)) == len(self.seeds) else "seeds must be different",
            validate.positive_int("large_batch", self.large_batch),
            validate.positive_int("rounds_one", self.rounds_one),
            validate.positive_int("rounds_large", self.rounds_large),
        ], "ch08 settings")

    @property
    def ch02(self) -> ch02.Settings:
        """Chapter 2's settings of profile ``teacher_from``."""
        return ch02.SETTINGS[self.teacher_from]

    @property
    def ch02_teacher(self) -> dict:
        """What decides chapter 2's teachers (part of this chapter's keys: a change there re-keys it)."""
        return ch02.teacher_spec(self.ch02)


def _distill_grid(lrs: tuple[float, ...], objectives: tuple[tuple[float, float], ...]):
    return tuple((lr, DistillConfig(T=T, alpha=alpha)) for lr in lrs for T, alpha in objectives)


_ALPHAS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
_LOSSES = ("kl", "soft_ce", "logit_mse")
_STUDENT = ModelConfig("mlp", (100, 100))

SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        teacher_from="smoke", student=ModelConfig("mlp", (32, 32)), patience=1.0, batch_size=64, clip_grad_norm=5.0,
        label_grid=(0.05, 0.1), distill_grid=_distill_grid((0.05,), ((4.0, 0.5), (4.0, 0.9))),
        alphas=(0.0, 0.5, 1.0), soft_losses=_LOSSES, seeds=(0, 1),
        large_batch=256, rounds_one=20, rounds_large=5),
    # The students train 2.5x the teacher's 12 epochs (chapter 2's patience). Clipping at norm 5:
    # in a pilot the label run's gradient norm stayed below 6 in its first 300 steps, while
    # distillation at T = 4 had spikes of several hundred (one such run at lr 0.2 collapsed).
    "full": Settings(
        teacher_from="full", student=_STUDENT, patience=2.5, batch_size=128, clip_grad_norm=5.0,
        label_grid=(0.0125, 0.025, 0.05, 0.1, 0.2, 0.4),
        distill_grid=_distill_grid((0.05, 0.1), ((2.0, 0.5), (4.0, 0.5), (4.0, 0.9))),
        alphas=_ALPHAS, soft_losses=_LOSSES, seeds=(0, 1, 2)),
    "paper": Settings(
        teacher_from="paper", student=_STUDENT, patience=3.0, batch_size=128, clip_grad_norm=5.0,
        label_grid=(0.0125, 0.025, 0.05, 0.1, 0.2, 0.4),
        distill_grid=_distill_grid((0.05, 0.1), ((4.0, 0.5), (20.0, 0.5), (20.0, 0.9))),
        alphas=_ALPHAS, soft_losses=_LOSSES, seeds=(0, 1, 2)),
}


def settings(profile: str) -> Settings:
    """Chapter 8's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


#: The students, by the name the stored rows give them, and the teacher each learns from.
STUDENTS = {"labels": None, "distilled": "teacher", "distilled from the ensemble": "ensemble"}


def ensemble_logits(member_logits: list[torch.Tensor]) -> torch.Tensor:
    """What :class:`kdbook.teachers.Ensemble` (arithmetic mean) returns, from its members' logits."""
    return probs_to_logits(combine_probs(torch.stack([z.softmax(-1) for z in member_logits]), "arithmetic"))


def _measure(logits: Mapping[str, torch.Tensor], ds: Dataset, reference: torch.Tensor | None) -> dict:
    """Accuracy, errors, ECE and NLL on test, accuracy on validation and training images, and
    test agreement with ``reference`` probabilities (the model's teacher), from its logits."""
    probs = {name: z.softmax(-1) for name, z in logits.items()}
    out = {"accuracy": metrics.accuracy(probs["test"], ds.test.y), "errors": metrics.error_count(probs["test"], ds.test.y),
           "ece": metrics.ece(probs["test"], ds.test.y), "nll": metrics.nll(probs["test"], ds.test.y),
           "val_accuracy": metrics.accuracy(probs["val"], ds.val.y),
           "train_accuracy": metrics.accuracy(probs["train"], ds.train.y)}
    if reference is not None:
        out["agreement"] = metrics.agreement(reference, probs["test"])
    return out


SPLITS = ("train", "val", "test")
#: Teachers' logits by (chapter 2's settings, seed, device): the same for both parts of a run.
_TEACHER_LOGITS: dict[tuple, dict[str, torch.Tensor]] = {}
_FAILED = {k: float("nan") for k in ("accuracy", "errors", "ece", "nll", "val_accuracy", "train_accuracy", "agreement")}


class _Lab:
    """Chapter 8's data, teachers and students (each trained once, then loaded from the cache),
    with every network's logits on the three splits computed once."""

    def __init__(self, s: Settings, device: str):
        self.s, self.device = s, device
        self.c2 = s.ch02
        self.regime = self.c2.regimes[0]
        self.ds = load_dataset(self.c2.dataset, device=device, train_limit=self.regime.train_limit)
        self.chosen, self.search = ch02.search_teacher(self.c2, device)
        self._teachers: dict[int, nn.Module] = {}
        self._tuned: dict[str, dict] = {}

    # --- teachers
    def teacher(self, seed: int) -> nn.Module:
        if seed not in self._teachers:
            self._teachers[seed] = freeze(ch02.teacher_model(self.c2, self.regime, self.ds, seed, self.device))
        return self._teachers[seed]

    @property
    def ensemble(self) -> Ensemble:
        """The teachers of every seed, their probabilities averaged."""
        return Ensemble([self.teacher(seed) for seed in self.s.seeds])

    def teacher_logits(self, seed: int) -> dict[str, torch.Tensor]:
        """The teacher of ``seed``'s logits on the train, val and test splits (computed once per process)."""
        key = (self.c2, seed, str(self.device))
        if key not in _TEACHER_LOGITS:
            model = self.teacher(seed)
            _TEACHER_LOGITS[key] = {split: predict_logits(model, getattr(self.ds, split).x) for split in SPLITS}
        return _TEACHER_LOGITS[key]

    def logits(self, name: str) -> dict[str, torch.Tensor]:
        """The logits of 'teacher <seed>' or of the 'ensemble' on the train, val and test splits."""
        if name == "ensemble":
            members = [self.teacher_logits(seed) for seed in self.s.seeds]
            return {split: ensemble_logits([m[split] for m in members]) for split in SPLITS}
        return self.teacher_logits(int(name.split()[1]))

    @staticmethod
    def teacher_name(which: str, seed: int) -> str:
        """'ensemble', or 'teacher <seed>' for ``which`` = 'teacher'."""
        return "ensemble" if which == "ensemble" else f"teacher {seed}"

    def teaching(self, which: str, seed: int) -> dict[str, Any]:
        """The targets a student of ``seed`` learns from: its teacher's (``which`` = 'teacher') or the
        ensemble's logits on the training images, named in the cache key by that teacher's own key.
        These are the targets the trainer computes itself without augmentation, computed once per
        teacher instead of once per run."""
        model = self.ensemble if which == "ensemble" else self.teacher(seed)
        return {"teacher_logits": self.logits(self.teacher_name(which, seed))["train"],
                "teacher_spec": teacher_key(model)}

    # --- students
    @property
    def teacher_epochs(self) -> int:
        return ch02.teacher_train(self.chosen, self.regime).epochs

    @property
    def student_epochs(self) -> int:
        return recipe.patient_epochs(self.teacher_epochs, self.s.patience)

    def train_config(self, lr: float) -> TrainConfig:
        return TrainConfig(epochs=self.student_epochs, batch_size=self.s.batch_size, lr=lr,
                           clip_grad_norm=self.s.clip_grad_norm)

    def student_run(self, seed: int, lr: float, objective: Objective = label_objective,
                    which: str = "teacher") -> tuple[nn.Module | None, dict]:
        """The student of ``seed`` trained at ``lr`` with ``objective`` (from ``which`` teacher when the
        objective needs one), with its validation curve; (None, {}) when its loss diverged."""
        teaching = self.teaching(which, seed) if objective.needs_teacher else {}
        try:
            return trained_run("ch08-student", self.ds, self.c2.dataset, self.s.student, self.train_config(lr), seed,
                               device=self.device, objective=objective, train_limit=self.regime.train_limit,
                               track_val=True, **teaching)
        except TrainingDiverged:
            return None, {}

    def evaluate(self, model: nn.Module | None, reference: str | None) -> dict:
        """A student's measurements (:func:`_measure`), or NaNs and ``diverged`` when it has none."""
        if model is None:
            return {**_FAILED, "diverged": True}
        ref = None if reference is None else self.logits(reference)["test"].softmax(-1)
        return {**_measure({split: predict_logits(model, getattr(self.ds, split).x) for split in SPLITS},
                           self.ds, ref), "diverged": False}

    def grid(self, method: str) -> list[tuple[float, Objective]]:
        return [(lr, label_objective) for lr in self.s.label_grid] if method == "labels" else list(self.s.distill_grid)

    def tuning(self, method: str) -> dict:
        """``method``'s search ('labels' or 'distilled', seed ``seeds[0]``): every grid point's final
        validation accuracy (a diverged run scores 0) and the chosen point."""
        if method not in self._tuned:
            seed, points = self.s.seeds[0], self.grid(method)

            def score(point: tuple[float, Objective]) -> float:
                model, history = self.student_run(seed, *point)
                return 0.0 if model is None else history["epochs"][-1]["val_accuracy"]

            chosen, scores = recipe.choose_on_validation(points, score)
            self._tuned[method] = {"points": points, "val_accuracy": scores, "lr": chosen[0], "objective": chosen[1]}
        return self._tuned[method]

    def tuned_run(self, name: str, seed: int) -> tuple[nn.Module | None, dict]:
        """The student ``name`` (a key of :data:`STUDENTS`) of ``seed`` on its method's chosen settings."""
        t = self.tuning("labels" if name == "labels" else "distilled")
        return self.student_run(seed, t["lr"], t["objective"], STUDENTS[name] or "teacher")


def _objective_row(objective: Objective) -> dict:
    if isinstance(objective, DistillConfig):
        return {"T": objective.T, "alpha": objective.alpha}
    return {"T": None, "alpha": None}


def _tuning_rows(lab: _Lab) -> list[dict]:
    return [{"method": method, "lr": lr, **_objective_row(obj), "val_accuracy": acc,
             "chosen": lr == t["lr"] and obj == t["objective"]}
            for method in ("labels", "distilled") for t in [lab.tuning(method)]
            for (lr, obj), acc in zip(t["points"], t["val_accuracy"])]


def _curve(history: dict) -> list[float | None]:
    return [e.get("val_accuracy") for e in history.get("epochs", [])]


def _cpu(model: nn.Module) -> nn.Module:
    """A copy of ``model`` on the CPU, where the chapter deploys (the original stays where it is)."""
    return copy.deepcopy(model).to("cpu").eval()


def _latency(lab: _Lab, students: dict[int, nn.Module | None]) -> dict:
    """Per seed and batch size, every round's milliseconds of the teacher, the ensemble and the
    distilled student, measured interleaved on the CPU (a seed whose student diverged is skipped)."""
    s, example = lab.s, lab.ds.test.x[0].cpu()
    ensemble = _cpu(lab.ensemble)
    out: dict[str, dict] = {}
    for batch, rounds in ((1, s.rounds_one), (s.large_batch, s.rounds_large)):
        per_seed = {}
        for seed in s.seeds:
            if students[seed] is None:
                continue
            models = {"teacher": _cpu(lab.teacher(seed)), "ensemble": ensemble, "student": _cpu(students[seed])}
            times = interleaved_latency_ms(models, example, batch, rounds=rounds)
            per_seed[str(seed)] = {name: [round(t, 5) for t in ts] for name, ts in times.items()}
        out[str(batch)] = per_seed
    return out


def _sizes(lab: _Lab, student: nn.Module) -> dict[str, dict[str, int]]:
    example = lab.ds.test.x[0].cpu()
    models = {"teacher": _cpu(lab.teacher(lab.s.seeds[0])), "ensemble": _cpu(lab.ensemble), "student": _cpu(student)}
    return {name: {"parameters": count_parameters(m), "macs": forward_macs(m, example)} for name, m in models.items()}


def _models(s: Settings, device: str) -> dict:
    lab = _Lab(s, device)
    rows, curves, teacher_accs, label_vals, deployed = [], [], [], [], {}
    for seed in s.seeds:
        row = _measure(lab.teacher_logits(seed), lab.ds, None)
        teacher_accs.append({"train_accuracy": row["train_accuracy"], "val_accuracy": row["val_accuracy"],
                             "test_accuracy": row["accuracy"]})
        rows.append({"seed": seed, "model": "teacher", **row, "diverged": False})
        for name, which in STUDENTS.items():
            model, history = lab.tuned_run(name, seed)
            reference = lab.teacher_name(which or "teacher", seed)  # agreement with its teacher (labels: the teacher)
            rows.append({"seed": seed, "model": name, **lab.evaluate(model, reference)})
            curves.append({"seed": seed, "model": name, "val_accuracy": _curve(history)})
            if name == "labels":
                label_vals.append(rows[-1]["val_accuracy"])
            if name == "distilled":
                deployed[seed] = model
    ensemble = _measure(lab.logits("ensemble"), lab.ds, None)
    rows.append({"seed": None, "model": "ensemble", **ensemble, "diverged": False})
    ensemble_accs = [{"train_accuracy": ensemble["train_accuracy"], "val_accuracy": ensemble["val_accuracy"],
                      "test_accuracy": ensemble["accuracy"]}] * len(s.seeds)
    student = next((m for m in deployed.values() if m is not None), None)
    return {"dataset": lab.ds.describe(), "teacher": lab.chosen.name, "seeds": list(s.seeds),
            "epochs": {"teacher": lab.teacher_epochs, "student": lab.student_epochs},
            "clip_grad_norm": s.clip_grad_norm,
            "grid_sizes": {"labels": len(s.label_grid), "distilled": len(s.distill_grid)},
            "teacher_reports": {"teacher": recipe.teacher_report(teacher_accs, label_vals),
                                "ensemble": recipe.teacher_report(ensemble_accs, label_vals)},
            "tuning": _tuning_rows(lab), "rows": rows, "curves": curves,
            "sizes": _sizes(lab, student) if student is not None else {},
            "latency": _latency(lab, deployed), "large_batch": s.large_batch, "threads": torch.get_num_threads()}


def _sweeps(s: Settings, device: str) -> dict:
    lab = _Lab(s, device)
    d = lab.tuning("distilled")
    lr, tuned = d["lr"], d["objective"]
    runs = [("alpha", a, dataclasses.replace(tuned, alpha=a)) for a in s.alphas]
    runs += [("loss", name, dataclasses.replace(tuned, soft_loss=name)) for name in s.soft_losses]
    rows = []
    for seed in s.seeds:
        for family, value, objective in runs:
            model, _ = lab.student_run(seed, lr, objective)
            rows.append({"family": family, "value": value, "seed": seed,
                         **lab.evaluate(model, f"teacher {seed}")})
    return {"lr": lr, "T": tuned.T, "alpha": tuned.alpha, "rows": rows}


_READS = ("version", "teacher_from", "ch02_teacher", "student", "patience", "batch_size", "clip_grad_norm",
          "label_grid", "distill_grid", "seeds")
PARTS = (Part("ch08-deployment", _models, (*_READS, "large_batch", "rounds_one", "rounds_large")),
         Part("ch08-sweeps", _sweeps, (*_READS, "alphas", "soft_losses")))


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False,
        changes: Mapping[str, Any] | None = None) -> dict[str, StoredResult]:
    """Train (or load) chapter 8's students, measure them beside their teachers, and store the
    measurements. ``changes`` varies the profile's settings by name (the fields of ``Settings``),
    for the exercises."""
    s = with_changes(settings(profile), changes)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.seeds)
