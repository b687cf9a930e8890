import os

import pytest
import torch

from kdbook.book import build_book

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


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """Execute every chapter in the smoke profile and build the site once for the session."""
    out = tmp_path_factory.mktemp("book")
    mp = pytest.MonkeyPatch()
    mp.setenv("KDBOOK_RESULTS", str(out / "results"))
    mp.setenv("KDBOOK_CACHE", str(out / "cache"))
    try:
        report = build_book(profile="smoke", device="cpu", out=out, timeout=900)
    finally:
        mp.undo()
    return out, report
