"""The book end to end: every chapter through papermill in smoke, then the site with -W."""

import json
import re
import shutil

import nbformat
import pytest

from kdbook.book import build_book, chapter_notebooks
from kdbook.store import REPO_ROOT

NOTEBOOKS = [p.name for p in chapter_notebooks(REPO_ROOT)]


def test_toc_lists_notebooks():
    assert "ch01_soft_targets.ipynb" in NOTEBOOKS
    assert NOTEBOOKS[-1] == "appendix_reproducibility.ipynb"


def test_every_chapter_installs_the_library_first_on_colab():
    for name in NOTEBOOKS:
        nb = nbformat.read(REPO_ROOT / "book" / name, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert "google.colab" in first.source and "%pip install" in first.source, name
        assert "remove-cell" in first.metadata.get("tags", []), name


def _repository_url(root) -> str:
    return re.search(r"repository:\n  url: (\S+)", (root / "_config.yml").read_text()).group(1)


def test_the_repository_url_lives_in_one_place():
    """_config.yml's repository URL is the one every Colab install line uses (scripts/set-repository
    changes both)."""
    url = _repository_url(REPO_ROOT)
    for name in NOTEBOOKS:
        first = next(c for c in nbformat.read(REPO_ROOT / "book" / name, as_version=4).cells if c.cell_type == "code")
        assert f"git+{url}\"" in first.source, name


def test_set_repository_rewrites_the_config_and_every_install_line(tmp_path):
    import subprocess

    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO_ROOT / "scripts" / "set-repository", tmp_path / "scripts")
    shutil.copy(REPO_ROOT / "_config.yml", tmp_path)
    shutil.copytree(REPO_ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("_static", "_ext"))
    out = subprocess.run(["bash", str(tmp_path / "scripts" / "set-repository"), "https://github.com/someone/fork"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert _repository_url(tmp_path) == "https://github.com/someone/fork"
    for name in NOTEBOOKS:
        first = next(c for c in nbformat.read(tmp_path / "book" / name, as_version=4).cells if c.cell_type == "code")
        assert 'git+https://github.com/someone/fork"' in first.source, name


def test_sources_have_no_outputs_and_a_parameters_cell():
    for name in NOTEBOOKS:
        nb = nbformat.read(REPO_ROOT / "book" / name, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), name
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and "profile =" in tagged[0].source, name


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_chapter_executes_in_smoke(smoke_book, name):
    out, report = smoke_book
    run = {c.notebook: c for c in report.chapters}[name]
    assert run.ok, run.error
    nb = nbformat.read(out / "_build" / "stage" / "book" / name, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "remove-cell" in injected[0].metadata["tags"]
    assert "'smoke'" in injected[0].source or '"smoke"' in injected[0].source


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_plotting_cell_shows_exactly_one_figure(smoke_book, name):
    out, _ = smoke_book
    nb = nbformat.read(out / "_build" / "stage" / "book" / name, as_version=4)
    for cell in nb.cells:
        if "hide-input" in cell.metadata.get("tags", []):
            images = sum("image/png" in o.get("data", {}) for o in cell.outputs)
            assert images == 1, f"{name}: a plotting cell shows {images} figures:\n{cell.source[:200]}"


@pytest.mark.slow
def test_site_builds_without_warnings(smoke_book):
    out, report = smoke_book
    assert report.built, report.build_log[-3000:]
    html = (out / "_build" / "html" / "book" / "ch01_soft_targets.html").read_text()
    # glued numbers made it into the prose, and the injected parameters did not
    assert re.search(r"largest difference over all examples.*?\d\.\de-1\d", html, re.S)
    assert "injected-parameters" not in html and "Parameters" not in html
    assert (out / "_build" / "html" / "book" / "bibliography.html").is_file()
    assert "Hinton" in (out / "_build" / "html" / "book" / "bibliography.html").read_text()


def test_a_failing_notebook_fails_the_book(tmp_path):
    """A notebook that raises must make the driver report failure (CI must go red)."""
    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "_config.yml", root / "_config.yml")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/broken\n")
    (root / "book" / "intro.md").write_text("# Intro\n")
    (root / "book" / "references.bib").write_text("")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('profile = "smoke"\ndevice = "cpu"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("raise RuntimeError('chapter is broken')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "book" / "broken.ipynb")
    report = build_book(profile="smoke", root=root, out=tmp_path / "out", build=False, timeout=120)
    assert not report.ok
    assert "chapter is broken" in report.chapters[0].error or "RuntimeError" in report.chapters[0].error
    assert json.loads((tmp_path / "out" / "_build" / "stage" / "book" / "broken.ipynb").read_text())
