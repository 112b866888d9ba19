"""A Grafana dashboard (JSON model) over the ``llm_*`` Prometheus metrics.

Run ``python -m llmobs_nb.export.grafana dashboard.json`` to write it to a file, then import it
in Grafana (Dashboards → New → Import) and pick the Prometheus data source.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from llmobs_nb.metrics import definitions as d

_DS = {"type": "prometheus", "uid": "${datasource}"}
_SEL = '{model=~"$model"}'
_QSEL = '{model=~"$model", use_case=~"$use_case"}'
_ASEL = '{agent=~"$agent"}'
_RATE = "[$__rate_interval]"


def _quantile(q: float, metric: str, by: str = "le") -> str:
    return f"histogram_quantile({q}, sum by ({by}) (rate({metric}_bucket{_SEL}{_RATE})))"


def _target(ref: str, expr: str, legend: str, **extra: Any) -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": _DS,
        "expr": expr,
        "legendFormat": legend,
        **extra,
    }


def _panel(
    pid: int,
    title: str,
    targets: list[dict[str, Any]],
    unit: str,
    grid: tuple[int, int, int, int],
    kind: str = "timeseries",
    description: str = "",
) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": _DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
    }


def _panels() -> list[dict[str, Any]]:
    duration, ttft = d.REQUEST_DURATION.name, d.TTFT.name
    requests = f"sum(rate({duration}_count{_SEL}{_RATE}))"
    return [
        _panel(
            1,
            "Latency P50 / P95 / P99",
            [
                _target(ref, _quantile(q, duration), f"P{int(q * 100)}")
                for ref, q in (("A", 0.5), ("B", 0.95), ("C", 0.99))
            ],
            "s",
            (0, 0, 12, 8),
            description="Quantiles of llm_request_duration_seconds, from its buckets.",
        ),
        _panel(
            2,
            "Time to first token P95",
            [_target("A", _quantile(0.95, ttft, "le, model"), "{{model}}")],
            "s",
            (12, 0, 12, 8),
            description="Streamed calls only.",
        ),
        _panel(
            3,
            "Token rate",
            [
                _target(
                    "A",
                    f"sum by (model, type) (rate({d.TOKENS.name}{_SEL}{_RATE}))",
                    "{{model}} {{type}}",
                )
            ],
            "short",
            (0, 8, 12, 8),
            description="Tokens per second, input and output.",
        ),
        _panel(
            4,
            "Hourly cost",
            [
                _target(
                    "A",
                    f"sum by (model) (increase({d.COST.name}{_SEL}[1h]))",
                    "{{model}}",
                )
            ],
            "currencyUSD",
            (12, 8, 12, 8),
            description="Spend over the trailing hour; unpriced models add nothing.",
        ),
        _panel(
            5,
            "Quality score distribution",
            [
                _target(
                    "A",
                    f"sum by (le) (increase({d.QUALITY.name}_bucket{_QSEL}{_RATE}))",
                    "{{le}}",
                    format="heatmap",
                )
            ],
            "short",
            (0, 16, 12, 8),
            kind="heatmap",
            description="Scores per bucket of llm_quality_score over time.",
        ),
        _panel(
            6,
            "Mean quality score",
            [
                _target(
                    "A",
                    f"sum by (model) (rate({d.QUALITY.name}_sum{_QSEL}{_RATE})) "
                    f"/ sum by (model) (rate({d.QUALITY.name}_count{_QSEL}{_RATE}))",
                    "{{model}}",
                )
            ],
            "none",
            (12, 16, 12, 8),
        ),
        _panel(
            7,
            "Error rate by error type",
            [
                _target(
                    "A",
                    f"sum by (error_type) (rate({d.ERRORS.name}{_SEL}{_RATE})) "
                    f"/ on() group_left() {requests}",
                    "{{error_type}}",
                )
            ],
            "percentunit",
            (0, 24, 12, 8),
            description="Failed calls of each error type, as a share of all calls.",
        ),
        _panel(
            8,
            "Requests per second",
            [
                _target(
                    "A",
                    f"sum by (model) (rate({duration}_count{_SEL}{_RATE}))",
                    "{{model}}",
                )
            ],
            "reqps",
            (12, 24, 12, 8),
        ),
        _panel(  # llmobs_nb's own pipeline: no model label, so not filtered by $model
            9,
            "Spans lost on OTLP export",
            [
                _target(
                    "A",
                    f'sum by (outcome) (increase({d.EXPORT_SPANS.name}{{outcome!="sent"}}{_RATE}))',
                    "{{outcome}}",
                )
            ],
            "short",
            (0, 32, 24, 6),
            description="Spans that did not reach the OTLP endpoint, by outcome (dropped on a "
            "full queue, failed, unsent at close); alert LLMObsSpansDroppedOnExport.",
        ),
        _panel(  # agents and tools: no model label, filtered by $agent
            10,
            "Tool calls per second",
            [
                _target(
                    "A",
                    f"sum by (agent, tool) (rate({d.TOOL_CALLS.name}{_ASEL}{_RATE}))",
                    "{{agent}} {{tool}}",
                ),
                _target(
                    "B",
                    f"sum by (agent, tool) (rate({d.TOOL_REPEATS.name}{_ASEL}{_RATE}))",
                    "{{agent}} {{tool}} repeated",
                ),
            ],
            "reqps",
            (0, 38, 12, 8),
            description="Tool calls by agent and tool, and those repeating a tool the agent had "
            "already called 3 times in the same trace (a tool loop; alert LLMAgentToolLoop).",
        ),
        _panel(
            11,
            "Tool call latency P95",
            [
                _target(
                    "A",
                    f"histogram_quantile(0.95, sum by (le, tool) "
                    f"(rate({d.TOOL_DURATION.name}_bucket{_ASEL}{_RATE})))",
                    "{{tool}}",
                )
            ],
            "s",
            (12, 38, 12, 8),
            description="From llmobs_tool_call_duration_seconds, errors included.",
        ),
    ]


def _label_variable(name: str, metric: str, label: str) -> dict[str, Any]:
    query = f"label_values({metric}, {label})"
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": _DS,
        "query": query,
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"text": ["All"], "value": ["$__all"]},
    }


def grafana_dashboard(
    datasource_uid: str | None = None, title: str = "LLM observability (llmobs_nb)"
) -> dict[str, Any]:
    """Return the Grafana dashboard JSON model over the ``llm_*`` metrics, as a dict.

    Panels: latency P50/P95/P99, TTFT P95, token rate, hourly cost, quality score distribution
    and mean, error rate by error type, request rate, spans lost on export, tool calls (and
    repeated ones) per second, tool call latency P95. Variables: ``datasource`` (a Prometheus
    data source; ``datasource_uid`` preselects one), ``model``, ``use_case`` and ``agent``.

    Example:
        >>> dashboard = grafana_dashboard(datasource_uid="prometheus")
        >>> [p["title"] for p in dashboard["panels"]][0]
        'Latency P50 / P95 / P99'
    """
    datasource: dict[str, Any] = {
        "type": "datasource",
        "name": "datasource",
        "label": "Prometheus",
        "query": "prometheus",
        "refresh": 1,
    }
    if datasource_uid is not None:
        datasource["current"] = {"text": datasource_uid, "value": datasource_uid}
    return {
        "uid": "llmobs-nb-llm",
        "title": title,
        "description": "LLM latency, tokens, cost, quality and errors, and agents' tool calls, "
        "exported by llmobs_nb.",
        "tags": ["llm", "llmobs_nb"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "schemaVersion": 41,
        "version": 1,
        "annotations": {"list": []},
        "templating": {
            "list": [
                datasource,
                _label_variable("model", f"{d.REQUEST_DURATION.name}_count", "model"),
                _label_variable("use_case", f"{d.QUALITY.name}_count", "use_case"),
                _label_variable("agent", d.TOOL_CALLS.name, "agent"),
            ]
        },
        "panels": _panels(),
    }


def write_grafana_dashboard(
    path: str | Path, datasource_uid: str | None = None, title: str | None = None
) -> Path:
    """Write :func:`grafana_dashboard` as JSON to ``path``; return the path.

    Example:
        >>> write_grafana_dashboard("/tmp/llm-dashboard.json").suffix
        '.json'
    """
    path = Path(path)
    kwargs = {} if title is None else {"title": title}
    model = grafana_dashboard(datasource_uid, **kwargs)
    path.write_text(json.dumps(model, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m llmobs_nb.export.grafana out.json [--datasource-uid UID]``."""
    parser = argparse.ArgumentParser(
        prog="python -m llmobs_nb.export.grafana",
        description="Write the llmobs_nb Grafana dashboard JSON for import into Grafana.",
    )
    parser.add_argument("path", help="output file, e.g. dashboard.json")
    parser.add_argument("--datasource-uid", help="uid of the Prometheus data source to preselect")
    parser.add_argument("--title", help="dashboard title")
    args = parser.parse_args(argv)
    written = write_grafana_dashboard(args.path, args.datasource_uid, args.title)
    print(f"wrote {written}")


if __name__ == "__main__":
    main()
