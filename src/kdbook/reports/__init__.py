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

from .. import validate

#: chapter id -> reading module (imported on demand)
REPORTS: dict[str, str] = {
    "ch01": "kdbook.reports.ch01_soft_targets",
    "ch02": "kdbook.reports.ch02_big_to_small",
    "ch03": "kdbook.reports.ch03_unseen_class",
    "ch04": "kdbook.reports.ch04_ensembles",
    "ch05": "kdbook.reports.ch05_three_mysteries",
    "ch06": "kdbook.reports.ch06_multiview",
    "ch07": "kdbook.reports.ch07_fidelity",
    "ch08": "kdbook.reports.ch08_deployment",
    "ch09": "kdbook.reports.ch09_open_questions",
}


def report(name: str) -> ModuleType:
    """The reading module of chapter ``name`` (e.g. 'ch02')."""
    validate.raise_if([validate.choice("chapter", name, list(REPORTS))])
    return importlib.import_module(REPORTS[name])
