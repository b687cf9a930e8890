"""Chapter 5: random-feature and trained-average models, the Gaussian task, the chapter's run,
and its readings and claims on hand-made results."""

import math
from pathlib import Path

import pytest
import torch

from kdbook import claims
from kdbook.errors import ConfigError
from kdbook.experiments import ch05_three_mysteries as ch05
from kdbook.reports import ch05_three_mysteries as report
from kdbook.store import StoredResult
from kdbook.models import AverageOf, ModelConfig, build_average, build_model
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


def test_setting_validation_and_ensembles():
    with pytest.raises(ConfigError, match="at least 2 seeds"):
        ch05.Setting(ModelConfig("mlp", (8,)), TrainConfig(), n_members=2, seeds=(0,))
    st = ch05.Setting(ModelConfig("mlp", (8,)), TrainConfig(), n_members=3, seeds=(0, 1))
    assert st.member_seeds == [100, 101, 102, 103, 104, 105]
    assert st.ensemble_seeds(1) == [103, 104, 105]


def test_smoke_run_table_and_headline():
    results = ch05.run("smoke")
    assert set(results) == {"deep", "rf", "gaussian"}
    t = report.table(results["deep"])
    n = ch05.settings("smoke").deep.n_members
    seeds = len(ch05.settings("smoke").deep.seeds)
    assert t.loc["single model", "nets"] == n * seeds and t.loc[f"ensemble of {n}", "nets"] == seeds
    assert {"distilled from the ensemble", "self-distilled", "trained average"} <= set(t.index)
    assert "trained average" not in report.table(results["gaussian"]).index
    h = report.headline(results)
    for key in ("deep_ens_gain", "rf_avg_gain", "gaussian_ens_gain", "deep_self_gain"):
        assert math.isfinite(h[key])
    combined = report.combined_table(results)
    assert combined.loc[("random features, digits", "trained average"), "paper"] == 72.86


def test_relation_and_pattern_follow_the_cautious_rule():
    h = {"deep_ens": 90.0, "deep_ens_std": 0.1, "deep_single": 89.0, "deep_single_std": 0.2,
         "deep_kd": 89.1, "deep_kd_std": 0.2}
    assert report.relation(h, "deep", "ens", "single") == "higher than"        # 1.0 > 0.3
    assert report.relation(h, "deep", "kd", "single") == "indistinguishable from"  # 0.1 <= 0.4
    assert report.reading(h, "deep") == ("The ensemble is more accurate than a single model; and the student "
                                         "distilled from the ensemble is indistinguishable in accuracy from a single model.")


def _setting(accuracies: dict[str, list[float]]) -> StoredResult:
    rows = [{"model": model, "seed": i, "accuracy": a, "nll": 0.5, "ece": 0.05}
            for model, accs in accuracies.items() for i, a in enumerate(accs)]
    return StoredResult(value={"rows": rows, "dataset": "toy:1", "n_members": 2}, provenance={}, config={},
                        path=Path("x"), cached=True)


def test_paper_claims_follow_the_cautious_rule_on_hand_made_results():
    deep = _setting({"single model": [0.80, 0.81, 0.80, 0.81], "ensemble of 2": [0.85, 0.86],
                     "distilled from the ensemble": [0.81, 0.80], "self-distilled": [0.70, 0.71],
                     "trained average": [0.80, 0.81]})
    out = claims.by_id(claims.evaluate([c for c in report.CLAIMS if c.id.endswith("_cnn")], {"deep": deep}))
    assert out["ch05.ensemble_beats_single_cnn"].holds            # 85.5 vs 80.5, spreads under 1
    assert not out["ch05.distilled_beats_single_cnn"].holds       # within the spreads
    assert out["ch05.distilled_below_single_cnn"].verdict() == "does not hold"
    assert out["ch05.trained_average_below_ensemble_cnn"].holds
    assert out["ch05.ensemble_beats_single_cnn"].numbers["ensemble"] == pytest.approx(85.5)
    assert out["ch05.self_distilled_beats_single_cnn"].sentence() == (
        "With small CNNs, the self-distilled student is not clearly more accurate than a single model.")


def test_claims_include_the_required_ones_and_widths_read_as_words():
    ids = {c.id for c in report.CLAIMS}
    assert {"ch05.ensemble_beats_single_cnn", "ch05.distilled_beats_single_cnn",
            "ch05.self_distilled_beats_single_cnn"} <= ids and len(ids) == len(report.CLAIMS)
    assert report.widths_text((16, 32, 64)) == "16, 32 and 64"
