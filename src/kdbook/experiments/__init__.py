"""Each chapter's experiments, runnable without Jupyter (``python -m kdbook run CHAPTER``).

A chapter module defines ``TITLE``, ``NOTEBOOK`` (its file under ``book/``), per-profile
``SETTINGS`` and ``run(profile, device, recompute=False) -> dict[str, StoredResult]``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .. import validate as v

#: chapter id -> module name (imported on demand)
CHAPTERS: dict[str, str] = {
    "ch01": "kdbook.experiments.ch01_soft_targets",
    "ch02": "kdbook.experiments.ch02_big_to_small",
    "ch03": "kdbook.experiments.ch03_unseen_class",
    "ch04": "kdbook.experiments.ch04_ensembles",
    "ch05": "kdbook.experiments.ch05_three_mysteries",
    "ch06": "kdbook.experiments.ch06_multiview",
    "ch07": "kdbook.experiments.ch07_fidelity",
    "ch08": "kdbook.experiments.ch08_deployment",
    "ch09": "kdbook.experiments.ch09_open_questions",
}


def chapter(name: str) -> ModuleType:
    """The experiments module of chapter ``name`` (e.g. 'ch01')."""
    v.raise_if([v.choice("chapter", name, list(CHAPTERS))])
    return importlib.import_module(CHAPTERS[name])
