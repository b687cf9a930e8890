"""Chapter 5: random-feature and trained-average models, the Gaussian task, the chapter's run,
and its readings and claims on hand-made results."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from kdbook import claims
from kdbook.errors import ConfigError
from kdbook.experiments import ch05_three_mysteries as ch05
from kdbook.losses import DistillConfig
from kdbook.models import AverageOf, ModelConfig, build_average, build_model
from kdbook.reports import ch05_three_mysteries as report
from kdbook.store import StoredResult
from kdbook.synthetic import gaussian_teacher_task
from kdbook.train import TrainConfig, train


def test_random_features_train_only_the_head():
    model = build_model(ModelConfig("rf", (64,)), (1, 8, 8), 10, seed=0)
    frozen = {k: t.clone() for k, t in model.features.state_dict().items()}
    ds = gaussian_teacher_task(dim=64, n_train=256, n_val=32, n_test=64, seed=1)
    split = type(ds.train)(ds.train.x.reshape(-1, 1, 8, 8), ds.train.y)
    head_before = model.head.weight.detach().clone()
    train(model, split, TrainConfig(epochs=2, batch_size=32, lr=0.05))
    assert all(torch.equal(frozen[k], t) for k, t in model.features.state_dict().items())
    assert not torch.equal(head_before, model.head.weight)


def test_rf_has_one_width():
    with pytest.raises(ConfigError, match="one width"):
        ModelConfig("rf", (64, 64))


def test_average_of_averages_logits_and_trains_as_one():
    avg = build_average(ModelConfig("mlp", (8,)), (4,), 3, seeds=[0, 1, 2])
    assert isinstance(avg, AverageOf) and len(avg.nets) == 3
    x = torch.randn(5, 4)
    expected = torch.stack([net(x) for net in avg.nets]).mean(0)
    assert torch.allclose(avg(x), expected)
    # the sub-networks start from their own seeds: different weights
    assert not torch.equal(avg.nets[0].head.weight, avg.nets[1].head.weight)


def test_gaussian_task_is_seeded_and_roughly_balanced():
    a = gaussian_teacher_task(dim=20, n_train=2000, n_val=100, n_test=500, seed=3)
    b = gaussian_teacher_task(dim=20, n_train=2000, n_val=100, n_test=500, seed=3)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    share = torch.bincount(a.train.y, minlength=10).float() / 2000
    assert share.min() > 0.02 and share.max() < 0.3
    assert (len(a.train), len(a.val), len(a.test)) == (2000, 100, 500)


def test_gaussian_task_rejects_bad_sizes():
    with pytest.raises(ConfigError, match="dim"):
        gaussian_teacher_task(dim=0)
    with pytest.raises(ConfigError, match="num_classes"):
        gaussian_teacher_task(num_classes=1)


def _st(**changes):
    base = dict(model=ModelConfig("mlp", (8,)), train=TrainConfig(epochs=4), member_grid=(0.05, 0.1),
                distill_grid=((0.05, DistillConfig(T=2.0)), (0.05, DistillConfig(T=4.0))), n_members=3, ensembles=2)
    return ch05.Setting(**{**base, **changes})


def test_setting_seeds_never_collide():
    st = _st(average_grid=(0.1, 0.2))
    assert st.member_seeds == [100, 101, 102, 103, 104, 105] and st.ensemble_seeds(1) == [103, 104, 105]
    students = [s for i in range(st.ensembles) for s in st.student_seeds(i)]
    averages = [s for i in range(st.ensembles) for s in st.average_seeds(i)]
    selfs = [ch05.SELF_SEED + i for i in range(st.ensembles)]
    everyone = st.member_seeds + students + averages + selfs
    assert len(everyone) == len(set(everyone))
    assert st.student_epochs == 6  # 1.5 x 4


def test_setting_refuses_unequal_grids_impatience_and_too_few():
    with pytest.raises(ConfigError, match="same size"):
        _st(member_grid=(0.05,))
    with pytest.raises(ConfigError, match="same size"):
        _st(average_grid=(0.1, 0.2, 0.5))
    with pytest.raises(ConfigError, match="patience"):
        _st(patience=0.5)
    with pytest.raises(ConfigError, match="ensembles"):
        _st(ensembles=1)
    with pytest.raises(ConfigError, match="students_per_ensemble"):
        _st(students_per_ensemble=1)


def test_smoke_run_rows_tuning_and_reports():
    results = ch05.run("smoke")
    assert set(results) == {"deep", "rf", "gaussian"}
    st = ch05.settings("smoke").deep
    t = report.table(results["deep"])
    n, e = st.n_members, st.ensembles
    assert t.loc["single model", "nets"] == n * e and t.loc[f"ensemble of {n}", "nets"] == e
    assert t.loc["distilled from the ensemble", "nets"] == e * st.students_per_ensemble
    assert t.loc["labels, students' epochs", "nets"] == e * st.students_per_ensemble
    assert {"self-distilled", "trained average"} <= set(t.index)
    assert "trained average" not in report.table(results["gaussian"]).index
    value = results["deep"].value
    assert value["epochs"] == {"members": st.train.epochs, "students": st.student_epochs}
    tuned = {r["tuned"] for r in value["tuning"]}
    assert tuned == {"members", "students", "average"}
    assert sum(r["chosen"] for r in value["tuning"]) == 3
    assert value["chosen"]["member_lr"] in st.member_grid
    report_ = value["teacher_report"]
    assert report_["seeds"] == e and 0 <= report_["train_accuracy"] <= 1
    # every student's curve is as long as the students' epochs, and a twin exists for every student
    kd_curves = [c for c in value["curves"] if c["model"] == "distilled from the ensemble"]
    assert all(len(c["val_accuracy"]) == st.student_epochs for c in kd_curves)
    assert len(report.differences(results["deep"], "kd_vs_twin")) == e * st.students_per_ensemble
    h = report.headline(results)
    for key in ("deep_ens_vs_single", "rf_avg_vs_ens", "gaussian_ens_vs_single", "deep_self_vs_teacher"):
        assert math.isfinite(h[key])
    paper = report.paper_table(results)
    assert paper.loc[("random features", "trained average"), "paper (%)"] == "72.86"
    assert paper.loc[("small CNN", "trained average"), "paper (%)"] == "-"  # the summary gives none


def _row(model, ensemble, seed, acc, **extra):
    return {"model": model, "ensemble": ensemble, "seed": seed, "accuracy": acc, "train_accuracy": 1.0,
            "nll": 0.5, "ece": 0.05, **extra}


def _result(gain: float, kd: float) -> StoredResult:
    """Two ensembles of two members; the ensemble beats its own members by ``gain`` in both, the
    students beat their twins by ``kd`` (one point of noise between the two pairs)."""
    rows = []
    for i, base in enumerate((0.80, 0.85)):  # a large spread between ensembles, consistent gains within
        rows += [_row("single model", i, 100 + 2 * i + k, base + d) for k, d in enumerate((-0.005, 0.005))]
        rows.append(_row("ensemble of 2", i, None, base + gain))
        rows.append(_row("distilled from the ensemble", i, 500 + 10 * i, base + kd + 0.002 * i))
        rows.append(_row("labels, students' epochs", i, 500 + 10 * i, base))
        rows.append(_row("self-distilled", i, 10_000 + i, base + 0.001, teacher_test_accuracy=base - 0.005))
        rows.append(_row("trained average", i, i, base))
    return StoredResult(value={"rows": rows, "dataset": "toy:1", "n_members": 2}, provenance={}, config={},
                        path=Path("x"), cached=True)


def test_paired_comparisons_see_a_gain_that_the_spread_of_singles_hides():
    res = _result(gain=0.01, kd=0.01)
    d = report.differences(res, "ens_vs_single")
    assert d == pytest.approx([1.0, 1.0])
    assert report.paired_relation(d) == "higher than"
    # unpaired, the two ensembles' members spread by 2.5 points and would hide a 1-point gain
    t = report.table(res)
    assert t.loc["single model", "accuracy std"] > 2
    assert report.differences(res, "kd_vs_twin") == pytest.approx([1.0, 1.2])
    assert report.differences(res, "self_vs_teacher") == pytest.approx([0.6, 0.6])
    assert report.differences(res, "avg_vs_ens") == pytest.approx([-1.0, -1.0])


def test_paired_rule_on_worked_examples():
    assert report.paired_relation(np.array([1.0, 2.0, 3.0])) == "higher than"      # mean 2 > std 1
    assert report.paired_relation(np.array([-0.5, 1.5])) == "indistinguishable from"  # 0.5 <= 1.41
    assert report.paired_relation(np.array([-2.0, -2.2])) == "lower than"
    assert report.paired_relation(np.array([])) == "indistinguishable from"


def test_claims_on_hand_made_results():
    res = {"deep": _result(gain=0.01, kd=0.01)}
    cnn = [c for c in report.CLAIMS if c.id.endswith("_cnn") and not any(w in c.id for w in ("teacher", "ended", "gaussian"))]
    out = claims.by_id(claims.evaluate(cnn, res))
    assert out["ch05.ensemble_beats_single_cnn"].holds
    assert out["ch05.distilled_beats_labels_same_epochs_cnn"].holds
    assert out["ch05.self_distilled_beats_single_cnn"].holds
    assert out["ch05.trained_average_below_ensemble_cnn"].holds
    assert out["ch05.ensemble_beats_single_cnn"].numbers["mean_difference"] == pytest.approx(1.0)
    flat = claims.by_id(claims.evaluate(cnn, {"deep": _result(gain=0.0, kd=0.0)}))
    assert not flat["ch05.ensemble_beats_single_cnn"].holds
    assert flat["ch05.ensemble_beats_single_cnn"].sentence() == (
        "With small CNNs, the ensemble is not clearly more accurate than its own members (paired).")


def test_claims_include_the_required_ones():
    ids = {c.id for c in report.CLAIMS}
    assert {"ch05.ensemble_beats_single_cnn", "ch05.distilled_beats_single_cnn",
            "ch05.self_distilled_beats_single_cnn"} <= ids and len(ids) == len(report.CLAIMS)


def test_students_see_the_augmented_view_their_twins_see_too():
    with pytest.raises(ConfigError, match="student_augment"):
        _st(student_augment="mixup")  # mixed inputs need a pure-distillation objective
    st = ch05.settings("full").deep
    assert st.train.augment == "none" and st.student_augment == "jitter"
