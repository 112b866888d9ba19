"""Property: with content capture off, no prompt or answer text of any convention reaches a
row (input_text, output_text, attributes, error message), whatever the attributes hold."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from llmobs_nb.capture.content_policy import without_content
from llmobs_nb.capture.rows import to_columns
from llmobs_nb.pricing import PriceBook

CONTENT_KEYS = [
    "input.value",
    "output.value",
    "llm.input_messages.0.message.content",
    "llm.output_messages.0.message.contents.0.message_content.text",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
    "llm.prompts.0.prompt.text",
    "gen_ai.prompt",
    "gen_ai.prompt.0.content",
    "gen_ai.completion.0.content",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "retrieval.documents.0.document.content",
    "embedding.embeddings.0.embedding.text",
    "gen_ai.retrieval.documents",
    "gen_ai.evaluation.explanation",
    "llmobs.input",  # another llmobs_nb's content, on a third party's span
    "llmobs.output",
]
OTHER_KEYS = ["llm.model_name", "gen_ai.request.model", "openinference.span.kind", "http.status"]
secret = st.text("abcdefghijklmnopqrstuvwxyz", min_size=6, max_size=12).map(lambda s: f"Q{s}Z")


def _shaped(key: str, text: str) -> str:
    if key.startswith(("gen_ai.input", "gen_ai.output")):
        return json.dumps([{"role": "user", "parts": [{"type": "text", "content": text}]}])
    return text


@settings(max_examples=60, deadline=None)
@given(
    content=st.dictionaries(st.sampled_from(CONTENT_KEYS), secret, min_size=1),
    other=st.dictionaries(st.sampled_from(OTHER_KEYS), st.sampled_from(["LLM", "gpt-4o", "x"])),
    parameters=st.one_of(st.none(), secret),
    error=st.one_of(st.none(), secret),
)
def test_no_content_string_reaches_the_row(content, other, parameters, error):
    attrs = {**other, **{k: _shaped(k, v) for k, v in content.items()}}
    texts = list(content.values())
    if parameters is not None:
        attrs["llm.invocation_parameters"] = json.dumps({"model": "gpt-4o", "input": parameters})
        texts.append(parameters)
    failed = None
    if error is not None:
        failed = ("RateLimitError", f"rate limited for prompt {error}")
        texts.append(error)
    record = ("call", 1, 2, None, 0, 10**9, failed, attrs)
    row = to_columns([without_content(record)], "p", PriceBook()).to_pylist()[0]
    assert row["input_text"] is None and row["output_text"] is None
    stored = json.dumps(row, default=str)
    for text in texts:
        assert text not in stored
