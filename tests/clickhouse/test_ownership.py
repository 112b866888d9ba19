"""Agent ownership runs in ClickHouse as in DuckDB (one SQL walk, ``analytics.ownership``), and
the agents questions bring only their answers into Python.

``forest`` is 600 random traces of agents, tools, chains and model calls whose parent links
are as broken as real data gets — parents that were never received, cycles of parents (an
agent inside one too), a span that is its own parent — plus one chain deeper than
:data:`~llmobs_nb.analytics.ownership.MAX_DEPTH`; stored, exported to chdb, and asked every
agents question on both engines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import llmobs_nb
from llmobs_nb import analytics, export
from llmobs_nb.analytics.ownership import MAX_DEPTH
from llmobs_nb.pricing import PriceBook
from llmobs_nb.store.schema import SPANS
from tests.analytics.conftest import write_store
from tests.clickhouse.test_spans_questions import _sorted

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
KINDS = ["agent", "agent", "tool", "tool", "llm", "llm", "llm", "chain"]
MODELS = ["gpt-4o-mini", "gpt-4o", "m-local"]  # m-local has no price: its cost is NULL
BOOK = PriceBook()
QUESTIONS: dict[str, Any] = {
    "tool usage": lambda c: analytics.tool_usage(c),
    "tool usage by agent": lambda c: analytics.tool_usage(c, by="agent"),
    "agent paths": lambda c: analytics.agent_paths(c),
    "agent paths of gpt-4o traces": lambda c: analytics.agent_paths(c, where={"model": "gpt-4o"}),
    "tool loops": lambda c: analytics.tool_loops(c),
    "tool loops of 2": lambda c: analytics.tool_loops(c, repeats=2),
    "agent graph nodes": lambda c: analytics.agent_graph(c).nodes,
    "agent graph edges": lambda c: analytics.agent_graph(c).edges,
}


def _pick(rng: Any, values: list) -> Any:
    value = values[int(rng.integers(len(values)))]
    return None if value is None else str(value)


def _span(trace: str, span: str, parent: str | None, kind: str, at: float, rng: Any) -> dict:
    row: dict[str, Any] = {
        "trace_id": trace,
        "span_id": span,
        "parent_span_id": parent,
        "kind": kind,
        "name": f"{kind} {span}",
        "start_time": T0 + timedelta(seconds=at),
        "end_time": T0 + timedelta(seconds=at + 1.5),
        "latency_s": 1.5,
        "status": "error" if rng.random() < 0.1 else "ok",
        "agent_name": _pick(rng, ["planner", "writer", None]),
        "project": "ownership",
    }
    if kind == "agent":
        row["operation"] = "create_agent" if rng.random() < 0.1 else "invoke_agent"
    if kind == "tool":
        row["tool_name"] = _pick(rng, ["search", "fetch"])
        row["input_text"] = _pick(rng, ['{"q": 1}', None])
    if kind == "llm":
        model, tokens = _pick(rng, MODELS), (int(rng.integers(10, 900)), int(rng.integers(1, 90)))
        cost, _ = BOOK.cost(model, input_tokens=tokens[0], output_tokens=tokens[1],
                            provider="openai", at=row["start_time"])  # fmt: skip
        row |= {"model": model, "provider": "openai", "input_tokens": tokens[0]}
        row |= {"output_tokens": tokens[1], "cost_usd": cost}
    return row


def random_traces(seed: int, traces: int) -> list[dict]:
    """Random trees with broken links: a parent drawn among the trace's spans (earlier or
    later: cycles), missing (``gone``), or none."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(traces):
        n = int(rng.integers(1, 25))
        for i in range(n):
            draw = rng.random()
            parent = (
                None
                if i == 0 or draw < 0.05
                else "gone"
                if draw < 0.1
                else f"s{rng.integers(0, n)}"  # any span of the trace, itself included
                if draw < 0.2
                else f"s{rng.integers(0, i)}"
            )
            rows.append(_span(f"t{t:04d}", f"s{i}", parent, _pick(rng, KINDS), i + t, rng))
    return rows


def deep_chain(length: int) -> list[dict]:
    """An agent, a chain of ``length`` workflow spans under it, a tool and a call at the end."""
    rng = np.random.default_rng(0)
    rows = [_span("deep", "d0", None, "agent", 0, rng) | {"operation": "invoke_agent"}]
    rows += [_span("deep", f"d{i}", f"d{i - 1}", "chain", i, rng) for i in range(1, length)]
    rows.append(_span("deep", "tool", f"d{length - 1}", "tool", length, rng) | {"agent_name": None})
    rows.append(_span("deep", "call", "tool", "llm", length + 1, rng))
    return rows


@pytest.fixture(scope="module")
def forest(chdb_folder: Path, sample: Any) -> tuple[Path, Any]:
    # After ``sample``: its chdb path is the process's one embedded server.
    rows = random_traces(7, 600) + deep_chain(MAX_DEPTH + 100)
    base = {c: None for c in SPANS.names}
    frame = pl.DataFrame([base | r for r in rows], schema=SPANS.polars)
    store = write_store(chdb_folder / "ownership.duckdb", frame)
    url = f"chdb://{chdb_folder / 'chdb'}?table=ownership_traces&logs=ownership_logs"
    assert export.clickhouse(store, url).spans == frame.height
    return store, llmobs_nb.open(url)


@pytest.mark.filterwarnings("ignore:no price known for model")
@pytest.mark.parametrize("name", list(QUESTIONS))
def test_broken_parent_links_give_the_same_answer(forest: Any, name: str) -> None:
    store, source = forest
    expected = QUESTIONS[name](str(store))
    assert expected.height > 0, name
    assert_frame_equal(_sorted(QUESTIONS[name](source)), _sorted(expected), rel_tol=1e-9,
                       abs_tol=1e-9)  # fmt: skip


@pytest.mark.filterwarnings("ignore:no price known for model")
def test_a_walk_deeper_than_max_depth_is_cut_on_both_engines(forest: Any) -> None:
    store, source = forest
    for spans in (str(store), source):
        deep = analytics.tool_usage(spans, where={"trace_id": "deep"})
        # The tool is MAX_DEPTH + 100 links below its agent: its owner is not reached.
        assert deep.select("agent_name", "calls").rows() == [(None, 1)]


def test_the_answers_are_all_that_comes_back(sample: Any) -> None:
    # 1M spans: the agents questions bring kilobytes into Python, not the span tree.
    for question in (
        lambda c: analytics.tool_usage(c),
        lambda c: analytics.tool_usage(c, by="agent"),
        lambda c: analytics.agent_graph(c),
        lambda c: analytics.tool_loops(c),
    ):
        before = sample.source.bytes_received
        question(sample.source)
        assert sample.source.bytes_received - before < 200_000
