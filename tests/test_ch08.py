"""Chapter 8's tables on a tiny stored-result document with known answers."""

import pandas as pd
import pytest

from kdbook.experiments import ch08_deployment as ch08
from kdbook.store import StoredResult


def _model(params, acc, lat1, latl):
    return {"parameters": params, "accuracy": acc, "errors": 0, "ece": 0.1, "nll": 0.5, "agreement": 1.0,
            "val_accuracy": acc, "latency_b1_ms": lat1, "latency_large_ms": latl}


def _doc():
    per_seed = []
    for seed, bump in ((0, 0.0), (1, 0.02)):
        per_seed.append({
            "seed": seed,
            "models": {"teacher": _model(1000, 0.90 + bump, 2.0, 40.0),
                       "ensemble": _model(3000, 0.92 + bump, 6.0, 120.0),
                       "small net": _model(100, 0.80 + bump, 1.0, 4.0),
                       "distilled": _model(100, 0.10, 9.0, 9.0)},  # alpha=max, not the chosen one
            "students": {"alpha=0.0": {"family": "alpha", "value": 0.0, "accuracy": 0.8, "val_accuracy": 0.8},
                         "alpha=0.5": {"family": "alpha", "value": 0.5, "accuracy": 0.99, "val_accuracy": 0.7},
                         "alpha=1.0": {"family": "alpha", "value": 1.0, "accuracy": 0.85 + bump,
                                       "val_accuracy": 0.86}},
            "member_accuracy": [0.88, 0.89],
        })
    return StoredResult({"per_seed": per_seed}, {}, {}, None, True)


def test_model_table_means_and_spreads():
    m = ch08.model_table(_doc())
    assert list(m.index) == ["teacher", "ensemble", "small net", "distilled"]
    assert m.loc["teacher", "accuracy"] == pytest.approx(0.91)
    assert m.loc["teacher", "accuracy_std"] == pytest.approx(pd.Series([0.90, 0.92]).std())


def test_headline_numbers():
    h = ch08.headline(_doc())
    assert h["size_ratio"] == pytest.approx(10.0)
    assert h["speedup_b1"] == pytest.approx(2.0) and h["speedup_large"] == pytest.approx(10.0)
    # the distilled row is the validation-chosen alpha (1.0 here): accuracies 0.85 and 0.87
    assert h["best_alpha"] == 1.0
    assert h["gap_closed"] == pytest.approx((0.19 - 0.14) / (0.19 - 0.09))
    assert h["accuracy_retained"] == pytest.approx(0.86 / 0.91)


def test_student_table_groups_by_value():
    a = ch08.student_table(_doc(), "alpha")
    assert a.loc[1.0, "accuracy"] == pytest.approx(0.86) and a.loc[0.0, "accuracy_std"] == 0.0
