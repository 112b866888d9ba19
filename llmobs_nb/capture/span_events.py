"""What other instrumentations put in span events, folded into the span's attributes copy.

Rows are built from attributes (see ``rows.record_of``); a few conventions say things in
events instead:

- OpenInference's ``"First Token Stream Event"`` on a stream: the time to first token is the
  event's time minus the span's start, written as ``gen_ai.response.time_to_first_chunk``
  (seconds) when the span does not carry that attribute already.
- The GenAI ``gen_ai.client.inference.operation.details`` event, when recorded on the span:
  its ``gen_ai.input.messages``, ``gen_ai.output.messages`` and ``gen_ai.system_instructions``
  are taken when the span lacks them (content policy drops them later when capture is off).

Evaluation events (``gen_ai.evaluation.result``) become scores, not span fields: see
:mod:`llmobs_nb.capture.evaluations`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmobs_nb.capture import semconv as sc

_DETAIL_KEYS = (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES, sc.GEN_AI_SYSTEM_INSTRUCTIONS)


def fold_events(events: Sequence[Any], start_ns: int | None, attrs: dict[str, Any]) -> None:
    """Add to ``attrs`` (a copy, changed in place) what the span's ``events`` say: TTFT from
    the first first-token event, messages from an operation-details event. A value the span
    already carries as an attribute wins.

    Example:
        >>> from opentelemetry.sdk.trace import Event
        >>> attrs = {}
        >>> fold_events([Event("First Token Stream Event", timestamp=1_250_000_000)],
        ...             1_000_000_000, attrs)
        >>> attrs
        {'gen_ai.response.time_to_first_chunk': 0.25}
    """
    for event in events:
        name = event.name
        if name == sc.OI_FIRST_TOKEN_EVENT:
            if sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in attrs and start_ns:
                at = event.timestamp
                if isinstance(at, int) and at > 0:  # a negative TTFT is named by the row
                    attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (at - start_ns) / 1e9
        elif name == sc.GEN_AI_OPERATION_DETAILS_EVENT and event.attributes:
            for key in _DETAIL_KEYS:
                value = event.attributes.get(key)
                if value is not None and key not in attrs:
                    attrs[key] = value
