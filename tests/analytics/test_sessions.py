"""analytics.sessions and analytics.session_turns: every column against the rules restated in
plain Python (tests/analytics/agent_rules.py), on a real store written through
``llmobs_nb.init`` with ``obs.session``, ``obs.agent``, ``obs.tool`` and model calls with
usage and prices, on frames of its spans, and on hand-built frames for the edge cases."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import llmobs_nb
from llmobs_nb import analytics
from llmobs_nb.analytics import Filter
from llmobs_nb.analytics.sessions import SESSION_SCHEMA, TURN_SCHEMA, USER_SCHEMA
from llmobs_nb.analytics.source import open_store
from llmobs_nb.store.schema import SPANS
from llmobs_nb.view.data_source import DataSource
from tests.analytics import agent_rules as rules
from tests.analytics.conftest import write_store

# m-local has no price on purpose (its cost is NULL, never 0): its warning is expected.
pytestmark = pytest.mark.filterwarnings("ignore:no price known for model")

PRICES = {
    "m-big": {"input_mtok": 10.0, "output_mtok": 30.0},
    "m-small": {"input_mtok": 1.0, "output_mtok": 2.0},
}


def _call(obs, model: str, tokens: tuple[int, int], *, fail: bool = False, text: str = "") -> str:
    """One model call with usage (and, with content capture, its prompt and answer)."""
    try:
        with obs.span("chat", kind="llm", model=model) as span:
            span.set_usage({"input_tokens": tokens[0], "output_tokens": tokens[1]})
            if text:
                span.set_input(f"ask {text}")
                span.set_output(f"answer {text}")
            if fail:
                raise RuntimeError("rate limited")
    except RuntimeError:
        pass
    return span.span_id


def build_sessions_store(path: Path) -> None:
    """Four sessions (one without a user), errors of three kinds, scores of two names, an
    unpriced model, a turn whose root has text and one whose calls do, and spans without a
    session."""
    obs = llmobs_nb.init(db=path, project="sessions", capture_content=True, prices=PRICES)

    @obs.tool("lookup")
    def lookup(key: str) -> str:
        if key == "missing":
            raise KeyError(key)
        return f"value of {key}"

    with obs.session("s-ann", user_id="ann"):
        with obs.agent("planner") as root:  # turn 1: text on the root, two priced calls
            root.set_input("plan a trip")
            root.set_output("here is the plan")
            first = _call(obs, "m-big", (1000, 100))
            lookup("paris")
            _call(obs, "m-small", (200, 20))
        obs.score(span_id=first, name="quality", value=0.9)
        with obs.agent("planner"):  # turn 2: a failed call, an unpriced one, text on calls
            failed = _call(obs, "m-small", (10, 0), fail=True, text="one")
            _call(obs, "m-local", (50, 5), text="two")
        obs.score(span_id=failed, name="quality", value=0.3)
        obs.score(trace_id=_trace_of(obs, failed), name="thumbs", value=1.0)
    with obs.session("s-bob", user_id="bob"):
        with obs.agent("planner") as root:  # a tool fails; no model call does
            _call(obs, "m-small", (300, 30))
            with contextlib.suppress(KeyError):
                lookup("missing")
        obs.score(span_id=root.span_id, name="quality", value=0.5)  # an agent span: its call
    with obs.session("s-ann-2", user_id="ann"):
        _call(obs, "m-local", (7, 7))  # only unpriced calls: cost unknown
    with obs.session("s-anon"), obs.span("idle", kind="chain"):  # no user, no model call
        lookup("x")
    _call(obs, "m-big", (5000, 500))  # no session: left out
    obs.close()


def _trace_of(obs, span_id: str) -> str:
    obs.flush()
    return obs.sql("SELECT trace_id FROM spans WHERE span_id = ?", [span_id]).item()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sessions") / "s.duckdb"
    build_sessions_store(path)
    return path


@pytest.fixture(scope="module")
def stored(store: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    with open_store(store) as con:
        spans = con.sql("SELECT * FROM spans ORDER BY start_time").pl()
        scores = con.sql("SELECT * FROM scores").pl()
    return spans, scores


@pytest.fixture
def sources(store: Path, stored) -> Iterator[dict]:
    """The same spans as an observer, a file path, a connection, a DataSource and a frame
    (with its scores given)."""
    spans, scores = stored
    observer = llmobs_nb.open(store)
    with open_store(store) as con:
        yield {
            "observer": (observer, None),
            "path": (str(store), None),
            "connection": (con, None),
            "data_source": (DataSource(con), None),
            "frame": (spans, scores),
            "lazy": (spans.lazy(), scores),
        }
    observer.close()


def test_sessions_match_the_rules_from_every_source(sources, stored) -> None:
    spans, scores = stored
    rows, score_rows = spans.to_dicts(), scores.to_dicts()
    for score in (None, "quality", "thumbs"):
        expected = rules.sessions(rows, score_rows, score=score)
        by_user = rules.sessions(rows, score_rows, by="user", score=score)
        for name, (source, given) in sources.items():
            got = analytics.sessions(source, score=score, scores=given)
            assert_frame_equal(got, expected, rel_tol=1e-9, abs_tol=1e-12), (name, score)
            got = analytics.sessions(source, by="user", score=score, scores=given)
            assert_frame_equal(got, by_user, rel_tol=1e-9, abs_tol=1e-12), (name, score)


def test_sessions_figures_by_hand(sources) -> None:
    """The same answer stated as literal facts of the store written above."""
    got = analytics.sessions(sources["observer"][0]).to_dicts()
    by_id = {row["session_id"]: row for row in got}
    assert set(by_id) == {"s-ann", "s-bob", "s-ann-2", "s-anon"}  # no-session spans left out
    ann = by_id["s-ann"]
    assert (ann["user_id"], ann["turns"], ann["calls"], ann["errors"]) == ("ann", 2, 4, 1)
    # m-big 1000/100 + m-small 200/20 + m-small 10/0 (failed, still priced); m-local unpriced
    assert ann["cost_usd"] == pytest.approx(0.01 + 0.003 + 0.0002 + 0.00004 + 0.00001)
    assert (ann["input_tokens"], ann["output_tokens"]) == (1260, 125)
    assert ann["mean_score"] == pytest.approx((0.9 + 0.3 + 1.0) / 3)  # thumbs: the trace's call
    assert ann["duration_s"] == pytest.approx(
        (ann["last_activity"] - ann["first_activity"]).total_seconds()
    )
    bob = by_id["s-bob"]
    assert (bob["calls"], bob["errors"], bob["mean_score"]) == (1, 0, 0.5)  # tool error: a turn's
    assert by_id["s-ann-2"]["cost_usd"] is None  # its one call has no price: unknown, not 0
    anon = by_id["s-anon"]
    assert (anon["user_id"], anon["calls"], anon["cost_usd"], anon["mean_score"]) == (
        None,
        0,
        0.0,
        None,
    )
    assert [row["session_id"] for row in got] == ["s-anon", "s-ann-2", "s-bob", "s-ann"]
    users = analytics.sessions(sources["path"][0], by="user")
    assert users["user_id"].to_list() == [None, "ann", "bob"]
    assert users.filter(pl.col("user_id") == "ann")["sessions"].item() == 2


def test_session_turns_match_the_rules_and_the_facts(sources, stored) -> None:
    rows = stored[0].to_dicts()
    for session_id in ("s-ann", "s-bob", "s-anon", "no-such-session"):
        expected = rules.session_turns(rows, session_id)
        for name, (source, _) in sources.items():
            got = analytics.session_turns(source, session_id)
            assert_frame_equal(got, expected, rel_tol=1e-9), (name, session_id)
    turns = analytics.session_turns(sources["path"][0], "s-ann").to_dicts()
    assert [t["turn"] for t in turns] == [1, 2]
    assert (turns[0]["input_text"], turns[0]["output_text"]) == ("plan a trip", "here is the plan")
    assert (turns[1]["input_text"], turns[1]["output_text"]) == ("ask one", "answer two")
    assert [t["status"] for t in turns] == ["ok", "error"]
    assert [t["errors"] for t in turns] == [0, 1] and turns[1]["cost_usd"] == pytest.approx(1e-5)
    bob = analytics.session_turns(sources["path"][0], "s-bob").row(0, named=True)
    assert (bob["status"], bob["errors"], bob["calls"]) == ("error", 0, 1)  # the tool failed
    # The turns add up to their session.
    ann = analytics.sessions(sources["path"][0]).filter(pl.col("session_id") == "s-ann")
    assert sum(t["calls"] for t in turns) == ann["calls"].item()
    assert sum(t["cost_usd"] for t in turns) == pytest.approx(ann["cost_usd"].item())


@pytest.mark.parametrize(
    ("where", "keep"),
    [
        (Filter(models=("m-small",)), lambda s: s["model"] == "m-small"),
        ({"user_id": "ann"}, lambda s: s["user_id"] == "ann"),
        (Filter(statuses=("error",)), lambda s: s["status"] == "error"),
        ({"agent_name": None}, lambda s: s["agent_name"] is None),
    ],
    ids=["models", "user dict", "errors", "no agent"],
)
def test_where_keeps_the_spans_that_pass(sources, stored, where, keep) -> None:
    spans, scores = stored
    rows = spans.to_dicts()
    expected = rules.sessions(rows, scores.to_dicts(), keep=keep)
    assert expected.height > 0
    for name, (source, given) in sources.items():
        got = analytics.sessions(source, where=where, scores=given)
        assert_frame_equal(got, expected, rel_tol=1e-9, abs_tol=1e-12), name


def test_a_time_range_keeps_the_spans_started_in_it(sources, stored) -> None:
    spans, scores = stored
    cut = spans.filter(pl.col("session_id") == "s-bob")["start_time"].min()
    expected = rules.sessions(
        spans.to_dicts(), scores.to_dicts(), keep=lambda s: s["start_time"] >= cut
    )
    for name, (source, given) in sources.items():
        got = analytics.sessions(source, where=Filter(start=cut), scores=given)
        assert_frame_equal(got, expected, rel_tol=1e-9, abs_tol=1e-12), name
    assert set(expected["session_id"]) == {"s-bob", "s-ann-2", "s-anon"}


def test_an_llm_calls_frame_counts_model_calls_only(store: Path) -> None:
    with open_store(store) as con:
        calls = con.sql("SELECT * FROM llm_calls").pl()
        scores = con.sql("SELECT * FROM scores").pl()
    got = analytics.sessions(calls, scores=scores)
    expected = rules.sessions(calls.to_dicts(), scores.to_dicts())
    assert_frame_equal(got, expected, rel_tol=1e-9)
    assert "s-anon" not in got["session_id"].to_list()  # it has no model call
    turns = analytics.session_turns(calls, "s-ann")
    assert turns["calls"].to_list() == [2, 2]
    assert turns["input_text"].to_list() == [None, None]  # llm_calls has no text columns


def _frame(rows: list[dict]) -> pl.DataFrame:
    base = {c: None for c in SPANS.names}
    return pl.DataFrame([base | r for r in rows], schema=SPANS.polars)


T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _span(trace: str, span: str, start_s: float, **fields) -> dict:
    end = fields.pop("end_s", start_s + 1)
    return {
        "trace_id": trace,
        "span_id": span,
        "start_time": T0 + timedelta(seconds=start_s),
        "end_time": T0 + timedelta(seconds=end),
        "latency_s": end - start_s,
        "status": "ok",
        **fields,
    }


def test_hand_built_edge_cases() -> None:
    spans = _frame(
        [
            # A user who appears after an anonymous first span; the earliest named user wins.
            _span("t1", "a", 0, session_id="s", kind="chain", parent_span_id=None, end_s=50),
            _span(
                "t1",
                "b",
                1,
                session_id="s",
                kind="llm",
                model="m",
                parent_span_id="a",
                user_id="zoe",
                cost_usd=0.5,
                input_tokens=10,
                output_tokens=None,
            ),
            _span(
                "t2",
                "a",
                60,
                session_id="s",
                kind="llm",
                model="m",
                user_id="yan",
                status="error",
                cost_usd=None,
                input_tokens=None,
                output_tokens=3,
            ),
            # An evaluator with a model is a model call; one without is not.
            _span("t3", "e1", 5, session_id="judged", kind="evaluator", model="judge"),
            _span("t3", "e2", 6, session_id="judged", kind="evaluator"),
        ]
    )
    got = analytics.sessions(spans)
    expected = rules.sessions(spans.to_dicts(), [])
    assert_frame_equal(got, expected)
    s = got.filter(pl.col("session_id") == "s").row(0, named=True)
    assert (s["user_id"], s["turns"], s["calls"], s["errors"], s["cost_usd"]) == (
        "zoe",
        2,
        2,
        1,
        0.5,
    )
    assert (s["input_tokens"], s["output_tokens"], s["duration_s"]) == (10, 3, 61.0)
    assert got.filter(pl.col("session_id") == "judged")["calls"].item() == 1
    # Naive times are read as UTC, as the store keeps them.
    naive = spans.with_columns(
        pl.col(c).dt.replace_time_zone(None) for c in ("start_time", "end_time")
    )
    assert_frame_equal(analytics.sessions(naive), got)
    # A frame lacking a column a figure needs says which.
    with pytest.raises(ValueError, match="'cost_usd'"):
        analytics.sessions(spans.drop("cost_usd"))


def test_empty_inputs_give_empty_frames_with_the_columns(tmp_path: Path) -> None:
    empty = pl.DataFrame(schema=SPANS.polars)
    no_sessions = _frame([_span("t", "s", 0, kind="llm", model="m")])
    db = write_store(tmp_path / "empty.duckdb", empty)
    for source in (empty, no_sessions, str(db)):
        assert analytics.sessions(source).schema == pl.Schema(SESSION_SCHEMA)
        assert analytics.sessions(source).height == 0
        assert analytics.sessions(source, by="user").schema == pl.Schema(USER_SCHEMA)
        turns = analytics.session_turns(source, "nope")
        assert turns.schema == pl.Schema(TURN_SCHEMA) and turns.height == 0


def test_bad_arguments_are_refused(stored) -> None:
    spans = stored[0]
    with pytest.raises(ValueError, match="by='model'"):
        analytics.sessions(spans, by="model")
    with pytest.raises(TypeError, match="positional"):
        analytics.sessions(spans, "user")
    with pytest.raises(ValueError, match="'no_such_column'"):
        analytics.sessions(spans, where={"no_such_column": 1})
    with pytest.raises(TypeError, match="session_id must be a string"):
        analytics.session_turns(spans, 42)
