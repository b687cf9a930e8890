"""The layering a contributor relies on: reading a chapter never imports the trainer, and notebooks
hold narrative, parameters and calls only (no function definitions, no sentence building)."""

import ast
import json
import re
import subprocess
import sys

import pytest

from kdbook.chapters import CHAPTER_MODULES
from kdbook.store import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "book").glob("*.ipynb"))
#: four or more words of prose inside one string literal, e.g. "the distilled net makes"
PROSE = re.compile(r"[A-Za-z]+(?:[ ,;:]+[A-Za-z']+){3,}")


@pytest.mark.parametrize("name", sorted(CHAPTER_MODULES.values()) + ["appendices", "common"])
def test_reading_a_chapter_never_imports_the_trainer(name):
    code = (f"import sys, kdbook.reports.{name}; "
            "bad = [m for m in ('kdbook.train', 'kdbook.experiments', 'kdbook.vectorized', 'kdbook.models') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def _code_cells(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            # IPython magics (the hidden Colab install cell) are not Python: read them as `pass`
            yield i, "\n".join(l[:len(l) - len(l.lstrip())] + "pass" if l.lstrip().startswith(("%", "!")) else l
                               for l in src.splitlines())


def logic_in_cell(src: str) -> list[str]:
    """What a notebook cell should not hold: function definitions, lambdas, and English built from strings."""
    problems = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            problems.append(f"defines {type(node).__name__} at line {node.lineno}")
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if PROSE.search(text):
                problems.append(f"builds a sentence at line {node.lineno}: {text[:60]!r}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            parts = [n.value for n in (node.left, node.right) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            if any(PROSE.search(p) for p in parts):
                problems.append(f"concatenates a sentence at line {node.lineno}")
    return problems


def test_the_logic_check_catches_definitions_and_sentences():
    assert logic_in_cell("def f(x):\n    return x") == ["defines FunctionDef at line 1"]
    assert logic_in_cell("g = lambda x: x") == ["defines Lambda at line 1"]
    assert logic_in_cell("s = f'the student makes {n} errors'")[0].startswith("builds a sentence")
    assert logic_in_cell("s = 'the student then makes ' + str(n)") == ["concatenates a sentence at line 1"]
    assert logic_in_cell("table = report.main_table(results['main'])\nax.set(xlabel=f'{w} units')") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_cells_hold_calls_not_logic(path):
    problems = [f"cell {i}: {p}" for i, src in _code_cells(path) for p in logic_in_cell(src)]
    assert problems == []


def test_the_validation_module_is_never_imported_under_a_short_alias():
    """`validate as v` was shadowed by a loop variable (`for k, v in ...`) in a chapter module."""
    offenders = [str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "src" / "kdbook").rglob("*.py")
                 if re.search(r"import validate as \w+", p.read_text())]
    assert offenders == []


def test_the_package_ships_no_test_jobs_and_no_page_named_modules():
    """The sweep test job lives in tests/ (it was shipped as kdbook/_sweep_example.py); the glue
    helpers are named for what they do (kdbook/glue.py, once pages.py)."""
    package = REPO_ROOT / "src" / "kdbook"
    names = {p.stem for p in package.rglob("*.py")}
    assert not {n for n in names if "example" in n or n.startswith("test")} and "pages" not in names
    assert (REPO_ROOT / "tests" / "sweep_jobs.py").is_file() and (package / "glue.py").is_file()
