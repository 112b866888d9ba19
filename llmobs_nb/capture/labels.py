"""Labels (use case, user, run, session, agent) that every span inside a block inherits, via
contextvars.

contextvars follow threads started with a copied context and every asyncio task, so a label set
by ``obs.run(...)``, ``obs.session(...)``, ``obs.agent(...)`` or an enclosing
``obs.span(..., user_id=...)`` reaches the LLM calls below it. Spans of other instrumentations
started inside such a block get the labels they do not set themselves
(:func:`missing_labels`, from the span processor's ``on_start``).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from llmobs_nb.capture import semconv as sc

LABEL_ATTRIBUTES = {
    "use_case": sc.LLMOBS_USE_CASE,
    "user_id": sc.LLMOBS_USER_ID,
    "run": sc.LLMOBS_RUN,
    "session_id": sc.GEN_AI_CONVERSATION_ID,
    "agent_name": sc.GEN_AI_AGENT_NAME,
}
"""Label → the attribute our spans carry it in."""
_OTHER_NAMES = {
    "user_id": (sc.USER_ID,),
    "session_id": (sc.OI_SESSION_ID,),
    "agent_name": (sc.OI_AGENT_NAME, sc.OI_GRAPH_NODE_NAME),
}
_AGENT_SPAN = {sc.GEN_AI_OPERATION_NAME: sc.AGENT_OPERATIONS, sc.OI_SPAN_KIND: {"AGENT"}}

# The default is never mutated: merged() copies before changing anything.
current_labels: ContextVar[dict[str, str]] = ContextVar(
    "llmobs_nb_labels",
    default={},  # noqa: B039
)


def merged(**labels: str | None) -> dict[str, str]:
    """The labels in force, with the given non-None ones laid over them."""
    base = current_labels.get()
    extra = {k: v for k, v in labels.items() if v is not None}
    if not extra:
        return base
    out = dict(base)
    out.update(extra)
    return out


def missing_labels(attributes: Any) -> dict[str, str]:
    """The labels in force that a span of another instrumentation lacks, as attributes: a
    label is left out when the span names it under any convention, and the enclosing agent
    is not given to an agent span (it is an agent of its own).

    Example:
        >>> token = current_labels.set({"session_id": "s-1", "user_id": "ann"})
        >>> missing_labels({"user.id": "bob"})
        {'gen_ai.conversation.id': 's-1'}
        >>> current_labels.reset(token)
    """
    labels = current_labels.get()
    if not labels:
        return {}
    attributes = attributes or {}
    out = {}
    for label, value in labels.items():
        key = LABEL_ATTRIBUTES[label]
        if key in attributes or any(k in attributes for k in _OTHER_NAMES.get(label, ())):
            continue
        if label == "agent_name" and any(
            attributes.get(k) in values for k, values in _AGENT_SPAN.items()
        ):
            continue
        out[key] = value
    return out


def check_label(name: str, value: object) -> None:
    """Raise TypeError unless a label (``model``, ``use_case``, ``run``…) is a string or None.

    Example:
        >>> check_label("use_case", "support")
        >>> check_label("use_case", 3)
        Traceback (most recent call last):
        TypeError: use_case must be a string, got 3 (int)
    """
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {value!r} ({type(value).__name__})")


def check_kind(kind: str) -> None:
    """Raise ValueError unless ``kind`` is a span kind (``llm``, ``chain``, ``retrieval``…).

    Example:
        >>> check_kind("llm")
        >>> check_kind("LLM")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: kind 'LLM' is not one of [...]
    """
    if kind not in sc.SPAN_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {sorted(sc.SPAN_KINDS)}")
