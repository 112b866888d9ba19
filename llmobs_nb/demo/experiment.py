"""A real experiment: questions through the instrumented OpenAI SDK against the local model.

Two prompt versions (runs ``prompt-v1`` and ``prompt-v2``) answer the same questions, half of
them streamed; a deterministic judge scores every answer against its reference, so the store
holds real latencies, real time to first token and real token counts beside quality scores.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

QUESTIONS: list[tuple[str, str]] = [
    ("What is the capital of France?", "Paris"),
    ("What is the capital of Japan?", "Tokyo"),
    ("What is the capital of Italy?", "Rome"),
    ("What is the capital of Germany?", "Berlin"),
    ("What is the capital of Spain?", "Madrid"),
    ("What is the capital of England?", "London"),
    ("What is the capital of Russia?", "Moscow"),
    ("What is the capital of Egypt?", "Cairo"),
    ("How many days are in a week?", "seven|7"),
    ("How many legs does a spider have?", "eight|8"),
    ("What color is the sky on a clear day?", "blue"),
    ("What is the opposite of hot?", "cold"),
    ("What do bees make?", "honey"),
    ("What is frozen water called?", "ice"),
    ("Which planet do we live on?", "earth"),
    ("What animal says moo?", "cow"),
    ("What is 2 plus 2?", "four|4"),
    ("What gas do plants breathe in?", "carbon dioxide|co2"),
]

PROMPTS = {
    "prompt-v1": "You are a helpful assistant.",
    "prompt-v2": "You are a precise assistant. Answer in one short sentence that names the answer.",
}


@dataclass
class ExperimentResult:
    """What the experiment did: calls made, failures, and the judge's mean score per run."""

    calls: int
    errors: int
    mean_score: dict[str, float]
    seconds: float


def judge(answer: str, reference: str) -> float:
    """1.0 when the answer names the reference (any of ``a|b``), else 0.0; deterministic.

    Example:
        >>> judge("The capital of France is Paris.", "Paris")
        1.0
    """
    pattern = r"\b(" + reference + r")\b"
    return 1.0 if re.search(pattern, answer or "", flags=re.IGNORECASE) else 0.0


def run_experiment(
    obs: Any,
    client: Any,
    model: str,
    *,
    questions: list[tuple[str, str]] | None = None,
    progress: bool = True,
) -> ExperimentResult:
    """Ask every question under both prompt versions; score each answer; return a summary.

    ``client`` is an ``openai.OpenAI`` already instrumented with ``obs.instrument_openai``.

    Example:
        >>> run_experiment(obs, client, "SmolLM2-135M-Instruct")   # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    questions = questions or QUESTIONS
    started = time.perf_counter()
    calls = errors = 0
    means: dict[str, float] = {}
    steps = tqdm(total=len(PROMPTS) * len(questions), desc="experiment", disable=not progress)
    for run, system in PROMPTS.items():
        scores: list[float] = []
        with obs.run(run, params={"system": system, "temperature": 0, "model": model}):
            for i, (question, reference) in enumerate(questions):
                messages = [
                    {"role": "system", "content": system},
                    {"role": "user", "content": question},
                ]
                with obs.span("qa", kind="chain", use_case="trivia", user_id=f"user-{i % 4}") as qa:
                    try:
                        answer = _ask(client, model, messages, stream=i % 2 == 1)
                    except Exception:
                        errors += 1
                        continue
                    finally:
                        calls += 1
                        steps.update(1)
                span_id = _llm_child(obs, qa.span_id)
                value = judge(answer, reference)
                scores.append(value)
                obs.score(
                    span_id=span_id,
                    name="correctness",
                    value=value,
                    source="judge:keyword@1",
                    comment=f"reference: {reference}",
                )
        means[run] = sum(scores) / len(scores) if scores else float("nan")
    steps.close()
    obs.flush()
    return ExperimentResult(calls, errors, means, time.perf_counter() - started)


def _ask(client: Any, model: str, messages: list[dict[str, str]], *, stream: bool) -> str:
    """One chat call, streamed or not; returns the answer text."""
    if stream:
        chunks = client.chat.completions.create(
            model=model,
            messages=messages,
            temperature=0,
            max_tokens=48,
            stream=True,
            stream_options={"include_usage": True},
        )
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    reply = client.chat.completions.create(
        model=model, messages=messages, temperature=0, max_tokens=48
    )
    return reply.choices[0].message.content or ""


def _llm_child(obs: Any, parent_span_id: str) -> str:
    """The span id of the LLM call made inside the ``qa`` span ``parent_span_id``."""
    rows = obs.sql(
        "select span_id from spans where parent_span_id = ? and kind = 'llm'", [parent_span_id]
    )
    return str(rows["span_id"][0])
