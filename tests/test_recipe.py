"""The recipe: teacher reports on worked numbers, equal budgets, choice on validation, patient epochs."""

import pytest
import torch

from kdbook import recipe
from kdbook.data import Dataset, Split
from kdbook.errors import ConfigError
from kdbook.models import ModelConfig, build_model


def test_teacher_report_pairs_seeds_and_applies_the_cautious_rule():
    teacher = [{"train_accuracy": 1.0, "val_accuracy": 0.92, "test_accuracy": 0.91},
               {"train_accuracy": 0.98, "val_accuracy": 0.94, "test_accuracy": 0.93}]
    r = recipe.teacher_report(teacher, [0.90, 0.91])
    assert r["seeds"] == 2 and r["train_accuracy"] == pytest.approx(0.99)
    assert r["val_advantage"] == pytest.approx(0.025)  # (0.02 + 0.03) / 2, paired by seed
    assert r["val_advantage_std"] == pytest.approx(0.00707107, rel=1e-5)
    # 0.93 - 0.905 = 0.025 against 0.01414 + 0.00707: clear
    assert r["has_advantage"]
    assert not recipe.teacher_report(teacher, [0.93, 0.92])["has_advantage"]
    with pytest.raises(ValueError, match="one label-trained student per teacher seed"):
        recipe.teacher_report(teacher, [0.9])


def test_equal_budgets_names_the_grid_sizes():
    assert recipe.equal_budgets({"labels": [1, 2], "distilled": [3, 4]}) is None
    assert "labels 2, distilled 3" in recipe.equal_budgets({"labels": [1, 2], "distilled": [3, 4, 5]})
    assert "must not be empty" in recipe.equal_budgets({"labels": [], "distilled": []})


def test_choose_on_validation_takes_the_first_best():
    best, scores = recipe.choose_on_validation(["a", "b", "c"], {"a": 0.8, "b": 0.9, "c": 0.9}.get)
    assert best == "b" and scores == [0.8, 0.9, 0.9]
    with pytest.raises(ValueError, match="NaN"):
        recipe.choose_on_validation(["a"], lambda _: float("nan"))


def test_patient_epochs():
    assert recipe.patient_epochs(12, 2.5) == 30 and recipe.patient_epochs(3, 1.0) == 3
    with pytest.raises(ValueError, match="at least as long"):
        recipe.patient_epochs(10, 0.5)


def test_accuracies_on_every_split():
    torch.manual_seed(0)
    x = torch.randn(30, 1, 4, 4)
    split = Split(x, torch.zeros(30, dtype=torch.long))
    ds = Dataset(name="toy", train=split, val=split, test=split, num_classes=3, class_names=("a", "b", "c"))
    model = build_model(ModelConfig("mlp", (4,)), (1, 4, 4), 3, seed=0)
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([100.0, 0.0, 0.0]))  # always class 0
    assert recipe.accuracies(model, ds) == {"train_accuracy": 1.0, "val_accuracy": 1.0, "test_accuracy": 1.0}


def test_convnet_builds_learns_shapes_and_refuses_flat_inputs():
    net = build_model(ModelConfig("convnet", (8, 16), hidden=(32,), dropout=0.3), (1, 28, 28), 10, seed=0)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ConfigError, match="images"):
        build_model(ModelConfig("convnet", (8,)), (64,), 10)
    with pytest.raises(ConfigError, match="hidden layers are for a 'convnet'"):
        ModelConfig("mlp", (8,), hidden=(4,))
