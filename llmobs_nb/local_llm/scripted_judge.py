"""A scripted judge for the test server: it grades an LLM-judge prompt by a visible rule.

This is NOT a language model and NOT a real judge. It answers the prompt that
:class:`llmobs_nb.evals.LLMJudge` sends, so a notebook or a test can show a judge that always
gives a readable verdict, offline and deterministically. The rule, all of it:

* the answer is the prompt's last ``<answer>`` block, the reference its last
  ``<reference>`` block (a reference may give alternatives, ``seven|7``);
* ``share`` = the largest fraction of one alternative's words (letters and digits,
  case-folded) that the answer contains;
* the score is ``low + (high - low) × share`` on the scale the prompt asks for
  (``a number from 1 to 5``), rounded to two decimals; when the prompt asks for one of some
  labels, the verdict is the first label if ``share >= 0.5``, else the last one;
* without a reference (or an answer) it says it cannot grade — a reply with no verdict,
  which the judge records as a failed evaluation, never as a score.

Use it as the test server's ``respond`` function::

    with LLMTestServer(respond=scripted_judge, response_model=SCRIPTED_JUDGE_MODEL) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="none")
        judge = LLMJudge(client, model=SCRIPTED_JUDGE_MODEL, name="scripted_judge")
"""

from __future__ import annotations

import json
import re
from typing import Any

from llmobs_nb.local_llm.tool_calls import content_text

SCRIPTED_JUDGE_MODEL = "scripted-judge"
"""The model name to give the scripted judge, so its spans and scores say what it is."""

_ANSWER = re.compile(r"<answer>\n(.*?)\n</answer>", re.DOTALL)
_REFERENCE = re.compile(r"<reference>\n(.*?)\n</reference>", re.DOTALL)
_SCALE = re.compile(r"a number from (-?\d+(?:\.\d+)?) to (-?\d+(?:\.\d+)?)")
_LABELS = re.compile(r'"verdict": "<one of: ([^>"]+)>"')
_WORD = re.compile(r"[^\W_]+")
_NO_REFERENCE = "No reference answer in this prompt: the scripted judge cannot grade it."
_NO_ANSWER = "The scripted judge found no answer block in this prompt."


def scripted_judge(body: dict[str, Any]) -> str:
    """The scripted judge's reply to a chat request ``body`` carrying an LLMJudge prompt.

    A JSON verdict in the format the prompt asks for, graded by the module's rule (the share
    of the reference's words that the answer contains); a sentence without a verdict when the
    prompt has no reference to grade against.

    Example:
        >>> prompt = ("ANSWER:\\n<answer>\\nIt is Paris.\\n</answer>\\n\\n"
        ...           "REFERENCE ANSWER:\\n<reference>\\nParis\\n</reference>\\n\\n"
        ...           'Reply with JSON only, on one line: {"score": <a number from 1 to 5>, ...}')
        >>> reply = scripted_judge({"messages": [{"role": "user", "content": prompt}]})
        >>> json.loads(reply)["score"]
        5
        >>> json.loads(reply)["reason"]
        "scripted rule, not a model: the answer has 1 of 1 words of the reference 'Paris'"
    """
    text = "\n".join(_texts(body))
    references = _REFERENCE.findall(text)
    if not references:
        return _NO_REFERENCE
    reference = references[-1]
    answers = _ANSWER.findall(text[: text.rfind("<reference>\n")])
    if not answers:
        return _NO_ANSWER
    share, found, total, alternative = _share(answers[-1], reference)
    reason = (
        f"scripted rule, not a model: the answer has {found} of {total} words of the "
        f"reference {alternative!r}"
    )
    labels = _LABELS.findall(text)
    if labels:
        names = [name.strip() for name in labels[-1].split(",") if name.strip()]
        verdict = names[0] if share >= 0.5 else names[-1]
        return json.dumps({"verdict": verdict, "reason": reason}, ensure_ascii=False)
    scales = _SCALE.findall(text)
    low, high = (float(x) for x in scales[-1]) if scales else (1.0, 5.0)
    score = round(low + (high - low) * share, 2)
    number = int(score) if score.is_integer() else score
    return json.dumps({"score": number, "reason": reason}, ensure_ascii=False)


def _share(answer: str, reference: str) -> tuple[float, int, int, str]:
    """The best alternative of ``reference``: (share of its words in ``answer``, found,
    total, the alternative)."""
    said = set(_WORD.findall(answer.casefold()))
    best = (0.0, 0, 0, reference.strip())
    for alternative in reference.split("|"):
        words = set(_WORD.findall(alternative.casefold()))
        if not words:
            continue
        found = len(words & said)
        candidate = (found / len(words), found, len(words), alternative.strip())
        if best[2] == 0 or candidate[0] > best[0]:
            best = candidate
    return best


def _texts(body: dict[str, Any]) -> list[str]:
    """The text of every message (OpenAI chat or Anthropic messages, system included)."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    parts = [body.get("system"), body.get("instructions"), *(m.get("content") for m in messages)]
    return [text for text in map(content_text, parts) if text]
