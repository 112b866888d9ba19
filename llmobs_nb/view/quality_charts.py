"""Quality scores: their distribution, and their course over time against the drift baseline."""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from llmobs_nb import analytics
from llmobs_nb.view.buckets import ask_capped
from llmobs_nb.view.chart_common import empty_chart, time_x, utc_tooltip, with_utc_text
from llmobs_nb.view.chart_display import draws_offline
from llmobs_nb.view.score_stats import score_over_time, score_summary
from llmobs_nb.view.theme import ALERT_COLOR, BASELINE_COLOR

# Mean scores per bucket need fewer values than tail percentiles.
SCORES_PER_BUCKET = 100
#: With no alert, the baseline and threshold lines are labelled when there are at most this
#: many groups (more labels would cover each other and the lines).
LABELLED_GROUPS = 3


@draws_offline
def quality_distribution_chart(
    calls: Any,
    scores: pl.DataFrame | None = None,
    *,
    score_name: str = "quality",
    bins: int = 20,
    histogram: pl.DataFrame | None = None,
) -> alt.Chart:
    """Histogram of ``score_name`` over the selected calls (``bins`` bins over [0, 1]).

    ``scores`` is needed with a frame of calls (e.g. ``obs.scores()``); an observer, a path or
    a filtered source brings its own. ``histogram``: an already computed
    ``score_summary(...)[0]``, drawn as is.

    Example:
        >>> quality_distribution_chart(obs, score_name="quality")   # doctest: +SKIP
    """
    found = histogram
    if found is None:
        found = score_summary(calls, scores, score_name=score_name, bins=bins)[0]
    title = f"Distribution of {score_name} scores"
    if found.height == 0:
        return empty_chart(title, f"no {score_name!r} scores for this selection")
    return (
        alt.Chart(found, title=f"{title} ({found['n'].sum():,} scores)")
        .mark_bar()
        .encode(
            x=alt.X("bin_start:Q", title=score_name, bin="binned"),
            x2=alt.X2("bin_end"),
            y=alt.Y("n:Q", title="scores"),
            tooltip=[
                alt.Tooltip("bin_start:Q", format=".2f", title="from"),
                alt.Tooltip("bin_end:Q", format=".2f", title="to"),
                alt.Tooltip("n:Q", title="scores"),
            ],
        )
    )


@draws_offline
def quality_chart(
    calls: Any,
    scores: pl.DataFrame | None = None,
    *,
    score_name: str = "quality",
    by: str = "model",
    every: str | None = None,
    threshold: float = 0.7,
    drift: pl.DataFrame | None = None,
    thresholds: str = "all",
) -> alt.Chart | alt.LayerChart:
    """Mean ``score_name`` over time per ``by`` value, with each group's drift baseline (dashed),
    its alert threshold (``threshold`` × baseline, red dotted) and the onset of any alert.

    Baselines and alerts come from ``analytics.quality_drift`` (pass its result as ``drift`` to
    avoid computing it twice; grouped finer than ``by``, e.g. by model and use case, each group
    has its lines). The subtitle says what each kind of line is, and the lines of the alerting
    groups (of every group when there are at most :data:`LABELLED_GROUPS` and none alerts)
    are labelled beside them: ``"gpt-4o-mini: baseline 0.85"``, ``"alert: 0.7 × baseline =
    0.59"``. ``thresholds="alerting"`` draws only the alerting groups' lines.

    Example:
        >>> quality_chart(obs, score_name="quality", by="model")   # doctest: +SKIP
    """

    def ask(bucket: str) -> pl.DataFrame:
        return score_over_time(calls, scores, score_name=score_name, by=(by,), every=bucket)

    found, used = ask_capped(ask, calls, every, calls_per_bucket=SCORES_PER_BUCKET)
    title = f"Mean {score_name} per {used}"
    y_title = f"mean {score_name}"
    if found.height == 0:
        return empty_chart(title, f"no {score_name!r} scores for this selection")
    if drift is None:
        drift = analytics.quality_drift(
            calls, scores=scores, by=[by], score_name=score_name, threshold=threshold
        )
    drift = drift.filter(pl.col("score_name") == score_name) if drift.height else drift
    lines = (
        alt.Chart(with_utc_text(found), title=title)
        .mark_line()
        .encode(
            x=time_x("bucket", used),
            y=alt.Y("mean:Q", title=y_title, scale=alt.Scale(zero=False)),
            color=alt.Color(f"{by}:N", title=by),
            tooltip=[
                alt.Tooltip(f"{by}:N"),
                utc_tooltip(),
                alt.Tooltip("mean:Q", format=".3f"),
                alt.Tooltip("n:Q", title="scores"),
            ],
        )
    )
    if thresholds not in ("all", "alerting"):
        raise ValueError(f"thresholds is 'all' or 'alerting', not {thresholds!r}")
    marks = drift.filter(pl.col("baseline").is_not_null()) if drift.height else drift
    if thresholds == "alerting" and marks.height:
        marks = marks.filter(pl.col("alert"))
    if marks.height == 0:
        return lines
    groups = drift.columns[: drift.columns.index("score_name")] or [by]
    marks = marks.select(
        pl.concat_str(
            [pl.col(g).cast(pl.String).fill_null("—") for g in groups], separator=" · "
        ).alias("group"),
        by,
        "baseline",
        (pl.col("baseline") * threshold).alias("alert_below"),
        "current",
        "p_value",
        "alert",
        "onset",
    )
    tooltip = [
        alt.Tooltip("group:N", title=" · ".join(groups)),
        alt.Tooltip("baseline:Q", format=".3f"),
        alt.Tooltip("alert_below:Q", format=".3f", title="alert below"),
        alt.Tooltip("current:Q", format=".3f"),
        alt.Tooltip("p_value:Q", format=".2g", title="p-value"),
        alt.Tooltip("alert:N"),
    ]
    base = alt.Chart(marks)
    baseline = base.mark_rule(strokeDash=[6, 3], color=BASELINE_COLOR, opacity=0.7).encode(
        y=alt.Y("baseline:Q", title=y_title), tooltip=tooltip
    )
    limit = base.mark_rule(strokeDash=[2, 3], color=ALERT_COLOR).encode(
        y=alt.Y("alert_below:Q", title=y_title), tooltip=tooltip
    )
    layers: list[Any] = [lines, baseline, limit]
    alerts = marks.filter(pl.col("alert") & pl.col("onset").is_not_null())
    if alerts.height:
        layers.append(
            alt.Chart(with_utc_text(alerts, "onset"))
            .mark_rule(color=ALERT_COLOR, strokeWidth=2)
            .encode(
                x=alt.X(
                    "onset:T",
                    scale=alt.Scale(type="utc"),
                    title=time_x(every=used).to_dict()["title"],
                ),
                tooltip=[alt.Tooltip("group:N"), utc_tooltip("onset", "drift onset (UTC)")],
            )
        )
    labelled = marks.filter(pl.col("alert")) if marks["alert"].any() else marks
    if labelled.height <= LABELLED_GROUPS or marks["alert"].any():
        layers.append(
            threshold_labels(
                labelled,
                found["bucket"].max(),
                threshold,
                x=time_x("bucket", used),
                y_title=y_title,
            )
        )
    said = [
        f"dashed: the baseline (mean of each group's first scores) · dotted: alert below "
        f"{threshold:g} × baseline"
    ]
    if alerts.height:
        said.append("solid vertical: where the drop began (CUSUM onset)")
    return alt.layer(*layers).properties(title=alt.TitleParams(title, subtitle=said))


def threshold_labels(
    marks: pl.DataFrame,
    at: Any,
    threshold: float,
    *,
    x: alt.X | None = None,
    y_title: str | None = None,
) -> alt.LayerChart:
    """Text beside each baseline and alert line of ``marks`` (``group``, ``baseline``,
    ``alert_below`` per row), right-aligned at time ``at``: what the line is and its value.
    ``x`` and ``y_title``: the chart's own time encoding and y title, so that the text shares
    its axes instead of adding its field names to them.

    Example:
        >>> from datetime import UTC, datetime
        >>> marks = pl.DataFrame({"group": ["gpt-4o-mini"], "baseline": [0.846],
        ...                       "alert_below": [0.592]})
        >>> spec = threshold_labels(marks, datetime(2026, 11, 14, tzinfo=UTC), 0.7).to_dict()
        >>> [row["label"] for data in spec["datasets"].values() for row in data]
        ['gpt-4o-mini: baseline 0.85', 'alert: 0.7 × baseline = 0.59']
    """
    x = x if x is not None else time_x("bucket")
    field = x.to_dict()["field"]
    pairs = zip(marks["group"], marks["baseline"], strict=True)
    said = {
        "baseline": [f"{group}: baseline {value:.2f}" for group, value in pairs],
        "alert_below": [
            f"alert: {threshold:g} × baseline = {value:.2f}" for value in marks["alert_below"]
        ],
    }
    layers = []
    for line, color in (("baseline", BASELINE_COLOR), ("alert_below", ALERT_COLOR)):
        texts = pl.DataFrame(
            {field: [at] * marks.height, "y": marks[line], "label": said[line]},
            schema={field: pl.Datetime("us", "UTC"), "y": pl.Float64, "label": pl.String},
        )
        layers.append(
            alt.Chart(texts)
            .mark_text(align="right", baseline="bottom", dy=-2, fontSize=11, color=color)
            .encode(x=x, y=alt.Y("y:Q", title=y_title), text=alt.Text("label:N"))
        )
    return alt.layer(*layers)


@draws_offline
def run_comparison_chart(
    comparison: pl.DataFrame, *, names: tuple[str, str] | None = None
) -> alt.Chart | alt.LayerChart:
    """Each metric of ``analytics.compare_runs`` as the relative change b vs a (%), with its
    confidence interval; green when b is better, red when worse, grey when not significant.
    ``names``: the two runs' names (a's, then b's), said in the title, axis and tooltips
    instead of "a" and "b".

    Example:
        >>> result = analytics.compare_runs(obs, "prompt-v1", "prompt-v2")   # doctest: +SKIP
        >>> run_comparison_chart(result, names=("prompt-v1", "prompt-v2"))  # doctest: +SKIP
    """
    a_name, b_name = names if names is not None else ("a", "b")
    title = f"Run comparison: change of {b_name} against {a_name}"
    needed = {"metric", "a", "diff", "ci_low", "ci_high", "verdict"}
    missing = needed - set(comparison.columns)
    if missing:
        raise ValueError(
            f"run_comparison_chart needs the result of analytics.compare_runs; "
            f"columns {sorted(missing)} are missing"
        )
    rows = comparison.filter(pl.col("diff").is_not_null() & (pl.col("a") != 0)).select(
        "metric",
        "a",
        "b",
        "n_a",
        "n_b",
        "verdict",
        (pl.col("diff") / pl.col("a").abs() * 100).alias("change_pct"),
        (pl.col("ci_low") / pl.col("a").abs() * 100).alias("ci_low_pct"),
        (pl.col("ci_high") / pl.col("a").abs() * 100).alias("ci_high_pct"),
    )
    if rows.height == 0:
        return empty_chart(title, "not enough data in either run")
    color = alt.Color(
        "verdict:N",
        scale=alt.Scale(
            domain=["better", "worse", "no significant difference"],
            range=["#009E73", ALERT_COLOR, "#999999"],
        ),
    )
    tooltip = [
        alt.Tooltip("metric:N"),
        alt.Tooltip("a:Q", format=".4g", title=a_name),
        alt.Tooltip("b:Q", format=".4g", title=b_name),
        alt.Tooltip("change_pct:Q", format="+.1f", title="change %"),
        alt.Tooltip("ci_low_pct:Q", format="+.1f", title="CI low %"),
        alt.Tooltip("ci_high_pct:Q", format="+.1f", title="CI high %"),
        alt.Tooltip("n_a:Q", title=f"n {a_name}"),
        alt.Tooltip("n_b:Q", title=f"n {b_name}"),
        alt.Tooltip("verdict:N"),
    ]
    base = alt.Chart(rows).encode(y=alt.Y("metric:N", title=None, sort=None))
    interval = base.mark_rule(strokeWidth=2).encode(
        x=alt.X(
            "ci_low_pct:Q",
            title=f"change of {b_name} vs {a_name} (%, with confidence interval)",
        ),
        x2=alt.X2("ci_high_pct"),
        color=color,
        tooltip=tooltip,
    )
    point = base.mark_point(filled=True, size=70).encode(
        x=alt.X("change_pct:Q"), color=color, tooltip=tooltip
    )
    zero = alt.Chart(pl.DataFrame({"x": [0.0]})).mark_rule(color="#333333").encode(x=alt.X("x:Q"))
    return alt.layer(zero, interval, point).properties(title=title, height=28 * rows.height + 20)
