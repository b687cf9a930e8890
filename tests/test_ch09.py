"""Chapter 9's building blocks (class subsets, hint training, fixed soft targets) and its reading
(tables, sentences and claims on a tiny stored-result document with known answers)."""

from pathlib import Path

import pytest
import torch

from kdbook import ConfigError, claims
from kdbook.data import load_dataset, restrict_classes
from kdbook.experiments import ch09_open_questions as ch09
from kdbook.hints import HintStudent, HintTeacher
from kdbook.losses import HintObjective
from kdbook.losses import probs_to_logits
from kdbook.models import ModelConfig, build_model
from kdbook.reports import ch09_open_questions as report
from kdbook.store import StoredResult
from kdbook.losses import DistillConfig
from kdbook.train import TrainConfig, evaluate, predict_logits, train


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


# ----------------------------------------------------------------------------- reading (no training)
def _reading_doc():
    """Two seeds: distillation helps with 2 classes and hurts with 4; trees 1 and 3 points below labels;
    the hint adds nothing at width 8 and 2 points at width 32."""
    few = [{"classes": [0, 1], "count": 2, "seed": s, "teacher": 0.95, "labels": 0.90, "distilled": 0.92 + 0.001 * s}
           for s in (0, 1)]
    few += [{"classes": [0, 1, 2, 3], "count": 4, "seed": s, "teacher": 0.90, "labels": 0.85, "distilled": 0.80}
            for s in (0, 1)]
    trees = []
    for s in (0, 1):
        for name, model_acc, drop in (("random forest", 0.84, 0.03), ("gradient boosting", 0.86, 0.01)):
            trees += [{"teacher": name, "seed": s, "T": T, "teacher_test": model_acc, "held_out_train_accuracy": 0.8,
                       "student_val": 0.80 + 0.01 * T, "student_test": 0.85 - drop - (0.0 if T == 2.0 else 0.005)}
                      for T in (1.0, 2.0)]
        trees.append({"teacher": "labels", "seed": s, "T": 0.0, "teacher_test": float("nan"),
                      "held_out_train_accuracy": float("nan"), "student_val": 0.86, "student_test": 0.85})
    hints = [{"seed": s, "width": w, "variant": v, "val": 0.8, "test": acc, "teacher_test": 0.86}
             for s in (0, 1) for w, accs in ((8, (0.80, 0.81, 0.80, 0.81)), (32, (0.82, 0.83, 0.82, 0.85)))
             for v, acc in zip(("labels", "outputs", "hint", "outputs + hint"), accs)]
    return {"open_questions": StoredResult({"dataset": "toy", "few_classes": few, "trees": trees, "hints": hints},
                                           {}, {}, Path("x"), True)}


def test_few_classes_table_and_claims():
    results = _reading_doc()
    few = report.few_classes_table(results["open_questions"])
    assert few.loc[2, "gain_mean"] == pytest.approx(0.0205) and few.loc[4, "gain_mean"] == pytest.approx(-0.05)
    out = claims.by_id(claims.evaluate(report.CLAIMS, results))
    assert out["ch09.distillation_helps_at_some_class_count"].holds
    assert out["ch09.distillation_hurts_with_all_classes"].holds
    assert not out["ch09.gain_grows_with_classes"].holds
    assert not out["ch09.fewest_classes_leave_no_room"].holds  # 90% on labels with 2 classes


def test_tree_students_use_the_validation_chosen_temperature():
    results = _reading_doc()
    st = report.tree_students(results["open_questions"])
    assert list(st["T"]) == [2.0, 2.0]  # the better validation accuracy, whatever the test says
    assert st.loc["random forest", "student"] == pytest.approx(0.82)
    out = claims.by_id(claims.evaluate(report.CLAIMS, results))
    assert out["ch09.tree_students_near_labels"].holds  # 3 and 1 points below labels
    assert not out["ch09.forest_student_beats_labels"].holds
    assert out["ch09.temperature_helps_tree_students"].holds  # T = 2 beats T = 1 by 0.5 points, no spread
    bars = report.tree_bars(results["open_questions"])
    assert bars.index[0] == "MLP on labels" and bars.loc["MLP from random forest (T=2)", "accuracy"] == pytest.approx(82.0)


def test_hint_comparisons_and_sentences():
    results = _reading_doc()
    cmp = report.hint_comparisons(results["open_questions"])
    assert list(cmp["verdict"]) == ["indistinguishable from", "higher than"]
    out = claims.by_id(claims.evaluate(report.CLAIMS, results))
    assert out["ch09.hint_adds_to_outputs"].holds and not out["ch09.hint_adds_to_labels"].holds
    assert report.hints_conclusion(results) == (
        "At some student width, outputs + hint beat the outputs alone. "
        "At no student width do labels + hint beat the labels alone.")
    assert list(report.hint_panels(results["open_questions"])) == ["student width 8", "student width 32"]
    assert report.answers_table(results).columns[-1] == "our answer (2 seeds)"
