"""llmobs_nb → a real Arize Phoenix over OTLP: every kind, content (only when captured),
tokens incl. reasoning and cache, user, run, use case, TTFT, the project, no secret.

The OpenInference attributes are written by the export encoder (``llmobs_nb.otlp.encode``,
``conventions``); these tests read what Phoenix made of them through its REST API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import llmobs_nb
from tests.interop.phoenix_server import Phoenix, get_json, wait_for_spans
from tests.interop.trip_app import KINDS, SECRET, run_trip

pytestmark = pytest.mark.slow


def run_app(db: Path, endpoint: str | None, project: str, *, capture_content: bool) -> None:
    """The trip app (``trip_app.run_trip``) exporting to ``endpoint`` under ``project``."""
    obs = llmobs_nb.init(
        db=db, project=project, otlp_endpoint=endpoint, capture_content=capture_content
    )
    run_trip(obs)


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
