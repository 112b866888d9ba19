"""observe(evaluators=[...]): each call is scored after it returns, off the caller's path."""

from __future__ import annotations

import llmobs_nb
from llmobs_nb.evals import NonEmpty, Refusal


def test_online_evaluators_score_every_call_without_storing_content(tmp_path):
    obs = llmobs_nb.init(db=tmp_path / "online.duckdb", project="online")
    try:

        @obs.observe(model="gpt-4o", use_case="support", evaluators=[NonEmpty(), Refusal()])
        def ask(question):
            text = "I'm sorry, but I can't help with that." if question == "refuse" else "Paris."
            return {
                "choices": [{"message": {"content": text}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2},
            }

        @obs.observe(model="gpt-4o", evaluators=[NonEmpty()])
        def stream(question):
            yield "Hel"
            yield "lo"

        for question in ("capital?", "refuse", "capital?"):
            ask(question)
        list(stream("hi"))
        for online in obs._online:
            online.drain()
        scores = obs.scores()
        calls = obs.spans()
    finally:
        obs.close()
    assert scores.height == 3 * 2 + 1
    refusals = scores.filter(scores["name"] == "refusal").sort("created_at")
    assert refusals["value"].to_list().count(1.0) == 1
    assert set(scores["source"]) == {"eval:non_empty@1", "eval:refusal@1"}
    assert set(scores["span_id"]) <= set(calls["span_id"])
    # the evaluators saw the answers, yet no content was stored (capture_content is off)
    assert calls["output_text"].null_count() == calls.height
