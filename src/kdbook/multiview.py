"""Multi-view data and a patch-convolution learner (Allen-Zhu & Li, 2020), at a size a CPU trains
in seconds.

Each of ``k`` classes owns ``views`` orthonormal feature directions in R^d. An input is ``P``
patches in R^d. A *multi-view* example of class y shows every view of y (weight about 1) in a few
patches; a *single-view* example shows one view of y at full weight and the others faintly. Every
example also carries a few other classes' features at small weight (feature noise), and every
patch Gaussian noise. The learner is one convolution shared over patches: ``m`` channels per
class, a smoothed ReLU, summed over patches and channels into that class's logit. Several seeds
train at once (their weights stacked), full-batch gradient descent, so that the only thing a seed
changes is the initial weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import validate
from .train import trial_step_limit
from .errors import TrainingDiverged
from .losses import soften


@dataclass(frozen=True)
class MultiViewData:
    """Parameters of the synthetic generator (the book prints them)."""

    num_classes: int = 10
    views: int = 2
    dim: int = 60
    patches: int = 8
    feature_patches: int = 2
    single_view_fraction: float = 0.15
    view_weight: tuple[float, float] = (0.8, 1.2)
    faint_weight: float = 0.1
    off_class_features: int = 2
    off_class_weight: float = 0.4
    noise_std: float = 0.06

    def __post_init__(self) -> None:
        validate.raise_if([
            validate.positive_int("num_classes", self.num_classes),
            None if self.num_classes >= 2 else "num_classes must be at least 2",
            validate.positive_int("views", self.views),
            validate.positive_int("patches", self.patches),
            validate.positive_int("feature_patches", self.feature_patches),
            None if self.feature_patches * (self.views + self.off_class_features) <= self.patches
            else "patches must be at least feature_patches * (views + off_class_features)",
            None if self.dim >= self.num_classes * self.views
            else f"dim must be at least num_classes * views = {self.num_classes * self.views}, got {self.dim}",
            validate.unit_interval("single_view_fraction", self.single_view_fraction),
            None if 0 < self.view_weight[0] <= self.view_weight[1]
            else f"view_weight must be (low, high) with 0 < low <= high, got {self.view_weight}",
            validate.non_negative("faint_weight", self.faint_weight),
            validate.non_negative_int("off_class_features", self.off_class_features),
            None if self.off_class_features < self.num_classes
            else "off_class_features must be smaller than num_classes",
            validate.non_negative("off_class_weight", self.off_class_weight),
            validate.non_negative("noise_std", self.noise_std),
        ], "multi-view data")


@dataclass
class MultiViewSet:
    """A sample: inputs (n, P, d), labels (n,), which examples are single-view, and for those the
    view shown at full weight (-1 for multi-view examples)."""

    x: torch.Tensor
    y: torch.Tensor
    single: torch.Tensor
    strong_view: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


def feature_directions(cfg: MultiViewData, seed: int = 0) -> torch.Tensor:
    """Orthonormal feature directions, shape (classes, views, d)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(cfg.dim, cfg.num_classes * cfg.views, generator=g, dtype=torch.float64))
    return q.T.reshape(cfg.num_classes, cfg.views, cfg.dim).float()


def sample(cfg: MultiViewData, n: int, features: torch.Tensor, seed: int) -> MultiViewSet:
    """``n`` examples with balanced classes, drawn from seed ``seed``."""
    g = torch.Generator().manual_seed(seed)
    k, V, P, d = cfg.num_classes, cfg.views, cfg.patches, cfg.dim
    y = torch.arange(n) % k
    y = y[torch.randperm(n, generator=g)]
    single = torch.rand(n, generator=g) < cfg.single_view_fraction if V > 1 else torch.zeros(n, dtype=torch.bool)
    strong = torch.where(single, torch.randint(V, (n,), generator=g), torch.full((n,), -1))
    lo, hi = cfg.view_weight
    # weights of the class's own views: full for all (multi-view), faint for the hidden ones (single-view)
    w_own = lo + (hi - lo) * torch.rand(n, V, generator=g)
    hidden = single[:, None] & (torch.arange(V)[None, :] != strong[:, None])
    w_own = torch.where(hidden, torch.full_like(w_own, cfg.faint_weight), w_own)
    x = cfg.noise_std * torch.randn(n, P, d, generator=g)
    # every placed feature gets its own block of patches (no two features share a patch)
    order = torch.rand(n, P, generator=g).argsort(dim=1)
    blocks = order[:, :cfg.feature_patches * (V + cfg.off_class_features)].reshape(n, -1, cfg.feature_patches)
    rows = torch.arange(n)[:, None]
    for j in range(V):
        x[rows, blocks[:, j]] += (features[y, j] * w_own[:, j, None])[:, None, :]
    # feature noise: views of other classes at small weight
    for b in range(cfg.off_class_features):
        other = (y + torch.randint(1, k, (n,), generator=g)) % k
        view = torch.randint(V, (n,), generator=g)
        weight = cfg.off_class_weight * torch.rand(n, generator=g)
        x[rows, blocks[:, V + b]] += (features[other, view] * weight[:, None])[:, None, :]
    return MultiViewSet(x=x, y=y, single=single, strong_view=strong)


# ------------------------------------------------------------------------------ the learner
@dataclass(frozen=True)
class PatchNetConfig:
    """The learner: ``channels`` per class, smoothed ReLU (power ``q`` below ``threshold``)."""

    channels: int = 2
    q: int = 3
    threshold: float = 0.2
    init_std: float = 0.02

    def __post_init__(self) -> None:
        validate.raise_if([validate.positive_int("channels", self.channels), validate.positive_int("q", self.q),
                    validate.positive("threshold", self.threshold), validate.positive("init_std", self.init_std)], "patch net")


def smoothed_relu(z: torch.Tensor, q: int, threshold: float) -> torch.Tensor:
    """0 below 0, z^q / (q threshold^(q-1)) up to ``threshold``, then linear with slope 1 (continuous
    with a continuous derivative)."""
    zc = z.clamp(min=0.0)
    poly = zc.clamp(max=threshold) ** q / (q * threshold ** (q - 1))
    return poly + (zc - threshold).clamp(min=0.0)


def init_weights(cfg: PatchNetConfig, data: MultiViewData, seeds: list[int]) -> torch.Tensor:
    """Initial weights of one net per seed, stacked: (seeds, classes, channels, d)."""
    return torch.stack([cfg.init_std * torch.randn(data.num_classes, cfg.channels, data.dim,
                                                   generator=torch.Generator().manual_seed(s))
                        for s in seeds])


def logits(w: torch.Tensor, x: torch.Tensor, cfg: PatchNetConfig) -> torch.Tensor:
    """Logits of every stacked net on ``x``: (S, n, classes) from weights (S, k, m, d), x (n, P, d)."""
    z = torch.einsum("skmd,npd->snkmp", w, x)
    return smoothed_relu(z, cfg.q, cfg.threshold).sum(dim=(3, 4))


@dataclass(frozen=True)
class GDConfig:
    """Full-batch gradient descent on the (soft) cross-entropy: at most ``steps`` steps; with
    ``tol``, each net stops (its weights freeze) once its training loss is below ``tol`` (for
    distillation, the loss minus the targets' entropy, i.e. the KL divergence, times T^2)."""

    steps: int = 800
    lr: float = 1.0
    tol: float | None = None

    def __post_init__(self) -> None:
        validate.raise_if([validate.positive_int("steps", self.steps), validate.positive("lr", self.lr),
                    None if self.tol is None else validate.positive("tol", self.tol)], "gradient descent")


def fit(w0: torch.Tensor, data: MultiViewSet, net: PatchNetConfig, gd: GDConfig,
        targets: torch.Tensor | None = None, T: float = 1.0) -> tuple[torch.Tensor, list[float]]:
    """Train the stacked nets from ``w0`` on ``data``: on its labels, or, with ``targets`` (one
    probability vector per example, shared by all nets, or one per net: (S, n, k)), on the
    soft cross-entropy to them at temperature ``T`` (times T^2). Each net's gradient depends on
    that net alone, so a net trains exactly as it would alone. Returns the weights and the mean
    loss over nets per step."""
    w = w0.clone().requires_grad_(True)
    S, n = len(w), len(data)
    if targets is not None:
        t = targets.expand(S, *targets.shape[-2:])
        entropy = -(t * t.clamp_min(1e-30).log()).sum(dim=(1, 2)) * T * T / n
    losses = []
    active = torch.ones(S, dtype=torch.bool)
    limit = trial_step_limit()
    for step in range(gd.steps if limit is None else min(gd.steps, limit)):
        z = logits(w, data.x, net)
        if targets is None:
            per_net = torch.nn.functional.cross_entropy(z.transpose(1, 2), data.y.expand(S, n),
                                                        reduction="none").mean(dim=1)
            gap = per_net.detach()
        else:
            per_net = -(t * torch.log_softmax(z / T, dim=-1)).sum(dim=(1, 2)) * T * T / n
            gap = per_net.detach() - entropy
        if not torch.isfinite(per_net).all():
            raise TrainingDiverged(f"multi-view training diverged at step {step} (lr {gd.lr})")
        losses.append(float(per_net.detach().mean()))
        if gd.tol is not None:
            active &= gap >= gd.tol
            if not active.any():
                break
        (grad,) = torch.autograd.grad(per_net.sum(), w)
        with torch.no_grad():
            w -= gd.lr * grad * active[:, None, None, None]
    return w.detach(), losses


def probs(w: torch.Tensor, x: torch.Tensor, cfg: PatchNetConfig, T: float = 1.0) -> torch.Tensor:
    """Softmax outputs of every stacked net at temperature T: (S, n, k)."""
    with torch.no_grad():
        return soften(logits(w, x, cfg), T)


def view_alignment(w: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """For each net, class and view: the largest correlation of one of that class's channels with
    the view's direction, (S, classes, views)."""
    return torch.einsum("skmd,kvd->skmv", w, features).amax(dim=2)


def learned_views(alignment: torch.Tensor, threshold: float) -> torch.Tensor:
    """Whether each (net, class, view) has a channel aligned above ``threshold`` (bool)."""
    return alignment > threshold


def accuracy_by_kind(p: torch.Tensor, data: MultiViewSet) -> dict[str, float]:
    """Accuracy on all, multi-view and single-view examples of ``p`` (n, k)."""
    right = (p.argmax(-1) == data.y).float()
    out = {"all": float(right.mean()), "multi-view": float(right[~data.single].mean())}
    out["single-view"] = float(right[data.single].mean()) if data.single.any() else float("nan")
    return out


def error_share_single(p: torch.Tensor, data: MultiViewSet) -> float:
    """Share of the errors of ``p`` that fall on single-view examples."""
    wrong = p.argmax(-1) != data.y
    return float((wrong & data.single).sum() / wrong.sum()) if wrong.any() else float("nan")


def as_numpy(t: torch.Tensor) -> np.ndarray:
    """A float tensor as a numpy array rounded to 6 decimals (for stored results)."""
    return t.detach().cpu().double().numpy().round(6)


def fit_average(w0: torch.Tensor, data: MultiViewSet, net: PatchNetConfig, gd: GDConfig) -> tuple[torch.Tensor, list[float]]:
    """Train the average (F_1 + ... + F_N)/N of the stacked nets ``w0`` as one model on the labels:
    their logits averaged, one cross-entropy, every sub-network updated by its gradient (which the
    average scales by 1/N, so ``gd.lr`` should be N times a single net's). Stops once the loss is
    below ``gd.tol``. Returns the sub-networks' weights and the loss per step."""
    w = w0.clone().requires_grad_(True)
    losses = []
    limit = trial_step_limit()
    for step in range(gd.steps if limit is None else min(gd.steps, limit)):
        loss = torch.nn.functional.cross_entropy(logits(w, data.x, net).mean(dim=0), data.y)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"trained-average training diverged at step {step} (lr {gd.lr})")
        losses.append(float(loss.detach()))
        if gd.tol is not None and losses[-1] < gd.tol:
            break
        (grad,) = torch.autograd.grad(loss, w)
        with torch.no_grad():
            w -= gd.lr * grad
    return w.detach(), losses


def average_probs(w: torch.Tensor, x: torch.Tensor, cfg: PatchNetConfig) -> torch.Tensor:
    """Softmax of the sub-networks' averaged logits (a trained average's output), (n, k)."""
    with torch.no_grad():
        return torch.softmax(logits(w, x, cfg).mean(dim=0), dim=-1)
