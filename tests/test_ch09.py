"""Chapter 9's building blocks (class subsets and the rule that samples them, hint training, fixed
soft targets, the settings' checks) and its reading (tables, sentences and every claim both ways on
tiny stored-result documents with known answers)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kdbook import ConfigError, claims
from kdbook.data import load_dataset, restrict_classes
from kdbook.experiments import ch09_open_questions as ch09
from kdbook.hints import HintStudent, HintTeacher
from kdbook.losses import DistillConfig, HintObjective, probs_to_logits
from kdbook.models import ModelConfig, build_model
from kdbook.reports import ch09_open_questions as report
from kdbook.store import StoredResult
from kdbook.train import TrainConfig, evaluate, predict_logits, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


# ----------------------------------------------------------------------------- building blocks
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


def _confusion() -> np.ndarray:
    """Four classes, 10 validation images each: 0 and 1 are often confused (3 + 2), 2 and 3 once,
    0 and 2 twice; the rest never."""
    cm = np.diag([10, 10, 10, 10])
    for (a, b), n in {(0, 1): 3, (1, 0): 2, (2, 3): 1, (0, 2): 2}.items():
        cm[a, b], cm[a, a] = n, cm[a, a] - n
    return cm


def test_subset_confusion_is_the_share_confused_inside_the_subset():
    cm = _confusion()
    assert ch09.subset_confusion(cm, [0, 1]) == pytest.approx(5 / 20)
    assert ch09.subset_confusion(cm, [1, 3]) == 0.0
    assert ch09.subset_confusion(cm, [0, 1, 2]) == pytest.approx(7 / 30)


def test_the_sample_takes_the_hardest_then_spreads_over_the_rest_to_the_easiest():
    cm = _confusion()
    rows = ch09.sample_subsets(cm, ch09.Sample(2, hardest=1, spread=2, teacher_epochs=1))
    # ranked: (0, 1) 25%, (0, 2) 10%, (2, 3) 5%, then the never-confused (0, 3), (1, 2), (1, 3)
    assert [r["classes"] for r in rows] == [[0, 1], [0, 2], [1, 3]]
    assert rows[0]["hard"] and not rows[1]["hard"]
    assert [r["rank"] for r in rows] == [0, 1, 5] and all(r["ranked"] == 6 for r in rows)
    assert rows[-1]["confusion"] == 0.0  # the easiest pair is in the sample
    everything = ch09.sample_subsets(cm, ch09.Sample(2, hardest=3, spread=10, teacher_epochs=1))
    assert len(everything) == 6 and len({tuple(r["classes"]) for r in everything}) == 6
    with pytest.raises(ConfigError, match="needs fewer than the 4 classes"):
        ch09.sample_subsets(cm, ch09.Sample(4, 1, 0, 1))


def test_confusion_matrix_counts_true_against_predicted():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert ch09.confusion_matrix(probs, torch.tensor([0, 1, 1]), 2).tolist() == [[1, 0], [1, 1]]


@pytest.mark.parametrize("change, message", [
    ({"label_grid": (0.05,)}, "tuning grids must have the same size"),
    ({"seeds": (0,)}, "at least 2 seeds"),
    ({"patience": 0.5}, "patience must be >= 1"),
    ({"samples": (ch09.Sample(3, 1, 1, 5), ch09.Sample(2, 1, 1, 5))}, "distinct, increasing counts"),
    ({"hint_students": (ModelConfig("convnet", (8,)),)}, "a hint student must be an MLP"),
])
def test_settings_refuse_what_the_recipe_forbids(change, message):
    import dataclasses

    with pytest.raises(ConfigError, match=message):
        dataclasses.replace(ch09.settings("smoke"), **change)


def test_a_sample_needs_a_subset_and_a_real_count():
    with pytest.raises(ConfigError, match="at least one subset"):
        ch09.Sample(2, 0, 0, 5)
    with pytest.raises(ConfigError, match="count must be an integer >= 2"):
        ch09.Sample(1, 1, 0, 5)


def test_every_profile_gives_equal_grids_and_names_its_numbers():
    for profile in ("smoke", "full", "paper"):
        s = ch09.settings(profile)
        assert len(s.label_grid) == len(s.distill_grid) == len(s.tree_grid)
        assert s.student_config(0.1, 10).early_stopping and s.student_config(0.1, 10).epochs >= 10
        assert report.setting_values(s)["ch09_grid_size"] == len(s.label_grid)


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


def test_a_convnet_teacher_gives_its_hidden_layer_as_the_hint(digits):
    teacher = build_model(ModelConfig("convnet", (4, 8), hidden=(12,)), digits.input_shape, 10, seed=0)
    assert predict_logits(HintTeacher(teacher), digits.val.x[:5]).shape == (5, 10 + 12)


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


# ----------------------------------------------------------------------------- reading (no training)
SEEDS = (0, 1, 2)
NAMES = ["a", "b", "c", "d"]


def _report(val: float, advantage: bool) -> dict:
    return {"seeds": 3, "train_accuracy": 0.99, "train_accuracy_std": 0.0, "val_accuracy": val, "val_accuracy_std": 0.0,
            "test_accuracy": val, "test_accuracy_std": 0.0, "student_val_accuracy": val - 0.02,
            "student_val_accuracy_std": 0.0, "val_advantage": 0.02, "val_advantage_std": 0.0,
            "has_advantage": advantage, "unlabelled_accuracy": val, "unlabelled_accuracy_std": 0.0,
            "held_out_train_accuracy": val, "held_out_train_accuracy_std": 0.0}


def _classes(gains: dict) -> StoredResult:
    """Subsets with (label-trained test accuracy, gain in points, teacher ahead in points); seeds add
    +-0.02 points of noise to the gain."""
    subsets, rows, reports, tuning = [], [], [], []
    for i, (classes, (labels, gain, ahead)) in enumerate(gains.items()):
        count = len(classes)
        sub = {"classes": list(classes), "count": count, "confusion": 1 - labels, "rank": i, "hard": i == 0,
               "ranked": 6 if count == 2 else 1}
        subsets.append(sub)
        for seed in SEEDS:
            d = labels + (gain + 0.02 * (seed - 1)) / 100
            rows.append({**sub, "seed": seed, "test_size": 1000, "teacher_train_accuracy": 1.0,
                         "teacher_val_accuracy": labels + ahead / 100 + 0.001 * seed,
                         "teacher_test_accuracy": labels + ahead / 100, "labels_val": labels, "labels_test": labels,
                         "labels_train": 1.0, "distilled_val": d, "distilled_test": d, "distilled_train": 1.0})
        reports.append({"classes": list(classes), "count": count, **_report(labels, ahead > 1)})
    for count in {len(c) for c in gains}:
        tuning += [{"count": count, "method": "labels", "lr": lr, "val_accuracy": 0.8 + lr, "chosen": lr == 0.1}
                   for lr in (0.05, 0.1)]
        tuning += [{"count": count, "method": "distilled", "lr": 0.05, "T": T, "alpha": 0.5, "val_accuracy": 0.8,
                    "chosen": T == 2.0} for T in (2.0, 4.0)]
    return StoredResult({"dataset": "toy", "class_names": NAMES, "subsets": subsets, "rows": rows,
                         "teacher_reports": reports, "tuning": tuning, "curves": [], "epochs": []}, {}, {}, Path("x"), True)


#: distillation helps with all four classes (+2 points of 20% errors) and not on the pairs (no room)
GROWS = {(0, 1): (0.99, 0.0, 2.0), (2, 3): (0.999, 0.0, -2.0), (0, 1, 2, 3): (0.80, 2.0, 5.0)}
#: it helps on the hardest pair (+3 of 20% errors), not with all four classes
SHRINKS = {(0, 1): (0.80, 3.0, 5.0), (2, 3): (0.999, 0.0, 2.0), (0, 1, 2, 3): (0.85, 0.0, 3.0)}


def _transfer(same_labels_gain: float) -> StoredResult:
    """Labels on the labelled images 80%, on all images 90%; distilled on the labelled images 82%
    (either teacher); with the unlabelled images 89% (all labels) and 82% + ``same_labels_gain``."""
    rows, tuning = [], []
    for seed in SEEDS:
        e = 0.001 * (seed - 1)
        rows.append({"seed": seed, "method": "labels, all images", "teacher": None, "val": 0.9, "test": 0.90 + e,
                     "unlabelled": 0.9, "agreement": None, "best_epoch": None, "epochs": None})
        rows.append({"seed": seed, "method": "labels", "teacher": None, "val": 0.8, "test": 0.80 + e,
                     "unlabelled": 0.8, "agreement": None, "best_epoch": 10, "epochs": 20})
        for teacher, c in (("all labels", 0.89), ("same labels", 0.82 + same_labels_gain / 100)):
            rows.append({"seed": seed, "method": "distilled, labelled images", "teacher": teacher, "val": 0.82,
                         "test": 0.82 + e, "unlabelled": 0.82, "agreement": 0.85, "best_epoch": 10, "epochs": 20})
            rows.append({"seed": seed, "method": "distilled, + unlabelled images", "teacher": teacher, "val": c,
                         "test": c + 2 * e, "unlabelled": c, "agreement": 0.85 + (c - 0.82), "best_epoch": 20,
                         "epochs": 20})
    for method, teacher in (("labels", None), ("distilled, labelled images", "all labels"),
                            ("distilled, + unlabelled images", "all labels"), ("distilled, labelled images", "same labels"),
                            ("distilled, + unlabelled images", "same labels")):
        tuning += [{"method": method, "teacher": teacher, "lr": lr, "T": None if teacher is None else 2.0,
                    "alpha": None if teacher is None else 0.5, "val_accuracy": 0.8 + lr, "chosen": lr == 0.1}
                   for lr in (0.05, 0.1)]
    curves = [{"method": "labels", "teacher": None, "val_accuracy": [0.7, 0.8]},
              {"method": "distilled, + unlabelled images", "teacher": "all labels", "val_accuracy": [0.8, 0.89]}]
    value = {"dataset": "toy", "train_size": 1000, "labelled": 100, "epochs": {},
             "teacher_reports": {"all labels": _report(0.9, True), "same labels": _report(0.83, True)},
             "tuning": tuning, "rows": rows, "curves": curves}
    return StoredResult(value, {}, {}, Path("x"), True)


def _trees() -> StoredResult:
    """The network on labels 85%; the forest's student 82% (its model 85%), boosting's 86.5% (its model 87%)."""
    rows = []
    for seed in SEEDS:
        e = 0.001 * (seed - 1)
        rows.append({"seed": seed, "teacher": "labels", "T": None, "alpha": None, "val": 0.85, "test": 0.85 + e})
        rows.append({"seed": seed, "teacher": "random forest", "T": 1.0, "alpha": 0.5, "val": 0.82, "test": 0.82 + e,
                     "model_val": 0.85, "model_test": 0.85 + e, "best_epoch": 5})
        rows.append({"seed": seed, "teacher": "gradient boosting", "T": 2.0, "alpha": 1.0, "val": 0.865,
                     "test": 0.865 + e, "model_val": 0.87, "model_test": 0.87, "best_epoch": 5})
    tuning = [{"teacher": t, "lr": 0.05, "T": T, "alpha": a, "val_accuracy": 0.8, "chosen": T == 1.0}
              for t in ("random forest", "gradient boosting") for T, a in ((1.0, 0.5), (2.0, 1.0))]
    tuning += [{"teacher": "labels", "lr": lr, "T": None, "alpha": None, "val_accuracy": 0.85, "chosen": lr == 0.1}
               for lr in (0.05, 0.1)]
    value = {"dataset": "toy", "rows": rows, "tuning": tuning, "forest_trees": 10, "boosting_iterations": 10,
             "teacher_reports": {"random forest": _report(0.85, False), "gradient boosting": _report(0.87, True)}}
    return StoredResult(value, {}, {}, Path("x"), True)


def _hints() -> StoredResult:
    """Width 8: the hint adds nothing; width 32: outputs + hint 2 points above outputs."""
    rows = []
    for width, accs in (("8", (0.80, 0.81, 0.80, 0.81)), ("32", (0.82, 0.83, 0.82, 0.85))):
        for variant, acc in zip(ch09.HINT_VARIANTS, accs):
            outputs = ch09.HINT_VARIANTS[variant][0]
            rows += [{"width": width, "variant": variant, "seed": s, "lr": 0.05, "T": 2.0 if outputs else None,
                      "alpha": 0.5 if outputs else None, "val": acc, "test": acc + 0.0005 * s} for s in SEEDS]
    value = {"dataset": "toy", "hint_dim": 12, "hint_weight": 1.0, "rows": rows, "tuning": [],
             "teacher_reports": {"8": _report(0.86, True), "32": _report(0.86, True)}}
    return StoredResult(value, {}, {}, Path("x"), True)


def _doc(classes=GROWS, same_labels_gain=3.0):
    return {"classes": _classes(classes), "transfer": _transfer(same_labels_gain), "trees": _trees(), "hints": _hints()}


def _outcomes(results):
    return claims.by_id(claims.evaluate(report.CLAIMS, results))


def test_the_gain_per_number_of_classes_is_paired_over_seeds():
    result = _classes(GROWS)
    gains = report.per_seed(result, "gain")
    assert list(gains.columns) == [2, 4] and gains[4].tolist() == pytest.approx([1.98, 2.0, 2.02])
    assert gains[2].mean() == pytest.approx(0.0)
    assert report.relative_gains(result)[4].mean() == pytest.approx(10.0)  # 2 points of 20% errors
    table = report.count_table(result)
    assert table.loc[4, "distilled vs labels"] == "higher than" and table.loc[2, "distilled vs labels"] == \
        "indistinguishable from"
    assert report.subset_table(result).loc["a vs b", "rank"] == "1 of 6"
    assert report.teacher_table(result).loc[2, "clear advantage"] == "1 of 2 subsets"
    assert report.room_correlation(result) > 0.5


def test_class_claims_when_the_gain_grows_with_the_classes():
    out = _outcomes(_doc(GROWS))
    assert out["ch09.distillation_helps_at_some_class_count"].holds
    assert out["ch09.distillation_helps_with_all_classes"].holds
    assert not out["ch09.distillation_helps_hardest_pairs"].holds
    assert out["ch09.gain_grows_with_classes"].holds and out["ch09.relative_gain_grows_with_classes"].holds
    assert out["ch09.gain_follows_room"].holds
    assert not out["ch09.teachers_ahead_at_every_count"].holds  # on average, the pairs' teachers are not ahead


def test_class_claims_when_the_gain_shrinks_with_the_classes():
    out = _outcomes(_doc(SHRINKS))
    assert out["ch09.distillation_helps_hardest_pairs"].holds
    assert not out["ch09.distillation_helps_with_all_classes"].holds
    assert not out["ch09.gain_grows_with_classes"].holds and not out["ch09.relative_gain_grows_with_classes"].holds
    assert out["ch09.teachers_ahead_at_every_count"].holds
    assert report.answers_table(_doc(SHRINKS)).iloc[0, 1].startswith("The gain from distillation is not clearly larger")


def test_the_unlabelled_transfer_claims_both_ways():
    helps = _outcomes(_doc(same_labels_gain=3.0))
    assert helps["ch09.unlabelled_transfer_helps"].holds
    assert helps["ch09.unlabelled_transfer_helps"].numbers["same_labels_teacher_gain_points"] == pytest.approx(3.0)
    assert helps["ch09.soft_targets_help_few_labels"].holds  # 82 vs 80
    assert helps["ch09.unlabelled_transfer_recovers_most"].holds  # (89 - 80) / (90 - 80) = 0.9
    assert helps["ch09.unlabelled_transfer_raises_agreement"].holds
    flat = _outcomes(_doc(same_labels_gain=0.0))
    assert not flat["ch09.unlabelled_transfer_helps"].holds and not flat["ch09.unlabelled_transfer_raises_agreement"].holds
    assert report.gap_share(_transfer(0.0), "distilled, labelled images", "all labels")[0] == pytest.approx(0.2)


def test_the_transfer_tables_name_every_student_and_cause():
    result = _transfer(0.0)
    cmp = report.transfer_comparisons(result)
    key = ("teacher with the same labels", "+ unlabelled vs labelled images only")
    assert cmp.loc[key, "verdict"] == "indistinguishable from"
    assert cmp.loc[("teacher with all the labels", "+ unlabelled vs labels on all images"), "verdict"] == "lower than"
    diag = report.transfer_diagnostics(result)
    assert diag.loc["teacher with the same labels", "room: labels on all images minus the student (points)"] == \
        pytest.approx(8.0)
    assert diag.loc["teacher with all the labels", "seeds kept before their last epoch"] == "0 of 3"
    assert len(report.transfer_table(result)) == 6
    assert "is indistinguishable from the one distilled" in report.transfer_sentence({"transfer": result})
    paper = report.paper_table(_doc())
    assert paper.loc["share of the way covered by soft targets (%)", "ours"] == pytest.approx(20.0)
    assert paper.loc["share of the way covered by soft targets (%)", "paper"] == pytest.approx(86.8, abs=0.1)


def test_tree_students_are_read_paired_and_in_words():
    st = report.tree_students(_trees())
    assert st.loc["random forest", "vs labels"] == "lower than" and st.loc["gradient boosting", "vs labels"] == \
        "higher than"
    assert st.loc["random forest", "vs its model"] == "lower than"
    out = _outcomes(_doc())
    assert not out["ch09.forest_student_beats_labels"].holds and out["ch09.boosting_student_beats_labels"].holds
    assert not out["ch09.tree_students_reach_their_models"].holds and not out["ch09.tree_teachers_ahead"].holds
    sentence = report.tree_sentence(_doc())
    assert sentence.startswith("The student of random forest (T = 1, alpha = 0.5) is lower than the network on labels")
    assert "(-3.00 ± 0.00 points)" in sentence


def test_hint_comparisons_and_claims():
    cmp = report.hint_comparisons(_hints())
    assert cmp.loc[("MLP 8", "outputs + hint vs outputs"), "verdict"] == "indistinguishable from"
    assert cmp.loc[("MLP 32", "outputs + hint vs outputs"), "verdict"] == "higher than"
    out = _outcomes(_doc())
    assert out["ch09.hint_adds_to_outputs"].holds and not out["ch09.hint_adds_to_labels"].holds


def test_every_glued_value_and_table_reads_from_the_documents():
    results = _doc()
    values = report.glue_values(results)
    assert values["ch09_n_seeds"] == 3 and values["ch09_count_lo"] == 2 and values["ch09_count_hi"] == 4
    assert values["ch09_hardest_pair"] == "a vs b" and values["ch09_share_c"] == pytest.approx(90.0)
    assert {f"ch09_claim_{c.id.split('.', 1)[1]}" for c in report.CLAIMS} <= set(values)
    assert report.answers_table(results).columns[-1] == "our answer (3 seeds)"
    for table in report.display_tables(results).values():
        assert len(table)
    for fig in (report.classes_figure(results["classes"]), report.transfer_figure(results["transfer"]),
                report.trees_figure(results["trees"]), report.hints_figure(results["hints"])):
        assert fig.axes
