"""Check a built site the way a reader meets it: every page opened in headless Chromium.

A page fails when the browser logs an error (a script that throws, a file that does not load),
when an image is missing or cannot be decoded, or when an internal link or in-page anchor leads
nowhere. With ``reader=`` it also fails on what a reader should not meet (:data:`READER_CHECKS`):
Python reprs in the text (tuples, ``nan``, raw True/False), truncated "..." table cells, "(s)"
plurals, unformatted long floats, glued prose in bold, figures without a caption, and a page
wider than the window outside a scroll box. Screenshots of chosen pages are saved for a human to
look at (a CI artefact).

Needs the Debian packages ``chromium`` and ``chromium-driver`` and the Python package
``selenium``; no browser is downloaded.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urldefrag, urlparse

CHROMIUM = os.environ.get("KDBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KDBOOK_CHROMEDRIVER", "/usr/bin/chromedriver")

_BROKEN_IMAGES_JS = """
return Array.from(document.images)
  .filter(im => !im.complete || im.naturalWidth === 0)
  .map(im => im.getAttribute('src'));
"""
_LINKS_JS = "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);"

#: What a reader should not meet, by the name a Problem reports it under.
READER_CHECKS = ("tuple", "nan", "boolean", "truncated", "plural", "long-float", "bold-glue", "caption", "overflow")

# Text a reader sees: the article's paragraphs, list items and table cells, minus code and math.
_READER_JS = r"""
const checks = new Set(arguments[0]);
const out = [];
const article = document.querySelector('article') || document.body;
// code, math, and the API page's docstrings (which name NaN and tuples as the code does)
const skip = el => el.closest('pre, code, .highlight, mjx-container, .MathJax, script, style, .math, dl.py, section[id^="module-"]');
const texts = Array.from(article.querySelectorAll('p, li, td, th, caption, figcaption'))
  .filter(el => !skip(el)).map(el => [el.tagName.toLowerCase(), (el.innerText || '').trim()]);
const say = (kind, text) => out.push([kind, text.slice(0, 160)]);
for (const [tag, text] of texts) {
  const cell = tag === 'td' || tag === 'th';
  // a Python tuple's repr has ", " between items (a thousands separator, as in "(5,500)", has none)
  // and no name before its parenthesis (as in "Uniform(0, 1)")
  if (checks.has('tuple') && /(^|[^\w])\(\s*-?\d[\d.]*\s*,\s+-?\d[\d.]*\s*\)/.test(text)) say('tuple', text);
  if (checks.has('nan') && /(^|[^\w])nan([^\w]|$)/i.test(text)) say('nan', text);
  if (checks.has('boolean') && cell && /^(True|False)$/.test(text)) say('boolean', text);
  if (checks.has('truncated') && cell && /(\.\.\.|…)/.test(text)) say('truncated', text);
  if (checks.has('plural') && /\w\(s\)/.test(text)) say('plural', text);
  // an unformatted float: five or more decimals, four of them significant (80.233335, 0.012345) or
  // all zeros (100.000000); a small number to two digits (0.00092), four decimals (0.8636) and an
  // arXiv id (2012.09816) are fine
  if (checks.has('long-float') && /\d\.(?=\d{5})(0*[1-9]\d{3,}|0{5,})/.test(text.replace(/arXiv[:\s]*\d{4}\.\d{4,5}/gi, '')))
    say('long-float', text);
}
if (checks.has('bold-glue')) {
  for (const el of article.querySelectorAll('span.pasted-text')) {
    const text = (el.innerText || '').trim();
    if (text.length > 40 && parseInt(getComputedStyle(el).fontWeight, 10) >= 600) say('bold-glue', text);
  }
}
if (checks.has('caption')) {
  for (const img of article.querySelectorAll('img')) {
    if (img.closest('.navbar, header, footer, .sidebar-primary-items__start')) continue;
    const fig = img.closest('figure');
    if (!fig || !fig.querySelector('figcaption')) say('caption', img.getAttribute('src') || '');
  }
}
if (checks.has('overflow')) {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width + 1) {
    const wide = Array.from(article.querySelectorAll('*')).find(el => {
      const r = el.getBoundingClientRect();
      if (r.right <= width + 1) return false;
      for (let a = el.parentElement; a; a = a.parentElement) {
        const o = getComputedStyle(a).overflowX;
        if (o === 'auto' || o === 'scroll' || o === 'hidden') return false;
      }
      return true;
    });
    say('overflow', `page is ${document.documentElement.scrollWidth}px wide in a ${width}px window` +
        (wide ? ` (first wide element: <${wide.tagName.toLowerCase()} class="${wide.className}">)` : ''));
  }
}
return out;
"""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one page."""

    page: str
    kind: str  # 'console', 'image', 'link', 'anchor' or one of READER_CHECKS
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: {self.kind}: {self.detail}"


def browser_available() -> str | None:
    """None when Chromium, its driver and selenium are all present, else what is missing."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).is_file() or shutil.which(p))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    return ", ".join(missing) or None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a browser closing a connection early
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` over HTTP on a free localhost port for the duration of the block; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _driver(width: int = 1280, height: int = 1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--disable-extensions"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def site_pages(root: Path) -> list[str]:
    """The reader-facing HTML pages under ``root`` (Sphinx's search and index pages excluded)."""
    skip = {"search.html", "genindex.html", "py-modindex.html"}
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*.html")
                  if p.name not in skip and "_static" not in p.parts and "_sources" not in p.parts)


def _url_ok(url: str, cache: dict[str, bool]) -> bool:
    if url not in cache:
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                cache[url] = resp.status == 200
        except (urllib.error.URLError, OSError):
            cache[url] = False
    return cache[url]


def check_site(root: Path | str, pages: Sequence[str] | None = None, *,
               screenshots: dict[str, Path] | None = None, reader: Sequence[str] = (),
               width: int = 1280) -> list[Problem]:
    """Open every page of the built site at ``root`` in headless Chromium (a window ``width`` px
    wide); return what is wrong.

    ``screenshots`` maps a page (path relative to ``root``) to the PNG file to save it to;
    ``reader`` names the reader checks to run (see :data:`READER_CHECKS`).
    """
    unknown = sorted(set(reader) - set(READER_CHECKS))
    if unknown:
        raise ValueError(f"unknown reader checks {unknown}; known: {', '.join(READER_CHECKS)}")
    root = Path(root)
    pages = list(pages) if pages is not None else site_pages(root)
    problems: list[Problem] = []
    checked: dict[str, bool] = {}
    with serve(root) as base:
        driver = _driver(width=width)
        try:
            for page in pages:
                driver.get(base + page)
                driver.execute_script("return document.readyState")
                for entry in driver.get_log("browser"):
                    if entry.get("level") == "SEVERE":
                        problems.append(Problem(page, "console", entry.get("message", "")[:300]))
                for src in driver.execute_script(_BROKEN_IMAGES_JS):
                    problems.append(Problem(page, "image", f"{src} did not load"))
                for href in driver.execute_script(_LINKS_JS):
                    target, fragment = urldefrag(href)
                    if not target.startswith(base):
                        continue  # external links are not followed (no internet here)
                    if not _url_ok(target, checked):
                        problems.append(Problem(page, "link", f"{href} is broken"))
                    elif fragment and target == base + page and not driver.execute_script(
                            "return document.getElementById(arguments[0]) !== null", fragment):
                        problems.append(Problem(page, "anchor", f"#{fragment} is not on the page"))
                if reader:
                    for kind, detail in driver.execute_script(_READER_JS, list(reader)):
                        problems.append(Problem(page, kind, detail))
                if screenshots and page in screenshots:
                    Path(screenshots[page]).parent.mkdir(parents=True, exist_ok=True)
                    driver.save_screenshot(str(screenshots[page]))
        finally:
            driver.quit()
    return problems


def describe(problems: Sequence[Problem]) -> str:
    """One line per problem (or 'no problems')."""
    return "\n".join(map(str, problems)) if problems else "no problems"


def relative_page(url: str, base: str) -> str:
    """The path of ``url`` relative to the served ``base``."""
    return urlparse(url).path.removeprefix(urlparse(base).path)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kdbook.sitecheck SITE [--reader all | KIND ...] [--width PX]``: open every page of
    a built site, print what is wrong, exit 1 if anything is."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m kdbook.sitecheck", description=main.__doc__)
    p.add_argument("site", type=Path, help="the built site (e.g. _build/html)")
    p.add_argument("--reader", nargs="*", default=[], metavar="KIND",
                   help=f"reader checks to run ('all' or some of: {', '.join(READER_CHECKS)})")
    p.add_argument("--width", type=int, default=1280, help="window width in px (390 for a phone)")
    args = p.parse_args(argv)
    missing = browser_available()
    if missing:
        print(f"no headless browser: {missing}")
        return 2
    reader = READER_CHECKS if args.reader == ["all"] else tuple(args.reader)
    problems = check_site(args.site, reader=reader, width=args.width)
    print(describe(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
