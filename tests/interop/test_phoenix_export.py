"""llmobs_nb → a real Arize Phoenix over OTLP: every kind, content (only when captured),
tokens incl. reasoning and cache, user, run, use case, TTFT, the project, no secret.

The OpenInference attributes are written by the export encoder (``llmobs_nb.otlp.encode``,
``conventions``); these tests read what Phoenix made of them through its REST API."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import llmobs_nb
from tests.interop.phoenix_server import Phoenix, get_json, wait_for_spans

pytestmark = pytest.mark.slow
SECRET = "sk-" + "Qw3Er5Ty7Ui9Op1As2Df4Gh6Jk8Lz0Xc3Vb5Nm7Q"[:40]
KINDS = {
    "trip-agent": "AGENT",
    "find-docs": "RETRIEVER",
    "plan": "CHAIN",
    "ask": "LLM",
    "weather": "TOOL",
}
USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "prompt_tokens_details": {"cached_tokens": 50},
    "completion_tokens_details": {"reasoning_tokens": 12},
}


def run_app(db: Path, endpoint: str | None, project: str, *, capture_content: bool) -> None:
    """One of each kind under a run, with a streamed LLM call (TTFT, reasoning and cache
    tokens), a user and a use case, and a secret in a tool's attribute."""
    obs = llmobs_nb.init(
        db=db, project=project, otlp_endpoint=endpoint, capture_content=capture_content
    )

    @obs.observe(name="ask", model="gpt-4o-mini", provider="openai")
    def ask(question: str):
        time.sleep(0.02)
        yield "Take the "
        yield "night train."
        yield {"choices": [], "usage": USAGE}

    with obs.run("run-7"), obs.span("trip-agent", kind="agent", user_id="alice", use_case="travel"):
        with obs.span("find-docs", kind="retrieval", top_k=3):
            pass
        with obs.span("plan", kind="chain"):
            answer = "".join(c for c in ask("How do I get to Vienna?") if isinstance(c, str))
        with obs.span("weather", kind="tool", api_key=SECRET):
            pass
    assert answer == "Take the night train."
    if obs.capture is not None and obs.capture.exports:  # see test_mlflow_export.run_app
        obs.capture.exports[0].flush(60)
    obs.close()


def read_project(phoenix: Phoenix, project: str) -> dict[str, dict]:
    try:
        spans = wait_for_spans(phoenix.url, project, len(KINDS), deadline_s=15)
    except TimeoutError as exc:
        projects = [p["name"] for p in get_json(f"{phoenix.url}/v1/projects")["data"]]
        raise AssertionError(f"{exc}; Phoenix has the projects {projects}") from None
    return {span["name"]: span for span in spans}


@pytest.fixture(scope="module")
def with_content(phoenix, tmp_path_factory) -> dict[str, dict]:
    db = tmp_path_factory.mktemp("on") / "s.duckdb"
    run_app(db, phoenix.traces_endpoint, "phx-test", capture_content=True)
    return read_project(phoenix, "phx-test")


@pytest.fixture(scope="module")
def without_content(phoenix, tmp_path_factory) -> dict[str, dict]:
    db = tmp_path_factory.mktemp("off") / "s.duckdb"
    run_app(db, phoenix.traces_endpoint, "phx-no-content", capture_content=False)
    return read_project(phoenix, "phx-no-content")


def test_every_span_lands_in_the_project_with_its_openinference_kind(with_content):
    assert {name: span["span_kind"] for name, span in with_content.items()} == KINDS
    assert {span["project"] for span in with_content.values()} == {"phx-test"}
    agent_id = with_content["trip-agent"]["context"]["span_id"]
    assert with_content["plan"]["parent_id"] == agent_id
    assert with_content["ask"]["parent_id"] == with_content["plan"]["context"]["span_id"]


def test_the_llm_span_shows_model_tokens_reasoning_and_cache(with_content):
    attrs = with_content["ask"]["attributes"]
    assert attrs["llm.model_name"] == "gpt-4o-mini"
    assert attrs["llm.token_count.prompt"] == 120
    assert attrs["llm.token_count.completion"] == 30
    assert attrs["llm.token_count.total"] == 150
    assert attrs["llm.token_count.completion_details.reasoning"] == 12
    assert attrs["llm.token_count.prompt_details.cache_read"] == 50


def test_user_run_use_case_and_first_token_reach_phoenix(with_content):
    llm = with_content["ask"]
    attrs = llm["attributes"]
    assert attrs["user.id"] == "alice"
    # Phoenix parses OpenInference's metadata JSON; its REST API shows it flattened
    assert attrs["metadata.run"] == "run-7"
    assert attrs["metadata.use_case"] == "travel"
    events = [e for e in llm["events"] if e["name"] == "First Token Stream Event"]
    assert len(events) == 1
    assert llm["start_time"] < events[0]["timestamp"] <= llm["end_time"]


def test_captured_content_shows_as_input_and_output(with_content):
    attrs = with_content["ask"]["attributes"]
    assert "How do I get to Vienna?" in attrs["input.value"]
    assert "Take the night train." in attrs["output.value"]


def test_without_content_capture_no_text_reaches_phoenix(without_content):
    assert {name: span["span_kind"] for name, span in without_content.items()} == KINDS
    assert without_content["ask"]["attributes"]["llm.token_count.prompt"] == 120
    sent = json.dumps(without_content)
    for text in ("Vienna", "night train", "input.value", "output.value", "_messages"):
        assert text not in sent


def test_a_secret_in_an_attribute_never_reaches_phoenix(with_content, without_content):
    sent = json.dumps([with_content, without_content])
    assert SECRET not in sent
    assert SECRET[:12] not in sent
    assert "weather" in sent  # the span itself arrived
