"""The static-site slider: its data is the softmax at each temperature, and its page is whole."""

import json
import re

import pytest
import torch

from kdbook.interactive import softened_rows, temperature_grid, temperature_slider


def test_grid_and_rows_are_the_softened_probabilities():
    grid = temperature_grid(1.0, 3.0, 5)
    assert grid == [1.0, 1.5, 2.0, 2.5, 3.0]
    logits = torch.tensor([4.0, 1.0, 0.0])
    rows = softened_rows(logits, grid)
    assert all(abs(sum(r) - 1) < 1e-5 for r in rows)
    assert rows[0] == pytest.approx(torch.softmax(logits, -1).tolist(), abs=1e-6)
    assert rows[-1][0] < rows[0][0]  # a higher temperature flattens the top class
    with pytest.raises(ValueError):
        temperature_grid(2.0, 1.0)


def test_slider_page_embeds_one_bar_per_class_and_its_data():
    page = temperature_slider(torch.tensor([4.0, 1.0, 0.0]), ["Shirt", "T-shirt/top", "Bag & co"], [1.0, 2.0, 4.0])
    assert page.count('class="bar"') == 3 and 'type="range"' in page and 'max="2"' in page
    assert "Bag &amp; co" in page  # names are escaped
    data = json.loads(re.search(r"var d = (\{.*?\}), root", page).group(1))
    assert data["T"] == [1.0, 2.0, 4.0] and len(data["p"]) == 3 and len(data["p"][0]) == 3
