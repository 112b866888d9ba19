"""Rows a real observer stored, encoded as OTLP and read back with the protobuf classes, with
our own decoder, and through row conversion again (a notebook receiving its own export)."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

import llmobs_nb
from llmobs_nb.capture.rows import record_of, to_columns
from llmobs_nb.otlp import conventions as cv
from llmobs_nb.otlp.decode import attributes, decode_request
from llmobs_nb.otlp.encode import EncodeStats, encode_scores, encode_spans
from llmobs_nb.pricing import PriceBook
from llmobs_nb.store.schema import SCORES, SPANS

SECRET = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd"
USAGE = {
    "usage": {
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "prompt_tokens_details": {"cached_tokens": 30},
        "completion_tokens_details": {"reasoning_tokens": 25},
    },
    "model": "o3-mini-2025-01-31",
}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Spans of every kind from a real observer with content capture on; its spans table as
    Arrow (columns of SPANS) and its scores table."""
    db = tmp_path_factory.mktemp("enc") / "obs.duckdb"
    obs = llmobs_nb.init(db=db, project="demo", capture_content=True)

    @obs.observe(
        name="ask", model="o3-mini", provider="openai", use_case="support", user_id="alice"
    )
    def ask(question):
        return {**USAGE, "choices": [{"message": {"content": "Paris."}}]}

    @obs.observe(name="cached", model="claude-sonnet-4", provider="anthropic")
    def cached(question):
        return {
            "usage": {
                "input_tokens": 10,
                "output_tokens": 5,
                "cache_read_input_tokens": 200,
                "cache_creation_input_tokens": 50,
            }
        }

    @obs.observe(name="stream", model="gpt-4o")
    def stream(question):
        time.sleep(0.02)
        yield "Hel"
        yield "lo"

    @obs.observe(name="fails", model="gpt-4o", api_key=SECRET)
    def fails(question):
        raise TimeoutError("upstream timed out")

    @obs.observe(
        name="embed", model="text-embedding-3-small", kind="embedding", capture_content=False
    )
    def embed(text):
        return {"usage": {"prompt_tokens": 7}}

    @obs.tool("search_docs", call_id="call_7")
    def search_docs(query):
        return ["refunds take 5 days"]

    with obs.session("conv-9"), obs.agent("planner"):
        search_docs("refund policy")
    with obs.run("prompt-v2"), obs.span("rag", kind="chain", user_id="bob") as root:
        for kind in ("retrieval", "rerank", "tool", "agent", "evaluator", "other"):
            with obs.span(kind, kind=kind):
                pass
        ask("capital of France?")
        cached("again")
        list(stream("hi"))
        embed("text")
        with pytest.raises(TimeoutError):
            fails("x")
    obs.score(root.span_id, name="relevance", value=0.9, label="relevant", comment="on topic")
    obs.flush()
    spans = obs.store.query("SELECT * FROM spans").to_arrow()
    scores = obs.store.query("SELECT * FROM scores").to_arrow()
    obs.close()
    return spans.select(SPANS.names).cast(SPANS.arrow), scores.select(SCORES.names).cast(
        SCORES.arrow
    )


def _by_name(body: bytes) -> dict[str, ProtoSpan]:
    request = ExportTraceServiceRequest.FromString(body)
    return {s.name: s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans}


def test_every_row_goes_out_with_ids_times_and_kinds(stored):
    spans, _ = stored
    stats = EncodeStats()
    body = encode_spans(spans, resource=cv.resource_attributes("demo"), stats=stats)
    request = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = request.resource_spans
    resource = attributes(resource_spans.resource.attributes)
    assert resource["openinference.project.name"] == "demo"
    assert resource_spans.scope_spans[0].scope.name == "llmobs_nb"
    out = resource_spans.scope_spans[0].spans
    assert len(out) == spans.num_rows == stats.spans
    assert (stats.spans_refused, stats.attributes_dropped, stats.attributes_unparsed) == (0, 0, 0)
    rows = {r["span_id"]: r for r in spans.to_pylist()}
    for span in out:
        row = rows[span.span_id.hex()]
        assert span.trace_id.hex() == row["trace_id"]
        assert (span.parent_span_id.hex() or None) == row["parent_span_id"]
        start_us = int(row["start_time"].timestamp() * 1e6)
        assert abs(span.start_time_unix_nano - start_us * 1000) < 1000  # float rounding only
        assert span.start_time_unix_nano % 1000 == 0
        got = attributes(span.attributes)
        assert got["openinference.span.kind"] == cv.OPENINFERENCE_KINDS[row["kind"]]
        client = row["kind"] in ("llm", "embedding")
        assert span.kind == (ProtoSpan.SPAN_KIND_CLIENT if client else ProtoSpan.SPAN_KIND_INTERNAL)


def test_times_are_exact_to_the_microsecond(stored):
    spans, _ = stored
    micros = pa.compute.cast(spans["start_time"], pa.int64()).to_pylist()
    ends = pa.compute.cast(spans["end_time"], pa.int64()).to_pylist()
    out = _by_name(encode_spans(spans, resource={}))
    names = spans["name"].to_pylist()
    for name, start, end in zip(names, micros, ends, strict=True):
        assert out[name].start_time_unix_nano == start * 1000
        assert out[name].end_time_unix_nano == end * 1000


def test_model_call_attributes_in_both_conventions(stored):
    spans, _ = stored
    out = _by_name(encode_spans(spans, resource={}))
    ask = attributes(out["ask"].attributes)
    assert ask["llm.model_name"] == ask["gen_ai.request.model"] == "o3-mini"
    assert ask["gen_ai.response.model"] == "o3-mini-2025-01-31"
    assert ask["llm.token_count.prompt"] == ask["gen_ai.usage.input_tokens"] == 100
    assert ask["llm.token_count.completion_details.reasoning"] == 25
    assert ask["gen_ai.usage.reasoning.output_tokens"] == 25
    assert ask["llm.token_count.prompt_details.cache_read"] == 30
    assert ask["user.id"] == "alice"
    assert ask["gen_ai.provider.name"] == ask["llm.provider"] == "openai"
    assert ask["llm.cost.total"] > 0
    meta = json.loads(ask["metadata"])
    assert (meta["use_case"], meta["run"], meta["project"]) == ("support", "prompt-v2", "demo")
    assert ask["input.value"] == "capital of France?"
    assert ask["output.value"] == "Paris."
    cached = attributes(out["cached"].attributes)
    assert cached["gen_ai.usage.cache_creation.input_tokens"] == 50
    assert cached["llm.token_count.prompt_details.cache_write"] == 50
    assert cached["gen_ai.usage.cache_read.input_tokens"] == 200
    chain = attributes(out["rag"].attributes)
    assert chain["user.id"] == "bob" and json.loads(chain["metadata"])["run"] == "prompt-v2"


def test_content_only_when_the_row_has_it(stored):
    spans, _ = stored
    out = _by_name(encode_spans(spans, resource={}, conventions=cv.Conventions(latest=True)))
    embed = attributes(out["embed"].attributes)
    assert not {"input.value", "output.value", "gen_ai.input.messages"} & embed.keys()
    ask = attributes(out["ask"].attributes)
    assert json.loads(ask["gen_ai.output.messages"])[0]["parts"][0]["content"] == "Paris."
    assert "gen_ai.system" not in ask


def test_first_token_event_at_start_plus_ttft(stored):
    spans, _ = stored
    row = next(r for r in spans.to_pylist() if r["name"] == "stream")
    span = _by_name(encode_spans(spans, resource={}))["stream"]
    (event,) = [e for e in span.events if e.name == "First Token Stream Event"]
    assert row["ttft_s"] >= 0.02
    assert event.time_unix_nano == span.start_time_unix_nano + round(row["ttft_s"] * 1e9)
    assert attributes(span.attributes)["gen_ai.response.time_to_first_chunk"] == row["ttft_s"]
    assert not [e for e in _by_name(encode_spans(spans, resource={}))["ask"].events]


def test_error_status_type_and_exception_event_without_the_secret(stored):
    spans, _ = stored
    body = encode_spans(spans, resource={})
    assert SECRET.encode() not in body  # the store's redaction is what leaves
    span = _by_name(body)["fails"]
    assert span.status.code == Status.STATUS_CODE_ERROR
    assert span.status.message == "TimeoutError: upstream timed out"  # the row's message
    assert attributes(span.attributes)["error.type"] == "TimeoutError"
    (event,) = [e for e in span.events if e.name == "exception"]
    assert attributes(event.attributes)["exception.type"] == "TimeoutError"
    assert _by_name(body)["ask"].status.code == Status.STATUS_CODE_UNSET


def test_our_decoder_reads_it_back_into_the_same_rows(stored):
    spans, _ = stored
    result = decode_request(encode_spans(spans, resource=cv.resource_attributes("demo")))
    assert result.refused == 0 and len(result.spans) == spans.num_rows
    again = to_columns([record_of(s) for s in result.spans], "demo", PriceBook())
    keys = ("trace_id", "span_id")
    before = {tuple(r[k] for k in keys): r for r in spans.to_pylist()}
    after = {tuple(r[k] for k in keys): r for r in again.to_pylist()}
    assert before.keys() == after.keys()
    same = (
        "parent_span_id", "name", "kind", "start_time", "end_time", "ttft_s", "provider",
        "model", "response_model", "use_case", "user_id", "run", "project",
        "status", "error_type", "error_message", "input_tokens", "output_tokens",
        "cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "input_text",
        "output_text", "session_id", "agent_name", "tool_name",
    )  # fmt: skip
    for key, row in before.items():
        assert {c: after[key][c] for c in same} == {c: row[c] for c in same}, row["name"]
        if row["kind"] == "llm":  # other kinds come back with their GenAI operation name
            assert after[key]["operation"] == row["operation"]


def test_sessions_agents_and_tools_go_out_in_both_conventions(stored):
    spans, _ = stored
    by_name = _by_name(encode_spans(spans, resource=cv.resource_attributes("demo")))
    tool = attributes(by_name["execute_tool search_docs"].attributes)
    assert tool["gen_ai.operation.name"] == "execute_tool"
    assert tool["openinference.span.kind"] == "TOOL"
    assert (tool["gen_ai.tool.name"], tool["tool.name"]) == ("search_docs", "search_docs")
    assert (tool["gen_ai.tool.call.id"], tool["gen_ai.tool.type"]) == ("call_7", "function")
    assert (tool["gen_ai.conversation.id"], tool["session.id"]) == ("conv-9", "conv-9")
    assert tool["gen_ai.agent.name"] == "planner"
    assert "refund policy" in tool["gen_ai.tool.call.arguments"]
    assert "refunds take 5 days" in tool["gen_ai.tool.call.result"]
    assert "gen_ai.input.messages" not in tool  # a tool's input is not a chat
    agent = attributes(by_name["invoke_agent planner"].attributes)
    assert (agent["gen_ai.operation.name"], agent["openinference.span.kind"]) == (
        "invoke_agent",
        "AGENT",
    )
    assert agent["gen_ai.agent.name"] == "planner"
    assert "gen_ai.tool.name" not in agent
    rag = attributes(by_name["rag"].attributes)
    assert "gen_ai.conversation.id" not in rag and "session.id" not in rag


def test_rows_of_two_projects_go_under_two_resources(stored):
    spans, _ = stored
    projects = ["demo"] * (spans.num_rows - 1) + ["other"]
    table = spans.set_column(spans.schema.get_field_index("project"), "project", pa.array(projects))
    request = ExportTraceServiceRequest.FromString(encode_spans(table, resource={"a": 1}))
    found = {
        attributes(rs.resource.attributes)["openinference.project.name"]: len(
            rs.scope_spans[0].spans
        )
        for rs in request.resource_spans
    }
    assert found == {"demo": spans.num_rows - 1, "other": 1}


def test_a_bad_value_costs_its_attribute_and_a_bad_id_its_row():
    rows = [
        {"trace_id": "ab" * 16, "span_id": "cd" * 8, "name": "ok", "kind": "tool",
         "attributes": json.dumps({"bad\ud800": 1, "lone": "\ud800", "n": 2**70, "m": [1, "a"],
                                   "d": {"x": [1]}, "z": None, "keep": "yes"})},
        {"trace_id": "zz", "span_id": "cd" * 8, "name": "bad id"},
        {"trace_id": "ab" * 16, "span_id": "ef" * 8, "parent_span_id": "nothex",
         "name": "orphan", "attributes": "{not json"},
    ]  # fmt: skip
    stats = EncodeStats()
    table = pa.Table.from_pylist(rows, schema=SPANS.arrow)
    out = _by_name(encode_spans(table, resource={}, stats=stats))
    assert set(out) == {"ok", "orphan"}
    got = attributes(out["ok"].attributes)
    assert got["keep"] == "yes" and got["n"] == str(2**70)
    assert got["m"] == '[1, "a"]' and got["d"] == '{"x": [1]}'
    assert "z" not in got and "lone" not in got
    assert stats.spans_refused == 1 and stats.spans == 2
    assert stats.attributes_dropped == 3  # two bad values, one bad parent id
    assert stats.attributes_unparsed == 1
    assert attributes(out["orphan"].attributes)["llmobs.attributes"] == "{not json"
    assert out["orphan"].parent_span_id == b""
    assert len(stats.errors) == 5


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(), _values, max_size=6), st.text())
def test_random_attribute_json_never_breaks_a_batch(attrs, text):
    rows = [
        {"trace_id": "ab" * 16, "span_id": f"{i + 1:016x}", "name": f"s{i}", "kind": "llm",
         "model": "m", "input_text": text, "attributes": json.dumps(attrs)}
        for i in range(3)
    ]  # fmt: skip
    stats = EncodeStats()
    table = pa.Table.from_pylist(rows, schema=SPANS.arrow)
    body = encode_spans(table, resource={}, conventions=cv.Conventions(latest=True), stats=stats)
    assert len(_by_name(body)) == 3 == stats.spans
    assert decode_request(body).refused == 0


def test_scores_as_evaluation_events_parented_to_the_span(stored):
    _, scores = stored
    stats = EncodeStats()
    body = encode_scores(scores, resource={"service.name": "x"}, stats=stats)
    request = ExportLogsServiceRequest.FromString(body)
    (record,) = request.resource_logs[0].scope_logs[0].log_records
    row = scores.to_pylist()[0]
    assert record.event_name == "gen_ai.evaluation.result"
    assert (record.trace_id.hex(), record.span_id.hex()) == (row["trace_id"], row["span_id"])
    assert attributes(record.attributes) == {
        "gen_ai.evaluation.name": "relevance",
        "gen_ai.evaluation.score.value": 0.9,
        "gen_ai.evaluation.score.label": "relevant",
        "gen_ai.evaluation.explanation": "on topic",
        **({"llmobs.score.source": row["source"]} if row["source"] else {}),
    }
    created_us = pa.compute.cast(scores["created_at"], pa.int64())[0].as_py()
    assert record.time_unix_nano == created_us * 1000
    assert stats.scores == 1


def test_a_score_with_bad_ids_goes_unparented_and_one_without_a_name_is_counted():
    table = pa.Table.from_pylist(
        [
            {"trace_id": "nothex", "span_id": None, "name": "q", "value": 1.0},
            {"trace_id": "ab" * 16, "span_id": None, "name": None, "value": 1.0},
        ],
        schema=SCORES.arrow,
    )
    stats = EncodeStats()
    request = ExportLogsServiceRequest.FromString(encode_scores(table, resource={}, stats=stats))
    (record,) = request.resource_logs[0].scope_logs[0].log_records
    assert record.trace_id == b"" and record.span_id == b""
    assert (stats.scores, stats.scores_refused, stats.attributes_dropped) == (1, 1, 1)


def test_encoding_ten_thousand_rows_is_fast(stored, capsys):
    spans, _ = stored
    table = pa.concat_tables([spans] * (10_000 // spans.num_rows + 1)).slice(0, 10_000)
    started = time.perf_counter()
    body = encode_spans(table, resource=cv.resource_attributes("demo"))
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nencode_spans: {elapsed / 10_000 * 1e6:.1f} µs/span, {len(body) / 10_000:.0f} "
              f"bytes/span over 10,000 rows")  # fmt: skip
    assert elapsed < 5.0


def test_every_column_encoding_reads_is_a_column_of_the_store():
    # encode keeps its own list (the child does not load store.schema, which imports polars):
    # a renamed column would otherwise go out as NULL without a word
    from llmobs_nb.otlp.encode import SPAN_COLUMNS

    assert set(SPAN_COLUMNS) <= set(SPANS.names)
    assert set(cv.LABEL_COLUMNS) <= set(SPAN_COLUMNS)
