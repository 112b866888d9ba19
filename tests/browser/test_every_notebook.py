"""Every notebook as a reviewer opens it: a real JupyterLab, driven by headless Chromium.

Each notebook is opened in the browser and every cell is run from the Run menu; then the page
is read as a reviewer would: no traceback, no error or stderr output, no raw text output longer
than a screen, every chart drawn (no data mark left without a visible item, no "chart error"),
no request leaving 127.0.0.1, and what the notebook is for on the page (07's judge demo
without a failed banner; 08's tool loop found). A screenshot of each is taken; with
``LLMOBS_UPDATE_SCREENSHOT=1`` it replaces ``docs/screenshots/<notebook>.png`` (a 128-colour PNG,
linked from the README). The tour (01) is driven by ``test_tour_in_jupyterlab.py``, which
checks the same and its dashboard.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="Playwright is not installed: pip install -e '.[dev]' (no browser download needed)",
)

from tests.browser import lab_page  # noqa: E402  (needs Playwright)
from tests.browser.jupyter_lab import RunningLab  # noqa: E402
from tests.browser.lab_page import CHROMIUM  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
DRIVEN_ELSEWHERE = {"01_tour.ipynb"}  # test_tour_in_jupyterlab.py
RUN_ALL_TIMEOUT_S = 300.0
VIEWPORT = {"width": 1200, "height": 860}
SCREENSHOTS = REPO / "docs" / "screenshots"
# Where each screenshot is taken: the code cell holding this text (else the first chart).
SCREENSHOT_AT = {
    "05_experiments.ipynb": "compare_runs(history, *RUNS",
    "06_production_export.ipynb": "summarise_backtest",
    "07_evaluation.ipynb": "heuristics = [",
    "08_agents.ipynb": "tool_loops(history",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: apt-get install chromium (scripts/system-deps.sh does)",
    ),
]


@dataclass
class Lab:
    """One JupyterLab and one browser for every notebook of the module."""

    page: sync_api.Page
    lab: RunningLab
    work: Path
    outside_requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    # A copy, so that the browser's saves never touch the committed notebooks; ``../data`` of
    # the copy is where the notebooks write their sample stores (generated once, then reused).
    work = tmp_path_factory.mktemp("notebooks")
    with lab_page.notebooks_in_lab(work, VIEWPORT) as (page, running, outside):
        yield Lab(page, running, work, outside)


def _draws_charts(notebook: dict) -> bool:
    """Whether the committed notebook shows a chart (a Vega-Lite output or an embedded one)."""
    return any(
        "vega" in json.dumps(output.get("data", {}))
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
    )


@pytest.mark.parametrize("name", [n for n in NOTEBOOKS if n not in DRIVEN_ELSEWHERE])
def test_the_notebook_reads_as_a_reviewer_expects(lab: Lab, name: str) -> None:
    notebook = json.loads((lab.work / "notebooks" / name).read_text(encoding="utf-8"))
    lab_page.open_notebook(lab.page, lab.lab, name, len(notebook["cells"]))
    try:
        prompts = lab_page.run_all_cells(lab.page, RUN_ALL_TIMEOUT_S)
    except sync_api.TimeoutError:
        lab.page.screenshot(path=lab.work / f"{name}-timeout.png", full_page=True)
        pytest.fail(
            f"{name}: not run within {RUN_ALL_TIMEOUT_S:.0f} s; prompts "
            f"{lab_page.code_prompts(lab.page)}; JupyterLab's log:\n{lab.lab.log_tail()}"
        )
    area = lab.page.locator(".jp-Notebook")
    charts = lab_page.charts(area)
    shot = lab.work / name.replace(".ipynb", ".png")
    anchor = SCREENSHOT_AT.get(name)
    lab_page.save_screenshot(
        lab.page, shot, scroll_to=lab_page.code_cell(lab.page, anchor) if anchor else None
    )
    if os.environ.get("LLMOBS_UPDATE_SCREENSHOT") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / shot.name)

    assert lab_page.tracebacks(lab.page) == []
    assert lab_page.all_executed(prompts), prompts
    problems = lab_page.reviewer_problems(lab.page)
    assert {kind: found for kind, found in problems.items() if found} == {}, name
    if _draws_charts(notebook):
        assert charts, f"{name}: no chart drawn"
    assert lab.outside_requests == []
    if name.startswith("07_"):
        assert area.get_by_text("evaluations failed").count() == 0
    if name.startswith("08_"):
        assert area.get_by_text("search_docs").count() > 0  # the injected tool loop's tool
