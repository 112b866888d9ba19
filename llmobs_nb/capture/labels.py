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
