"""llmobs_nb → a real MLflow tracking server over OTLP (``<server>/v1/traces`` with the
``x-mlflow-experiment-id`` header): what MLflow really shows of our spans.

MLflow translates OpenInference and GenAI attributes when it stores a span: its span type from
``openinference.span.kind``, ``mlflow.spanInputs``/``Outputs`` from ``input.value``/
``output.value``, ``mlflow.chat.tokenUsage`` (input, output, total, cache read) per span and
summed per trace, the trace's user from ``user.id``, resource attributes as trace tags. It has
no place for reasoning tokens, time to first token, our run or use case: those arrive as plain
span attributes (kept, searchable as attributes, not shown as MLflow concepts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import llmobs_nb
from llmobs_nb.otlp.row_export import RowExport
from tests.interop.mlflow_server import EXPERIMENT_HEADER, MLflow, create_experiment, read_traces
from tests.interop.trip_app import KINDS, SECRET, run_trip

pytestmark = pytest.mark.slow
TYPES = {**KINDS, "broken": "TOOL"}


def run_app(db: Path, mlflow: MLflow, experiment: str, *, capture_content: bool) -> RowExport:
    """The trip app (``trip_app.run_trip``) with a tool that raises, exporting to MLflow's
    experiment; returns the export, whose counts explain a trace that did not come."""
    obs = llmobs_nb.init(
        db=db,
        project="mlflow-interop",
        otlp_endpoint=mlflow.traces_endpoint,
        otlp_headers={EXPERIMENT_HEADER: experiment},
        capture_content=capture_content,
    )
    export = run_trip(obs, broken=True)
    assert export is not None
    return export


def one_trace(mlflow: MLflow, experiment: str, export: RowExport) -> dict:
    got = read_traces(mlflow, experiment, spans=len(TYPES), deadline_s=20)
    assert got["count"] == len(TYPES), (
        f"MLflow experiment {experiment} holds {got['count']} spans; the export counted "
        f"{export.stats}, last problem {export.problem!r}; the server's log ends "
        f"{mlflow.log.read_text(errors='replace')[-2000:]}"
    )
    (trace,) = got["traces"]
    return {**trace, "by_name": {span["name"]: span for span in trace["spans"]}}


@pytest.fixture(scope="module")
def with_content(mlflow, tmp_path_factory) -> dict:
    experiment = create_experiment(mlflow, "llmobs-content-on")
    db = tmp_path_factory.mktemp("on") / "s.duckdb"
    return one_trace(mlflow, experiment, run_app(db, mlflow, experiment, capture_content=True))


@pytest.fixture(scope="module")
def without_content(mlflow, tmp_path_factory) -> dict:
    experiment = create_experiment(mlflow, "llmobs-content-off")
    db = tmp_path_factory.mktemp("off") / "s.duckdb"
    return one_trace(mlflow, experiment, run_app(db, mlflow, experiment, capture_content=False))


def test_every_kind_becomes_its_mlflow_span_type_in_one_trace(with_content):
    spans = with_content["by_name"]
    assert {name: span["span_type"] for name, span in spans.items()} == TYPES
    agent = spans["trip-agent"]
    assert agent["parent_id"] is None
    assert spans["plan"]["parent_id"] == agent["span_id"]
    assert spans["ask"]["parent_id"] == spans["plan"]["span_id"]


def test_the_llm_span_shows_model_and_token_usage_with_cache(with_content):
    llm = with_content["by_name"]["ask"]["attributes"]
    assert llm["mlflow.llm.model"] == "gpt-4o-mini"
    assert llm["mlflow.llm.provider"] == "openai"
    usage = {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    assert llm["mlflow.chat.tokenUsage"] == {**usage, "cache_read_input_tokens": 50}
    # the trace sums its spans' usage (only the LLM span has any)
    assert with_content["token_usage"] == {**usage, "cache_read_input_tokens": 50}


def test_reasoning_tokens_and_ttft_arrive_only_as_plain_attributes(with_content):
    llm = with_content["by_name"]["ask"]
    attrs = llm["attributes"]
    assert "reasoning" not in json.dumps(attrs["mlflow.chat.tokenUsage"])  # no MLflow field
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 12
    assert attrs["llm.token_count.completion_details.reasoning"] == 12
    ttft = attrs["gen_ai.response.time_to_first_chunk"]
    assert 0.015 < ttft < 5
    (event,) = [e for e in llm["events"] if e["name"] == "First Token Stream Event"]
    assert event["timestamp"] - llm["start_ns"] == pytest.approx(ttft * 1e9, abs=2e6)
    assert llm["start_ns"] < event["timestamp"] <= llm["end_ns"]


def test_user_becomes_the_trace_user_run_and_use_case_stay_attributes(with_content):
    assert with_content["metadata"]["mlflow.trace.user"] == "alice"
    root = with_content["by_name"]["trip-agent"]["attributes"]
    assert root["llmobs.run"] == "run-7"
    assert root["llmobs.use_case"] == "travel"
    assert root["metadata"] == {"use_case": "travel", "run": "run-7", "project": "mlflow-interop"}
    # neither is a trace tag or trace metadata: MLflow's search cannot filter traces on them
    assert "run-7" not in json.dumps([with_content["tags"], with_content["metadata"]])
    # the resource becomes trace tags: the project is there
    assert with_content["tags"]["service.name"] == "mlflow-interop"
    assert with_content["tags"]["openinference.project.name"] == "mlflow-interop"


def test_status_an_error_span_is_an_error_the_trace_is_ok(with_content):
    spans = with_content["by_name"]
    broken = spans["broken"]
    assert broken["status"] == "ERROR"
    assert "no forecast" in broken["status_message"]
    assert broken["attributes"]["error.type"] == "ValueError"
    assert [e["name"] for e in broken["events"]] == ["exception"]
    assert {spans[n]["status"] for n in TYPES if n != "broken"} == {"UNSET"}
    assert with_content["state"] == "OK"  # the root span did not fail


def test_captured_content_shows_as_the_llm_spans_inputs_and_outputs(with_content):
    llm = with_content["by_name"]["ask"]
    assert llm["inputs"] == "How do I get to Vienna?"
    assert llm["outputs"] == "Take the night train."


def test_without_content_capture_no_text_reaches_mlflow(without_content):
    spans = without_content["by_name"]
    assert {name: span["span_type"] for name, span in spans.items()} == TYPES
    assert spans["ask"]["attributes"]["mlflow.chat.tokenUsage"]["input_tokens"] == 120
    assert {span["inputs"] for span in spans.values()} == {None}
    assert {span["outputs"] for span in spans.values()} == {None}
    sent = json.dumps(without_content)
    for text in ("Vienna", "night train", "input.value", "output.value", "mlflow.spanInputs"):
        assert text not in sent


def test_a_secret_in_an_attribute_never_reaches_mlflow(with_content, without_content):
    sent = json.dumps([with_content, without_content])
    assert SECRET not in sent
    assert SECRET[:12] not in sent
    assert with_content["by_name"]["weather"]["attributes"]["api_key"] == "[REDACTED]"
