"""Hint training: match a student's hidden layer, through a learned projection, to the teacher's.

A :class:`HintStudent` wraps an :class:`kdbook.models.MLP`; in training mode it returns its
logits followed by the projection of its last hidden layer, in eval mode its logits alone.
A :class:`HintTeacher` returns the teacher's logits followed by its last hidden layer, so the
trainer can cache both in one tensor. :func:`hint_objective` splits them again.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .losses import SOFT_LOSSES
from .models import MLP


class HintStudent(nn.Module):
    """An MLP student plus a linear map from its last hidden layer to the teacher's (width ``teacher_dim``)."""

    def __init__(self, student: MLP, teacher_dim: int):
        super().__init__()
        self.student = student
        self.projection = nn.Linear(student.head.in_features, teacher_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.student.features(x)
        logits = self.student.head(hidden)
        if not self.training:
            return logits
        return torch.cat([logits, self.projection(hidden)], dim=-1)


class HintTeacher(nn.Module):
    """A trained MLP teacher returning [logits, last hidden layer]."""

    def __init__(self, teacher: MLP):
        super().__init__()
        self.teacher = teacher

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.teacher.features(x)
        return torch.cat([self.teacher.head(hidden), hidden], dim=-1)


def hint_objective(num_classes: int, *, T: float = 4.0, soft_weight: float = 0.9, hint_weight: float = 1.0):
    """Objective over [logits, hint] outputs: soft_weight * T^2 KL + (1 - soft_weight) * CE + hint_weight * MSE.

    ``soft_weight = 0`` gives hint + labels; ``hint_weight = 0`` gives output distillation alone.
    """
    kl = SOFT_LOSSES["kl"]

    def objective(out: torch.Tensor, labels: torch.Tensor, teacher_out: torch.Tensor) -> dict[str, torch.Tensor]:
        z, h = out[:, :num_classes], out[:, num_classes:]
        losses = {"hard": (1 - soft_weight) * F.cross_entropy(z, labels)}
        if soft_weight > 0:
            losses["soft"] = soft_weight * kl(z, teacher_out[:, :num_classes], T)
        if hint_weight > 0:
            losses["hint"] = hint_weight * F.mse_loss(h, teacher_out[:, num_classes:])
        return losses

    return objective
