"""Execute the tour notebook and write what a person opens: the executed tour and a report."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
TOUR = "01_tour.ipynb"


def execute_tour(history: Path, experiment: Path, reports: Path, *, timeout_s: int = 600) -> str:
    """Run the tour in a real kernel; write ``tour.html`` and ``report.html``; say where.

    The tour runs on a copy (the committed notebook keeps its outputs), in the notebooks
    folder so its relative paths hold. The report covers the ``history`` store; both pages
    carry Vega inlined and open offline.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ExecutePreprocessor

    from llmobs_nb.view import write_report

    reports.mkdir(parents=True, exist_ok=True)
    source = NOTEBOOKS / TOUR
    if not source.exists():
        return f"tour notebook not found at {source}: run from a clone of the repository"
    started = time.perf_counter()
    notebook = nbformat.read(source, as_version=4)
    ExecutePreprocessor(timeout=timeout_s, kernel_name="python3").preprocess(
        notebook, {"metadata": {"path": str(NOTEBOOKS)}}
    )
    executed = reports / TOUR
    nbformat.write(notebook, executed)
    body, _ = HTMLExporter().from_notebook_node(notebook)
    tour_html = reports / "tour.html"
    tour_html.write_text(body, encoding="utf-8")
    report = write_report(history, reports / "report.html", title="llmobs_nb demo: history")
    if experiment.exists():
        write_report(experiment, reports / "experiment.html", title="llmobs_nb demo: experiment")
    shutil.copy(report, reports / "index.html")
    took = time.perf_counter() - started
    return (
        f"tour executed in {took:.0f}s → open {report.resolve()} "
        f"(also {tour_html.resolve()}, {executed.resolve()})"
    )
