"""Profiles: the scale at which the book's chapters run.

* ``smoke``: CI on a 2-core CPU, about a minute per chapter; numbers are not meaningful.
* ``full``: the published results, on data available offline (Fashion-MNIST, digits).
* ``paper``: the original papers' datasets and scale (MNIST, CIFAR); needs the files
  (internet once) and, for most chapters, a GPU.

Each chapter keeps its own per-profile settings (seeds included) next to its experiments; this
module only names the profiles and validates the choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import validate


@dataclass(frozen=True)
class Profile:
    """A named scale and a one-line description. Seeds are not the profile's: each chapter's
    settings name its own (``python -m kdbook profiles`` lists them per chapter)."""

    name: str
    description: str


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", "CI check on a CPU, about a minute per chapter; tiny data and epochs"),
    "full": Profile("full", "published results on offline data (Fashion-MNIST, digits)"),
    "paper": Profile("paper", "the papers' datasets and scale (MNIST/CIFAR; internet once, GPU)"),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``, or a ConfigError listing the valid names."""
    validate.raise_if([validate.choice("profile", name, list(PROFILES))])
    return PROFILES[name]


def resolve_device(device: str | None = "auto") -> str:
    """'auto' picks 'cuda' when a GPU is visible, else 'cpu'; anything else is checked to exist."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        validate.raise_if([f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}"])
    if dev.type == "cuda" and not torch.cuda.is_available():
        validate.raise_if([f"device {device!r} requested but no CUDA GPU is visible"])
    return str(dev)
