"""Distillation on a transfer set whose images are only partly labelled.

Hinton et al. (2015) train the student on a *transfer set*, and its soft targets need no labels:
the teacher provides them. A student can therefore learn from images whose labels it never sees.
Here such a set is a :class:`kdbook.data.Split` in which the rows without a label carry the label
:data:`UNLABELLED`; :func:`hide_labels` makes one from a labelled split, keeping the labels of
chosen rows only. :class:`TransferObjective` trains on it: the teacher's soft targets on every
row, the labels on the rows that have one.

A split with hidden labels names in its ``origin`` which rows kept their labels, so a model
trained on it never shares a cache key with one trained on the same images with all their labels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from . import validate
from .data import Split
from .errors import ConfigError
from .losses import kd_terms

#: The label of a row whose label the student never sees (cross-entropy ignores it).
UNLABELLED = -1


def labelled_rows(n: int, count: int, seed: int) -> torch.Tensor:
    """Sorted indices of a seeded random ``count`` of ``n`` rows (all of them when ``count >= n``):
    the images whose labels the student may see."""
    validate.raise_if([validate.positive_int("n", n), validate.positive_int("count", count),
                       validate.non_negative_int("seed", seed)], "labelled_rows")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(20_000 + seed))
    return order[:min(count, n)].sort().values


def hide_labels(split: Split, labelled: torch.Tensor) -> Split:
    """``split`` with the label of every row outside ``labelled`` (row indices) replaced by
    :data:`UNLABELLED`. The images are all kept; the ``origin`` names the rows whose labels remain."""
    rows = labelled.to(split.y.device).long()
    if rows.numel() and (int(rows.min()) < 0 or int(rows.max()) >= len(split)):
        raise ConfigError(f"hide_labels: labelled rows must lie in [0, {len(split)})")
    y = torch.full_like(split.y, UNLABELLED)
    y[rows] = split.y[rows]
    digest = hashlib.sha256((split.origin or "").encode() + b"|labels on|" + rows.cpu().numpy().tobytes())
    return Split(split.x, y, f"{len(split)} rows, labels on {rows.numel()} {digest.hexdigest()[:16]}")


def labelled_mask(split: Split) -> torch.Tensor:
    """Which rows of ``split`` carry a label (boolean, one per row)."""
    return split.y != UNLABELLED


@dataclass(frozen=True)
class TransferObjective:
    """Distillation on a partly labelled transfer set: ``alpha * T^2 KL`` over every row of the batch
    plus ``(1 - alpha) * CE`` over the rows that have a label (their mean; nothing when the batch
    has none). ``alpha = 1`` uses the teacher's soft targets alone, everywhere; on a split where
    every row is labelled the objective equals :class:`kdbook.losses.DistillObjective`.

    ``T`` and ``alpha`` have no defaults, so both always enter a model's cache key."""

    T: float
    alpha: float

    needs_teacher: ClassVar[bool] = True

    def __post_init__(self) -> None:
        validate.raise_if([validate.positive("T", self.T), validate.unit_interval("alpha", self.alpha)], "transfer")

    @property
    def uses_labels(self) -> bool:
        return self.alpha < 1

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor | None
                 ) -> dict[str, torch.Tensor]:
        soft = kd_terms(logits, teacher_logits, self.T)["soft"]
        terms = {"soft": soft if self.alpha == 1.0 else self.alpha * soft}
        if self.alpha < 1.0:
            known = (labels != UNLABELLED).sum().clamp_min(1)
            ce = F.cross_entropy(logits, labels, ignore_index=UNLABELLED, reduction="sum") / known
            terms["hard"] = (1.0 - self.alpha) * ce
        return terms
