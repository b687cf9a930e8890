"""Chapter 6: the multi-view generator and patch learner on worked examples, the chapter's run,
and its readings (tables, claims) on hand-made and smoke results."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from pathlib import Path

from kdbook import claims
from kdbook import multiview as mv
from kdbook.errors import ConfigError
from kdbook.experiments import ch06_multiview as ch06
from kdbook.reports import ch06_multiview as report
from kdbook.store import StoredResult

CFG = mv.MultiViewData(num_classes=4, views=2, dim=16, patches=10, feature_patches=2, single_view_fraction=0.5,
                       off_class_features=1, off_class_weight=0.3, noise_std=0.0)


def test_features_are_orthonormal():
    F = mv.feature_directions(CFG).reshape(-1, CFG.dim)
    assert torch.allclose(F @ F.T, torch.eye(len(F)), atol=1e-5)


def test_examples_hold_their_views_in_disjoint_patches():
    F = mv.feature_directions(CFG)
    data = mv.sample(CFG, 200, F, seed=1)
    assert data.x.shape == (200, CFG.patches, CFG.dim)
    proj = torch.einsum("npd,kvd->npkv", data.x, F)  # (n, P, classes, views)
    # without Gaussian noise, a patch holds at most one feature
    assert int(((proj.abs() > 1e-5).flatten(2).sum(-1) > 1).sum()) == 0
    # each present feature sits in exactly feature_patches patches with one weight
    for i in range(200):
        y = int(data.y[i])
        w = proj[i, :, y, :]  # (P, views)
        for j in range(CFG.views):
            nz = w[:, j][w[:, j].abs() > 1e-5]
            assert len(nz) == CFG.feature_patches and torch.allclose(nz, nz[0].expand_as(nz))
            faint = bool(data.single[i]) and j != int(data.strong_view[i])
            if faint:
                assert nz[0].item() == pytest.approx(CFG.faint_weight, abs=1e-5)
            else:
                assert 0.8 - 1e-5 <= nz[0].item() <= 1.2 + 1e-5
    assert 0.35 < data.single.float().mean() < 0.65
    assert (data.strong_view[~data.single] == -1).all()


def test_sample_is_deterministic_per_seed():
    F = mv.feature_directions(CFG)
    a, b, c = mv.sample(CFG, 50, F, seed=3), mv.sample(CFG, 50, F, seed=3), mv.sample(CFG, 50, F, seed=4)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)


def test_smoothed_relu_values_and_smoothness():
    rho, q = 0.5, 3
    z = torch.tensor([-1.0, 0.0, rho / 2, rho, 2.0])
    out = mv.smoothed_relu(z, q, rho)
    expected = [0.0, 0.0, (rho / 2) ** 3 / (3 * rho ** 2), rho / 3, 2.0 - rho + rho / 3]
    assert out.tolist() == pytest.approx(expected, abs=1e-6)
    # value and slope continuous at the threshold
    zz = torch.tensor([rho - 1e-4, rho + 1e-4], requires_grad=True)
    y = mv.smoothed_relu(zz, q, rho)
    (g,) = torch.autograd.grad(y.sum(), zz)
    assert abs(y[1] - y[0]) < 1e-3 and g.tolist() == pytest.approx([1.0, 1.0], abs=1e-3)


def test_stacked_nets_train_as_if_alone():
    net = mv.PatchNetConfig(channels=2, q=3, threshold=0.5, init_std=0.05)
    cfg = replace(CFG, noise_std=0.05)
    F = mv.feature_directions(cfg)
    data = mv.sample(cfg, 80, F, seed=1)
    gd = mv.GDConfig(steps=15, lr=1.0)
    both, _ = mv.fit(mv.init_weights(net, cfg, [0, 1]), data, net, gd)
    alone, _ = mv.fit(mv.init_weights(net, cfg, [1]), data, net, gd)
    assert torch.allclose(both[1], alone[0], atol=1e-5)


def test_training_learns_the_views():
    net = mv.PatchNetConfig(channels=2, q=3, threshold=0.5, init_std=0.05)
    cfg = replace(CFG, noise_std=0.05, single_view_fraction=0.0)
    F = mv.feature_directions(cfg)
    train, test = mv.sample(cfg, 200, F, seed=1), mv.sample(cfg, 200, F, seed=2)
    w, losses = mv.fit(mv.init_weights(net, cfg, [0]), train, net, mv.GDConfig(steps=150, lr=2.0))
    assert losses[-1] < 0.2 * losses[0]
    assert mv.accuracy_by_kind(mv.probs(w, test.x, net)[0], test)["multi-view"] > 0.95
    # every class has learned at least one of its views
    assert mv.learned_views(mv.view_alignment(w, F), net.threshold)[0].any(-1).all()


def test_view_alignment_on_hand_made_weights():
    F = torch.eye(4).reshape(2, 2, 4)  # class c, view j -> basis vector 2c + j
    w = torch.zeros(1, 2, 2, 4)
    w[0, 0, 0, 0] = 3.0   # class 0, channel 0 on its view 1
    w[0, 0, 1, 1] = 0.5   # class 0, channel 1 weakly on its view 2
    w[0, 1, 1, 3] = 2.0   # class 1, channel 1 on its view 2
    a = mv.view_alignment(w, F)
    assert a[0].tolist() == [[3.0, 0.5], [0.0, 2.0]]
    assert mv.learned_views(a, 1.0)[0].tolist() == [[True, False], [False, True]]


def test_accuracy_by_kind_and_error_share():
    data = mv.MultiViewSet(x=torch.zeros(4, 1, 1), y=torch.tensor([0, 1, 0, 1]),
                           single=torch.tensor([False, False, True, True]), strong_view=torch.tensor([-1, -1, 0, 1]))
    p = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]])  # only example 2 wrong
    assert mv.accuracy_by_kind(p, data) == {"all": 0.75, "multi-view": 1.0, "single-view": 0.5}
    assert mv.error_share_single(p, data) == 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"patches": 3}, "patches must be at least"),
    ({"dim": 5}, "dim must be at least"),
    ({"single_view_fraction": 1.5}, "single_view_fraction"),
    ({"num_classes": 1}, "num_classes must be at least 2"),
    ({"off_class_features": 4}, "off_class_features must be smaller"),
])
def test_bad_generator_parameters(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        replace(CFG, **kwargs)


def test_view_share_reads_the_dominant_view():
    nets = [{"alignment": [[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]}]
    assert report.view_share(nets).tolist() == [[1.0, 0.0, 0.5]]


def _net(seed, learned):
    return {"seed": seed, "learned": learned}


def test_learned_views_read_on_hand_made_nets():
    # two nets, three classes: class 0 split between the seeds, class 1 both views for both, class 2 view 1 twice
    nets = [_net(0, [[True, False], [True, True], [True, False]]),
            _net(1, [[False, True], [True, True], [True, False]])]
    assert report.split_classes(nets) == 1
    assert report.one_view_share(nets) == pytest.approx(100 * 4 / 6)


def test_self_distilled_claim_counts_views_beyond_the_teacher():
    value = {"members": [_net(0, [[True, False], [False, True]]), _net(1, [[True, True], [False, True]])],
             "self_kd": [_net(0, [[True, True], [False, True]]), _net(1, [[True, False], [True, True]])],
             "self_kd_teachers": [0, 1]}
    results = {"multiview": StoredResult(value=value, provenance={}, config={}, path=Path("x"), cached=True)}
    assert report.views_beyond_teacher(results["multiview"]) == [1, 1]
    assert report.views_dropped_from_teacher(results["multiview"]) == [0, 1]
    claim = next(c for c in report.CLAIMS if c.id == "ch06.self_distilled_learns_views_its_teacher_lacks")
    outcome = claim.evaluate(results)
    assert outcome.holds and outcome.numbers == {"fewest_new_views": 1, "new_views_in_all": 2,
                                                 "teacher_views_dropped_in_all": 1}
    value["self_kd"][0] = value["members"][0]  # a student that learned exactly its teacher's views
    assert not claim.evaluate(results).holds


def test_smoke_run_and_readings():
    results = ch06.run("smoke")
    res = results["multiview"]
    s = ch06.settings("smoke")
    h = report.headline(res)
    assert h["n_members"] == len(s.member_seeds)
    for key in ("single_multi", "ens_single", "kd_single", "self_single", "control_gain", "one_view_learned"):
        assert math.isfinite(h[key])
    assert len(report.sweep_table(res)) == len(s.sweep_fractions)
    assert list(report.control_table(res).index) == ["two views per class", "one view per class (control)"]
    outcomes = claims.evaluate(report.CLAIMS, results)
    assert len(outcomes) == len(report.CLAIMS) and {o.source for o in outcomes} == {"paper", "prose"}
    values = report.glue_values(results)
    assert all(isinstance(v, str) for k, v in values.items() if k.startswith("ch06_claim_"))
    # the teacher (the ensemble) has a report over every data seed, shown with its training accuracy
    tr = res.value["teacher_report"]
    assert tr["seeds"] == len(s.data_seeds) and {"train_accuracy", "val_accuracy", "val_advantage"} <= set(tr)
    assert "training examples" in values["ch06_teacher"]
    assert report.teacher_report_table(res).loc["train accuracy", "mean"] == 100 * tr["train_accuracy"]
    # the single models' accuracy on single-view data is computed from the stored members: check one row
    t = report.accuracy_table(res)
    assert np.isclose(t.loc["single model", "single-view"],
                      np.mean([100 * m["accuracy"]["single-view"] for m in res.value["members"]]))


def test_trained_average_trains_the_averaged_logits_as_one_model():
    from kdbook import multiview as mv

    data = mv.MultiViewData(dim=30, patches=8, feature_patches=2)
    f = mv.feature_directions(data, 0)
    train = mv.sample(data, 120, f, seed=1)
    net = mv.PatchNetConfig(channels=2, q=3, threshold=0.2)
    w0 = mv.init_weights(net, data, [0, 1, 2])
    w, losses = mv.fit_average(w0, train, net, mv.GDConfig(steps=60, lr=3.0))
    assert losses[-1] < losses[0] and w.shape == w0.shape
    p = mv.average_probs(w, train.x, net)
    expected = torch.softmax(mv.logits(w, train.x, net).mean(0), -1)
    assert torch.allclose(p, expected) and torch.allclose(p.sum(-1), torch.ones(len(train)))


def _run(gain, control_gain, data_seed, kd_minus_twin=0.0):
    def nets(acc, single=None, n=2):
        return [{"seed": k, "accuracy": {"all": acc, "multi-view": acc, "single-view": single or acc},
                 "learned": [[True, False]], "views_learned": 0.5, "alignment": [[1.0, 0.0]],
                 "error_share_single": 0.5} for k in range(n)]
    return {"data_seed": data_seed, "members": nets(0.90), "ensemble": {"accuracy": {"all": 0.90 + gain}},
            "control": {"noise_std": 0.3, "members": nets(0.90), "ensemble": {"accuracy": {"all": 0.90 + control_gain}}},
            "kd": nets(0.9, 0.8 + kd_minus_twin), "twins": nets(0.9, 0.8),
            "average": {"accuracy": {"all": 0.88}, "members_ensemble": {"accuracy": {"all": 0.90}}}}


def test_matched_control_and_paired_claims_on_worked_examples():
    from kdbook.claims import by_id, evaluate
    from kdbook.store import StoredResult

    runs = [_run(0.02, 0.0, 0, 0.05), _run(0.03, 0.001, 1, 0.06), _run(0.025, -0.001, 2, 0.04)]
    value = {**runs[0], "runs": runs}
    res = {"multiview": StoredResult(value=value, provenance={}, config={}, path=None, cached=True)}
    assert report.paired_differences(res["multiview"], "control_gain") == pytest.approx([0.0, 0.1, -0.1])
    assert report.paired_differences(res["multiview"], "gain_minus_control") == pytest.approx([2.0, 2.9, 2.6])
    wanted = ("ch06.control_shows_no_gain_at_matched_difficulty", "ch06.ensemble_gain_exceeds_control",
              "ch06.trained_average_below_ensemble", "ch06.distilled_beats_twins_on_single_view")
    out = by_id(evaluate([c for c in report.CLAIMS if c.id in wanted], res))
    assert all(out[c].holds for c in wanted)
    runs = [_run(0.02, 0.02, 0), _run(0.03, 0.03, 1)]  # the control gains as much: averaging alone
    res = {"multiview": StoredResult(value={**runs[0], "runs": runs}, provenance={}, config={}, path=None, cached=True)}
    out = by_id(evaluate([c for c in report.CLAIMS if c.id in wanted[:2]], res))
    assert not out["ch06.control_shows_no_gain_at_matched_difficulty"].holds
    assert not out["ch06.ensemble_gain_exceeds_control"].holds


def test_class_outcomes_separate_the_seed_from_the_data():
    from kdbook.store import StoredResult

    members = [{"learned": [[True, True], [True, False], [True, False]]},
               {"learned": [[True, True], [True, True], [False, True]]}]
    res = StoredResult(value={"members": members}, provenance={}, config={}, path=None, cached=True)
    t = report.class_outcomes(res)
    assert list(t["outcome"]) == ["never misses a view", "only ever misses view 2 (the data fixes which)",
                                  "misses either view (the seed decides which)"]
    assert t.loc[2, "view 1 only"] == 1 and t.loc[2, "view 2 only"] == 1
