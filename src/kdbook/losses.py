"""Distillation losses as small functions of logits.

Conventions used throughout the book:

* every loss is averaged over the batch (``batchmean``), summed over classes;
* a teacher is given by logits; an ensemble's or any probabilistic teacher's output is given
  as log-probabilities (:func:`probs_to_logits`), which are valid logits, so that tempering
  them gives ``p ** (1/T)`` renormalised;
* ``kd_loss`` multiplies the soft term by ``T**2`` so that its gradients keep their size
  as ``T`` changes (Hinton et al., 2015).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from . import validate as v

_TINY = torch.finfo(torch.float32).tiny


def soften(logits: torch.Tensor, T: float = 1.0) -> torch.Tensor:
    """Softmax of ``logits / T`` over the last dimension."""
    return F.softmax(logits / T, dim=-1)


def probs_to_logits(probs: torch.Tensor) -> torch.Tensor:
    """Log-probabilities, usable wherever teacher logits are expected (zeros become very negative)."""
    return probs.clamp_min(_TINY).log()


def soft_cross_entropy(student_logits: torch.Tensor, target_probs: torch.Tensor, T: float = 1.0) -> torch.Tensor:
    """Cross-entropy -sum_i p_i log q_i with q = softmax(z / T), averaged over the batch."""
    log_q = F.log_softmax(student_logits / T, dim=-1)
    return -(target_probs * log_q).sum(-1).mean()


def kl_divergence(student_logits: torch.Tensor, target_probs: torch.Tensor, T: float = 1.0) -> torch.Tensor:
    """KL(p || q) with q = softmax(z / T), summed over classes and averaged over the batch.

    Equals :func:`soft_cross_entropy` minus the entropy of ``p``: the same gradient, but zero when
    the student matches the targets. ``0 log 0`` is taken as 0.
    """
    log_q = F.log_softmax(student_logits / T, dim=-1)
    return (torch.xlogy(target_probs, target_probs) - target_probs * log_q).sum(-1).mean()


def logit_matching_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Squared error between zero-mean logits, (1 / 2C) sum_i (z_i - v_i)^2, averaged over the batch.

    This is the high-temperature limit of ``T**2 * KL`` (Hinton et al., 2015, section 2.1).
    """
    zc = student_logits - student_logits.mean(-1, keepdim=True)
    vc = teacher_logits - teacher_logits.mean(-1, keepdim=True)
    return 0.5 * (zc - vc).pow(2).mean(-1).mean()


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float = 4.0, *,
            labels: torch.Tensor | None = None, alpha: float = 1.0, scale_T2: bool = True,
            teacher_is_probs: bool = False) -> torch.Tensor:
    """Knowledge-distillation loss: ``alpha * T^2 * KL(p_T || q_T) + (1 - alpha) * CE(labels)``.

    ``teacher_logits`` may be probabilities if ``teacher_is_probs``; they are then tempered as
    ``p ** (1/T)``. ``alpha`` is the weight of the soft term; ``alpha < 1`` requires ``labels``.
    """
    v.raise_if([v.positive("T", T), v.unit_interval("alpha", alpha),
                "labels are required when alpha < 1" if alpha < 1 and labels is None else None], "kd_loss")
    if teacher_is_probs:
        teacher_logits = probs_to_logits(teacher_logits)
    soft = kl_divergence(student_logits, soften(teacher_logits, T), T)
    if scale_T2:
        soft = soft * T * T
    if alpha == 1.0:
        return soft
    hard = F.cross_entropy(student_logits, labels)
    return alpha * soft + (1.0 - alpha) * hard


# ----------------------------------------------------------------------------- soft-loss table
SoftLoss = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]


def _kl_T2(z: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    return kl_divergence(z, soften(teacher_logits, T), T) * T * T


def _ce_T2(z: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    return soft_cross_entropy(z, soften(teacher_logits, T), T) * T * T


def _logit_mse(z: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    return logit_matching_loss(z, teacher_logits)


#: Soft terms selectable by name in a distillation config (each takes z, teacher logits, T).
SOFT_LOSSES: dict[str, SoftLoss] = {
    "kl": _kl_T2,
    "soft_ce": _ce_T2,
    "logit_mse": _logit_mse,
}


# ----------------------------------------------------------------------------- ensembles
def _arithmetic(member_probs: torch.Tensor) -> torch.Tensor:
    return member_probs.mean(0)


def _geometric(member_probs: torch.Tensor) -> torch.Tensor:
    return F.softmax(probs_to_logits(member_probs).mean(0), dim=-1)


COMBINERS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "arithmetic": _arithmetic,
    "geometric": _geometric,
}


def combine_probs(member_probs: torch.Tensor, method: str = "arithmetic") -> torch.Tensor:
    """Combine members' probabilities (M, B, C) into (B, C): arithmetic or (renormalised) geometric mean."""
    v.raise_if([v.choice("method", method, sorted(COMBINERS))], "combine_probs")
    return COMBINERS[method](member_probs)
