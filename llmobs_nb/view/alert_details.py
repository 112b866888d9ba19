"""What the dashboard's ALERTS card opens: each alert that fired, in words — its rule, what it
is about, when, its figure against its threshold, and what to look at next.

The alerts are analytics' own (:func:`llmobs_nb.analytics.quality_drift` rows with ``alert``,
:func:`llmobs_nb.analytics.cost_anomalies` rows); this module only words them. The HTML is
:func:`llmobs_nb.view.html.alert_details_html` (every value escaped).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from llmobs_nb.analytics.drift import DRIFT_SCHEMA
from llmobs_nb.view.html import format_cost, format_when

#: The cost rules of :func:`llmobs_nb.analytics.cost_anomalies`, as a reader names them, and
#: the threshold's meaning.
COST_RULES = {
    "hourly_total": ("hourly spend", "limit {threshold} an hour"),
    "user_model_hourly": ("one user's hourly spend on one model", "limit {threshold} an hour"),
    "daily_budget": ("daily budget", "budget {threshold} a day"),
    "hourly_mad": (
        "unusual hourly spend",
        "unusual above {threshold} (robust z-score against the hours before)",
    ),
}


def _window(start: datetime | None, end: datetime | None, rule: str) -> str:
    if start is None:
        return "—"
    if rule == "daily_budget":
        return f"{start:%b %d} (UTC day)"
    end_text = f"{end:%H:%M}" if end is not None else "…"
    return f"{format_when(start)}–{end_text} UTC"


def _cost_item(row: dict[str, Any]) -> dict[str, str]:
    rule = row["rule"]
    name, limit = COST_RULES.get(rule, (rule, "threshold {threshold}"))
    about_parts = []
    if row.get("user_id") is not None:
        about_parts.append(f"user {row['user_id']}")
    if row.get("model") is not None:
        about_parts.append(f"model {row['model']}")
    about = ", ".join(about_parts) or "all calls"
    figure = f"{format_cost(row['value'])} spent"
    if row.get("z_score") is not None:
        figure += f" (z = {row['z_score']:.1f})"
    when = _window(row["window_start"], row.get("window_end"), rule)
    if rule == "user_model_hourly":
        look = (
            f"filter user {row['user_id']} and model {row['model']} to that hour, then the "
            "most expensive traces: long prompts, many calls, a loop?"
        )
    elif rule == "daily_budget":
        look = "the cost chart over that day: which model's spend grew, then the top users panel"
    else:
        look = (
            "the cost chart at that hour and the top users panel: which model and which user "
            "spent it; then that hour's most expensive traces"
        )
    return {
        "rule": name,
        "about": about,
        "when": when,
        "figure": figure,
        "threshold": limit.format(threshold=format_cost(row["threshold"])),
        "look_at": look,
    }


def _drift_item(row: dict[str, Any], groups: list[str], threshold: float) -> dict[str, str]:
    about = ", ".join(f"{g} {row[g]}" for g in groups) or "all calls"
    score = row.get("score_name") or "score"
    baseline, current = row["baseline"], row["current"]
    limit = threshold * baseline if baseline is not None else None
    onset = row.get("onset")
    when = f"since {format_when(onset)} UTC" if onset is not None else "recently"
    if row.get("last_score_at") is not None:
        when += f" (last score {format_when(row['last_score_at'])})"
    p_value = row.get("p_value")
    figure = f"mean {score} {current:.3f} over the last {row['n_recent']} scores"
    threshold_text = (
        f"alert below {limit:.3f}: {threshold:.0%} of the baseline {baseline:.3f} (the mean "
        f"of the first {row['n_baseline']} scores)"
        if limit is not None
        else "—"
    )
    if p_value is not None:
        threshold_text += f"; p = {p_value:.2g}: not chance"
    subject = " and ".join(f"{g} {row[g]}" for g in groups) or "these calls"
    since = f" from {format_when(onset)} UTC" if onset is not None else ""
    look = (
        f"the quality chart for {subject}; filter to it{since} and open its lowest-scored "
        "traces: a prompt, model or retrieval change around then?"
    )
    return {
        "rule": f"{score} drift",
        "about": about,
        "when": when,
        "figure": figure,
        "threshold": threshold_text,
        "look_at": look,
    }


def alert_list(
    drift: pl.DataFrame, anomalies: pl.DataFrame, *, threshold: float = 0.7
) -> list[dict[str, str]]:
    """Each alert that fired, in words: ``rule``, ``about``, ``when``, ``figure``,
    ``threshold``, ``look_at`` (texts, not yet escaped). Quality drift first (the rows of
    ``drift`` with ``alert``; ``threshold``: the share of the baseline it was judged by), then
    the cost alerts of ``anomalies`` in their order (oldest first).

    Example:
        >>> found = panels.drift_and_anomalies(calls)                          # doctest: +SKIP
        >>> alert_list(found["drift"], found["cost_anomalies"])[0]["rule"]     # doctest: +SKIP
        'quality drift'
    """
    items = []
    if drift.height and "alert" in drift.columns:
        groups = [c for c in drift.columns if c not in DRIFT_SCHEMA]
        for row in drift.filter(pl.col("alert").fill_null(False)).iter_rows(named=True):
            items.append(_drift_item(row, groups, threshold))
    for row in anomalies.iter_rows(named=True):
        items.append(_cost_item(row))
    return items


__all__ = ["COST_RULES", "alert_list"]
