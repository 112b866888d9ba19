"""The dashboard's speed where the user waits: a real JupyterLab in Debian's Chromium.

A store of N calls (default 1M; generated straight in DuckDB by ``benchmarks/rollups.py``'s
SQL, 30 days, 5 models, rolled up) is opened by ``Dashboard(path)`` in a notebook cell of a
real JupyterLab, driven by Playwright with Debian's ``chromium``. Timed, in the page
(Playwright waits on animation frames):

- **first draw**: from the dashboard cell's start to every fast panel drawn (an SVG chart in
  each), ``--first-draws`` times, each in a new kernel (a notebook of its own, its session
  deleted after);
- **filter change**, on the page's own clock: from the models widget's real ``change`` event
  (a capturing listener on the document) to the frame that shows every changed panel painted
  (the board's ``data-painted``: the task after the animation frame that follows the draw).
  Beside it: the same as Playwright sees it (from its ``select_option`` call to its poll
  seeing ``data-drawn``: its round trips to the browser add 30-50 ms), the background panels
  done, what the dashboard printed ("drawn in N ms (Python M ms)", from its own redraw's
  start to the page's acknowledgement) and the page's own drawing time (``data-draw-ms``).

Twice in the same run: ``approx=None`` (auto: the rollups on stores of >= 1M spans) and
``approx=False`` (every panel asked of the calls: the baseline), with the ratio. Prints
medians and ranges of ``--repeats`` filter changes; never asserts.

    .venv/bin/python benchmarks/dashboard_browser.py                    # 1M calls
    .venv/bin/python benchmarks/dashboard_browser.py --calls 10000000   # 10M calls
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Locator, Page, sync_playwright

from benchmarks.rollups import GENERATE
from llmobs_nb.store import Store
from llmobs_nb.view.panels import FAST_PANELS
from tests.browser import lab_page
from tests.browser.jupyter_lab import jupyter_lab

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
BOARD = ".llmobs-board"
CHARTS = f"{BOARD} .vega-embed svg.marks"
# The board writes the generation it has drawn (every changed panel) into data-drawn.
DRAWN_JS = "root => +(root.querySelector('.llmobs-board')?.dataset.drawn || 0)"
DRAWN_PAST_JS = "([root, n]) => +(root.querySelector('.llmobs-board')?.dataset.drawn || 0) > n"
PAINTED_PAST_JS = "([root, n]) => +(root.querySelector('.llmobs-board')?.dataset.painted || 0) > n"
# The change event's time on the page's clock, taken before any widget code sees it.
LISTEN_JS = """() => document.addEventListener('change',
  () => { window.__llmobsChangeAt = performance.now(); }, {capture: true, once: true})"""
SEEN_JS = "root => +root.querySelector('.llmobs-board').dataset.paintedAt - window.__llmobsChangeAt"
# Per panel: how long the page took to draw it in the last generation, and how (update or embed).
PANELS_JS = """root => Object.fromEntries(Array.from(root.querySelectorAll('[data-panel]')).map(
  e => [e.dataset.panel, [+(e.dataset.drawMs || 0), e.dataset.how || '']]))"""
SLOW_DONE_JS = """root => Array.from(root.querySelectorAll('.widget-html')).some(
  e => e.textContent.includes('calls selected') && !e.textContent.includes('computing'))"""


def build(path: Path, n: int) -> None:
    store = Store(path)
    with store._connection() as con:
        con.execute("SELECT setseed(0.42)")
        con.execute(GENERATE, {"n": n})
    store.catch_up_rollups(force=True)  # rows written in SQL are not counted as unrolled
    store.close()


def notebook(path: Path, db: Path, approx: bool | None) -> None:
    """Two cells: the import (the kernel's one-time cost), then the dashboard over ``db``."""
    sources = [
        "from llmobs_nb.view import Dashboard",
        f"Dashboard(r'{db}', approx={approx})",
    ]
    cells = [
        {"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
        for s in sources
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.write_text(
        json.dumps(
            {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
        )
    )


FIRST_JS = """root => {const b = root.querySelector('.llmobs-board');
  return b ? [+(b.dataset.vegaMs || 0), +(b.dataset.firstDrawMs || 0)] : [0, 0];}"""


def first_draw(page: Page) -> tuple[float, Locator]:
    """Run both cells from the Run menu; seconds from the import's end (the dashboard cell's
    start) until every fast panel is drawn, and the dashboard cell's output."""
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    importing, dashboard = cells.nth(0).element_handle(), cells.nth(1).element_handle()
    lab_page.choose_menu(page, "Edit", "Clear Outputs of All Cells")  # focuses the notebook
    lab_page.choose_menu(page, "Run", "Run All Cells")
    page.wait_for_function(
        "cell => /\\[\\d+\\]/.test(cell.querySelector('.jp-InputPrompt').textContent)",
        arg=importing,
        polling="raf",
        timeout=600_000,
    )
    began = time.perf_counter()
    page.wait_for_function(
        "([root, sel, n]) => root.querySelectorAll(sel).length >= n",
        arg=[dashboard, CHARTS, len(FAST_PANELS)],
        polling="raf",
        timeout=600_000,
    )
    return time.perf_counter() - began, cells.nth(1).locator(".jp-Cell-outputArea")


def change_filter(
    root: Locator, choice: list[str], per_panel: dict[str, list[float]]
) -> tuple[float, float, float, float, float, float]:
    """Choose ``choice`` in the models widget; seconds from its ``change`` event to every
    changed fast panel painted (the page's clock), the same as Playwright sees it (to the
    board's ``data-drawn`` passing the generation before), to the background panels done,
    what the dashboard printed (drawn in, Python: seconds) and the page's drawing time; each
    panel's own drawing time (seconds) is added to ``per_panel``."""
    handle = root.element_handle()
    root.page.wait_for_function(SLOW_DONE_JS, arg=handle, polling="raf", timeout=600_000)
    before = root.page.evaluate(DRAWN_JS, handle)
    models = root.get_by_label("models", exact=True)
    root.page.evaluate(LISTEN_JS)
    began = time.perf_counter()
    models.select_option(choice)
    root.page.wait_for_function(DRAWN_PAST_JS, arg=[handle, before], polling="raf", timeout=600_000)
    fast = time.perf_counter() - began
    root.page.wait_for_function(
        PAINTED_PAST_JS, arg=[handle, before], polling="raf", timeout=600_000
    )
    seen = root.page.evaluate(SEEN_JS, handle) / 1000
    in_page = float(
        root.page.evaluate("root => root.querySelector('.llmobs-board').dataset.drawMs", handle)
    )
    for name, (ms, _how) in root.page.evaluate(PANELS_JS, handle).items():
        per_panel.setdefault(name, []).append(ms / 1000)
    root.page.wait_for_function(SLOW_DONE_JS, arg=handle, polling="raf", timeout=600_000)
    everything = time.perf_counter() - began
    status = root.locator(".widget-html", has_text="calls selected").inner_text()
    printed = re.search(r"drawn in (\d+) ms \(Python (\d+) ms\)", status)
    drawn, python = (int(g) / 1000 for g in printed.groups()) if printed else (math.nan,) * 2
    return seen, fast, everything, drawn, python, in_page / 1000


def fmt(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"median {statistics.median(ms):7.0f} ms ({min(ms):.0f}–{max(ms):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--first-draws", type=int, default=3, help="first draws, new kernels")
    parser.add_argument("--store", type=Path, help="reuse (or build once into) this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "notebooks").mkdir()
        db = args.store or work / "calls.duckdb"
        if not db.exists():
            began = time.perf_counter()
            build(db, args.calls)
            took = time.perf_counter() - began
            print(f"store: {args.calls:,} calls built in {took:.0f} s", flush=True)
        for approx in (None, False):
            for i in range(args.first_draws):
                notebook(work / "notebooks" / f"dash_{approx}_{i}.ipynb", db, approx)
        with jupyter_lab(work / "notebooks", work / "jupyter") as lab, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            results = {}
            page: Page | None = None
            for approx in (None, False):
                firsts, boards = [], []
                for i in range(args.first_draws):
                    if page is not None:  # the last page is kept for the filter changes
                        page.close()
                    for session in lab.api("sessions"):  # no other kernel running
                        lab.api(f"sessions/{session['id']}", method="DELETE")
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    lab_page.open_notebook(page, lab, f"dash_{approx}_{i}.ipynb", 2)
                    first, root = first_draw(page)
                    vega_ms, board_ms = root.evaluate(FIRST_JS)
                    firsts.append(first)
                    boards.append(board_ms / 1000)
                root.get_by_label("models", exact=True).wait_for()
                models = root.get_by_label("models", exact=True).locator("option")
                models = models.all_text_contents()
                runs = []
                per_panel: dict[str, list[float]] = {}
                for r in range(args.repeats):
                    choice = [models[r % len(models)]] if r % 2 == 0 else models[:2]
                    runs.append(change_filter(root, choice, per_panel))
                columns = (list(c) for c in zip(*runs, strict=True))
                seen, fast, everything, drawn, python, page_ms = columns
                name = "auto" if approx is None else "exact"
                results[name] = seen
                print(
                    f"{name:6s} first draw (new kernels) {fmt(firsts)}; of it the page drawing "
                    f"the first charts {fmt(boards)} (Vega ready {vega_ms} ms after the "
                    "board's view started)\n"
                    f"  filter change → every changed panel painted (the page's clock): "
                    f"{fmt(seen)}\n"
                    f"  the same as Playwright sees it (its round trips added): {fmt(fast)}\n"
                    f"  → background panels (traces, drift, alerts) done: {fmt(everything)}\n"
                    f"  printed 'drawn in': {fmt(drawn)}; of it Python {fmt(python)}; "
                    f"the page drawing {fmt(page_ms)}\n"
                    "  the page, per panel (ms, median): "
                    + ", ".join(
                        f"{name} {statistics.median(ms) * 1000:.0f}"
                        for name, ms in per_panel.items()
                    ),
                    flush=True,
                )
                page.close()
                page = None
            ratio = statistics.median(results["auto"]) / statistics.median(results["exact"])
            print(f"filter change, auto / exact (medians): {ratio:.2f}×")
            browser.close()


if __name__ == "__main__":
    main()
