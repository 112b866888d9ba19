"""The first draw is computed on the dashboard's own thread: ``Dashboard(...)`` returns with
its filter choices, a display shows the widgets at once (the page lays them out while the
kernel computes), and whatever the first draw fills waits for it, or raises what failed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from llmobs_nb.view import Dashboard, panels
from llmobs_nb.view.chart_board import ChartBoard


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The fast panels wait until the event is set (a first draw that takes its time)."""
    release = threading.Event()
    fast_panels = panels.fast_panels

    def slow_fast_panels(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(30), "the test never let the first draw go on"
        return fast_panels(*args, **kwargs)

    monkeypatch.setattr(panels, "fast_panels", slow_fast_panels)
    return release


def test_the_constructor_and_the_display_do_not_wait_for_the_first_draw(
    store_file: Path, held: threading.Event, monkeypatch: pytest.MonkeyPatch
):
    shown: list[dict[str, Any]] = []
    monkeypatch.setattr("IPython.display.display", lambda bundle, raw: shown.append(bundle))
    dash = Dashboard(store_file)  # returns while the first draw waits on `held`
    try:
        assert "gpt-4o" in dash.selects["models"].options  # the choices are read at once
        dash._ipython_display_()  # what a notebook cell's display calls: it does not wait
        (bundle,) = shown
        assert "application/vnd.jupyter.widget-view+json" in bundle
        assert bundle["text/plain"] == "llmobs_nb dashboard: computing…"
        assert "the panels still computing (display dash.wait() for them)" in bundle["text/html"]
        assert "computing the first draw" in dash._status_line.value
        threading.Timer(0.3, held.set).start()
        assert dash.headline["calls"] == 5_000  # waits for the first draw
        assert dash.redraw_count == 1 and set(panels.FAST_PANELS) <= set(dash.board.specs)
        # The Traces and Sessions tabs are built after the first draw (half the widgets).
        assert dash.tabs.children == (dash.explorer.widget, dash.sessions.widget)
        assert dash.widget.children[-1] is dash.tabs
        assert dash.tabs.titles == ("Traces", "Sessions")
        # Displayed after it, the snapshot has the charts.
        html = dash.wait()._repr_mimebundle_()["text/html"]
        assert "still computing" not in html and "5,000" in html
    finally:
        held.set()
        dash.close()


def test_a_failed_first_draw_is_said_then_raised_once_and_a_refresh_draws(
    store_file: Path, monkeypatch: pytest.MonkeyPatch
):
    fast_panels = panels.fast_panels
    failing = {"on": True}

    def broken(*args: Any, **kwargs: Any) -> Any:
        if failing["on"]:
            raise RuntimeError("the disk is on fire")
        return fast_panels(*args, **kwargs)

    monkeypatch.setattr(panels, "fast_panels", broken)
    dash = Dashboard(store_file)
    try:
        with pytest.raises(RuntimeError, match="on fire"):
            dash.wait()
        assert "the first draw failed: the disk is on fire" in dash._status_line.value
        failing["on"] = False
        assert dash.refresh() > 0  # raised once: the dashboard draws again
        assert dash.headline["calls"] == 5_000
    finally:
        dash.close()


def test_a_widget_event_during_the_first_draw_waits_for_it(store_file: Path, held: threading.Event):
    dash = Dashboard(store_file)
    try:
        threading.Timer(0.3, held.set).start()
        # As the page would: a model chosen while the first draw computes. The redraw it sets
        # off waits for the first draw, then narrows it: two redraws, the filter's last.
        dash.selects["models"].value = ("gpt-4o",)
        assert dash.redraw_count == 2
        assert dash.by_model["model"].to_list() == ["gpt-4o"]
    finally:
        held.set()
        dash.close()


def test_the_first_draw_sends_the_sketch_charts_last_and_a_filter_change_all_at_once(
    store_file: Path, monkeypatch: pytest.MonkeyPatch
):
    # The first draw sends the headline and the charts made while the latency and TTFT
    # sketches are asked, then those two; a filter change sends its panels in one message.
    sent: list[list[str]] = []
    show = ChartBoard.show

    def recorded(board: ChartBoard, charts: Any, **kwargs: Any) -> list[str]:
        names = show(board, charts, **kwargs)
        sent.append(sorted(names))
        return names

    monkeypatch.setattr(ChartBoard, "show", recorded)
    dash = Dashboard(store_file)
    try:
        dash.wait()
        early = sorted(set(panels.FAST_PANELS) - set(panels.PERCENTILE_PANELS))
        assert sent[:2] == [early, sorted(panels.PERCENTILE_PANELS)]
        assert dash.board.updating is False
        del sent[:]
        dash.apply_filters(models=("gpt-4o",)).wait()
        changed = sent[0]
        assert set(panels.PERCENTILE_PANELS) < set(changed) and "cost" in changed
        assert all(names == ["quality"] for names in sent[1:])  # the background panel, apart
    finally:
        dash.close()
