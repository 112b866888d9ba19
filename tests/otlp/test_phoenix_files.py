"""Phoenix spans exports read by llmobs_nb.ingest, without a Phoenix server: files in the
shapes Phoenix 20.x writes (its REST answer, its spans dataframe as parquet), a real store."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import llmobs_nb
from llmobs_nb.otlp.phoenix_export import read_phoenix_file, sniff, span_attributes
from llmobs_nb.store.errors import NotAStoreError

SECRET = "sk-" + "Qw3Er5Ty7Ui9Op1As2Df4Gh6Jk8Lz0Xc3Vb5Nm7Q"[:40]
TRACE = "0bd2f46ee48b328189a19116a31e27aa"
CHAIN_ID, LLM_ID = "f1e0c2f7935abed3", "4e41e4bea9c05929"


def rest_spans() -> list[dict]:
    """Two spans as ``GET /v1/projects/{p}/spans`` gives them (copied from Phoenix 20.26)."""
    chain = {
        "id": "U3Bhbjoy",
        "name": "chain",
        "context": {"trace_id": TRACE, "span_id": CHAIN_ID},
        "span_kind": "CHAIN",
        "parent_id": None,
        "start_time": "2026-11-30T08:59:56.577735+00:00",
        "end_time": "2026-11-30T08:59:56.603193+00:00",
        "status_code": "UNSET",
        "status_message": "",
        "attributes": {"input.value": "hi"},
        "events": [],
    }
    llm = {
        "id": "U3Bhbjox",
        "name": "llm",
        "context": {"trace_id": TRACE, "span_id": LLM_ID},
        "span_kind": "LLM",
        "parent_id": CHAIN_ID,
        "start_time": "2026-11-30T08:59:56.577877+00:00",
        "end_time": "2026-11-30T08:59:56.578022+00:00",
        "status_code": "ERROR",
        "status_message": "rate limited",
        "attributes": {
            "user.id": "u1",
            "llm.token_count.completion_details.reasoning": 3,
            "llm.token_count.completion": 5,
            "llm.token_count.prompt": 10,
            "llm.token_count.total": 15,
            "llm.model_name": "gpt-4o-mini",
            "llm.input_messages.0.message.content": "hello",
            "llm.input_messages.0.message.role": "user",
            "metadata.run": "r1",
            "debug.header": f"Authorization: Bearer {SECRET}",
        },
        "events": [
            {
                "name": "First Token Stream Event",
                "timestamp": "2026-11-30T08:59:56.577994+00:00",
                "attributes": {},
            }
        ],
    }
    return [chain, llm]


def frame_table() -> pa.Table:
    """The same spans as the client's spans dataframe saved to parquet: ``attributes.*``
    columns, metadata as a struct, messages as a list of structs, float token counts."""

    def ns(iso: str) -> int:
        moment = datetime.fromisoformat(iso + "+00:00")
        return (int(moment.timestamp()) * 1_000_000 + moment.microsecond) * 1_000

    return pa.table(
        {
            "name": ["llm", "chain"],
            "span_kind": ["LLM", "CHAIN"],
            "parent_id": [CHAIN_ID, None],
            "start_time": pa.array(
                [ns("2026-11-30T08:59:56.577877"), ns("2026-11-30T08:59:56.577735")],
                pa.timestamp("ns", "UTC"),
            ),
            "end_time": pa.array(
                [ns("2026-11-30T08:59:56.578022"), ns("2026-11-30T08:59:56.603193")],
                pa.timestamp("ns", "UTC"),
            ),
            "status_code": ["ERROR", "UNSET"],
            "status_message": ["rate limited", ""],
            "events": [
                [{"name": "First Token Stream Event", "timestamp": "2026-11-30T08:59:56.577994"}],
                [],
            ],
            "context.span_id": [LLM_ID, CHAIN_ID],
            "context.trace_id": [TRACE, TRACE],
            "attributes.metadata": [{"run": "r1"}, None],
            "attributes.llm.token_count.prompt": [10.0, float("nan")],
            "attributes.llm.token_count.completion": [5.0, float("nan")],
            "attributes.llm.token_count.completion_details.reasoning": [3.0, float("nan")],
            "attributes.llm.input_messages": [
                [{"message.content": "hello", "message.role": "user"}],
                None,
            ],
            "attributes.llm.model_name": ["gpt-4o-mini", None],
            "attributes.user.id": ["u1", None],
            "attributes.input.value": [None, "hi"],
            "attributes.debug.header": [f"Authorization: Bearer {SECRET}", None],
        }
    )


def stored(db) -> dict[str, dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute("select * from spans")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {row["name"]: row for row in rows}


@pytest.fixture
def files(tmp_path):
    spans = rest_spans()
    paths = {
        "rest": tmp_path / "rest.json",
        "list": tmp_path / "spans.json",
        "lines": tmp_path / "spans.jsonl",
        "parquet": tmp_path / "spans.parquet",
    }
    paths["rest"].write_text(json.dumps({"data": spans, "next_cursor": None}, indent=2))
    paths["list"].write_text(json.dumps(spans))
    paths["lines"].write_text("".join(json.dumps(s) + "\n" for s in spans))
    pq.write_table(frame_table(), paths["parquet"])
    return paths


@pytest.mark.parametrize("kind", ["rest", "list", "lines", "parquet"])
def test_each_phoenix_export_shape_is_ingested_field_by_field(files, kind, tmp_path):
    obs = llmobs_nb.init(db=tmp_path / "s.duckdb", project="p", capture_content=True)
    result = llmobs_nb.ingest(files[kind], obs)
    obs.close()
    assert (result.spans_read, result.spans_refused, result.lines_not_otlp) == (2, 0, 0)
    rows = stored(tmp_path / "s.duckdb")
    chain, llm = rows["chain"], rows["llm"]
    assert (chain["kind"], llm["kind"]) == ("chain", "llm")
    assert (llm["trace_id"], llm["span_id"], llm["parent_span_id"]) == (TRACE, LLM_ID, CHAIN_ID)
    assert chain["parent_span_id"] is None
    assert llm["start_time"].isoformat().endswith("08:59:56.577877+00:00")
    assert llm["end_time"].isoformat().endswith("08:59:56.578022+00:00")
    assert (llm["status"], chain["status"]) == ("error", "ok")
    assert (llm["model"], llm["input_tokens"], llm["output_tokens"]) == ("gpt-4o-mini", 10, 5)
    assert (llm["reasoning_tokens"], llm["user_id"]) == (3, "u1")
    assert json.loads(llm["attributes"])["metadata"] == '{"run": "r1"}'
    assert SECRET not in json.dumps(rows, default=str)


def test_sniff_tells_phoenix_exports_from_collector_files_and_others(files, tmp_path):
    assert {k: sniff(p) for k, p in files.items()} == {
        "rest": "json",
        "list": "json",
        "lines": "jsonl",
        "parquet": "parquet",
    }
    collector = tmp_path / "otel.jsonl"
    collector.write_text('{"resourceSpans": []}\n')
    other_parquet = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1]}), other_parquet)
    other_json = tmp_path / "other.json"
    other_json.write_text('{"data": [{"a": 1}]}')
    assert [sniff(p) for p in (collector, other_parquet, other_json, tmp_path)] == [None] * 4


def test_a_bad_span_costs_only_itself_and_is_named(tmp_path):
    spans = rest_spans()
    spans[0]["context"]["trace_id"] = "not-hex"
    spans.append({**rest_spans()[1], "name": "late", "start_time": "yesterday"})
    path = tmp_path / "rest.json"
    path.write_text(json.dumps({"data": spans}))
    seen = []
    result = read_phoenix_file(path, seen.append)
    assert [s.name for s in seen] == ["llm"]
    assert (result.spans_read, result.spans_refused) == (1, 2)
    assert "span 'chain': ValueError: trace id is not hex" in result.errors[0]
    assert "span 'late': ValueError: start_time is not an ISO time" in result.errors[1]


def test_a_refusing_callback_and_a_stray_line_are_counted(tmp_path):
    path = tmp_path / "spans.jsonl"
    path.write_text(json.dumps(rest_spans()[0]) + "\nnot json\n{}\n")

    def refuse(span):
        raise RuntimeError("full")

    result = read_phoenix_file(path, refuse)
    assert (result.spans_read, result.spans_refused, result.lines_not_otlp) == (0, 1, 2)
    assert result.errors == [
        "span 'chain': refused: RuntimeError: full",
        "line 2: not JSON",
        "line 3: not a Phoenix span",
    ]


def test_attributes_are_flattened_as_openinference_sends_them():
    attrs = span_attributes(
        {
            "span_kind": "RETRIEVER",
            "attributes.retrieval.documents": [
                {"document.id": "d1", "document.score": 0.5, "document.metadata": {"k": "v"}}
            ],
            "attributes.metadata": {"a": {"b": 1}},
            "attributes.tags": ["x", "y"],
            "attributes.llm.token_count.total": 7.0,
            "attributes.temperature": 1.0,
            "attributes.nothing": float("nan"),
        }
    )
    assert attrs == {
        "retrieval.documents.0.document.id": "d1",
        "retrieval.documents.0.document.score": 0.5,
        "retrieval.documents.0.document.metadata.k": "v",
        "metadata": '{"a": {"b": 1}}',
        "tags": ("x", "y"),
        "llm.token_count.total": 7,
        "temperature": 1.0,
        "openinference.span.kind": "RETRIEVER",
    }


def test_open_on_a_phoenix_export_says_what_it_is_and_to_ingest_it(files):
    with pytest.raises(NotAStoreError, match=r"is a Parquet file.*llmobs_nb\.ingest\("):
        llmobs_nb.open(files["parquet"])
    with pytest.raises(NotAStoreError, match=r"is a JSON file.*llmobs_nb\.ingest\("):
        llmobs_nb.open(files["rest"])


def _any(value):
    """An ``AnyValue`` as Phoenix's pydantic model dumps it: every field, unset ones null."""
    fields = dict.fromkeys(
        ("array_value", "bool_value", "bytes_value", "double_value", "int_value"), None
    )
    key = {bool: "bool_value", int: "int_value", float: "double_value"}.get(type(value))
    return {**fields, "kvlist_value": None, "string_value": None, key or "string_value": value}


def test_the_otlpv1_answer_is_ingested_with_times_rounded_to_phoenix_microseconds(tmp_path):
    # 2026-11-30T08:59:56.577877Z as Phoenix writes it: float seconds * 1e9, a little below
    start = 1_796_029_196_577_876_992
    span = {
        "trace_id": TRACE,
        "span_id": LLM_ID,
        "parent_span_id": CHAIN_ID,
        "name": "llm",
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + 145_000,
        "attributes": [
            {"key": key, "value": _any(value)}
            for key, value in {
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 10,
                "llm.token_count.completion_details.reasoning": 3,
                "metadata.run": "r1",
                "tags": ["a", "b"],
            }.items()
        ],
        "events": [
            {
                "name": "First Token Stream Event",
                "attributes": [],
                "time_unix_nano": start + 117_000,
                "dropped_attributes_count": None,
            }
        ],
        "status": {"code": 2, "message": "rate limited"},
    }
    span["attributes"][-1]["value"] = {
        **_any(None),
        "array_value": {"values": [_any("a"), _any("b")]},
    }
    path = tmp_path / "otlpv1.json"
    path.write_text(json.dumps({"next_cursor": None, "data": [span]}))
    assert sniff(path) == "otlpv1"
    seen = []
    result = read_phoenix_file(path, seen.append)
    assert (result.spans_read, result.spans_refused) == (1, 0)
    (got,) = seen
    assert got.start_time == 1_796_029_196_577_877_000
    assert got.end_time - got.start_time == 145_000
    assert got.status.description == "rate limited"
    assert dict(got.attributes) == {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini",
        "llm.token_count.prompt": 10,
        "llm.token_count.completion_details.reasoning": 3,
        "tags": ("a", "b"),
        "metadata": '{"run": "r1"}',
    }
    assert [e.name for e in got.events] == ["First Token Stream Event"]
    assert format(got.parent.span_id, "016x") == CHAIN_ID
