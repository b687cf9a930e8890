"""Chapter 4, ensembles, distilling an ensemble, and specialists (Hinton et al. 2015), on the
book's recipe (:mod:`kdbook.recipe`).

Three stored results (read by :mod:`kdbook.reports.ch04_ensembles`):

* ``ch04-members``: the members' learning rate chosen on validation, every member's training,
  validation and test accuracy (their spread), and test metrics of ensembles of N = 1..M
  members over random resamplings of which members form the ensemble, combined by arithmetic
  and geometric means of probabilities;
* ``ch04-distill``: the ensemble's teacher report, a student of the members' architecture
  distilled from it (lr and T chosen on validation from a grid of the members' grid's size,
  trained for a stated multiple of the members' epochs) per student seed, beside the same
  network trained on labels for the same epochs, with validation curves; the share of the
  ensemble's gain over a single member each keeps;
* ``ch04-specialists``: per generalist seed, clusters of confusable classes from the correlation
  of its predictions, specialists (with a dustbin class) for the clusters whose confusions stay
  inside them, their KL-minimising combination, and the control of fine-tuning the generalist
  on the same images for the same steps.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .. import metrics, recipe, validate
from .. import specialists as sp
from ..data import Dataset, load_dataset
from ..losses import DistillConfig, combine_probs
from ..models import ModelConfig
from ..profiles import get_profile
from ..store import StoredResult
from ..teachers import Ensemble
from ..train import TrainConfig, predict_logits, predict_probs, train
from .common import (
    Part,
    run_parts,
    trained_members,
    trained_run,
    with_changes,
)

TITLE = "Ensembles, distilling an ensemble, and specialists"
NOTEBOOK = "ch04_ensembles.ipynb"


@dataclass(frozen=True)
class Settings:
    """Chapter 4's members, students and specialists for one profile.

    The members' learning rate is chosen on validation from ``member_grid`` (member seed 100);
    the students' (lr, objective) from ``distill_grid`` (the first student seed, the arithmetic
    ensemble), a grid of the same size. Students train ``patience`` times the members' epochs, as
    does the label-trained control of the student's architecture. Student seeds never collide
    with member seeds (members are 100, 101, ...).
    """

    dataset: str
    train_limit: int | None
    member: ModelConfig
    member_train: TrainConfig  # its lr is replaced by the one chosen from member_grid
    member_grid: tuple[float, ...]
    n_members: int
    resamples: int
    patience: float
    distill_grid: tuple[tuple[float, DistillConfig], ...]
    student_seeds: tuple[int, ...]
    n_clusters: int
    generalists: int
    specialist_train: TrainConfig
    top_n: int
    combine_steps: int = 200
    version: int = 2

    def __post_init__(self) -> None:
        validate.raise_if([
            validate.positive_int("n_members", self.n_members),
            None if self.n_members >= 2 else "n_members must be at least 2",
            validate.positive_int("resamples", self.resamples),
            recipe.equal_budgets({"member_grid": self.member_grid, "distill_grid": self.distill_grid}),
            None if self.patience >= 1 else f"patience must be >= 1, got {self.patience}",
            validate.seeds("student_seeds", self.student_seeds),
            None if not set(self.student_seeds) & set(self.member_seeds) else
            "student_seeds must not be member seeds (a student would start from a member's weights and data order)",
            validate.positive_int("n_clusters", self.n_clusters),
            None if 1 <= self.generalists <= self.n_members else "generalists must be between 1 and n_members",
            validate.positive_int("top_n", self.top_n),
            validate.positive_int("combine_steps", self.combine_steps),
        ], "ch04 settings")

    @property
    def member_seeds(self) -> list[int]:
        return list(range(100, 100 + self.n_members))


def _distill_grid(lrs: tuple[float, ...], Ts: tuple[float, ...], alpha: float = 0.5):
    return tuple((lr, DistillConfig(T=T, alpha=alpha)) for lr in lrs for T in Ts)


SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        dataset="digits", train_limit=None, member=ModelConfig("mlp", (32,)),
        member_train=TrainConfig(epochs=6, batch_size=64, lr=0.05), member_grid=(0.05, 0.1), n_members=4,
        resamples=4, patience=1.5, distill_grid=_distill_grid((0.05,), (2.0, 4.0)), student_seeds=(0, 1),
        n_clusters=4, generalists=2, specialist_train=TrainConfig(epochs=4, batch_size=64, lr=0.02), top_n=1,
        combine_steps=50),
    # Members: a BatchNorm CNN on a tenth of the images, where a pilot (4 members, validation) saw an
    # ensemble gain of about a point, against 0.2 for 2x300 MLPs (which are nearly one function).
    "full": Settings(
        dataset="fashion-mnist", train_limit=5500, member=ModelConfig("convnet", (16, 32), dropout=0.3, hidden=(64,)),
        member_train=TrainConfig(epochs=20, batch_size=128, lr=0.05, weight_decay=5e-4),
        member_grid=(0.02, 0.05, 0.1, 0.2), n_members=12, resamples=20, patience=2.5,
        distill_grid=_distill_grid((0.05, 0.1), (2.0, 4.0)), student_seeds=(0, 1, 2), n_clusters=4, generalists=3,
        specialist_train=TrainConfig(epochs=8, batch_size=128, lr=0.01, weight_decay=5e-4), top_n=1),
    "paper": Settings(
        dataset="cifar100", train_limit=None, member=ModelConfig("cnn", (64, 128, 256)),
        member_train=TrainConfig(epochs=60, batch_size=128, lr=0.05, augment="crop_flip", augment_px=4,
                                 weight_decay=5e-4), member_grid=(0.02, 0.05, 0.1, 0.2), n_members=12, resamples=20,
        patience=2.0, distill_grid=_distill_grid((0.05, 0.1), (2.0, 4.0)), student_seeds=(0, 1, 2), n_clusters=20,
        generalists=3, specialist_train=TrainConfig(epochs=10, batch_size=128, lr=0.01), top_n=1),
}


def settings(profile: str) -> Settings:
    """Chapter 4's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


# ------------------------------------------------------------------------------ computations
def _summary(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    return {"accuracy": metrics.accuracy(probs, labels), "nll": metrics.nll(probs, labels),
            "ece": metrics.ece(probs, labels)}


def ensemble_curve(member_probs: torch.Tensor, labels: torch.Tensor, resamples: int, seed: int = 0,
                   method: str = "arithmetic") -> list[dict]:
    """Metrics of ensembles of N = 1..M members (M = ``member_probs.shape[0]``), for up to
    ``resamples`` random subsets of members per N (all of them when there are fewer)."""
    M = member_probs.shape[0]
    g = torch.Generator().manual_seed(seed)
    rows = []
    for n in range(1, M + 1):
        n_subsets = min(resamples, math.comb(M, n))
        seen: set[tuple[int, ...]] = set()
        while len(seen) < n_subsets:
            seen.add(tuple(sorted(torch.randperm(M, generator=g)[:n].tolist())))
        for subset in sorted(seen):
            probs = combine_probs(member_probs[list(subset)], method)
            rows.append({"n": n, "members": list(subset), "method": method, **_summary(probs, labels)})
    return rows


class _Lab:
    """The chapter's data, tuned members and (for the distillation part) tuned students."""

    def __init__(self, s: Settings, device: str):
        self.s, self.device = s, device
        self.ds: Dataset = load_dataset(s.dataset, device=device, train_limit=s.train_limit)
        self._tuned: dict[str, dict] = {}
        self._members: list[torch.nn.Module] | None = None

    def _member_run(self, lr: float, seed: int):
        return trained_run("ch04-member", self.ds, self.s.dataset, self.s.member,
                           dataclasses.replace(self.s.member_train, lr=lr), seed, device=self.device,
                           train_limit=self.s.train_limit, member=True, track_val=True)

    def member_tuning(self) -> dict:
        """The members' learning rate chosen on validation (member seed 100) and every grid point's score."""
        if "member" not in self._tuned:
            seed = self.s.member_seeds[0]
            lr, scores = recipe.choose_on_validation(
                list(self.s.member_grid), lambda lr: self._member_run(lr, seed)[1]["epochs"][-1]["val_accuracy"])
            self._tuned["member"] = {"points": list(self.s.member_grid), "val_accuracy": scores, "lr": lr}
        return self._tuned["member"]

    @property
    def member_train(self) -> TrainConfig:
        return dataclasses.replace(self.s.member_train, lr=self.member_tuning()["lr"])

    def members(self) -> list[torch.nn.Module]:
        """Every member, trained at the chosen learning rate (the tuning's seed-100 run among them)."""
        if self._members is None:
            self._members = trained_members("ch04-member", self.ds, self.s.dataset, self.s.member,
                                            self.member_train, self.s.member_seeds, device=self.device,
                                            train_limit=self.s.train_limit, track_val=True)
        return self._members

    @property
    def student_epochs(self) -> int:
        return recipe.patient_epochs(self.s.member_train.epochs, self.s.patience)

    def student_run(self, seed: int, lr: float, objective=None, teacher=None):
        """The members' architecture trained for the student's epochs: distilled from ``teacher`` with
        ``objective``, or on labels (no teacher)."""
        cfg = dataclasses.replace(self.s.member_train, lr=lr, epochs=self.student_epochs)
        teaching = {} if teacher is None else {"objective": objective, "teacher": teacher}
        return trained_run("ch04-student", self.ds, self.s.dataset, self.s.member, cfg, seed, device=self.device,
                           train_limit=self.s.train_limit, track_val=True, **teaching)

    def distill_tuning(self) -> dict:
        """The student's (lr, objective) chosen on validation (first student seed, arithmetic ensemble)."""
        if "distill" not in self._tuned:
            teacher = Ensemble(self.members(), "arithmetic")
            seed = self.s.student_seeds[0]
            chosen, scores = recipe.choose_on_validation(
                list(self.s.distill_grid),
                lambda p: self.student_run(seed, p[0], p[1], teacher)[1]["epochs"][-1]["val_accuracy"])
            self._tuned["distill"] = {"points": list(self.s.distill_grid), "val_accuracy": scores,
                                      "lr": chosen[0], "objective": chosen[1]}
        return self._tuned["distill"]


def _curve(history: dict) -> list[float | None]:
    return [e.get("val_accuracy") for e in history.get("epochs", [])]


def _members_part(s: Settings, device: str) -> dict:
    lab = _Lab(s, device)
    ds = lab.ds
    t = lab.member_tuning()
    members = lab.members()
    probs = torch.stack([predict_probs(m, ds.test.x) for m in members]).cpu()
    rows = []
    for method in ("arithmetic", "geometric"):
        rows += ensemble_curve(probs, ds.test.y.cpu(), s.resamples, method=method)
    singles = [{"seed": seed, **_summary(p, ds.test.y.cpu()), **recipe.accuracies(m, ds)}
               for seed, p, m in zip(s.member_seeds, probs, members)]
    return {"dataset": ds.describe(), "rows": rows, "members": singles, "epochs": s.member_train.epochs,
            "tuning": [{"lr": lr, "val_accuracy": acc, "chosen": lr == t["lr"]}
                       for lr, acc in zip(t["points"], t["val_accuracy"])]}


def _distill_part(s: Settings, device: str) -> dict:
    lab = _Lab(s, device)
    ds = lab.ds
    members = lab.members()
    test_probs = torch.stack([predict_probs(m, ds.test.x) for m in members])
    t = lab.distill_tuning()
    rows, curves = [], []
    labels_val = []
    for seed in s.student_seeds:
        model, history = lab.student_run(seed, lab.member_train.lr)
        probs = predict_probs(model, ds.test.x)
        rows.append({"model": "labels, student's epochs", "method": None, "seed": seed,
                     "val_accuracy": metrics.accuracy(predict_probs(model, ds.val.x), ds.val.y),
                     **_summary(probs, ds.test.y)})
        labels_val.append(rows[-1]["val_accuracy"])
        curves.append({"model": "labels, student's epochs", "seed": seed, "val_accuracy": _curve(history)})
    reports = {}
    for method in ("arithmetic", "geometric"):
        teacher = Ensemble(members, method)
        ens_test = combine_probs(test_probs, method)
        accs = recipe.accuracies(teacher, ds)
        reports[method] = recipe.teacher_report([accs] * len(s.student_seeds), labels_val)
        rows.append({"model": f"ensemble ({method})", "method": method, "seed": None,
                     "val_accuracy": accs["val_accuracy"], **_summary(ens_test, ds.test.y)})
        for seed in s.student_seeds:
            student, history = lab.student_run(seed, t["lr"], t["objective"], teacher)
            probs = predict_probs(student, ds.test.x)
            rows.append({"model": f"student of the {method} ensemble", "method": method, "seed": seed,
                         "agreement": metrics.agreement(ens_test, probs),
                         "val_accuracy": metrics.accuracy(predict_probs(student, ds.val.x), ds.val.y),
                         **_summary(probs, ds.test.y)})
            curves.append({"model": f"student of the {method} ensemble", "seed": seed, "val_accuracy": _curve(history)})
    singles = [_summary(p, ds.test.y) for p in test_probs]
    return {"rows": rows, "curves": curves, "member_accuracy": [r["accuracy"] for r in singles],
            "member_nll": [r["nll"] for r in singles], "teacher_reports": reports,
            "epochs": {"members": s.member_train.epochs, "students": lab.student_epochs},
            "member_lr": lab.member_train.lr,
            "tuning": [{"lr": lr, "T": obj.T, "alpha": obj.alpha, "val_accuracy": acc,
                        "chosen": lr == t["lr"] and obj == t["objective"]}
                       for (lr, obj), acc in zip(t["points"], t["val_accuracy"])]}


def _route(base: torch.Tensor, others: list[torch.Tensor], active: torch.Tensor) -> torch.Tensor:
    """Per example, the mean of ``others[m]`` over the active m, or ``base`` where none is active."""
    out = base.clone()
    if not others:
        return out
    stacked = torch.stack(others, dim=1)  # (B, S, C)
    w = active.to(stacked.dtype).unsqueeze(-1)
    n = w.sum(1)
    has = n.squeeze(-1) > 0
    out[has] = ((stacked * w).sum(1) / n.clamp_min(1))[has]
    return out


def _one_generalist(s: Settings, lab: _Lab, generalist: torch.nn.Module, seed: int) -> dict:
    ds, C = lab.ds, lab.ds.num_classes
    train_probs = predict_probs(generalist, ds.train.x)
    clusters = sp.confusable_clusters(train_probs.cpu(), s.n_clusters, seed=0)
    enrich = [sp.enrichment(train_probs, ds.train.y, c) for c in clusters]
    subsets = [c for c, e in zip(clusters, enrich) if len(c) >= 2 and e > 1]
    specs, controls, info = [], [], []
    for k, subset in enumerate(subsets):
        rows, oversampling = sp.specialist_rows(ds.train, subset, seed=k)
        split = ds.train.subset(rows)
        relabelled = dataclasses.replace(split, y=sp.relabel(split.y, subset, C))
        model = sp.specialist_from_generalist(generalist, subset)
        history = train(model, relabelled, s.specialist_train, name=f"specialist {subset} (generalist {seed})")
        control = copy.deepcopy(generalist)
        for p in control.parameters():
            p.requires_grad_(True)
        train(control, split, s.specialist_train, name=f"fine-tuned generalist {subset} (generalist {seed})")
        model.eval(), control.eval()
        specs.append(model)
        controls.append(control)
        info.append({"classes": subset, "train_size": len(split), "oversampling": oversampling,
                     "train_seconds": history.seconds})
    out = {"seed": seed, "clusters": clusters, "enrichment": enrich, "specialists": info,
           "correlation": sp.prediction_correlation(train_probs).round(6).tolist()}
    for name, data in (("test", ds.test), ("val", ds.val)):
        pg = predict_probs(generalist, data.x)
        active = sp.active_specialists(pg, subsets, s.top_n) if subsets else torch.zeros(len(pg), 0, dtype=torch.bool)
        spec_probs = [sp.dustbin_corrected(predict_logits(m, data.x), info[i]["oversampling"]).softmax(-1)
                      for i, m in enumerate(specs)]
        q = sp.combine_with_specialists(pg, spec_probs, subsets, active, steps=s.combine_steps) if subsets else pg
        fine = _route(pg, [predict_probs(c, data.x) for c in controls], active)
        covered = torch.isin(data.y, torch.tensor([c for sub in subsets for c in sub] or [-1], device=data.y.device))
        any_active = active.any(-1) if subsets else torch.zeros(len(pg), dtype=torch.bool)

        def acc(p: torch.Tensor, mask: torch.Tensor) -> float:
            return metrics.accuracy(p[mask], data.y[mask]) if mask.any() else float("nan")

        out[name] = {
            "all": {"generalist": acc(pg, torch.ones_like(covered)), "combined": acc(q, torch.ones_like(covered)),
                    "fine-tuned": acc(fine, torch.ones_like(covered))},
            "covered": {"generalist": acc(pg, covered), "combined": acc(q, covered), "fine-tuned": acc(fine, covered),
                        "count": int(covered.sum())},
            "active": {"generalist": acc(pg, any_active), "combined": acc(q, any_active),
                       "fine-tuned": acc(fine, any_active), "count": int(any_active.sum())},
            "per_specialist": [
                {"classes": sub, "generalist": acc(pg, m), "combined": acc(q, m), "fine-tuned": acc(fine, m),
                 "count": int(m.sum())}
                for sub in subsets for m in [torch.isin(data.y, torch.tensor(sub, device=data.y.device))]],
        }
    return out


def _specialists_part(s: Settings, device: str) -> dict:
    lab = _Lab(s, device)
    generalists = lab.members()[:s.generalists]
    return {"dataset": lab.ds.describe(), "class_names": list(lab.ds.class_names), "top_n": s.top_n,
            "generalists": [_one_generalist(s, lab, g, seed) for g, seed in zip(generalists, s.member_seeds)]}


_MEMBERS = ("version", "dataset", "train_limit", "member", "member_train", "member_grid", "member_seeds")
PARTS = (Part("ch04-members", _members_part, (*_MEMBERS, "resamples")),
         Part("ch04-distill", _distill_part, (*_MEMBERS, "patience", "distill_grid", "student_seeds")),
         Part("ch04-specialists", _specialists_part,
              (*_MEMBERS, "n_clusters", "generalists", "specialist_train", "top_n", "combine_steps")))


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False,
        changes: Mapping[str, Any] | None = None) -> dict[str, StoredResult]:
    """Train (or load) chapter 4's members, students and specialists, and store the measurements.
    ``changes`` varies the profile's settings by name (the fields of ``Settings``), for the exercises."""
    s = with_changes(settings(profile), changes)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.member_seeds)
