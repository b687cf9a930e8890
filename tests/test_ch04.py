"""Chapter 4: ensemble curves, the specialists' pieces on worked examples, the retained share and
the chapter's claims on hand-made results."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from kdbook import claims
from kdbook import specialists as sp
from kdbook.data import Split
from kdbook.experiments import ch04_ensembles as ch04
from kdbook.models import ModelConfig, build_model
from kdbook.reports import ch04_ensembles as report
from kdbook.store import StoredResult


def stored(value: dict) -> StoredResult:
    return StoredResult(value=value, provenance={}, config={}, path=Path("x"), cached=True)


def test_ensemble_curve_sizes_and_subset_counts():
    probs = torch.softmax(torch.randn(4, 50, 3, generator=torch.Generator().manual_seed(0)), -1)
    labels = torch.randint(0, 3, (50,), generator=torch.Generator().manual_seed(1))
    rows = ch04.ensemble_curve(probs, labels, resamples=3)
    counts = {n: sum(r["n"] == n for r in rows) for n in range(1, 5)}
    assert counts == {1: 3, 2: 3, 3: 3, 4: 1}  # C(4,4) = 1 subset only
    assert all(len(set(r["members"])) == r["n"] for r in rows)


def test_ensemble_of_complementary_members_beats_them():
    # two members each right on a different half, confidently wrong elsewhere... but less so
    labels = torch.tensor([0, 0, 1, 1])
    a = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    b = torch.tensor([[0.4, 0.6], [0.4, 0.6], [0.1, 0.9], [0.1, 0.9]])
    rows = ch04.ensemble_curve(torch.stack([a, b]), labels, resamples=5)
    acc = {r["n"]: r["accuracy"] for r in rows if r["n"] == 2}
    assert acc[2] == 1.0 and all(r["accuracy"] == 0.5 for r in rows if r["n"] == 1)


def test_relabel_and_merge():
    y = torch.tensor([0, 3, 5, 3, 9])
    assert sp.relabel(y, [3, 5], 10).tolist() == [2, 0, 1, 0, 2]
    q = torch.tensor([[0.1, 0.2, 0.3, 0.4]])
    assert torch.allclose(sp.merge_to_specialist(q, [1, 3]), torch.tensor([[0.2, 0.4, 0.4]]))


def test_specialist_split_is_half_special_and_reports_oversampling():
    y = torch.arange(100) % 10  # 10 examples per class
    split = Split(torch.zeros(100, 1, 1, 1), y)
    sub, over = sp.specialist_split(split, [2, 7], 10, seed=0)
    assert len(sub) == 40 and (sub.y < 2).sum() == 20 and (sub.y == 2).sum() == 20
    assert over == pytest.approx(0.5 / 0.2)


def test_combination_keeps_the_generalist_when_specialists_agree():
    pg = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    pm = sp.merge_to_specialist(pg, [0, 1])  # a specialist that says exactly what the generalist says
    q = sp.combine_with_specialists(pg, [pm], [[0, 1]], torch.tensor([[True], [False]]), steps=300)
    assert torch.allclose(q, pg, atol=1e-4)


def test_combination_moves_mass_within_the_specialists_classes():
    pg = torch.tensor([[0.45, 0.45, 0.10]])
    pm = torch.tensor([[0.85, 0.05, 0.10]])  # specialist on classes 0, 1: confident it is 0; dustbin 0.1
    q = sp.combine_with_specialists(pg, [pm], [[0, 1]], torch.tensor([[True]]), steps=500)
    assert q[0, 0] > 0.6 > q[0, 1] and q.sum().item() == pytest.approx(1.0, abs=1e-6)
    # the objective at q is below its value at the generalist's distribution
    def objective(dist):
        kl = lambda p, r: (p * (p / r).log()).sum()
        return kl(pg[0], dist[0]) + kl(pm[0], sp.merge_to_specialist(dist, [0, 1])[0])
    assert objective(q) < objective(pg)


def test_dustbin_correction_adds_log_oversampling():
    z = torch.zeros(2, 3)
    out = sp.dustbin_corrected(z, 2.5)
    assert out[:, -1].tolist() == pytest.approx([math.log(2.5)] * 2) and out[:, :2].eq(0).all()


def test_specialist_starts_from_the_generalist():
    g = build_model(ModelConfig("mlp", (8,)), (1, 2, 2), 4, seed=0)
    spec = sp.specialist_from_generalist(g, [1, 3])
    x = torch.randn(5, 1, 2, 2)
    with torch.no_grad():
        full, part = g(x), spec(x)
    assert part.shape == (5, 3) and torch.allclose(part[:, :2], full[:, [1, 3]])


def test_confusable_clusters_group_classes_predicted_together():
    g = torch.Generator().manual_seed(0)
    # classes 0/1 share mass, classes 2/3 share mass
    a = torch.rand(200, generator=g)
    b = torch.rand(200, generator=g)
    first = torch.rand(200, generator=g) < 0.5
    probs = torch.zeros(200, 4)
    probs[first, 0], probs[first, 1] = a[first], 1 - a[first]
    probs[~first, 2], probs[~first, 3] = b[~first], 1 - b[~first]
    assert sp.confusable_clusters(probs, 2) == [[0, 1], [2, 3]]


def test_clusters_come_from_correlations_not_raw_variances():
    # three pairs of classes that share mass; the first pair is predicted 8 times as often as the
    # others. k-means on the raw covariance splits the frequent pair and lumps the two rare ones
    # (their variances are small); on the correlation matrix the three real pairs come out.
    g = torch.Generator().manual_seed(0)
    n = 2000
    kind = torch.multinomial(torch.tensor([0.8, 0.1, 0.1]), n, replacement=True, generator=g)
    u = torch.rand(n, generator=g)
    probs = torch.zeros(n, 6)
    for k, (a, b) in enumerate(((0, 1), (2, 3), (4, 5))):
        m = kind == k
        probs[m, a], probs[m, b] = u[m], 1 - u[m]
    assert sp.confusable_clusters(probs, 3) == [[0, 1], [2, 3], [4, 5]]
    from sklearn.cluster import KMeans
    raw = KMeans(3, n_init=10, random_state=0).fit_predict(sp.prediction_covariance(probs))
    assert raw[0] != raw[1] and raw[2] == raw[4]  # what the raw covariance would have given


def test_enrichment_by_hand():
    # 4 classes; cluster (0, 1). Wrong predictions on classes 0/1: 0->1, 1->0, 0->3: 2 of 3 stay inside,
    # against (2 - 1) / (4 - 1) = 1/3 expected: enrichment 2
    labels = torch.tensor([0, 1, 0, 0, 1, 2])
    pred = torch.tensor([1, 0, 3, 0, 1, 0])
    probs = torch.nn.functional.one_hot(pred, 4).float()
    assert sp.enrichment(probs, labels, [0, 1]) == pytest.approx(2.0)
    assert sp.enrichment(probs, labels, [2]) != sp.enrichment(probs, labels, [2])  # nan: one class


def test_retained_share_and_no_gain():
    doc = {"member_accuracy": [0.80, 0.82],
           "rows": [{"model": "ensemble (arithmetic)", "accuracy": 0.85, "seed": None},
                    {"model": "student of the arithmetic ensemble", "accuracy": 0.83, "seed": 0},
                    {"model": "student of the arithmetic ensemble", "accuracy": 0.84, "seed": 1}]}
    mean, sd, shares = report.retained(stored(doc))
    assert shares.tolist() == pytest.approx([2 / 4, 3 / 4]) and mean == pytest.approx(0.625)
    doc["rows"][0]["accuracy"] = 0.80
    assert np.isnan(report.retained(stored(doc))[0])


def _distill(students: list[float], members=(0.80, 0.82), ensemble=0.85) -> StoredResult:
    rows = [row for method in ("arithmetic", "geometric") for row in (
        {"model": f"ensemble ({method})", "method": method, "seed": None, "accuracy": ensemble},
        *({"model": f"student of the {method} ensemble", "method": method, "seed": i, "accuracy": a}
          for i, a in enumerate(students)))]
    return stored({"member_accuracy": list(members), "rows": rows})


def test_the_student_keeps_the_gain_only_when_its_share_is_clearly_positive():
    claim = next(c for c in report.CLAIMS if c.id == "ch04.student_keeps_ensemble_gain")
    kept = claim.evaluate({"distill": _distill([0.83, 0.84])})  # shares 0.5 and 0.75
    assert kept.holds and kept.numbers["retained_share"] == pytest.approx(0.625)
    lost = claim.evaluate({"distill": _distill([0.79, 0.80])})  # below the members: negative shares
    assert not lost.holds and lost.numbers["retained_share"] < 0
    assert lost.sentence() == claim.negation
    noisy = claim.evaluate({"distill": _distill([0.80, 0.84])})  # shares -0.25 and 0.75: mean 0.25, std 0.71
    assert not noisy.holds


def _members(accuracies: dict[tuple[int, ...], float]) -> StoredResult:
    rows = [{"n": len(m), "members": list(m), "method": method, "accuracy": a, "nll": 1 - a, "ece": 0.1}
            for method in ("arithmetic", "geometric") for m, a in accuracies.items()]
    return stored({"rows": rows})


def test_ensemble_beats_member_uses_the_members_spread():
    claim = next(c for c in report.CLAIMS if c.id == "ch04.ensemble_beats_member")
    clear = claim.evaluate({"members": _members({(0,): 0.80, (1,): 0.82, (0, 1): 0.85})})
    assert clear.holds and clear.numbers["single_member_accuracy"] == pytest.approx(81.0)
    within = claim.evaluate({"members": _members({(0,): 0.80, (1,): 0.84, (0, 1): 0.83})})
    assert not within.holds  # 83 - 82 = 1 point, less than the members' std of 2.8


def test_methods_are_compared_on_the_same_sets_of_members():
    rows = [{"n": 2, "members": [0, 1], "method": "arithmetic", "accuracy": 0.9, "nll": 0.30, "ece": 0.02},
            {"n": 2, "members": [0, 1], "method": "geometric", "accuracy": 0.9, "nll": 0.32, "ece": 0.03},
            {"n": 1, "members": [0], "method": "arithmetic", "accuracy": 0.8, "nll": 0.5, "ece": 0.05}]
    diff = report.method_differences(stored({"rows": rows}))
    assert list(diff.index) == [(0, 1)] and diff["nll"].iloc[0] == pytest.approx(0.02)


def test_cluster_correlation_within_and_between():
    corr = [[1.0, 0.5, -0.1], [0.5, 1.0, -0.3], [-0.1, -0.3, 1.0]]
    spec = stored({"generalists": [{"correlation": corr, "clusters": [[0, 1], [2]]}]})
    assert report.cluster_correlation(spec) == pytest.approx((0.5, -0.2))


def _specialists(changes: list[tuple[float, float]]) -> StoredResult:
    """One generalist per (gain of the specialists, gain of the fine-tuned control) on the covered classes."""
    gens = []
    for seed, (spec, fine) in enumerate(changes):
        acc = {"generalist": 0.80, "combined": 0.80 + spec, "fine-tuned": 0.80 + fine}
        block = {"all": acc, "covered": {**acc, "count": 100}, "active": {**acc, "count": 120}}
        gens.append({"seed": 100 + seed, "specialists": [{"classes": [0, 1]}], "test": block, "val": block})
    return stored({"generalists": gens, "class_names": list("abcdefghij")})


def test_specialist_claims_are_paired_over_generalists():
    beat = next(c for c in report.CLAIMS if c.id == "ch04.specialists_beat_generalist_on_their_classes")
    control = next(c for c in report.CLAIMS if c.id == "ch04.specialists_beat_fine_tuning")
    clear = {"specialists": _specialists([(0.010, 0.012), (0.012, 0.011), (0.011, 0.013)])}
    out = beat.evaluate(clear)
    assert out.holds and out.numbers["change_points"] == pytest.approx(1.1)
    assert not control.evaluate(clear).holds  # the fine-tuned generalist does as well
    noisy = {"specialists": _specialists([(0.03, 0.0), (-0.02, 0.0), (0.0, 0.0)])}
    assert not beat.evaluate(noisy).holds  # mean 0.33 points, std 2.5


def test_claims_have_unique_ids_and_the_required_ones():
    ids = [c.id for c in report.CLAIMS]
    assert len(ids) == len(set(ids))
    assert {"ch04.ensemble_beats_member", "ch04.student_keeps_ensemble_gain",
            "ch04.specialists_beat_generalist_on_their_classes"} <= set(ids)
    assert all(c.chapter == "ch04" for c in report.CLAIMS)


def test_outcomes_and_glued_values_read_on_hand_made_results():
    members = _members({(0,): 0.80, (1,): 0.82, (0, 1): 0.85})
    out = claims.by_id(claims.evaluate(report.CLAIMS[:1], {"members": members}))
    assert out["ch04.ensemble_beats_member"].verdict() == "holds"
    assert report.share_sentence(_distill([0.79, 0.80])).startswith("The share of the ensemble's gain")
    assert "no gain to keep" in report.share_sentence(_distill([0.83], ensemble=0.80))
