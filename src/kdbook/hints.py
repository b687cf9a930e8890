"""Hint training: match a student's hidden layer, through a learned projection, to the teacher's.

A :class:`HintStudent` wraps an :class:`kdbook.models.MLP`; in training mode it returns its
logits followed by the projection of its last hidden layer, in eval mode its logits alone.
A :class:`HintTeacher` returns the teacher's logits followed by its last hidden layer, so the
trainer can cache both in one tensor. :class:`kdbook.losses.HintObjective` splits them again.
"""

from __future__ import annotations

import torch
from torch import nn

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
