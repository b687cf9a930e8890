"""Chapter 5: random-feature and trained-average models, the Gaussian task, and the chapter's run."""

import math

import pytest
import torch

from kdbook.errors import ConfigError
from kdbook.experiments import ch05_three_mysteries as ch05
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
    t = ch05.table(results["deep"])
    n = ch05.settings("smoke").deep.n_members
    seeds = len(ch05.settings("smoke").deep.seeds)
    assert t.loc["single model", "nets"] == n * seeds and t.loc[f"ensemble of {n}", "nets"] == seeds
    assert {"distilled from the ensemble", "self-distilled", "trained average"} <= set(t.index)
    assert "trained average" not in ch05.table(results["gaussian"]).index
    h = ch05.headline(results)
    for key in ("deep_ens_gain", "rf_avg_gain", "gaussian_ens_gain", "deep_self_gain"):
        assert math.isfinite(h[key])
    combined = ch05.combined_table(results)
    assert combined.loc[("random features, digits", "trained average"), "paper"] == 72.86


def test_relation_and_pattern_follow_the_cautious_rule():
    h = {"deep_ens": 90.0, "deep_ens_std": 0.1, "deep_single": 89.0, "deep_single_std": 0.2,
         "deep_kd": 89.1, "deep_kd_std": 0.2}
    assert ch05.relation(h, "deep", "ens", "single") == "higher than"        # 1.0 > 0.3
    assert ch05.relation(h, "deep", "kd", "single") == "indistinguishable from"  # 0.1 <= 0.4
    assert ch05.reading(h, "deep").startswith("The ensemble is higher than a single model; the student")
