"""Answer-only evaluators on hand-made cases: non-empty, length, refusal, keywords, regex."""

from __future__ import annotations

import time

import pytest

from llmobs_nb.evals import (
    CapturedCall,
    EvalResult,
    Keywords,
    LengthWithin,
    NonEmpty,
    Refusal,
    RegexMatch,
    source_of,
)
from tests.evals.conftest import NASTY_OUTPUTS


def answer(text: str | None) -> CapturedCall:
    return CapturedCall("0123456789abcdef", "0" * 32, "question?", text)


@pytest.mark.parametrize(
    ("text", "value", "label"),
    [
        ("Paris.", 1.0, "non_empty"),
        ("", 0.0, "empty"),
        (" \n\t", 0.0, "empty"),
        (None, 0.0, "empty"),
        ("\ud800", 1.0, "non_empty"),
    ],
)
def test_non_empty_scores_blank_and_missing_answers_zero(text, value, label):
    result = NonEmpty().evaluate(answer(text))
    assert (result.value, result.label) == (value, label)


def test_non_empty_source_names_evaluator_and_version():
    assert source_of(NonEmpty()) == "eval:non_empty@1"


@pytest.mark.parametrize(
    ("text", "value", "label"),
    [
        ("12345", 1.0, "ok"),
        ("1234", 0.0, "too_short"),
        ("1234567890X", 0.0, "too_long"),
        ("   12345   ", 1.0, "ok"),  # surrounding whitespace is not length
    ],
)
def test_length_within_checks_character_bounds(text, value, label):
    result = LengthWithin(min_chars=5, max_chars=10).evaluate(answer(text))
    assert (result.value, result.label) == (value, label)
    assert result.explanation


def test_length_within_counts_words():
    check = LengthWithin(max_words=3)
    assert check.evaluate(answer("one two three")).value == 1.0
    too_long = check.evaluate(answer("one two three four"))
    assert too_long.value == 0.0 and too_long.explanation == "4 words, above 3"


def test_length_bounds_are_part_of_the_version():
    assert LengthWithin(max_chars=300).version != LengthWithin(max_chars=500).version
    assert source_of(LengthWithin(max_chars=300)).startswith("eval:length@1-")


def test_length_within_rejects_bad_bounds_with_clear_errors():
    with pytest.raises(ValueError, match="min_chars=10 is above max_chars=5"):
        LengthWithin(min_chars=10, max_chars=5)
    with pytest.raises(ValueError, match="at least one"):
        LengthWithin()
    with pytest.raises(ValueError, match="max_chars must be an int >= 0, got -1"):
        LengthWithin(max_chars=-1)


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that.",
        "I cannot assist with this request.",
        "As an AI language model, I am unable to provide medical advice.",
        "Sorry, but I can't do that",
        "I must decline.",
        "I’m unable to share that.",  # typographic apostrophe
    ],
)
def test_refusal_detects_common_refusals(text):
    result = Refusal().evaluate(answer(text))
    assert (result.value, result.label) == (1.0, "refusal")


@pytest.mark.parametrize(
    "text",
    [
        "Paris is the capital of France.",
        "I can help with that: the refund takes 14 days.",
        "The patient was unable to walk after the surgery.",
        "",
    ],
)
def test_refusal_leaves_real_answers_alone(text):
    result = Refusal().evaluate(answer(text))
    assert (result.value, result.label) == (0.0, "answered")


def test_refusal_accepts_own_phrases():
    check = Refusal(phrases=["computer says no"])
    assert check.evaluate(answer("Computer says: NO!")).value == 1.0
    assert check.evaluate(answer("I'm sorry, but I can't")).value == 0.0


def test_keywords_scores_fraction_present_as_whole_words():
    check = Keywords(["refund", "14 days", "receipt"])
    result = check.evaluate(answer("Refund within 14 days. Refunds need a form."))
    assert result.value == pytest.approx(2 / 3)
    assert "receipt" in result.explanation


def test_keywords_any_and_forbidden_modes():
    assert Keywords(["paris", "lyon"], mode="any").evaluate(answer("Lyon!")).value == 1.0
    assert Keywords(["paris", "lyon"], mode="any").evaluate(answer("Nice")).value == 0.0
    banned = Keywords(["acme corp"], forbidden=True)
    assert banned.name == "forbidden_keywords"
    assert banned.evaluate(answer("Try ACME Corp instead")).value == 0.0
    assert banned.evaluate(answer("Try our product")).value == 1.0


def test_regex_match_and_must_not_match():
    order = RegexMatch(r"ORD-\d{6}")
    assert order.evaluate(answer("your order ORD-123456")).value == 1.0
    assert order.evaluate(answer("your order ORD-12")).value == 0.0
    no_email = RegexMatch(r"[\w.]+@[\w.]+", must_match=False, name="no_email")
    assert no_email.evaluate(answer("write to a.b@example.com")).value == 0.0
    assert no_email.evaluate(answer("write to us")).value == 1.0


def test_regex_rejects_invalid_pattern_naming_it():
    with pytest.raises(ValueError, match=r"pattern '\(' is not a valid regular expression"):
        RegexMatch("(")


@pytest.mark.parametrize("case", sorted(NASTY_OUTPUTS))
@pytest.mark.parametrize(
    "evaluator",
    [
        NonEmpty(),
        LengthWithin(max_chars=1000),
        Refusal(),
        Keywords(["score", "paris"]),
        RegexMatch(r"score\s+1\.0"),
    ],
    ids=lambda e: e.name,
)
def test_answer_checks_survive_nasty_outputs(evaluator, case):
    started = time.perf_counter()
    result = evaluator.evaluate(answer(NASTY_OUTPUTS[case]))
    assert isinstance(result, EvalResult)
    assert result.value is not None and 0.0 <= result.value <= 1.0
    assert time.perf_counter() - started < 1.0
