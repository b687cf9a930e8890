"""Chapter 6, multi-view data: why ensembles and distillation work (Allen-Zhu & Li, 2020).

One stored result, ``ch06-multiview``: on synthetic multi-view data (:mod:`kdbook.multiview`),

* ``members``: independently seeded patch-convolution nets, their accuracy on multi-view and
  single-view test examples, and how well each class's channels align with each of its views;
* ``ensemble``: the members' averaged probabilities, and which views at least one member learned;
* ``kd``: students distilled from the ensemble; ``self_kd``: students each distilled from one member;
* ``control``: the same ensemble on data whose classes have a single view (no multi-view structure);
* ``sweep``: the ensemble's gain as the share of single-view training examples grows.

Tables, numbers, claims and sentences read from it are in :mod:`kdbook.reports.ch06_multiview`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch

from .. import multiview as mv
from .. import validate
from ..losses import combine_probs, probs_to_logits, soften
from ..profiles import get_profile
from ..store import StoredResult
from .common import Part, run_parts, with_changes

TITLE = "Multi-view data: why ensembles and distillation work"
NOTEBOOK = "ch06_multiview.ipynb"


@dataclass(frozen=True)
class Settings:
    """Chapter 6's generator, learner and sizes for one profile."""

    data: mv.MultiViewData
    net: mv.PatchNetConfig
    gd: mv.GDConfig
    n_train: int
    n_test: int
    member_seeds: tuple[int, ...]
    student_seeds: tuple[int, ...]
    T: float
    sweep_fractions: tuple[float, ...]
    sweep_members: int
    control_members: int
    student_gd: mv.GDConfig | None = None
    data_seed: int = 0
    version: int = 1

    def __post_init__(self) -> None:
        validate.raise_if([
            validate.positive_int("n_train", self.n_train), validate.positive_int("n_test", self.n_test),
            validate.seeds("member_seeds", self.member_seeds), validate.seeds("student_seeds", self.student_seeds),
            None if len(self.member_seeds) >= 2 else "member_seeds must hold at least 2 seeds",
            None if len(self.student_seeds) <= len(self.member_seeds)
            else "student_seeds may not outnumber member_seeds (each self-distilled student has its own teacher)",
            validate.positive("T", self.T),
            *[validate.unit_interval("sweep_fractions", f) for f in self.sweep_fractions],
            validate.positive_int("sweep_members", self.sweep_members), validate.positive_int("control_members", self.control_members),
        ], "ch06 settings")

    @property
    def students_gd(self) -> mv.GDConfig:
        return self.student_gd or self.gd


# Constants found by trying (the page explains why each matters): features in disjoint patches,
# an initialisation 20x below the smoothed ReLU's threshold and q = 4 make the "lottery" between a
# class's two views decisive; without them every net learns both views and ensembles gain nothing.
_FULL_DATA = mv.MultiViewData(num_classes=10, views=2, dim=200, patches=20, feature_patches=4,
                              single_view_fraction=0.1, off_class_features=2, off_class_weight=0.4,
                              noise_std=0.1)
_FULL_NET = mv.PatchNetConfig(channels=2, q=4, threshold=1.0, init_std=0.05)

SETTINGS: dict[str, Settings] = {
    "smoke": Settings(
        data=replace(_FULL_DATA, dim=60), net=_FULL_NET, gd=mv.GDConfig(steps=150, lr=4.0, tol=0.01), n_train=300,
        n_test=1000, member_seeds=(0, 1, 2, 3), student_seeds=(0, 1), T=2.0, sweep_fractions=(0.1, 0.4),
        sweep_members=2, control_members=2),
    "full": Settings(
        data=_FULL_DATA, net=_FULL_NET, gd=mv.GDConfig(steps=1500, lr=4.0, tol=0.01), n_train=600, n_test=6000,
        member_seeds=tuple(range(10)), student_seeds=(0, 1, 2), T=2.0, sweep_fractions=(0.05, 0.1, 0.2, 0.4),
        sweep_members=5, control_members=5),
}
# The paper's own setting is a theorem, not a dataset: "paper" runs the full settings.
SETTINGS["paper"] = SETTINGS["full"]


def settings(profile: str) -> Settings:
    """Chapter 6's settings for ``profile`` (validated)."""
    get_profile(profile)
    return SETTINGS[profile]


# ------------------------------------------------------------------------------ computations
def _nets_summary(w: torch.Tensor, seeds, features: torch.Tensor, test: mv.MultiViewSet, s: Settings) -> list[dict]:
    align = mv.view_alignment(w, features)
    learned = mv.learned_views(align, s.net.threshold)
    return [{"seed": seed, "accuracy": mv.accuracy_by_kind(p, test), "alignment": mv.as_numpy(a).tolist(),
             "learned": l.tolist(), "views_learned": float(l.float().mean()),
             "error_share_single": mv.error_share_single(p, test)}
            for seed, p, a, l in zip(seeds, mv.probs(w, test.x, s.net), align, learned)]


def _members(data: mv.MultiViewData, s: Settings, seeds, n_test: int | None = None):
    features = mv.feature_directions(data, s.data_seed)
    train = mv.sample(data, s.n_train, features, seed=s.data_seed + 1)
    test = mv.sample(data, n_test or s.n_test, features, seed=s.data_seed + 2)
    w, losses = mv.fit(mv.init_weights(s.net, data, list(seeds)), train, s.net, s.gd)
    return features, train, test, w, losses


def _ensemble_summary(w: torch.Tensor, features: torch.Tensor, test: mv.MultiViewSet, s: Settings) -> dict:
    ens = combine_probs(mv.probs(w, test.x, s.net), "arithmetic")
    learned = mv.learned_views(mv.view_alignment(w, features), s.net.threshold)
    return {"accuracy": mv.accuracy_by_kind(ens, test), "error_share_single": mv.error_share_single(ens, test),
            "covered": learned.any(0).tolist(), "views_covered": float(learned.any(0).float().mean())}


def _main_part(s: Settings) -> dict:
    features, train, test, w, losses = _members(s.data, s, s.member_seeds)
    members = _nets_summary(w, s.member_seeds, features, test, s)
    out = {"members": members, "ensemble": _ensemble_summary(w, features, test, s),
           "final_train_loss": losses[-1], "test_single_count": int(test.single.sum()), "test_count": len(test)}

    # distillation from the ensemble: its probabilities on the training inputs, softened at T
    ens_train = combine_probs(mv.probs(w, train.x, s.net), "arithmetic")
    targets = soften(probs_to_logits(ens_train), s.T)
    student_init = mv.init_weights(s.net, s.data, [1000 + x for x in s.student_seeds])
    w_kd, _ = mv.fit(student_init, train, s.net, s.students_gd, targets=targets, T=s.T)
    out["kd"] = _nets_summary(w_kd, s.student_seeds, features, test, s)
    # self-distillation: student i learns from member i alone (same architecture, fresh seed)
    own = torch.stack([soften(probs_to_logits(p), s.T)
                       for p in mv.probs(w[:len(s.student_seeds)], train.x, s.net)])
    w_self, _ = mv.fit(student_init, train, s.net, s.students_gd, targets=own, T=s.T)
    out["self_kd"] = _nets_summary(w_self, s.student_seeds, features, test, s)
    out["self_kd_teachers"] = list(s.member_seeds[:len(s.student_seeds)])

    # control: the same learner and ensemble on data whose classes each have one view
    control = replace(s.data, views=1)
    cf, _, ctest, cw, _ = _members(control, s, s.member_seeds[:s.control_members])
    out["control"] = {"members": _nets_summary(cw, s.member_seeds[:s.control_members], cf, ctest, s),
                      "ensemble": _ensemble_summary(cw, cf, ctest, s)}

    # how the ensemble's gain depends on the share of single-view training examples
    out["sweep"] = []
    for fraction in s.sweep_fractions:
        data = replace(s.data, single_view_fraction=fraction)
        sf, _, stest, sw, _ = _members(data, s, s.member_seeds[:s.sweep_members])
        nets = _nets_summary(sw, s.member_seeds[:s.sweep_members], sf, stest, s)
        out["sweep"].append({"single_view_fraction": fraction, "members": nets,
                             "ensemble": _ensemble_summary(sw, sf, stest, s)})
    out["example"] = _example(s.data, features, s)
    return out


def _example(data: mv.MultiViewData, features: torch.Tensor, s: Settings) -> dict:
    """One multi-view and one single-view example, projected on every feature (for a figure)."""
    pool = mv.sample(data, 200, features, seed=s.data_seed + 3)
    flat = features.reshape(-1, data.dim)
    out = {}
    for name, mask in (("multi-view", ~pool.single), ("single-view", pool.single)):
        i = int(torch.nonzero(mask)[0])
        out[name] = {"label": int(pool.y[i]), "strong_view": int(pool.strong_view[i]),
                     "projection": mv.as_numpy(pool.x[i] @ flat.T).tolist()}
    return out


PARTS = (Part("ch06-multiview", lambda s, device: _main_part(s), tuple(f.name for f in dataclasses.fields(Settings))),)


def run(profile: str = "smoke", device: str = "cpu", recompute: bool = False,
        changes: Mapping[str, Any] | None = None) -> dict[str, StoredResult]:
    """Train (or load) chapter 6's nets and store the measurements. The nets are tiny and trained
    full-batch on the CPU whatever ``device`` says.
    ``changes`` varies the profile's settings by name (the fields of ``Settings``), for the exercises."""
    s = with_changes(settings(profile), changes)
    return run_parts(PARTS, s, profile=profile, device="cpu", recompute=recompute, seeds=s.member_seeds)

