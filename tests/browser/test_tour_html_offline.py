"""An exported notebook shows the dashboard with no widget manager and no network; JupyterLab
shows the live widget instead.

A small notebook with a dashboard cell is executed in a real kernel and exported to HTML by
the code ``make demo`` uses for ``reports/tour.html`` (:mod:`llmobs_nb.demo.notebook_run`);
the page is opened from a file in real Chromium with every request that is not a file, data or
blob URL blocked and recorded. The dashboard's headline figures must read as the store says,
every panel must be drawn as an SVG chart, and no request may leave the machine.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import nbformat
import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright is not installed: pip install -e '.[dev]' (no browser download needed)",
)

from llmobs_nb import demo  # noqa: E402
from llmobs_nb.demo.notebook_run import execute_notebook, export_html  # noqa: E402
from llmobs_nb.view.panels import FAST_PANELS, SLOW_PANELS  # noqa: E402
from tests.browser import lab_page  # noqa: E402
from tests.browser.jupyter_lab import jupyter_lab  # noqa: E402
from tests.browser.lab_page import (  # noqa: E402
    _CHARTS_JS,
    CHROMIUM,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"
    ),
]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
LOCAL = ("file:", "data:", "blob:")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, nbformat.NotebookNode]:
    """The store, the exported page and the executed notebook."""
    folder = tmp_path_factory.mktemp("tour-html")
    store = folder / "history.duckdb"
    demo.generate(5_000, days=3, seed=1, start=datetime(2026, 3, 2, tzinfo=UTC), store=store)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# A dashboard, exported"),
        nbformat.v4.new_code_cell(
            "from llmobs_nb.view import Dashboard\ndashboard = Dashboard('history.duckdb')"
        ),
        # .wait(): displayed once the background panels are drawn, so the snapshot has them
        nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\ndashboard.wait()"),
    ]
    source = folder / "dashboard.ipynb"
    nbformat.write(notebook, source)
    executed = execute_notebook(source, cwd=folder, timeout_s=300)
    page = folder / "dashboard.html"
    page.write_text(export_html(executed), encoding="utf-8")
    return store, page, executed


def test_the_executed_notebook_keeps_the_live_widget_for_jupyterlab(
    exported: tuple[Path, Path, nbformat.NotebookNode],
) -> None:
    _, _, executed = exported
    (output,) = executed.cells[2].outputs
    assert {WIDGET_VIEW, "text/html", "text/plain"} <= set(output.data)
    state = executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert output.data[WIDGET_VIEW]["model_id"] in state


def test_the_exported_dashboard_draws_offline_from_a_file(
    exported: tuple[Path, Path, nbformat.NotebookNode], tmp_path: Path
) -> None:
    store, page, _ = exported
    with duckdb.connect(str(store), read_only=True) as db:
        calls, cost = db.execute("select count(*), sum(cost_usd) from llm_calls").fetchone()
    blocked: list[str] = []

    def only_local(route: sync_api.Route) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        context = lab_page.launch(playwright, tmp_path / "profile", {"width": 1400, "height": 1000})
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        context.route("**/*", only_local)
        try:
            browser_page = context.new_page()
            browser_page.goto(page.as_uri())
            snapshot = browser_page.locator(".llmobs-snapshot")
            n_panels = len(FAST_PANELS) + len(SLOW_PANELS)
            browser_page.wait_for_function(
                "n => document.querySelectorAll('.llmobs-snapshot .vega-embed svg.marks')"
                ".length >= n",
                arg=n_panels,
                timeout=60_000,
            )
            cards = dict(
                zip(
                    snapshot.locator(".card .k").all_inner_texts(),
                    snapshot.locator(".card .v").all_inner_texts(),
                    strict=True,
                )
            )
            charts = snapshot.evaluate(_CHARTS_JS)
            panels = snapshot.locator("[data-panel]").evaluate_all(
                "els => els.map(e => e.dataset.panel)"
            )
            failures = browser_page.get_by_text("chart error").count()
            browser_page.screenshot(path=tmp_path / "dashboard.png", full_page=True)
        finally:
            context.close()
    # The ALERTS card opens what fired: its label reads "alerts ▸ why".
    cards = {key.split("▸")[0].strip().lower(): value.strip() for key, value in cards.items()}
    assert cards["calls"] == f"{calls:,}"
    assert cards["cost"] == f"${cost:,.2f}"
    assert cards["p95 latency"].endswith(" s")
    assert cards["alerts"] != "…"  # the background panels made it into the snapshot
    assert set(panels) == {*FAST_PANELS, *SLOW_PANELS}
    assert len(charts) == n_panels
    assert all(not chart["blank_marks"] for chart in charts), charts
    assert failures == 0
    assert blocked == []
    assert [url for url in requests if not url.startswith(LOCAL)] == []


def test_jupyterlab_shows_the_live_widget_and_not_the_snapshot(
    exported: tuple[Path, Path, nbformat.NotebookNode], tmp_path: Path
) -> None:
    store, _, _ = exported
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(store, notebooks / store.name)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            f"from llmobs_nb.view import Dashboard\nDashboard({store.name!r})"
        )
    ]
    # With a kernel named, JupyterLab starts it without asking.
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, notebooks / "live.ipynb")
    with (
        jupyter_lab(notebooks, tmp_path / "jupyter") as lab,
        sync_api.sync_playwright() as playwright,
    ):
        context = lab_page.launch(playwright, tmp_path / "profile", {"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            lab_page.open_notebook(page, lab, "live.ipynb", 1)
            lab_page.run_all_cells(page, 120)
            output = page.locator(".jp-OutputArea-output").first
            output.locator(".llmobs-board[data-drawn]").wait_for(timeout=60_000)
            live = output.locator(".llmobs-board-panel").count()
            snapshots = page.locator(".llmobs-snapshot").count()
        finally:
            context.close()
    assert live == len(FAST_PANELS) + len(SLOW_PANELS)
    assert snapshots == 0
