import math

import pytest
import torch

from kdbook import metrics

# Four examples, three classes; predictions: 0 (right), 1 (wrong), 2 (right), 0 (wrong).
P = torch.tensor([
    [0.7, 0.2, 0.1],
    [0.3, 0.6, 0.1],
    [0.05, 0.05, 0.9],
    [0.4, 0.35, 0.25],
])
Y = torch.tensor([0, 0, 2, 1])


def test_accuracy_errors_per_class():
    assert metrics.accuracy(P, Y) == pytest.approx(0.5)
    assert metrics.error_count(P, Y) == 2
    assert metrics.per_class_errors(P, Y, 3) == [1, 1, 0]


def test_nll_worked_example():
    per = metrics.nll_per_example(P, Y)
    expected = [-math.log(0.7), -math.log(0.3), -math.log(0.9), -math.log(0.35)]
    assert per.tolist() == pytest.approx(expected)
    assert metrics.nll(P, Y) == pytest.approx(sum(expected) / 4)


def test_brier_worked_example():
    expected = ((0.3**2 + 0.2**2 + 0.1**2) + (0.7**2 + 0.6**2 + 0.1**2)
                + (0.05**2 + 0.05**2 + 0.1**2) + (0.4**2 + 0.65**2 + 0.25**2)) / 4
    assert metrics.brier(P, Y) == pytest.approx(expected)


def test_ece_worked_example():
    # confidences 0.7, 0.6, 0.9, 0.4 fall in bins (0.6,0.7], (0.5,0.6], (0.8,0.9], (0.3,0.4];
    # each bin holds one example: |acc - conf| = 0.3, 0.6, 0.1, 0.4, weights 1/4 each.
    assert metrics.ece(P, Y) == pytest.approx((0.3 + 0.6 + 0.1 + 0.4) / 4)
    # two examples sharing a bin: (0.65 and 0.62 -> bin (0.6, 0.7]), one right one wrong
    p2 = torch.tensor([[0.65, 0.35], [0.62, 0.38]])
    y2 = torch.tensor([0, 1])
    assert metrics.ece(p2, y2) == pytest.approx(abs(0.5 - (0.65 + 0.62) / 2))


def test_ece_perfectly_calibrated_is_zero():
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert metrics.ece(p, torch.tensor([0, 1])) == pytest.approx(0.0)


def test_agreement_and_kl():
    q = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.1, 0.8, 0.1]])
    assert metrics.agreement(P, q) == pytest.approx(0.75)
    assert metrics.kl_teacher_student(P, P) == pytest.approx(0.0, abs=1e-7)
    kl0 = sum(P[0, c].item() * math.log(P[0, c].item() / q[0, c].item()) for c in range(3))
    assert metrics.kl_teacher_student(P[:1], q[:1]) == pytest.approx(kl0, rel=1e-5)
    assert metrics.kl_teacher_student(P, q) > 0
