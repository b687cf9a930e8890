"""The intro's results at a glance: its main claims exist in the chapters, and it reads the
stored outcomes as they are."""

import importlib
import json

from kdbook import overview
from kdbook.chapters import CHAPTER_MODULES, module_name


def test_every_main_claim_is_one_of_its_chapters_claims():
    for chapter, ids in overview.MAIN_CLAIMS.items():
        known = {c.id for c in importlib.import_module(module_name("kdbook.reports", chapter)).CLAIMS}
        assert set(ids) <= known, f"{chapter}: {sorted(set(ids) - known)}"
    assert set(overview.MAIN_CLAIMS) == set(CHAPTER_MODULES)


def _write(root, chapter, outcomes):
    (root / f"{chapter}.json").write_text(json.dumps(outcomes))


def test_main_claims_say_what_the_page_says_and_mark_missing_ones(tmp_path):
    _write(tmp_path, "ch08", [{"id": "ch08.distilled_beats_labels", "holds": False, "statement": "It helps.",
                               "negation": "It does not clearly help.", "numbers": {}, "source": "prose"},
                              {"id": "ch08.other", "holds": True, "statement": "x", "negation": "y",
                               "numbers": {}, "source": "prose"}])
    rows = {r["id"]: r for r in overview.main_claims(tmp_path)}
    assert rows["ch08.distilled_beats_labels"]["says"] == "It does not clearly help."
    assert rows["ch08.distilled_beats_labels"]["outcome"] == "does not hold"
    assert rows["ch08.distilled_beats_labels"]["doc"] == "ch08_deployment"
    assert rows["ch09.distillation_helps_at_some_class_count"]["outcome"] == "not stored"
    counts = overview.chapter_counts(tmp_path)
    assert counts["ch08"] == (1, 2) and counts["ch01"] == (0, 0)


def test_counts_figure_draws_one_bar_pair_per_chapter():
    svg = overview.counts_svg({"ch01": (3, 4), "ch02": (0, 2)})
    assert svg.startswith("<svg") and svg.count("<rect") == 4
    assert "3 of 4" in svg and "0 of 2" in svg and "Chapter 2" in svg
    filled = [part for part in svg.split("<rect")[1:] if 'fill="#0072B2"' in part]
    widths = [float(p.split('width="')[1].split('"')[0]) for p in filled]
    assert widths[0] > 0 and widths[1] == 0
