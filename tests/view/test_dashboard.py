"""The dashboard over a real store: filters drive every panel, timers never pile up."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import ipywidgets as widgets
import pytest

import llmobs_nb
from llmobs_nb.analytics.choices import filter_choices
from llmobs_nb.view import Dashboard
from llmobs_nb.view import dashboard as dashboard_module
from llmobs_nb.view.panels import FAST_PANELS

from .conftest import START


@pytest.fixture
def dash(store_file: Path):
    board = Dashboard(store_file, budget_usd_per_hour=5.0)
    yield board
    board.close()


def shipped(board: Dashboard, panel: str) -> list[dict]:
    spec = board.charts[panel].to_dict()
    return [row for values in spec.get("datasets", {}).values() for row in values]


def test_the_dashboard_builds_every_panel_from_a_store_file(dash: Dashboard):
    assert isinstance(dash.widget, widgets.VBox)
    assert set(dash.charts) == set(FAST_PANELS)
    assert dash.headline["calls"] == 5_000
    assert "5,000" in dash.headline_html.value
    assert set(FAST_PANELS) <= set(dash.board.specs) and dash.board.generation >= 1
    assert all(dash.board.data[name] for name in FAST_PANELS)
    assert sorted(dash.selects["models"].options)[:1] == ["claude-3-5-haiku"]


def test_the_chosen_time_range_is_written_out_in_full(dash: Dashboard):
    first, *_, last = dash.time.options
    assert f"{first[0]} → {last[0]} UTC" in dash.time_label.value
    dash.time.index = (1, 2)
    assert f"{dash.time.options[1][0]} → {dash.time.options[2][0]} UTC" in dash.time_label.value
    assert dash.filters.start == dash.time.options[1][1]


def test_a_model_filter_changes_the_headline_and_every_chart(dash: Dashboard):
    before = {name: shipped(dash, name) for name in ("latency", "cost", "top_users")}
    dash.apply_filters(models=("gpt-4o",))
    assert 0 < dash.headline["calls"] < 5_000
    assert {r["model"] for r in shipped(dash, "latency")} == {"gpt-4o"}
    assert {r["model"] for r in shipped(dash, "cost") if "model" in r} == {"gpt-4o"}
    assert shipped(dash, "top_users") != before["top_users"]
    assert dash.selects["models"].value == ("gpt-4o",)


def test_choosing_in_the_widgets_redraws_like_apply_filters(dash: Dashboard):
    dash.selects["users"].value = ("user-001",)
    assert dash.filters.users == ("user-001",)
    by_widget = dash.headline["calls"]
    dash.apply_filters(users=("user-001",))
    assert dash.headline["calls"] == by_widget < 5_000


def test_a_time_range_narrows_the_panels(dash: Dashboard):
    dash.apply_filters(start=START, end=START + timedelta(hours=12))
    first_half_day = dash.headline["calls"]
    assert 0 < first_half_day < 5_000
    latest = max(r["bucket"] for r in shipped(dash, "tokens"))
    assert latest < "2025-03-03T12"


def test_alerts_and_the_quality_panel_arrive_from_the_background(dash: Dashboard):
    dash.wait()
    assert isinstance(dash.headline["alerts"], int)
    assert "quality" in dash.board.specs and dash.board.data["quality"]
    assert "drift" in dash.slow and "model" in dash.slow["drift"].columns


def test_a_quoted_model_name_filters_the_live_store(live_obs: llmobs_nb.Observer):
    board = Dashboard(live_obs)
    try:
        assert "o'brien" in board.selects["models"].options
        board.apply_filters(models=("o'brien",)).wait()
        assert board.headline["calls"] == 3
        assert board.explorer.lists["slowest"].height == 3
    finally:
        board.close()


def test_the_trace_explorer_shows_the_chosen_trace(dash: Dashboard):
    dash.wait()
    slowest = dash.explorer.lists["slowest"]
    assert slowest["duration_s"].to_list() == sorted(slowest["duration_s"].to_list(), reverse=True)
    assert dash.explorer.lists["failed"]["errors"].min() >= 1
    trace_id = slowest["trace_id"][0]
    dash.explorer.traces.value = trace_id
    assert dash.explorer.trace is not None and dash.explorer.trace.trace_id == trace_id
    assert "llmobs-vis" in dash.explorer.waterfall.outputs[0]["data"]["text/html"]
    dash.explorer.spans.value = dash.explorer.spans.options[-1][1]
    assert dash.explorer.detail.outputs


def test_auto_refresh_keeps_a_single_timer_across_dashboards(store_file: Path):
    first, second = Dashboard(store_file), Dashboard(store_file)
    try:
        first.start_auto_refresh(0.2)
        first.start_auto_refresh(0.2)  # re-running the cell: still one timer
        second.start_auto_refresh(0.2)  # a new dashboard takes over
        assert not first.auto_refreshing and second.auto_refreshing
        names = [t.name for t in __import__("threading").enumerate()]
        assert names.count("llmobs-auto-refresh") == 1
        refreshed, drawn = second.refresh_count, second.redraw_count
        deadline = time.monotonic() + 30  # a refresh can take ~0.5 s on a busy machine
        while second.refresh_count == refreshed and time.monotonic() < deadline:
            time.sleep(0.1)
        assert second.refresh_count > refreshed
        assert second.redraw_count == drawn  # nothing changed in the store: nothing redrawn
        second.stop_auto_refresh()
        assert not second.auto_refreshing and not second.auto.value
    finally:
        first.close()
        second.close()


def test_panels_come_from_the_rollups_and_agree_with_the_exact_dashboard(store_file: Path):
    fast, exact = Dashboard(store_file, approx=True), Dashboard(store_file, approx=False)
    try:
        for board in (fast, exact):
            board.apply_filters(models=("gpt-4o", "claude-3-5-haiku"))
        assert fast.headline["calls"] == exact.headline["calls"]
        assert fast.headline["cost_usd"] == pytest.approx(exact.headline["cost_usd"], rel=1e-12)
        assert fast.headline["error_rate"] == exact.headline["error_rate"]
        p95, want = fast.headline["p95_latency_s"], exact.headline["p95_latency_s"]
        assert abs(p95 - want) <= 0.01 * want * (1 + 1e-9)
        assert "≈" in fast.headline_html.value and "≈" not in exact.headline_html.value
        assert fast.headline["p95_rel_error"] == 0.01 and exact.headline["p95_rel_error"] == 0.0
        for panel in ("cost", "errors"):  # counts and sums: the same rows (sums reordered)
            got, want_rows = (
                sorted(
                    shipped(board, panel),
                    key=lambda r: sorted((k, str(v)[:8]) for k, v in r.items()),
                )
                for board in (fast, exact)
            )
            assert len(got) == len(want_rows) > 0, panel
            for g, w in zip(got, want_rows, strict=True):
                assert g.keys() == w.keys()
                for key, value in w.items():
                    if isinstance(value, float):
                        assert g[key] == pytest.approx(value, rel=1e-9), (panel, key)
                    else:
                        assert g[key] == value, (panel, key)
        assert len(shipped(fast, "latency")) == len(shipped(exact, "latency"))
        fast.apply_filters(users=("user-001",))  # a user: the exact answer, no sketch
        exact.apply_filters(users=("user-001",))
        assert fast.headline["p95_rel_error"] == 0.0
        assert fast.headline["p95_latency_s"] == exact.headline["p95_latency_s"]
    finally:
        fast.close()
        exact.close()


def test_a_model_keeps_its_colour_and_the_buckets_stay_when_filtering(dash: Dashboard):
    def look(panel: str) -> tuple[list, str]:
        spec = dash.charts[panel].to_dict()
        layer = spec.get("layer", [spec])[0]
        return layer["encoding"]["color"]["scale"]["domain"], layer["encoding"]["x"]["title"]

    everything = sorted(dash.selects["models"].options)
    before = {panel: look(panel) for panel in ("latency", "cost")}
    dash.apply_filters(models=("gpt-4o",))
    for panel in ("latency", "cost"):
        domain, axis = look(panel)
        assert domain == everything  # the same colour for gpt-4o as before
        assert axis == before[panel][1]  # the same time bucket
        spec = dash.charts[panel].to_dict()
        legend = spec.get("layer", [spec])[0]["encoding"]["color"]["legend"]
        assert legend == {"values": ["gpt-4o"]}  # the legend lists what is drawn
    assert {r["model"] for r in shipped(dash, "latency")} == {"gpt-4o"}


def test_the_bucket_follows_the_time_range_not_the_models_chosen(store_file: Path):
    from llmobs_nb.view.buckets import MAX_BUCKETS, MIN_BUCKETS, choose_every, stable_every
    from llmobs_nb.view.data_source import DataSource, Filter

    source = DataSource(store_file)
    everything = source.filtered(Filter())
    one_model = source.filtered(Filter(models=("gpt-4o",)))
    assert stable_every(one_model, 50) == stable_every(everything, 50) == "1h"
    lo, hi, n = one_model.extent()  # the former rule: the chosen model's own calls
    assert choose_every(lo, hi, min(MAX_BUCKETS, max(MIN_BUCKETS, n // 50))) != "1h"
    narrowed = source.filtered(Filter(start=START, end=START + timedelta(hours=6)))
    assert stable_every(narrowed, 1) in ("1m", "5m")  # a short range: a finer bucket


def test_by_default_a_small_store_is_answered_exactly(store_file: Path, monkeypatch):
    from llmobs_nb.analytics import rollup_engine

    board = Dashboard(store_file)  # 5,000 spans: below AUTO_MIN_SPANS
    try:
        assert board.headline["p95_rel_error"] == 0.0
        monkeypatch.setattr(rollup_engine, "AUTO_MIN_SPANS", 1_000)
        monkeypatch.setattr("llmobs_nb.view.data_source.AUTO_MIN_SPANS", 1_000)
        board.apply_filters(models=("gpt-4o",))  # now the store counts as large, but its
        assert board.headline["p95_rel_error"] == 0.0  # sketches are sparse: exact quantiles
        monkeypatch.setattr("llmobs_nb.view.data_source.AUTO_MAX_SKETCH_SHARE", 10.0)
        board.apply_filters(models=("gpt-4o", "claude-3-5-haiku"))
        assert board.headline["p95_rel_error"] == 0.01
    finally:
        board.close()


def test_a_filter_change_keeping_the_time_range_reuses_its_extent(
    dash: Dashboard, monkeypatch: pytest.MonkeyPatch
):
    from llmobs_nb.view import data_source

    asked: list[object] = []
    summary = data_source.summary

    def counting(calls, **kwargs):
        if kwargs.get("quantiles") == ():  # the time range's extent (counts and times only)
            asked.append(calls.filters)
        return summary(calls, **kwargs)

    first = dash.headline["calls"]  # the first draw (computed on the dashboard's thread) done
    monkeypatch.setattr(data_source, "summary", counting)
    dash.apply_filters(models=("gpt-4o",))
    dash.apply_filters(models=("gpt-4o", "claude-3-5-haiku"))
    assert asked == []  # same store, same time range: the extent of the first redraw holds
    assert 0 < dash.headline["calls"] < first
    dash.apply_filters(start=START, end=START + timedelta(days=1), models=("gpt-4o",))
    assert len(asked) == 1  # a new time range is asked once
    dash.apply_filters(start=START, end=START + timedelta(days=1))
    assert len(asked) == 1


def test_the_cost_bars_share_the_time_bucket_of_the_other_charts(dash: Dashboard):
    def axis(panel: str) -> str:
        spec = dash.charts[panel].to_dict()
        return spec.get("layer", [spec])[0]["encoding"]["x"]["title"]

    assert axis("cost") == axis("tokens")
    dash.apply_filters(start=START, end=START + timedelta(hours=6))
    assert axis("cost") == axis("tokens") != "time (UTC, per 1h)"


def test_the_users_list_is_short_searchable_and_keeps_the_chosen(store_file, monkeypatch):
    """A store has thousands of users: the list shows a few (the chosen first), the search
    box narrows them, and searching redraws nothing."""
    monkeypatch.setattr(dashboard_module, "MAX_LISTED_USERS", 5)
    _, values = filter_choices(store_file)
    everyone = values["users"]
    assert len(everyone) > 5
    dash = Dashboard(store_file)
    try:
        users, search = dash.selects["users"], dash.user_search
        assert list(users.options) == everyone[:5]
        assert f"({len(everyone):,})" in search.placeholder
        redraws = dash.redraw_count
        search.value = "user-03"
        assert list(users.options) == [u for u in everyone if "user-03" in u][:5]
        assert dash.redraw_count == redraws and users.value == ()
        users.value = (users.options[1],)
        picked = users.value
        assert dash.filters.users == picked and dash.redraw_count == redraws + 1
        search.value = "user-01"
        assert users.options[0] == picked[0] and users.value == picked
        assert all("user-01" in u for u in users.options[1:]) and len(users.options) == 5
        assert dash.filters.users == picked and dash.redraw_count == redraws + 1
        dash.apply_filters(users=(everyone[-1],))
        assert users.value == (everyone[-1],) and users.options[0] == everyone[-1]
        assert dash.filters.users == (everyone[-1],)
        search.value = ""
        assert list(users.options) == [everyone[-1], *everyone[:4]]
    finally:
        dash.close()
