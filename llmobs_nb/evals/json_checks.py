"""Evaluators of structured answers: valid JSON, and conformance to a JSON Schema."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import jsonschema

from llmobs_nb.evals.base import Check
from llmobs_nb.evals.protocol import CapturedCall, EvalResult
from llmobs_nb.evals.text import clean_text

# Models often wrap JSON in a Markdown fence; the content inside is what the app parses.
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


def _parse(text: str, allow_code_fence: bool) -> tuple[Any, str | None]:
    """(document, None) when ``text`` is JSON, (None, why not) otherwise."""
    if allow_code_fence:
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1)
    if not text.strip():
        return None, "empty answer"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return None, f"not JSON: {error.msg} at line {error.lineno} column {error.colno}"
    except RecursionError:
        return None, "not JSON a parser can read: nested too deeply"


class ValidJSON(Check):
    """1.0 when the answer parses as JSON (optionally inside a ```json fence), else 0.0.

    Example:
        >>> ValidJSON().evaluate(CapturedCall(None, None, "", '{"a": 1}')).value
        1.0
    """

    def __init__(self, *, allow_code_fence: bool = True, name: str = "valid_json") -> None:
        super().__init__(name, None if allow_code_fence else {"allow_code_fence": False})
        self.allow_code_fence = allow_code_fence

    def evaluate(self, call: CapturedCall) -> EvalResult:
        _, problem = _parse(clean_text(call.output), self.allow_code_fence)
        if problem is None:
            return EvalResult(self.name, 1.0, "valid", "parses as JSON")
        return EvalResult(self.name, 0.0, "invalid", problem)


class JSONSchema(Check):
    """1.0 when the answer is JSON that conforms to ``schema`` (``jsonschema``), else 0.0.

    The explanation lists the first violations with their JSON path. The schema itself is
    checked when the evaluator is created.

    Example:
        >>> check = JSONSchema({"type": "object", "required": ["city"]})
        >>> check.evaluate(CapturedCall(None, None, "", '{"town": "Paris"}')).explanation
        "$: 'city' is a required property"
    """

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        allow_code_fence: bool = True,
        max_errors: int = 3,
        name: str = "json_schema",
    ) -> None:
        if not isinstance(schema, Mapping):
            raise TypeError(f"schema must be a JSON Schema dict, got {schema!r}")
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except jsonschema.SchemaError as error:
            raise ValueError(f"the schema is not a valid JSON Schema: {error.message}") from None
        super().__init__(name, {"schema": dict(schema), "allow_code_fence": allow_code_fence})
        self._validator = validator_class(schema)
        self.allow_code_fence = allow_code_fence
        self.max_errors = max_errors

    def evaluate(self, call: CapturedCall) -> EvalResult:
        document, problem = _parse(clean_text(call.output), self.allow_code_fence)
        if problem is not None:
            return EvalResult(self.name, 0.0, "invalid_json", problem)
        errors = sorted(
            self._validator.iter_errors(document), key=lambda e: [str(p) for p in e.path]
        )
        if not errors:
            return EvalResult(self.name, 1.0, "valid", "conforms to the schema")
        shown = "; ".join(f"{e.json_path}: {e.message[:200]}" for e in errors[: self.max_errors])
        more = f" (+{len(errors) - self.max_errors} more)" if len(errors) > self.max_errors else ""
        return EvalResult(self.name, 0.0, "schema_violation", shown + more)
