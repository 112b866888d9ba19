"""The traced app both export tests send to a real backend (Phoenix, MLflow): one span of each
kind under a run, a streamed LLM call (TTFT, reasoning and cache tokens), a user and a use
case, a secret in a tool's attribute, and optionally a tool that raises."""

from __future__ import annotations

import time

import pytest

import llmobs_nb
from llmobs_nb.otlp.row_export import RowExport

SECRET = "sk-" + "Qw3Er5Ty7Ui9Op1As2Df4Gh6Jk8Lz0Xc3Vb5Nm7Q"[:40]
USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "prompt_tokens_details": {"cached_tokens": 50},
    "completion_tokens_details": {"reasoning_tokens": 12},
}
#: The spans the app makes, by name, with their OpenInference kind ("broken" only if asked).
KINDS = {
    "trip-agent": "AGENT",
    "find-docs": "RETRIEVER",
    "plan": "CHAIN",
    "ask": "LLM",
    "weather": "TOOL",
}


def run_trip(obs: llmobs_nb.Observer, *, broken: bool = False) -> RowExport | None:
    """Run the app under ``obs``, wait for its OTLP export's answers (at most 60 s: what a
    backend shows is the subject here, close timing is ``test_export_never_blocks``'s), close
    ``obs`` and return the export (its counts explain a trace that did not come)."""

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
        if broken:
            with pytest.raises(ValueError, match="no forecast"), obs.span("broken", kind="tool"):
                raise ValueError("no forecast")
    assert answer == "Take the night train."
    export = obs.capture.exports[0] if obs.capture is not None and obs.capture.exports else None
    if export is not None:
        export.flush(60)
    obs.close()
    return export
