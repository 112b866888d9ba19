"""Labels (use case, user, run) that every span inside a block inherits, via contextvars.

contextvars follow threads started with a copied context and every asyncio task, so a label set
by ``obs.run(...)`` or an enclosing ``obs.span(..., user_id=...)`` reaches the LLM calls below it.
"""

from __future__ import annotations

from contextvars import ContextVar

from llmobs_nb.capture import semconv as sc

LABEL_ATTRIBUTES = {
    "use_case": sc.LLMOBS_USE_CASE,
    "user_id": sc.LLMOBS_USER_ID,
    "run": sc.LLMOBS_RUN,
}

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
