"""Specialist models (Hinton et al. 2015, section 5): confusable-class clusters, specialists with
a dustbin class, and the KL-minimising combination with a generalist.

* :func:`confusable_clusters` groups classes by k-means on the *correlation* matrix of a
  generalist's predicted probabilities (the covariance with each class's variance normalised
  away: raw variances would swamp the covariances, splitting the often-predicted classes and
  lumping the rare ones), so classes predicted together end up together;
  :func:`enrichment` says whether a cluster's confusions really stay inside it;
* :func:`specialist_split` builds a specialist's training data: its classes relabelled
  0..k-1, everything else the dustbin class k, enriched so that half the examples come from its
  classes;
* :func:`specialist_from_generalist` initialises a specialist MLP from the generalist;
* :func:`combine_with_specialists` finds, per example, the full distribution q minimising
  KL(p_g || q) + sum over active specialists of KL(p_m || q_m), where q_m is q with the classes
  outside the specialist's subset merged into its dustbin.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .data import Split
from .errors import ConfigError


def prediction_covariance(probs: torch.Tensor) -> np.ndarray:
    """(C, C) covariance of the predicted probability vectors (rows of ``probs``)."""
    p = probs.double().cpu().numpy()
    return np.cov(p, rowvar=False)


def prediction_correlation(probs: torch.Tensor) -> np.ndarray:
    """(C, C) correlation of the predicted probability vectors: the covariance divided by the two
    classes' standard deviations (a class never predicted gets zero correlations and 1 with itself)."""
    cov = prediction_covariance(probs)
    sd = np.sqrt(np.clip(np.diag(cov), 1e-24, None))
    corr = cov / np.outer(sd, sd)
    np.fill_diagonal(corr, 1.0)
    return corr


def confusable_clusters(probs: torch.Tensor, n_clusters: int, seed: int = 0) -> list[list[int]]:
    """Classes grouped by k-means (scikit-learn) on the columns of the prediction correlation matrix
    (:func:`prediction_correlation`); clusters sorted by their smallest class, classes sorted within each."""
    from sklearn.cluster import KMeans

    corr = prediction_correlation(probs)
    if not 1 <= n_clusters <= corr.shape[0]:
        raise ConfigError(f"n_clusters must be in [1, {corr.shape[0]}], got {n_clusters}")
    labels = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(corr)
    groups = [sorted(int(c) for c in np.flatnonzero(labels == k)) for k in range(n_clusters)]
    return sorted((g for g in groups if g), key=lambda g: g[0])


def enrichment(probs: torch.Tensor, labels: torch.Tensor, classes: Sequence[int]) -> float:
    """How much the errors on ``classes`` stay inside them: the share of wrong top-1 predictions on
    examples of ``classes`` that name another class of ``classes``, divided by the share expected
    if errors spread evenly over the wrong classes, (k - 1) / (C - 1). Above 1: the cluster holds
    real confusions. NaN for a single class or no errors."""
    k, C = len(classes), probs.shape[-1]
    if k < 2:
        return float("nan")
    inside = torch.tensor(list(classes), device=labels.device)
    pred = probs.argmax(-1).to(labels.device)
    wrong = torch.isin(labels, inside) & (pred != labels)
    if not wrong.any():
        return float("nan")
    share = torch.isin(pred[wrong], inside).float().mean().item()
    return share / ((k - 1) / (C - 1))


def relabel(y: torch.Tensor, classes: Sequence[int], num_classes: int) -> torch.Tensor:
    """Labels of a specialist: ``classes[i]`` -> i, every other class -> len(classes) (the dustbin)."""
    lookup = torch.full((num_classes,), len(classes), dtype=torch.long)
    lookup[torch.tensor(list(classes))] = torch.arange(len(classes))
    return lookup.to(y.device)[y]


def specialist_split(split: Split, classes: Sequence[int], num_classes: int, seed: int,
                     special_share: float = 0.5) -> tuple[Split, float]:
    """All examples of ``classes`` plus a seeded random sample of the others, so that
    ``special_share`` of the result is special; returns the relabelled split and the factor by
    which the special classes are over-represented compared with ``split``. The split's rows of
    ``split`` are :func:`specialist_rows`."""
    idx, oversampling = specialist_rows(split, classes, seed, special_share)
    return Split(split.x[idx], relabel(split.y[idx], classes, num_classes)), oversampling


def specialist_rows(split: Split, classes: Sequence[int], seed: int,
                    special_share: float = 0.5) -> tuple[torch.Tensor, float]:
    """The sorted rows of ``split`` that :func:`specialist_split` keeps, and the oversampling factor."""
    special = torch.isin(split.y, torch.tensor(list(classes), device=split.y.device))
    idx_s = torch.nonzero(special).flatten()
    idx_o = torch.nonzero(~special).flatten()
    n_other = min(len(idx_o), round(len(idx_s) * (1 - special_share) / special_share))
    g = torch.Generator().manual_seed(seed)
    pick = idx_o[torch.randperm(len(idx_o), generator=g)[:n_other].to(idx_o.device)]
    idx = torch.cat([idx_s, pick]).sort().values
    true_share = len(idx_s) / len(split)
    train_share = len(idx_s) / len(idx)
    return idx, train_share / true_share


def specialist_from_generalist(generalist: nn.Module, classes: Sequence[int]) -> nn.Module:
    """A trainable copy of the generalist MLP or CNN whose head has one output per special class
    (rows copied from the generalist) and a dustbin output: the mean of the other classes' rows,
    its bias raised by the log of their number, so that it starts near their merged probability."""
    spec = copy.deepcopy(generalist)
    head: nn.Linear = spec.head
    others = [c for c in range(head.out_features) if c not in set(classes)]
    new = nn.Linear(head.in_features, len(classes) + 1).to(head.weight.device)
    with torch.no_grad():
        new.weight[:-1] = head.weight[list(classes)]
        new.bias[:-1] = head.bias[list(classes)]
        new.weight[-1] = head.weight[others].mean(0)
        new.bias[-1] = head.bias[others].mean(0) + math.log(len(others))
    spec.head = new
    for p in spec.parameters():
        p.requires_grad_(True)
    return spec


def merge_to_specialist(q: torch.Tensor, classes: Sequence[int]) -> torch.Tensor:
    """A full distribution (B, C) seen by a specialist: its classes, then the rest summed (B, k+1)."""
    mask = torch.ones(q.shape[-1], dtype=torch.bool, device=q.device)
    mask[list(classes)] = False
    return torch.cat([q[:, list(classes)], q[:, mask].sum(-1, keepdim=True)], dim=-1)


def active_specialists(generalist_probs: torch.Tensor, subsets: Sequence[Sequence[int]], top_n: int) -> torch.Tensor:
    """(B, S) boolean: specialist s is active for an example when its subset meets the
    generalist's ``top_n`` most probable classes."""
    top = generalist_probs.topk(top_n, dim=-1).indices  # (B, n)
    return torch.stack([torch.isin(top, torch.tensor(list(s), device=top.device)).any(-1) for s in subsets], dim=-1)


def combine_with_specialists(generalist_probs: torch.Tensor, specialist_probs: Sequence[torch.Tensor],
                             subsets: Sequence[Sequence[int]], active: torch.Tensor, *,
                             steps: int = 200, lr: float = 0.1) -> torch.Tensor:
    """Per example, the distribution q minimising KL(p_g || q) + sum over active specialists m of
    KL(p_m || q_m) (q_m: q merged to specialist m's classes plus dustbin), by gradient descent on
    the logits of q, started at the generalist's. Examples with no active specialist keep p_g."""
    if len(specialist_probs) != len(subsets) or active.shape[-1] != len(subsets):
        raise ConfigError("one probability tensor and one subset per specialist, and one active flag each")
    eps = 1e-12
    pg = generalist_probs.double()
    z = pg.clamp_min(eps).log().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    w = active.double()
    with torch.enable_grad():
        for _ in range(steps):
            logq = z.log_softmax(-1)
            loss = (pg * (pg.clamp_min(eps).log() - logq)).sum(-1)
            q = logq.exp()
            for s, (pm, subset) in enumerate(zip(specialist_probs, subsets)):
                pm = pm.double()
                qm = merge_to_specialist(q, subset).clamp_min(eps)
                loss = loss + w[:, s] * (pm * (pm.clamp_min(eps).log() - qm.log())).sum(-1)
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
    q = z.detach().softmax(-1)
    none = ~active.any(-1)
    q[none] = pg[none]
    return q.to(generalist_probs.dtype)


def dustbin_corrected(logits: torch.Tensor, oversampling: float) -> torch.Tensor:
    """A specialist's logits with the dustbin (last) logit raised by log(oversampling): the
    correction for training on data enriched in the special classes."""
    out = logits.clone()
    out[:, -1] += math.log(oversampling)
    return out
