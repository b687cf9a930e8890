"""Chapter 4, ensembles, distilling an ensemble, and specialists (Hinton et al. 2015).

Three stored results (read by :mod:`kdbook.reports.ch04_ensembles`):

* ``ch04-members``: test metrics of ensembles of N = 1..M independently seeded members, over
  random resamplings of which members form the ensemble, combined by arithmetic and geometric
  means of probabilities;
* ``ch04-distill``: a student of the members' architecture distilled from the whole ensemble
  (arithmetic or geometric soft targets), per student seed, and the share of the ensemble's gain
  over a single member that it keeps;
* ``ch04-specialists``: a generalist, clusters of confusable classes from the covariance of its
  predictions, specialists with a dustbin class, and their KL-minimising combination.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import metrics
from .. import specialists as sp
from .. import validate
from ..data import load_dataset
from ..losses import combine_probs
from ..models import ModelConfig
from ..profiles import get_profile
from ..store import StoredResult
from ..teachers import Ensemble
from ..losses import DistillConfig
from ..train import TrainConfig, predict_logits, predict_probs, train
from .common import Part, run_parts, trained_members, trained_model

TITLE = "Ensembles, distilling an ensemble, and specialists"
NOTEBOOK = "ch04_ensembles.ipynb"

@dataclass(frozen=True)
class Settings:
    """Chapter 4's models and sizes for one profile."""

    dataset: str
    member: ModelConfig
    member_train: TrainConfig
    n_members: int
    resamples: int
    student_train: TrainConfig
    T: float
    student_seeds: tuple[int, ...]
    n_clusters: int
    specialist_train: TrainConfig
    top_n: int
    combine_steps: int = 200
    train_limit: int | None = None
    version: int = 1

    def __post_init__(self) -> None:
        validate.raise_if([
            validate.positive_int("n_members", self.n_members),
            None if self.n_members >= 2 else "n_members must be at least 2",
            validate.positive_int("resamples", self.resamples),
            validate.positive("T", self.T),
            validate.seeds("student_seeds", self.student_seeds),
            validate.positive_int("n_clusters", self.n_clusters),
            validate.positive_int("top_n", self.top_n),
            validate.positive_int("combine_steps", self.combine_steps),
        ], "ch04 settings")

    @property
    def member_seeds(self) -> list[int]:
        return list(range(100, 100 + self.n_members))


SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        dataset="digits", member=ModelConfig("mlp", (32,)),
        member_train=TrainConfig(epochs=6, batch_size=64, lr=0.05), n_members=4, resamples=4,
        student_train=TrainConfig(epochs=6, batch_size=64, lr=0.05), T=4.0, student_seeds=(0,),
        n_clusters=4, specialist_train=TrainConfig(epochs=4, batch_size=64, lr=0.02), top_n=1, combine_steps=50),
    # Members: 2x300 MLPs without regularisation, 15 epochs (trained together, vectorised).
    # T = 4 and the students' lr 0.02 keep pure distillation stable (chapter 8 saw collapses at 0.05).
    "full": Settings(
        dataset="fashion-mnist", member=ModelConfig("mlp", (300, 300)),
        member_train=TrainConfig(epochs=15, batch_size=128, lr=0.05), n_members=12, resamples=20,
        student_train=TrainConfig(epochs=15, batch_size=128, lr=0.02), T=4.0, student_seeds=(0, 1, 2),
        n_clusters=4, specialist_train=TrainConfig(epochs=8, batch_size=128, lr=0.01), top_n=1),
    "paper": Settings(
        dataset="cifar100", member=ModelConfig("cnn", (64, 128, 256)),
        member_train=TrainConfig(epochs=60, batch_size=128, lr=0.05, augment="crop_flip", augment_px=4,
                                 weight_decay=5e-4), n_members=12, resamples=20,
        student_train=TrainConfig(epochs=60, batch_size=128, lr=0.02, weight_decay=5e-4), T=4.0,
        student_seeds=(0, 1, 2), n_clusters=20,
        specialist_train=TrainConfig(epochs=10, batch_size=128, lr=0.01), top_n=1),
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


def _members_part(s: Settings, device: str) -> dict:
    ds = load_dataset(s.dataset, device=device, train_limit=s.train_limit)
    members = trained_members("ch04-member", ds, s.dataset, s.member, s.member_train, s.member_seeds,
                              device=device, train_limit=s.train_limit)
    probs = torch.stack([predict_probs(m, ds.test.x) for m in members]).cpu()
    rows = []
    for method in ("arithmetic", "geometric"):
        rows += ensemble_curve(probs, ds.test.y.cpu(), s.resamples, method=method)
    singles = [{"seed": seed, **_summary(p, ds.test.y.cpu())} for seed, p in zip(s.member_seeds, probs)]
    return {"dataset": ds.describe(), "rows": rows, "members": singles}


def _distill_part(s: Settings, device: str) -> dict:
    ds = load_dataset(s.dataset, device=device, train_limit=s.train_limit)
    members = trained_members("ch04-member", ds, s.dataset, s.member, s.member_train, s.member_seeds,
                              device=device, train_limit=s.train_limit)
    test_probs = torch.stack([predict_probs(m, ds.test.x) for m in members])
    dcfg = DistillConfig(T=s.T)
    rows = []
    for method in ("arithmetic", "geometric"):
        ens_test = combine_probs(test_probs, method)
        rows.append({"model": f"ensemble ({method})", "method": method, "seed": None,
                     **_summary(ens_test, ds.test.y)})
        for seed in s.student_seeds:
            student = trained_model("ch04-student", ds, s.dataset, s.member, s.student_train, seed, device=device,
                                    train_limit=s.train_limit, objective=dcfg,
                                    teacher=Ensemble(members, method))
            probs = predict_probs(student, ds.test.x)
            rows.append({"model": f"student of the {method} ensemble", "method": method, "seed": seed,
                         "agreement": metrics.agreement(ens_test, probs), **_summary(probs, ds.test.y)})
    singles = [_summary(p, ds.test.y) for p in test_probs]
    return {"rows": rows, "member_accuracy": [r["accuracy"] for r in singles],
            "member_nll": [r["nll"] for r in singles], "T": s.T}


def _specialists_part(s: Settings, device: str) -> dict:
    ds = load_dataset(s.dataset, device=device, train_limit=s.train_limit)
    generalist = trained_members("ch04-member", ds, s.dataset, s.member, s.member_train, s.member_seeds[:1],
                                 device=device, train_limit=s.train_limit)[0]
    train_probs = predict_probs(generalist, ds.train.x)
    clusters = sp.confusable_clusters(train_probs.cpu(), s.n_clusters, seed=0)
    subsets = [c for c in clusters if len(c) >= 2]
    C = ds.num_classes
    spec_test, spec_val, info = [], [], []
    for k, subset in enumerate(subsets):
        split, oversampling = sp.specialist_split(ds.train, subset, C, seed=k)
        model = sp.specialist_from_generalist(generalist, subset)
        history = train(model, split, s.specialist_train, name=f"specialist {subset}")
        model.eval()
        for target, data in ((spec_test, ds.test), (spec_val, ds.val)):
            target.append(sp.dustbin_corrected(predict_logits(model, data.x), oversampling).softmax(-1))
        info.append({"classes": subset, "train_size": len(split), "oversampling": oversampling,
                     "train_seconds": history.seconds})
    out = {"dataset": ds.describe(), "class_names": list(ds.class_names), "clusters": clusters,
           "specialists": info, "top_n": s.top_n,
           "covariance": sp.prediction_covariance(train_probs).round(6).tolist()}
    for name, data, spec in (("test", ds.test, spec_test), ("val", ds.val, spec_val)):
        pg = predict_probs(generalist, data.x)
        active = sp.active_specialists(pg, subsets, s.top_n) if subsets else torch.zeros(len(pg), 0, dtype=torch.bool)
        q = sp.combine_with_specialists(pg, spec, subsets, active, steps=s.combine_steps) if subsets else pg
        covered = torch.isin(data.y, torch.tensor([c for sub in subsets for c in sub] or [-1], device=data.y.device))
        out[name] = {
            "generalist": _summary(pg, data.y), "combined": _summary(q, data.y),
            "generalist_on_covered": metrics.accuracy(pg[covered], data.y[covered]) if covered.any() else float("nan"),
            "combined_on_covered": metrics.accuracy(q[covered], data.y[covered]) if covered.any() else float("nan"),
            "covered": int(covered.sum()), "active_rate": float(active.any(-1).float().mean()) if subsets else 0.0,
            "per_specialist": [
                {"classes": sub,
                 "generalist": metrics.accuracy(pg[m], data.y[m]), "combined": metrics.accuracy(q[m], data.y[m]),
                 "count": int(m.sum())}
                for sub in subsets
                for m in [torch.isin(data.y, torch.tensor(sub, device=data.y.device))]],
        }
    return out


_MEMBERS = ("version", "dataset", "train_limit", "member", "member_train", "member_seeds")
PARTS = (Part("ch04-members", _members_part, (*_MEMBERS, "resamples")),
         Part("ch04-distill", _distill_part, (*_MEMBERS, "student_train", "T", "student_seeds")),
         Part("ch04-specialists", _specialists_part,
              (*_MEMBERS, "n_clusters", "specialist_train", "top_n", "combine_steps")))


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False) -> dict[str, StoredResult]:
    """Train (or load) chapter 4's members, students and specialists, and store the measurements."""
    s = settings(profile)
    return run_parts(PARTS, s, profile=profile, device=device, recompute=recompute, seeds=s.member_seeds)
