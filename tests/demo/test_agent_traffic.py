"""Agent sessions (``generate(agents=True)``): multi-turn sessions of well-formed agent traces,
an injected tool loop where the truth says and nowhere else, and the rest of the demo unchanged.
"""

from __future__ import annotations

import polars as pl
import pytest

from llmobs_nb import analytics, demo
from llmobs_nb.demo import schema
from llmobs_nb.store import Store
from tests.demo.priced import assert_priced_like_genai_prices

AGENT = pl.col("use_case") == "agent"


@pytest.fixture(scope="module")
def agents(start) -> demo.SampleData:
    return demo.generate(20_000, days=7, seed=0, start=start, agents=True)


@pytest.fixture(scope="module")
def spans(agents) -> pl.DataFrame:
    return agents.spans.filter(AGENT)


def traces_with_a_repeated_tool(spans: pl.DataFrame, more_than: int = 3) -> pl.DataFrame:
    """(trace, tool, arguments) called more than ``more_than`` times in one trace."""
    return (
        spans.filter(pl.col("kind") == "tool")
        .group_by("trace_id", "tool_name", "input_text")
        .len()
        .filter(pl.col("len") > more_than)
    )


def test_the_rest_of_the_demo_is_the_same_with_or_without_agents(start):
    with_agents = demo.generate(2_000, days=2, seed=3, start=start, agents=True)
    without = demo.generate(2_000, days=2, seed=3, start=start)

    assert with_agents.spans.filter(~AGENT).equals(without.spans)
    assert with_agents.scores.equals(without.scores)
    assert with_agents.truth.cost_spike == without.truth.cost_spike
    assert with_agents.truth.quality_regression == without.truth.quality_regression
    assert without.spans.filter(AGENT).is_empty() and without.truth.tool_loop is None
    assert with_agents.calls.height == without.calls.height + (
        with_agents.spans.filter(AGENT, pl.col("kind") == "llm").height
    )


def test_frames_keep_the_store_schema_sorted_by_start_with_unique_ids(agents):
    assert agents.spans.schema == pl.Schema(schema.SPANS)
    assert agents.calls.columns == list(schema.LLM_CALLS)
    assert agents.spans["start_time"].is_sorted()
    assert agents.spans["span_id"].n_unique() == agents.spans.height
    assert agents.spans["trace_id"].str.contains(r"^[0-9a-f]{32}$").all()


def test_sessions_are_several_turns_by_one_user_one_after_the_other(spans):
    roots = spans.filter(pl.col("parent_span_id").is_null())
    turns = (
        roots.sort("start_time")
        .group_by("session_id", maintain_order=True)
        .agg(
            pl.len().alias("turns"),
            pl.col("user_id").n_unique().alias("users"),
            pl.col("start_time"),
            pl.col("end_time"),
        )
    )
    assert turns.height > 150  # 1 session per 100 calls, plus the loop's
    assert turns["turns"].min() >= 2 and turns["turns"].mean() > 3
    assert (turns["users"] == 1).all()
    # each turn starts after the previous one ended (the user read the answer)
    gaps = turns.select(
        pl.col("start_time").list.slice(1).alias("next"),
        pl.col("end_time").list.slice(0, pl.col("end_time").list.len() - 1).alias("prev"),
    ).explode("next", "prev")
    assert (gaps["next"] > gaps["prev"]).all()
    assert roots["session_id"].str.starts_with("conv-").all()


def test_every_span_of_an_agent_trace_shares_its_session_user_and_use_case(spans):
    per_trace = spans.group_by("trace_id").agg(
        pl.col("session_id").null_count().alias("no_session"),
        pl.col("session_id").n_unique().alias("sessions"),
        pl.col("user_id").n_unique().alias("users"),
        (pl.col("parent_span_id").is_null()).sum().alias("roots"),
    )
    assert (per_trace["no_session"] == 0).all()
    assert (per_trace["sessions"] == 1).all() and (per_trace["users"] == 1).all()
    assert (per_trace["roots"] == 1).all()
    roots = spans.filter(pl.col("parent_span_id").is_null())
    assert set(roots["name"]) == {"invoke_agent support_agent"}
    assert set(roots["kind"]) == {"agent"} and set(roots["operation"]) == {"invoke_agent"}
    # a session is its own: no trace of it in another session
    assert spans.group_by("session_id").agg(pl.col("trace_id").n_unique())["trace_id"].sum() == (
        spans["trace_id"].n_unique()
    )


def test_every_parent_is_an_agent_span_of_the_same_trace_that_covers_its_child(spans):
    children = spans.filter(pl.col("parent_span_id").is_not_null())
    parents = spans.select(
        pl.col("span_id").alias("parent_span_id"),
        pl.col("trace_id").alias("parent_trace"),
        pl.col("kind").alias("parent_kind"),
        pl.col("agent_name").alias("parent_agent"),
        pl.col("start_time").alias("parent_start"),
        pl.col("end_time").alias("parent_end"),
    )
    joined = children.join(parents, on="parent_span_id", how="left")
    assert joined["parent_trace"].null_count() == 0
    assert (joined["parent_trace"] == joined["trace_id"]).all()
    assert set(joined["parent_kind"]) == {"agent"}
    assert (joined["parent_start"] <= joined["start_time"]).all()
    assert (joined["end_time"] <= joined["parent_end"]).all()
    # spans inside an agent carry its name; an agent span its own (the researcher's)
    inside = joined.filter(pl.col("kind") != "agent")
    assert (inside["agent_name"] == inside["parent_agent"]).all()
    sub = spans.filter(pl.col("kind") == "agent", pl.col("parent_span_id").is_not_null())
    assert set(sub["name"]) == {"invoke_agent researcher"}
    assert set(sub["agent_name"]) == {"researcher"}
    # the leaves of a trace run one after the other
    leaves = spans.filter(pl.col("kind") != "agent").sort("trace_id", "start_time")
    overlap = leaves.select(
        (pl.col("start_time") < pl.col("end_time").shift(1).over("trace_id")).alias("o")
    )["o"]
    assert not overlap.any()


def test_tool_spans_name_their_tool_and_agent_with_arguments_and_results_as_text(spans):
    tools = spans.filter(pl.col("kind") == "tool")
    assert tools["tool_name"].null_count() == 0
    assert (tools["name"] == "execute_tool " + tools["tool_name"]).all()
    assert set(tools["operation"]) == {"execute_tool"}
    assert set(tools["tool_name"]) == {"search_docs", "get_order", "refund", "web_search"}
    by_agent = dict(tools.group_by("agent_name").agg(pl.col("tool_name").unique()).iter_rows())
    assert set(by_agent["researcher"]) == {"web_search"}
    assert set(by_agent["support_agent"]) == {"search_docs", "get_order", "refund"}
    assert tools["input_text"].null_count() == 0
    assert tools["input_text"].str.starts_with("{").all()  # JSON arguments
    ok = tools.filter(pl.col("status") == "ok")
    failed = tools.filter(pl.col("status") == "error")
    assert ok["output_text"].null_count() == 0
    assert failed.height > 0 and failed["output_text"].null_count() == failed.height
    assert set(failed["error_type"]) <= {"OrderNotFound", "TimeoutError"}
    assert spans.filter(pl.col("kind") != "tool")["tool_name"].null_count() == (
        spans.height - tools.height
    )
    # no model, tokens or cost on agent and tool spans
    steps = spans.filter(pl.col("kind") != "llm")
    for column in ("model", "input_tokens", "cost_usd"):
        assert steps[column].null_count() == steps.height, column


def test_the_agents_model_calls_are_calls_priced_like_the_rest(agents, spans):
    calls = agents.calls.filter(AGENT)
    assert calls.height == spans.filter(pl.col("kind") == "llm").height
    assert calls["session_id"].null_count() == 0 and calls["agent_name"].null_count() == 0
    assert dict(calls.group_by("agent_name").agg(pl.col("model").unique()).iter_rows()) == {
        "support_agent": ["gpt-4o"],
        "researcher": ["claude-3-5-haiku"],
    }
    priced = spans.filter(pl.col("kind") == "llm")
    assert_priced_like_genai_prices(priced, 100)
    # the conversation grows: later turns' first model call reads a longer context
    first_calls = (
        priced.filter(pl.col("agent_name") == "support_agent")
        .sort("start_time")
        .group_by("session_id", maintain_order=True)
        .agg(pl.col("input_tokens").first().alias("first"), pl.col("input_tokens").last())
    )
    assert (first_calls["input_tokens"] > first_calls["first"]).mean() > 0.8
    streamed = priced.filter(pl.col("ttft_s").is_not_null())
    assert (streamed["ttft_s"] < streamed["latency_s"]).all()
    assert set(streamed["agent_name"]) == {"support_agent"}


def test_the_tool_loop_is_where_the_truth_says_with_its_size_and_cost(agents, spans):
    loop = agents.truth.tool_loop
    assert (loop.agent, loop.tool, loop.arguments) == (
        "support_agent",
        "search_docs",
        '{"query": "refund policy"}',
    )
    assert agents.start < loop.start < loop.end <= agents.end
    assert len(loop.session_ids) == len(loop.trace_ids) == len(loop.tool_calls) == 3
    assert all(12 <= n <= 25 for n in loop.tool_calls)

    repeated = traces_with_a_repeated_tool(spans)
    # nowhere else: only the loop's traces call a tool more than 3 times, with its arguments
    assert set(repeated["trace_id"]) == set(loop.trace_ids)
    assert set(repeated["tool_name"]) == {loop.tool}
    assert set(repeated["input_text"]) == {loop.arguments}
    assert spans.filter(pl.col("kind") == "tool").group_by("trace_id", "tool_name").len()[
        "len"
    ].max() == max(loop.tool_calls)

    for session_id, trace_id, user_id, calls, usd in zip(
        loop.session_ids, loop.trace_ids, loop.user_ids, loop.tool_calls, loop.usd, strict=True
    ):
        trace = spans.filter(pl.col("trace_id") == trace_id).sort("start_time")
        root = trace.row(0, named=True)
        assert (root["session_id"], root["user_id"]) == (session_id, user_id)
        assert loop.start <= root["start_time"] < loop.end
        # the session's last turn: model call, tool, model call, tool, ... then the answer
        last = spans.filter(pl.col("session_id") == session_id)["start_time"].max()
        assert trace["start_time"].max() == last
        leaves = trace.filter(pl.col("kind") != "agent")["kind"].to_list()
        assert leaves == ["llm", "tool"] * calls + ["llm"]
        assert trace["cost_usd"].sum() == pytest.approx(usd)
    assert loop.total_usd == pytest.approx(sum(loop.usd))
    # it burns money: each looping turn costs several times a usual turn
    per_turn = spans.group_by("trace_id").agg(pl.col("cost_usd").sum())
    usual = per_turn.filter(~pl.col("trace_id").is_in(loop.trace_ids))["cost_usd"].median()
    assert min(loop.usd) > 5 * usual


def test_without_incidents_no_trace_loops(start):
    quiet = demo.generate(20_000, days=7, seed=1, start=start, agents=True, incidents=False)
    assert quiet.truth.tool_loop is None
    assert traces_with_a_repeated_tool(quiet.spans.filter(AGENT)).is_empty()
    assert traces_with_a_repeated_tool(quiet.spans.filter(AGENT), more_than=2).height > 0


def test_the_model_call_incidents_are_detected_as_without_agents(agents, sample):
    def alerts(s: demo.SampleData) -> list[tuple]:
        return analytics.cost_anomalies(s.calls).select("rule", "window_start", "user_id").rows()

    def drift(s: demo.SampleData) -> list[str]:
        found = analytics.quality_drift(
            s.calls, scores=s.scores, by=["model"], score_name="quality"
        )
        return found.filter("alert")["model"].to_list()

    assert alerts(agents) == alerts(sample)
    assert drift(agents) == drift(sample) == [agents.truth.quality_regression.model]
    # the latency incident slows the agents' gpt-4o calls too
    incident = agents.truth.latency_incident
    calls = agents.calls.filter(AGENT, pl.col("model") == incident.model)
    inside = pl.col("start_time").is_between(incident.start, incident.end, closed="left")
    assert calls.filter(inside).height > 10
    ratio = calls.filter(inside)["latency_s"].median() / calls.filter(~inside)["latency_s"].median()
    assert ratio == pytest.approx(incident.factor, rel=0.3)


def test_the_same_seed_gives_the_same_agent_traffic(start):
    first = demo.generate(2_000, days=2, seed=7, start=start, agents=True)
    again = demo.generate(2_000, days=2, seed=7, start=start, agents=True)
    other = demo.generate(2_000, days=2, seed=8, start=start, agents=True)
    assert first.spans.equals(again.spans)
    assert first.truth == again.truth
    assert not first.spans.filter(AGENT).equals(other.spans.filter(AGENT))
    assert first.truth.tool_loop.trace_ids != other.truth.tool_loop.trace_ids


def test_written_to_a_store_the_sessions_and_the_loop_can_be_found_with_sql(tmp_path, start):
    path = tmp_path / "agents.duckdb"
    sample = demo.generate(3_000, days=2, seed=5, start=start, agents=True, store=path)

    store = Store(path, read_only=True)
    calls = store.query("SELECT * FROM llm_calls ORDER BY start_time, span_id")
    loops = store.query(
        """
        SELECT trace_id, session_id, agent_name, tool_name, input_text, count(*) AS calls
        FROM spans WHERE kind = 'tool'
        GROUP BY ALL HAVING count(*) > 3 ORDER BY trace_id
        """
    )
    assert calls.equals(sample.calls.sort("start_time", "span_id"))
    loop = sample.truth.tool_loop
    expected = sorted(zip(loop.trace_ids, loop.session_ids, loop.tool_calls, strict=True))
    assert list(zip(loops["trace_id"], loops["session_id"], loops["calls"], strict=True)) == (
        expected
    )
    assert set(loops["input_text"]) == {loop.arguments}


def test_agents_must_be_a_bool(start):
    with pytest.raises(TypeError, match="agents='yes'"):
        demo.generate(1_000, days=1, start=start, agents="yes")
