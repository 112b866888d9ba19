"""The dashboard's chart board: one message per change, data apart from specs, zoom back."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import altair as alt
import pytest

from llmobs_nb.store.connect import connect
from llmobs_nb.view import Dashboard
from llmobs_nb.view.chart_board import ChartBoard, for_board, split_spec


def bars(rows: list[dict], title: str) -> alt.Chart:
    return (
        alt.Chart(alt.Data(values=rows), title=title)
        .mark_bar()
        .encode(x="n:Q", y="model:N", color=alt.Color("model:N", legend=alt.Legend(values=["a"])))
    )


def test_a_chart_over_other_rows_and_titles_keeps_its_spec():
    one = alt.Chart(alt.InlineData(values=[{"n": 1, "model": "a"}]), title="1 call")
    first = one.mark_bar().encode(
        x="n:Q", color=alt.Color("model:N", legend=alt.Legend(values=["a"]))
    )
    other = first.properties(data=alt.InlineData(values=[{"n": 2, "model": "b"}]), title="2 calls")
    other = other.encode(color=alt.Color("model:N", legend=alt.Legend(values=["b"])))
    (spec_a, data_a, values_a), (spec_b, data_b, values_b) = (
        split_spec(c.to_dict()) for c in (first, other)
    )
    assert spec_a == spec_b
    assert data_a != data_b and values_a != values_b
    assert sorted(values_b.values(), key=str) == ["2 calls", ["b"]]


def test_the_datasets_are_renamed_in_order_and_their_rows_kept():
    chart = alt.layer(
        alt.Chart(alt.Data(values=[{"x": 1}])).mark_point().encode(x="x:Q"),
        alt.Chart(alt.Data(values=[{"x": 2}, {"x": 3}])).mark_rule().encode(x="x:Q"),
    )
    spec, data, _ = split_spec(chart.to_dict())
    assert sorted(data) == ["d0", "d1"]
    assert sorted(len(rows) for rows in data.values()) == [1, 2]
    assert "data-" not in str(spec)


def test_show_sends_only_what_changed_and_counts_a_generation_only_then():
    board = ChartBoard(panels=("a", "b"))
    a, b = bars([{"n": 1, "model": "a"}], "a"), bars([{"n": 2, "model": "a"}], "b")
    assert board.show({"a": a, "b": b}) == ["a", "b"]
    assert board.generation == 1 and board.versions == {"a": 1, "b": 1}
    assert board.show({"a": a, "b": b}) == []
    assert board.generation == 1
    board.updating = True
    assert board.show({"a": bars([{"n": 5, "model": "a"}], "a"), "b": b}) == ["a"]
    assert board.generation == 2 and board.versions == {"a": 2, "b": 1}
    assert board.data["a"]["d0"] == [{"n": 5, "model": "a"}] and board.updating is False
    board.updating = True  # a redraw under way: a panel drawn apart leaves the state alone
    assert board.show({"b": bars([{"n": 7, "model": "a"}], "b")}, settle=False) == ["b"]
    assert board.updating is True and board.generation == 3


def test_the_board_module_carries_vega_and_fetches_nothing():
    esm = ChartBoard()._esm
    assert "__llmobsVega" in esm and "export default" in esm
    assert "https://" not in esm.split("var b64=")[0] + esm.split("})();})();", 1)[-1]


def test_the_board_zooms_on_time_axes_only_and_fits_every_chart_to_its_panel():
    timed = alt.Chart(alt.Data(values=[{"t": "2026-01-01", "n": 1}])).mark_line()
    timed = timed.encode(x="t:T", y="n:Q")
    message = alt.Chart(alt.Data(values=[{"m": "no calls"}])).mark_text().encode(text="m:N")
    layered = alt.layer(message, timed)
    brush = {"name": "zoom", "select": {"type": "interval", "encodings": ["x"]}}
    assert for_board(timed.to_dict(), zoom=True)["params"] == [brush]
    assert "params" not in for_board(message.to_dict(), zoom=True)
    on_layers = for_board(layered.to_dict(), zoom=True)
    assert [layer.get("params") for layer in on_layers["layer"]] == [None, [brush]]
    assert "params" not in for_board(timed.to_dict(), zoom=False)
    assert {for_board(c.to_dict())["width"] for c in (timed, message)} == {"container"}


@pytest.fixture
def dash(store_file: Path):
    board = Dashboard(store_file)
    yield board
    board.close()


def test_the_same_filter_twice_sends_nothing_new_to_the_page(dash: Dashboard):
    dash.apply_filters(models=("gpt-4o",))
    generation = dash.board.generation
    dash.apply_filters(models=("gpt-4o",))
    assert dash.board.generation == generation
    assert "nothing changed" in dash.status.value


def test_a_refresh_redraws_only_when_the_store_or_the_filter_changed(store_file, tmp_path):
    copy = tmp_path / "copy.duckdb"  # the shared sample store stays as it is
    shutil.copyfile(store_file, copy)
    dash = Dashboard(copy)
    try:
        _refreshes_only_on_change(dash, copy)
    finally:
        dash.close()


def _refreshes_only_on_change(dash: Dashboard, store_file: Path) -> None:
    drawn = dash.redraw_count
    assert dash.refresh() == 0.0 and dash.redraw_count == drawn  # nothing new
    dash.apply_filters(models=("gpt-4o",))
    assert dash.refresh() > 0.0 and dash.redraw_count == drawn + 2  # drawn, then re-checked
    assert dash.refresh() == 0.0 and dash.redraw_count == drawn + 2
    dash.wait()  # the background panels done: the dashboard's connections are idle
    assert dash.source._kept_open().is_open  # kept open between redraws (store/kept_open.py)
    # A writer in this process (the package's connect) closes the idle readers of its file.
    with connect(str(store_file)) as con:  # a writer adds a call
        con.execute("INSERT INTO spans SELECT * FROM spans WHERE kind = 'llm' LIMIT 1")
    assert dash.refresh() > 0.0 and dash.redraw_count == drawn + 3


def test_a_drag_across_a_time_chart_zooms_every_panel(dash: Dashboard):
    before = dash.headline["calls"]
    first, last = dash.time.options[0][1], dash.time.options[-1][1]
    third = (last - first) / 3
    start, end = first + third, first + 2 * third
    dash.board.zoom = {  # what the page sends when the user drags across the latency chart
        "start_ms": start.timestamp() * 1000,
        "end_ms": end.timestamp() * 1000,
        "n": 1,
    }
    assert dash.filters.start is not None and dash.filters.end is not None
    assert dash.filters.start <= start and dash.filters.end >= end
    assert (dash.filters.end - dash.filters.start) < (last - first) / 2
    assert 0 < dash.headline["calls"] < before
    assert dash.board.zoom_range()[0] == datetime.fromtimestamp(start.timestamp(), UTC)


def test_a_slider_drag_redraws_once_when_let_go(dash: Dashboard):
    assert dash.time.continuous_update is False


def test_shows_from_two_threads_keep_every_panel_at_its_latest_version():
    # The dashboard shows its fast panels from the kernel's thread and the quality panel
    # from its worker, at the same time.
    board = ChartBoard(panels=("a", "b"))

    def feed(name: str) -> None:
        for i in range(30):
            board.show({name: bars([{"n": i, "model": "a"}], name)})

    threads = [threading.Thread(target=feed, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert board.versions == {"a": 30, "b": 30}
    assert [board.data[name]["d0"][0]["n"] for name in ("a", "b")] == [29, 29]
    assert board.generation == 60
