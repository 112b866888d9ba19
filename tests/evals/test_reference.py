"""Reference-based evaluators: exact, fuzzy, token F1, ROUGE-L, semantic similarity."""

from __future__ import annotations

import pytest

from llmobs_nb.evals import (
    CapturedCall,
    EvaluationError,
    ExactMatch,
    FuzzyMatch,
    RougeL,
    SemanticSimilarity,
    TokenF1,
)
from tests.evals.conftest import NASTY_OUTPUTS


def pair(output: str | None, reference: str | None) -> CapturedCall:
    return CapturedCall("0123456789abcdef", "0" * 32, "q", output, reference=reference)


@pytest.mark.parametrize(
    ("output", "reference", "value"),
    [
        ("Paris", "Paris", 1.0),
        ("  paris. ", "Paris", 1.0),
        ("PARIS!", "paris", 1.0),
        ("Paris, France", "Paris", 0.0),
        ("", "", 1.0),
        ("", "Paris", 0.0),
    ],
)
def test_exact_match_normalises_case_punctuation_and_space(output, reference, value):
    assert ExactMatch().evaluate(pair(output, reference)).value == value


def test_exact_match_can_be_strict():
    assert ExactMatch(normalized=False).evaluate(pair("paris", "Paris")).value == 0.0


def test_fuzzy_match_scores_near_misses_high_and_strangers_low():
    fuzzy = FuzzyMatch()
    assert fuzzy.evaluate(pair("Pariss", "Paris")).value == pytest.approx(10 / 11)
    assert fuzzy.evaluate(pair("Tokyo", "Paris")).value < 0.3
    assert FuzzyMatch(scorer="token_set_ratio").evaluate(
        pair("The capital is Paris", "Paris is the capital")
    ).value == pytest.approx(1.0)


def test_fuzzy_match_rejects_unknown_scorer():
    with pytest.raises(ValueError, match="scorer 'levenshtein' is not one of"):
        FuzzyMatch(scorer="levenshtein")


@pytest.mark.parametrize(
    ("output", "reference", "f1"),
    [
        ("Paris", "Paris", 1.0),
        ("the capital is Paris", "Paris", 0.5),  # 'the' dropped: P=1/3, R=1 → 0.5
        ("Lyon", "Paris", 0.0),
        ("", "", 1.0),
        ("", "Paris", 0.0),
    ],
)
def test_token_f1(output, reference, f1):
    assert TokenF1().evaluate(pair(output, reference)).value == pytest.approx(f1)


def test_rouge_l_rewards_order_of_common_words():
    in_order = RougeL().evaluate(pair("the cat sat on the mat", "the cat sat on the mat"))
    shuffled = RougeL().evaluate(pair("mat the on sat cat the", "the cat sat on the mat"))
    assert in_order.value == 1.0
    assert shuffled.value == 0.5  # longest common subsequence: 3 of 6 words
    assert shuffled.explanation == "LCS 3 words of 6"


def test_rouge_l_is_fast_on_very_long_texts():
    long_text = "alpha beta gamma delta " * 5_000
    result = RougeL().evaluate(pair(long_text, long_text))
    assert result.value == 1.0


def test_semantic_similarity_ranks_paraphrase_above_unrelated():
    check = SemanticSimilarity()
    paraphrase = check.evaluate(
        pair("The capital of France is Paris.", "Paris is France's capital city.")
    )
    unrelated = check.evaluate(
        pair("Quarterly revenue grew five percent.", "Paris is France's capital city.")
    )
    assert paraphrase.value > 0.8 and paraphrase.label == "similar"
    assert unrelated.value < 0.3 and unrelated.label == "different"


@pytest.mark.parametrize(
    "evaluator",
    [ExactMatch(), FuzzyMatch(), TokenF1(), RougeL(), SemanticSimilarity()],
    ids=lambda e: e.name,
)
def test_reference_evaluators_without_reference_raise_evaluation_error(evaluator):
    with pytest.raises(EvaluationError, match="needs a reference answer"):
        evaluator.evaluate(pair("Paris", None))


@pytest.mark.parametrize("case", sorted(NASTY_OUTPUTS))
@pytest.mark.parametrize(
    "evaluator",
    [ExactMatch(), FuzzyMatch(), TokenF1(), RougeL(), SemanticSimilarity()],
    ids=lambda e: e.name,
)
def test_reference_evaluators_survive_nasty_outputs(evaluator, case):
    output = NASTY_OUTPUTS[case]
    for reference in ("score 1.0", output if isinstance(output, str) else ""):
        result = evaluator.evaluate(pair(output, reference))
        assert result.value is not None and 0.0 <= result.value <= 1.0
