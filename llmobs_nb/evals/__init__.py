"""Quality evaluation of captured calls: heuristics, similarity, LLM judges, calibration.

An evaluator takes one captured call and returns named scores in [0, 1] (or labels) with an
explanation; every score is stored with ``source = "eval:<name>@<version>"``.

- Built-ins: :class:`NonEmpty`, :class:`LengthWithin`, :class:`Refusal`, :class:`Keywords`,
  :class:`RegexMatch`, :class:`ValidJSON`, :class:`JSONSchema`, :class:`ExactMatch`,
  :class:`FuzzyMatch`, :class:`TokenF1`, :class:`RougeL`, :class:`SemanticSimilarity`,
  :class:`LLMJudge` (with :func:`parse_verdict`).
- :func:`evaluate` scores stored calls (resumable, concurrent, with a progress bar);
  :class:`OnlineEvaluator` scores calls as they happen, off the caller's path.
- :func:`agreement` says how far an evaluator agrees with human labels, and
  :func:`describe_agreement` what that figure means in words; :func:`failed_verdicts` shows
  the judge replies that gave no verdict.

Example:
    >>> from llmobs_nb.evals import NonEmpty, Refusal, evaluate   # doctest: +SKIP
    >>> evaluate(obs, [NonEmpty(), Refusal()])                     # doctest: +SKIP
"""

from llmobs_nb._deprecated import moved_names
from llmobs_nb.evals.agreement import agreement
from llmobs_nb.evals.agreement_words import describe_agreement
from llmobs_nb.evals.batch import REFERENCE_ATTRIBUTE, evaluate
from llmobs_nb.evals.json_checks import JSONSchema, ValidJSON
from llmobs_nb.evals.judge import DEFAULT_RUBRIC, LLMJudge
from llmobs_nb.evals.judge_failures import failed_verdicts
from llmobs_nb.evals.online import OnlineEvaluator
from llmobs_nb.evals.protocol import (
    CapturedCall,
    EvalResult,
    EvaluationError,
    Evaluator,
    source_of,
)
from llmobs_nb.evals.reference import ExactMatch, FuzzyMatch, RougeL, TokenF1
from llmobs_nb.evals.semantic import SemanticSimilarity
from llmobs_nb.evals.text_checks import Keywords, LengthWithin, NonEmpty, Refusal, RegexMatch
from llmobs_nb.evals.verdict import Verdict, parse_verdict

__all__ = [
    "DEFAULT_RUBRIC",
    "REFERENCE_ATTRIBUTE",
    "CapturedCall",
    "EvalResult",
    "EvaluationError",
    "Evaluator",
    "ExactMatch",
    "FuzzyMatch",
    "JSONSchema",
    "Keywords",
    "LLMJudge",
    "LengthWithin",
    "NonEmpty",
    "OnlineEvaluator",
    "Refusal",
    "RegexMatch",
    "RougeL",
    "SemanticSimilarity",
    "TokenF1",
    "ValidJSON",
    "Verdict",
    "agreement",
    "describe_agreement",
    "evaluate",
    "failed_verdicts",
    "parse_verdict",
    "source_of",
]

__getattr__ = moved_names(__name__, {"CallRecord": "llmobs_nb.evals:CapturedCall"})
