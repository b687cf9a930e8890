"""Glue computed values into a page's prose (``myst_nb.glue``) without displaying them."""

from __future__ import annotations


class Plain(str):
    """A string whose text representation has no quotes, for ``{glue:text}`` in prose."""

    def __repr__(self) -> str:
        return str(self)


def glue_all(values: dict, prefix: str = "") -> None:
    """``myst_nb.glue`` every (name, value) pair without displaying it.

    Strings are glued as themselves: myst-nb reads a glued value's text back with ``literal_eval``,
    so a string's quoted repr returns the string, where an unquoted one could turn "1,650" into the
    tuple (1, 650). Numpy and torch scalars become Python numbers.
    """
    from myst_nb import glue

    for name, value in values.items():
        if isinstance(value, str):
            value = str(value)  # a Plain would lose its quotes and be read back as Python
        elif hasattr(value, "item"):  # numpy and torch scalars: glue:text needs plain numbers
            value = value.item()
        glue(prefix + name, value, display=False)


def source(obj) -> "IPython.display.Code":
    """The library's own source of ``obj`` (a function or class), shown highlighted on the page, so
    the code a chapter explains is the code that ran and the two cannot drift."""
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


def glue_figure(name: str, fig) -> None:
    """Glue a figure without displaying it, for a ``{glue:figure}`` directive in the prose that
    gives it a number, a caption and alt text (the figure's code stays out of the page)."""
    from myst_nb import glue

    glue(name, fig, display=False)
