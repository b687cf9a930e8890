"""Claims as data: every chapter's claims evaluated on the stored `full` results, their JSON
current, and no page asserting a claim that does not hold."""

import importlib.util
import json

import pytest

from kdbook import claims
from kdbook.book import refresh_claims
from kdbook.errors import ConfigError
from kdbook.experiments import chapter
from kdbook.reports import REPORTS, report
from kdbook.store import REPO_ROOT

STORED = REPO_ROOT / "results"
CHAPTERS = [name for name in REPORTS if importlib.util.find_spec(REPORTS[name]) is not None
            and getattr(report(name), "CLAIMS", ())]


def _always(holds, **numbers):
    return lambda results: (holds, numbers)


def test_a_claim_needs_a_namespaced_id_a_statement_and_a_known_source():
    with pytest.raises(ConfigError, match="ch02.short_name"):
        claims.Claim("distilled_wins", "a", "b", _always(True))
    with pytest.raises(ConfigError, match="source"):
        claims.Claim("ch02.x", "a", "b", _always(True), source="blog")


def test_outcomes_read_as_words_never_raw_booleans():
    out = claims.evaluate([claims.Claim("ch02.a", "A holds.", "A does not hold.", _always(True, gap=0.123456789)),
                           claims.Claim("ch02.b", "B holds.", "B does not hold.", _always(False, n=3))], {})
    table = claims.outcomes_frame(out)
    assert list(table["here"]) == ["holds", "does not hold"]
    assert table.loc["ch02.a", "numbers"] == "gap = 0.123" and "True" not in table.to_string()
    assert [o.sentence() for o in out] == ["A holds.", "B does not hold."]
    html = claims.outcomes_table(out).to_html()
    assert "A holds." in html and "does not hold" in html and "..." not in html


def test_repeated_claim_ids_are_refused():
    c = claims.Claim("ch02.a", "A.", "not A.", _always(True))
    with pytest.raises(ConfigError, match="unique"):
        claims.evaluate([c, c], {})


def test_prose_asserting_a_false_claim_is_caught():
    out = claims.evaluate([claims.Claim("ch02.wins", "It wins.", "It does not win.", _always(False)),
                           claims.Claim("ch02.fine", "Fine.", "Not fine.", _always(True))], {})
    prose = "The distilled net wins.\n% claim: ch02.wins\n\nAll fine.\n% claim: ch02.fine\n\n% claim: ch02.nope\n"
    assert claims.asserted_claims(prose) == ["ch02.wins", "ch02.fine", "ch02.nope"]
    problems = claims.check_prose(prose, out)
    assert problems == ["prose asserts ch02.wins, which does not hold on the stored results",
                        "prose asserts unknown claim ch02.nope"]
    assert claims.check_prose("All fine.\n% claim: ch02.fine\n", out) == []


def test_stored_outcomes_round_trip(tmp_path):
    out = claims.evaluate([claims.Claim("ch02.a", "A.", "not A.", _always(True, x=1.5))], {})
    path = claims.write_outcomes("ch02", out, tmp_path)
    doc = json.loads(path.read_text())
    assert doc == [{"id": "ch02.a", "statement": "A.", "negation": "not A.", "holds": True,
                    "numbers": {"x": 1.5}, "source": "prose"}]
    assert claims.read_outcomes("ch02", tmp_path) == doc


@pytest.fixture(scope="module")
def stored_outcomes(tmp_path_factory):
    """Every chapter's claims evaluated on the repository's stored `full` results (nothing computed)."""
    fresh = tmp_path_factory.mktemp("claims")
    return fresh, refresh_claims(CHAPTERS, results_root=STORED, claims_root=fresh)


@pytest.mark.parametrize("name", CHAPTERS)
def test_claims_evaluate_on_the_stored_full_results_and_their_json_is_current(name, stored_outcomes):
    fresh, outcomes = stored_outcomes
    assert name in outcomes, f"{name}: some stored full result is missing"
    assert claims.read_outcomes(name) == claims.read_outcomes(name, fresh), (
        f"results/full/claims/{name}.json is stale: rebuild with `python -m kdbook claims`")


@pytest.mark.parametrize("name", CHAPTERS)
def test_the_page_asserts_only_claims_that_hold(name, stored_outcomes):
    _, outcomes = stored_outcomes
    prose = claims.notebook_markdown(REPO_ROOT / "book" / chapter(name).NOTEBOOK)
    assert claims.check_prose(prose, outcomes[name]) == []
