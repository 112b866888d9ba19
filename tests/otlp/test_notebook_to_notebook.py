"""One notebook exports, another receives: the rows and scores arrive field for field.

The whole bridge in one test: observer A (its own file) exports over OTLP — rows encoded in
both conventions by the child process, scores as ``gen_ai.evaluation.result`` log events — to
observer B's ``receive_otlp``, which decodes them back into rows and scores.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import llmobs_nb

COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_time",
    "end_time",
    "ttft_s",
    "provider",
    "model",
    "response_model",
    "use_case",
    "user_id",
    "run",
    "status",
    "error_type",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "input_text",
    "output_text",
)


def _app(obs: llmobs_nb.Observer) -> str:
    @obs.observe(model="gpt-4o", operation="chat", provider="openai", use_case="support")
    def ask(question: str) -> dict:
        return {
            "model": "gpt-4o-2024-08-06",
            "usage": {
                "prompt_tokens": 120,
                "completion_tokens": 30,
                "prompt_tokens_details": {"cached_tokens": 64},
                "completion_tokens_details": {"reasoning_tokens": 12},
            },
        }

    @obs.observe(model="gpt-4o", operation="chat", provider="openai")
    def broken(question: str) -> dict:
        raise TimeoutError("upstream took too long")

    @obs.observe(model="gpt-4o-mini", operation="chat", provider="openai")
    def stream(question: str) -> Iterator[str]:
        time.sleep(0.01)
        yield "Your order "
        yield "ships today."

    with obs.run("prompt-v2"), obs.span("answer", user_id="alice") as root:
        with obs.span("search", kind="retrieval"):
            pass
        ask("Where is my order?")
        assert "".join(stream("When?")) == "Your order ships today."
        with contextlib.suppress(TimeoutError):
            broken("again?")
    return root.span_id


def test_a_notebook_exports_into_another_notebooks_store(tmp_path) -> None:
    receiving = llmobs_nb.init(db=tmp_path / "b.duckdb", project="team", capture_content=True)
    receiver = receiving.receive_otlp()
    sending = llmobs_nb.init(
        db=tmp_path / "a.duckdb",
        project="team",
        otlp_endpoint=receiver.url,
        capture_content=True,
    )
    try:
        root = _app(sending)
        sending.flush()
        sending.score(root, name="helpfulness", value=0.75, label="good", comment="clear")
        export = sending.capture.exports[0]
        assert export.flush(30)
        sent = sending.sql("select * from spans order by span_id").select(COLUMNS)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the receiver writes scores at once, spans on flush
            receiving.flush()
            got = receiving.sql("select * from spans order by span_id").select(COLUMNS)
            if got.height >= sent.height and receiving.scores().height:
                break
            time.sleep(0.05)
        scores = receiving.scores()
    finally:
        sending.close()
        receiving.close()
    assert sent.height == 5
    assert sent["ttft_s"].drop_nulls().len() == 1  # the stream's time to first token
    assert got.to_dicts() == sent.to_dicts()  # every field, times to the microsecond
    llm = got.filter(got["kind"] == "llm").to_dicts()
    assert {c["status"] for c in llm} == {"ok", "error"}
    assert scores.select("span_id", "name", "value", "label", "comment", "source").to_dicts() == [
        {
            "span_id": root,
            "name": "helpfulness",
            "value": 0.75,
            "label": "good",
            "comment": "clear",
            "source": "otel",
        }
    ]
    assert export.stats["sent"] == 5 and export.stats["scores_sent"] == 1
    assert export.stats["failed"] == export.stats["scores_failed"] == 0
