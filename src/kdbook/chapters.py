"""The book's chapters: id -> module name, shared by the experiments and the reading layer."""

from __future__ import annotations

from . import validate

#: chapter id -> the name of its modules in ``kdbook.experiments`` and ``kdbook.reports``
CHAPTER_MODULES: dict[str, str] = {
    "ch01": "ch01_soft_targets",
    "ch02": "ch02_big_to_small",
    "ch03": "ch03_unseen_class",
    "ch04": "ch04_ensembles",
    "ch05": "ch05_three_mysteries",
    "ch06": "ch06_multiview",
    "ch07": "ch07_fidelity",
    "ch08": "ch08_deployment",
    "ch09": "ch09_open_questions",
}


def module_name(package: str, chapter: str) -> str:
    """``package.<chapter's module>`` (e.g. 'kdbook.reports.ch02_big_to_small'); unknown ids are refused."""
    validate.raise_if([validate.choice("chapter", chapter, list(CHAPTER_MODULES))])
    return f"{package}.{CHAPTER_MODULES[chapter]}"
