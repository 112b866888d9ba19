"""Tokens and money: token rate, hourly cost stacked by model with a budget, top users."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import polars as pl

from llmobs_nb import analytics
from llmobs_nb.analytics.source import every_to_us
from llmobs_nb.view.buckets import ask_capped
from llmobs_nb.view.chart_common import category_color, empty_chart, time_x, utc_tooltip
from llmobs_nb.view.chart_display import draws_offline
from llmobs_nb.view.theme import ALERT_COLOR

# LLMCostBudgetAlert of docs/design.md §1 (Export, Alerts): more than 50 USD in an hour.
HOURLY_BUDGET_USD = 50.0
_HOUR_US = 3600 * 10**6


@draws_offline
def token_rate_chart(calls: Any, *, every: str | None = None) -> alt.Chart | alt.LayerChart:
    """Tokens per minute over time: input, output and cached input as three lines.

    Example:
        >>> token_rate_chart(obs, every="1h")   # doctest: +SKIP
    """
    found, used = ask_capped(
        lambda bucket: analytics.token_usage(calls, by=[], every=bucket), calls, every
    )
    title = "Token rate"
    if found.height == 0:
        return empty_chart(title)
    minutes = (every_to_us(used) or 1) / 60e6
    kinds = {
        "input": "input_tokens",
        "output": "output_tokens",
        "cached input": "cached_input_tokens",
    }
    rates = found.select(
        "bucket", "calls", *[(pl.col(c) / minutes).alias(label) for label, c in kinds.items()]
    )
    return (
        alt.Chart(rates, title=f"{title} (tokens per minute, per {used})")
        .transform_fold(list(kinds), as_=["tokens", "per_minute"])
        .mark_line()
        .encode(
            x=time_x("bucket", used),
            y=alt.Y("per_minute:Q", title="tokens / minute"),
            color=alt.Color("tokens:N", sort=list(kinds), title="tokens"),
            tooltip=[
                utc_tooltip(),
                alt.Tooltip("tokens:N"),
                alt.Tooltip("per_minute:Q", format=",.0f", title="per minute"),
                alt.Tooltip("calls:Q"),
            ],
        )
    )


OFF_SCALE = 3.0
"""The budget line is drawn when it is at most this many times the busiest bucket's cost."""


@draws_offline
def cost_chart(
    calls: Any,
    *,
    by: str = "model",
    every: str | None = "1h",
    budget_usd_per_hour: float | None = HOURLY_BUDGET_USD,
    domain: Sequence[str] | None = None,
) -> alt.Chart | alt.LayerChart:
    """Cost per bucket (hourly by default) as bars stacked by ``by``, with the budget as a line.

    The budget is per hour; with a coarser bucket it is scaled to the bucket's length. Calls
    without a price add nothing to the bars (their count shows in the tooltip). ``domain``:
    every ``by`` value in a fixed order, so a value keeps its colour across filters.

    Example:
        >>> cost_chart(obs, budget_usd_per_hour=20)   # doctest: +SKIP
    """
    found, used = ask_capped(
        lambda bucket: analytics.cost_breakdown(calls, by=[by], every=bucket), calls, every
    )
    found = found.filter(pl.col("cost_usd").is_not_null())
    title = f"Cost per {used}, by {by}"
    if found.height == 0:
        return empty_chart(title, "no priced calls for this selection")
    bars = (
        alt.Chart(found, title=title)
        .mark_bar()
        .encode(
            x=time_x("bucket", used),
            y=alt.Y("sum(cost_usd):Q", title="cost (USD)", stack="zero"),
            color=category_color(by, domain, sorted(found[by].drop_nulls().unique())),
            tooltip=[
                utc_tooltip(),
                alt.Tooltip(f"{by}:N"),
                alt.Tooltip("cost_usd:Q", format="$,.2f", title="cost"),
                alt.Tooltip("calls:Q"),
                alt.Tooltip("unpriced_calls:Q", title="unpriced calls"),
            ],
        )
    )
    if budget_usd_per_hour is None:
        return bars
    budget = budget_usd_per_hour * (every_to_us(used) or _HOUR_US) / _HOUR_US
    peak = found.group_by("bucket").agg(pl.col("cost_usd").sum())["cost_usd"].max()
    if isinstance(peak, float) and budget > OFF_SCALE * peak:
        # A rule far above the bars would squash them flat: say it in words instead.
        return bars.properties(
            title=alt.TitleParams(
                title,
                subtitle=f"budget ${budget:,.2f} per {used} is off the scale: "
                f"the busiest {used} spent {peak / budget:.0%} of it",
            )
        )
    line = (
        alt.Chart(pl.DataFrame({"budget": [budget], "label": [f"budget ${budget:,.0f}"]}))
        .mark_rule(color=ALERT_COLOR, strokeDash=[6, 3], strokeWidth=1.5)
        .encode(y="budget:Q", tooltip=alt.Tooltip("label:N", title="budget"))
    )
    return alt.layer(bars, line)


@draws_offline
def top_users_chart(calls: Any, *, n: int = 10, by: str = "user_id") -> alt.Chart:
    """The ``n`` users (or traces, runs… with ``by``) that cost the most, as horizontal bars.

    Example:
        >>> top_users_chart(obs, n=5)   # doctest: +SKIP
    """
    found = analytics.top_costs(calls, by=by, n=n)
    title = f"Top {n} by cost ({by})"
    if found.height == 0:
        return empty_chart(title, "no priced calls for this selection")
    return (
        alt.Chart(found, title=title)
        .mark_bar()
        .encode(
            x=alt.X("cost_usd:Q", title="cost (USD)"),
            y=alt.Y(f"{by}:N", sort="-x", title=None),
            tooltip=[
                alt.Tooltip(f"{by}:N"),
                alt.Tooltip("cost_usd:Q", format="$,.2f", title="cost"),
                alt.Tooltip("calls:Q"),
                alt.Tooltip("unpriced_calls:Q", title="unpriced calls"),
            ],
        )
        .properties(height=max(80, 22 * found.height))
    )
