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


def test_a_judge_on_an_instrumented_client_is_counted_once_as_an_evaluator(tmp_path):
    import openai

    from llmobs_nb.evals import LLMJudge
    from llmobs_nb.local_llm import LLMTestServer

    obs = llmobs_nb.init(db=tmp_path / "judge.duckdb", project="judge", capture_content=True)
    try:
        with LLMTestServer(reply="Score: 4") as server:
            client = obs.instrument_openai(openai.OpenAI(base_url=server.base_url, api_key="x"))
            client.chat.completions.create(model="gpt-4o-mini", messages=[])  # the app's call
            obs.evaluate([LLMJudge(client, model="gpt-4o-mini")], progress=False)
        kinds = obs.sql("select kind, count(*) n from llm_calls group by kind order by kind")
    finally:
        obs.close()
    assert kinds.rows() == [("evaluator", 1), ("llm", 1)]


def test_online_evaluators_see_the_model_and_use_case_of_the_call(tmp_path):
    from llmobs_nb.evals import EvalResult

    seen = []

    class Recorder:
        name, version = "recorder", "1"

        def evaluate(self, call):
            seen.append(dict(call.attributes))
            return EvalResult("recorder", 1.0)

    obs = llmobs_nb.init(db=tmp_path / "attrs.duckdb", project="online")
    try:

        @obs.observe(model="gpt-4o", use_case="support", evaluators=[Recorder()])
        def ask(question):
            return {"choices": [{"message": {"content": "Paris."}}]}

        ask("capital?")
        for online in obs._online:
            online.drain()
    finally:
        obs.close()
    assert seen == [{"gen_ai.request.model": "gpt-4o", "llmobs.use_case": "support"}]
