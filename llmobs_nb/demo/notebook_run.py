"""Execute the tour notebook and write what a person opens: the executed tour and a report.

The exported tour stands alone, offline. nbconvert's HTML page prefers a widget view
(``application/vnd.jupyter.widget-view+json``) over ``text/html`` whenever the notebook's
metadata holds the widget's state, and then loads the widgets' html-manager from a CDN (and
RequireJS and MathJax from another): opened offline, the dashboard's place stays empty. So
:func:`export_html` exports a copy without the widget state: every output that has a
``text/html`` beside its widget view — the dashboard's static snapshot
(:mod:`llmobs_nb.view.dashboard_snapshot`) — shows that, and the page names no CDN script.
The executed notebook written beside it keeps the widget state, for JupyterLab.
"""

from __future__ import annotations

import copy
import shutil
import time
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
TOUR = "01_tour.ipynb"
#: Where nbconvert's page would fetch RequireJS and MathJax from a CDN: empty scripts instead
#: (nothing in an exported tour needs them; ``$`` amounts stay text).
NO_CDN = {"require_js_url": "data:text/javascript,", "mathjax_url": "data:text/javascript,"}
WIDGET_STATE = "widgets"


def execute_notebook(source: Path, *, cwd: Path, timeout_s: int = 600) -> Any:
    """Run every cell of the notebook at ``source`` in a real ``python3`` kernel started in
    ``cwd`` (its relative paths hold there); returns the executed notebook (the file is not
    changed). The widgets' state is kept in its metadata, as JupyterLab saves it.

    Example:
        >>> executed = execute_notebook(NOTEBOOKS / TOUR, cwd=NOTEBOOKS)   # doctest: +SKIP
    """
    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor

    notebook = nbformat.read(source, as_version=4)
    ExecutePreprocessor(timeout=timeout_s, kernel_name="python3").preprocess(
        notebook, {"metadata": {"path": str(cwd)}}
    )
    return notebook


def export_html(notebook: Any) -> str:
    """The executed ``notebook`` as one HTML page that opens offline, from a file: its widget
    outputs shown by the ``text/html`` they carry (the dashboard's snapshot), no script from a
    CDN, and the vendored Vega libraries once in the head when a snapshot needs them and no
    chart output of the page carries them already. ``notebook`` is not changed.

    Example:
        >>> import nbformat
        >>> page = export_html(nbformat.v4.new_notebook())
        >>> page.startswith("<!DOCTYPE html>"), "unpkg.com" in page, "cdnjs" in page
        (True, False, False)
    """
    from nbconvert import HTMLExporter

    from llmobs_nb.view import offline
    from llmobs_nb.view.dashboard_snapshot import SNAPSHOT_CLASS

    page = copy.deepcopy(notebook)
    page.metadata.pop(WIDGET_STATE, None)
    body, _ = HTMLExporter(**NO_CDN).from_notebook_node(page)
    if SNAPSHOT_CLASS in body and offline.loader_js() not in body:
        body = body.replace("</head>", f"{offline.loader_html()}</head>", 1)
    return body


def execute_tour(history: Path, experiment: Path, reports: Path, *, timeout_s: int = 600) -> str:
    """Run the tour in a real kernel; write ``tour.html`` and ``report.html``; say where.

    The tour runs on a copy (the committed notebook keeps its outputs), in the notebooks
    folder so its relative paths hold. ``tour.html`` comes from :func:`export_html` (the
    dashboard as a static snapshot); the report covers the ``history`` store; both pages
    carry Vega inlined and open offline.
    """
    import nbformat

    from llmobs_nb.view import write_report

    reports.mkdir(parents=True, exist_ok=True)
    source = NOTEBOOKS / TOUR
    if not source.exists():
        return f"tour notebook not found at {source}: run from a clone of the repository"
    started = time.perf_counter()
    notebook = execute_notebook(source, cwd=NOTEBOOKS, timeout_s=timeout_s)
    executed = reports / TOUR
    nbformat.write(notebook, executed)
    tour_html = reports / "tour.html"
    tour_html.write_text(export_html(notebook), encoding="utf-8")
    report = write_report(history, reports / "report.html", title="llmobs_nb demo: history")
    if experiment.exists():
        write_report(experiment, reports / "experiment.html", title="llmobs_nb demo: experiment")
    shutil.copy(report, reports / "index.html")
    took = time.perf_counter() - started
    return (
        f"tour executed in {took:.0f}s → open {report.resolve()} "
        f"(also {tour_html.resolve()}, {executed.resolve()})"
    )
