"""Two runs side by side: each metric's difference, a bootstrap interval, and a verdict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from llmobs_nb.analytics.columns import check_columns
from llmobs_nb.analytics.convention import keyword_only
from llmobs_nb.analytics.filter import WhereLike
from llmobs_nb.analytics.percentiles import min_calls_for
from llmobs_nb.analytics.plan import Agg, Aggregate, Condition, Rows, Scored
from llmobs_nb.analytics.source import CallsLike, ScoresLike, open_source

COMPARE_SCHEMA = {
    "metric": pl.String(),
    "a": pl.Float64(),
    "b": pl.Float64(),
    "diff": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "n_a": pl.Int64(),
    "n_b": pl.Int64(),
    "better_when": pl.String(),
    "verdict": pl.String(),
}
# Mean resamples hold at most this many values; a longer run is bootstrapped m-out-of-n.
MAX_RESAMPLE = 2_000
# Values gathered per chunk of resamples: bounds memory whatever the run size.
CHUNK_VALUES = 4_000_000


@dataclass(frozen=True)
class Statistic:
    """A statistic of a sorted sample, and ``n_boot`` bootstrap replicates of it."""

    estimate: Callable[[np.ndarray], float]
    replicates: Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def _quantile(q: float) -> Statistic:
    def replicates(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        # Exact bootstrap of numpy's linear quantile without resampling. A resample is
        # x[floor(U·n)] for n uniforms U; x is sorted, so its k-th smallest value is
        # x[floor(U_(k)·n)], and the uniform order statistics are U_(k) ~ Beta(k, n − k + 1)
        # and, given it, U_(k+1) = U_(k) + (1 − U_(k))·Beta(1, n − k). O(n_boot), any n.
        n = len(x)
        h = (n - 1) * q
        lo = int(np.floor(h))
        u_lo = rng.beta(lo + 1, n - lo, size=n_boot)
        u_hi = u_lo + (1 - u_lo) * rng.beta(1, n - lo - 1, size=n_boot) if lo + 1 < n else u_lo
        at = np.minimum((np.stack([u_lo, u_hi]) * n).astype(np.int64), n - 1)
        return x[at[0]] + (h - lo) * (x[at[1]] - x[at[0]])

    return Statistic(lambda x: float(np.quantile(x, q)), replicates)


def _mean_replicates(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    # Vectorised in chunks of resamples. Runs longer than MAX_RESAMPLE use the m-out-of-n
    # bootstrap: means of m values, their spread around the estimate shrunk by sqrt(m / n),
    # which estimates the same sampling distribution at a bounded cost.
    n = len(x)
    m = min(n, MAX_RESAMPLE)
    out = np.empty(n_boot)
    chunk = max(1, CHUNK_VALUES // m)
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        out[start:stop] = x[rng.integers(0, n, size=(stop - start, m))].mean(axis=1)
    if m < n:
        estimate = x.mean()
        out = estimate + (out - estimate) * np.sqrt(m / n)
    return out


def _share_replicates(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    # The bootstrap of a 0/1 share is exactly binomial: no resampling needed.
    return rng.binomial(len(x), x.mean(), size=n_boot) / len(x)


MEAN = Statistic(lambda x: float(x.mean()), _mean_replicates)
SHARE = Statistic(lambda x: float(x.mean()), _share_replicates)


def _row(
    metric: str,
    a: np.ndarray,
    b: np.ndarray,
    replicates_a: np.ndarray,
    replicates_b: np.ndarray,
    statistic: Statistic,
    lower_is_better: bool,
    confidence: float,
) -> dict[str, object]:
    row: dict[str, object] = {
        "metric": metric,
        "n_a": len(a),
        "n_b": len(b),
        "better_when": "lower" if lower_is_better else "higher",
    }
    est_a, est_b = statistic.estimate(a), statistic.estimate(b)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates_b - replicates_a, [tail, 100 - tail])
    if low > 0 or high < 0:
        went_down = high < 0
        verdict = "better" if went_down == lower_is_better else "worse"
    else:
        verdict = "no significant difference"
    return row | {
        "a": est_a,
        "b": est_b,
        "diff": est_b - est_a,
        "ci_low": float(low),
        "ci_high": float(high),
        "verdict": verdict,
    }


@keyword_only("scores", "n_boot", "confidence", "seed")
def compare_runs(
    calls: CallsLike,
    a: str,
    b: str,
    *,
    scores: ScoresLike = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    where: WhereLike = None,
) -> pl.DataFrame:
    """Run ``b`` against run ``a``, one row per metric, with a bootstrap interval and a verdict.

    Metrics: ``latency_p50_s``, ``latency_p95_s``, ``cost_per_call_usd`` (priced calls),
    ``tokens_per_call`` (input + output, calls that report both), ``error_rate``, and
    ``score:<name>`` (mean) for every score name of the two runs (from ``scores``, or the store's
    when ``calls`` is an observer, DuckDB file or Parquet directory). Columns: ``a``, ``b``,
    ``diff`` (b − a), ``ci_low``/``ci_high`` (percentile bootstrap interval of the difference at
    ``confidence``, runs resampled independently, reproducible for a given ``seed``), ``n_a``,
    ``n_b``, ``better_when`` and ``verdict``: "better" / "worse" when the interval excludes 0
    (better = lower latency, cost, tokens and errors, higher scores), else "no significant
    difference"; "not enough data" when a run has too few values (P95 needs 20). ``where`` (a
    :class:`~llmobs_nb.analytics.Filter` or a dict) narrows the calls first.

    Example:
        >>> compare_runs(obs, "prompt-v1", "prompt-v2")
    """
    if a == b:
        raise ValueError(f"compare_runs needs two different runs, got {a!r} twice")
    needed = ["run", "latency_s", "cost_usd", "input_tokens", "output_tokens", "status"]
    with open_source(calls, scores, where=where) as engine:
        check_columns(engine.columns, needed, "compare_runs")
        present = engine.run(Aggregate(("run",), (Agg("calls", "count_all"),)))["run"].to_list()
        for run in (a, b):
            if run not in present:
                known = sorted(r for r in present if r is not None)
                raise ValueError(f"unknown run {run!r}: the runs in the data are {known}")
        both = (Condition("run", "in", (a, b)),)
        rows = engine.run(Rows(tuple(needed), both))
        scored = engine.run(Scored(("run",), None, both)) if engine.has_scores else None
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} must be between 0 and 1, e.g. 0.95")
    side = {run: rows.filter(pl.col("run") == run) for run in (a, b)}

    def values(frame: pl.DataFrame, expr: pl.Expr) -> np.ndarray:
        # Sorted, so that a seed gives the same resamples whatever order the engine returned.
        return np.sort(frame.select(expr.alias("v")).drop_nulls()["v"].cast(pl.Float64).to_numpy())

    # (metric, values in a, values in b, statistic, lower is better, fewest values it needs)
    metrics: list[tuple[str, np.ndarray, np.ndarray, Statistic, bool, int]] = []
    for name, expr, statistic, minimum in [
        ("latency_p50_s", pl.col("latency_s"), _quantile(0.5), min_calls_for(0.5)),
        ("latency_p95_s", pl.col("latency_s"), _quantile(0.95), min_calls_for(0.95)),
        ("cost_per_call_usd", pl.col("cost_usd"), MEAN, 2),
        ("tokens_per_call", pl.col("input_tokens") + pl.col("output_tokens"), MEAN, 2),
        ("error_rate", (pl.col("status") == "error").cast(pl.Float64), SHARE, 2),
    ]:
        metrics.append(
            (name, values(side[a], expr), values(side[b], expr), statistic, True, minimum)
        )
    if scored is not None:
        for name in sorted(scored["score_name"].unique().drop_nulls().to_list()):
            of = scored.filter(pl.col("score_name") == name)
            va, vb = (np.sort(of.filter(pl.col("run") == r)["value"].to_numpy()) for r in (a, b))
            metrics.append((f"score:{name}", va, vb, MEAN, False, 2))
    rng = np.random.default_rng(seed)
    out: list[dict[str, object]] = []
    for name, va, vb, statistic, lower, minimum in metrics:
        if min(len(va), len(vb)) < minimum:
            out.append(
                {
                    "metric": name,
                    "n_a": len(va),
                    "n_b": len(vb),
                    "better_when": "lower" if lower else "higher",
                    "verdict": "not enough data",
                }
            )
            continue
        boot_a = statistic.replicates(va, n_boot, rng)
        boot_b = statistic.replicates(vb, n_boot, rng)
        out.append(_row(name, va, vb, boot_a, boot_b, statistic, lower, confidence))
    return pl.DataFrame(out, schema=COMPARE_SCHEMA)
