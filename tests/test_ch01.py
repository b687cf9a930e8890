"""Chapter 1's analyses on small synthetic logits with known answers."""

import numpy as np
import pytest
import torch

from kdbook import ConfigError
from kdbook.experiments import ch01_soft_targets as ch01


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    teacher = 4 * torch.randn(32, 10, generator=g, dtype=torch.float64)
    student = torch.randn(32, 10, generator=g, dtype=torch.float64)
    return teacher, student


def test_softmax_table_columns_sum_to_one_and_flatten(logits):
    t, _ = logits
    table = ch01.softmax_table(t[0], [1, 4, 20], [str(i) for i in range(10)])
    assert np.allclose(table.sum(axis=0), 1.0)
    assert table["T=20"].max() < table["T=4"].max() < table["T=1"].max()


def test_entropy_rises_with_temperature_towards_log_classes(logits):
    t, _ = logits
    ent = ch01.entropy_curve(t, [1, 2, 5, 10, 100, 1e4])
    assert np.all(np.diff(ent) > 0) and ent[-1] == pytest.approx(np.log(10), abs=1e-3)


def test_autograd_check_is_exact(logits):
    t, s = logits
    assert ch01.autograd_check(s, t, [1, 3, 30])["max_abs_diff"].max() < 1e-12


def test_gradient_norm_slopes(logits):
    t, s = logits
    Ts = np.array([10, 20, 50, 100, 200.0])
    norms = ch01.gradient_norms(s, t, Ts)
    assert ch01.loglog_slope(Ts, norms["without_T2"]) == pytest.approx(-2.0, abs=0.05)
    assert abs(ch01.loglog_slope(Ts, norms["with_T2"])) < 0.05


def test_high_temperature_gap_shrinks_like_one_over_T(logits):
    t, s = logits
    Ts = np.array([20, 50, 100, 200, 500.0])
    lim = ch01.high_temperature_limit(s, t, Ts)
    assert ch01.loglog_slope(Ts, lim["grad_rel_error"]) == pytest.approx(-1.0, abs=0.1)
    assert lim["loss_ratio"].iloc[-1] == pytest.approx(1.0, abs=0.01)


def test_reduction_pitfall_ratio_is_number_of_classes(logits):
    t, s = logits
    pit = ch01.reduction_pitfall(s, t, 4.0)
    assert pit["ratio"] == pytest.approx(10.0) and pit["ours"] == pytest.approx(pit["batchmean"])


def test_pick_confident_example():
    t = torch.tensor([[1.0, 0.0], [10.0, 0.0], [20.0, 0.0]], dtype=torch.float64)
    assert ch01.pick_confident_example(t, 0.99) == 2 - 1  # first above 0.99 is index 1
    assert ch01.pick_confident_example(t, 0.999999999999) == 2


def test_unknown_profile():
    with pytest.raises(ConfigError, match="profile must be one of smoke, full, paper"):
        ch01.settings("fast")


def test_crossing_temperature_interpolates_in_log_log():
    Ts = np.array([1.0, 10.0, 100.0])
    gaps = np.array([1.0, 0.1, 0.01])  # gap = 1/T
    assert ch01.crossing_temperature(Ts, gaps, 0.1) == pytest.approx(10.0)
    assert ch01.crossing_temperature(Ts, gaps, np.sqrt(0.1) * 0.1) == pytest.approx(10 ** 1.5)
    assert ch01.crossing_temperature(Ts, gaps, 1e-4) == float("inf")
