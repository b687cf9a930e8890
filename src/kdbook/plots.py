"""One plotting style for the whole book; every function returns a matplotlib Figure.

The library never selects a backend: notebooks render inline, scripts may save figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

#: Colour-blind-safe palette (Okabe & Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": plt.cycler(color=PALETTE),
    "font.size": 10,
    "legend.frameon": False,
}


#: Resolution of the figures on the book's pages: sharp when zoomed and on high-density phone screens.
PAGE_DPI = 160


def png_bytes(fig: Figure, dpi: int = PAGE_DPI) -> bytes:
    """The figure rendered as PNG."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _register_notebook_display() -> None:
    """In IPython, show a Figure that ends a cell as a PNG (the book's figures bypass pyplot)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type(Figure, png_bytes)


_register_notebook_display()


def figure(ncols: int = 1, nrows: int = 1, width: float | None = None, height: float | None = None,
           **kwargs) -> tuple[Figure, np.ndarray]:
    """A new figure in the book's style with an array of axes.

    The figure is not registered with pyplot, so it is shown only where a notebook displays it
    (end a cell with ``fig``) and never accumulates in pyplot's list of open figures.
    """
    with plt.rc_context(STYLE):
        w = width or 3.6 * ncols + 1.0
        h = height or 3.2 * nrows
        fig = Figure(figsize=(w, h), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes.ravel()


def _target(ax):
    """(figure, axes) to draw on: ``ax``'s, or a new single-axes figure in the book's style."""
    if ax is not None:
        return ax.figure, ax
    fig, axes = figure()
    return fig, axes[0]


def lines(x: Sequence[float], series: Mapping[str, Sequence[float]], *, xlabel: str, ylabel: str,
          title: str = "", logx: bool = False, logy: bool = False, spread: Mapping[str, Sequence[float]] | None = None,
          ax=None) -> Figure:
    """One line per series over ``x``, with an optional shaded +-spread band per series."""
    with plt.rc_context(STYLE):
        fig, ax = _target(ax)
        for i, (label, ys) in enumerate(series.items()):
            color = PALETTE[i % len(PALETTE)]
            ax.plot(x, ys, marker="o", ms=3.5, label=label, color=color)
            if spread and label in spread:
                lo = np.asarray(ys) - np.asarray(spread[label])
                hi = np.asarray(ys) + np.asarray(spread[label])
                ax.fill_between(x, lo, hi, alpha=0.2, color=color)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        if len(series) > 1:
            ax.legend()
    return fig


def bars(labels: Sequence[str], values: Sequence[float], *, ylabel: str, errors: Sequence[float] | None = None,
         title: str = "", ax=None) -> Figure:
    """A bar chart with optional error bars."""
    with plt.rc_context(STYLE):
        fig, ax = _target(ax)
        ax.bar(labels, values, yerr=errors, color=[PALETTE[i % len(PALETTE)] for i in range(len(labels))],
               capsize=3)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
    return fig


def heatmap(matrix, *, row_labels: Sequence[str], col_labels: Sequence[str], title: str = "",
            cmap: str = "RdBu_r", vmin: float | None = None, vmax: float | None = None, label: str = "",
            colorbar: bool = True, ax=None) -> Figure:
    """A matrix as coloured cells with labelled rows and columns (and a colour bar)."""
    with plt.rc_context(STYLE):
        fig, ax = _target(ax)
        m = np.asarray(matrix, dtype=float)
        im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(m.shape[1]), labels=list(col_labels))
        ax.set_yticks(range(m.shape[0]), labels=list(row_labels))
        ax.grid(False)
        if title:
            ax.set_title(title)
        if colorbar:
            fig.colorbar(im, ax=ax, label=label, shrink=0.9)
    return fig
