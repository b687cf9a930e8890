"""Small fixes to the built site, found by opening every page in a headless browser.

* sphinx-thebe registers its configuration script once per read pass; when Sphinx reads twice
  in one build, pages declare ``THEBE_JS_URL`` twice and the browser reports a SyntaxError.
  Each page keeps one copy of every script.
* The book's stylesheet (``book/_static/kdbook.css``): glued prose in the normal weight, and
  wide tables scrolling inside their own box on a phone.
* pydata-sphinx-theme logs "Got invalid theme mode" on a reader's first visit (empty
  localStorage); an early script sets the mode to 'auto' first.
"""

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


def setup(app):
    app.add_js_file(None, body=_THEME_MODE, priority=100)
    app.add_css_file("kdbook.css")
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
