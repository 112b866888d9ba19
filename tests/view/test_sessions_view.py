"""The sessions view: the list sorted and searched, a session's turns, a turn's trace."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

import llmobs_nb
from llmobs_nb import analytics
from llmobs_nb.view import Dashboard, SessionsView
from llmobs_nb.view.escaping import html_text

from .agent_store import PRICES, SESSIONS, XSS, build_agent_store, spans_of

RAW_TAG = re.compile(r"<img\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_agent_store(tmp_path_factory.mktemp("sessions") / "agents.duckdb")


@pytest.fixture
def view(store: Path) -> SessionsView:
    return SessionsView(store)


def traces_of(store: Path, session_id: str) -> list[str]:
    """The session's traces (turns) in the order they started."""
    found = spans_of(
        store,
        "SELECT trace_id, min(start_time) AS began FROM spans WHERE session_id = ? "
        "GROUP BY trace_id ORDER BY began, trace_id",
        [session_id],
    )
    return found["trace_id"].to_list()


def listed(view: SessionsView) -> list[str]:
    return [value for _, value in view.session_list.options]


def test_the_list_holds_every_session_latest_first(view: SessionsView):
    assert view.error is None
    assert listed(view) == [XSS, "conv-2", "conv-1"]  # written in the other order
    assert view.listed["session_id"].to_list() == listed(view)
    assert dict(view.listed.select("session_id", "turns").rows()) == {
        s: turns for s, (_, turns, *_) in SESSIONS.items()
    }
    assert "3 of 3 sessions" in view.status.value


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("cost", ["conv-1", "conv-2", XSS]),
        ("turns", ["conv-2", "conv-1", XSS]),
        ("last activity", [XSS, "conv-2", "conv-1"]),
    ],
)
def test_the_list_sorts_by_cost_turns_and_last_activity(view, order, expected):
    assert listed(view.sort_by(order)) == expected


def test_the_list_sorts_by_errors_largest_first(view: SessionsView):
    view.sort_by("errors")
    errors = view.listed["errors"].to_list()
    assert errors == sorted(errors, reverse=True) and errors[0] > errors[-1] == 0
    assert listed(view)[-1] == "conv-2"  # the session where nothing failed
    with pytest.raises(ValueError, match="sort by"):
        view.sort_by("name")


def test_the_search_box_finds_sessions_by_session_or_user_id(view: SessionsView):
    assert listed(view.search("BOB")) == ["conv-2"]  # a user id, any case
    assert sorted(listed(view.search("conv"))) == ["conv-1", "conv-2"]
    view.query.value = "onerror"  # typed into the box
    assert listed(view) == [XSS]
    assert listed(view.search("nobody")) == []
    assert "0 of 3 sessions" in view.status.value
    assert listed(view.search("")) == [XSS, "conv-2", "conv-1"]


def test_choosing_a_session_lists_its_turns_in_order(view: SessionsView, store: Path):
    view.session_list.value = "conv-2"  # as a click does
    assert view.session_id == "conv-2"
    assert view.turns["turn"].to_list() == [1, 2, 3]
    assert view.turns["trace_id"].to_list() == traces_of(store, "conv-2")
    assert [value for _, value in view.turn_list.options] == traces_of(store, "conv-2")
    html = view.turns_html.value
    for column in ("turn", "latency_s", "cost_usd", "status", "input", "output"):
        assert f">{column}</th>" in html
    assert "question 2" in html and "answer from 2 searches" in html


def test_choosing_a_turn_opens_its_trace_in_the_explorer(view: SessionsView, store: Path):
    view.select("conv-1")
    second = traces_of(store, "conv-1")[1]
    view.turn_list.value = second  # as a click does
    assert view.trace is not None and view.trace.trace_id == second
    assert view.explorer.trace is view.trace
    assert "llmobs-vis" in view.explorer.waterfall.outputs[0]["data"]["text/html"]
    assert "llmobs-vis" in view.agents.outputs[0]["data"]["text/html"]  # agent timeline
    assert view.explorer.detail.outputs  # the root span's details
    first = view.open_turn(1)
    assert (
        first.trace_id == traces_of(store, "conv-1")[0] and view.turn_list.value == first.trace_id
    )
    with pytest.raises(KeyError, match="no turn"):
        view.open_turn(7)


def test_session_ids_and_tool_arguments_are_escaped(view: SessionsView, store: Path):
    view.search(XSS)
    assert listed(view) == [XSS]
    assert html_text(XSS) in view.status.value and not RAW_TAG.search(view.status.value)
    view.select(XSS)
    html = view.turns_html.value
    assert html_text(XSS) in html and not RAW_TAG.search(html)  # id and question
    view.open_turn(1)
    failed_tool = spans_of(
        store,
        "SELECT span_id FROM spans WHERE session_id = ? AND kind = 'tool' AND status = 'error'",
        [XSS],
    ).item()
    view.explorer.spans.value = failed_tool
    detail = view.explorer.detail.outputs[0]["data"]["text/html"]
    assert "<b>arguments</b>" in detail and "<b>input</b>" not in detail
    assert "onerror=alert(1)" in detail and not RAW_TAG.search(detail)
    assert "&lt;img src=x onerror=alert(1)&gt;" in detail
    ok_tool = spans_of(
        store,
        "SELECT span_id FROM spans WHERE session_id = ? AND kind = 'tool' AND status = 'ok' "
        "AND tool_name = 'search' LIMIT 1",
        [XSS],
    ).item()
    view.explorer.spans.value = ok_tool
    detail = view.explorer.detail.outputs[0]["data"]["text/html"]
    assert "<b>result</b>" in detail and "hits for" in detail


def test_a_store_without_sessions_says_so(tmp_path: Path):
    obs = llmobs_nb.init(db=tmp_path / "plain.duckdb", project="plain", prices=PRICES)
    with obs.span("chat small-model", kind="llm", model="small-model"):
        pass
    obs.flush()
    view = SessionsView(obs)
    obs.close()
    assert view.error is None and view.listed.height == 0
    assert view.session_list.options == ()
    assert "no sessions in this selection" in view.status.value


def test_the_view_agrees_with_analytics(view: SessionsView, store: Path):
    assert view.sessions.equals(analytics.sessions(store, by="session"))
    turns = view.select("conv-1")
    assert turns.equals(analytics.session_turns(store, "conv-1").sort("turn"))


def test_the_dashboard_has_a_sessions_tab_that_follows_its_filter(store: Path):
    board = Dashboard(store)
    try:
        board.wait()
        tab = board.widget.children[-1]
        assert tab.titles == ("Traces", "Sessions")
        assert tab.children[1] is board.sessions.widget
        assert listed(board.sessions) == []  # not read until the tab is shown
        tab.selected_index = 1
        assert sorted(listed(board.sessions)) == sorted(SESSIONS)
        board.apply_filters(users=("bob",)).wait()  # shown: follows the filter at once
        assert listed(board.sessions) == ["conv-2"]
        tab.selected_index = 0
        board.apply_filters(users=("ann",)).wait()
        assert listed(board.sessions) == ["conv-2"]  # hidden: left as it was...
        tab.selected_index = 1
        assert listed(board.sessions) == ["conv-1"]  # ...and read again when shown
        board.sessions.select("conv-2")
        trace = board.sessions.open_turn(3)
        assert trace.trace_id == traces_of(store, "conv-2")[2]
        assert pl.Series(trace.spans["session_id"]).unique().to_list() == ["conv-2"]
    finally:
        board.close()
