"""The ownership walk (``analytics.ownership``, SQL) on parent links as broken as data gets:
random traces whose parents may be any span of the trace (cycles, a span its own parent) or
missing, against the rules restated in plain Python (``agent_rules``); a span stored twice;
walks as long as :data:`~llmobs_nb.analytics.ownership.MAX_DEPTH` and longer."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmobs_nb import analytics
from llmobs_nb.analytics.ownership import MAX_DEPTH
from tests.analytics.test_agents import _all_questions, _frame, _span, random_span

pytestmark = pytest.mark.filterwarnings("ignore:no price known for model")


@st.composite
def tangled(draw) -> pl.DataFrame:
    """A few traces whose spans' parents are drawn among all the trace's spans (itself
    included), or missing, or none."""
    rows = []
    for t in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 8))
        for i in range(n):
            parent = draw(st.sampled_from([None, "gone", *(f"s{j}" for j in range(n))]))
            rows.append(random_span(draw, f"t{t}", f"s{i}", parent, i + draw(st.integers(0, 3))))
    return _frame(rows)


@settings(max_examples=40, deadline=None)
@given(tangled())
def test_cycles_and_missing_parents_follow_the_rules(frame: pl.DataFrame) -> None:
    _all_questions(frame)


def test_a_span_stored_twice_is_one_ancestor() -> None:
    # The agent's span twice: two invocations, but its tool and call are counted once.
    agent = _span("t", "a", None, "agent", 0, agent_name="planner", latency_s=9)
    frame = _frame(
        [
            agent,
            agent,
            _span("t", "b", "a", "tool", 1, tool_name="search"),
            _span("t", "c", "b", "llm", 2, model="m", cost_usd=0.5),
        ]
    )
    tools = analytics.tool_usage(frame)
    assert tools.select("agent_name", "tool_name", "calls", "cost_usd").rows() == [
        ("planner", "search", 1, 0.5)
    ]
    agents = analytics.tool_usage(frame, by="agent")
    assert agents.select("invocations", "tool_calls", "model_calls").rows() == [(2, 1, 1)]


def _chain(links: int) -> pl.DataFrame:
    """An agent, ``links`` - 1 workflow spans in a line under it, and a tool under those: the
    tool is ``links`` parent links below the agent."""
    rows = [_span("t", "c0", None, "agent", 0, agent_name="top")]
    rows += [_span("t", f"c{i}", f"c{i - 1}", "chain", i) for i in range(1, links)]
    rows.append(_span("t", "tool", f"c{links - 1}", "tool", links, tool_name="deep"))
    return _frame(rows)


def test_a_walk_stops_after_max_depth_links() -> None:
    owner = analytics.tool_usage(_chain(MAX_DEPTH))["agent_name"].to_list()
    assert owner == ["top"]
    assert analytics.tool_usage(_chain(MAX_DEPTH + 1))["agent_name"].to_list() == [None]
