"""The book's results at a glance, from the stored claims (``results/full/claims/``): every
chapter's main claims, whether each held in the published runs, and how many of a chapter's
claims hold. The intro page renders it (``book/_ext/kdbook_site.py``), so it cannot drift from
the chapters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .chapters import CHAPTER_MODULES
from .claims import claims_root, read_outcomes

#: chapter -> the claims that answer its main question, chosen with the chapter (not after the
#: runs): where distillation, ensembles or self-distillation did or did not work here
MAIN_CLAIMS: dict[str, tuple[str, ...]] = {
    "ch01": ("ch01.t2_factor_exact_only_at_high_t",),
    "ch02": ("ch02.distilled_beats_labels_full_data", "ch02.distilled_beats_labels_10pct",
             "ch02.distilled_beats_smoothing_10pct", "ch02.map_gain_larger_with_less_data"),
    "ch03": ("ch03.distilled_recognises_omitted_class", "ch03.knowledge_comes_from_soft_targets"),
    "ch04": ("ch04.student_keeps_ensemble_gain", "ch04.specialists_beat_generalist_on_their_classes"),
    "ch05": ("ch05.ensemble_beats_single_cnn", "ch05.distilled_beats_single_cnn",
             "ch05.self_distilled_beats_single_cnn"),
    "ch06": ("ch06.distilled_learns_more_views", "ch06.no_gain_without_views"),
    "ch07": ("ch07.student_beats_independent_agreement", "ch07.students_disagree_on_train_data",
             "ch07.more_members_higher_test_agreement"),
    "ch08": ("ch08.distilled_beats_labels",),
    "ch09": ("ch09.unlabelled_transfer_helps", "ch09.distillation_helps_at_some_class_count"),
}


def chapter_doc(chapter: str) -> str:
    """The chapter's page name in the book (its notebook without the suffix)."""
    return CHAPTER_MODULES[chapter]


def main_claims(root: Path | str | None = None) -> list[dict[str, Any]]:
    """One row per main claim: chapter, page, claim id, what the page says about it (its statement
    when it holds, else its negation) and the outcome ('holds', 'does not hold', or 'not stored'
    when the chapter's stored claims do not have it yet)."""
    rows = []
    for chapter, ids in MAIN_CLAIMS.items():
        stored = {o["id"]: o for o in read_outcomes(chapter, root)}
        for cid in ids:
            o = stored.get(cid)
            rows.append({"chapter": chapter, "doc": chapter_doc(chapter), "id": cid,
                         "says": "" if o is None else (o["statement"] if o["holds"] else o["negation"]),
                         "outcome": "not stored" if o is None else "holds" if o["holds"] else "does not hold"})
    return rows


def chapter_counts(root: Path | str | None = None) -> dict[str, tuple[int, int]]:
    """Per chapter: (claims that hold, claims stored)."""
    out = {}
    for chapter in CHAPTER_MODULES:
        outcomes = read_outcomes(chapter, root)
        out[chapter] = (sum(bool(o["holds"]) for o in outcomes), len(outcomes))
    return out


def counts_svg(counts: dict[str, tuple[int, int]], width: int = 560, bar: int = 18, gap: int = 8) -> str:
    """A horizontal bar per chapter, the claims that hold (filled) against all its claims
    (outlined), as a self-contained SVG that scales to the page and follows the text colour."""
    label_w, count_w = 64, 70
    scale = (width - label_w - count_w) / max([total for _, total in counts.values()] + [1])
    height = len(counts) * (bar + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="kdbook-overview" style="width:100%;max-width:{width}px;height:auto" '
             f'aria-label="Claims that hold, per chapter">']
    for i, (chapter, (holding, total)) in enumerate(counts.items()):
        y = gap + i * (bar + gap)
        parts.append(f'<text x="0" y="{y + bar - 4}" font-size="13" fill="currentColor">Chapter {int(chapter[2:])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{total * scale:.1f}" height="{bar}" fill="none" '
                     f'stroke="currentColor" stroke-opacity="0.5"/>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{holding * scale:.1f}" height="{bar}" fill="#0072B2"/>')
        parts.append(f'<text x="{label_w + total * scale + 6:.1f}" y="{y + bar - 4}" font-size="13" '
                     f'fill="currentColor">{holding} of {total}</text>')
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["MAIN_CLAIMS", "chapter_counts", "chapter_doc", "claims_root", "counts_svg", "main_claims"]
