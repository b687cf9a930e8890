"""Chapters 2 and 3: the bias-shift analysis on worked examples, subsets, early stopping, tables, claims."""

import dataclasses
from pathlib import Path

import pytest
import torch

from kdbook.data import Split
from kdbook.errors import ConfigError
from kdbook.experiments import ch02_big_to_small as ch02
from kdbook.experiments import ch03_unseen_class as ch03
from kdbook.reports import ch02_big_to_small as report2
from kdbook.reports import ch03_unseen_class as report3
from kdbook.models import ModelConfig, build_model
from kdbook.store import StoredResult, fit_or_load
from kdbook.losses import DistillConfig
from kdbook.train import TrainConfig, train


def test_shift_curve_counts_errors_by_hand():
    # three examples, three classes; class 2 is under-predicted by a margin of 1 and 3
    logits = torch.tensor([[2.0, 0.0, 1.0],   # label 2: wrong until shift > 1
                           [0.0, 3.0, 0.0],   # label 2: wrong until shift > 3
                           [5.0, 0.0, 0.0]])  # label 0: becomes wrong when shift > 5
    labels = torch.tensor([2, 2, 0])
    curve = ch03.shift_curve(logits, labels, [2], [0.0, 1.5, 3.5, 6.0])
    assert curve["errors"] == [2, 1, 0, 1]
    assert curve["focus_errors"] == [2, 1, 0, 0]


def test_shift_bias_moves_only_the_given_columns():
    z = torch.zeros(2, 4)
    out = ch03.shift_bias(z, (1, 3), -2.0)
    assert out[:, [1, 3]].eq(-2).all() and out[:, [0, 2]].eq(0).all() and z.eq(0).all()


def test_choose_shift_prefers_fewest_errors_then_smallest_size():
    assert ch03.choose_shift([5, 3, 3, 4], [0.0, 1.0, 2.0, 3.0]) == 1.0
    assert ch03.choose_shift([3, 9, 3], [-2.0, -1.0, 0.0]) == 0.0


def test_small_subset_is_seeded_sorted_and_sized():
    a, b = ch02.small_subset(1000, 0.03, seed=1), ch02.small_subset(1000, 0.03, seed=1)
    assert torch.equal(a, b) and len(a) == 30 and torch.all(a[1:] > a[:-1])
    assert not torch.equal(a, ch02.small_subset(1000, 0.03, seed=2))
    assert len(ch02.small_subset(10, 0.001, seed=0)) == 1


def test_weighting_labels():
    assert ch02.weighting_label(DistillConfig(T=20, alpha=1.0)) == "soft only"
    assert ch02.weighting_label(DistillConfig(T=20, alpha=0.9, scale_T2=False)) == "soft + 0.1 hard, no T²"


def test_settings_reject_bad_values():
    good = ch02.SETTINGS["smoke"]
    with pytest.raises(ConfigError, match="same size"):  # equal tuning budgets
        ch02.Settings(**{**good.__dict__, "label_grid": good.label_grid[:-1]})
    with pytest.raises(ConfigError, match="patience must be >= 1"):
        ch02.Settings(**{**good.__dict__, "patience": 0.5})
    with pytest.raises(ConfigError, match="consistency_regime must index"):
        ch02.Settings(**{**good.__dict__, "consistency_regime": 5})
    with pytest.raises(ConfigError, match="T"):
        ch03.Settings(**{**ch03.SETTINGS["smoke"].__dict__, "T": 0.0})


def _toy(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 2, 2, generator=g)
    y = (x.flatten(1).sum(1) > 0).long()
    return Split(x, y)


def test_early_stopping_keeps_the_best_validation_epoch():
    data, val = _toy(200), _toy(200, seed=1)
    model = build_model(ModelConfig("mlp", (16,)), (1, 2, 2), 2, seed=0)
    h = train(model, data, TrainConfig(epochs=6, batch_size=20, lr=0.5, early_stopping=True), val=val, progress=False)
    accs = [e["val_accuracy"] for e in h.epochs]
    assert h.best_epoch == 1 + max(range(len(accs)), key=lambda i: (accs[i], -i))
    final = (model(val.x).argmax(-1) == val.y).float().mean().item()
    assert final == pytest.approx(max(accs))


def test_early_stopping_without_validation_is_an_error():
    model = build_model(ModelConfig("mlp", (4,)), (1, 2, 2), 2, seed=0)
    with pytest.raises(ConfigError, match="validation"):
        train(model, _toy(20), TrainConfig(epochs=1, early_stopping=True), progress=False)


def test_fit_or_load_keeps_the_history_with_the_model(tmp_path):
    data, val = _toy(100), _toy(100, seed=1)

    def fit(m):
        return train(m, data, TrainConfig(epochs=2, batch_size=50), val=val, progress=False)

    def build():
        return build_model(ModelConfig("mlp", (4,)), (1, 2, 2), 2, seed=0)

    _, cached, meta = fit_or_load("toy", {"k": 1}, build, fit, root=tmp_path)
    _, cached2, meta2 = fit_or_load("toy", {"k": 1}, build, fit, root=tmp_path)
    assert not cached and cached2
    assert len(meta2["history"]["epochs"]) == 2 and meta2["history"] == meta["history"]


def _main_doc():
    rows = []
    regimes = {"all": [(60, 150, 80, 140), (70, 140, 76, 138), (65, 146, 72, 142)],  # teacher clearly better
               "few": [(100, 101, 99, 100), (102, 99, 103, 101), (98, 100, 101, 99)]}  # no teacher advantage
    for regime, per_seed in regimes.items():
        for seed, errors in enumerate(per_seed):
            common = {"regime": regime, "train_size": 100, "seed": seed, "nll": 0.1, "ece": 0.01,
                      "val_accuracy": 0.9, "train_accuracy": 1.0}
            rows += [{**common, "model": m, "errors": e, "accuracy": 1 - e / 1e4}
                     for m, e in zip(("teacher", "small net", "distilled", "label smoothing"), errors)]
    return StoredResult({"rows": rows, "regimes": list(regimes)}, {}, {}, None, True)


def test_main_table_per_regime():
    m = report2.main_table(_main_doc())  # the first regime by default
    assert m.loc["small net", "errors"] == pytest.approx(145.33333)
    assert m.loc["teacher", "errors_std"] == pytest.approx(5.0)
    assert report2.main_table(_main_doc(), "few").loc["teacher", "errors"] == pytest.approx(100.0)
    per_seed = report2.per_seed_errors(_main_doc())
    assert list(per_seed.columns) == ["teacher", "small net", "distilled", "label smoothing"]
    assert per_seed.loc[2, "distilled"] == 72


def test_regime_headline_gap_closed_only_when_the_teacher_is_better():
    h = report2.regime_headline(_main_doc(), "all")
    # errors: teacher 65, small 145.33, distilled 76 -> (145.33 - 76) / (145.33 - 65)
    assert h["gap_closed"] == pytest.approx((145.3333 - 76) / (145.3333 - 65), rel=1e-4)
    assert h["teacher_better"] and h["distilled_better_every_seed"]
    assert h["distilled_vs_small"] == "fewer errors than"
    few = report2.regime_headline(_main_doc(), "few")
    assert not few["teacher_better"] and few["distilled_vs_small"] == "about as many errors as"


def test_before_after_uses_the_validation_choice():
    doc = {"shifts": [0.0, 1.0, 2.0], "classes": [3], "class_names": list("abcdefghij"), "test_size": 100,
           "rows": [{"seed": 0, "model": "distilled", "count_test": 10, "chosen_shift": 1.0,
                     "val": {"errors": [9, 4, 6], "focus_errors": [8, 2, 0]},
                     "test": {"errors": [10, 6, 5], "focus_errors": [9, 3, 0]}}]}
    ba = report3.before_after(StoredResult(doc, {}, {}, None, True))
    row = ba.iloc[0]
    assert (row["errors before"], row["errors after"], row["class errors before"], row["class errors after"]) == (10, 6, 9, 3)
    assert report3.oracle_shift(StoredResult(doc, {}, {}, None, True)) == 2.0


def _claim(module, cid):
    return next(c for c in module.CLAIMS if c.id == cid)


def test_the_required_ch02_claims_on_a_worked_example():
    results = {"main": _main_doc()}  # "all" is the full-data regime, "few" the smallest
    assert _claim(report2, "ch02.teacher_beats_labels_full_data").evaluate(results).holds
    full = _claim(report2, "ch02.distilled_beats_labels_full_data").evaluate(results)
    assert full.holds and full.numbers["distilled_errors"] == pytest.approx(76.0)
    few = _claim(report2, "ch02.distilled_beats_labels_10pct").evaluate(results)
    assert not few.holds and few.sentence().startswith("With a tenth of the images the distilled net does not")


def test_gap_shares_per_seed_and_most_of_the_gap_by_the_cautious_rule():
    shares = report2.gap_shares(_main_doc(), "all")
    assert shares == pytest.approx([70 / 90, 64 / 70, 74 / 81])
    outcome = _claim(report2, "ch02.distillation_removes_most_excess_errors_10pct").evaluate({"main": _main_doc()})
    assert not outcome.holds  # in "few" the teacher is no better: no share to speak of


def test_a_regime_sentence_never_says_the_teacher_was_better_when_it_was_not():
    text = report2.regime_sentence(_main_doc(), "few")
    assert "no clear teacher advantage" in text and "removes" not in text
    text = report2.regime_sentence(_main_doc(), "all")
    assert "removes 86% of the small net's excess errors" in text
    assert "fewer errors than the small net and fewer errors than the label-smoothing control" in text


def test_no_T2_learning_rate_sentence():
    text = report2.no_T2_learning_rate_sentence(0.1, 0.01, 0.05)
    assert "a learning rate of 0.001, 50 times below the 0.05" in text


def _curves_doc(last_fifth_gain: float):
    """Two seeds of one student whose validation accuracy rises by ``last_fifth_gain`` over its last
    two of ten epochs (the last fifth)."""
    curve = [0.5, 0.6, 0.7, 0.8, 0.85, 0.86, 0.87, 0.88, 0.88, 0.88 + last_fifth_gain]
    curves = [{"regime": "all", "seed": s, "model": "distilled", "val_accuracy": [v + 0.001 * s for v in curve]}
              for s in (0, 1)]
    return StoredResult({"regimes": ["all"], "curves": curves}, {}, {}, None, True)


def test_late_gains_read_the_last_fifth_of_each_curve():
    gains = report2.late_gains(_curves_doc(0.01))
    assert gains.loc["distilled", "gain"] == pytest.approx(1.0)  # epochs 8 -> 10, in points
    claim = _claim(report2, "ch02.students_had_ended")
    assert not claim.evaluate({"main": _curves_doc(0.01)}).holds  # still rising on both seeds
    assert claim.evaluate({"main": _curves_doc(0.0)}).holds


def _consistency_doc(consistent, fixed):
    rows = [{"run": run, "seed": s, "errors": e + s, "accuracy": 0.9, "val_accuracy": 0.9}
            for s in (0, 1) for run, e in (("distilled, jitter, consistent teacher", consistent),
                                           ("distilled, jitter, fixed teacher", fixed), ("labels, jitter", 120))]
    return StoredResult({"rows": rows, "px": 1}, {}, {}, None, True)


def test_consistency_claim_and_sentence():
    claim = _claim(report2, "ch02.consistent_beats_fixed")
    assert claim.evaluate({"consistency": _consistency_doc(100, 110)}).holds
    assert not claim.evaluate({"consistency": _consistency_doc(100, 101)}).holds  # within the spread
    text = report2.consistency_sentence(_consistency_doc(100, 110))
    assert "up to 1 pixel," in text and "fewer errors than the fixed one" in text


def test_teacher_report_sentence_says_when_there_is_no_advantage():
    base = {"seeds": 3, "train_accuracy": 0.99, "val_accuracy": 0.9, "val_advantage_std": 0.001,
            "student_val_accuracy": 0.899, "test_accuracy": 0.9}
    doc = {"regimes": ["all"], "teacher_reports": {"all": {**base, "val_advantage": 0.001, "has_advantage": False}}}
    text = report2.teacher_sentence(StoredResult(doc, {}, {}, None, True), "all")
    assert "fits 99.0% of its training images" in text and "not a clear advantage" in text


def _omitted_doc():
    """Two seeds; shifts 0, 1, 2; the distilled student's total errors fall then rise, the control's only fall."""
    def row(seed, model, chosen, total, focus):
        return {"seed": seed, "model": model, "count_test": 100, "chosen_shift": chosen, "transfer_size": 900,
                "val": {"errors": total, "focus_errors": focus}, "test": {"errors": total, "focus_errors": focus}}
    rows = []
    for seed, wiggle in ((0, 0), (1, 2)):
        rows += [row(seed, "distilled", 1.0, [300 + wiggle, 200, 400], [30 + wiggle, 10, 0]),
                 row(seed, "labels only", 2.0, [400 + wiggle, 380, 360], [100, 90, 80 + wiggle]),
                 row(seed, "teacher", 0.0, [150 + wiggle, 170, 300], [8 + wiggle, 2, 0])]
    doc = {"shifts": [0.0, 1.0, 2.0], "classes": [3], "class_names": list("abcdefghij"), "test_size": 1000,
           "rows": rows}
    return StoredResult(value=doc, provenance={}, config={}, path=Path("x"), cached=True)


def test_ch03_claims_on_a_worked_example():
    results = {"omitted": _omitted_doc()}
    outcomes = {cid: _claim(report3, cid).evaluate(results) for cid in (
        "ch03.distilled_recognises_omitted_class", "ch03.knowledge_comes_from_soft_targets",
        "ch03.total_errors_fall_then_rise", "ch03.shift_removes_most_excess_class_errors")}
    assert all(o.holds for o in outcomes.values()), {k: o.numbers for k, o in outcomes.items()}
    assert outcomes["ch03.total_errors_fall_then_rise"].numbers["at_shift"] == 1.0
    # excess over the teacher: seed 0 30 - 8 = 22, of which 20 removed; seed 1 32 - 10 = 22, of which 22
    assert report3.excess_shares(_omitted_doc(), "class errors") == pytest.approx([20 / 22, 22 / 22])


def _map_doc():
    """Two sizes, two budgets, two seeds: distillation saves 10 +- 1 errors on the small set at both
    budgets and nothing on the large one."""
    rows = []
    for size, n, saved in (("small", 100, 10), ("large", 1000, 0)):
        for budget in (1.0, 3.0):
            for seed in (0, 1):
                labels = 200 + seed
                rows += [{"size": size, "train_size": n, "budget": budget, "seed": seed, "method": "labels",
                          "errors": labels},
                         {"size": size, "train_size": n, "budget": budget, "seed": seed, "method": "distilled",
                          "errors": labels - saved + (seed if saved else 0)}]
    return StoredResult({"sizes": ["small", "large"], "budgets": [1.0, 3.0], "rows": rows}, {}, {}, None, True)


def test_the_map_pairs_seeds_and_says_where_distillation_helps():
    t = report2.map_table(_map_doc())
    assert list(t["size"]) == ["small", "small", "large", "large"]
    assert t.loc[0, "difference"] == pytest.approx(-9.5) and t.loc[0, "difference_std"] == pytest.approx(0.70711, rel=1e-4)
    assert "clearly helps with small at 1x and small at 3x, and nowhere clearly hurts" in report2.map_sentence(_map_doc())
    outcomes = {c.id: c.evaluate({"map": _map_doc()}) for c in report2.MAP_CLAIMS}
    assert outcomes["ch02.map_helps_somewhere"].holds
    assert outcomes["ch02.map_gain_larger_with_less_data"].holds
    assert not outcomes["ch02.map_longer_budget_helps_largest"].holds
    assert report2.map_display_table(_map_doc()).loc["large", "3x the epochs"] == "+0.0 ± 0.0 (no clear effect)"


def test_the_map_reads_a_size_run_at_one_budget_only():
    """A third, largest size run at 1x only: the longer budget is judged where both ran, and the
    missing cell reads 'not run'."""
    doc = _map_doc()
    rows = list(doc.value["rows"]) + [
        {"size": "all", "train_size": 5000, "budget": 1.0, "seed": seed, "method": method, "errors": 100 + seed}
        for seed in (0, 1) for method in ("labels", "distilled")]
    doc = StoredResult({**doc.value, "sizes": ["small", "large", "all"], "rows": rows}, {}, {}, None, True)
    assert report2.map_display_table(doc).loc["all", "3x the epochs"] == "not run"
    out = {c.id: c.evaluate({"map": doc}) for c in report2.MAP_CLAIMS}
    assert out["ch02.map_longer_budget_helps_largest"].numbers["train_size"] == 1000
    assert out["ch02.map_gain_larger_with_less_data"].numbers["budget_1x_largest"] == 0.0  # 'all' at 1x
    assert out["ch02.map_gain_larger_with_less_data"].numbers["budget_3x_largest"] == 0.0  # 'large' at 3x


def test_a_regime_keeps_its_models_whatever_its_map_budgets():
    r = ch02.SETTINGS["full"].regimes[0]
    assert ch02.SETTINGS["full"].map_sizes[-1].same_runs(r) and ch02.SETTINGS["full"].map_sizes[-1] != r
    with pytest.raises(ConfigError, match="map_budgets must be >= 1"):
        dataclasses.replace(ch02.SETTINGS["smoke"], map_sizes=(ch02.Regime("x", 100, map_budgets=(0.5,)),))


def test_prior_matching_shift_uses_no_labels():
    # 4 examples, 4 classes; class 3 is never predicted until its logit rises by more than 1 on
    # example 0 (margin 1) and 2 on example 1: a share of 1/4 (its prior) needs a shift in (1, 2]
    logits = torch.tensor([[2.0, 0.0, 0.0, 1.0], [0.0, 3.0, 0.0, 1.0], [0.0, 0.0, 5.0, 0.0], [4.0, 0.0, 0.0, 0.0]])
    assert ch03.prior_matching_shift(logits, (3,), [0.0, 0.5, 1.5, 2.5, 5.0], 4) == 1.5


def test_confusion_counts_true_rows_predicted_columns():
    logits = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert ch03.confusion(logits, torch.tensor([0, 1, 1]), 2) == [[1, 0], [1, 1]]


def test_collapsed_sweep_cells_are_named_and_explained():
    rows = [{"width": w, "T": T, "seed": 0, "errors": e, "val_accuracy": 0.5}
            for w, T, e in ((30, None, 1700), (30, 4.0, 1650), (30, 20.0, 9000), (800, None, 1500), (800, 20.0, 1550))]
    doc = StoredResult({"rows": rows, "lr": 0.05}, {}, {}, None, True)
    assert report2.collapsed(doc, 10_000) == [(30, 20.0)]
    text = report2.collapse_sentence(doc, 10_000)
    assert "the 30-unit student at T = 20" in text and "one learning rate (0.05)" in text
    rows[2]["errors"] = 1700
    assert report2.collapse_sentence(StoredResult({"rows": rows}, {}, {}, None, True), 10_000) == ""


def test_a_diverged_weighting_is_shown_and_never_chosen():
    nan = float("nan")
    rows = []
    for seed in (0, 1):
        rows += [{"weighting": "soft only", "alpha": 1.0, "scale_T2": True, "seed": seed, "diverged": True,
                  "errors": nan, "accuracy": nan, "val_accuracy": nan},
                 {"weighting": "soft + 0.5 hard", "alpha": 0.5, "scale_T2": True, "seed": seed, "diverged": False,
                  "errors": 100 + seed, "accuracy": 0.9, "val_accuracy": 0.9},
                 {"weighting": "soft + 0.1 hard", "alpha": 0.9, "scale_T2": True, "seed": seed, "diverged": seed == 1,
                  "errors": 90 if seed == 0 else nan, "accuracy": 0.95 if seed == 0 else nan,
                  "val_accuracy": 0.95 if seed == 0 else nan}]
    doc = StoredResult({"rows": rows}, {}, {}, None, True)
    shown = report2.weighting_display_table(doc)
    assert shown.loc["soft only", "test errors"] == "diverged" and shown.loc["soft + 0.1 hard", "seeds that diverged"] == "1"
    assert report2.best_weighting(doc)["weighting"] == "soft + 0.5 hard"  # the better mean had a diverged seed


def test_the_map_sentence_says_so_when_every_cell_helps():
    rows = [{**r, "errors": r["errors"] - (20 + r["seed"] if r["method"] == "distilled" and r["size"] == "large" else 0)}
            for r in _map_doc().value["rows"]]
    doc = StoredResult({**_map_doc().value, "rows": rows}, {}, {}, None, True)
    assert report2.map_sentence(doc).endswith("clearly helps in all 4 cells of the map, and nowhere clearly hurts.")
