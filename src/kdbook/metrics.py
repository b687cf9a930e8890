"""Metrics on predicted probabilities (B, C) and integer labels (B,).

Functions return Python floats (or per-example tensors where the name says so) so that
results can be stored as JSON.
"""

from __future__ import annotations

import torch

from .losses import probs_to_logits


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of examples whose arg-max equals the label."""
    return (probs.argmax(-1) == labels).float().mean().item()


def error_count(probs: torch.Tensor, labels: torch.Tensor) -> int:
    """Number of misclassified examples."""
    return int((probs.argmax(-1) != labels).sum().item())


def per_class_errors(probs: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[int]:
    """Misclassified examples counted by their true class."""
    wrong = probs.argmax(-1) != labels
    return torch.bincount(labels[wrong], minlength=num_classes).tolist()


def nll_per_example(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-log p(label) for each example."""
    return -probs_to_logits(probs.gather(-1, labels[:, None]).squeeze(-1))


def nll(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean negative log-likelihood of the labels."""
    return nll_per_example(probs, labels).mean().item()


def brier(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over examples of sum_c (p_c - 1[c = label])^2."""
    onehot = torch.nn.functional.one_hot(labels, probs.shape[-1]).to(probs.dtype)
    return (probs - onehot).pow(2).sum(-1).mean().item()


def ece(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 10) -> float:
    """Expected calibration error with ``n_bins`` equal-width confidence bins on [0, 1].

    ``ECE = sum_b (|B_b| / N) |acc(B_b) - conf(B_b)|``; bin b holds confidences in (b/n, (b+1)/n],
    the first bin also holds confidence 0.
    """
    conf, pred = probs.max(-1)
    correct = (pred == labels).to(probs.dtype)
    bins = (conf * n_bins).ceil().long().clamp(1, n_bins) - 1
    n = torch.bincount(bins, minlength=n_bins).to(probs.dtype)
    sum_conf = torch.zeros(n_bins, dtype=probs.dtype, device=probs.device).index_add_(0, bins, conf)
    sum_acc = torch.zeros(n_bins, dtype=probs.dtype, device=probs.device).index_add_(0, bins, correct)
    return ((sum_acc - sum_conf).abs().sum() / labels.numel()).item()


def agreement(probs_a: torch.Tensor, probs_b: torch.Tensor) -> float:
    """Top-1 agreement: fraction of examples where both arg-maxes coincide."""
    return (probs_a.argmax(-1) == probs_b.argmax(-1)).float().mean().item()


def kl_teacher_student(teacher_probs: torch.Tensor, student_probs: torch.Tensor) -> float:
    """Mean over examples of KL(teacher || student) at T = 1, in nats."""
    t = teacher_probs
    return (torch.xlogy(t, t) - t * probs_to_logits(student_probs)).sum(-1).mean().item()


def summary(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy, error count, NLL, ECE and Brier score in one dict."""
    return {
        "accuracy": accuracy(probs, labels),
        "errors": error_count(probs, labels),
        "nll": nll(probs, labels),
        "ece": ece(probs, labels),
        "brier": brier(probs, labels),
    }
