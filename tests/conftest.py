import os

import pytest
import torch

os.environ.setdefault("KDBOOK_PROGRESS", "0")


@pytest.fixture(autouse=True)
def _isolated_stores(tmp_path, monkeypatch):
    """Every test writes results and models under its own temporary folder."""
    monkeypatch.setenv("KDBOOK_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("KDBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KDBOOK_DOWNLOAD", "0")


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)
