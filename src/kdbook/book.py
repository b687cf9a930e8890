"""The book driver: execute each chapter with papermill, then build the site with execution off.

1. ``_config.yml``, ``_toc.yml`` and ``book/`` are copied into a staging folder
   (``_build/stage``), so the sources in ``book/`` never receive outputs.
2. Each chapter notebook is executed there by papermill with ``profile`` and ``device``
   injected; the injected cell is tagged ``remove-cell`` so the page does not show it.
3. ``jupyter-book build`` runs on the staging folder with ``-W -n --keep-going``; the site is
   written to ``_build/html``. Any failed notebook or any warning fails the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .store import REPO_ROOT

INJECTED_TAG = "injected-parameters"


@dataclass
class ChapterRun:
    notebook: str
    ok: bool
    seconds: float
    error: str = ""


@dataclass
class BookReport:
    """What the driver did: one entry per executed notebook and the build's outcome."""

    chapters: list[ChapterRun] = field(default_factory=list)
    built: bool | None = None
    build_log: str = ""
    html: Path | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.chapters) and self.built is not False

    def summary(self) -> str:
        lines = [f"{'ok ' if c.ok else 'FAILED'} {c.notebook} ({c.seconds:.0f} s){': ' + c.error if c.error else ''}"
                 for c in self.chapters]
        if self.built is not None:
            lines.append(f"site: {'built at ' + str(self.html) if self.built else 'build FAILED'}")
            if not self.built:
                lines.append(self.build_log[-4000:])
        return "\n".join(lines)


def toc_files(toc: Path) -> list[str]:
    """Every ``file:`` entry of a jupyter-book ``_toc.yml``, in reading order."""
    import yaml

    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if "file" in node:
                found.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    doc = yaml.safe_load(toc.read_text())
    found.append(str(doc.get("root", "")))
    walk(doc.get("parts", doc.get("chapters", [])))
    return [f for f in found if f]


def chapter_notebooks(root: Path, chapters: list[str] | None = None) -> list[Path]:
    """The notebooks to execute: those of ``chapters`` (ids like 'ch01'), else every notebook
    of the table of contents, in reading order (so the appendix sees the chapters' results)."""
    if chapters:
        from .experiments import chapter

        return [root / "book" / chapter(c).NOTEBOOK for c in chapters]
    paths = [root / (Path(f).with_suffix(".ipynb")) for f in toc_files(root / "_toc.yml")]
    return [p for p in paths if p.is_file()]


def stage(root: Path, stage_dir: Path) -> Path:
    """Copy the book's sources into ``stage_dir`` (replacing it) and return it."""
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage_dir / name)
    shutil.copytree(root / "book", stage_dir / "book",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "_build"))
    return stage_dir


def hide_injected_cell(path: Path) -> None:
    """Tag papermill's injected-parameters cell ``remove-cell`` so the page does not show it."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if INJECTED_TAG in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, path)


def execute_notebook(src: Path, dst: Path, *, profile: str, device: str, timeout: int = 3600,
                     cwd: Path | None = None) -> ChapterRun:
    """Run ``src`` with papermill into ``dst`` with the given parameters; never raises on cell errors."""
    import papermill as pm

    os.environ["KDBOOK_PROGRESS"] = "0"  # progress bars are for terminals, not pages
    start = time.perf_counter()
    error = ""
    try:
        pm.execute_notebook(str(src), str(dst), parameters={"profile": profile, "device": device},
                            kernel_name="python3", cwd=str(cwd or src.parent), execution_timeout=timeout,
                            progress_bar=False, log_output=False)
    except Exception as exc:  # PapermillExecutionError carries the cell's traceback
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    if dst.exists():
        hide_injected_cell(dst)
    return ChapterRun(src.name, not error, time.perf_counter() - start, error)


def jupyter_book_build(book_root: Path, output_root: Path) -> tuple[bool, str]:
    """``jupyter-book build`` with warnings as errors; returns (success, log)."""
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(book_root),
           "--path-output", str(output_root), "-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode == 0, proc.stdout + proc.stderr


def refresh_claims(chapters: list[str] | None = None, *, results_root: Path | None = None,
                   claims_root: Path | None = None) -> dict[str, list]:
    """Evaluate every chapter's claims on its stored ``full`` results (never computing any) and write
    them as JSON under ``results/full/claims/``; chapters whose results are not all stored are skipped.
    Returns chapter -> outcomes."""
    from .claims import evaluate, write_outcomes
    from .experiments import CHAPTERS, chapter
    from .reports import report
    from .store import MissingResult, stored_only, stores_at

    done: dict[str, list] = {}
    with stores_at(results=results_root), stored_only():
        for name in chapters or list(CHAPTERS):
            try:
                results = chapter(name).run("full", "cpu")
            except MissingResult as exc:
                print(f"claims of {name} not refreshed: {exc}", flush=True)
                continue
            done[name] = evaluate(report(name).CLAIMS, results)
            write_outcomes(name, done[name], claims_root)
    return done


def build_book(profile: str = "full", device: str = "cpu", chapters: list[str] | None = None, *,
               build: bool = True, root: Path | None = None, out: Path | None = None,
               timeout: int = 3600) -> BookReport:
    """Execute the chapters for ``profile`` and (unless ``build`` is False) build the HTML site.

    ``out`` is where ``_build`` goes (default: the repository root), so the site is ``out/_build/html``.
    """
    root = Path(root or REPO_ROOT)
    out = Path(out or root)
    if profile == "full":
        refresh_claims(chapters)  # so results/full/claims/ matches the stored results the pages read
    staged = stage(root, out / "_build" / "stage")
    report = BookReport()
    for nb in chapter_notebooks(root, chapters):
        print(f"executing {nb.name} (profile {profile}, device {device}) ...", flush=True)
        run = execute_notebook(nb, staged / "book" / nb.name, profile=profile, device=device,
                               timeout=timeout, cwd=root / "book")
        print(f"  {'ok' if run.ok else 'FAILED'} in {run.seconds:.0f} s {run.error}", flush=True)
        report.chapters.append(run)
    if build:
        print("building the site with jupyter-book (-W -n --keep-going) ...", flush=True)
        report.built, report.build_log = jupyter_book_build(staged, out)
        report.html = out / "_build" / "html" / "index.html"
        report.built = report.built and report.html.is_file()
    return report
