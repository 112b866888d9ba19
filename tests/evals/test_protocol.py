"""The evaluator protocol: results in [0, 1] or a label, versions in every source."""

from __future__ import annotations

import math

import pytest

from llmobs_nb.evals import CapturedCall, EvalResult, Evaluator, NonEmpty, source_of


def test_eval_result_accepts_value_label_or_both():
    assert EvalResult("q", 1).value == 1.0
    assert EvalResult("q", label="refusal").label == "refusal"


@pytest.mark.parametrize("value", [-0.1, 1.5, math.nan, math.inf])
def test_eval_result_rejects_values_outside_unit_interval(value):
    with pytest.raises(ValueError, match=r"is not in \[0, 1\]"):
        EvalResult("q", value)


def test_eval_result_needs_a_value_or_a_label():
    with pytest.raises(ValueError, match="raise EvaluationError"):
        EvalResult("q")
    with pytest.raises(TypeError, match="must be a number"):
        EvalResult("q", True)


def test_call_record_is_the_captured_call_handed_over_by_observe():
    with pytest.warns(DeprecationWarning, match="use llmobs_nb.evals.CapturedCall"):
        from llmobs_nb.evals import CallRecord
    call = CallRecord("0123456789abcdef", "0" * 32, "question", "answer", {"k": "v"})
    assert isinstance(call, CapturedCall)
    assert (call.output, call.reference) == ("answer", None)


def test_any_object_with_name_version_evaluate_is_an_evaluator():
    class Custom:
        name, version = "custom", "3"

        def evaluate(self, call):
            return EvalResult("custom", 0.5)

    assert isinstance(Custom(), Evaluator)
    assert source_of(Custom()) == "eval:custom@3"
    assert source_of(NonEmpty(name="answered")) == "eval:answered@1"


def test_evaluator_names_cannot_hide_a_version():
    with pytest.raises(ValueError, match="without '@'"):
        NonEmpty(name="non_empty@2")
