"""Tokens and money: token rate, hourly cost stacked by model with a budget (and, on request,
each model's total beside it), top users."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import polars as pl

from llmobs_nb import analytics
from llmobs_nb.analytics.source import every_to_us
from llmobs_nb.view.buckets import ask_capped
from llmobs_nb.view.chart_common import (
    category_color,
    empty_chart,
    time_x,
    utc_tooltip,
    with_utc_text,
)
from llmobs_nb.view.chart_display import draws_offline
from llmobs_nb.view.html import format_cost
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
    rates = with_utc_text(
        found.select(
            "bucket", "calls", *[(pl.col(c) / minutes).alias(label) for label, c in kinds.items()]
        )
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


UNPRICED_WHY = "no known price: left out, not counted as $0"
"""What the cost chart says of a group none of whose calls has a price."""


def unpriced_groups(found: pl.DataFrame, by: str) -> pl.DataFrame:
    """The ``by`` values of ``found`` (a :func:`~llmobs_nb.analytics.cost_breakdown` result)
    none of whose calls has a price, with their ``calls``, most calls first.

    Example:
        >>> costs = pl.DataFrame({"model": ["gpt-4o", "llama"], "calls": [3, 2],
        ...                       "priced_calls": [3, 0]})
        >>> unpriced_groups(costs, "model")["model"].to_list()
        ['llama']
    """
    return (
        found.group_by(by)
        .agg(pl.col("calls").sum(), pl.col("priced_calls").sum())
        .filter((pl.col("priced_calls") == 0) & pl.col(by).is_not_null())
        .sort(["calls", by], descending=[True, False])
        .select(by, "calls")
    )


def unpriced_note(found: pl.DataFrame, by: str) -> str | None:
    """One line naming the ``by`` values without any price (see :func:`unpriced_groups`) and
    why they are missing from a cost chart; ``None`` when every group has a price.

    Example:
        >>> costs = pl.DataFrame({"model": ["gpt-4o", "llama"], "calls": [3, 2_000],
        ...                       "priced_calls": [3, 0]})
        >>> unpriced_note(costs, "model")
        'unpriced: llama (2,000 calls): no known price: left out, not counted as $0'
    """
    names = _unpriced_names(found, by)
    return None if names is None else f"unpriced: {names}: {UNPRICED_WHY}"


def _unpriced_names(found: pl.DataFrame, by: str) -> str | None:
    missing = unpriced_groups(found, by)
    if missing.height == 0:
        return None
    return ", ".join(f"{row[by]} ({row['calls']:,} calls)" for row in missing.iter_rows(named=True))


def _totals_chart(found: pl.DataFrame, by: str, color: alt.Color) -> alt.LayerChart:
    """Each ``by`` value's total cost as a sorted horizontal bar labelled with its amount, so a
    small one stays readable beside large ones; a value without any price is a labelled row
    with no bar."""
    totals = (
        found.group_by(by)
        .agg(
            pl.col("cost_usd").sum().alias("cost_usd"),
            pl.col("calls").sum(),
            pl.col("priced_calls").sum(),
            pl.col("unpriced_calls").sum(),
        )
        .filter(pl.col(by).is_not_null())
        .with_columns(
            pl.when(pl.col("priced_calls") > 0).then("cost_usd").alias("cost_usd")
        )  # a group without any price has no total, not $0
        .sort(["cost_usd", by], descending=[True, False], nulls_last=True)
    )
    order = totals[by].to_list()
    labels = totals.select(by, pl.col("cost_usd").fill_null(0.0).alias("x")).with_columns(
        pl.Series(
            "label",
            [
                format_cost(cost) if cost is not None else f"no price ({calls:,} calls)"
                for cost, calls in zip(totals["cost_usd"], totals["calls"], strict=True)
            ],
            dtype=pl.String,
        )
    )
    y = alt.Y(f"{by}:N", sort=order, title=None)
    tooltip = [
        alt.Tooltip(f"{by}:N"),
        alt.Tooltip("cost_usd:Q", format="$,.2f", title="cost"),
        alt.Tooltip("calls:Q"),
        alt.Tooltip("unpriced_calls:Q", title="unpriced calls"),
    ]
    bars = (
        alt.Chart(totals.filter(pl.col("cost_usd").is_not_null()))
        .mark_bar()
        .encode(x=alt.X("cost_usd:Q", title="total cost (USD)"), y=y, color=color, tooltip=tooltip)
    )
    text = (
        alt.Chart(labels)
        .mark_text(align="left", baseline="middle", dx=4, color="#333333")
        .encode(x=alt.X("x:Q"), y=y, text=alt.Text("label:N"))
    )
    names = _unpriced_names(found, by)
    title: str | alt.TitleParams = f"Total cost by {by}"
    if names is not None:
        title = alt.TitleParams(title, subtitle=[f"unpriced: {names}", UNPRICED_WHY])
    return alt.layer(bars, text).properties(title=title, height=max(80, 24 * len(order)))


@draws_offline
def cost_chart(
    calls: Any,
    *,
    by: str = "model",
    every: str | None = "1h",
    budget_usd_per_hour: float | None = HOURLY_BUDGET_USD,
    domain: Sequence[str] | None = None,
    totals: bool = False,
) -> alt.Chart | alt.LayerChart | alt.HConcatChart:
    """Cost per bucket (hourly by default) as bars stacked by ``by``, with the budget as a line.

    The budget is per hour; with a coarser bucket it is scaled to the bucket's length. Calls
    without a price add nothing to the bars (their count shows in the tooltip); a ``by`` value
    none of whose calls has a price is named in a subtitle (:func:`unpriced_note`).
    ``domain``: every ``by`` value in a fixed order, so a value keeps its colour across
    filters. ``totals=True`` draws each value's total beside the bars, sorted and labelled
    with its amount: a model costing a hundredth of the others, a sliver in the stack, is a
    readable bar there, and an unpriced one a row that says so.

    Example:
        >>> cost_chart(obs, budget_usd_per_hour=20, totals=True)   # doctest: +SKIP
    """
    asked, used = ask_capped(
        lambda bucket: analytics.cost_breakdown(calls, by=[by], every=bucket), calls, every
    )
    found = asked.filter(pl.col("cost_usd").is_not_null())
    title = f"Cost per {used}, by {by}"
    if found.height == 0:
        return empty_chart(title, "no priced calls for this selection")
    # With the totals beside, the note is theirs (an unpriced row says so there).
    subtitle = [None if totals else unpriced_note(asked, by)]
    color = category_color(by, domain, sorted(found[by].drop_nulls().unique()))
    bars = (
        alt.Chart(with_utc_text(found))
        .mark_bar()
        .encode(
            x=time_x("bucket", used),
            y=alt.Y("sum(cost_usd):Q", title="cost (USD)", stack="zero"),
            color=color,
            tooltip=[
                utc_tooltip(),
                alt.Tooltip(f"{by}:N"),
                alt.Tooltip("cost_usd:Q", format="$,.2f", title="cost"),
                alt.Tooltip("calls:Q"),
                alt.Tooltip("unpriced_calls:Q", title="unpriced calls"),
            ],
        )
    )
    chart: alt.Chart | alt.LayerChart = bars
    if budget_usd_per_hour is not None:
        budget = budget_usd_per_hour * (every_to_us(used) or _HOUR_US) / _HOUR_US
        peak = found.group_by("bucket").agg(pl.col("cost_usd").sum())["cost_usd"].max()
        if isinstance(peak, float) and budget > OFF_SCALE * peak:
            # A rule far above the bars would squash them flat: say it in words instead.
            subtitle.insert(
                0,
                f"budget ${budget:,.2f} per {used} is off the scale: "
                f"the busiest {used} spent {peak / budget:.0%} of it",
            )
        else:
            line = (
                alt.Chart(pl.DataFrame({"budget": [budget], "label": [f"budget ${budget:,.0f}"]}))
                .mark_rule(color=ALERT_COLOR, strokeDash=[6, 3], strokeWidth=1.5)
                .encode(y=alt.Y("budget:Q"), tooltip=alt.Tooltip("label:N", title="budget"))
            )
            chart = alt.layer(bars, line)
    said = [line for line in subtitle if line]
    chart = chart.properties(
        title=alt.TitleParams(title, subtitle=" · ".join(said)) if said else title
    )
    if not totals:
        return chart
    return alt.hconcat(chart, _totals_chart(asked, by, color)).resolve_scale(color="shared")


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
