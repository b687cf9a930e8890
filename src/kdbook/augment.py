"""Input augmentations as pure functions of a batch and a random generator."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def _randint(high: int, n: int, generator: torch.Generator | None, device) -> torch.Tensor:
    return torch.randint(0, high, (n,), generator=generator).to(device)


def _shifted_crops(padded: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Per-example crops of size (h, w) starting at (dy, dx) from a padded batch."""
    n, c = padded.shape[:2]
    rows = (torch.arange(h, device=padded.device)[None, :] + dy[:, None])  # (n, h)
    cols = (torch.arange(w, device=padded.device)[None, :] + dx[:, None])  # (n, w)
    idx_n = torch.arange(n, device=padded.device)[:, None, None, None]
    idx_c = torch.arange(c, device=padded.device)[None, :, None, None]
    return padded[idx_n, idx_c, rows[:, None, :, None], cols[:, None, None, :]]


def jitter(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Translate each image by an integer shift of up to ``max_shift`` pixels in x and y (zero fill)."""
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dy = _randint(2 * max_shift + 1, n, generator, x.device)
    dx = _randint(2 * max_shift + 1, n, generator, x.device)
    return _shifted_crops(padded, dy, dx, h, w)


def crop_flip(x: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random crop after zero padding by ``pad`` pixels, then a horizontal flip with probability 1/2."""
    n = x.shape[0]
    out = jitter(x, pad, generator) if pad > 0 else x
    flip = _randint(2, n, generator, x.device).bool()
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


#: Strengths of the policies that ``augment_px`` does not set (Stanton et al.'s kinds of policy).
ROTATION_DEGREES = 15.0
NOISE_STD = 0.1


def rotate_by(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate image i about its centre by ``degrees[i]`` (counter-clockwise; bilinear, zero fill)."""
    n = x.shape[0]
    angle = degrees.to(torch.float32).cpu() * torch.pi / 180
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(n)], -1),
                         torch.stack([sin, cos, torch.zeros(n)], -1)], 1).to(x.device, x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotate(x: torch.Tensor, max_degrees: float = ROTATION_DEGREES, generator: torch.Generator | None = None
           ) -> torch.Tensor:
    """Rotate each image by an angle drawn uniformly from [-max_degrees, max_degrees]."""
    return rotate_by(x, (torch.rand(x.shape[0], generator=generator) * 2 - 1) * max_degrees)


def gaussian_noise(x: torch.Tensor, std: float = NOISE_STD, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add independent N(0, std^2) noise to every pixel."""
    return x + std * torch.randn(x.shape, generator=generator).to(x.device, x.dtype)


def mixup_inputs(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mix each image with another of the batch: ``l * x + (1 - l) * x[perm]``, ``l ~ Uniform(0, 1)``
    per example (mixup with Beta(1, 1)). The labels are not mixed: a teacher must label the mixed inputs."""
    n = x.shape[0]
    perm = torch.randperm(n, generator=generator).to(x.device)
    lam = torch.rand(n, generator=generator).to(x.device, x.dtype)[:, None, None, None]
    return lam * x + (1 - lam) * x.index_select(0, perm)


# ----------------------------------------------------------------------------- policies
#: A policy: (batch, strength in pixels, generator) -> augmented batch.
Policy = Callable[[torch.Tensor, int, "torch.Generator | None"], torch.Tensor]
#: Augmentation policies by the name a :class:`kdbook.train.TrainConfig` gives in ``augment``;
#: ``augment_px`` is the shift or padding of 'jitter' and 'crop_flip' (the other strengths are fixed above).
POLICIES: dict[str, Policy] = {
    "none": lambda x, px, g: x,
    "jitter": jitter,
    "crop_flip": crop_flip,
    "rotate": lambda x, px, g: rotate(x, ROTATION_DEGREES, g),
    "noise": lambda x, px, g: gaussian_noise(x, NOISE_STD, g),
    "mixup": lambda x, px, g: mixup_inputs(x, g),
}
#: Policies whose outputs have no label of their own: only a teacher can label them.
TEACHER_ONLY = frozenset({"mixup"})
