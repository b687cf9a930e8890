"""Training checkpoints: everything needed to resume a run exactly where it stopped.

A checkpoint holds the model, optimizer and schedule states, the data-order generators (one per stream) and
PyTorch's global random state (dropout), the history so far and the best weights kept by early
stopping. It is written atomically after every epoch, read with ``weights_only=True``, and
removed when the run completes. On CPU a resumed run equals an uninterrupted one bit for bit.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch

from .store import atomic_write_bytes


def save_checkpoint(path: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler,
                    generators: list[torch.Generator], history: dict, best: tuple[float, dict] | None) -> None:
    """Write the state of a run after a completed epoch to ``path`` (atomically)."""
    state: dict[str, Any] = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else {},
        "generators": [g.get_state() for g in generators],
        "torch_rng": torch.get_rng_state(),
        "history": json.dumps(history),
        "best_accuracy": best[0] if best is not None else -1.0,
        "best_state": best[1] if best is not None else {},
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict | None:
    """The checkpoint at ``path``, or None when there is none; a damaged one is reported and ignored."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        state["history"] = json.loads(state["history"])
        return state
    except Exception as exc:  # truncated or foreign file: start again rather than resume from garbage
        warnings.warn(f"ignoring damaged checkpoint {path} ({type(exc).__name__}: {exc}); starting the run again",
                      stacklevel=2)
        return None


def restore(state: dict, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler,
            generators: list[torch.Generator]) -> tuple[dict, tuple[float, dict] | None]:
    """Put ``state`` back into the run's objects; returns (history dict, best) to continue from."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if len(state["generators"]) != len(generators):
        raise ValueError(f"checkpoint has {len(state['generators'])} data streams, the run {len(generators)}")
    for g, saved in zip(generators, state["generators"]):
        g.set_state(saved)
    torch.set_rng_state(state["torch_rng"])
    best = (float(state["best_accuracy"]), state["best_state"]) if state["best_state"] else None
    return state["history"], best
