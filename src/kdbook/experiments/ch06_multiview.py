"""Chapter 6, multi-view data: why ensembles and distillation work (Allen-Zhu & Li, 2020).

One stored result, ``ch06-multiview``: on synthetic multi-view data (:mod:`kdbook.multiview`),
for the first data seed (the page's detailed look):

* ``members``: independently seeded patch-convolution nets, their accuracy on multi-view and
  single-view test examples, and how well each class's channels align with each of its views;
* ``ensemble``: the members' averaged probabilities, and which views at least one member learned;
* ``kd``: students distilled from the ensemble; ``self_kd``: students each distilled from one
  member; ``twins``: each student's own initialisation trained on the labels (its own lottery);
* ``average``: the average (F1 + ... + FN)/N of ``average_members`` nets trained as one model;
* ``control``: the same learner and ensemble on data whose classes have a single view, its noise
  chosen on a validation sample so that single nets are as accurate as on the two-view data
  (matched difficulty);
* ``sweep``: the ensemble's gain as the share of single-view training examples grows;

and ``runs``: the main comparisons (members, ensemble, students, twins, trained average, matched
control) for every data seed, each a new draw of features and examples.

Tables, numbers, claims and sentences read from it are in :mod:`kdbook.reports.ch06_multiview`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from .. import multiview as mv
from .. import recipe, validate
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
    #: every data seed draws new feature directions and examples; the first is the detailed one
    data_seeds: tuple[int, ...] = (0,)
    #: validation examples, for matching the control's difficulty
    n_val: int = 1000
    #: the control's noise levels; the one whose single nets' validation accuracy is nearest the
    #: two-view nets' is used (empty: the generator's own noise, unmatched)
    control_noise_grid: tuple[float, ...] = ()
    #: sub-networks of the trained average (0: none)
    average_members: int = 0
    #: 3: the teacher's (the ensemble's) report is stored
    version: int = 3

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
            validate.seeds("data_seeds", self.data_seeds), validate.positive_int("n_val", self.n_val),
            *[validate.non_negative("control_noise_grid", v) for v in self.control_noise_grid],
            validate.non_negative_int("average_members", self.average_members),
            None if self.average_members != 1 else "average_members must be 0 (none) or at least 2",
        ], "ch06 settings")

    @property
    def data_seed(self) -> int:
        """The first data seed: the one the page looks at in detail."""
        return self.data_seeds[0]

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
        sweep_members=2, control_members=2, data_seeds=(0, 1), n_val=300, control_noise_grid=(0.1, 0.3),
        average_members=2),
    # The control's noise grid spans single-net accuracy from 100% (0.2) to about 95% (0.3) on
    # one-view data (a pilot); the two-view nets sit near 98%.
    "full": Settings(
        data=_FULL_DATA, net=_FULL_NET, gd=mv.GDConfig(steps=1500, lr=4.0, tol=0.01), n_train=600, n_test=6000,
        member_seeds=tuple(range(10)), student_seeds=(0, 1, 2), T=2.0, sweep_fractions=(0.05, 0.1, 0.2, 0.4),
        sweep_members=5, control_members=5, data_seeds=(0, 1, 2), n_val=2000,
        control_noise_grid=(0.2, 0.22, 0.24, 0.26, 0.28, 0.3), average_members=5),
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


def _members(data: mv.MultiViewData, s: Settings, seeds, data_seed: int, n_test: int | None = None):
    features = mv.feature_directions(data, data_seed)
    train = mv.sample(data, s.n_train, features, seed=data_seed + 1)
    test = mv.sample(data, n_test or s.n_test, features, seed=data_seed + 2)
    w, losses = mv.fit(mv.init_weights(s.net, data, list(seeds)), train, s.net, s.gd)
    return features, train, test, w, losses


def _validation(data: mv.MultiViewData, s: Settings, features: torch.Tensor, data_seed: int) -> mv.MultiViewSet:
    return mv.sample(data, s.n_val, features, seed=data_seed + 4)


def _ensemble_summary(w: torch.Tensor, features: torch.Tensor, test: mv.MultiViewSet, s: Settings) -> dict:
    ens = combine_probs(mv.probs(w, test.x, s.net), "arithmetic")
    learned = mv.learned_views(mv.view_alignment(w, features), s.net.threshold)
    return {"accuracy": mv.accuracy_by_kind(ens, test), "error_share_single": mv.error_share_single(ens, test),
            "covered": learned.any(0).tolist(), "views_covered": float(learned.any(0).float().mean())}


def _mean_val_accuracy(w: torch.Tensor, val: mv.MultiViewSet, s: Settings) -> float:
    return float(np.mean([mv.accuracy_by_kind(p, val)["all"] for p in mv.probs(w, val.x, s.net)]))


def matched_control_noise(s: Settings, target: float) -> tuple[float, list[dict]]:
    """The noise of :attr:`Settings.control_noise_grid` whose one-view single nets (the first data
    seed, ``control_members`` of them) have the mean validation accuracy nearest ``target``; and
    every grid point's."""
    rows = []
    for noise in s.control_noise_grid:
        data = replace(s.data, views=1, noise_std=noise)
        features, _, _, w, _ = _members(data, s, s.member_seeds[:s.control_members], s.data_seed, n_test=1)
        rows.append({"noise_std": noise, "val_accuracy": _mean_val_accuracy(w, _validation(data, s, features,
                                                                                              s.data_seed), s)})
    chosen = min(rows, key=lambda r: abs(r["val_accuracy"] - target))
    return chosen["noise_std"], rows


def _control(s: Settings, noise: float, data_seed: int) -> dict:
    data = replace(s.data, views=1, noise_std=noise)
    seeds = s.member_seeds[:s.control_members]
    features, _, test, w, _ = _members(data, s, seeds, data_seed)
    return {"noise_std": noise, "members": _nets_summary(w, seeds, features, test, s),
            "ensemble": _ensemble_summary(w, features, test, s)}


def _one_data_seed(s: Settings, data_seed: int) -> dict:
    """Members, ensemble, students (distilled, self-distilled), their twins on labels and the
    trained average on one draw of the data."""
    features, train, test, w, losses = _members(s.data, s, s.member_seeds, data_seed)
    val = _validation(s.data, s, features, data_seed)
    out = {"data_seed": data_seed, "members": _nets_summary(w, s.member_seeds, features, test, s),
           "ensemble": _ensemble_summary(w, features, test, s), "final_train_loss": losses[-1],
           "test_single_count": int(test.single.sum()), "test_count": len(test),
           "members_val_accuracy": _mean_val_accuracy(w, val, s)}
    # the teacher (the ensemble) on every split, for its report
    out["teacher"] = {f"{name}_accuracy": mv.accuracy_by_kind(combine_probs(mv.probs(w, d.x, s.net), "arithmetic"),
                                                              d)["all"]
                      for name, d in (("train", train), ("val", val), ("test", test))}
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
    # each student's own initialisation trained on the labels: the lottery it would have won alone
    w_twin, _ = mv.fit(student_init, train, s.net, s.gd)
    out["twins"] = _nets_summary(w_twin, s.student_seeds, features, test, s)
    out["twins_val_accuracy"] = _mean_val_accuracy(w_twin, val, s)
    if s.average_members:
        n = s.average_members
        sub = mv.init_weights(s.net, s.data, [2000 + k for k in range(n)])
        w_avg, _ = mv.fit_average(sub, train, s.net, replace(s.gd, lr=s.gd.lr * n))
        covered = mv.learned_views(mv.view_alignment(w_avg, features), s.net.threshold).any(0)
        out["average"] = {"sub_networks": n, "accuracy": mv.accuracy_by_kind(mv.average_probs(w_avg, test.x, s.net), test),
                          "covered": covered.tolist(), "views_covered": float(covered.float().mean()),
                          "members_ensemble": _ensemble_summary(w[:n], features, test, s)}
    return out


def _main_part(s: Settings) -> dict:
    runs = [_one_data_seed(s, seed) for seed in s.data_seeds]
    out = dict(runs[0])
    # the control: one view per class, at the difficulty of the two-view data when a grid is given
    if s.control_noise_grid:
        noise, grid = matched_control_noise(s, runs[0]["members_val_accuracy"])
    else:
        noise, grid = s.data.noise_std, []
    out["control_grid"] = grid
    for run in runs:
        run["control"] = _control(s, noise, run["data_seed"])
    out["control"] = runs[0]["control"]
    out["runs"] = runs
    # the teacher's report over data seeds: the ensemble against the students' label-trained twins
    out["teacher_report"] = recipe.teacher_report([r["teacher"] for r in runs], [r["twins_val_accuracy"] for r in runs])

    # how the ensemble's gain depends on the share of single-view training examples
    out["sweep"] = []
    for fraction in s.sweep_fractions:
        data = replace(s.data, single_view_fraction=fraction)
        sf, _, stest, sw, _ = _members(data, s, s.member_seeds[:s.sweep_members], s.data_seed)
        nets = _nets_summary(sw, s.member_seeds[:s.sweep_members], sf, stest, s)
        out["sweep"].append({"single_view_fraction": fraction, "members": nets,
                             "ensemble": _ensemble_summary(sw, sf, stest, s)})
    out["example"] = _example(s.data, mv.feature_directions(s.data, s.data_seed), s)
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

