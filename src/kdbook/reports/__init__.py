"""The reading layer: each chapter's tables, headline numbers, sentences, claims and the papers'
numbers, computed from stored results only.

A chapter's reading module (``kdbook.reports.chNN_*``) imports the result store and never the
trainer, so a page (or a test, or a reader with only ``results/``) can read a chapter without
training anything. It defines ``PAPER`` (the paper's numbers, typed once) and ``CLAIMS`` (a tuple
of :class:`kdbook.claims.Claim`) over the results that ``kdbook.experiments.chNN.run`` returns.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..chapters import CHAPTER_MODULES, module_name

#: chapter id -> reading module (imported on demand)
REPORTS: dict[str, str] = {c: module_name(__name__, c) for c in CHAPTER_MODULES}


def report(name: str) -> ModuleType:
    """The reading module of chapter ``name`` (e.g. 'ch02')."""
    return importlib.import_module(module_name(__name__, name))
