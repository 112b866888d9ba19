"""The chart board sends each panel's rows to the page as JSON bytes (binary buffers), the
same rows :attr:`ChartBoard.data` keeps and :meth:`ChartBoard.panel_spec` puts back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import altair as alt
from ipywidgets.widgets.widget import _remove_buffers

from llmobs_nb.view.chart_board import ChartBoard


def test_each_panels_rows_travel_as_bytes_equal_to_its_data():
    board = ChartBoard(panels=("a", "b"))
    rows = [{"n": 1, "model": "o'brien <b>"}, {"n": None, "model": "a"}]
    at = datetime(2025, 3, 3, 12, tzinfo=UTC)
    board.show(
        {
            "a": alt.Chart(alt.Data(values=rows)).mark_bar().encode(x="n:Q", y="model:N"),
            "b": alt.Chart(alt.Data(values=[{"t": at, "n": 2}])).mark_point().encode(x="t:T"),
        }
    )
    assert set(board.packed) == {"a", "b"}
    assert all(isinstance(packed, bytes) for packed in board.packed.values())
    assert json.loads(board.packed["a"]) == board.data["a"] == {"d0": rows}
    assert json.loads(board.packed["b"]) == board.data["b"]  # a time as Altair wrote it
    # The kernel sends them as binary buffers, not as JSON to walk.
    _, paths, buffers = _remove_buffers(board.get_state(["packed"]))
    assert sorted(paths) == [["packed", "a"], ["packed", "b"]] and len(buffers) == 2
    assert "data" not in board.get_state()  # the rows reach the page once, as bytes


def test_an_unchanged_panel_keeps_its_bytes():
    board = ChartBoard(panels=("a", "b"))
    chart = alt.Chart(alt.Data(values=[{"n": 1}])).mark_bar().encode(x="n:Q")
    board.show({"a": chart, "b": chart})
    kept = board.packed["b"]
    board.show({"a": alt.Chart(alt.Data(values=[{"n": 2}])).mark_bar().encode(x="n:Q")})
    assert board.packed["b"] is kept and json.loads(board.packed["a"]) == {"d0": [{"n": 2}]}
