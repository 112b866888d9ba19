"""Latency and time to first token over time: one percentile (P95 by default), a line per
model, timeouts clipped at a robust axis cap and marked, a legend that highlights a model.

The axis cap (:func:`axis_cap`) is a display rule over the values the chart plots, so that a
60 s timeout does not flatten every other line to the floor; nothing is dropped: a value above
the cap is drawn at the cap as a triangle, its true value in the tooltip, and the subtitle
counts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import polars as pl

from llmobs_nb import analytics
from llmobs_nb.analytics import quantile_column
from llmobs_nb.view import chart_display
from llmobs_nb.view.buckets import MAX_ROWS, ask_capped
from llmobs_nb.view.chart_common import (
    category_color,
    empty_chart,
    time_x,
    utc_tooltip,
    with_utc_text,
)
from llmobs_nb.view.chart_display import draws_offline, offline_chart

# Enough calls per bucket (over all groups) that a few models each get a P95 (20 calls).
CALLS_PER_BUCKET = 500
#: The legend-bound selection (``highlight_latency``, ``highlight_ttft``: the two charts side
#: by side keep a selection each): click a model in the legend to highlight its line.
HIGHLIGHT = "highlight"
#: The opacity of the lines not highlighted.
FADED = 0.15
#: The axis cap: ``CAP_FACTOR`` × the ``CAP_QUANTILE`` of the plotted values (lower order
#: statistic), never below the largest value within ``NORMAL_FACTOR`` × its own line's median.
CAP_FACTOR = 1.5
CAP_QUANTILE = 0.95
NORMAL_FACTOR = 3.0
# The lines' layer, where the legend selection is declared (the first layer: Vega-Lite binds
# the merged legend of a layered chart to the first layer's selections only).
_LINES = "lines"


class LayerChart(chart_display.LayerChart):
    """A layered chart (drawn offline, as :class:`chart_display.LayerChart`) whose layers'
    selections stay in their layers in ``to_dict``.

    Altair lifts a layer's selection to the top level with a ``views`` list (and names the
    layer by a hash of the chart, rows included); Vega-Lite then gives that layer the top-level
    selections *instead of* its own, so a selection added to the layer's spec later — the
    dashboard board's zoom (``chart_board.for_board``) — would be lost, and a name that
    changes with the rows would make the board compile the chart anew on every change. Here a
    top-level selection whose ``views`` are all layers is put back into those layers.
    """

    def to_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        spec = super().to_dict(*args, **kwargs)
        layers = spec.get("layer") or []
        names = {layer.get("name"): layer for layer in layers if layer.get("name")}
        kept = []
        for param in spec.get("params") or []:
            views = param.get("views")
            if views and all(isinstance(v, str) and v in names for v in views):
                own = {k: v for k, v in param.items() if k != "views"}
                for view in views:
                    names[view]["params"] = [*names[view].get("params", ()), own]
            else:
                kept.append(param)
        if "params" in spec:
            if kept:
                spec["params"] = kept
            else:
                del spec["params"]
        return spec


def axis_cap(
    values: pl.DataFrame, value: str = "seconds", line: Sequence[str] = ()
) -> float | None:
    """Where the y axis of a percentile chart ends, or None when every value fits below it.

    The cap is ``CAP_FACTOR`` (1.5) × the ``CAP_QUANTILE`` (95th percentile, the lower order
    statistic, so one spike among ten values does not raise it) of all the plotted ``value``s,
    but never below the largest "normal" value — one at most ``NORMAL_FACTOR`` (3) × the median
    of its own line (the rows sharing the ``line`` columns: a model and a percentile) — so a
    model slower than the others all along is drawn whole; only spikes (timeouts) are clipped.
    None when no value is above the cap (nothing to clip).

    Example:
        >>> spike = pl.DataFrame({"seconds": [1.0, 1.1, 0.9, 1.2, 1.0, 60.0, 1.1, 0.9]})
        >>> round(axis_cap(spike), 3)   # 1.5 × 1.2: the 60 s spike is clipped
        1.8
    """
    plotted = values.filter(pl.col(value).is_not_null() & pl.col(value).is_finite())
    if plotted.height == 0:
        return None
    median = pl.col(value).median()
    figures = plotted.select(
        robust=pl.col(value).quantile(CAP_QUANTILE, interpolation="lower"),
        normal=pl.col(value)
        .filter(pl.col(value) <= NORMAL_FACTOR * (median.over(list(line)) if line else median))
        .max(),
        top=pl.col(value).max(),
    ).row(0, named=True)
    cap = max(CAP_FACTOR * (figures["robust"] or 0.0), figures["normal"] or 0.0)
    return float(cap) if 0 < cap < figures["top"] else None


def highlight_name(measure: str) -> str:
    """The name of the legend selection of the chart of ``measure``.

    Example:
        >>> highlight_name("latency_s"), highlight_name("ttft_s")
        ('highlight_latency', 'highlight_ttft')
    """
    return f"{HIGHLIGHT}_{measure.removesuffix('_s')}"


#: What each measure's chart is called, and its y axis title.
_MEASURES = {
    "latency_s": ("latency", "latency (s)"),
    "ttft_s": ("time to first token", "TTFT (s)"),
}


def _ask_percentiles(
    calls: Any,
    measures: Sequence[str],
    by: str,
    every: str | None,
    quantiles: Sequence[float],
) -> tuple[dict[str, pl.DataFrame], str]:
    """Each measure's percentiles per ``by`` value and bucket (``by``, ``bucket``, ``n`` and
    a column per quantile), asked in ONE aggregation, and the bucket used."""
    if not quantiles:
        raise ValueError("quantiles=(): pass at least one, e.g. quantiles=(0.5, 0.95)")
    columns = [quantile_column(q) for q in quantiles]

    def ask(bucket: str) -> Any:
        return analytics.percentiles(
            calls, list(measures), by=[by], every=bucket, quantiles=quantiles
        )

    # One row per line and bucket travels to the browser: several percentiles share the cap.
    found, used = ask_capped(
        ask, calls, every, max_rows=MAX_ROWS // len(columns), calls_per_bucket=CALLS_PER_BUCKET
    )
    if len(measures) == 1:
        return {measures[0]: found}, used
    return {
        m: found.select(
            by,
            "bucket",
            pl.col(f"{m}_n").alias("n"),
            *(pl.col(f"{m}_{c}").alias(c) for c in columns),
        )
        for m in measures
    }, used


def percentile_charts(
    calls: Any,
    *,
    by: str = "model",
    every: str | None = None,
    quantile: float = 0.95,
    quantiles: Sequence[float] | None = None,
    domain: Sequence[str] | None = None,
) -> dict[str, alt.Chart | alt.LayerChart]:
    """:func:`latency_chart` and :func:`ttft_chart` (keys ``latency`` and ``ttft``) from one
    aggregation of both measures: the same charts, one scan of the calls (or the rollups)
    instead of two — what the dashboard draws on every filter change.

    Example:
        >>> charts = percentile_charts(obs, every="1h")   # doctest: +SKIP
        >>> charts["latency"] | charts["ttft"]            # doctest: +SKIP
    """
    chosen = _chosen(quantile, quantiles)
    found, used = _ask_percentiles(calls, list(_MEASURES), by, every, chosen)
    with chart_display.unchecked_parts():
        return {
            m.removesuffix("_s"): offline_chart(
                _percentile_chart(found[m], used, m, *_MEASURES[m], by, chosen, domain)
            )
            for m in _MEASURES
        }


def _percentile_chart(
    found: pl.DataFrame,
    used: str,
    measure: str,
    what: str,
    y_title: str,
    by: str,
    quantiles: Sequence[float],
    domain: Sequence[str] | None,
) -> alt.Chart | alt.LayerChart:
    columns = [quantile_column(q) for q in quantiles]
    names = "/".join(c.upper() for c in columns)
    rows = (
        found.select(by, "bucket", "n", *columns)
        .unpivot(
            on=columns, index=[by, "bucket", "n"], variable_name="percentile", value_name="seconds"
        )
        .drop_nulls("seconds")
        .with_columns(pl.col("percentile").str.to_uppercase())
    )
    if rows.height == 0:
        return empty_chart(f"{names} {what}")
    cap = axis_cap(rows, "seconds", [by, "percentile"])
    clipped = pl.col("seconds") > cap if cap is not None else pl.lit(False)
    rows = rows.with_columns(
        pl.when(clipped).then(pl.lit(cap)).otherwise(pl.col("seconds")).alias("shown"),
        clipped.alias("clipped"),
    ).sort(by, "percentile", "bucket")
    rows = with_utc_text(rows)
    n_clipped = int(rows["clipped"].sum())
    # Always a subtitle (the same spec whatever the rows); what was clipped comes first.
    subtitle = f"click a {by} in the legend to highlight it"
    if n_clipped:
        points = "point" if n_clipped == 1 else "points"
        above = f"{cap:.3g}" if cap < 100 else f"{cap:,.0f}"
        subtitle = f"▲ {n_clipped} {points} above {above} s clipped (timeouts?)"

    pick = alt.selection_point(name=highlight_name(measure), fields=[by], bind="legend")
    shown = sorted(rows[by].drop_nulls().unique())
    color = category_color(by, domain, shown)
    same_colors = alt.Scale(domain=list(domain)) if domain else alt.Undefined
    # A channel object, not the dict alt.condition returns: Altair reads a dict through its
    # schema (~6 ms a channel), an object as it is.
    faded = alt.OpacityValue(FADED, condition={"param": pick.name, "value": 1.0})
    x, y = time_x("bucket", used), alt.Y("shown:Q", title=y_title)
    tooltip = [
        alt.Tooltip(f"{by}:N"),
        utc_tooltip(),
        alt.Tooltip("percentile:N"),
        alt.Tooltip("seconds:Q", format=".3f", title=f"{y_title} — true value"),
        alt.Tooltip("n:Q", title="calls"),
    ]
    base = alt.Chart(rows)
    dots = alt.OverlayMarkDef(size=12) if rows.height < 60 else False
    line = base.mark_line(point=dots).encode(x=x, y=y, color=color, opacity=faded, tooltip=tooltip)
    if len(columns) > 1:
        line = line.encode(strokeDash=alt.StrokeDash("percentile:N", sort=names.split("/")))
    marks = (
        base.transform_filter("datum.clipped")
        .mark_point(shape="triangle-up", filled=True, size=90)
        .encode(
            x=x,
            y=y,
            color=alt.Color(f"{by}:N", scale=same_colors),
            opacity=faded,
            tooltip=[*tooltip, alt.Tooltip("shown:Q", format=".3g", title="drawn at (axis cap)")],
        )
    )
    title = alt.Title(f"{names} {what} per {used}", subtitle=subtitle)
    chart = alt.layer(line.properties(name=_LINES), marks, title=title)
    # The legend selection put in its layer once layered: given before, alt.layer lifts it to
    # the top level (checking and copying it, ~5 ms), and LayerChart.to_dict puts it back.
    chart.layer[0].params = [pick.param]
    object.__setattr__(chart, "__class__", LayerChart)  # as offline_chart does
    return chart


def _chosen(quantile: float, quantiles: Sequence[float] | None) -> tuple[float, ...]:
    return (quantile,) if quantiles is None else tuple(quantiles)


def _one_chart(
    calls: Any,
    measure: str,
    by: str,
    every: str | None,
    quantiles: Sequence[float],
    domain: Sequence[str] | None,
) -> alt.Chart | alt.LayerChart:
    found, used = _ask_percentiles(calls, [measure], by, every, quantiles)
    return _percentile_chart(
        found[measure], used, measure, *_MEASURES[measure], by, quantiles, domain
    )


@draws_offline
def latency_chart(
    calls: Any,
    *,
    by: str = "model",
    every: str | None = None,
    quantile: float = 0.95,
    quantiles: Sequence[float] | None = None,
    domain: Sequence[str] | None = None,
) -> alt.Chart | alt.LayerChart:
    """Latency P95 (``quantile``) over time, one line per ``by`` value, titled with the
    percentile ("P95 latency per 1h").

    ``calls``: anything analytics accepts (a frame with the llm_calls columns, an observer,
    a DuckDB path, a filtered source). ``every=None`` picks a bucket from the time range so the
    chart holds at most a few thousand rows; a too-fine ``every`` is coarsened the same way.
    A bucket with too few calls for a percentile shows no point (see analytics.percentiles).
    ``quantiles`` (a sequence, e.g. ``(0.5, 0.95, 0.99)``) draws those instead, one dash per
    percentile, as before there was ``quantile``. The y axis ends at :func:`axis_cap`: a value
    above it (a timeout) is drawn at the cap as a triangle with its true value in the tooltip,
    and the subtitle counts them ("▲ 2 points above 17.4 s clipped (timeouts?)"). Click a
    value in the legend to highlight its line (shift-click for more; click the plot to clear).
    ``domain``: every ``by`` value in a fixed order, so a value keeps its colour across filters.

    Example:
        >>> latency_chart(obs, every="1h")                             # doctest: +SKIP
        >>> latency_chart(obs, quantile=0.99)                          # doctest: +SKIP
        >>> latency_chart(obs, quantiles=(0.5, 0.95, 0.99))            # doctest: +SKIP
    """
    return _one_chart(calls, "latency_s", by, every, _chosen(quantile, quantiles), domain)


@draws_offline
def ttft_chart(
    calls: Any,
    *,
    by: str = "model",
    every: str | None = None,
    quantile: float = 0.95,
    quantiles: Sequence[float] | None = None,
    domain: Sequence[str] | None = None,
) -> alt.Chart | alt.LayerChart:
    """Time to first token P95 (``quantile``) over time for streamed calls, one line per
    ``by`` value; ``quantiles``, the axis cap, the legend and ``domain`` as
    :func:`latency_chart`.

    Example:
        >>> ttft_chart(obs)   # doctest: +SKIP
    """
    return _one_chart(calls, "ttft_s", by, every, _chosen(quantile, quantiles), domain)
