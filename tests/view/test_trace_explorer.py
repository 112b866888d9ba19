"""The trace explorer as a newcomer needs it (issue #16 item 5): sortable trace lists that tell
identical failures apart, a waterfall whose short spans are visible and labelled, the time a
parent spent in no child span, "why slow" hints, and an ALERTS card that says what fired."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import llmobs_nb
from llmobs_nb.view import Dashboard, Trace
from llmobs_nb.view.data_source import DataSource, Filter
from llmobs_nb.view.explorer import COLUMNS, TraceExplorer
from llmobs_nb.view.theme import KIND_COLORS, WIDTH
from llmobs_nb.view.trace_charts import MIN_BAR_PX, waterfall_chart, waterfall_layout
from llmobs_nb.view.trace_hints import trace_hints

PAYLOAD = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
PRICES = {"gpt-test": {"input_mtok": 2.0, "output_mtok": 8.0}}


@pytest.fixture
def obs(tmp_path: Path) -> Iterator[llmobs_nb.Observer]:
    """A store with one trace shaped like the issue's (a ~480 ms root whose children are done
    by ~25 ms, a timed-out model call retried with the same input, a span name and a user id
    that are HTML), and three plain traces of other users, costs and durations."""
    obs = llmobs_nb.init(
        db=tmp_path / "explorer.duckdb", project="explorer", capture_content=True, prices=PRICES
    )
    failures = {"left": 0}

    @obs.observe(model="gpt-test", use_case="qa")
    def ask(question: str, tokens: int = 10) -> dict:
        if failures["left"]:
            failures["left"] -= 1
            raise TimeoutError("the model timed out")
        return {"usage": {"prompt_tokens": tokens, "completion_tokens": tokens}, "text": "ok"}

    ask("warm up")  # the first call of a process pays for imports: keep it out of the traces
    with obs.span("handle", user_id=PAYLOAD):
        with obs.span(f"retrieve {PAYLOAD}", kind="retrieval"):
            time.sleep(0.02)
        failures["left"] = 1
        for _ in range(2):
            try:
                ask("the same question")
                break
            except TimeoutError:
                pass
        time.sleep(0.46)  # the root's own time: no child span covers it
    for i, (tokens, pause) in enumerate([(4000, 0.05), (100, 0.15), (20000, 0.1)]):
        with obs.span("job", user_id=f"user-{i}"):
            time.sleep(pause)
            ask(f"question {i}", tokens)
    obs.flush()
    yield obs
    obs.close()


def gap_trace(obs: llmobs_nb.Observer) -> Trace:
    trace_id = obs.sql("SELECT trace_id FROM spans WHERE name = 'handle'")["trace_id"][0]
    return Trace.load(obs, trace_id)


def explorer_over(obs: llmobs_nb.Observer) -> TraceExplorer:
    explorer = TraceExplorer(DataSource(obs))
    explorer.update(DataSource(obs).filtered(Filter()))
    return explorer


# -- the lists --------------------------------------------------------------------------------
def test_the_lists_show_time_user_status_latency_cost_models_and_spans(obs):
    explorer = explorer_over(obs)
    table = explorer.table()
    assert table.columns == [
        "time",
        "user",
        "status",
        "latency",
        "cost",
        "models",
        "spans",
        "trace",
    ]
    assert table.height == 5  # the warm-up call is a trace of its own
    first = table.row(0, named=True)  # the slowest: the 0.5 s trace
    assert first["user"] == PAYLOAD and first["status"] == "TimeoutError"
    assert re.fullmatch(r"[A-Z][a-z]{2} \d\d \d\d:\d\d", first["time"])
    assert re.fullmatch(r"4\d\d ms", first["latency"]) and first["spans"] == "4"
    assert all(re.fullmatch(r"\$\d\.\d{4}|<\$0\.0001", c) for c in table["cost"])
    assert set(table["models"]) == {"gpt-test"}
    # The row a person picks from says the same, column by column.
    option = explorer.traces.options[0][0]
    assert option.startswith(first["time"]) and PAYLOAD[:10] in option and "TimeoutError" in option


def test_each_column_sorts_both_ways_and_a_header_click_sorts(obs):
    explorer = explorer_over(obs)
    listed = explorer.listed
    assert listed["duration_s"].to_list() == sorted(listed["duration_s"], reverse=True)

    cost = explorer.sort_by("cost")["cost_usd"].to_list()
    assert cost == sorted(cost, reverse=True) and explorer.order == ("cost", True)
    cost = explorer.sort_by("cost")["cost_usd"].to_list()  # again: the other way
    assert cost == sorted(cost)
    users = explorer.sort_by("user")["user_id"].to_list()
    named = sorted(u for u in users if u is not None)
    assert users == [*named, None] and named[0] == PAYLOAD  # no user (the warm-up): last

    explorer.headers["time"].click()
    started = explorer.listed["started"].to_list()
    assert started == sorted(started, reverse=True)
    assert explorer.headers["time"].description == "time ▼"
    assert explorer.headers["cost"].description == "cost"
    explorer.headers["spans"].click()
    assert explorer.listed["spans"].to_list() == sorted(explorer.listed["spans"], reverse=True)
    with pytest.raises(ValueError, match="choose one of"):
        explorer.sort_by("colour")
    assert set(COLUMNS) == {"time", "user", "status", "latency", "cost", "models", "spans", "trace"}


def test_a_resort_keeps_the_chosen_trace(obs):
    explorer = explorer_over(obs)
    chosen = explorer.listed["trace_id"][0]
    explorer.traces.value = chosen
    assert explorer.trace is not None and explorer.trace.trace_id == chosen
    explorer.sort_by("user", descending=True)
    assert explorer.traces.value == chosen


def test_identical_timeouts_are_listed_apart_by_time_and_user(store_file: Path):
    explorer = TraceExplorer(DataSource(store_file))
    source = DataSource(store_file)
    with source.session():
        explorer.update(source.filtered(Filter()))
        spans = source.query(
            "SELECT trace_id, count(*) AS n FROM spans WHERE trace_id IN "
            "(SELECT unnest(?::VARCHAR[])) GROUP BY trace_id",
            [explorer.listed["trace_id"].to_list()],
        )
    table = explorer.table()
    # The sample's slowest traces are all 60 s timeouts: the same figures...
    assert set(table["status"]) == {"APITimeoutError"}
    assert all(re.fullmatch(r"60\.\d s", latency) for latency in table["latency"])
    # ...told apart by when and whose.
    pairs = list(zip(table["time"], table["user"], strict=True))
    assert len(set(pairs)) == len(pairs) == 20
    assert len({label for label, _ in explorer.traces.options}) == 20
    counted = dict(spans.iter_rows())
    assert all(counted[t] == n for t, n in explorer.listed.select("trace_id", "spans").iter_rows())


# -- the waterfall ----------------------------------------------------------------------------
def shipped(spec: dict, column: str) -> list[dict]:
    return next(rows for rows in spec["datasets"].values() if rows and column in rows[0])


def test_every_bar_is_labelled_visible_and_the_legend_lists_only_present_kinds(store_file: Path):
    trace_id = DataSource(store_file).query(
        "SELECT trace_id FROM spans WHERE error_type = 'APITimeoutError' AND parent_span_id "
        "IS NOT NULL ORDER BY trace_id LIMIT 1"
    )["trace_id"][0]
    trace = Trace.load(store_file, trace_id)
    spec = waterfall_chart(trace.spans).to_dict()
    rows = shipped(spec, "duration_label")
    laid, x_end = waterfall_layout(trace.spans)
    px_per_ms = WIDTH / x_end
    assert len(rows) == 4
    for row in rows:
        assert row["duration_ms"] == pytest.approx(row["end_ms"] - row["start_ms"])
        assert (row["draw_end_ms"] - row["draw_start_ms"]) * px_per_ms >= MIN_BAR_PX - 1e-6
        assert re.fullmatch(r"\d+(\.\d)? (ms|s)", row["duration_label"])
    # On a 60 s trace the 0.1-0.3 s steps would be slivers: drawn wider, labelled truly.
    widened = [r for r in rows if r["draw_end_ms"] - r["draw_start_ms"] > r["duration_ms"]]
    assert {r["kind"] for r in widened} == {"retrieval", "rerank"}
    assert all(r["duration_label"].endswith(" ms") for r in widened)
    bars = spec["layer"][0]["encoding"]
    kinds = set(laid["kind"])
    assert bars["color"]["scale"]["domain"] == ["chain", "retrieval", "rerank", "llm"]
    assert bars["color"]["scale"]["range"] == [KIND_COLORS[k] for k in KIND_COLORS if k in kinds]
    texts = [layer for layer in spec["layer"] if layer["encoding"].get("text")]
    assert {t["encoding"]["text"]["field"] for t in texts} >= {"duration_label"}


def test_a_one_span_trace_has_a_one_kind_legend(obs):
    trace_id = obs.sql("SELECT trace_id FROM spans WHERE input_text = 'warm up'")["trace_id"][0]
    spec = waterfall_chart(Trace.load(obs, trace_id).spans).to_dict()
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == ["llm"]


def test_retried_calls_of_the_same_name_get_rows_of_their_own(obs):
    labels = gap_trace(obs).spans["label"].to_list()
    assert labels[2:] == ["  chat gpt-test", "  chat gpt-test #2"]


# -- the uncovered time -----------------------------------------------------------------------
def union_ms(intervals: list[tuple[datetime, datetime]], lo: datetime, hi: datetime) -> float:
    """The length of the union of ``intervals`` clipped to [lo, hi], in ms (independently of
    the package: a sweep over the sorted ends)."""
    clipped = sorted((max(a, lo), min(b, hi)) for a, b in intervals if min(b, hi) > max(a, lo))
    total, end = 0.0, lo
    for a, b in clipped:
        if b > end:
            total += (b - max(a, end)).total_seconds() * 1000
            end = b
    return total


def test_the_root_time_no_child_covers_is_its_duration_minus_the_union_of_its_children(obs):
    trace = gap_trace(obs)
    rows = obs.sql(
        "SELECT span_id, parent_span_id, start_time, end_time FROM spans WHERE trace_id = ?",
        [trace.trace_id],
    )
    root = rows.filter(pl.col("parent_span_id").is_null()).row(0, named=True)
    children = rows.filter(pl.col("parent_span_id") == root["span_id"])
    expected = (root["end_time"] - root["start_time"]).total_seconds() * 1000 - union_ms(
        list(children.select("start_time", "end_time").iter_rows()),
        root["start_time"],
        root["end_time"],
    )
    found = trace.uncovered().filter(pl.col("span_id") == root["span_id"]).row(0, named=True)
    assert found["uncovered_ms"] == pytest.approx(expected, abs=1e-3)
    assert found["children"] == 3 and expected > 400  # the 460 ms sleep in the root
    # In the waterfall: a dashed stretch after the children, saying so.
    spec = trace.waterfall().to_dict()
    gaps = shipped(spec, "gap_label")
    longest = max(gaps, key=lambda g: g["gap_ms"])
    assert longest["gap_ms"] > 400 and "not in any child span" in longest["text"]
    assert longest["gap_label"].endswith("not in a child span")
    assert sum(g["gap_ms"] for g in gaps) == pytest.approx(expected, abs=1.0)
    # And in the root span's detail.
    detail = trace.span_html(root["span_id"])
    assert "not in any child span" in detail and "3 child span(s) cover" in detail


# -- why slow ---------------------------------------------------------------------------------
def test_the_hints_name_the_error_the_slowest_child_the_retry_and_the_uncovered_time(obs):
    hints = gap_trace(obs).hints()
    text = "\n".join(hints)
    assert "'chat gpt-test' timed out after" in hints[0] and "(TimeoutError)" in hints[0]
    slowest = next(h for h in hints if h.startswith("Slowest step"))
    assert f"'retrieve {PAYLOAD}' (retrieval)" in slowest and "of 'handle'" in slowest
    retry = "Retry: 'chat gpt-test' was called 2 times in a row on gpt-test with the same input"
    assert f"{retry}, 1 failed first" in text
    uncovered = next(h for h in hints if h.startswith("'handle' took"))
    assert "in no child span" in uncovered and "Its children were done" in uncovered


def spans_frame(rows: list[tuple]) -> pl.DataFrame:
    """Spans of one trace from (span_id, parent, name, kind, start ms, end ms, status,
    model, input)."""
    t0 = datetime(2025, 1, 1)
    return pl.DataFrame(
        [
            {
                "trace_id": "t" * 32,
                "span_id": s,
                "parent_span_id": p,
                "name": n,
                "kind": k,
                "start_time": t0 + timedelta(milliseconds=a),
                "end_time": t0 + timedelta(milliseconds=b),
                "status": st,
                "error_type": None if st == "ok" else "RateLimitError",
                "error_message": None if st == "ok" else "RateLimitError: slow down",
                "model": m,
                "input_text": i,
            }
            for s, p, n, k, a, b, st, m, i in rows
        ]
    )


def test_calls_with_different_inputs_are_no_retry_and_a_covered_parent_no_gap():
    spans = spans_frame(
        [
            ("r", None, "agent", "chain", 0, 1000, "ok", None, None),
            ("a", "r", "chat m", "llm", 0, 400, "ok", "m", "plan"),
            ("b", "r", "chat m", "llm", 400, 1000, "ok", "m", "answer"),
        ]
    )
    hints = trace_hints(spans)
    assert hints == ["Slowest step: 'chat m' (llm), 600 ms: 60% of the 1.0 s of 'agent'."]


def test_a_failure_then_the_same_model_is_a_retry_and_retry_names_count():
    spans = spans_frame(
        [
            ("r", None, "pipeline", "chain", 0, 1000, "error", None, None),
            ("a", "r", "chat m", "llm", 0, 100, "error", "m", None),
            ("b", "r", "chat m", "llm", 100, 300, "ok", "m", None),
            ("c", "r", "retry fetch", "tool", 300, 900, "ok", None, None),
        ]
    )
    hints = trace_hints(spans)
    assert hints[0].startswith("'chat m' failed with RateLimitError: slow down after 100 ms.")
    assert "The error reached 1 enclosing span(s)" in hints[0]
    assert any("no captured input to compare, 1 failed first" in h for h in hints)
    assert any(h.startswith("1 span(s) named like a retry ('retry fetch')") for h in hints)


# -- the ALERTS card --------------------------------------------------------------------------
def test_the_alerts_card_opens_what_fired_with_its_figures(store_file: Path):
    dash = Dashboard(store_file)
    try:
        dash.wait()
        html = dash.headline_html.value
        anomalies = dash.slow["cost_anomalies"]
        drift = dash.slow["drift"].filter(pl.col("alert"))
        assert dash.headline["alerts"] == anomalies.height + drift.height > 0
        assert '<details class="card alert">' in html and "▸ why" in html
        assert html.count("<tr>") == 1 + dash.headline["alerts"]  # a header, a row per alert
        for row in anomalies.iter_rows(named=True):
            assert f"${row['value']:.2f} spent" in html
            assert f"${row['threshold']:.2f}" in html
        for row in drift.iter_rows(named=True):
            assert f"model {row['model']}" in html and f"{row['current']:.3f}" in html
            assert f"{0.7 * row['baseline']:.3f}" in html
        assert "look at" in html and "the quality chart for model" in html
    finally:
        dash.close()


# -- escaping ---------------------------------------------------------------------------------
def test_user_data_reaches_the_explorer_html_escaped(obs):
    explorer = explorer_over(obs)
    explorer.traces.value = gap_trace(obs).trace_id
    shown = explorer.waterfall.outputs[0]["data"]["text/html"]
    detail = "".join(gap_trace(obs).span_html(span_id) for _, span_id in explorer.spans.options)
    for html in (shown, detail, explorer.caption.value):
        assert PAYLOAD not in html
    assert ESCAPED in shown and ESCAPED in detail  # the hints, the span name, the user id


def test_alert_details_escape_the_user_and_model():
    from llmobs_nb.analytics.anomalies import ALERT_SCHEMA
    from llmobs_nb.view.alert_details import alert_list
    from llmobs_nb.view.html import alert_details_html

    anomalies = pl.DataFrame(
        [
            {
                "rule": "user_model_hourly",
                "window_start": datetime(2025, 3, 4, 10, tzinfo=UTC),
                "window_end": datetime(2025, 3, 4, 11, tzinfo=UTC),
                "user_id": PAYLOAD,
                "model": PAYLOAD,
                "value": 6.2,
                "threshold": 5.0,
                "z_score": None,
            }
        ],
        schema=ALERT_SCHEMA,
    )
    html = alert_details_html(alert_list(pl.DataFrame(), anomalies))
    assert PAYLOAD not in html and ESCAPED in html
    assert "$6.20 spent" in html and "limit $5.00 an hour" in html and "Mar 04 10:00–11:00" in html


def test_overlapping_children_are_counted_once_and_spill_is_clipped():
    from llmobs_nb.view.trace_hints import uncovered_time

    spans = spans_frame(
        [
            ("r", None, "fan-out", "chain", 100, 1100, "ok", None, None),
            ("a", "r", "search a", "tool", 100, 400, "ok", None, None),
            ("b", "r", "search b", "tool", 300, 600, "ok", None, None),  # parallel with a
            ("c", "r", "late", "tool", 800, 1300, "ok", None, None),  # ends after the parent
        ]
    )
    row = uncovered_time(spans).row(0, named=True)
    assert row["covered_ms"] == pytest.approx(500 + 300)
    assert row["uncovered_ms"] == pytest.approx(200)
    assert [(g["start_ms"], g["end_ms"]) for g in row["gaps"]] == [(500.0, 700.0)]
