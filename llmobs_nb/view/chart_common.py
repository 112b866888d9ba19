"""Small pieces every chart uses: the empty-chart placeholder, the UTC time axis and the
colour channel of a category."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import polars as pl

from llmobs_nb.view.theme import HEIGHT, WIDTH


def empty_chart(title: str, message: str = "no data for this selection") -> alt.Chart:
    """A chart of the right size that says why there is nothing to draw.

    Example:
        >>> empty_chart("Latency").to_dict()["title"]
        'Latency'
    """
    return (
        alt.Chart(pl.DataFrame({"message": [message]}), title=title)
        .mark_text(fontSize=13, color="#777777")
        .encode(text=alt.Text("message:N"))
        .properties(width=WIDTH, height=HEIGHT // 2)
    )


def time_x(field: str = "bucket", every: str | None = None) -> alt.X:
    """An x channel for UTC time buckets, titled with the bucket length."""
    title = f"time (UTC, per {every})" if every else "time (UTC)"
    return alt.X(f"{field}:T", title=title, scale=alt.Scale(type="utc"))


def category_color(
    by: str, domain: Sequence[str] | None = None, shown: Sequence[str] | None = None
) -> alt.Color:
    """The colour channel of ``by``; with ``domain`` (every value the store holds, in a fixed
    order) a value keeps its colour whatever the filter leaves in the chart, and the legend
    lists only ``shown`` (the values the chart draws).

    Example:
        >>> category_color("model", ["a", "b"], ["b"]).to_dict()["legend"]
        {'values': ['b']}
    """
    if domain:
        legend = alt.Legend(values=list(shown)) if shown is not None else alt.Undefined
        scale = alt.Scale(domain=list(domain))
        return alt.Color(f"{by}:N", title=by, scale=scale, legend=legend)
    return alt.Color(f"{by}:N", title=by)


def utc_tooltip(field: str = "bucket", title: str = "bucket (UTC)") -> alt.Tooltip:
    """A tooltip entry that prints a timestamp in UTC, as the store holds it."""
    return alt.Tooltip(f"utcyearmonthdatehoursminutes({field}):T", title=title)
