"""The standalone HTML report opens offline, from a file, with every chart drawn, and its
charts use the page's width: two a row on a wide window, one on a narrow one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright is not installed: pip install -e '.[dev]' (no browser download needed)",
)

from llmobs_nb import demo  # noqa: E402
from llmobs_nb.view import write_report  # noqa: E402
from tests.browser import lab_page  # noqa: E402
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
N_CHARTS = 8

# Every chart's box, and how wide the page is and scrolls.
_LAYOUT_JS = """() => ({
  charts: Array.from(document.querySelectorAll('.llmobs-chart'), el => {
    const box = el.getBoundingClientRect();
    const svg = el.querySelector('svg.marks');
    return {left: box.left, right: box.right, top: box.top,
            svg: svg ? svg.getBoundingClientRect().width : 0};
  }),
  inner: window.innerWidth,
  scroll: document.documentElement.scrollWidth,
})"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    store = folder / "history.duckdb"
    demo.generate(5_000, days=3, seed=1, start=datetime(2026, 3, 2, tzinfo=UTC), store=store)
    return write_report(store, folder / "report.html")


def _open(report: Path, profile: Path, width: int, screenshot: Path) -> dict[str, Any]:
    """Open the report from its file; its charts, layout and the requests it made."""
    with sync_api.sync_playwright() as playwright:
        context = lab_page.launch(playwright, profile, {"width": width, "height": 1000})
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        try:
            page = context.new_page()
            page.goto(report.as_uri())
            page.wait_for_function(
                "n => document.querySelectorAll('.vega-embed svg.marks').length >= n",
                arg=N_CHARTS,
                timeout=60_000,
            )
            seen = {
                "charts": page.locator("body").evaluate(_CHARTS_JS),
                "errors": page.locator("text=chart error").count(),
                "layout": page.evaluate(_LAYOUT_JS),
                "requests": requests,
            }
            page.screenshot(path=screenshot, full_page=True)
        finally:
            context.close()
    return seen


def test_report_draws_every_chart_from_a_file_with_no_network(report: Path, tmp_path: Path):
    seen = _open(report, tmp_path / "profile", 1400, tmp_path / "report-1400.png")
    charts = seen["charts"]
    assert len(charts) >= N_CHARTS
    assert all(not chart["blank_marks"] for chart in charts), charts
    assert seen["errors"] == 0
    assert [
        url for url in seen["requests"] if not url.startswith(("file:", "data:", "blob:"))
    ] == []


def test_the_report_fills_a_wide_window_two_charts_a_row(report: Path, tmp_path: Path):
    layout = _open(report, tmp_path / "profile", 1400, tmp_path / "report-wide.png")["layout"]
    charts, width = layout["charts"], layout["inner"]
    assert len(charts) == N_CHARTS
    # The charts together span the page, not a left column of it.
    assert max(c["right"] for c in charts) - min(c["left"] for c in charts) >= 0.8 * width
    # Two a row, each chart drawn across its cell.
    assert len({round(c["top"]) for c in charts}) == N_CHARTS // 2
    assert all(c["svg"] >= 0.35 * width for c in charts), charts
    assert layout["scroll"] <= width


def test_the_report_reads_on_a_narrow_window_one_chart_a_row(report: Path, tmp_path: Path):
    layout = _open(report, tmp_path / "profile", 600, tmp_path / "report-narrow.png")["layout"]
    charts, width = layout["charts"], layout["inner"]
    assert len({round(c["top"]) for c in charts}) == N_CHARTS
    assert all(0.8 * width <= c["svg"] <= width for c in charts), charts
    assert layout["scroll"] <= width  # no sideways scrolling


def test_a_cost_bar_tooltip_names_its_bucket_in_utc(report: Path, tmp_path: Path):
    # The tooltip's time is text written in Python (chart_common.with_utc_text), not a Vega
    # time format: hovering a bar shows "bucket (UTC)" as YYYY-MM-DD HH:MM, inside the data.
    with sync_api.sync_playwright() as playwright:
        context = lab_page.launch(playwright, tmp_path / "profile", {"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.goto(report.as_uri())
            cost = page.locator(".vega-embed", has_text="Cost per").first
            bar = cost.locator("g.mark-rect.role-mark path").first
            bar.wait_for(timeout=60_000)
            bar.hover(force=True)
            tooltip = page.locator("#vg-tooltip-element")
            tooltip.wait_for(state="visible", timeout=10_000)
            rows = {
                row.locator("td.key").inner_text().rstrip(":"): row.locator("td.value").inner_text()
                for row in tooltip.locator("tr").all()
            }
        finally:
            context.close()
    when = datetime.strptime(rows["bucket (UTC)"], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert datetime(2026, 3, 2, tzinfo=UTC) <= when < datetime(2026, 3, 5, tzinfo=UTC), rows
    assert rows["cost"].startswith("$"), rows
