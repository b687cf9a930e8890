"""Each chapter's experiments, runnable without Jupyter (``python -m kdbook run CHAPTER``).

A chapter module defines ``TITLE``, ``NOTEBOOK`` (its file under ``book/``), per-profile
``SETTINGS`` and ``run(profile, device, recompute=False) -> dict[str, StoredResult]``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..chapters import CHAPTER_MODULES, module_name

#: chapter id -> module name (imported on demand)
CHAPTERS: dict[str, str] = {c: module_name(__name__, c) for c in CHAPTER_MODULES}


def chapter(name: str) -> ModuleType:
    """The experiments module of chapter ``name`` (e.g. 'ch01')."""
    return importlib.import_module(module_name(__name__, name))
