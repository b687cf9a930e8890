"""The reader checks of the browser test, each shown catching its defect on a small page."""

import pytest

from kdbook.sitecheck import READER_CHECKS, browser_available, check_site

GOOD = """<p>The teacher makes 1,004 errors out of 10,000 (mean over 3 seeds); 91.2% of them, T = 4, on (5,500) images, l ~ Uniform(0, 1).</p>
<table><tr><th>model</th><th>errors</th></tr><tr><td>teacher</td><td>1,004 ± 12</td></tr></table>
<figure><img src="x.png" alt="a plot"><figcaption>Figure 1: a plot.</figcaption></figure>
<p>Allen-Zhu and Li. Towards understanding ensembles. arXiv preprint arXiv:2012.09816, 2020.</p>
<p>The runner-up gets 0.00092% at T = 1.</p>
<section id="module-kdbook.train"><p>A NaN loss stops the run.</p></section>
<dl class="py function"><dd><p>The loss became NaN; a shape such as (10, 0) is refused.</p></dd></dl>"""

DEFECTS = {
    "tuple": "<p>Test errors out of (10, 0).</p>",
    "nan": "<table><tr><td>nan</td></tr></table>",
    "boolean": "<table><tr><td>True</td></tr></table>",
    "truncated": "<table><tr><td>T-shirt, Shirt, Sne...</td></tr></table>",
    "plural": "<p>Over 1 seed(s).</p>",
    "long-float": "<p>Accuracy 80.233335 on test.</p>",
    "bold-glue": '<p><span class="pasted-text" style="font-weight: bold">With all the images the teacher '
                 'makes fewer errors than the small net.</span></p>',
    "caption": '<div><img src="x.png" alt=""></div>',
    "overflow": '<table><tr><td style="white-space: nowrap">' + "wide " * 200 + "</td></tr></table>",
}
_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                     "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture(scope="module")
def browser():
    missing = browser_available()
    if missing:
        pytest.skip(f"no headless browser here: {missing}")


def _site(tmp_path, body: str):
    (tmp_path / "x.png").write_bytes(_PNG)
    (tmp_path / "favicon.ico").write_bytes(_PNG)
    (tmp_path / "page.html").write_text(f"<!doctype html><html><head><meta charset='utf-8'></head>"
                                        f"<body><article>{body}</article></body></html>")
    return tmp_path


def test_a_clean_page_passes_every_reader_check(tmp_path, browser):
    assert check_site(_site(tmp_path, GOOD), ["page.html"], reader=READER_CHECKS, width=390) == []


@pytest.mark.parametrize("kind", sorted(DEFECTS))
def test_each_reader_check_catches_its_defect(tmp_path, browser, kind):
    problems = check_site(_site(tmp_path, GOOD + DEFECTS[kind]), ["page.html"], reader=READER_CHECKS, width=390)
    assert {p.kind for p in problems} == {kind}, problems


def test_unknown_reader_checks_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown reader checks"):
        check_site(tmp_path, [], reader=["tuples"])


@pytest.mark.parametrize("text", ["100.000000", "0.012345", "1.980556"])
def test_every_shape_of_unformatted_float_is_caught(tmp_path, browser, text):
    problems = check_site(_site(tmp_path, f"<table><tr><td>{text}</td></tr></table>"), ["page.html"],
                          reader=["long-float"], width=390)
    assert [p.kind for p in problems] == ["long-float"], problems
