"""Where a result came from: profile, seeds, device, software and code versions, time."""

from __future__ import annotations

import datetime as _dt
import hashlib
import platform
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import torch

PACKAGE_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def source_hash() -> str:
    """sha256 (first 12 hex digits) of the library's Python sources: the exact code version."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


@lru_cache(maxsize=1)
def git_revision() -> str | None:
    """``git describe --always --dirty`` of the checkout holding the library, if any."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=PACKAGE_DIR,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@lru_cache(maxsize=1)
def uncommitted_source() -> bool | None:
    """Whether the library's code (``src/``, ``pyproject.toml``) has changes git has not committed
    (None outside a git checkout): a result computed then cannot be traced to a commit."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", "src", "pyproject.toml"],
                             cwd=PACKAGE_DIR.parent.parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


# Read once, when the library is imported: they describe the code this process runs, even if the
# files change on disk while a long run goes on.
source_hash()
uncommitted_source()


def device_name(device: str | torch.device) -> str:
    """A readable name of the device: the GPU's model, or the CPU's architecture and core count."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import os

    return f"CPU {platform.machine()} x{os.cpu_count()} ({torch.get_num_threads()} torch threads)"


def collect(profile: str, seeds: list[int] | tuple[int, ...], device: str | torch.device,
            wall_seconds: float) -> dict:
    """The provenance record stored beside every result."""
    from . import __version__

    return {
        "profile": profile,
        "seeds": list(seeds),
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "kdbook": __version__,
        "source_hash": source_hash(),
        "git": git_revision(),
        "uncommitted_source": uncommitted_source(),
        "wall_seconds": round(wall_seconds, 2),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def describe(prov: dict) -> str:
    """One line for a page: profile, seeds, device, time, code version and date."""
    seeds = prov.get("seeds", [])
    models = prov.get("models")
    trained = ""
    if models:
        count, earlier = models["count"], models["loaded_from_cache"]
        trained = (f" + {models['training_seconds']:.0f} s training {count} {'model' if count == 1 else 'models'}"
                   + (f", {earlier} of them trained earlier" if earlier else ""))
    warning = ""
    if prov.get("uncommitted_source"):
        warning = " WARNING: computed from library code with uncommitted changes."
    return (f"profile `{prov['profile']}`, {len(seeds)} {'seed' if len(seeds) == 1 else 'seeds'} {seeds}, "
            f"{prov['device_name']}, {prov['wall_seconds']:.0f} s{trained}, torch {prov['torch']}, "
            f"kdbook {prov['kdbook']} (source {prov['source_hash']}, git {prov.get('git') or 'n/a'}), "
            f"{prov['date']}{warning}")
