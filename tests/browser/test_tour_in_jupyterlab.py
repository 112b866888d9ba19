"""The tour notebook as a person uses it: a real JupyterLab, driven by headless Chromium.

The notebook is opened in the browser, every cell is run from the Run menu (real calls to the
local model included), and the dashboard it shows is read off the page: its charts must be drawn
from the package's inlined Vega with no request leaving 127.0.0.1, and choosing one model in the
filter must redraw the charts for that model alone. With ``LLMOBS_UPDATE_SCREENSHOT=1`` the
dashboard screenshot also replaces ``docs/screenshots/dashboard.png`` (shown in the README).

The tests share one browser session, in file order: the last one changes the model filter.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright is not installed: pip install -e '.[dev]' (no browser download needed)",
)

from llmobs_nb.demo.experiment import QUESTIONS  # noqa: E402
from llmobs_nb.view.panels import FAST_PANELS, SLOW_PANELS  # noqa: E402
from tests.browser import lab_page  # noqa: E402  (needs Playwright)
from tests.browser.jupyter_lab import RunningLab  # noqa: E402
from tests.browser.lab_page import CHROMIUM  # noqa: E402

VIEWPORT = {"width": 1400, "height": 1000}
REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = "01_tour.ipynb"
DASHBOARD_CELL = "history.dashboard()"
TRACE_CELL = "obs.trace(slowest_call)"
RUN_ALL_TIMEOUT_S = 240.0
DRAW_TIMEOUT_S = 60.0
SCREENSHOT = REPO / "docs" / "screenshots" / "dashboard.png"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: apt-get install chromium (scripts/system-deps.sh does)",
    ),
]


@dataclass
class Tour:
    """The browser page on the tour notebook after "Run All Cells", and what it fetched."""

    page: sync_api.Page
    lab: RunningLab
    prompts: list[str]
    screenshot_dir: Path
    outside_requests: list[str] = field(default_factory=list)

    @property
    def dashboard(self) -> sync_api.Locator:
        cell = lab_page.code_cell(self.page, DASHBOARD_CELL)
        return cell.locator(".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output")

    @property
    def panels(self) -> sync_api.Locator:
        return self.dashboard.locator(".llmobs-board-panel")

    def panel(self, title_start: str) -> sync_api.Locator:
        return self.panels.filter(has=self.page.locator(".role-title-text", has_text=title_start))


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tour]:
    # A copy, so that the browser's saves never touch the committed notebooks; ``../data`` of
    # the copy holds the committed recorded calls, and is where the tour writes its sample
    # store (not copied: the tour generates it).
    work = tmp_path_factory.mktemp("tour")
    n_cells = len(json.loads((REPO / "notebooks" / NOTEBOOK).read_text())["cells"])
    with lab_page.notebooks_in_lab(work, VIEWPORT) as (page, lab, outside):
        lab_page.open_notebook(page, lab, NOTEBOOK, n_cells)
        prompts = lab_page.run_all_cells(page, RUN_ALL_TIMEOUT_S)
        yield Tour(page, lab, prompts, work, outside)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(0.25)


def calls_selected(tour: Tour) -> int:
    status = tour.dashboard.locator(".widget-html", has_text="calls selected").inner_text()
    return int(re.search(r"([\d,]+) calls selected", status).group(1).replace(",", ""))


def test_every_cell_of_the_tour_runs_in_jupyterlab(tour: Tour) -> None:
    assert lab_page.tracebacks(tour.page) == []
    assert lab_page.all_executed(tour.prompts), tour.prompts


def test_the_tour_shows_a_real_call_with_its_prompt_and_answer(tour: Tour) -> None:
    cell = lab_page.code_cell(tour.page, TRACE_CELL)
    cell.scroll_into_view_if_needed()
    output = cell.locator(".jp-OutputArea-output")
    wait_until(
        lambda: output.locator(".vega-embed svg.marks").count() == 1,
        DRAW_TIMEOUT_S,
        "the trace's waterfall drawn",
    )
    hints = output.locator(".hints")
    assert hints.is_visible() and "Slowest step" in hints.inner_text()
    # The model call's details are open: its prompt and its answer are on the page, readable
    # (its attributes, folded, are not).
    texts = output.locator("details[open] pre")
    shown = [texts.nth(i) for i in range(texts.count()) if texts.nth(i).is_visible()]
    assert len(shown) == 2, [t.inner_text() for t in shown]
    prompt, answer = (t.inner_text() for t in shown)
    assert '"role": "user"' in prompt
    assert any(question in prompt for question, _ in QUESTIONS), prompt
    assert len(answer.split()) >= 1 and answer not in prompt
    output.screenshot(path=tour.screenshot_dir / "tour-trace.png")
    # The README's picture of the tour: the page at the real call's trace.
    lab_page.save_screenshot(tour.page, tour.screenshot_dir / "01_tour.png", scroll_to=cell)
    if os.environ.get("LLMOBS_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tour.screenshot_dir / "01_tour.png", SCREENSHOT.parent / "01_tour.png")


def test_the_tour_reads_as_a_reviewer_expects(tour: Tour) -> None:
    problems = lab_page.reviewer_problems(tour.page)
    assert {kind: found for kind, found in problems.items() if found} == {}


def test_the_dashboard_draws_every_panel_with_no_request_off_the_machine(tour: Tour) -> None:
    panels = tour.panels
    wait_until(
        lambda: (
            panels.count() > 0 and panels.locator(".vega-embed svg.marks").count() == panels.count()
        ),
        DRAW_TIMEOUT_S,
        "every dashboard panel drawn as an SVG chart",
    )
    drawn = lab_page.charts(tour.dashboard)

    # The picture for the README: the notebook area only, dashboard at the top.
    lab_page.hide_left_sidebar(tour.page)
    tour.dashboard.evaluate("e => e.scrollIntoView({block: 'start'})")
    tour.page.wait_for_timeout(500)
    tour.page.screenshot(path=tour.screenshot_dir / "dashboard.png")
    if os.environ.get("LLMOBS_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tour.screenshot_dir / "dashboard.png", SCREENSHOT)

    assert len(drawn) == panels.count() == len(FAST_PANELS) + len(SLOW_PANELS)
    assert (
        tour.dashboard.get_by_text(
            re.compile("chart error|Vega was not loaded|Vega did not load")
        ).count()
        == 0
    )
    # Every chart of the notebook (the dashboard's, the latency chart, the trace waterfall).
    every_chart = lab_page.charts(tour.page.locator(".jp-Notebook"))
    assert {c["title"]: c["blank_marks"] for c in every_chart if c["blank_marks"]} == {}
    assert tour.outside_requests == []


def test_choosing_one_model_redraws_the_charts_for_that_model_alone(tour: Tour) -> None:
    models = tour.dashboard.get_by_label("models", exact=True)
    choices = models.locator("option").all_text_contents()
    latency = tour.panel("Latency per")
    assert lab_page.legend_labels(latency) >= set(choices), "all models before filtering"
    before_calls = calls_selected(tour)
    before_svg = latency.locator("svg.marks").inner_html()

    chosen = choices[0]
    models.select_option(chosen)

    wait_until(
        lambda: lab_page.legend_labels(latency) & set(choices) == {chosen},
        DRAW_TIMEOUT_S,
        f"the latency chart's legend shows {chosen} alone",
    )
    tour.page.screenshot(path=tour.screenshot_dir / f"dashboard-{chosen}.png")
    assert latency.locator("svg.marks").inner_html() != before_svg
    assert 0 < calls_selected(tour) < before_calls
    assert tour.outside_requests == []


def test_dragging_across_a_time_chart_zooms_the_whole_dashboard(tour: Tour) -> None:
    latency = tour.panel("Latency per")
    before_calls, before_range = calls_selected(tour), time_range(tour)
    box = latency.locator("svg.marks").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] * 0.45
    tour.page.mouse.move(box["x"] + box["width"] * 0.30, y)
    tour.page.mouse.down()
    tour.page.mouse.move(box["x"] + box["width"] * 0.45, y, steps=8)
    tour.page.mouse.up()
    wait_until(
        lambda: time_range(tour) != before_range and calls_selected(tour) < before_calls,
        DRAW_TIMEOUT_S,
        "the dragged range set on the time slider and every panel redrawn for it",
    )
    tour.page.screenshot(path=tour.screenshot_dir / "dashboard-zoomed.png")
    assert tour.dashboard.get_by_text(re.compile("chart error")).count() == 0


def time_range(tour: Tour) -> str:
    return tour.dashboard.locator(".llmobs-range").inner_text()
