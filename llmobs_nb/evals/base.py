"""The small base the built-in evaluators share: a name, a version, a readable repr."""

from __future__ import annotations

from typing import Any

from llmobs_nb.evals.protocol import CapturedCall, EvaluationError, versioned
from llmobs_nb.evals.text import clean_text


class Check:
    """Base of the built-in evaluators.

    ``version`` is the class's ``code_version`` (bumped when its logic changes) plus a short
    hash of ``params`` (so other bounds, keywords or schemas give another version).
    """

    code_version = 1

    def __init__(self, name: str, params: dict[str, Any] | None = None) -> None:
        if not isinstance(name, str) or not name or "@" in name:
            raise ValueError(
                f"an evaluator name must be a non-empty string without '@', got {name!r}"
            )
        self.name = name
        self.params = dict(params or {})
        self.version = versioned(self.code_version, self.params)

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{type(self).__name__}({shown}) <eval:{self.name}@{self.version}>"


def reference_of(call: CapturedCall, evaluator: str) -> str:
    """The call's reference text, or an EvaluationError saying how to provide one."""
    if call.reference is None:
        raise EvaluationError(
            f"{evaluator} needs a reference answer and span {call.span_id} has none: pass "
            f"reference={{span_id: text}} (or a function) to evaluate(), or set the span "
            f"attribute 'llmobs.reference'"
        )
    return clean_text(call.reference)
