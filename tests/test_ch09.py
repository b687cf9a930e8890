"""Chapter 9's building blocks: class subsets, hint training, fixed soft targets."""

import pytest
import torch

from kdbook import ConfigError
from kdbook.data import load_dataset, restrict_classes
from kdbook.experiments import ch09_open_questions as ch09
from kdbook.hints import HintStudent, HintTeacher
from kdbook.losses import HintObjective
from kdbook.losses import probs_to_logits
from kdbook.models import ModelConfig, build_model
from kdbook.train import DistillConfig, TrainConfig, evaluate, predict_logits, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_restrict_classes_relabels_in_order(digits):
    sub = restrict_classes(digits, [7, 2])
    assert sub.num_classes == 2 and sub.class_names == ("7", "2")
    assert set(sub.test.y.tolist()) == {0, 1}
    assert (sub.test.y == 0).sum() == (digits.test.y == 7).sum()
    assert torch.equal(sub.test.x[sub.test.y == 1], digits.test.x[digits.test.y == 2])


@pytest.mark.parametrize("classes, message", [
    ([], "classes must not be empty"),
    ([1, 1], "classes must be distinct"),
    ([3, 12], r"classes must be integers in \[0, 10\)"),
])
def test_restrict_classes_rejects_bad_lists(digits, classes, message):
    with pytest.raises(ConfigError, match=message):
        restrict_classes(digits, classes)


def test_class_subsets_are_distinct_and_seeded():
    subs = ch09.class_subsets(10, 3, 4)
    assert len(subs) == 4 and len({tuple(s) for s in subs}) == 4 and all(len(s) == 3 for s in subs)
    assert subs == ch09.class_subsets(10, 3, 4)
    assert ch09.class_subsets(10, 10, 3) == [list(range(10))]


def test_hint_student_outputs_and_objective():
    base = build_model(ModelConfig("mlp", (8,)), (1, 4, 4), 3, seed=0)
    student = HintStudent(base, teacher_dim=5)
    x = torch.rand(6, 1, 4, 4)
    student.train()
    assert student(x).shape == (6, 3 + 5)
    student.eval()
    assert student(x).shape == (6, 3)
    out = torch.zeros(2, 3 + 5, requires_grad=True)
    teacher_out = torch.cat([torch.zeros(2, 3), torch.ones(2, 5)], dim=1)
    losses = HintObjective(3, soft_weight=0.0, hint_weight=2.0)(out, torch.tensor([0, 1]), teacher_out)
    assert set(losses) == {"hard", "hint"}
    assert losses["hint"].item() == pytest.approx(2.0)  # mean of (0 - 1)^2, times the weight
    assert set(HintObjective(3, soft_weight=0.5, hint_weight=0.0)(out, torch.tensor([0, 1]), teacher_out)) == {"hard", "soft"}


def test_hint_training_pulls_the_projection_towards_the_teacher(digits):
    teacher = build_model(ModelConfig("mlp", (32,)), digits.input_shape, 10, seed=1)
    train(teacher, digits.train, TrainConfig(epochs=5, batch_size=32, lr=0.1))
    ht = HintTeacher(teacher)
    t_out = predict_logits(ht, digits.train.x)
    student = HintStudent(build_model(ModelConfig("mlp", (16,)), digits.input_shape, 10, seed=2), 32)

    def hint_mse():
        student.train()
        with torch.no_grad():
            return torch.nn.functional.mse_loss(student(digits.train.x)[:, 10:], t_out[:, 10:]).item()

    before = hint_mse()
    train(student, digits.train, TrainConfig(epochs=5, batch_size=32, lr=0.05), HintObjective(10, soft_weight=0.0),
          teacher=ht)
    assert hint_mse() < before / 2
    assert evaluate(student, digits.test)["accuracy"] > 0.8


def test_fixed_teacher_logits_equal_a_teacher(digits):
    teacher = build_model(ModelConfig("mlp", (32,)), digits.input_shape, 10, seed=1)
    train(teacher, digits.train, TrainConfig(epochs=3, batch_size=32, lr=0.1))
    cfg, obj = TrainConfig(epochs=2, batch_size=32, lr=0.05), DistillConfig(T=2.0)
    a = build_model(ModelConfig("mlp", (16,)), digits.input_shape, 10, seed=3)
    b = build_model(ModelConfig("mlp", (16,)), digits.input_shape, 10, seed=3)
    train(a, digits.train, cfg, obj, teacher=teacher)
    probs = predict_logits(teacher, digits.train.x).softmax(-1)
    train(b, digits.train, cfg, obj, teacher_logits=probs_to_logits(probs))
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-5)
    with pytest.raises(ConfigError, match="teacher_logits need one row per training example"):
        train(b, digits.train, cfg, obj, teacher_logits=probs[:10])
