"""Distillation losses as small functions of logits.

Conventions used throughout the book:

* every loss is averaged over the batch (``batchmean``), summed over classes;
* a teacher is given by logits; an ensemble's or any probabilistic teacher's output is given
  as log-probabilities (:func:`probs_to_logits`), which are valid logits, so that tempering
  them gives ``p ** (1/T)`` renormalised;
* ``kd_loss`` multiplies the soft term by ``T**2`` so that its gradients keep their size
  as ``T`` changes (Hinton et al., 2015); the soft terms themselves carry no T^2;
* the objectives the trainer minimises (:class:`LabelObjective`, :class:`DistillObjective`,
  :class:`HintObjective`) are small frozen configs that are also their loss; a distillation
  objective's terms are those of :func:`kd_loss`, so the tested formula is the trained one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from . import validate

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


#: Soft terms by name, each ``(student logits, teacher logits, T) -> loss``, *without* any T^2 factor.
SoftTerm = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
SOFT_LOSSES: dict[str, SoftTerm] = {
    "kl": lambda z, v, T: kl_divergence(z, soften(v, T), T),
    "soft_ce": lambda z, v, T: soft_cross_entropy(z, soften(v, T), T),
    "logit_mse": lambda z, v, T: logit_matching_loss(z, v),
}
#: The soft terms whose gradients shrink like 1/T^2, so that ``scale_T2`` multiplies them by T^2
#: (logit matching is already the high-temperature limit of T^2 KL and has no T).
TEMPERED = frozenset({"kl", "soft_ce"})


def kd_terms(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float, *,
             labels: torch.Tensor | None = None, alpha: float = 1.0, soft_loss: str = "kl",
             scale_T2: bool = True) -> dict[str, torch.Tensor]:
    """The two weighted terms of :func:`kd_loss`: {'soft': alpha * [T^2] * soft(T)} and, when
    alpha < 1, {'hard': (1 - alpha) * CE(labels)}. Unvalidated: the trainer's fast path."""
    soft = SOFT_LOSSES[soft_loss](student_logits, teacher_logits, T)
    if scale_T2 and soft_loss in TEMPERED:
        soft = soft * T * T
    terms = {"soft": soft if alpha == 1.0 else alpha * soft}
    if alpha < 1.0:
        terms["hard"] = (1.0 - alpha) * F.cross_entropy(student_logits, labels)
    return terms


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float = 4.0, *,
            labels: torch.Tensor | None = None, alpha: float = 1.0, soft_loss: str = "kl",
            scale_T2: bool = True, teacher_is_probs: bool = False) -> torch.Tensor:
    """Knowledge-distillation loss: ``alpha * T^2 * KL(p_T || q_T) + (1 - alpha) * CE(labels)``.

    This is exactly what the trainer minimises for a :class:`DistillObjective` (the sum of
    :func:`kd_terms`). ``soft_loss`` picks the soft term ('kl', 'soft_ce' or 'logit_mse');
    ``scale_T2=False`` drops the T^2 factor. ``teacher_logits`` may be probabilities if
    ``teacher_is_probs``; they are then tempered as ``p ** (1/T)``. ``alpha`` is the weight of the
    soft term; ``alpha < 1`` requires ``labels``.
    """
    validate.raise_if([validate.positive("T", T), validate.unit_interval("alpha", alpha),
                validate.choice("soft_loss", soft_loss, sorted(SOFT_LOSSES)),
                "labels are required when alpha < 1" if alpha < 1 and labels is None else None], "kd_loss")
    if teacher_is_probs:
        teacher_logits = probs_to_logits(teacher_logits)
    return sum(kd_terms(student_logits, teacher_logits, T, labels=labels, alpha=alpha, soft_loss=soft_loss,
                        scale_T2=scale_T2).values())


# ----------------------------------------------------------------------------- objectives
# An objective is a frozen config that is also the loss it configures: called on (student
# logits, labels, teacher logits or None) it returns its named terms, whose sum the trainer
# minimises and whose per-epoch means the history records. ``needs_teacher`` and
# ``uses_labels`` tell the trainer what a batch must carry.
Objective = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class LabelObjective:
    """Cross-entropy on the labels, optionally with label smoothing (the control for "is a soft
    target's gain just regularisation?")."""

    label_smoothing: float = 0.0

    needs_teacher: ClassVar[bool] = False
    uses_labels: ClassVar[bool] = True

    def __post_init__(self) -> None:
        validate.raise_if([validate.probability_open("label_smoothing", self.label_smoothing)], "labels")

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor | None = None
                 ) -> dict[str, torch.Tensor]:
        return {"ce": F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)}


@dataclass(frozen=True)
class DistillObjective:
    """Distillation, :func:`kd_loss` as named terms: ``alpha * [T^2] * soft(T) + (1 - alpha) * CE``.

    ``soft_loss`` is a key of :data:`SOFT_LOSSES`; 'kl' and 'soft_ce' carry the T^2 factor unless
    ``scale_T2`` is False.
    """

    T: float = 4.0
    alpha: float = 1.0
    soft_loss: str = "kl"
    scale_T2: bool = True

    needs_teacher: ClassVar[bool] = True

    def __post_init__(self) -> None:
        validate.raise_if([
            validate.positive("T", self.T),
            validate.unit_interval("alpha", self.alpha),
            validate.choice("soft_loss", self.soft_loss, sorted(SOFT_LOSSES)),
        ], "distill")

    @property
    def uses_labels(self) -> bool:
        return self.alpha < 1

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor | None
                 ) -> dict[str, torch.Tensor]:
        return kd_terms(logits, teacher_logits, self.T, labels=labels, alpha=self.alpha,
                        soft_loss=self.soft_loss, scale_T2=self.scale_T2)


#: The name the chapters' settings use for a distillation objective.
DistillConfig = DistillObjective


@dataclass(frozen=True)
class HintObjective:
    """Hint training over [logits, hint] outputs (see :mod:`kdbook.hints`):
    ``soft_weight * T^2 KL + (1 - soft_weight) * CE + hint_weight * MSE(hint, teacher's hidden layer)``.

    ``soft_weight = 0`` gives hint + labels; ``hint_weight = 0`` gives output distillation alone.
    """

    num_classes: int
    T: float = 4.0
    soft_weight: float = 0.9
    hint_weight: float = 1.0

    needs_teacher: ClassVar[bool] = True

    def __post_init__(self) -> None:
        validate.raise_if([validate.positive_int("num_classes", self.num_classes), validate.positive("T", self.T),
                    validate.unit_interval("soft_weight", self.soft_weight),
                    validate.non_negative("hint_weight", self.hint_weight)], "hint")

    @property
    def uses_labels(self) -> bool:
        return self.soft_weight < 1

    def __call__(self, out: torch.Tensor, labels: torch.Tensor, teacher_out: torch.Tensor | None
                 ) -> dict[str, torch.Tensor]:
        c = self.num_classes
        z, h = out[:, :c], out[:, c:]
        terms = {"hard": (1 - self.soft_weight) * F.cross_entropy(z, labels)}
        if self.soft_weight > 0:
            terms["soft"] = self.soft_weight * kd_terms(z, teacher_out[:, :c], self.T)["soft"]
        if self.hint_weight > 0:
            terms["hint"] = self.hint_weight * F.mse_loss(h, teacher_out[:, c:])
        return terms


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
    validate.raise_if([validate.choice("method", method, sorted(COMBINERS))], "combine_probs")
    return COMBINERS[method](member_probs)
