"""What a person does in the JupyterLab page, as Playwright steps: open a notebook, pick a menu
item, run every cell, read the charts a cell drew.

Selectors are JupyterLab's and Vega's own class names (``jp-CodeCell``, ``jp-InputPrompt``,
``lm-MenuBar-item``, ``vega-embed``, ``role-mark``, ``role-legend-label``), not the project's.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, Request, sync_playwright

from tests.browser.jupyter_lab import RunningLab, jupyter_lab

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

CODE_PROMPTS = ".jp-Notebook .jp-CodeCell .jp-InputPrompt"
TRACEBACK = "Traceback (most recent call last)"
_EXECUTED = re.compile(r"\[\d+\]:")

# True once every code cell has an execution number, or once the run stopped on an error
# (JupyterLab then leaves the cells after the failing one unexecuted).
_RUN_FINISHED_JS = """([selector, traceback]) => {
  const prompts = Array.from(document.querySelectorAll(selector), p => p.textContent.trim());
  if (prompts.length === 0 || prompts.some(p => p.includes('*'))) { return false; }
  if (prompts.every(p => /^\\[\\d+\\]:$/.test(p))) { return true; }
  return Array.from(document.querySelectorAll('.jp-OutputArea-output'))
    .some(o => o.textContent.includes(traceback));
}"""

# Each Vega view in ``root``: its title and the kinds of data mark (bars, lines, points, text;
# not axes, legends or gridlines) drawn with items of which none is visible on screen. A bar
# needs an area; a line or a rule needs a length.
_CHARTS_JS = """root => Array.from(root.querySelectorAll('.vega-embed svg.marks'), svg => {
  const title = svg.querySelector('.role-title-text');
  const seen = {};
  svg.querySelectorAll('g.role-mark').forEach(group => {
    // An interval selection's brush (the dashboard's drag-to-zoom) is empty until dragged.
    if (Array.from(group.classList).some(c => /_brush(_bg)?$/.test(c))) return;
    const kind = Array.from(group.classList).find(c => c.startsWith('mark-'));
    Array.from(group.children).filter(e => e.tagName !== 'g').forEach(item => {
      const box = item.getBoundingClientRect();
      const visible = kind === 'mark-rect' ? box.width >= 1 && box.height >= 1
                                           : box.width >= 1 || box.height >= 1;
      seen[kind] = (seen[kind] || false) || visible;
    });
  });
  const blank = Object.keys(seen).filter(kind => !seen[kind]).sort();
  return {title: title ? title.textContent : '', blank_marks: blank};
})"""


def open_notebook(page: Page, lab: RunningLab, name: str, n_cells: int) -> None:
    """Open notebook ``name`` in a fresh workspace and wait until its kernel is idle and all
    ``n_cells`` cells are on the page."""
    page.goto(lab.url(f"lab/tree/{name}?reset"))
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    page.wait_for_function(
        "n => document.querySelectorAll('.jp-Notebook .jp-Cell').length >= n",
        arg=n_cells,
        timeout=30_000,
    )


def choose_menu(page: Page, menu: str, item: str) -> None:
    """Click ``item`` in the menu bar's ``menu`` (e.g. ``"Run"``, ``"Run All Cells"``)."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def code_prompts(page: Page) -> list[str]:
    """The execution prompts of the code cells, top to bottom (``"[3]:"``, ``"[*]:"``,
    ``"[ ]:"``)."""
    return [text.strip() for text in page.locator(CODE_PROMPTS).all_inner_texts()]


def run_all_cells(page: Page, timeout_s: float) -> list[str]:
    """Clear every output, run every cell from the menu, wait until the run ends (all cells
    executed or one failed); returns the prompts afterwards."""
    choose_menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        "s => Array.from(document.querySelectorAll(s)).every(p => !/\\d/.test(p.textContent))",
        arg=CODE_PROMPTS,
        timeout=10_000,
    )
    choose_menu(page, "Run", "Run All Cells")
    page.wait_for_function(
        _RUN_FINISHED_JS, arg=[CODE_PROMPTS, TRACEBACK], timeout=timeout_s * 1000, polling=500
    )
    return code_prompts(page)


def all_executed(prompts: list[str]) -> bool:
    """Whether every prompt shows an execution number."""
    return bool(prompts) and all(_EXECUTED.fullmatch(p) for p in prompts)


def tracebacks(page: Page) -> list[str]:
    """The text of every output that shows a Python traceback."""
    outputs = page.locator(".jp-OutputArea-output", has_text=TRACEBACK)
    return outputs.all_inner_texts()


def hide_left_sidebar(page: Page) -> None:
    """Collapse the left sidebar (the file browser ``?reset`` opens), as clicking its tab does."""
    current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current.count():
        current.click()


def code_cell(page: Page, source_snippet: str) -> Locator:
    """The code cell whose source contains ``source_snippet``."""
    return page.locator(".jp-Notebook .jp-CodeCell").filter(has_text=source_snippet)


def charts(root: Locator) -> list[dict[str, Any]]:
    """Every Vega chart drawn under ``root``, in page order: ``{"title", "blank_marks"}``, the
    latter naming each kind of data mark (``"mark-rect"``...) drawn with no visible item
    (a selection brush, empty until dragged, is not a data mark)."""
    return root.evaluate(_CHARTS_JS)


def legend_labels(root: Locator) -> set[str]:
    """The legend entries of the Vega chart(s) under ``root``."""
    return set(root.locator("svg.marks .role-legend-label text").all_text_contents())


#: A raw text output longer than this many lines does not fit on a screen.
SCREEN_LINES = 40

# Every output on the page: its MIME type as JupyterLab renders it, its text, and for a plain
# text output the number of lines it shows.
_OUTPUTS_JS = """root => Array.from(root.querySelectorAll('.jp-OutputArea-output'), o => ({
  mime: o.getAttribute('data-mime-type') || '',
  text: o.innerText.slice(0, 400),
  lines: o.matches('.jp-RenderedText') || o.querySelector(':scope > .jp-RenderedText')
    ? o.innerText.replace(/\\n+$/, '').split('\\n').length : 0,
}))"""


def reviewer_problems(page: Page) -> dict[str, list[Any]]:
    """What a reviewer would object to on a run notebook's page, by kind (empty lists when
    none): stderr or error outputs, raw text outputs longer than a screen, charts with a data
    mark drawn with no visible item, "chart error" messages."""
    area = page.locator(".jp-Notebook")
    outputs = area.evaluate(_OUTPUTS_JS)
    return {
        "stderr": [o["text"] for o in outputs if o["mime"] == "application/vnd.jupyter.stderr"],
        "longer than a screen": [
            (o["lines"], o["text"][:120]) for o in outputs if o["lines"] > SCREEN_LINES
        ],
        "blank charts": [c for c in charts(area) if c["blank_marks"]],
        "chart errors": area.get_by_text("chart error").all_inner_texts(),
    }


def save_screenshot(page: Page, target: Path, *, scroll_to: Locator | None = None) -> None:
    """The notebook area, scrolled to ``scroll_to`` (by default its first chart, or its top
    when it has none), as a small 128-colour PNG at ``target``."""
    from PIL import Image

    hide_left_sidebar(page)
    anchor = scroll_to if scroll_to is not None else page.locator(".jp-Notebook .vega-embed")
    if not anchor.count():
        anchor = page.locator(".jp-Notebook .jp-Cell")
    anchor.first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(400)
    page.screenshot(path=target)
    with Image.open(target) as image:
        image.convert("RGB").quantize(colors=128).save(target, optimize=True)


def launch(playwright: Any, profile: Path, viewport: dict[str, int]) -> BrowserContext:
    """Debian's headless Chromium with its own profile folder, as every browser test runs it."""
    return playwright.chromium.launch_persistent_context(
        profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, viewport=viewport
    )


@contextmanager
def notebooks_in_lab(
    work: Path, viewport: dict[str, int]
) -> Iterator[tuple[Page, RunningLab, list[str]]]:
    """A copy of the repository's notebooks and committed ``data/`` (as a fresh clone has
    it: no ``*.duckdb``) in ``work``, so the browser's saves never touch the committed
    notebooks; JupyterLab on it; a headless Chromium page. Yields the page, the lab and the
    list into which every request that leaves 127.0.0.1 is put."""
    shutil.copytree(REPO / "notebooks", work / "notebooks")
    shutil.copytree(REPO / "data", work / "data", ignore=shutil.ignore_patterns("*.duckdb*"))
    with jupyter_lab(work / "notebooks", work / "jupyter") as lab, sync_playwright() as playwright:
        context = launch(playwright, work / "chromium-profile", viewport)
        outside: list[str] = []

        def note_outside(request: Request) -> None:
            if not request.url.startswith((lab.base_url, "data:", "blob:")):
                outside.append(request.url)

        context.on("request", note_outside)
        try:
            yield (context.pages[0] if context.pages else context.new_page()), lab, outside
        finally:
            context.close()
