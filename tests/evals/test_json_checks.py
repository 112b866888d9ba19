"""Structured-answer evaluators: valid JSON and JSON Schema conformance."""

from __future__ import annotations

import pytest

from llmobs_nb.evals import CapturedCall, JSONSchema, ValidJSON
from tests.evals.conftest import NASTY_OUTPUTS

ORDER_SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^ORD-[0-9]{6}$"},
        "quantity": {"type": "integer", "minimum": 1},
    },
    "required": ["order_id", "quantity"],
    "additionalProperties": False,
}


def answer(text: str | None) -> CapturedCall:
    return CapturedCall(None, None, "give me JSON", text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', 1.0),
        ("[1, 2, 3]", 1.0),
        ('```json\n{"a": 1}\n```', 1.0),
        ("```\n[true]\n```", 1.0),
        ('{"a": 1,}', 0.0),
        ('Sure! Here is the JSON: {"a": 1}', 0.0),
        ("", 0.0),
        (None, 0.0),
        ("[" * 100_000, 0.0),  # too deep for the parser: a verdict, not a crash
    ],
)
def test_valid_json(text, value):
    assert ValidJSON().evaluate(answer(text)).value == value


def test_valid_json_explains_where_it_broke():
    result = ValidJSON().evaluate(answer('{"a": 1,\n "b": }'))
    assert result.label == "invalid"
    assert "line 2" in result.explanation


def test_valid_json_can_refuse_code_fences():
    strict = ValidJSON(allow_code_fence=False)
    assert strict.evaluate(answer('```json\n{"a": 1}\n```')).value == 0.0
    assert strict.version != ValidJSON().version


def test_json_schema_accepts_conforming_answer():
    result = JSONSchema(ORDER_SCHEMA).evaluate(answer('{"order_id": "ORD-123456", "quantity": 2}'))
    assert (result.value, result.label) == (1.0, "valid")


def test_json_schema_lists_violations_with_paths():
    result = JSONSchema(ORDER_SCHEMA).evaluate(
        answer('{"order_id": "123", "quantity": 0, "note": "x"}')
    )
    assert (result.value, result.label) == (0.0, "schema_violation")
    assert "$.order_id" in result.explanation
    assert "$.quantity" in result.explanation


def test_json_schema_scores_non_json_zero_with_reason():
    result = JSONSchema(ORDER_SCHEMA).evaluate(answer("order ORD-123456, two of them"))
    assert (result.value, result.label) == (0.0, "invalid_json")


def test_json_schema_rejects_an_invalid_schema_up_front():
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        JSONSchema({"type": "banana"})


def test_schema_is_part_of_the_version():
    other = dict(ORDER_SCHEMA, required=["order_id"])
    assert JSONSchema(ORDER_SCHEMA).version != JSONSchema(other).version


@pytest.mark.parametrize("case", sorted(NASTY_OUTPUTS))
def test_json_checks_survive_nasty_outputs(case):
    for evaluator in (ValidJSON(), JSONSchema(ORDER_SCHEMA)):
        assert evaluator.evaluate(answer(NASTY_OUTPUTS[case])).value == 0.0
