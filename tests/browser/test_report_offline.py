"""The standalone HTML report opens offline, from a file, with every chart drawn."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright is not installed: pip install -e '.[dev]' (no browser download needed)",
)

from llmobs_nb import demo  # noqa: E402
from llmobs_nb.view import write_report  # noqa: E402
from tests.browser.lab_page import _CHARTS_JS  # noqa: E402
from tests.browser.test_tour_in_jupyterlab import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

pytestmark = pytest.mark.slow


def test_report_draws_every_chart_from_a_file_with_no_network(tmp_path: Path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    store = tmp_path / "history.duckdb"
    demo.generate(5_000, days=3, seed=1, start=datetime(2026, 3, 2, tzinfo=UTC), store=store)
    report = write_report(store, tmp_path / "report.html")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "profile",
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        try:
            page = context.new_page()
            page.goto(report.as_uri())
            page.wait_for_function(
                "() => document.querySelectorAll('.vega-embed svg.marks').length >= 4",
                timeout=60_000,
            )
            charts = page.locator("body").evaluate(_CHARTS_JS)
            errors = page.locator("text=chart error").count()
        finally:
            context.close()
    assert len(charts) >= 4
    assert all(not chart["blank_marks"] for chart in charts), charts
    assert errors == 0
    assert [url for url in requests if not url.startswith(("file:", "data:", "blob:"))] == []
