"""Evaluators that compare the answer with a reference: exact, fuzzy, token F1, ROUGE-L."""

from __future__ import annotations

from collections import Counter

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from llmobs_nb.evals.base import Check, reference_of
from llmobs_nb.evals.protocol import CapturedCall, EvalResult
from llmobs_nb.evals.text import clean_text, normalize, tokens

_FUZZY_SCORERS = {
    "ratio": fuzz.ratio,
    "partial_ratio": fuzz.partial_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "token_set_ratio": fuzz.token_set_ratio,
}


class ExactMatch(Check):
    """1.0 when the answer equals the reference, else 0.0.

    With ``normalized=True`` (default) case, punctuation and whitespace are ignored.

    Example:
        >>> ExactMatch().evaluate(CapturedCall(None, None, "", "Paris.", reference="paris")).value
        1.0
    """

    def __init__(self, *, normalized: bool = True, name: str = "exact_match") -> None:
        super().__init__(name, None if normalized else {"normalized": False})
        self.normalized = normalized

    def evaluate(self, call: CapturedCall) -> EvalResult:
        reference = reference_of(call, self.name)
        answer = clean_text(call.output)
        if self.normalized:
            answer, reference = normalize(answer), normalize(reference)
        same = answer == reference
        return EvalResult(self.name, float(same), "match" if same else "no_match", None)


class FuzzyMatch(Check):
    """Similarity of answer and reference in [0, 1] with a rapidfuzz ``scorer``.

    ``scorer``: ``ratio`` (edit distance), ``partial_ratio`` (best matching substring),
    ``token_sort_ratio`` or ``token_set_ratio`` (word order ignored). Texts are normalised.

    Example:
        >>> check = FuzzyMatch(scorer="token_sort_ratio")
        >>> call = CapturedCall(None, None, "", "Paris, France", reference="France Paris")
        >>> check.evaluate(call).value
        1.0
    """

    def __init__(self, *, scorer: str = "ratio", name: str = "fuzzy_match") -> None:
        if scorer not in _FUZZY_SCORERS:
            raise ValueError(f"scorer {scorer!r} is not one of {sorted(_FUZZY_SCORERS)}")
        super().__init__(name, {"scorer": scorer})
        self._scorer = _FUZZY_SCORERS[scorer]

    def evaluate(self, call: CapturedCall) -> EvalResult:
        reference = normalize(reference_of(call, self.name))
        answer = normalize(call.output or "")
        value = self._scorer(answer, reference) / 100.0
        return EvalResult(self.name, min(1.0, max(0.0, value)), None, None)


class TokenF1(Check):
    """Word-overlap F1 of answer and reference (SQuAD style: normalised, articles dropped).

    Example:
        >>> call = CapturedCall(None, None, "", "the capital is Paris", reference="Paris")
        >>> round(TokenF1().evaluate(call).value, 2)
        0.5
    """

    def __init__(self, *, name: str = "token_f1") -> None:
        super().__init__(name)

    def evaluate(self, call: CapturedCall) -> EvalResult:
        expected = tokens(reference_of(call, self.name))
        got = tokens(call.output or "")
        if not expected or not got:
            same = float(expected == got)
            return EvalResult(self.name, same, None, "one side has no words")
        common = sum((Counter(expected) & Counter(got)).values())
        if common == 0:
            return EvalResult(self.name, 0.0, None, "no word in common")
        precision, recall = common / len(got), common / len(expected)
        f1 = 2 * precision * recall / (precision + recall)
        return EvalResult(self.name, f1, None, f"precision {precision:.2f}, recall {recall:.2f}")


class RougeL(Check):
    """ROUGE-L F-measure: longest common word subsequence of answer and reference.

    Computed with rapidfuzz's LCS over word lists, so long answers stay fast.

    Example:
        >>> call = CapturedCall(
        ...     None, None, "", "paris is the capital", reference="the capital is paris"
        ... )
        >>> round(RougeL().evaluate(call).value, 2)
        0.5
    """

    def __init__(self, *, name: str = "rouge_l") -> None:
        super().__init__(name)

    def evaluate(self, call: CapturedCall) -> EvalResult:
        expected = normalize(reference_of(call, self.name)).split()
        got = normalize(call.output or "").split()
        if not expected or not got:
            return EvalResult(self.name, float(expected == got), None, "one side has no words")
        lcs = LCSseq.similarity(got, expected)
        if lcs == 0:
            return EvalResult(self.name, 0.0, None, "no word in common")
        precision, recall = lcs / len(got), lcs / len(expected)
        f = 2 * precision * recall / (precision + recall)
        return EvalResult(self.name, f, None, f"LCS {lcs} words of {len(expected)}")
