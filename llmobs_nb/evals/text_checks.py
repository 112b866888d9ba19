"""Evaluators that read only the answer text: non-empty, length, refusal, keywords, regex."""

from __future__ import annotations

import re
from collections.abc import Sequence

from llmobs_nb.evals.base import Check
from llmobs_nb.evals.protocol import CapturedCall, EvalResult
from llmobs_nb.evals.text import clean_text, normalize

# Phrases with which chat models decline; matched on normalised text (casefolded, punctuation
# removed), so "I'm sorry, but I can't" and "im sorry but i cant" both hit.
REFUSAL_PHRASES: tuple[str, ...] = (
    "i cant help with",
    "i can t help with",
    "i cannot help with",
    "i cant assist",
    "i can t assist",
    "i cannot assist",
    "i cannot provide",
    "i can t provide",
    "i cant provide",
    "i am unable to",
    "i m unable to",
    "im unable to",
    "i am not able to",
    "i m not able to",
    "i won t be able to",
    "i will not be able to",
    "i must decline",
    "i have to decline",
    "i m sorry but i",
    "im sorry but i",
    "i am sorry but i",
    "sorry but i can",
    "as an ai language model",
    "as an ai i",
    "i cannot comply",
    "i can t comply",
    "i cannot fulfill",
    "i can t fulfill",
    "that request goes against",
    "against my guidelines",
)


class NonEmpty(Check):
    """1.0 when the answer holds any non-whitespace character, else 0.0.

    Example:
        >>> NonEmpty().evaluate(CapturedCall(None, None, "hi?", "  ")).value
        0.0
    """

    def __init__(self, *, name: str = "non_empty") -> None:
        super().__init__(name)

    def evaluate(self, call: CapturedCall) -> EvalResult:
        text = clean_text(call.output)
        stripped = len(text.strip())
        if stripped:
            return EvalResult(self.name, 1.0, "non_empty", f"{stripped} non-blank characters")
        detail = "no answer captured" if call.output is None else f"{len(text)} blank characters"
        return EvalResult(self.name, 0.0, "empty", detail)


class LengthWithin(Check):
    """1.0 when the answer's length (characters or words) lies in ``[min, max]``, else 0.0.

    Example:
        >>> check = LengthWithin(max_chars=5)
        >>> check.evaluate(CapturedCall(None, None, "", "far too long")).label
        'too_long'
    """

    def __init__(
        self,
        *,
        min_chars: int | None = None,
        max_chars: int | None = None,
        min_words: int | None = None,
        max_words: int | None = None,
        name: str = "length",
    ) -> None:
        bounds = {
            "min_chars": min_chars,
            "max_chars": max_chars,
            "min_words": min_words,
            "max_words": max_words,
        }
        for key, value in bounds.items():
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ValueError(f"{key} must be an int >= 0, got {value!r}")
        if all(value is None for value in bounds.values()):
            raise ValueError("LengthWithin needs at least one of min_chars, max_chars, ...")
        for unit in ("chars", "words"):
            low, high = bounds[f"min_{unit}"], bounds[f"max_{unit}"]
            if low is not None and high is not None and low > high:
                raise ValueError(f"min_{unit}={low} is above max_{unit}={high}")
        super().__init__(name, {k: v for k, v in bounds.items() if v is not None})

    def evaluate(self, call: CapturedCall) -> EvalResult:
        text = clean_text(call.output).strip()
        measured = {"chars": len(text), "words": len(text.split())}
        for unit, size in measured.items():
            low, high = self.params.get(f"min_{unit}"), self.params.get(f"max_{unit}")
            if low is not None and size < low:
                return EvalResult(self.name, 0.0, "too_short", f"{size} {unit}, below {low}")
            if high is not None and size > high:
                return EvalResult(self.name, 0.0, "too_long", f"{size} {unit}, above {high}")
        return EvalResult(
            self.name, 1.0, "ok", f"{measured['chars']} chars, {measured['words']} words"
        )


class Refusal(Check):
    """1.0 (label ``refusal``) when the answer declines to help, else 0.0 (``answered``).

    Matches common refusal phrases (:data:`REFUSAL_PHRASES`, or your own ``phrases``) in the
    normalised answer. Heuristic: it finds explicit refusals, not evasive answers.

    Example:
        >>> call = CapturedCall(None, None, "", "I'm sorry, but I can't help with that.")
        >>> Refusal().evaluate(call).label
        'refusal'
    """

    def __init__(self, *, phrases: Sequence[str] | None = None, name: str = "refusal") -> None:
        chosen = tuple(normalize(p) for p in (phrases or REFUSAL_PHRASES))
        if not all(chosen):
            raise ValueError(f"refusal phrases must hold words, got {phrases!r}")
        super().__init__(name, {"phrases": list(chosen)} if phrases else None)
        self._phrases = chosen

    def evaluate(self, call: CapturedCall) -> EvalResult:
        text = f" {normalize(call.output or '')} "
        for phrase in self._phrases:
            if f" {phrase} " in text:
                return EvalResult(self.name, 1.0, "refusal", f"matched {phrase!r}")
        return EvalResult(self.name, 0.0, "answered", "no refusal phrase")


class Keywords(Check):
    """The fraction of ``keywords`` present in the answer (case-insensitive, whole words).

    With ``mode="any"`` the score is 1.0 if at least one is present. With ``forbidden=True``
    the score is 1.0 when none is present (e.g. competitor names, internal code names).

    Example:
        >>> call = CapturedCall(None, None, "", "Refunds take 14 days")
        >>> Keywords(["refund", "14 days"]).evaluate(call).value
        0.5
    """

    def __init__(
        self,
        keywords: Sequence[str],
        *,
        mode: str = "all",
        forbidden: bool = False,
        name: str | None = None,
    ) -> None:
        if isinstance(keywords, str) or not keywords:
            raise ValueError(f"keywords must be a non-empty list of strings, got {keywords!r}")
        wanted = [normalize(k) for k in keywords]
        if not all(wanted):
            raise ValueError(f"every keyword must hold a word, got {list(keywords)!r}")
        if mode not in ("all", "any"):
            raise ValueError(f"mode must be 'all' or 'any', got {mode!r}")
        default = "forbidden_keywords" if forbidden else "keywords"
        super().__init__(
            name or default, {"keywords": list(keywords), "mode": mode, "forbidden": forbidden}
        )
        self._wanted = wanted

    def evaluate(self, call: CapturedCall) -> EvalResult:
        text = f" {normalize(call.output or '')} "
        found = [k for k in self._wanted if f" {k} " in text]
        missing = [k for k in self._wanted if f" {k} " not in text]
        if self.params["forbidden"]:
            value = 0.0 if found else 1.0
            return EvalResult(self.name, value, None, f"found {found}" if found else "none found")
        if self.params["mode"] == "any":
            value = 1.0 if found else 0.0
        else:
            value = len(found) / len(self._wanted)
        return EvalResult(self.name, value, None, f"missing {missing}" if missing else "all found")


class RegexMatch(Check):
    """1.0 when ``pattern`` is found in the answer (``re.search``), else 0.0.

    With ``must_match=False`` the score is 1.0 when the pattern is absent (e.g. a leaked
    e-mail address or an order-number format that must not appear).

    Example:
        >>> RegexMatch(r"ORD-\\d{6}").evaluate(CapturedCall(None, None, "", "ref ORD-123456")).value
        1.0
    """

    def __init__(
        self,
        pattern: str,
        *,
        flags: int = 0,
        must_match: bool = True,
        name: str = "regex",
    ) -> None:
        try:
            self._regex = re.compile(pattern, flags)
        except (re.error, TypeError) as error:
            raise ValueError(
                f"pattern {pattern!r} is not a valid regular expression: {error}"
            ) from None
        super().__init__(name, {"pattern": pattern, "flags": flags, "must_match": must_match})

    def evaluate(self, call: CapturedCall) -> EvalResult:
        found = self._regex.search(clean_text(call.output))
        hit = found is not None
        value = 1.0 if hit == self.params["must_match"] else 0.0
        detail = f"matched {found.group(0)[:80]!r}" if found else "no match"
        return EvalResult(self.name, value, None, detail)
