"""What an evaluator is: a named, versioned function from one captured call to scores.

An evaluator reads one :class:`CapturedCall` (input, output, attributes, optional reference)
and returns one or more :class:`EvalResult` — a number in [0, 1], a label, or both, with an
explanation. When it cannot judge (a junk judge reply, a missing reference) it raises
:class:`EvaluationError`; the runners record that as a score row with value NULL and the
error in ``comment``, never as a made-up number.

Every stored score carries ``source = "eval:<name>@<version>"``, so a changed evaluator (new
code, new parameters, a new rubric) never mixes with an old one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from llmobs_nb._deprecated import moved_names

# CallRecord was a second name of CapturedCall: one class, one name.
__getattr__ = moved_names(__name__, {"CallRecord": "llmobs_nb.evals.protocol:CapturedCall"})


class EvaluationError(Exception):
    """An evaluator could not produce a score for this call; the message says why."""


# Not frozen: the observe shell builds one per traced call, and a frozen dataclass's
# __init__ costs about four times as much (2 µs against 0.5 µs measured).
@dataclass(slots=True)
class CapturedCall:
    """One traced call as an evaluator sees it.

    ``input`` and ``output`` are the captured prompt and answer text (None when not captured);
    ``attributes`` the span's attributes; ``reference`` an expected answer, when known.

    Example:
        >>> CapturedCall("a1b2c3d4e5f60718", "0" * 32, "2+2?", "4", reference="4").output
        '4'
    """

    span_id: str | None
    trace_id: str | None
    input: str | None
    output: str | None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class EvalResult:
    """One named score: ``value`` in [0, 1] and/or a ``label``, with an ``explanation``.

    Example:
        >>> EvalResult("non_empty", 1.0, explanation="12 characters").value
        1.0
    """

    name: str
    value: float | None = None
    label: str | None = None
    explanation: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a score needs a non-empty name, got {self.name!r}")
        if self.value is None and self.label is None:
            raise ValueError(
                f"score {self.name!r} has neither a value nor a label: raise EvaluationError "
                f"when the call cannot be evaluated"
            )
        if self.value is not None:
            value = self.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"score {self.name!r} must be a number, got {value!r}")
            if not math.isfinite(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"score {self.name!r} = {value!r} is not in [0, 1]")
            object.__setattr__(self, "value", float(value))
        if self.label is not None and not isinstance(self.label, str):
            raise TypeError(f"label of score {self.name!r} must be a string, got {self.label!r}")


@runtime_checkable
class Evaluator(Protocol):
    """Anything with a ``name``, a ``version`` and ``evaluate(call)``.

    ``evaluate`` returns one :class:`EvalResult` or a sequence of them, or raises
    :class:`EvaluationError`. An evaluator may also define ``bind(obs) -> Evaluator``: the
    runners call it so that an LLM judge traces its own calls into the observer it serves.

    Example:
        >>> class Shouting:
        ...     name, version = "shouting", "1"
        ...     def evaluate(self, call):
        ...         return EvalResult("shouting", float((call.output or "").isupper()))
        >>> isinstance(Shouting(), Evaluator)
        True
    """

    name: str
    version: str

    def evaluate(self, call: CapturedCall) -> EvalResult | Sequence[EvalResult]: ...


def source_of(evaluator: Evaluator) -> str:
    """The ``source`` stored with every score of ``evaluator``: ``"eval:<name>@<version>"``.

    Example:
        >>> from llmobs_nb.evals import NonEmpty
        >>> source_of(NonEmpty())
        'eval:non_empty@1'
    """
    return f"eval:{evaluator.name}@{evaluator.version}"


def versioned(code_version: int, params: Mapping[str, Any] | None = None) -> str:
    """A version string: the code's version, plus a short hash of the parameters if any.

    Two evaluators of the same class with different parameters (another schema, other bounds,
    another rubric) get different versions, so their scores never mix.

    Example:
        >>> versioned(1)
        '1'
        >>> versioned(1, {"max_chars": 300}) == versioned(1, {"max_chars": 500})
        False
    """
    if not params:
        return str(code_version)
    text = json.dumps(params, sort_keys=True, default=repr)
    return f"{code_version}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def as_results(evaluator: Evaluator, returned: Any) -> list[EvalResult]:
    """Check and normalise what ``evaluator.evaluate`` returned into a non-empty list."""
    results = [returned] if isinstance(returned, EvalResult) else returned
    if not isinstance(results, Sequence) or isinstance(results, str) or not results:
        raise TypeError(
            f"evaluator {evaluator.name!r} returned {returned!r}: return an EvalResult or a "
            f"non-empty list of them (raise EvaluationError when it cannot judge)"
        )
    for result in results:
        if not isinstance(result, EvalResult):
            raise TypeError(
                f"evaluator {evaluator.name!r} returned {result!r} among its results: "
                f"each must be an EvalResult"
            )
    return list(results)


def check_evaluators(evaluators: Any) -> list[Evaluator]:
    """Validate a list of evaluators: each follows the protocol, no two share a source."""
    if isinstance(evaluators, Evaluator):
        evaluators = [evaluators]
    if not isinstance(evaluators, Sequence) or isinstance(evaluators, str) or not evaluators:
        raise ValueError(
            f"evaluators must be a non-empty list of evaluators, got {evaluators!r}: "
            f"e.g. [NonEmpty(), LengthWithin(max_chars=500)]"
        )
    seen: dict[str, Evaluator] = {}
    for evaluator in evaluators:
        if not isinstance(evaluator, Evaluator):
            raise TypeError(
                f"{evaluator!r} is not an evaluator: it needs name, version and "
                f"evaluate(call) (see llmobs_nb.evals.Evaluator)"
            )
        source = source_of(evaluator)
        if source in seen:
            raise ValueError(
                f"two evaluators share the source {source!r}: give one another name=..."
            )
        seen[source] = evaluator
    return list(evaluators)
