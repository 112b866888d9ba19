"""The bridge from a traced call's end to online evaluation: ``observe(evaluators=[...])``."""

from __future__ import annotations

from typing import Any

from llmobs_nb.capture import semconv as sc
from llmobs_nb.capture.content import to_text
from llmobs_nb.capture.scope import SpanScope
from llmobs_nb.evals.online import OnlineEvaluator
from llmobs_nb.evals.protocol import CapturedCall


class ScopeSubmitter:
    """Turns an ended span into a :class:`CapturedCall` and enqueues it (never blocks)."""

    def __init__(self, obs: Any, evaluators: list[Any]) -> None:
        self.online = OnlineEvaluator(obs, evaluators)

    def submit_scope(self, scope: SpanScope) -> None:
        context = scope.span.get_span_context()
        attributes = {**(scope.preset or {}), **scope.attributes}
        self.online.submit(
            CapturedCall(
                format(context.span_id, "016x"),
                format(context.trace_id, "032x"),
                None if scope.input_value is None else to_text(scope.input_value),
                scope.output_text,
                {
                    key: attributes[key]
                    for key in (sc.GEN_AI_REQUEST_MODEL, sc.LLMOBS_USE_CASE)
                    if key in attributes
                },
            )
        )

    @property
    def dropped(self) -> int:
        return int(self.online.dropped)

    def drain(self, timeout: float = 30.0) -> Any:
        return self.online.drain(timeout)

    def close(self) -> None:
        self.online.close()
