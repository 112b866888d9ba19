"""failed_verdicts: the raw judge replies that gave no verdict, one line each, and why."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from llmobs_nb.evals import LLMJudge, evaluate, failed_verdicts
from llmobs_nb.local_llm import LLMTestServer

JUNK = "The answer is:\n<answer>\n  It is Paris, the city of light and of museums.\n</answer>"


@pytest.fixture
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer(reply=JUNK) as s:
        yield s


@pytest.fixture
def client(server: LLMTestServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0)


def answered(obs, answers: list[str]) -> list[str]:
    @obs.observe(model="gpt-4o-mini")
    def ask(question: str, answer: str) -> dict:
        return {"choices": [{"message": {"content": answer}}]}

    for answer in answers:
        ask("Capital of France?", answer)
    obs.flush()
    return obs.sql("select span_id from spans where kind = 'llm' order by start_time")[
        "span_id"
    ].to_list()


def test_failed_replies_are_shown_on_one_line_with_the_reason(cobs, client, server):
    ids = answered(cobs, ["Paris.", "Lyon."])
    judge = LLMJudge(client, model="gpt-4o-mini")
    evaluate(cobs, [judge], progress=False)
    server.reply = '{"score": 4, "reason": "fine"}'
    other = LLMJudge(client, model="gpt-4o-mini", name="other")
    evaluate(cobs, [other], progress=False)

    failed = failed_verdicts(cobs, judge, width=40)
    assert failed.columns == ["span_id", "reply", "why"]
    assert failed["span_id"].to_list() == ids
    assert failed["reply"].to_list() == ["The answer is: <answer> It is Paris, th…"] * 2
    assert all(len(reply) == 40 for reply in failed["reply"])
    # The parser's excerpt of the reply is cut from the reason: the reply column shows it.
    assert failed["why"].to_list() == ["no verdict found in the judge's reply"] * 2
    # A judge that gave verdicts has no failures; a name alone takes every version.
    assert failed_verdicts(cobs, other).height == 0
    assert failed_verdicts(cobs, "judge").height == 2


def test_a_rerun_does_not_change_the_table(cobs, client):
    answered(cobs, ["Paris."])
    judge = LLMJudge(client, model="gpt-4o-mini")
    evaluate(cobs, [judge], progress=False)
    first = failed_verdicts(cobs, judge)
    assert evaluate(cobs, [judge], progress=False).height == 0  # already scored: skipped
    assert failed_verdicts(cobs, judge).equals(first)


def test_reasons_other_than_no_verdict_are_kept_whole(cobs, client, server):
    answered(cobs, ["Paris."])
    server.reply = '{"score": 9, "reason": "great"}'
    judge = LLMJudge(client, model="gpt-4o-mini")
    evaluate(cobs, [judge], progress=False)
    (why,) = failed_verdicts(cobs, judge)["why"].to_list()
    assert why == "judge gave 9, outside the rubric's scale 1–5"


def test_arguments_are_checked(cobs):
    with pytest.raises(ValueError, match="width"):
        failed_verdicts(cobs, "judge", width=1)
    with pytest.raises(TypeError, match="LLMJudge or a judge's name"):
        failed_verdicts(cobs, "")
