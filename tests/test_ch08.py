"""Chapter 8: its settings, the ensemble's logits, a short run that must learn, and the reading
layer (tables, paired verdicts, latency intervals, failures, sentences and claims, both ways) on
tiny stored-result documents with known answers."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kdbook import claims, recipe
from kdbook.errors import ConfigError
from kdbook.experiments import ch08_deployment as ch08
from kdbook.losses import DistillConfig
from kdbook.models import MLP
from kdbook.reports import ch08_deployment as report
from kdbook.store import StoredResult
from kdbook.teachers import Ensemble

SEEDS = (0, 1, 2)
TEST_SIZE = 1000


# ----------------------------------------------------------------------------- tiny documents
def _row(seed, model, acc, ece, val=None, train=None, diverged=False):
    return {"seed": seed, "model": model, "accuracy": acc, "errors": round((1 - acc) * TEST_SIZE), "ece": ece,
            "nll": 0.3, "val_accuracy": acc if val is None else val, "train_accuracy": train or acc + 0.05,
            "agreement": 0.95, "diverged": diverged}


ACC = {"teacher": (0.90, 0.91, 0.92), "labels": (0.85, 0.86, 0.87), "distilled": (0.87, 0.88, 0.895),
       "distilled from the ensemble": (0.88, 0.87, 0.90)}
ECE = {"teacher": (0.02, 0.02, 0.02), "labels": (0.03, 0.03, 0.03), "distilled": (0.05, 0.05, 0.06),
       "distilled from the ensemble": (0.04, 0.04, 0.04)}


def _curve(late_gain: float, seed: int):
    """Ten epochs: a rise, then flat, plus ``late_gain`` spread over the last two epochs."""
    ys = [0.5, 0.7, 0.8, 0.85, 0.86, 0.87, 0.87, 0.87, 0.87 + late_gain / 2, 0.87 + late_gain]
    return [y + 0.001 * seed for y in ys]


def _rounds(times: list[float], n: int = 20) -> list[float]:
    return [times[i % len(times)] for i in range(n)]


def _latency(large_student: list[float]):
    per_batch = {}
    for batch, teacher, student in (("1", [2.0], [1.0]), ("64", [40.0], large_student)):
        per_batch[batch] = {str(s): {"teacher": _rounds(teacher), "ensemble": _rounds([3 * t for t in teacher]),
                                     "student": _rounds(student)} for s in SEEDS}
    return per_batch


def _deployment(late_gain: float = 0.0, large_student=(2.0,), ensemble_acc: float = 0.915) -> StoredResult:
    rows = [_row(s, m, ACC[m][i], ECE[m][i]) for i, s in enumerate(SEEDS) for m in ACC]
    rows.append(_row(None, "ensemble", ensemble_acc, 0.015, train=0.99))
    teacher = [{"train_accuracy": 0.96, "val_accuracy": a, "test_accuracy": a} for a in ACC["teacher"]]
    labels_val = list(ACC["labels"])
    ens = [{"train_accuracy": 0.99, "val_accuracy": ensemble_acc, "test_accuracy": ensemble_acc}] * 3
    tuning = [{"method": "labels", "lr": 0.05, "T": None, "alpha": None, "val_accuracy": 0.85, "chosen": True},
              {"method": "labels", "lr": 0.1, "T": None, "alpha": None, "val_accuracy": 0.84, "chosen": False},
              {"method": "distilled", "lr": 0.05, "T": 4.0, "alpha": 0.5, "val_accuracy": 0.87, "chosen": True},
              {"method": "distilled", "lr": 0.1, "T": 4.0, "alpha": 0.5, "val_accuracy": 0.10, "chosen": False}]
    curves = [{"seed": s, "model": m, "val_accuracy": _curve(late_gain if m == "distilled" else 0.0, s)}
              for s in SEEDS for m in ("labels", "distilled", "distilled from the ensemble")]
    value = {"dataset": "toy: 4 train / 2 val / 1000 test", "teacher": "CNN toy", "seeds": list(SEEDS),
             "epochs": {"teacher": 4, "student": 10}, "clip_grad_norm": 5.0,
             "grid_sizes": {"labels": 2, "distilled": 2},
             "teacher_reports": {"teacher": recipe.teacher_report(teacher, labels_val),
                                 "ensemble": recipe.teacher_report(ens, labels_val)},
             "tuning": tuning, "rows": rows, "curves": curves,
             "sizes": {"teacher": {"parameters": 1000, "macs": 100_000}, "ensemble": {"parameters": 3000, "macs": 300_000},
                       "student": {"parameters": 100, "macs": 1000}},
             "latency": _latency(list(large_student)), "large_batch": 64, "threads": 2}
    return StoredResult(value, {}, {}, Path("x"), True)


def _sweep_row(family, value, seed, acc, ece, val=None, diverged=False):
    nan = float("nan")
    return {"family": family, "value": value, "seed": seed, "accuracy": nan if diverged else acc,
            "errors": nan if diverged else round((1 - acc) * TEST_SIZE), "ece": nan if diverged else ece, "nll": 0.3,
            "val_accuracy": nan if diverged else (acc if val is None else val), "train_accuracy": acc,
            "agreement": nan if diverged else 0.9, "diverged": diverged}


def _sweeps(ece_at_half=(0.04, 0.05, 0.045)) -> StoredResult:
    rows = []
    for i, s in enumerate(SEEDS):
        rows.append(_sweep_row("alpha", 0.0, s, 0.86, (0.02, 0.03, 0.025)[i]))
        rows.append(_sweep_row("alpha", 0.5, s, 0.88, ece_at_half[i]))
    rows += [_sweep_row("alpha", 1.0, 0, 0.88, 0.06), _sweep_row("alpha", 1.0, 1, 0.10, 0.30),  # collapsed
             _sweep_row("alpha", 1.0, 2, 0.0, 0.0, diverged=True)]
    for i, s in enumerate(SEEDS):
        rows.append(_sweep_row("loss", "kl", s, 0.88 + 0.001 * i, 0.05))
        rows.append(_sweep_row("loss", "soft_ce", s, 0.88 + 0.001 * i, 0.05))
        rows.append(_sweep_row("loss", "logit_mse", s, 0.86, 0.03))
    return StoredResult({"lr": 0.05, "T": 4.0, "alpha": 0.5, "rows": rows}, {}, {}, Path("y"), True)


def _results(**kwargs):
    sweeps = kwargs.pop("sweeps", None) or _sweeps()
    return {"deployment": _deployment(**kwargs), "sweeps": sweeps}


def _outcomes(results):
    return claims.by_id(claims.evaluate(report.CLAIMS, results))


# ----------------------------------------------------------------------------- settings and the ensemble
def test_settings_refuse_unequal_grids_no_clipping_and_bad_weights():
    s = ch08.settings("smoke")
    with pytest.raises(ConfigError, match="same size"):
        ch08.Settings(**{**s.__dict__, "label_grid": (0.05,)})
    with pytest.raises(ConfigError, match="clip_grad_norm"):
        ch08.Settings(**{**s.__dict__, "clip_grad_norm": 0.0})
    with pytest.raises(ConfigError, match="alpha"):
        ch08.Settings(**{**s.__dict__, "alphas": (0.5, 1.5)})
    with pytest.raises(ConfigError, match="patience"):
        ch08.Settings(**{**s.__dict__, "patience": 0.5})
    with pytest.raises(ConfigError, match="no setting"):
        ch08.run("smoke", changes={"epochs": 3})


def test_every_profile_gives_both_methods_the_same_budget_and_clips():
    for profile in ("smoke", "full", "paper"):
        s = ch08.settings(profile)
        assert len(s.label_grid) == len(s.distill_grid) and s.clip_grad_norm > 0 and s.patience >= 1
        assert all(isinstance(obj, DistillConfig) for _, obj in s.distill_grid)


def test_ensemble_logits_are_what_the_ensemble_returns():
    members = [MLP(6, (5,), 3) for _ in range(3)]
    for i, m in enumerate(members):
        torch.manual_seed(i)
        for p in m.parameters():
            p.data.normal_()
    x = torch.randn(8, 6)
    with torch.no_grad():
        expected = Ensemble(members)(x)
        got = ch08.ensemble_logits([m(x) for m in members])
    assert torch.allclose(got, expected, atol=1e-6)


def test_a_short_run_learns_and_every_reading_works():
    """The smoke settings cut down (one seed, one grid point each, one weight, one soft loss): the
    students must learn the digits, the ensemble is one model, latency has its rounds, and the
    page's readings run."""
    results = ch08.run("smoke", changes={"seeds": (0,), "label_grid": (0.1,),
                                         "distill_grid": ((0.05, DistillConfig(T=4.0, alpha=0.5)),),
                                         "alphas": (0.5,), "soft_losses": ("kl",), "rounds_one": 4, "rounds_large": 2})
    result = results["deployment"]
    m = report.model_table(result)
    assert (m.loc[list(report.STUDENTS), "accuracy"] > 0.8).all()  # ten classes: chance is 0.1
    assert m.loc["ensemble", "runs"] == 1 and m.loc["teacher", "train_accuracy"] > 0.9
    assert set(result.value["latency"]) == {"1", str(ch08.settings("smoke").large_batch)}
    assert len(result.value["latency"]["1"]["0"]["student"]) == 4
    assert result.value["epochs"]["student"] >= result.value["epochs"]["teacher"]
    assert len(report.tuning_table(result)) == 2 and report.tuning_table(result)["chosen"].sum() == 2
    assert {"ch08_distilled_sentence", "ch08_latency_sentence"} <= set(report.glue_values(results))
    assert len(claims.evaluate(report.CLAIMS, results)) == len(report.CLAIMS)


# ----------------------------------------------------------------------------- tables
def test_model_table_means_medians_and_the_ensemble_as_one_model():
    m = report.model_table(_deployment())
    assert list(m.index) == list(report.MODELS)
    assert m.loc["teacher", "accuracy"] == pytest.approx(0.91)
    assert m.loc["teacher", "accuracy_std"] == pytest.approx(0.01)
    assert m.loc["distilled", "accuracy_median"] == pytest.approx(0.88)
    assert m.loc["ensemble", "runs"] == 1 and m.loc["ensemble", "accuracy_std"] == 0.0
    # the students share the student's measured size
    assert m.loc["labels", "macs"] == m.loc["distilled from the ensemble", "macs"] == 1000
    table = report.model_display_table(_deployment())
    assert table.loc["teacher", "latency, batch 64 (ms)"] == "40 [40, 40]"
    assert table.loc["small net on labels", "failed runs"] == "0 of 3"


def test_teacher_report_table_shows_training_accuracy_and_the_advantage():
    table = report.teacher_report_table(_deployment())
    row = table.loc["teacher: CNN toy"]
    assert row["training (%)"] == "96.00 ± 0.00" and row["advantage (points)"] == "5.00 ± 0.00"
    assert row["clear by the cautious rule"] == "yes"
    assert table.loc["ensemble of the teachers", "validation (%)"] == "91.50"  # one model: no spread


def test_paired_verdicts_by_hand():
    result = _deployment()
    p = report.paired(result, "distilled", "labels")
    assert p["mean"] == pytest.approx(np.mean([0.02, 0.02, 0.025])) and p["relation"] == "higher than"
    # the ensemble, one model, against each seed's teacher: +1.5, +0.5, -0.5 points
    e = report.paired(result, "ensemble", "teacher")
    assert e["mean"] == pytest.approx(0.005) and e["relation"] == "indistinguishable from"
    table = report.verdict_table(result)
    assert list(table["verdict"]) == ["higher than", "higher than", "indistinguishable from",
                                      "indistinguishable from", "higher than", "higher than"]


def test_latency_intervals_and_speedups_from_the_rounds():
    result = _deployment()
    assert report.speedup(result, 1) == pytest.approx({"ratio": 2.0, "low": 2.0, "high": 2.0, "level": 0.95,
                                                       "rounds": 60})
    assert report.speedup(result, 64)["ratio"] == pytest.approx(20.0)
    assert report.speedup(result, 64, "ensemble")["ratio"] == pytest.approx(60.0)
    table = report.latency_table(result)
    assert table.loc["64", "student's speed-up over the teacher"] == "20 [20, 20]"
    noisy = _deployment(large_student=(2.0, 8.0))  # ratios of 20 and 5 in alternate rounds
    s = report.speedup(noisy, 64)
    assert s["low"] == pytest.approx(5.0) and s["high"] == pytest.approx(20.0)


def test_sweep_tables_count_failures_and_give_medians():
    a = report.sweep_table(_sweeps(), "alpha")
    assert a.loc[1.0, "runs"] == 3 and a.loc[1.0, "failed"] == 2  # one collapsed, one diverged
    assert a.loc[0.5, "median (%)"] == pytest.approx(88.0) and a.loc[1.0, "mean (%)"] == pytest.approx(49.0)
    assert a.loc[0.0, "ECE, median"] == pytest.approx(0.025)
    assert report.failure_sentence(_sweeps(), "alpha").startswith(
        "Failed runs of the sweep over α (diverged, or below 50% validation accuracy): α = 1: 2 of 3.")
    assert report.failure_sentence(_sweeps(), "loss").startswith("No run of the comparison of soft losses failed")
    assert list(report.sweep_table(_sweeps(), "loss").index) == ["KL divergence", "soft cross-entropy",
                                                                 "squared error on logits"]


def test_gap_closed_and_ours_vs_paper():
    share, std = report.gap_closed(_deployment())
    assert share == pytest.approx(np.mean([0.4, 0.4, 0.5])) and std == pytest.approx(np.std([0.4, 0.4, 0.5], ddof=1))
    table = report.ours_vs_paper(_results())
    assert table.iloc[0]["paper"] == "40% smaller (DistilBERT)"
    assert table.iloc[-1]["paper"].startswith("91% (Hinton, MNIST: 146 -> 74 vs 67)")
    assert list(table.columns)[-1] == "ours (3 seeds)"


def test_causes_table_rules_out_what_the_run_shows():
    table = report.causes_table(_results())
    assert (table.drop(index="runs failed")["verdict"] == "ruled out").all()
    assert "2 learning rates against 2" in table.loc["the baseline was tuned more, or less, than the student",
                                                      "what the run shows"]
    # a search run ended at 10% validation accuracy: counted as failed, so that cause stays open
    assert table.loc["runs failed", "what the run shows"].startswith("1 of 4 search runs")
    assert table.loc["runs failed", "verdict"] == "not ruled out"
    still_learning = report.causes_table(_results(late_gain=0.02))
    assert still_learning.loc["the students stopped too early", "verdict"] == "not ruled out"


# ----------------------------------------------------------------------------- claims, both ways
def test_claims_on_the_worked_example():
    out = _outcomes(_results())
    assert out["ch08.teacher_has_advantage"].holds and out["ch08.ensemble_has_advantage"].holds
    assert out["ch08.distilled_beats_labels"].holds
    assert out["ch08.distilled_beats_labels"].numbers["mean_difference_points"] == pytest.approx(2.1667, abs=1e-3)
    assert out["ch08.ensemble_beats_teacher"].holds is False  # +0.5 ± 1.0 points: not clearly
    assert out["ch08.ensemble_student_beats_distilled"].holds is False
    assert out["ch08.ensemble_student_beats_labels"].holds
    assert out["ch08.students_had_ended"].holds
    assert out["ch08.student_order_of_magnitude_faster"].holds and out["ch08.speedup_grows_with_batch"].holds
    assert out["ch08.large_batch_speedup_exceeds_arithmetic"].holds is False  # 20 against 100 times the arithmetic
    assert out["ch08.ece_rises_with_alpha"].holds  # medians 0.025, 0.045, 0.18 (the diverged run left out)
    assert out["ch08.distilled_worse_calibrated_than_labels"].holds and out["ch08.distilled_ece_above_teacher"].holds
    assert out["ch08.every_student_run_trains"].holds is False  # a search run and two sweep runs failed
    assert out["ch08.every_student_run_trains"].numbers["alpha_failed"] == 2
    assert out["ch08.kl_and_soft_ce_train_the_same_student"].holds
    assert out["ch08.student_keeps_97pct_of_teacher"].holds is False  # 0.8817 / 0.91 = 0.969
    assert out["ch08.student_smaller_and_faster"].holds  # 10x smaller, 2x faster at batch 1
    assert out["ch08.distillation_removes_most_excess_error"].holds is False  # 43% ± 6%


def test_claims_turn_when_the_numbers_do():
    out = _outcomes(_results(late_gain=0.02, large_student=(2.0, 8.0), ensemble_acc=0.95,
                             sweeps=_sweeps(ece_at_half=(0.01, 0.01, 0.01))))
    assert out["ch08.students_had_ended"].holds is False
    assert out["ch08.student_order_of_magnitude_faster"].holds is False  # the interval reaches 5
    assert out["ch08.ensemble_beats_teacher"].holds  # +4, +3, +2 points
    assert out["ch08.ece_rises_with_alpha"].holds is False  # 0.025, then 0.01
    assert _outcomes(_results(large_student=(0.2,)))["ch08.large_batch_speedup_exceeds_arithmetic"].holds  # 200x


def test_sentences_follow_the_outcomes():
    results = _results()
    text = report.distilled_sentence(results)
    assert text.startswith("The distilled student is clearly more accurate on test") and "+2.17 ± 0.29 points" in text
    ens = report.ensemble_sentence(results)
    assert ens.startswith("The ensemble is not clearly more accurate on test than a single teacher")
    assert "most accurate" not in ens and "3 times the teacher's arithmetic" in ens
    cal = report.calibration_sentence(results)
    assert "rises at every step of α" in cal and "clearly worse calibrated (higher ECE) than its teacher" in cal
    lat = report.latency_sentence(results)
    assert "100 times less arithmetic" in lat and "a batch of 64 20 times faster (20 to 20)" in lat
    assert report.sig(1034.4) == "1,034" and report.sig(0.05234) == "0.0523" and report.sig(7.421) == "7.42"
    assert report.teacher_sentence(_deployment()).endswith("a clear advantage, so it has something to pass on.")


def test_glue_values_name_every_number_the_page_reads():
    values = report.glue_values(_results())
    for name in ("ch08_speedup_b1", "ch08_speedup_large_low", "ch08_size_ratio", "ch08_macs_ratio",
                 "ch08_claim_distilled_beats_labels", "ch08_teacher_sentence", "ch08_alpha_failures",
                 "ch08_dataset_name", "ch08_student_epochs", "ch08_clip"):
        assert name in values, name
    assert values["ch08_dataset_name"] == "toy"


def test_figures_draw():
    results = _results()
    for fig in (report.pareto_figure(results["deployment"]), report.curve_figure(results["deployment"]),
                report.alpha_figure(results["sweeps"], 0.5)):
        assert fig.axes
