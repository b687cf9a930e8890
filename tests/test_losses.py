import math

import pytest
import torch
import torch.nn.functional as F

from kdbook import ConfigError
from kdbook.losses import (combine_probs, kd_loss, kl_divergence, logit_matching_loss, probs_to_logits,
                           soft_cross_entropy, soften)



@pytest.fixture(autouse=True)
def _double_precision():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def test_soften_hand_values():
    z = torch.tensor([[math.log(3.0), 0.0]])
    assert torch.allclose(soften(z, 1.0), torch.tensor([[0.75, 0.25]]))
    # T = 2 takes the square root of the odds: 3 -> sqrt(3)
    q = soften(z, 2.0)
    assert q[0, 0] / q[0, 1] == pytest.approx(math.sqrt(3.0))


def test_soft_cross_entropy_and_kl_hand_values():
    z = torch.tensor([[0.0, 0.0]])
    p = torch.tensor([[0.75, 0.25]])
    assert soft_cross_entropy(z, p).item() == pytest.approx(math.log(2.0))
    expected_kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert kl_divergence(z, p).item() == pytest.approx(expected_kl)
    # KL = CE - H(p)
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert kl_divergence(z, p).item() == pytest.approx(soft_cross_entropy(z, p).item() - h)


def test_kl_with_zero_target_probability_is_finite():
    z = torch.tensor([[1.0, 0.0, -1.0]])
    p = torch.tensor([[1.0, 0.0, 0.0]])
    assert kl_divergence(z, p).item() == pytest.approx(-F.log_softmax(z, -1)[0, 0].item())


def test_kd_loss_hand_value_with_hard_term():
    z = torch.tensor([[0.0, 0.0]])
    v = torch.tensor([[2 * math.log(3.0), 0.0]])  # at T = 2 the teacher gives (0.75, 0.25)
    y = torch.tensor([1])
    T, alpha = 2.0, 0.8
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    expected = alpha * T * T * kl + (1 - alpha) * math.log(2.0)
    assert kd_loss(z, v, T, labels=y, alpha=alpha).item() == pytest.approx(expected)
    assert kd_loss(z, v, T, scale_T2=False).item() == pytest.approx(kl)


def test_kd_loss_is_batchmean_not_mean():
    torch.manual_seed(0)
    z, v = torch.randn(8, 10), torch.randn(8, 10)
    T = 3.0
    ours = kd_loss(z, v, T)
    batchmean = F.kl_div(F.log_softmax(z / T, -1), F.softmax(v / T, -1), reduction="batchmean") * T * T
    assert ours.item() == pytest.approx(batchmean.item())
    with pytest.warns(UserWarning):
        mean = F.kl_div(F.log_softmax(z / T, -1), F.softmax(v / T, -1), reduction="mean") * T * T
    assert ours.item() == pytest.approx(10 * mean.item())  # 'mean' is C times too small


def test_gradient_equals_q_minus_p_over_T():
    torch.manual_seed(1)
    z, v = torch.randn(5, 7, requires_grad=True), torch.randn(5, 7)
    for T in (0.5, 1.0, 4.0, 20.0):
        p = soften(v, T)
        (g,) = torch.autograd.grad(soft_cross_entropy(z, p, T) * z.shape[0], z)
        assert torch.allclose(g, (soften(z, T) - p) / T, atol=1e-12)


def _soft_grad_norm(z, v, T, scale):
    z = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(kd_loss(z, v, T, scale_T2=scale), z)
    return g.norm().item()


def test_T_squared_keeps_gradient_norms_comparable():
    torch.manual_seed(2)
    z, v = torch.randn(16, 10), 3 * torch.randn(16, 10)
    scaled = [_soft_grad_norm(z, v, T, True) for T in (2.0, 5.0, 20.0, 50.0)]
    plain = [_soft_grad_norm(z, v, T, False) for T in (2.0, 5.0, 20.0, 50.0)]
    assert max(scaled) / min(scaled) < 2.0
    assert plain[0] / plain[-1] > 100.0
    # the unscaled norm falls like 1/T^2 at high T
    assert plain[2] / plain[3] == pytest.approx((50 / 20) ** 2, rel=0.05)


def test_high_temperature_limit_is_logit_matching():
    torch.manual_seed(3)
    z, v = torch.randn(6, 10), torch.randn(6, 10) + 5.0  # a constant shift must not matter
    zz = z.clone().requires_grad_(True)
    (g_mse,) = torch.autograd.grad(logit_matching_loss(zz, v), zz)
    errors = []
    for T in (10.0, 100.0, 1000.0):
        zz = z.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(kd_loss(zz, v, T), zz)
        errors.append(((g - g_mse).norm() / g_mse.norm()).item())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3
    assert kd_loss(z, v, 1000.0).item() == pytest.approx(logit_matching_loss(z, v).item(), rel=1e-3)


def test_teacher_given_as_probabilities():
    torch.manual_seed(4)
    z, v = torch.randn(4, 5), torch.randn(4, 5)
    p = F.softmax(v, -1)
    assert kd_loss(z, p, 3.0, teacher_is_probs=True).item() == pytest.approx(kd_loss(z, v, 3.0).item())


def test_combine_probs_hand_values():
    probs = torch.tensor([[[0.9, 0.1]], [[0.5, 0.5]]])
    assert torch.allclose(combine_probs(probs, "arithmetic"), torch.tensor([[0.7, 0.3]]))
    g = torch.tensor([math.sqrt(0.45), math.sqrt(0.05)])
    assert torch.allclose(combine_probs(probs, "geometric"), (g / g.sum())[None])
    assert torch.allclose(soften(probs_to_logits(combine_probs(probs)), 1.0), torch.tensor([[0.7, 0.3]]))


@pytest.mark.parametrize("kwargs, message", [
    ({"T": 0.0}, "T must be a number > 0"),
    ({"T": -1.0}, "T must be a number > 0"),
    ({"alpha": 1.5}, "alpha must be a number in [0, 1]"),
    ({"alpha": 0.5}, "labels are required"),
])
def test_kd_loss_rejects_bad_parameters(kwargs, message):
    z = torch.zeros(2, 3)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        kd_loss(z, z, **kwargs)


def test_combine_probs_rejects_unknown_method():
    with pytest.raises(ConfigError, match="method must be one of"):
        combine_probs(torch.ones(2, 1, 3) / 3, "harmonic")
