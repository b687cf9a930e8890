"""The book's one table formatter, on worked examples."""

import math

import numpy as np
import pandas as pd

from kdbook.reports import tables


def test_cells_read_as_a_reader_expects():
    assert tables.cell(0.123456) == "0.12"
    assert tables.cell(0.123456, "{:.1%}") == "12.3%"
    assert tables.cell(12345) == "12,345" and tables.cell(np.int64(5500)) == "5,500"
    assert tables.cell(float("nan")) == "-" and tables.cell(None) == "-" and tables.cell(np.float64("nan")) == "-"
    assert tables.cell(True) == "yes" and tables.cell(False, truth=("holds", "does not hold")) == "does not hold"
    assert tables.cell((16, 32, 64)) == "16, 32, 64" and tables.cell((4.0, 1.0)) == "4, 1"
    assert tables.cell("Shirt") == "Shirt"
    assert tables.cell(2.5, lambda v: f"{v:+.1f} pts") == "+2.5 pts"


def test_one_pass_keeps_every_column_format():
    df = pd.DataFrame({"accuracy": [100.0, 83.387097], "members": [10, 3], "kl_div": [0.230723, math.nan],
                       "held": [True, False]}, index=pd.Index(["a", "b"], name="model_name"))
    html = tables.styled(df, "{:.2f}", {"kl_div": "{:.3f}"}).to_html()
    assert "100.00" in html and "83.39" in html and "0.231" in html
    assert "100.000000" not in html and "nan" not in html.lower().replace("nanoseconds", "")
    assert ">yes<" in html and ">no<" in html and "kl div" in html and "model name" in html
    text = tables.table_text(df, "{:.1f}")
    assert text.loc["b", "kl div"] == "-" and text.loc["a", "members"] == "10" and text.index.name == "model name"


def test_shapes_read_as_dimensions():
    assert tables.shape_text("digits: 1258 train, inputs (1, 8, 8) (scikit-learn)") == (
        "digits: 1258 train, inputs 1×8×8 (scikit-learn)")
    assert tables.shape_text("noise Uniform(0, 1)") == "noise Uniform(0, 1)"
