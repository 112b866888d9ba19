"""The Grafana dashboard JSON model: valid for Grafana, and its queries are sound PromQL."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from llmobs_nb.export.grafana import grafana_dashboard, write_grafana_dashboard

SCHEMA = Path(__file__).parent / "vendor" / "grafana-dashboard-schema" / "dashboard.jsonschema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))


def exprs(dashboard: dict) -> dict[str, list[str]]:
    return {p["title"]: [t["expr"] for t in p["targets"]] for p in dashboard["panels"]}


def test_dashboard_validates_against_grafanas_schema(validator):
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(grafana_dashboard(datasource_uid="prom-main"))
    ]
    assert errors == []


def test_schema_rejects_a_broken_dashboard(validator):
    # the schema is strict enough to catch mistakes, so the test above means something
    broken = grafana_dashboard()
    broken["panels"][0]["gridPos"]["w"] = 30
    assert not validator.is_valid(broken)


def test_dashboard_has_the_design_panels():
    titles = list(exprs(grafana_dashboard()))
    for wanted in (
        "Latency P50 / P95 / P99",
        "Time to first token P95",
        "Token rate",
        "Hourly cost",
        "Quality score distribution",
        "Error rate by error type",
    ):
        assert wanted in titles


def test_quantiles_aggregate_buckets_by_le_over_rate_interval():
    panels = exprs(grafana_dashboard())
    latency = panels["Latency P50 / P95 / P99"]
    assert [re.match(r"histogram_quantile\((0\.\d+),", e).group(1) for e in latency] == [
        "0.5",
        "0.95",
        "0.99",
    ]
    for expr in latency + panels["Time to first token P95"]:
        assert re.search(
            r"sum by \(le(, model)?\) \(rate\(\w+_bucket\{[^}]*\}\[\$__rate_interval\]\)\)", expr
        )


def test_variables_select_datasource_model_and_use_case():
    variables = {v["name"]: v for v in grafana_dashboard("prom-main")["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["datasource"]["current"]["value"] == "prom-main"
    assert variables["model"]["query"] == "label_values(llm_request_duration_seconds_count, model)"
    assert variables["use_case"]["query"] == "label_values(llm_quality_score_count, use_case)"
    for panel in grafana_dashboard()["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        if panel["title"] == "Spans lost on OTLP export":  # the pipeline's own: no model label
            continue
        if panel["title"].startswith("Tool call"):  # agents' tools: no model, an agent label
            assert all('agent=~"$agent"' in t["expr"] for t in panel["targets"])
            continue
        assert all('model=~"$model"' in t["expr"] for t in panel["targets"])


def test_export_loss_panel_shows_every_outcome_but_sent():
    (expr,) = exprs(grafana_dashboard())["Spans lost on OTLP export"]
    assert expr == (
        'sum by (outcome) (increase(llmobs_export_spans_total{outcome!="sent"}[$__rate_interval]))'
    )


def test_command_line_writes_the_dashboard(tmp_path):
    out = tmp_path / "dashboard.json"
    result = subprocess.run(
        [sys.executable, "-m", "llmobs_nb.export.grafana", str(out), "--datasource-uid", "p1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text()) == grafana_dashboard("p1")


def test_write_returns_the_path(tmp_path):
    path = write_grafana_dashboard(tmp_path / "d.json", title="Support bot")
    assert json.loads(path.read_text())["title"] == "Support bot"
