"""Cost anomalies: fixed thresholds, a robust detector of unusual hours, a budget forecast."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from llmobs_nb.analytics.columns import check_columns
from llmobs_nb.analytics.convention import keyword_only
from llmobs_nb.analytics.filter import WhereLike
from llmobs_nb.analytics.plan import Agg, Aggregate, Condition, TimeBucket, every_to_us
from llmobs_nb.analytics.source import CallsLike, open_source

HOUR_US = 3600 * 10**6
DAY_US = 24 * HOUR_US
ALERT_SCHEMA = {
    "rule": pl.String(),
    "window_start": pl.Datetime("us", "UTC"),
    "window_end": pl.Datetime("us", "UTC"),
    "user_id": pl.String(),
    "model": pl.String(),
    "value": pl.Float64(),
    "threshold": pl.Float64(),
    "z_score": pl.Float64(),
}


def robust_z(
    values: np.ndarray, window: int, min_history: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Modified z-score of each value against the ``window`` values before it.

    Returns (z, median, scale) with z = (x − median) / scale, scale = 1.4826 × MAD of the
    trailing window (Iglewicz–Hoaglin); when the MAD is 0 the mean absolute deviation × 1.2533
    stands in, and when that is 0 too z is NaN (a flat window says nothing about spread). Values
    with fewer than ``min_history`` values before them get NaN.
    """
    n = len(values)
    z, median, scale = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    first = max(min_history, 1)
    if n <= first:
        return z, median, scale
    padded = np.concatenate([np.full(window, np.nan), values])
    # Row i holds the `window` values before values[i] (NaN where history is missing).
    history = sliding_window_view(padded, window)[first:n]
    med = np.nanmedian(history, axis=1)
    deviation = np.abs(history - med[:, None])
    spread = 1.4826 * np.nanmedian(deviation, axis=1)
    spread = np.where(spread > 0, spread, 1.2533 * np.nanmean(deviation, axis=1))
    median[first:], scale[first:] = med, np.where(spread > 0, spread, np.nan)
    z = (values - median) / scale
    return z, median, scale


@keyword_only(
    "hourly_threshold_usd",
    "user_hourly_threshold_usd",
    "daily_budget_usd",
    "z_threshold",
    "window",
    "min_history",
)
def cost_anomalies(
    calls: CallsLike,
    *,
    hourly_threshold_usd: float = 10.0,
    user_hourly_threshold_usd: float = 5.0,
    daily_budget_usd: float = 100.0,
    z_threshold: float = 6.0,
    window: str | timedelta = "24h",
    min_history: str | timedelta = "12h",
    where: WhereLike = None,
) -> pl.DataFrame:
    """One row per alert on spend, from four rules, oldest first.

    - ``hourly_total``: an hour's total cost above ``hourly_threshold_usd``;
    - ``user_model_hourly``: one user on one model above ``user_hourly_threshold_usd`` in an hour;
    - ``daily_budget``: a UTC day's total above ``daily_budget_usd``;
    - ``hourly_mad``: an hour whose cost is more than ``z_threshold`` robust z-scores above the
      median of the trailing ``window`` (median and MAD; hours without calls count as 0 USD,
      and no verdict before ``min_history`` of history).

    Columns: ``rule``, ``window_start``, ``window_end``, ``user_id`` and ``model`` (for the
    per-user rule), ``value`` (USD), ``threshold`` (USD: the limit, or for ``hourly_mad`` the
    cost at which z reaches ``z_threshold``) and ``z_score`` (``hourly_mad`` only). Unpriced
    calls add nothing: see :func:`cost_breakdown` for how many there are. ``where`` (a
    :class:`~llmobs_nb.analytics.Filter` or a dict) narrows the calls first.

    Example:
        >>> cost_anomalies(obs, hourly_threshold_usd=20, daily_budget_usd=300)
    """
    window_h = _hours(window, "window")
    history_h = _hours(min_history, "min_history")
    with open_source(calls, where=where) as engine:
        check_columns(
            engine.columns, ["cost_usd", "user_id", "model", "start_time"], "cost_anomalies"
        )
        cost = (Agg("value", "sum", "cost_usd"),)
        # Not one row per user, model and hour (9M rows at 10M calls): the hours' totals (the
        # rollups answer them), then the user-model-hours over the limit.
        hourly = engine.run(Aggregate((TimeBucket(HOUR_US),), cost))
        per_user = _user_hours_over(engine, cost, user_hourly_threshold_usd)
    hourly = hourly.filter(pl.col("value").is_not_null()).select("bucket", "value")
    alerts = [
        _over(hourly, "hourly_total", hourly_threshold_usd, "1h"),
        _over(per_user, "user_model_hourly", user_hourly_threshold_usd, "1h"),
        _over(
            hourly.group_by(pl.col("bucket").dt.truncate("1d")).agg(pl.col("value").sum()),
            "daily_budget",
            daily_budget_usd,
            "1d",
        ),
        _mad_alerts(hourly, z_threshold, window_h, history_h),
    ]
    out = pl.concat([a.select(list(ALERT_SCHEMA)).cast(ALERT_SCHEMA) for a in alerts])
    return out.sort(["window_start", "rule", "user_id", "model"], nulls_last=True)


def _user_hours_over(engine: Any, cost: tuple[Agg, ...], limit: float) -> pl.DataFrame:
    """The (user, model, hour) groups whose cost is above ``limit``. When no cost is negative
    (a price times tokens never is), such an hour lies in a (user, model, day) above the
    limit too: those days come from the rollups (``rollup_users``), and only their users'
    and models' calls are grouped by hour — at 100M calls the whole grouping took 88 s and
    5 GiB. The answer is the same either way (``tests/analytics/test_anomalies.py``)."""
    over = ("value", limit)
    keys = ("user_id", "model", TimeBucket(HOUR_US))
    lowest = engine.run(Aggregate((), (Agg("lowest", "min", "cost_usd"),)))["lowest"]
    if lowest.is_empty() or lowest[0] is None or lowest[0] < 0:
        return engine.run(Aggregate(keys, cost, above=over))
    days = engine.run(Aggregate(("user_id", "model", TimeBucket(DAY_US)), cost, above=over))
    if days.is_empty():
        return days
    narrow = [Condition("model", "in", tuple(days["model"].drop_nulls().unique().sort()))]
    if days["user_id"].null_count() == 0:  # NULL is in no IN list: then every user is asked
        narrow.append(Condition("user_id", "in", tuple(days["user_id"].unique().sort())))
    if days["model"].null_count():
        narrow = narrow[1:]
    return engine.narrowed(narrow).run(Aggregate(keys, cost, above=over))


def _hours(value: str | timedelta, name: str) -> int:
    us = every_to_us(value) or 0
    if us % HOUR_US:
        raise ValueError(f"{name}={value!r} must be a whole number of hours, e.g. '24h' or '7d'")
    return us // HOUR_US


def _over(frame: pl.DataFrame, rule: str, threshold: float, length: str) -> pl.DataFrame:
    return frame.filter(pl.col("value") > threshold).select(
        pl.lit(rule).alias("rule"),
        pl.col("bucket").alias("window_start"),
        pl.col("bucket").dt.offset_by(length).alias("window_end"),
        *(
            pl.col(c) if c in frame.columns else pl.lit(None, pl.String).alias(c)
            for c in ("user_id", "model")
        ),
        "value",
        pl.lit(threshold, pl.Float64).alias("threshold"),
        pl.lit(None, pl.Float64).alias("z_score"),
    )


def _mad_alerts(
    hourly: pl.DataFrame, z_threshold: float, window: int, history: int
) -> pl.DataFrame:
    if hourly.is_empty():
        return pl.DataFrame(schema=ALERT_SCHEMA)
    # Every hour between the first and the last, with 0 USD where nothing was spent.
    hours = pl.DataFrame(
        {
            "bucket": pl.datetime_range(
                hourly["bucket"].min(), hourly["bucket"].max(), "1h", eager=True
            )
        }
    )
    series = hours.join(hourly, on="bucket", how="left").with_columns(pl.col("value").fill_null(0))
    values = series["value"].to_numpy()
    z, median, scale = robust_z(values, window, history)
    series = series.with_columns(
        pl.Series("z_score", z).fill_nan(None),
        pl.Series("threshold", median + z_threshold * scale).fill_nan(None),
    )
    return series.filter(pl.col("z_score") > z_threshold).select(
        pl.lit("hourly_mad").alias("rule"),
        pl.col("bucket").alias("window_start"),
        pl.col("bucket").dt.offset_by("1h").alias("window_end"),
        pl.lit(None, pl.String).alias("user_id"),
        pl.lit(None, pl.String).alias("model"),
        "value",
        "threshold",
        "z_score",
    )


@keyword_only("daily_budget_usd", "monthly_budget_usd", "now")
def budget_forecast(
    calls: CallsLike,
    *,
    daily_budget_usd: float = 100.0,
    monthly_budget_usd: float | None = None,
    now: datetime | None = None,
    where: WhereLike = None,
) -> pl.DataFrame:
    """Today's and this month's spend so far, projected to the end of the period at run rate.

    Returns two rows (``period`` ``"day"`` and ``"month"``, UTC) with ``period_start``,
    ``period_end``, ``spent_usd`` (priced calls), ``unpriced_calls``, ``elapsed_fraction``,
    ``projected_usd`` (spent / elapsed fraction), ``budget_usd`` and ``over_budget`` (projected
    above budget). ``now`` defaults to the start of the latest call, so history can be replayed;
    the monthly budget defaults to the daily one × the days of the month. ``where`` (a
    :class:`~llmobs_nb.analytics.Filter` or a dict) narrows the calls first.

    Example:
        >>> budget_forecast(obs, daily_budget_usd=100)
    """
    with open_source(calls, where=where) as engine:
        check_columns(engine.columns, ["cost_usd", "start_time"], "budget_forecast")
        if now is None:
            latest = engine.run(Aggregate((), (Agg("t", "max", "start_time"),)))
            if latest.is_empty():
                return pl.DataFrame(schema=FORECAST_SCHEMA)
            now = latest["t"][0]
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        now = now.astimezone(UTC)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month = day.replace(day=1)
        days_in_month = calendar.monthrange(now.year, now.month)[1]
        periods = [
            ("day", day, day + timedelta(days=1), daily_budget_usd),
            (
                "month",
                month,
                month + timedelta(days=days_in_month),
                monthly_budget_usd
                if monthly_budget_usd is not None
                else daily_budget_usd * days_in_month,
            ),
        ]
        rows = []
        for period, start, end, budget in periods:
            spent = engine.run(
                Aggregate(
                    (),
                    (
                        Agg("spent", "sum", "cost_usd"),
                        Agg("priced", "count", "cost_usd"),
                        Agg("calls", "count_all"),
                    ),
                    (Condition("start_time", ">=", start), Condition("start_time", "<=", now)),
                )
            )
            total = float(spent["spent"][0] or 0) if spent.height else 0.0
            unpriced = int(spent["calls"][0] - spent["priced"][0]) if spent.height else 0
            elapsed = max((now - start) / (end - start), 1e-9)
            rows.append(
                {
                    "period": period,
                    "period_start": start,
                    "period_end": end,
                    "spent_usd": total,
                    "unpriced_calls": unpriced,
                    "elapsed_fraction": elapsed,
                    "projected_usd": total / elapsed,
                    "budget_usd": float(budget),
                    "over_budget": total / elapsed > budget,
                }
            )
    return pl.DataFrame(rows, schema=FORECAST_SCHEMA)


FORECAST_SCHEMA = {
    "period": pl.String(),
    "period_start": pl.Datetime("us", "UTC"),
    "period_end": pl.Datetime("us", "UTC"),
    "spent_usd": pl.Float64(),
    "unpriced_calls": pl.Int64(),
    "elapsed_fraction": pl.Float64(),
    "projected_usd": pl.Float64(),
    "budget_usd": pl.Float64(),
    "over_budget": pl.Boolean(),
}
