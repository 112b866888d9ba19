"""The real OpenInference openai instrumentor (``set_global=True``) against the local server:
the model of a failed call, TTFT of a stream, and no prompt or answer text with content off."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import llmobs_nb
from llmobs_nb.local_llm import LLMTestServer, Usage

ROOT = Path(__file__).resolve().parents[2]
REPLY = "ANSWER-5d1e The capital of France is Paris."
CONTENT = ("PROMPT-7f3a", "SYSTEM-91c2", "ANSWER-5d1e")

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("openinference.instrumentation.openai") is None,
    reason="openinference-instrumentation-openai is not installed",
)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[bool, pl.DataFrame]:
    """Spans of the same three calls, captured with content and without."""
    tmp = tmp_path_factory.mktemp("oi")
    dbs = {True: tmp / "with.duckdb", False: tmp / "without.duckdb"}
    usage = Usage(input_tokens=1200, output_tokens=80)
    with LLMTestServer(usage=usage, ttft_s=0.05, reply=REPLY) as server:
        command = [sys.executable, "-m", "tests.capture.oi_openai_run", server.url]
        result = subprocess.run(
            [*command, str(dbs[True]), str(dbs[False])],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    spans = {}
    for capture, db in dbs.items():
        store = llmobs_nb.open(db)
        try:
            spans[capture] = store.spans().sort("start_time")
        finally:
            store.close()
    return spans


def test_failed_call_has_its_model_and_the_stream_its_ttft(stores):
    spans = stores[True]
    assert spans["kind"].to_list() == ["llm", "llm", "llm"]
    assert spans["status"].to_list() == ["error", "ok", "ok"]
    assert spans["model"].to_list() == ["gpt-4o", "gpt-4o", "gpt-4o"]
    ttft = spans["ttft_s"].to_list()
    assert ttft[1] is None  # not a stream
    assert ttft[2] is not None and 0.04 <= ttft[2] <= spans["latency_s"][2]
    assert "PROMPT-7f3a" in spans["input_text"][1]
    assert "ANSWER-5d1e" in spans["output_text"][1]


def test_with_content_off_no_prompt_or_answer_text_is_stored(stores):
    spans = stores[False]
    assert spans.height == 3
    assert spans["model"].to_list() == ["gpt-4o", "gpt-4o", "gpt-4o"]
    assert spans["input_text"].null_count() == 3
    assert spans["output_text"].null_count() == 3
    every_value = str(spans.rows())
    for text in CONTENT:
        assert text not in every_value
    assert spans["ttft_s"][2] is not None
    assert spans["input_tokens"].to_list()[1:] == [1200, 1200]
