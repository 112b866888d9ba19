"""Once a page draws the dashboard, a redraw's background panels (traces, drift, alerts)
start after the page has drawn the redraw's charts (or PAGE_WAIT_S), not while it draws."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import ipywidgets as widgets

from llmobs_nb.view import dashboard
from llmobs_nb.view.dashboard import Dashboard


def test_without_a_page_the_background_panels_start_at_once(store_file: Path):
    dash = Dashboard(store_file)
    try:
        assert dash.board.drawn == 0  # no page said it drew
        began = time.perf_counter()
        dash.apply_filters(models=("gpt-4o",)).wait()
        assert time.perf_counter() - began < dashboard.PAGE_WAIT_S + 5
        assert dash.slow and dash.explorer.lists
    finally:
        dash.close()


def test_with_a_page_they_wait_until_it_drew(store_file: Path, monkeypatch):
    monkeypatch.setattr(dashboard, "PAGE_WAIT_S", 30.0)
    dash = Dashboard(store_file)
    try:
        dash.wait()
        dash.board.drawn = dash.board.generation  # the page drew the first draw
        dash.apply_filters(models=("gpt-4o",))
        generation = dash.board.generation
        time.sleep(0.5)
        assert not dash._slow_future.done()  # waiting for the page
        threading.Timer(0.2, lambda: setattr(dash.board, "drawn", generation)).start()
        dash.wait(timeout_s=20)  # the page drew: the background panels ran
        assert "drawn in" in dash.status.value and dash.slow["alerts"] is not None
    finally:
        dash.close()


def test_a_page_showing_the_board_holds_the_first_draws_background_too(
    store_file: Path, monkeypatch
):
    # The board's view says it is on a page (on_page) before the first draw is sent: the
    # page will draw it, so the background pass waits for that, as after a filter change.
    monkeypatch.setattr(dashboard, "PAGE_WAIT_S", 30.0)
    release = threading.Event()
    fast_panels = dashboard.panels.fast_panels

    def held(*args, **kwargs):
        assert release.wait(30)
        return fast_panels(*args, **kwargs)

    monkeypatch.setattr(dashboard.panels, "fast_panels", held)
    dash = Dashboard(store_file)
    try:
        dash._board.on_page = True  # as the page says (not through the property: it waits)
        release.set()
        generation = dash.board.generation  # waits for the first draw
        time.sleep(0.5)
        assert not dash._slow_future.done()  # waiting for the page to draw the charts
        assert not isinstance(dash.widget.children[-1], widgets.Tab)  # tabs: not yet either
        dash.board.drawn = generation
        dash.wait(timeout_s=20)
        assert dash.slow["alerts"] is not None and dash.widget.children[-1] is dash.tabs
    finally:
        release.set()
        dash.close()
