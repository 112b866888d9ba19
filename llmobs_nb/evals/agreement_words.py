"""What an agreement figure means, in words: how strong, whether it could be chance, what to do.

:func:`describe_agreement` reads the one-row frame of :func:`~llmobs_nb.evals.agreement` and
says it in plain English, by stated thresholds:

* strength of Spearman's rho (by its absolute value): below 0.1 negligible, from 0.1 weak,
  from 0.3 moderate, from 0.5 strong, from 0.7 very strong;
* strength of Cohen's kappa (Landis and Koch): below 0 worse than chance, below 0.2 slight,
  from 0.2 fair, from 0.4 moderate, from 0.6 substantial, from 0.8 almost perfect;
* an interval that includes 0 means the agreement could be chance;
* an evaluator is trusted to alert on its own only when the whole interval is at or above
  0.7 (rho) or 0.6 (kappa); below that, it is a signal to watch and to pick calls for review.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import polars as pl

_BANDS = {
    "spearman": ((0.1, "negligible"), (0.3, "weak"), (0.5, "moderate"), (0.7, "strong")),
    "cohen_kappa": (
        (0.0, "worse than chance"),
        (0.2, "slight"),
        (0.4, "fair"),
        (0.6, "moderate"),
        (0.8, "substantial"),
    ),
}
_TOP = {"spearman": "very strong", "cohen_kappa": "almost perfect"}
_NAMES = {"spearman": "Spearman's rho", "cohen_kappa": "Cohen's kappa"}
_SCALES = {
    "spearman": "|rho| below 0.1 is negligible, from 0.1 weak, 0.3 moderate, 0.5 strong, "
    "0.7 very strong",
    "cohen_kappa": "kappa below 0 is worse than chance, below 0.2 slight, from 0.2 fair, "
    "0.4 moderate, 0.6 substantial, 0.8 almost perfect",
}
ALERT_ALONE = {"spearman": 0.7, "cohen_kappa": 0.6}
"""The lowest interval bound at which an evaluator may alert on its own, per metric."""
_FEW_CALLS = 30
_WIDTH = 100


def strength(metric: str, estimate: float) -> str:
    """The word for an agreement ``estimate`` of ``metric`` ("spearman" or "cohen_kappa").

    Example:
        >>> strength("spearman", 0.36), strength("spearman", -0.8), strength("cohen_kappa", 0.5)
        ('moderate', 'very strong', 'moderate')
    """
    if metric not in _BANDS:
        raise ValueError(f"metric must be one of {list(_BANDS)}, got {metric!r}")
    if not math.isfinite(estimate):
        return "undefined"
    size = abs(estimate) if metric == "spearman" else estimate
    for limit, word in _BANDS[metric]:
        if size < limit:
            return word
    return _TOP[metric]


def describe_agreement(frame: pl.DataFrame) -> str:
    """What the one-row result of :func:`~llmobs_nb.evals.agreement` means, in plain English.

    Says how strong the agreement is (thresholds in the text), whether its interval excludes
    0 (else it could be chance), how many calls it rests on, and what to do: alert on the
    evaluator alone only when the whole interval is at or above :data:`ALERT_ALONE`;
    otherwise watch it and confirm with another signal, or fix it first.

    Example:
        >>> row = {"metric": "spearman", "estimate": 0.357, "ci_low": 0.301, "ci_high": 0.412,
        ...        "confidence": 0.95, "p_value": 2e-31, "n": 1001, "n_missing": 48256}
        >>> describe_agreement(pl.DataFrame([row])).splitlines()[0]
        "Spearman's rho = 0.36 (95 % interval 0.30 to 0.41) over 1,001 calls: moderate agreement."
    """
    if not isinstance(frame, pl.DataFrame) or frame.height != 1:
        raise ValueError("describe_agreement needs the one-row frame that evals.agreement returns")
    missing = {"metric", "estimate", "ci_low", "ci_high", "n"} - set(frame.columns)
    if missing:
        raise ValueError(f"the frame lacks {sorted(missing)}: pass what evals.agreement returns")
    row = frame.row(0, named=True)
    paragraphs = _paragraphs(row)
    return "\n".join(textwrap.fill(p, _WIDTH) for p in paragraphs)


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _paragraphs(row: dict[str, Any]) -> list[str]:
    metric = row["metric"]
    if metric not in _BANDS:
        raise ValueError(f"unknown metric {metric!r}: expected one of {list(_BANDS)}")
    estimate, low, high = (_number(row[k]) for k in ("estimate", "ci_low", "ci_high"))
    n = int(row["n"] or 0)
    name, level = _NAMES[metric], ALERT_ALONE[metric]
    if not math.isfinite(estimate):
        why = (
            "fewer than 2 calls have both scores"
            if n < 2
            else "one side gives every call the same value"
        )
        return [
            f"{name} is undefined over {_calls(n)}: {why}.",
            "What to do: collect human labels on more (and more varied) calls, then measure "
            "again; until then, don't trust or alert on this evaluator.",
        ]
    confidence = _number(row.get("confidence", 0.95))
    has_interval = math.isfinite(low) and math.isfinite(high)
    interval = f" ({confidence * 100:g} % interval {low:.2f} to {high:.2f})" if has_interval else ""
    word = strength(metric, estimate)
    direction = ", and negative: it ranks calls the opposite way" if estimate < 0 else ""
    paragraphs = [
        f"{name} = {estimate:.2f}{interval} over {_calls(n)}: {word} agreement{direction}."
    ]
    if not has_interval:
        paragraphs.append("No interval was computed (n_boot=0): treat the figure as uncertain.")
        chance = True
    else:
        chance = low <= 0.0 <= high
        if chance:
            paragraphs.append("The interval includes 0: this agreement could be chance.")
        elif estimate < 0:
            paragraphs.append(
                "The interval is below 0: the evaluator disagrees with people more than chance "
                "would. Check its scale's direction (is 1 the best or the worst?)."
            )
        else:
            paragraphs.append(
                f"The interval excludes 0: the evaluator agrees with people more than chance "
                f"would{'' if high >= level else ', but only roughly'}."
            )
    if n < _FEW_CALLS:
        paragraphs.append(f"Only {_calls(n)}: label more to narrow the interval.")
    if chance or estimate < 0:
        advice = (
            "don't use this evaluator for decisions or alerts yet: fix the rubric or the "
            "judge model, or label more calls, and measure again."
        )
    elif low >= level:
        advice = (
            "it agrees well enough to alert on by itself; measure again when the rubric, "
            "the judge model or the traffic changes."
        )
    else:
        advice = (
            "use it to watch trends and to pick calls for human review, but don't alert on "
            "it alone — confirm with human feedback or another signal."
        )
    paragraphs.append("What to do: " + advice)
    n_missing = int(row.get("n_missing") or 0)
    if n_missing:
        paragraphs.append(
            f"{_calls(n_missing)} scored on one side only (or whose evaluation failed) "
            f"{'was' if n_missing == 1 else 'were'} left out."
        )
    paragraphs.append(
        f"Thresholds: {_SCALES[metric]}; alerting on the evaluator alone needs the whole "
        f"interval at or above {level:g}."
    )
    return paragraphs


def _calls(n: int) -> str:
    return "1 call" if n == 1 else f"{n:,} calls"
