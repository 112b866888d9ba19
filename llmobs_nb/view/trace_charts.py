"""The trace waterfall: each span of one trace as a bar on a time axis, nested by parent."""

from __future__ import annotations

import altair as alt
import polars as pl

from llmobs_nb.view.chart_common import empty_chart
from llmobs_nb.view.chart_display import draws_offline
from llmobs_nb.view.html import format_duration
from llmobs_nb.view.theme import ERROR_COLOR, KIND_COLORS, WIDTH
from llmobs_nb.view.trace_hints import UNCOVERED_TEXT, uncovered_time

WATERFALL_COLUMNS = ("span_id", "parent_span_id", "name", "kind", "start_time", "end_time")
#: A span is drawn at least this many pixels wide (its label and tooltip say its duration).
MIN_BAR_PX = 3.0
#: Room right of the trace's end for the last bars' duration labels ("✕ 60.3 s").
LABEL_ROOM_PX = 72.0
#: An uncovered stretch of a parent is drawn when at least this many pixels wide...
MIN_GAP_PX = 2.0
#: ... and labelled in the bar when wide enough for its text (about this many px a character).
CHAR_PX = 6.0


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
    indented = pl.lit("  ").repeat_by(pl.col("depth")).list.join("") + pl.col("name")
    # A name repeated at the same depth (a retried call) gets " #2", " #3": one row each.
    seen = pl.int_range(pl.len()).over(indented) + 1
    return (
        spans.join(placed, on="span_id")
        .sort("row")
        .with_columns(
            pl.when(seen > 1)
            .then(indented + " #" + seen.cast(pl.String))
            .otherwise(indented)
            .alias("label"),
            ((pl.col("start_time") - t0).dt.total_microseconds() / 1000).alias("start_ms"),
            ((pl.col("end_time") - t0).dt.total_microseconds() / 1000).alias("end_ms"),
        )
    )


def waterfall_layout(spans: pl.DataFrame, *, width: float = WIDTH) -> tuple[pl.DataFrame, float]:
    """What the waterfall draws, one row per span, and the x axis's end (ms).

    :func:`span_layout`'s rows with ``duration_ms`` (the true one), ``draw_start_ms``/
    ``draw_end_ms`` (the bar: at least :data:`MIN_BAR_PX` wide on a chart ``width`` px
    wide), ``duration_label`` (``"481 ms"``, ``"1.2 s"``), ``failed``, and the optional
    ``model``/``status``/``error_type``/tokens/cost columns (NULL when missing). The axis
    ends :data:`LABEL_ROOM_PX` past the trace's end, so every label fits right of its bar.

    Example:
        >>> rows, x_end = waterfall_layout(trace.spans)   # doctest: +SKIP
    """
    laid = span_layout(spans)
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
    )
    total = max(float(laid["end_ms"].max() or 0.0), 1e-3) if laid.height else 1e-3
    ms_per_px = total / max(width - LABEL_ROOM_PX, 1.0)
    min_ms = MIN_BAR_PX * ms_per_px
    duration = pl.col("end_ms") - pl.col("start_ms")
    # A bar too short to see is widened to MIN_BAR_PX, and moved left when it would pass
    # the trace's end.
    draw_start = pl.min_horizontal(pl.col("start_ms"), pl.lit(total - min_ms)).clip(0.0)
    laid = laid.select(
        "span_id",
        "label",
        "name",
        "kind",
        "row",
        "depth",
        "start_ms",
        "end_ms",
        duration.alias("duration_ms"),
        pl.when(duration >= min_ms)
        .then(pl.col("start_ms"))
        .otherwise(draw_start)
        .alias("draw_start_ms"),
        pl.when(duration >= min_ms)
        .then(pl.col("end_ms"))
        .otherwise(draw_start + min_ms)
        .alias("draw_end_ms"),
        *optional,
        (pl.col("status") == "error").fill_null(False).alias("failed"),
    )
    labels = [format_duration(ms / 1000) for ms in laid["duration_ms"].to_list()]
    laid = laid.with_columns(pl.Series("duration_label", labels, dtype=pl.String))
    return laid, total / (1 - LABEL_ROOM_PX / width) if width > LABEL_ROOM_PX else total


def waterfall_gaps(spans: pl.DataFrame, *, width: float = WIDTH) -> pl.DataFrame:
    """The stretches of each parent span that no child covers, as the waterfall draws them:
    ``label`` and ``row`` (the parent's), ``start_ms``/``end_ms``, ``gap_ms``,
    ``uncovered_ms`` and ``duration_ms`` (the parent's), ``text`` (``"459 ms not in any
    child span: …"``) and ``gap_label`` (the short text drawn in the bar when it fits, else
    empty). Only stretches at least :data:`MIN_GAP_PX` wide are kept.

    Example:
        >>> waterfall_gaps(trace.spans).select("label", "gap_ms")   # doctest: +SKIP
    """
    schema = {
        "span_id": pl.String,
        "label": pl.String,
        "row": pl.Int64,
        "start_ms": pl.Float64,
        "end_ms": pl.Float64,
        "gap_ms": pl.Float64,
        "uncovered_ms": pl.Float64,
        "duration_ms": pl.Float64,
        "text": pl.String,
        "gap_label": pl.String,
    }
    gaps = uncovered_time(spans)
    if gaps.height == 0:
        return pl.DataFrame(schema=schema)
    laid, x_end = waterfall_layout(spans, width=width)
    px_per_ms = width / x_end if x_end else 0.0
    rows = []
    placed = dict(zip(laid["span_id"], zip(laid["label"], laid["row"], strict=True), strict=True))
    for parent in gaps.iter_rows(named=True):
        label, row = placed[parent["span_id"]]
        for gap in parent["gaps"]:
            length = gap["end_ms"] - gap["start_ms"]
            if length * px_per_ms < MIN_GAP_PX:
                continue
            short = f"{format_duration(length / 1000)} not in a child span"
            rows.append(
                {
                    "span_id": parent["span_id"],
                    "label": label,
                    "row": row,
                    "start_ms": gap["start_ms"],
                    "end_ms": gap["end_ms"],
                    "gap_ms": length,
                    "uncovered_ms": parent["uncovered_ms"],
                    "duration_ms": parent["duration_ms"],
                    "text": f"{format_duration(length / 1000)} {UNCOVERED_TEXT}",
                    "gap_label": short if length * px_per_ms >= CHAR_PX * len(short) + 8 else "",
                }
            )
    return pl.DataFrame(rows, schema=schema)


@draws_offline
def waterfall_chart(spans: pl.DataFrame, *, title: str | None = None) -> alt.Chart | alt.LayerChart:
    """One trace as a waterfall: a bar per span from its start to its end (ms since the trace
    began), indented under its parent, coloured by kind (the legend lists the kinds present),
    its duration written after it; failed spans get a red outline and ✕. A span too short to
    see is drawn :data:`MIN_BAR_PX` wide (its label and tooltip give its true duration). The
    time of a parent no child covers is drawn as a pale dashed stretch of its bar ("459 ms not
    in any child span: time in the parent's own code, or untraced work").

    ``spans``: the rows of the ``spans`` table for one trace (``Trace.load(obs, trace_id).spans``).

    Example:
        >>> spans = obs.sql("select * from spans where trace_id = ?", [trace_id])  # doctest: +SKIP
        >>> waterfall_chart(spans)                                                # doctest: +SKIP
    """
    title = title or "Trace waterfall"
    if spans.height == 0:
        span_layout(spans)  # says which columns are missing
        return empty_chart(title, "no spans in this trace")
    laid, x_end = waterfall_layout(spans)
    gaps = waterfall_gaps(spans)
    present = laid["kind"].unique().to_list()
    kinds = [k for k in KIND_COLORS if k in present]
    kinds += sorted(k for k in present if k not in KIND_COLORS and k is not None)
    colors = [KIND_COLORS.get(k, KIND_COLORS["other"]) for k in kinds]
    # Every layer's x on the same fixed scale: the trace, then room for the last labels.
    scale = alt.Scale(domain=[0, x_end], nice=False, zero=True)

    def x(column: str) -> alt.X:
        return alt.X(f"{column}:Q", title="ms since the trace began", scale=scale)

    y = alt.Y("label:N", sort=alt.EncodingSortField("row", order="ascending"), title=None)
    tooltip = [
        alt.Tooltip("name:N"),
        alt.Tooltip("kind:N"),
        alt.Tooltip("duration_label:N", title="duration"),
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
    base = alt.Chart(laid)
    bars = (
        alt.Chart(laid, title=title)
        .mark_bar(height={"band": 0.7})
        .encode(
            x=x("draw_start_ms"),
            x2="draw_end_ms:Q",
            y=y,
            color=alt.Color("kind:N", scale=alt.Scale(domain=kinds, range=colors), title="kind"),
            stroke=alt.condition("datum.failed", alt.value(ERROR_COLOR), alt.value(None)),
            strokeWidth=alt.condition("datum.failed", alt.value(2), alt.value(0)),
            tooltip=tooltip,
        )
    )
    layers: list[alt.Chart] = [bars]
    if gaps.height:
        gap_tooltip = [
            alt.Tooltip("text:N", title="uncovered"),
            alt.Tooltip("gap_ms:Q", format=",.1f", title="this stretch (ms)"),
            alt.Tooltip("uncovered_ms:Q", format=",.1f", title="in no child, all (ms)"),
            alt.Tooltip("duration_ms:Q", format=",.1f", title="parent (ms)"),
        ]
        layers.append(
            alt.Chart(gaps)
            .mark_bar(
                height={"band": 0.7},
                fill="white",
                fillOpacity=0.6,
                stroke="#555555",
                strokeDash=[3, 2],
                strokeWidth=1,
            )
            .encode(x=x("start_ms"), x2="end_ms:Q", y=y, tooltip=gap_tooltip)
        )
        layers.append(
            alt.Chart(gaps)
            .transform_filter("datum.gap_label != ''")
            .mark_text(align="left", baseline="middle", dx=4, fontSize=10, color="#333333")
            .encode(x=x("start_ms"), y=y, text="gap_label:N", tooltip=gap_tooltip)
        )
    layers.append(
        base.transform_filter("datum.failed")
        .mark_text(text="✕", color=ERROR_COLOR, align="left", dx=4, fontWeight="bold")
        .encode(x=x("draw_end_ms"), y=y, tooltip=tooltip)
    )
    label = {"align": "left", "baseline": "middle", "fontSize": 11}
    layers.append(
        base.transform_filter("!datum.failed")
        .mark_text(dx=4, color="#333333", **label)
        .encode(x=x("draw_end_ms"), y=y, text="duration_label:N", tooltip=tooltip)
    )
    layers.append(
        base.transform_filter("datum.failed")
        .mark_text(dx=16, color=ERROR_COLOR, **label)
        .encode(x=x("draw_end_ms"), y=y, text="duration_label:N", tooltip=tooltip)
    )
    return alt.layer(*layers).properties(width=WIDTH, height=max(60, 24 * laid.height))
