"""Errors: the share of calls that failed, per error type."""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from llmobs_nb import analytics
from llmobs_nb.view.chart_common import empty_chart
from llmobs_nb.view.chart_display import draws_offline
from llmobs_nb.view.theme import ERROR_COLOR


@draws_offline
def error_chart(calls: Any, *, by: str | None = None) -> alt.Chart:
    """Error rate per ``error_type`` as bars (one colour per ``by`` value when given); the
    title carries the overall rate.

    Example:
        >>> error_chart(obs, by="model")   # doctest: +SKIP
    """
    dims = [by] if by else []
    found = analytics.error_rates(calls, by=dims)
    overall = analytics.error_rates(calls, by_error_type=False)
    if overall.height == 0:
        return empty_chart("Error rate")
    total = overall.row(0, named=True)
    title = f"Error rate by error type — {total['error_rate']:.2%} of {total['calls']:,} calls"
    errors = found.filter(pl.col("error_type").is_not_null())
    if errors.height == 0:
        return empty_chart(title, "no errors in this selection")
    encoding: dict[str, Any] = {
        "x": alt.X("error_rate:Q", title="share of calls", axis=alt.Axis(format="%")),
        "y": alt.Y("error_type:N", sort="-x", title=None),
        "color": alt.Color(f"{by}:N", title=by) if by else alt.ColorValue(ERROR_COLOR),
        "tooltip": [
            *([alt.Tooltip(f"{by}:N")] if by else []),
            alt.Tooltip("error_type:N"),
            alt.Tooltip("errors:Q"),
            alt.Tooltip("calls:Q"),
            alt.Tooltip("error_rate:Q", format=".2%", title="error rate"),
        ],
    }
    if by:
        encoding["yOffset"] = alt.YOffset(f"{by}:N")
    return alt.Chart(errors, title=title).mark_bar().encode(**encoding)
