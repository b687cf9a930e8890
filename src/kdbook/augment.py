"""Input augmentations as pure functions of a batch and a random generator."""

from __future__ import annotations

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
