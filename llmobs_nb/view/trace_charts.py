"""The trace waterfall: each span of one trace as a bar on a time axis, nested by parent."""

from __future__ import annotations

import altair as alt
import polars as pl

from llmobs_nb.view.chart_common import empty_chart
from llmobs_nb.view.chart_display import draws_offline
from llmobs_nb.view.theme import ERROR_COLOR, KIND_COLORS

WATERFALL_COLUMNS = ("span_id", "parent_span_id", "name", "kind", "start_time", "end_time")


def span_layout(spans: pl.DataFrame) -> pl.DataFrame:
    """The spans of one trace in tree order (parents before children, siblings by start) with
    ``depth``, ``row`` (0 at the top), ``label`` (indented name), and ``start_ms``/``end_ms``
    since the trace began.

    Example:
        >>> span_layout(trace_spans)["label"].to_list()   # doctest: +SKIP
        ['rag', '  retrieval', '  rerank', '  chat gpt-4o']
    """
    missing = [c for c in WATERFALL_COLUMNS if c not in spans.columns]
    if missing:
        raise ValueError(
            f"a waterfall needs the spans columns {list(WATERFALL_COLUMNS)}; missing {missing} "
            "(use obs.spans() or Trace.load(...))"
        )
    if spans.height == 0:
        return spans.with_columns(
            pl.lit(0).alias("depth"), pl.lit(0).alias("row"), pl.lit("").alias("label")
        )
    spans = spans.sort("start_time")
    ids = set(spans["span_id"].to_list())
    children: dict[str | None, list[str]] = {}
    for span_id, parent in spans.select("span_id", "parent_span_id").iter_rows():
        # A parent outside this frame (a partial trace) makes the span a root.
        children.setdefault(parent if parent in ids else None, []).append(span_id)
    order: list[tuple[str, int]] = []
    stack = [(root, 0) for root in reversed(children.get(None, []))]
    while stack:
        span_id, depth = stack.pop()
        order.append((span_id, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(span_id, [])))
    placed = pl.DataFrame(
        {
            "span_id": [s for s, _ in order],
            "depth": [d for _, d in order],
            "row": list(range(len(order))),
        },
        schema={"span_id": pl.String, "depth": pl.Int64, "row": pl.Int64},
    )
    t0 = spans["start_time"].min()
    return (
        spans.join(placed, on="span_id")
        .sort("row")
        .with_columns(
            (pl.lit("  ").repeat_by(pl.col("depth")).list.join("") + pl.col("name")).alias("label"),
            ((pl.col("start_time") - t0).dt.total_microseconds() / 1000).alias("start_ms"),
            ((pl.col("end_time") - t0).dt.total_microseconds() / 1000).alias("end_ms"),
        )
    )


@draws_offline
def waterfall_chart(spans: pl.DataFrame, *, title: str | None = None) -> alt.Chart | alt.LayerChart:
    """One trace as a waterfall: a bar per span from its start to its end (ms since the trace
    began), indented under its parent, coloured by kind; failed spans get a red outline and ✕.

    ``spans``: the rows of the ``spans`` table for one trace (``Trace.load(obs, trace_id).spans``).

    Example:
        >>> spans = obs.sql("select * from spans where trace_id = ?", [trace_id])  # doctest: +SKIP
        >>> waterfall_chart(spans)                                                # doctest: +SKIP
    """
    laid = span_layout(spans)
    title = title or "Trace waterfall"
    if laid.height == 0:
        return empty_chart(title, "no spans in this trace")
    optional = {
        "model": pl.String,
        "status": pl.String,
        "error_type": pl.String,
        "input_tokens": pl.Int64,
        "output_tokens": pl.Int64,
        "cost_usd": pl.Float64,
    }
    laid = laid.with_columns(
        pl.lit(None, dtype).alias(name) for name, dtype in optional.items() if name not in laid
    ).select(
        "span_id",
        "label",
        "name",
        "kind",
        "row",
        "start_ms",
        "end_ms",
        (pl.col("end_ms") - pl.col("start_ms")).alias("duration_ms"),
        *optional,
        (pl.col("status") == "error").fill_null(False).alias("failed"),
    )
    kinds = list(KIND_COLORS)
    y = alt.Y("label:N", sort=alt.EncodingSortField("row", order="ascending"), title=None)
    tooltip = [
        alt.Tooltip("name:N"),
        alt.Tooltip("kind:N"),
        alt.Tooltip("start_ms:Q", format=",.1f", title="start (ms)"),
        alt.Tooltip("duration_ms:Q", format=",.1f", title="duration (ms)"),
        alt.Tooltip("model:N"),
        alt.Tooltip("input_tokens:Q", title="input tokens"),
        alt.Tooltip("output_tokens:Q", title="output tokens"),
        alt.Tooltip("cost_usd:Q", format="$,.5f", title="cost"),
        alt.Tooltip("status:N"),
        alt.Tooltip("error_type:N", title="error"),
        alt.Tooltip("span_id:N"),
    ]
    bars = (
        alt.Chart(laid, title=title)
        .mark_bar(height={"band": 0.7})
        .encode(
            x=alt.X("start_ms:Q", title="ms since the trace began"),
            x2="end_ms:Q",
            y=y,
            color=alt.Color(
                "kind:N", scale=alt.Scale(domain=kinds, range=list(KIND_COLORS.values()))
            ),
            stroke=alt.condition("datum.failed", alt.value(ERROR_COLOR), alt.value(None)),
            strokeWidth=alt.condition("datum.failed", alt.value(2), alt.value(0)),
            tooltip=tooltip,
        )
    )
    failed = (
        alt.Chart(laid)
        .transform_filter("datum.failed")
        .mark_text(text="✕", color=ERROR_COLOR, align="left", dx=4, fontWeight="bold")
        .encode(x="end_ms:Q", y=y, tooltip=tooltip)
    )
    return alt.layer(bars, failed).properties(height=max(60, 24 * laid.height))
