"""The built site opened page by page in headless Chromium: no console error, no missing image,
no broken internal link; screenshots of the intro and a chapter are kept as a CI artefact."""

import os
import re
import shutil
from pathlib import Path

import pytest

from kdbook.sitecheck import browser_available, check_site, describe, site_pages
from kdbook.store import REPO_ROOT

ARTIFACTS = Path(os.environ.get("KDBOOK_ARTIFACTS", REPO_ROOT / "_build" / "artifacts"))


@pytest.fixture(scope="module")
def browser():
    missing = browser_available()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI but {missing} is missing (scripts/setup-env installs it)")
        pytest.skip(f"no headless browser here: {missing}")


@pytest.mark.slow
def test_every_page_opens_cleanly(smoke_book, browser):
    out, report = smoke_book
    assert report.built, report.build_log[-2000:]
    html = out / "_build" / "html"
    pages = site_pages(html)
    assert "book/ch02_big_to_small.html" in pages and "book/api.html" in pages
    shots = {"book/intro.html": ARTIFACTS / "screenshots" / "intro.png",
             "book/ch02_big_to_small.html": ARTIFACTS / "screenshots" / "ch02_big_to_small.png"}
    problems = check_site(html, pages, screenshots=shots)
    assert not problems, describe(problems)
    for path in shots.values():
        assert path.is_file() and path.stat().st_size > 10_000, path


@pytest.mark.slow
def test_the_check_catches_a_broken_page(smoke_book, browser, tmp_path):
    """Break a copy of the site three ways; each must be reported."""
    out, _ = smoke_book
    site = tmp_path / "site"
    shutil.copytree(out / "_build" / "html", site)
    page = site / "book" / "ch02_big_to_small.html"
    text = page.read_text()
    image = re.search(r'<img[^>]+src="\.\./(_images/[^"]+)"', text).group(1)
    (site / image).unlink()  # a missing figure
    text = text.replace("</body>", '<a href="no_such_page.html">gone</a>'
                        '<script>throw new Error("kdbook-broken-page")</script></body>')
    page.write_text(text)
    problems = check_site(site, ["book/ch02_big_to_small.html", "book/intro.html"])
    kinds = {(p.page, p.kind) for p in problems}
    assert ("book/ch02_big_to_small.html", "image") in kinds, describe(problems)
    assert ("book/ch02_big_to_small.html", "link") in kinds, describe(problems)
    assert any(p.kind == "console" and "kdbook-broken-page" in p.detail for p in problems), describe(problems)
    assert not any(p.page == "book/intro.html" for p in problems), describe(problems)
