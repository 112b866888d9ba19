"""Phoenix spans exports → ``llmobs_nb.ingest``: real export files made by Phoenix's own
client (in the Phoenix virtualenv, a subprocess) from spans sent to a real Phoenix, read into
a real store and compared with what Phoenix holds."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

import llmobs_nb
from tests.interop.phoenix_server import get_json, run_in_phoenix_venv, wait_for_spans
from tests.interop.test_phoenix_server import send_openinference_spans

pytestmark = pytest.mark.slow
PROJECT = "exported"

EXPORT = """
import json, sys, pathlib
from phoenix.client import Client
from phoenix.trace import TraceDataset
url, project, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
client = Client(base_url=url)
frame = client.spans.get_spans_dataframe(project_identifier=project)
frame.to_parquet(out / "spans.parquet")
(out / "dataset").mkdir()
TraceDataset(frame, name="export").save(out / "dataset")
spans = client.spans.get_spans(project_identifier=project, limit=1000)
(out / "spans.json").write_text(json.dumps(spans))
(out / "spans.jsonl").write_text("".join(json.dumps(s) + "\\n" for s in spans))
"""


@pytest.fixture(scope="module")
def exports(phoenix, tmp_path_factory) -> dict[str, Path]:
    send_openinference_spans(phoenix.traces_endpoint, PROJECT)
    phoenix_spans = wait_for_spans(phoenix.url, PROJECT, 3)
    out = tmp_path_factory.mktemp("exports")
    run_in_phoenix_venv(phoenix, EXPORT, phoenix.url, PROJECT, str(out))
    rest = get_json(f"{phoenix.url}/v1/projects/{PROJECT}/spans")
    (out / "rest.json").write_text(json.dumps(rest))
    otlp = get_json(f"{phoenix.url}/v1/projects/{PROJECT}/spans/otlpv1")
    (out / "otlpv1.json").write_text(json.dumps(otlp))
    (dataset,) = (out / "dataset").glob("trace_dataset-*.parquet")
    return {
        "phoenix": phoenix_spans,
        "dataframe parquet": out / "spans.parquet",
        "TraceDataset.save": dataset,
        "client get_spans JSON": out / "spans.json",
        "spans JSON lines": out / "spans.jsonl",
        "REST JSON": out / "rest.json",
        "REST otlpv1 JSON": out / "otlpv1.json",
    }


def _micros(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


@pytest.mark.parametrize(
    "kind",
    [
        "dataframe parquet",
        "TraceDataset.save",
        "client get_spans JSON",
        "spans JSON lines",
        "REST JSON",
        "REST otlpv1 JSON",
    ],
)
def test_a_phoenix_export_is_ingested_with_its_kinds_tokens_parents_times_and_status(
    exports, kind, tmp_path
):
    obs = llmobs_nb.init(db=tmp_path / "in.duckdb", project="ingested", capture_content=True)
    try:
        result = llmobs_nb.ingest(exports[kind], obs)
    finally:
        obs.close()
    assert (result.spans_read, result.spans_refused, result.errors) == (3, 0, [])
    with duckdb.connect(str(tmp_path / "in.duckdb"), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(
            "select name, kind, trace_id, span_id, parent_span_id, model, input_tokens, "
            "output_tokens, reasoning_tokens, cached_input_tokens, user_id, status, "
            "epoch_us(start_time), epoch_us(end_time) from spans"
        ).fetchall()
    got = {row[0]: row[1:] for row in rows}
    expected = {s["name"]: s for s in exports["phoenix"]}
    assert set(got) == set(expected)
    for name, span in expected.items():
        _, trace_id, span_id, parent, *_, status, start, end = got[name]
        assert (trace_id, span_id) == (span["context"]["trace_id"], span["context"]["span_id"])
        assert parent == span["parent_id"]
        # Phoenix keeps microseconds; so does the store: the same instants exactly
        assert (start, end) == (_micros(span["start_time"]), _micros(span["end_time"]))
        assert status == ("error" if span["status_code"] == "ERROR" else "ok")
    assert got["agent"][0] == "agent" and got["lookup"][0] == "tool"
    llm = got["chat gpt-4o-mini"]
    assert llm[0] == "llm"
    model, input_tokens, output_tokens, reasoning, cached, user = llm[4:10]
    assert (model, input_tokens, output_tokens) == ("gpt-4o-mini", 120, 30)
    assert (reasoning, cached, user) == (12, 64, "alice")
