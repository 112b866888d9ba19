"""Stored history as OpenMetrics text, for ``promtool tsdb create-blocks-from openmetrics``.

The file holds what Prometheus would have scraped from :class:`~llmobs_nb.metrics.ObserverMetrics`
every ``step`` while the calls happened: the same metric names, labels (with the same caps on
label values) and buckets, cumulative from a zero sample one step before each series' first
event, so ``increase()`` and ``rate()`` over the backfilled range count every call.

The agent and tool metrics (``definitions.AGENT_METRICS``: ``llmobs_tool_*``,
``llmobs_agent_invocations_total``) are not backfilled: they count agent and tool spans, and
the calls given here are model calls (``llm_calls`` holds no other span).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prometheus_client.utils import floatToGoString

from llmobs_nb.export.rules import duration_seconds
from llmobs_nb.metrics import definitions as d


def _eval_us(step_us: int) -> pl.Expr:
    # A call is first visible to the scrape at the next step boundary at or after its end.
    t = pl.col("time").dt.epoch("us")
    return (t + step_us - 1) // step_us * step_us


def _capped(frame: pl.DataFrame, col: str, limit: int) -> pl.Expr:
    # The live LabelGuard keeps the first `limit` values in arrival order; so does this.
    raw = pl.col(col).cast(pl.String)
    present = raw.is_not_null() & (raw != "")
    kept = (
        frame.filter(present)
        .group_by(raw.alias("v"))
        .agg(pl.col("time").min())
        .sort("time", "v")
        .head(limit)["v"]
    )
    return (
        pl.when(~present)
        .then(pl.lit(d.UNKNOWN))
        .when(raw.is_in(kept.implode()))
        .then(raw)
        .otherwise(pl.lit(d.OTHER))
    )


def _escape(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all('"', '\\"', literal=True)
        .str.replace_all("\n", "\\n", literal=True)
    )


def _labels(names: list[str]) -> pl.Expr:
    # prometheus_client writes label names sorted; so do we, `le` included.
    parts = []
    for i, name in enumerate(sorted(names)):
        parts += [
            pl.lit(("," if i else "") + f'{name}="'),
            _escape(pl.col(name)),
            pl.lit('"'),
        ]
    return pl.concat_str(parts) if parts else pl.lit("")


def _counter(idx: int, metric: d.MetricDef, frame: pl.DataFrame, inc: pl.Expr) -> pl.DataFrame:
    return frame.select(
        family_idx=pl.lit(idx),
        name=pl.lit(metric.name),
        labels=_labels(list(metric.labels)),
        eval_us="eval_us",
        inc=(pl.col(inc) if isinstance(inc, str) else inc).cast(pl.Float64),
    )


def _histogram(idx: int, metric: d.MetricDef, frame: pl.DataFrame, value: str) -> pl.DataFrame:
    frame = frame.filter(pl.col(value).is_not_null())
    base = list(metric.labels)
    parts = []
    for le in (*metric.buckets, float("inf")):
        le_text = floatToGoString(le)  # the exposition's spelling, so series names agree
        parts.append(
            frame.with_columns(le=pl.lit(le_text)).select(
                family_idx=pl.lit(idx),
                name=pl.lit(f"{metric.name}_bucket"),
                labels=_labels([*base, "le"]),
                eval_us="eval_us",
                inc=(pl.col(value) <= le).cast(pl.Float64),
            )
        )
    for suffix, inc in (
        ("_count", pl.lit(1.0)),
        ("_sum", pl.col(value).cast(pl.Float64)),
    ):
        parts.append(
            frame.select(
                family_idx=pl.lit(idx),
                name=pl.lit(metric.name + suffix),
                labels=_labels(base),
                eval_us="eval_us",
                inc=inc,
            )
        )
    return pl.concat(parts)


def _frame(data: pl.DataFrame | pl.LazyFrame, time_cols: tuple[str, ...]) -> pl.DataFrame:
    frame = data.lazy().collect()
    for col in time_cols:
        if col in frame.columns:
            return frame.with_columns(time=pl.col(col))
    raise ValueError(f"frame has none of the time columns {list(time_cols)}: {frame.columns}")


def _absent_when_unknown(value: str | pl.Expr) -> pl.Expr:
    expr = pl.col(value) if isinstance(value, str) else value
    return pl.when(expr == d.UNKNOWN).then(pl.lit("")).otherwise(expr)


def _with_default(frame: pl.DataFrame, *cols: str) -> pl.DataFrame:
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in cols if c not in frame)


def openmetrics_backfill(
    calls: pl.DataFrame | pl.LazyFrame,
    path: str | Path,
    *,
    scores: pl.DataFrame | pl.LazyFrame | None = None,
    step: str = "1m",
    max_models: int = 50,
    max_label_values: int = 20,
) -> Path:
    """Write the metrics history of ``calls`` (and ``scores``) as OpenMetrics text to ``path``.

    Returns the path. Each series gets one sample per ``step`` (timestamps in seconds), from one
    step before its first event to the last event; the file ends with ``# EOF``. Load it with
    ``promtool tsdb create-blocks-from openmetrics <path> <prometheus data dir>``.
    ``scores`` needs ``value`` and ``created_at``; its model and use case come from its own
    ``model``/``use_case`` columns or, failing that, from the call with the same ``span_id``.

    Example:
        >>> openmetrics_backfill(obs.calls(), "history.om", scores=obs.scores())  # doctest: +SKIP
        PosixPath('history.om')
    """
    step_us = duration_seconds(step) * 1_000_000
    path = Path(path)
    frame = _with_default(
        _frame(calls, ("end_time", "start_time")),
        "model",
        "operation",
        "provider",
        "error_type",
        "response_model",
    )
    for col in (
        "latency_s",
        "ttft_s",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "status",
    ):
        if col not in frame.columns:
            raise ValueError(f"calls has no column {col!r}: pass a frame with llm_calls columns")
    calls_f = frame.with_columns(
        eval_us=_eval_us(step_us),
        model=_capped(frame, "model", max_models),
        operation=_capped(frame, "operation", max_label_values),
        gen_ai_provider_name=_capped(frame, "provider", max_label_values),
        failed=pl.col("status") == "error",
    ).with_columns(
        error_type=pl.when("failed")
        .then(
            _capped(
                frame.filter(pl.col("status") == "error"),
                "error_type",
                max_label_values,
            )
        )
        .otherwise(pl.lit("")),
        gen_ai_operation_name="operation",
        # the GenAI attributes as live (ObserverMetrics): models absent (empty) when unknown
        gen_ai_request_model=_absent_when_unknown("model"),
        gen_ai_response_model=_absent_when_unknown(_capped(frame, "response_model", max_models)),
    )
    genai_calls = calls_f.with_columns(  # error.type's fallback is the convention's _OTHER
        error_type=pl.when(pl.col("error_type").is_in([d.UNKNOWN, d.OTHER]))
        .then(pl.lit(d.GENAI_OTHER_ERROR))
        .otherwise("error_type")
    )
    idx = {m.name: i for i, m in enumerate(d.ALL_METRICS)}
    parts = [
        _histogram(idx[d.REQUEST_DURATION.name], d.REQUEST_DURATION, calls_f, "latency_s"),
        _histogram(idx[d.TTFT.name], d.TTFT, calls_f, "ttft_s"),
        _counter(
            idx[d.COST.name],
            d.COST,
            calls_f.filter(pl.col("cost_usd").is_not_null()),
            "cost_usd",
        ),
        _counter(idx[d.ERRORS.name], d.ERRORS, calls_f.filter("failed"), pl.lit(1.0)),
        _histogram(idx[d.GENAI_DURATION.name], d.GENAI_DURATION, genai_calls, "latency_s"),
        _histogram(
            idx[d.GENAI_TIME_TO_FIRST_CHUNK.name],
            d.GENAI_TIME_TO_FIRST_CHUNK,
            calls_f,
            "ttft_s",
        ),
    ]
    for token_type in ("input", "output"):
        typed = calls_f.filter(pl.col(f"{token_type}_tokens").is_not_null()).with_columns(
            type=pl.lit(token_type), gen_ai_token_type=pl.lit(token_type)
        )
        parts.append(_counter(idx[d.TOKENS.name], d.TOKENS, typed, f"{token_type}_tokens"))
        parts.append(
            _histogram(
                idx[d.GENAI_TOKEN_USAGE.name],
                d.GENAI_TOKEN_USAGE,
                typed,
                f"{token_type}_tokens",
            )
        )
    if scores is not None:
        parts.append(
            _quality(scores, frame, calls_f, idx[d.QUALITY.name], step_us, max_label_values)
        )
    _write(pl.concat(parts), path, step_us)
    return path


def _quality(
    scores: pl.DataFrame | pl.LazyFrame,
    raw_calls: pl.DataFrame,
    calls_f: pl.DataFrame,
    idx: int,
    step_us: int,
    max_label_values: int,
) -> pl.DataFrame:
    frame = _frame(scores, ("created_at",))
    if "model" not in frame.columns and "span_id" in frame.columns and "span_id" in raw_calls:
        owners = raw_calls.select("span_id", "model", "use_case").unique("span_id")
        frame = frame.join(owners, on="span_id", how="left")
    frame = _with_default(frame, "model", "use_case")
    kept_models = calls_f["model"].unique().implode()
    raw_model = pl.col("model").cast(pl.String)
    frame = frame.with_columns(
        eval_us=_eval_us(step_us),
        model=pl.when(raw_model.is_null() | (raw_model == ""))
        .then(pl.lit(d.UNKNOWN))
        .when(raw_model.is_in(kept_models))
        .then(raw_model)
        .otherwise(pl.lit(d.OTHER)),
        use_case=_capped(frame, "use_case", max_label_values),
    )
    return _histogram(idx, d.QUALITY, frame, "value")


def _write(samples: pl.DataFrame, path: Path, step_us: int) -> None:
    if samples.is_empty():
        path.write_text("# EOF\n")
        return
    keys = ["family_idx", "series"]
    per_step = (
        samples.select(
            "family_idx",
            "eval_us",
            "inc",
            series=pl.concat_str("name", pl.lit("{"), "labels", pl.lit("}")),
        )
        .group_by([*keys, "eval_us"])
        .agg(pl.col("inc").sum())
    )
    zeros = per_step.group_by(keys).agg(
        (pl.col("eval_us").min() - step_us).alias("eval_us"), pl.lit(0.0).alias("inc")
    )
    end = per_step["eval_us"].max() + step_us  # type: ignore[operator]
    # Forward-fill each series onto every step up to the end: a value repeats until the series
    # changes again, as successive scrapes would have seen it.
    lines = (
        pl.concat([zeros, per_step])
        .sort([*keys, "eval_us"])
        .with_columns(
            value=pl.col("inc").cum_sum().over(keys),
            until=pl.col("eval_us").shift(-1).over(keys).fill_null(end),
        )
        .with_columns(k=pl.int_ranges(0, (pl.col("until") - pl.col("eval_us")) // step_us))
        .explode("k")
        .select(
            "family_idx",
            line=pl.concat_str(
                "series",
                pl.lit(" "),
                pl.col("value").cast(pl.String),
                pl.lit(" "),
                ((pl.col("eval_us") + pl.col("k") * step_us) // 1_000_000).cast(pl.String),
            ),
        )
    )
    with path.open("w") as out:
        for (family_idx,), family_lines in lines.group_by("family_idx", maintain_order=True):
            metric = d.ALL_METRICS[int(family_idx)]  # type: ignore[call-overload]
            family = metric.name.removesuffix("_total") if metric.kind == "counter" else metric.name
            out.write(f"# HELP {family} {metric.help}\n# TYPE {family} {metric.kind}\n")
            out.flush()
            family_lines.select("line").write_csv(out, include_header=False, quote_style="never")
        out.write("# EOF\n")
