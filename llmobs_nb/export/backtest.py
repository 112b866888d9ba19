"""Backtest the generated Prometheus alert rules over stored calls.

:func:`backtest_alert_rules` replays the rules of :func:`llmobs_nb.export.rules.alert_rules` (same
thresholds, windows and ``for`` durations) over a polars frame with the ``llm_calls`` columns,
evaluating every ``step`` as Prometheus does every ``evaluation_interval``. It answers "how often
would these alerts have fired last month" before the rules go to production.
The pipeline's and the agents' alerts (:func:`~llmobs_nb.export.rules.pipeline_rules`,
:func:`~llmobs_nb.export.rules.agent_rules`) are not replayed: no model call shows them.

Where the backtest and Prometheus differ, on purpose:

- latency P95 is the exact percentile of the calls in the window (numpy's linear
  interpolation); Prometheus's ``histogram_quantile`` interpolates inside the bucket that holds
  the 95th percentile (0.5, 1, 2.5, 5, 10, 30, 60 s), so near a threshold the two can disagree
  by up to that bucket's width;
- counts and sums are exact over the window ``(t - window, t]``; Prometheus's ``rate`` and
  ``increase`` extrapolate from scraped samples.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import polars as pl

from llmobs_nb.export.rules import AlertRule, alert_rules, duration_seconds

EPISODE_SCHEMA = {
    "alert": pl.String,
    "severity": pl.String,
    "fired_at": pl.Datetime("us", "UTC"),
    "resolved_at": pl.Datetime("us", "UTC"),
    "peak": pl.Float64,
    "threshold": pl.Float64,
}


def _eval_time(col: str, step_us: int) -> pl.Expr:
    # A sample at time t is first seen by the evaluation at the next step boundary at or after t.
    t = pl.col(col).dt.epoch("us")
    return ((t + step_us - 1) // step_us * step_us).alias("eval_us")


def _events(frame: pl.DataFrame | pl.LazyFrame, time_col: str, cols: list[str]) -> pl.DataFrame:
    lazy = frame.lazy()
    names = lazy.collect_schema().names()
    if time_col not in names and time_col == "end_time":
        time_col = "start_time"
    missing = [c for c in [time_col, *cols] if c not in names]
    if missing:
        raise ValueError(
            f"frame has no column(s) {missing}: pass a frame with the llm_calls columns "
            f"(obs.calls()) or, for scores, the scores table (obs.scores())"
        )
    return lazy.select(pl.col(time_col).alias("time"), *cols).collect()


def _binned_ratio(
    events: pl.DataFrame,
    grid: pl.DataFrame,
    numerator: pl.Expr,
    denominator: pl.Expr | None,
    window_steps: int,
    step_us: int,
) -> pl.Series:
    bins = events.group_by(_eval_time("time", step_us)).agg(
        numerator.alias("num"),
        (denominator if denominator is not None else pl.lit(1)).alias("den"),
    )
    rolled = (
        grid.join(bins, on="eval_us", how="left")
        .sort("eval_us")
        .select(
            num=pl.col("num").fill_null(0).rolling_sum(window_steps, min_samples=1),
            den=pl.col("den").fill_null(0).rolling_sum(window_steps, min_samples=1),
        )
    )
    if denominator is None:
        return rolled["num"].cast(pl.Float64)
    return rolled.select(
        pl.when(pl.col("den") > 0).then(pl.col("num") / pl.col("den")).otherwise(None)
    ).to_series()


def _windowed_p95(
    events: pl.DataFrame, grid: pl.DataFrame, window_steps: int, step_us: int
) -> pl.Series:
    # Each call belongs to the window_steps evaluations that follow it; exploding keeps the
    # percentile exact (no merging of per-bin sketches).
    copies = (
        events.filter(pl.col("latency_s").is_not_null())
        .select(_eval_time("time", step_us), "latency_s")
        .with_columns(pl.int_ranges(0, window_steps).alias("k"))
        .explode("k")
        .select(eval_us=pl.col("eval_us") + pl.col("k") * step_us, latency_s="latency_s")
    )
    p95 = copies.group_by("eval_us").agg(pl.col("latency_s").quantile(0.95, "linear").alias("v"))
    return grid.join(p95, on="eval_us", how="left").sort("eval_us")["v"]


def _episodes(rule: AlertRule, times: list[datetime], values: list[float | None]) -> list[dict]:
    hold_s = duration_seconds(rule.for_)
    breached: Callable[[float], bool] = (
        (lambda v: v > rule.threshold) if rule.op == ">" else (lambda v: v < rule.threshold)
    )
    worse = max if rule.op == ">" else min
    episodes: list[dict] = []
    active_since = fired_at = peak = None
    for t, v in zip(times, values, strict=True):
        if v is not None and breached(v):
            if active_since is None:
                active_since, peak = t, v
            peak = worse(peak, v)
            if fired_at is None and (t - active_since).total_seconds() >= hold_s:
                fired_at = t
            continue
        if fired_at is not None:
            episodes.append({"fired_at": fired_at, "resolved_at": t, "peak": peak})
        active_since = fired_at = peak = None
    if fired_at is not None:
        episodes.append({"fired_at": fired_at, "resolved_at": None, "peak": peak})
    return [
        dict(
            alert=rule.name,
            severity=rule.severity,
            threshold=float(rule.threshold),
            **e,
        )
        for e in episodes
    ]


def backtest_alert_rules(
    calls: pl.DataFrame | pl.LazyFrame,
    scores: pl.DataFrame | pl.LazyFrame | None = None,
    *,
    latency_p95_s: float = 10,
    error_rate: float = 0.05,
    cost_per_hour_usd: float = 50,
    quality_min: float = 0.7,
    quality_window: str = "1h",
    step: str = "1m",
) -> pl.DataFrame:
    """Replay the alert rules over ``calls`` (and ``scores``); return one row per alert episode.

    Columns: ``alert``, ``severity``, ``fired_at`` (first evaluation at which the alert fired,
    its ``for`` duration elapsed), ``resolved_at`` (first evaluation at which the condition no
    longer held; null if still firing at the end of the data), ``peak`` (the worst value while
    active: highest for ``>`` rules, lowest for quality) and ``threshold``. Calls count at their
    ``end_time``, scores at their ``created_at``; ``scores`` needs ``value`` and ``created_at``
    (filter the scores table to the score names you export as ``llm_quality_score``).
    Rules are evaluated every ``step`` from the first to the last event.

    Example:
        >>> from datetime import UTC, datetime, timedelta
        >>> t0 = datetime(2025, 3, 1, tzinfo=UTC)
        >>> calls = pl.DataFrame({"end_time": [t0 + timedelta(minutes=i) for i in range(30)],
        ...     "latency_s": [30.0] * 30, "status": ["ok"] * 30, "cost_usd": [0.01] * 30})
        >>> backtest_alert_rules(calls)["alert"].to_list()  # P95 30 s > 10 s for 5 minutes
        ['LLMHighLatency']
    """
    step_us = duration_seconds(step) * 1_000_000
    rules = {
        r.name: r
        for r in alert_rules(
            latency_p95_s=latency_p95_s,
            error_rate=error_rate,
            cost_per_hour_usd=cost_per_hour_usd,
            quality_min=quality_min,
            quality_window=quality_window,
        )
    }
    for rule in rules.values():
        if duration_seconds(rule.window) % (step_us // 1_000_000):
            raise ValueError(f"step {step!r} must divide {rule.name}'s window {rule.window!r}")
    call_events = _events(calls, "end_time", ["latency_s", "status", "cost_usd"])
    score_events = None if scores is None else _events(scores, "created_at", ["value"])
    times = [e["time"] for e in (call_events, score_events) if e is not None and len(e)]
    if not times:
        return pl.DataFrame(schema=EPISODE_SCHEMA)
    bounds = pl.concat([t.dt.epoch("us") for t in times])
    first = -(-bounds.min() // step_us) * step_us  # type: ignore[operator]
    last = -(-bounds.max() // step_us) * step_us  # type: ignore[operator]
    grid = pl.DataFrame({"eval_us": pl.int_range(first, last + step_us, step_us, eager=True)})

    def steps(rule: AlertRule) -> int:
        return duration_seconds(rule.window) * 1_000_000 // step_us

    measures = {
        "LLMHighLatency": _windowed_p95(call_events, grid, steps(rules["LLMHighLatency"]), step_us),
        "LLMHighErrorRate": _binned_ratio(
            call_events,
            grid,
            (pl.col("status") == "error").sum(),
            pl.len(),
            steps(rules["LLMHighErrorRate"]),
            step_us,
        ),
        "LLMCostBudgetAlert": _binned_ratio(
            call_events,
            grid,
            pl.col("cost_usd").sum(),
            None,
            steps(rules["LLMCostBudgetAlert"]),
            step_us,
        ),
    }
    if score_events is not None:
        measures["LLMQualityDegradation"] = _binned_ratio(
            score_events,
            grid,
            pl.col("value").sum(),
            pl.col("value").is_not_null().sum(),
            steps(rules["LLMQualityDegradation"]),
            step_us,
        )
    eval_times = (
        grid.select(pl.from_epoch("eval_us", "us").dt.replace_time_zone("UTC"))
        .to_series()
        .to_list()
    )
    rows = [
        episode
        for name, values in measures.items()
        for episode in _episodes(rules[name], eval_times, values.to_list())
    ]
    return pl.DataFrame(rows, schema=EPISODE_SCHEMA).sort("fired_at", "alert")


SUMMARY_SCHEMA = {
    "rule": pl.String,
    "severity": pl.String,
    "fires": pl.UInt32,
    "minutes_firing": pl.Float64,
    "first_fired": pl.Datetime("us", "UTC"),
    "last_fired": pl.Datetime("us", "UTC"),
    "flapping": pl.UInt32,
    "still_firing": pl.Boolean,
    "meaning": pl.String,
}


def _meaning(fires: int, minutes: float, flapping: int, refire_within: str) -> str:
    if fires == 0:
        return "never fired at these thresholds"
    if 3 * flapping >= fires:
        return (
            f"flapping: {flapping} of its {fires} alerts came back within {refire_within} of "
            f"resolving; raise its threshold or its 'for' (how long the condition must last "
            f"before it fires) before paging anyone on it"
        )
    times = "once" if fires == 1 else f"{fires} times"
    return f"fired {times}, {minutes:g} minutes in all; read each episode before deploying it"


def summarise_backtest(
    episodes: pl.DataFrame,
    *,
    rules: list[str] | None = None,
    refire_within: str = "30m",
) -> pl.DataFrame:
    """Summarise :func:`backtest_alert_rules`'s episodes: one row per rule, noisiest first.

    Columns:

    - ``rule``, ``severity``;
    - ``fires``: separate firing episodes (each would have paged or notified once);
    - ``minutes_firing``: total minutes between ``fired_at`` and ``resolved_at``; an episode
      still firing at the end of the data counts up to the latest time in ``episodes``;
    - ``first_fired``, ``last_fired``: ``fired_at`` of the first and last episode;
    - ``flapping``: episodes that fired within ``refire_within`` of the same rule's previous
      episode resolving: the alert cleared and came back, notifying again for what is likely one
      problem;
    - ``still_firing``: whether the last episode had not resolved at the end of the data;
    - ``meaning``: the row in words. A rule whose flapping episodes are a third or more of its
      fires is called flapping (raise its threshold or lengthen its ``for``).

    ``rules`` lists the rules to report, in addition to those in ``episodes``, so rules that
    never fired show ``fires == 0``; by default the four backtested rules of
    :func:`~llmobs_nb.export.rules.alert_rules` (LLMQualityDegradation is only replayed when
    the backtest was given scores). Rows are sorted by ``fires``, descending, then by ``rule``.

    Example:
        >>> from datetime import UTC, datetime, timedelta
        >>> t0 = datetime(2025, 3, 1, tzinfo=UTC)
        >>> episodes = pl.DataFrame({"alert": ["LLMHighErrorRate"] * 2,
        ...     "severity": ["critical"] * 2, "fired_at": [t0, t0 + timedelta(minutes=10)],
        ...     "resolved_at": [t0 + timedelta(minutes=3), t0 + timedelta(minutes=12)],
        ...     "peak": [0.2, 0.1], "threshold": [0.05, 0.05]}, schema=EPISODE_SCHEMA)
        >>> summarise_backtest(episodes).select("rule", "fires", "flapping").row(0)
        ('LLMHighErrorRate', 2, 1)
    """
    refire_us = duration_seconds(refire_within) * 1_000_000
    names = [r.name for r in alert_rules()] if rules is None else list(rules)
    severities = {r.name: r.severity for r in alert_rules()}
    end = episodes.select(pl.max_horizontal(pl.col("fired_at").max(), pl.col("resolved_at").max()))
    per_rule = (
        episodes.sort("alert", "fired_at")
        .with_columns(
            until=pl.col("resolved_at").fill_null(
                end.to_series().cast(EPISODE_SCHEMA["resolved_at"])
            ),
            previous_resolved=pl.col("resolved_at").shift().over("alert"),
        )
        .group_by("alert")
        .agg(
            severity=pl.col("severity").first(),
            fires=pl.len(),
            minutes_firing=(pl.col("until") - pl.col("fired_at")).dt.total_seconds().sum() / 60,
            first_fired=pl.col("fired_at").min(),
            last_fired=pl.col("fired_at").max(),
            flapping=(
                (pl.col("fired_at") - pl.col("previous_resolved")).dt.total_microseconds()
                <= refire_us
            ).sum(),
            still_firing=pl.col("resolved_at").last().is_null(),
        )
    )
    rows = {r["alert"]: r for r in per_rule.to_dicts()}
    out = []
    for name in dict.fromkeys([*names, *rows]):
        row = rows.get(name) or {
            "severity": severities.get(name),
            "fires": 0,
            "minutes_firing": 0.0,
            "flapping": 0,
            "still_firing": False,
        }
        minutes = float(row["minutes_firing"])
        out.append(
            {
                "rule": name,
                "severity": row["severity"],
                "fires": row["fires"],
                "minutes_firing": minutes,
                "first_fired": row.get("first_fired"),
                "last_fired": row.get("last_fired"),
                "flapping": row["flapping"],
                "still_firing": row["still_firing"],
                "meaning": _meaning(row["fires"], minutes, row["flapping"], refire_within),
            }
        )
    return pl.DataFrame(out, schema=SUMMARY_SCHEMA).sort(
        ["fires", "rule"], descending=[True, False]
    )
