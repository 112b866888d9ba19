"""Quality drift: has a score fallen against its baseline, how sure are we, and since when."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats

from llmobs_nb.analytics.columns import check_columns
from llmobs_nb.analytics.convention import as_columns, keyword_only
from llmobs_nb.analytics.filter import WhereLike
from llmobs_nb.analytics.plan import Scored
from llmobs_nb.analytics.source import CallsLike, ScoresLike, open_source

DRIFT_SCHEMA = {
    "score_name": pl.String(),
    "n": pl.Int64(),
    "n_baseline": pl.Int64(),
    "n_recent": pl.Int64(),
    "baseline": pl.Float64(),
    "current": pl.Float64(),
    "degradation_pct": pl.Float64(),
    "p_value": pl.Float64(),
    "rule_breached": pl.Boolean(),
    "alert": pl.Boolean(),
    "onset": pl.Datetime("us", "UTC"),
    "last_score_at": pl.Datetime("us", "UTC"),
}


def change_point(values: np.ndarray) -> int | None:
    """Index of the first value after the most likely single drop in mean, or None.

    The maximum-likelihood split for one shift in the mean (a standardised CUSUM): for each k
    the difference of the means before and after, scaled by sqrt(k (n − k) / n); the largest
    positive one (higher before than after) marks where the scores fell.
    """
    n = len(values)
    if n < 4:
        return None
    k = np.arange(1, n)
    head = np.cumsum(values)[:-1]
    before = head / k
    after = (values.sum() - head) / (n - k)
    statistic = (before - after) * np.sqrt(k * (n - k) / n)
    best = int(np.argmax(statistic))
    return best + 1 if statistic[best] > 0 else None


def _group_row(
    values: np.ndarray,
    times: pl.Series,
    baseline_n: int,
    recent_n: int,
    threshold: float,
    alpha: float,
) -> dict[str, object]:
    n = len(values)
    row: dict[str, object] = {"n": n, "last_score_at": times[-1]}
    if n < baseline_n + recent_n:
        # Too few scores for two separate windows: no number rather than a meaningless one.
        return row | {"n_baseline": min(n, baseline_n), "n_recent": 0, "alert": False}
    base, recent = values[:baseline_n], values[-recent_n:]
    baseline, current = float(base.mean()), float(recent.mean())
    # One-sided: is the recent window stochastically lower than the baseline?
    p_value = float(stats.mannwhitneyu(base, recent, alternative="greater").pvalue)
    breached = bool(current < threshold * baseline)
    alert = breached and p_value < alpha
    onset = None
    if alert:
        k = change_point(values)
        onset = times[k] if k is not None else None
    return row | {
        "n_baseline": baseline_n,
        "n_recent": recent_n,
        "baseline": baseline,
        "current": current,
        "degradation_pct": (baseline - current) / baseline * 100 if baseline else None,
        "p_value": p_value,
        "rule_breached": breached,
        "alert": alert,
        "onset": onset,
    }


@keyword_only("scores", "by", "score_name", "baseline_n", "recent_n", "threshold", "alpha")
def quality_drift(
    calls: CallsLike,
    *,
    scores: ScoresLike = None,
    by: str | Sequence[str] = ("model",),
    score_name: str | None = None,
    baseline_n: int = 100,
    recent_n: int = 20,
    threshold: float = 0.7,
    alpha: float = 0.01,
    where: WhereLike = None,
) -> pl.DataFrame:
    """One row per group and score name: has the score fallen, how sure, and since when.

    Scores are joined to their call by ``span_id`` (by ``trace_id`` when ``span_id`` is NULL or
    not an LLM call: the trace's first ``llm`` call), which gives the group columns and the time
    (the call's ``start_time``) that orders them. ``scores`` defaults to the store's scores when
    ``calls`` is an observer, a DuckDB file or an exported Parquet directory.

    Per group: ``baseline`` is the mean of the first ``baseline_n`` scores, ``current`` the mean
    of the last ``recent_n``; ``rule_breached`` when current < ``threshold`` × baseline (the
    classic rule). ``p_value`` is a one-sided Mann–Whitney U test of "recent scores are lower
    than baseline ones"; ``alert`` needs both the rule and p < ``alpha``. ``onset`` (only with an
    alert) is the time of the first score after the most likely change point of the whole
    series (maximum-likelihood single mean shift). Groups with fewer than baseline_n +
    recent_n scores get NULL statistics and no alert. Also: ``n``, ``n_baseline``,
    ``n_recent``, ``degradation_pct`` ((baseline − current) / baseline × 100) and
    ``last_score_at``. ``where`` (a :class:`~llmobs_nb.analytics.Filter` or a dict) narrows
    the calls first; scores of calls it leaves out are left out too.

    Example:
        >>> quality_drift(obs, scores=obs.scores(), by=["model"], score_name="quality")
    """
    if baseline_n < 1 or recent_n < 1:
        raise ValueError(
            f"baseline_n={baseline_n!r} and recent_n={recent_n!r} must both be at least 1"
        )
    by = as_columns(by)
    with open_source(calls, scores, where=where) as engine:
        check_columns(engine.columns, [*by, "start_time", "span_id", "trace_id"], "quality_drift")
        scored = engine.run(Scored(tuple(by), score_name))
    # Sorting on the numeric columns only, then grouping with maintain_order, leaves every
    # group in time order; sorting on the (string) group keys too would cost ~7x more.
    scored = scored.filter(pl.col("time").is_not_null()).sort(["time", "value"])
    keys = [*by, "score_name"]
    rows = []
    for key, group in scored.group_by(keys, maintain_order=True):
        values = group["value"].to_numpy()
        times = group["time"]
        row = _group_row(values, times, baseline_n, recent_n, threshold, alpha)
        rows.append(dict(zip(keys, key, strict=True)) | row)
    schema = {k: scored.schema[k] for k in by} | DRIFT_SCHEMA
    out = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return out.sort(["alert", *keys], descending=[True] + [False] * len(keys), nulls_last=True)
