"""Chapter 8's tables, sentences and claims on a tiny stored-result document with known answers."""

from pathlib import Path

import pandas as pd
import pytest

from kdbook import claims
from kdbook.reports import ch08_deployment as report
from kdbook.store import StoredResult


def _model(params, acc, lat1, latl, ece=0.1):
    return {"parameters": params, "accuracy": acc, "errors": 0, "ece": ece, "nll": 0.5, "agreement": 1.0,
            "val_accuracy": acc, "latency_b1_ms": lat1, "latency_large_ms": latl}


def _student(family, value, acc, val, ece=0.1):
    return {"family": family, "value": value, "accuracy": acc, "val_accuracy": val, "ece": ece}


def _doc():
    per_seed = []
    for seed, bump in ((0, 0.0), (1, 0.02)):
        per_seed.append({
            "seed": seed,
            "models": {"teacher": _model(1000, 0.90 + bump, 2.0, 40.0 + 10 * seed),
                       "ensemble": _model(3000, 0.92 + bump, 6.0, 120.0),
                       "small net": _model(100, 0.80 + bump, 1.0, 4.0 + seed),
                       "distilled": _model(100, 0.10, 9.0, 9.0)},  # alpha=max, not the chosen one
            "students": {"alpha=0.0": _student("alpha", 0.0, 0.8, 0.8, ece=0.05),
                         "alpha=0.5": _student("alpha", 0.5, 0.99, 0.7, ece=0.08),
                         "alpha=1.0": _student("alpha", 1.0, 0.85 + bump, 0.86, ece=0.12),
                         "loss=kl": _student("loss", "kl", 0.85 + bump, 0.86),
                         "loss=logit_mse": _student("loss", "logit_mse", 0.3, 0.3)},
            "member_accuracy": [0.88, 0.89],
        })
    return StoredResult({"per_seed": per_seed, "dataset": "toy: 4 examples"}, {}, {}, Path("x"), True)


def test_model_table_means_and_spreads():
    m = report.model_table(_doc())
    assert list(m.index) == ["teacher", "ensemble", "small net", "distilled"]
    assert m.loc["teacher", "accuracy"] == pytest.approx(0.91)
    assert m.loc["teacher", "accuracy_std"] == pytest.approx(pd.Series([0.90, 0.92]).std())


def test_headline_numbers():
    h = report.headline(_doc())
    assert h["size_ratio"] == pytest.approx(10.0)
    assert h["speedup_b1"] == pytest.approx(2.0) and h["speedup_large"] == pytest.approx(45.0 / 4.5)
    # the distilled row is the validation-chosen alpha (1.0 here): accuracies 0.85 and 0.87
    assert h["best_alpha"] == 1.0
    assert h["gap_closed"] == pytest.approx((0.19 - 0.14) / (0.19 - 0.09))
    assert h["accuracy_retained"] == pytest.approx(0.86 / 0.91)
    assert h["collapsed_loss_runs"] == 2 and h["loss_runs"] == 4


def test_student_table_groups_by_value():
    a = report.student_table(_doc(), "alpha")
    assert a.loc[1.0, "accuracy"] == pytest.approx(0.86) and a.loc[0.0, "accuracy_std"] == 0.0


def test_claims_on_the_worked_example():
    out = claims.by_id(claims.evaluate(report.CLAIMS, {"deployment": _doc()}))
    # distilled 0.86 +- 0.014 against the small net 0.81 +- 0.014: a gap larger than the spreads
    assert out["ch08.distilled_beats_labels"].holds
    assert out["ch08.distilled_beats_labels"].numbers["alpha"] == 1.0
    assert out["ch08.ensemble_beats_teacher"].holds is False  # 0.93 vs 0.91, spreads 0.014 each
    assert out["ch08.ece_rises_with_alpha"].holds  # 0.05, 0.08, 0.12
    # per-seed speed-ups at a large batch: 10 and 50 / 5 = 10, against 2 at batch 1
    assert out["ch08.speedup_grows_with_batch"].holds
    assert out["ch08.speedup_grows_with_batch"].numbers["speedup_large"] == pytest.approx(10.0)
    assert out["ch08.every_student_run_trains"].holds is False  # logit matching at 30%
    assert out["ch08.kl_and_soft_ce_train_the_same_student"].holds is False  # soft CE was not run


def test_sentences_follow_the_numbers():
    results = {"deployment": _doc()}
    assert report.ensemble_sentence(results).startswith("The ensemble is not more accurate than the teacher (93.00%")
    assert report.kl_soft_ce_sentence(results) == "Soft cross-entropy was not run in this profile."
    assert report.loss_collapse_sentence(_doc()).startswith(
        "Runs that ended below 50% test accuracy: squared error on logits: 2 of 2 seeds.")
    assert report.alpha_collapse_sentence(_doc(), T=4.0) == "Every run of this sweep reached at least 50% test accuracy."


def test_ours_vs_paper_types_the_papers_numbers_once():
    table = report.ours_vs_paper(_doc())
    assert table.iloc[0]["paper"] == "40% smaller (DistilBERT)"
    assert table.iloc[-1]["paper"].startswith("91% (Hinton, MNIST: 146 -> 74 vs 67)")
    assert list(table.columns)[-1] == "ours (mean over 2 seeds)"
