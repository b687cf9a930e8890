"""Small fixes to the built site, found by opening every page in a headless browser.

* sphinx-thebe registers its configuration script once per read pass; when Sphinx reads twice
  in one build, pages declare ``THEBE_JS_URL`` twice and the browser reports a SyntaxError.
  Each page keeps one copy of every script.
* The book's stylesheet (``book/_static/kdbook.css``): glued prose in the normal weight, and
  wide tables scrolling inside their own box on a phone.
* pydata-sphinx-theme logs "Got invalid theme mode" on a reader's first visit (empty
  localStorage); an early script sets the mode to 'auto' first.
* The ``claims-overview`` directive: the intro's results at a glance, from the stored claims
  (:mod:`kdbook.overview`), so the intro cannot drift from the chapters.
"""

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

_THEME_MODE = ('if (!document.documentElement.dataset.mode) {'
               ' document.documentElement.dataset.mode = "auto";'
               ' if (!localStorage.getItem("mode")) { localStorage.setItem("mode", "auto"); } }')


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # the same inline script is registered once with filename None and once with ''
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


class ClaimsOverview(Directive):
    """A bar per chapter (claims that hold / all), then a table of every chapter's main claims
    with what its page says and the outcome, linked to the chapter."""

    has_content = False

    def run(self):
        from kdbook.overview import chapter_counts, counts_svg, main_claims

        counts = chapter_counts()
        figure = nodes.container(classes=["kdbook-overview-figure"])
        figure += nodes.raw("", counts_svg(counts), format="html")
        figure += nodes.paragraph(text="Claims that hold in the published runs, per chapter (filled), out of all the "
                                       "claims each chapter checks on its stored results (outlined).")
        lines = ["| chapter | main claim, as its page states it | here |", "| --- | --- | --- |"]
        for row in main_claims():
            says = row["says"].replace("|", "\\|") or row["id"]
            lines.append(f"| {{doc}}`Chapter {int(row['chapter'][2:])} <{row['doc']}>` | {says} | {row['outcome']} |")
        container = nodes.container(classes=["kdbook-overview-table"])
        self.state.nested_parse(StringList(lines, source="claims-overview"), self.content_offset, container)
        return [figure, container]


def setup(app):
    app.add_directive("claims-overview", ClaimsOverview)
    app.add_js_file(None, body=_THEME_MODE, priority=100)
    app.add_css_file("kdbook.css")
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
