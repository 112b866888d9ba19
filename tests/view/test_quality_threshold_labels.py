"""The quality chart says what its dashed and dotted lines are: a subtitle for the kinds of
line, and text beside the lines of the alerting groups with their values."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from llmobs_nb import analytics, demo
from llmobs_nb.view import charts


def _text_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []

    def walk(node: dict[str, Any]) -> None:
        for layer in node.get("layer", []):
            if isinstance(layer.get("mark"), dict) and layer["mark"]["type"] == "text":
                rows.extend(spec["datasets"][layer["data"]["name"]])
            walk(layer)

    walk(spec)
    return rows


def _rule_groups(spec: dict[str, Any]) -> set[str]:
    groups = set()
    for layer in spec["layer"]:
        if layer.get("mark", {}).get("type") == "rule" and "y" in layer["encoding"]:
            groups |= {row["group"] for row in spec["datasets"][layer["data"]["name"]]}
    return groups


def test_the_alerting_groups_lines_are_labelled_with_their_values(sample: demo.SampleData):
    drift = analytics.quality_drift(
        sample.calls, scores=sample.scores, by=["model"], score_name="quality"
    )
    alerting = drift.filter(pl.col("alert"))
    assert alerting.height >= 1  # the generated quality regression
    spec = charts.quality_chart(sample.calls, sample.scores, drift=drift).to_dict()
    labels = [row["label"] for row in _text_rows(spec)]
    for model, baseline in alerting.select("model", "baseline").iter_rows():
        assert f"{model}: baseline {baseline:.2f}" in labels
        assert f"alert: 0.7 × baseline = {baseline * 0.7:.2f}" in labels
    quiet = drift.filter(~pl.col("alert"))["model"].to_list()
    assert not any(label.startswith(f"{model}:") for model in quiet for label in labels)
    subtitle = " ".join(spec["title"]["subtitle"])
    assert "dashed: the baseline" in subtitle and "dotted: alert below 0.7 × baseline" in subtitle


def test_the_labels_sit_on_their_lines(sample: demo.SampleData):
    drift = analytics.quality_drift(
        sample.calls, scores=sample.scores, by=["model"], score_name="quality"
    )
    spec = charts.quality_chart(sample.calls, sample.scores, drift=drift, threshold=0.8).to_dict()
    alert = drift.filter(pl.col("alert")).row(0, named=True)
    heights = {row["label"]: row["y"] for row in _text_rows(spec)}
    assert heights[f"{alert['model']}: baseline {alert['baseline']:.2f}"] == pytest.approx(
        alert["baseline"]
    )
    assert heights[f"alert: 0.8 × baseline = {alert['baseline'] * 0.8:.2f}"] == pytest.approx(
        alert["baseline"] * 0.8
    )


def test_alerting_only_draws_the_alerting_groups_lines(sample: demo.SampleData):
    drift = analytics.quality_drift(
        sample.calls, scores=sample.scores, by=["model"], score_name="quality"
    )
    every = charts.quality_chart(sample.calls, sample.scores, drift=drift).to_dict()
    only = charts.quality_chart(
        sample.calls, sample.scores, drift=drift, thresholds="alerting"
    ).to_dict()
    assert _rule_groups(every) == set(drift["model"])
    assert _rule_groups(only) == set(drift.filter(pl.col("alert"))["model"])


def test_with_no_alert_and_few_groups_every_line_is_labelled(sample: demo.SampleData):
    calls = sample.calls.filter(pl.col("model").is_in(["gpt-4o", "claude-sonnet-4-5"]))
    drift = analytics.quality_drift(calls, scores=sample.scores, by=["model"], score_name="quality")
    assert not drift["alert"].any()
    spec = charts.quality_chart(calls, sample.scores, drift=drift).to_dict()
    labels = [row["label"] for row in _text_rows(spec)]
    assert sorted(label.split(":")[0] for label in labels if "baseline " in label[:40]) == sorted(
        ["alert", "alert", *drift["model"]]
    )


def test_an_unknown_thresholds_choice_is_refused(sample: demo.SampleData):
    with pytest.raises(ValueError, match="alerting"):
        charts.quality_chart(sample.calls, sample.scores, thresholds="some")


def test_the_run_comparison_names_its_runs(sample: demo.SampleData):
    comparison = analytics.compare_runs(
        sample.calls, "prompt-v1", "prompt-v2", scores=sample.scores
    )
    spec = charts.run_comparison_chart(comparison, names=("prompt-v1", "prompt-v2")).to_dict()
    assert spec["title"] == "Run comparison: change of prompt-v2 against prompt-v1"
    assert "change of prompt-v2 vs prompt-v1" in str(spec)
    assert " b " not in spec["title"]
