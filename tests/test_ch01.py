"""Chapter 1's readings on small synthetic logits with known answers, and its claims."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kdbook import ConfigError, claims
from kdbook.experiments import ch01_soft_targets as ch01
from kdbook.reports import ch01_soft_targets as report
from kdbook.store import StoredResult


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    teacher = 4 * torch.randn(32, 10, generator=g, dtype=torch.float64)
    student = torch.randn(32, 10, generator=g, dtype=torch.float64)
    return teacher, student


def test_softmax_table_columns_sum_to_one_and_flatten(logits):
    t, _ = logits
    table = report.softmax_table(t[0], [1, 4, 20], [str(i) for i in range(10)])
    assert np.allclose(table.sum(axis=0), 1.0)
    assert table["T=20"].max() < table["T=4"].max() < table["T=1"].max()


def test_entropy_rises_with_temperature_towards_log_classes(logits):
    t, _ = logits
    ent = report.entropy_curve(t, [1, 2, 5, 10, 100, 1e4])
    assert np.all(np.diff(ent) > 0) and ent[-1] == pytest.approx(np.log(10), abs=1e-3)


def test_autograd_check_is_exact(logits):
    t, s = logits
    assert report.autograd_check(s, t, [1, 3, 30])["max_abs_diff"].max() < 1e-12


def test_gradient_norm_slopes(logits):
    t, s = logits
    Ts = np.array([10, 20, 50, 100, 200.0])
    norms = report.gradient_norms(s, t, Ts)
    assert report.loglog_slope(Ts, norms["without_T2"]) == pytest.approx(-2.0, abs=0.05)
    assert abs(report.loglog_slope(Ts, norms["with_T2"])) < 0.05


def test_high_temperature_gap_shrinks_like_one_over_T(logits):
    t, s = logits
    Ts = np.array([20, 50, 100, 200, 500.0])
    lim = report.high_temperature_limit(s, t, Ts)
    assert report.loglog_slope(Ts, lim["grad_rel_error"]) == pytest.approx(-1.0, abs=0.1)
    assert lim["loss_ratio"].iloc[-1] == pytest.approx(1.0, abs=0.01)


def test_reduction_pitfall_ratio_is_number_of_classes(logits):
    t, s = logits
    pit = report.reduction_pitfall(s, t, 4.0)
    assert pit["ratio"] == pytest.approx(10.0) and pit["ours"] == pytest.approx(pit["batchmean"])


def test_pick_confident_example():
    t = torch.tensor([[1.0, 0.0], [10.0, 0.0], [20.0, 0.0]], dtype=torch.float64)
    assert report.pick_confident_example(t, 0.99) == 2 - 1  # first above 0.99 is index 1
    assert report.pick_confident_example(t, 0.999999999999) == 2


def test_unknown_profile():
    with pytest.raises(ConfigError, match="profile must be one of smoke, full, paper"):
        ch01.settings("fast")


def test_crossing_temperature_interpolates_in_log_log():
    Ts = np.array([1.0, 10.0, 100.0])
    gaps = np.array([1.0, 0.1, 0.01])  # gap = 1/T
    assert report.crossing_temperature(Ts, gaps, 0.1) == pytest.approx(10.0)
    assert report.crossing_temperature(Ts, gaps, np.sqrt(0.1) * 0.1) == pytest.approx(10 ** 1.5)
    assert report.crossing_temperature(Ts, gaps, 1e-4) == float("inf")


def _stored(teacher: torch.Tensor, student: torch.Tensor, accuracies=((0.9, 0.7), (0.91, 0.72))) -> StoredResult:
    """A hand-made ch01-logits result: the same logits for every seed, the given (teacher, student) accuracies."""
    per_seed = [{"seed": i, "teacher_logits": teacher.tolist(), "student_logits": student.tolist(),
                 "teacher_test": {"accuracy": ta, "errors": round((1 - ta) * 100)}, "student_test": {"accuracy": sa}}
                for i, (ta, sa) in enumerate(accuracies)]
    value = {"labels": teacher.argmax(-1).tolist(), "class_names": [str(i) for i in range(teacher.shape[1])],
             "per_seed": per_seed}
    return StoredResult(value=value, provenance={}, config={}, path=Path("x"), cached=True)


def test_claims_on_hand_made_logits(logits):
    t, s = logits
    outcomes = claims.by_id(claims.evaluate(report.CLAIMS, {"logits": _stored(t, s)}))
    assert outcomes["ch01.gradient_formula_exact"].holds
    assert outcomes["ch01.mean_reduction_divides_by_classes"].numbers == {"ratio": 10.0, "classes": 10}
    assert outcomes["ch01.kd_loss_is_batchmean"].holds and outcomes["ch01.temperature_keeps_the_ranking"].holds
    assert outcomes["ch01.student_less_accurate_than_teacher"].holds


def test_the_student_claim_uses_the_cautious_rule(logits):
    t, s = logits
    close = {"logits": _stored(t, s, accuracies=((0.90, 0.89), (0.80, 0.82)))}  # means 0.85 vs 0.855, wide spread
    outcome = claims.by_id(claims.evaluate(report.CLAIMS, close))["ch01.student_less_accurate_than_teacher"]
    assert not outcome.holds and outcome.sentence().startswith("The one-epoch student is not clearly")


def test_glue_values_read_from_the_stored_logits(logits):
    t, s = logits
    g = report.glue_values(_stored(t, s), report.TEMPERATURES)
    assert g["ch01_seeds"] == "2 seeds" and g["ch01_n_examples"] == 32 and g["ch01_ratio"] == pytest.approx(10.0)
    assert g["ch01_teacher_acc"] == pytest.approx(90.5)


def test_the_claims_are_judged_on_the_chapters_temperature_grid():
    assert all(tuple(ch01.settings(p).temperatures) == report.TEMPERATURES for p in ch01.SETTINGS)
