"""Teachers: frozen models and ensembles, each a callable from inputs to logits."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .losses import combine_probs, probs_to_logits


def freeze(model: nn.Module) -> nn.Module:
    """Put ``model`` in eval mode with gradients off, so it can serve as a teacher."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class Ensemble(nn.Module):
    """Members combined by the arithmetic or geometric mean of their probabilities.

    Calling it returns the log of the combined probabilities: valid logits, so an ensemble can
    be used anywhere a teacher is.
    """

    def __init__(self, members: Sequence[nn.Module], method: str = "arithmetic"):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.method = method

    def member_probs(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities of every member, shaped (M, B, C)."""
        return torch.stack([m(x).softmax(-1) for m in self.members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return probs_to_logits(combine_probs(self.member_probs(x), self.method))
