"""Judge calibration: how well does an evaluator agree with human labels on the same calls?

Cohen's kappa for labels, Spearman's rank correlation for scores, each with a bootstrap
confidence interval and the number of calls it rests on — so a user knows whether to trust a
judge before alerting on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

_METHODS = ("auto", "kappa", "spearman")


def _as_frame(data: Any, side: str, key: str) -> pl.DataFrame:
    if isinstance(data, Mapping):
        values = list(data.values())
        frame = pl.DataFrame(
            {key: [str(k) for k in data], "x": values},
            schema_overrides={"x": pl.String}
            if any(isinstance(v, str) for v in values)
            else {"x": pl.Float64},
            strict=False,
        )
        return frame
    if not isinstance(data, pl.DataFrame):
        raise TypeError(
            f"{side} must be a polars DataFrame (with {key!r} and 'value' or 'label') or a dict "
            f"{key} -> value, got {type(data).__name__}"
        )
    if key not in data.columns:
        raise ValueError(f"{side} has no {key!r} column; its columns: {data.columns}")
    has_label = "label" in data.columns and data["label"].drop_nulls().len() > 0
    has_value = "value" in data.columns and data["value"].drop_nulls().len() > 0
    if not (has_label or has_value):
        raise ValueError(f"{side} needs a non-empty 'value' or 'label' column: {data.columns}")
    column = "label" if has_label and (not has_value or side == "labels") else "value"
    frame = data.select(pl.col(key).cast(pl.String), pl.col(column).alias("x"))
    duplicated = frame.filter(pl.col(key).is_duplicated())
    if duplicated.height:
        raise ValueError(
            f"{side} has several rows for {key} {duplicated[key][0]!r}: keep one score per call "
            f"(filter by source and name first, e.g. scores.filter(pl.col('source') == ...))"
        )
    return frame


def _kappa(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """Cohen's kappa of each row of code matrices ``a`` and ``b`` (categories 0..k-1)."""
    n = a.shape[1]
    observed = (a == b).mean(axis=1)
    expected = np.zeros(a.shape[0])
    for category in range(k):
        expected += (a == category).sum(axis=1) * (b == category).sum(axis=1) / (n * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected < 1.0, (observed - expected) / (1.0 - expected), np.nan)


def _spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row of ``a`` and ``b`` (ties get average ranks)."""
    ra = stats.rankdata(a, axis=1)
    rb = stats.rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denominator = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, (ra * rb).sum(axis=1) / denominator, np.nan)


def agreement(
    scores: pl.DataFrame | Mapping[str, Any],
    labels: pl.DataFrame | Mapping[str, Any],
    *,
    method: str = "auto",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    key: str = "span_id",
) -> pl.DataFrame:
    """Agreement of an evaluator's ``scores`` with human ``labels`` on the same calls.

    Both sides are frames with ``key`` (span_id) and ``value`` or ``label`` columns — e.g.
    ``obs.scores()`` filtered to one source and name — or dicts span_id → value. Calls on
    one side only, and failed evaluations (no value), are left out and counted in
    ``n_missing``. ``method="kappa"`` compares labels (Cohen's kappa), ``"spearman"`` ranks
    numbers; ``"auto"`` picks kappa when the human labels are text.

    Returns one row: ``metric``, ``estimate``, ``ci_low``, ``ci_high`` (percentile bootstrap
    over calls, ``n_boot`` resamples), ``confidence``, ``p_value`` (Spearman's test; null for
    kappa), ``n`` (calls compared) and ``n_missing``. NaN where undefined (e.g. every
    label the same).

    Example:
        >>> judge = {"a": "pass", "b": "fail", "c": "pass", "d": "pass"}
        >>> human = {"a": "pass", "b": "fail", "c": "fail", "d": "pass"}
        >>> agreement(judge, human)["metric", "n"].row(0)
        ('cohen_kappa', 4)
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise ValueError(f"n_boot must be an int >= 0, got {n_boot!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    left = _as_frame(scores, "scores", key)
    right = _as_frame(labels, "labels", key)
    if method == "auto":
        method = (
            "kappa" if right.schema["x"] in (pl.String, pl.Boolean, pl.Categorical) else "spearman"
        )
    cast = pl.String if method == "kappa" else pl.Float64
    try:
        left = left.with_columns(pl.col("x").cast(cast))
        right = right.with_columns(pl.col("x").cast(cast))
    except pl.exceptions.PolarsError:
        raise ValueError(
            f"method={method!r} needs {'labels' if method == 'kappa' else 'numbers'} on both "
            f"sides: map one side first (e.g. {{'pass': 1.0, 'fail': 0.0}})"
        ) from None
    joined = left.join(right, on=key, how="full", suffix="_human", coalesce=True)
    complete = joined.drop_nulls(["x", "x_human"])
    if cast == pl.Float64:
        complete = complete.filter(pl.col("x").is_not_nan() & pl.col("x_human").is_not_nan())
    n = complete.height
    result: dict[str, Any] = {
        "metric": "cohen_kappa" if method == "kappa" else "spearman",
        "estimate": float("nan"),
        "ci_low": float("nan"),
        "ci_high": float("nan"),
        "confidence": confidence,
        "p_value": None,
        "n": n,
        "n_missing": joined.height - n,
    }
    if n >= 2:
        a_raw, b_raw = complete["x"].to_numpy(), complete["x_human"].to_numpy()
        if method == "kappa":
            categories = sorted(set(a_raw) | set(b_raw))
            if not set(a_raw) & set(b_raw):
                raise ValueError(
                    f"the evaluator's labels {sorted(set(a_raw))} and the human labels "
                    f"{sorted(set(b_raw))} share no category: map one side onto the other"
                )
            code = {c: i for i, c in enumerate(categories)}
            a = np.array([code[x] for x in a_raw])[None, :]
            b = np.array([code[x] for x in b_raw])[None, :]
            statistic = lambda x, y: _kappa(x, y, len(categories))  # noqa: E731
        else:
            a, b = a_raw.astype(float)[None, :], b_raw.astype(float)[None, :]
            statistic = _spearman
            if np.ptp(a) > 0 and np.ptp(b) > 0:
                result["p_value"] = float(stats.spearmanr(a_raw, b_raw).pvalue)
        result["estimate"] = float(statistic(a, b)[0])
        if n_boot:
            rng = np.random.default_rng(seed)
            index = rng.integers(0, n, size=(n_boot, n))
            boot = statistic(a[0][index], b[0][index])
            tail = (1.0 - confidence) / 2 * 100
            if np.isfinite(boot).any():
                low, high = np.nanpercentile(boot, [tail, 100 - tail])
                result["ci_low"], result["ci_high"] = float(low), float(high)
    return pl.DataFrame(
        [result],
        schema={
            "metric": pl.String,
            "estimate": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "confidence": pl.Float64,
            "p_value": pl.Float64,
            "n": pl.Int64,
            "n_missing": pl.Int64,
        },
    )
