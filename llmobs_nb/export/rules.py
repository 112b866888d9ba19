"""Prometheus alerting rules over the ``llm_*`` metrics (and the agents' tool metrics), and their
definitions.

The same :class:`AlertRule` values drive the YAML rule file and the backtest in
:mod:`llmobs_nb.export.backtest`, so a threshold, window or ``for`` duration exists once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llmobs_nb.export.yaml_text import to_yaml
from llmobs_nb.metrics import definitions as d

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    """Return a Prometheus duration such as ``"5m"`` or ``"1h"`` in seconds.

    Example:
        >>> duration_seconds("5m")
        300
    """
    unit = text[-1:]
    if unit not in _DURATION_UNITS or not text[:-1].isdigit():
        raise ValueError(f"duration {text!r} is not like '30s', '5m', '1h' or '1d'")
    return int(text[:-1]) * _DURATION_UNITS[unit]


@dataclass(frozen=True)
class AlertRule:
    """One alert: the PromQL ``measure`` compared with ``threshold`` over ``window``.

    ``for_`` is how long the condition must hold before the alert fires (``"0s"``: at once).
    """

    name: str
    measure: str
    op: Literal[">", "<"]
    threshold: float
    window: str
    for_: str
    severity: str
    summary: str
    look: str = (
        "See the llmobs_nb Grafana dashboard, or llmobs_nb.export.backtest_alert_rules() on "
        "the stored calls for the episodes."
    )

    @property
    def description(self) -> str:
        """What the alert means and where to look; static, so rule unit tests can match it."""
        held = "" if duration_seconds(self.for_) == 0 else f" for {self.for_}"
        return f"{self.measure} has been {self.op} {self.threshold!r}{held}. {self.look}"

    @property
    def expr(self) -> str:
        """The alerting expression: the measure, compared with the threshold."""
        return f"{self.measure} {self.op} {self.threshold!r}"


def alert_rules(
    *,
    latency_p95_s: float = 10,
    error_rate: float = 0.05,
    cost_per_hour_usd: float = 50,
    quality_min: float = 0.7,
    quality_window: str = "1h",
) -> list[AlertRule]:
    """Return the four alerts of docs/design.md §1 (Export, Alerts) with the given thresholds.

    LLMHighLatency (P95 over 5m, for 5m, warning), LLMHighErrorRate (errors/requests over 5m,
    for 2m, critical), LLMCostBudgetAlert (cost increase over 1h, warning) and
    LLMQualityDegradation (mean quality score over ``quality_window`` below ``quality_min``,
    for 10m, warning).

    Example:
        >>> [r.name for r in alert_rules()][:2]
        ['LLMHighLatency', 'LLMHighErrorRate']
    """
    duration_seconds(quality_window)
    requests = f"{d.REQUEST_DURATION.name}_count"
    quality = d.QUALITY.name
    return [
        AlertRule(
            name="LLMHighLatency",
            measure=(
                f"histogram_quantile(0.95, sum by (le) "
                f"(rate({d.REQUEST_DURATION.name}_bucket[5m])))"
            ),
            op=">",
            threshold=latency_p95_s,
            window="5m",
            for_="5m",
            severity="warning",
            summary=f"P95 latency of LLM calls above {latency_p95_s} s over 5m",
        ),
        AlertRule(
            name="LLMHighErrorRate",
            measure=f"sum(rate({d.ERRORS.name}[5m])) / sum(rate({requests}[5m]))",
            op=">",
            threshold=error_rate,
            window="5m",
            for_="2m",
            severity="critical",
            summary=f"more than {error_rate:.1%} of LLM calls failed over 5m",
        ),
        AlertRule(
            name="LLMCostBudgetAlert",
            measure=f"sum(increase({d.COST.name}[1h]))",
            op=">",
            threshold=cost_per_hour_usd,
            window="1h",
            for_="0s",
            severity="warning",
            summary=f"LLM spend above {cost_per_hour_usd} USD in the last hour",
        ),
        AlertRule(
            name="LLMQualityDegradation",
            measure=(
                f"sum(rate({quality}_sum[{quality_window}])) "
                f"/ sum(rate({quality}_count[{quality_window}]))"
            ),
            op="<",
            threshold=quality_min,
            window=quality_window,
            for_="10m",
            severity="warning",
            summary=f"mean quality score below {quality_min} over {quality_window}",
        ),
    ]


def pipeline_rules(*, export_lost_spans: float = 0) -> list[AlertRule]:
    """Return the alerts on llmobs_nb's own pipeline (not backtested: no stored call shows it).

    LLMObsSpansDroppedOnExport (warning) fires when more than ``export_lost_spans`` spans
    were lost on OTLP export over 5m (``llmobs_export_spans_total`` with an outcome other
    than ``sent``: dropped on a full queue, failed, or unsent at close).

    Example:
        >>> [r.name for r in pipeline_rules()]
        ['LLMObsSpansDroppedOnExport']
    """
    return [
        AlertRule(
            name="LLMObsSpansDroppedOnExport",
            measure=f'sum(increase({d.EXPORT_SPANS.name}{{outcome!="sent"}}[5m]))',
            op=">",
            threshold=export_lost_spans,
            window="5m",
            for_="0s",
            severity="warning",
            summary=f"more than {export_lost_spans:g} spans lost on OTLP export over 5m",
            look=(
                "obs.health().export counts them by outcome; the llmobs_nb log's 'span export "
                "to' warning names the endpoint and its last problem."
            ),
        )
    ]


def agent_rules(*, tool_loop_repeats: float = 5) -> list[AlertRule]:
    """Return the alerts on agents (not backtested: the backtest reads model calls only).

    LLMAgentToolLoop (warning) fires when one agent made more than ``tool_loop_repeats``
    repeated calls of one tool over 10m (``llmobs_tool_repeat_calls_total``: calls of a tool
    the same agent had already called 3 times in the same trace). Ordinary agents call a tool
    a few times per turn and make none; a loop that calls a tool 9 times or more in one turn
    is enough to fire. Its ``agent`` and ``tool`` labels name the loop.

    Example:
        >>> [r.name for r in agent_rules()]
        ['LLMAgentToolLoop']
    """
    return [
        AlertRule(
            name="LLMAgentToolLoop",
            measure=f"sum by (agent, tool) (increase({d.TOOL_REPEATS.name}[10m]))",
            op=">",
            threshold=tool_loop_repeats,
            window="10m",
            for_="0s",
            severity="warning",
            summary=(
                f"an agent called the same tool over and over: more than {tool_loop_repeats:g} "
                f"repeated calls in 10m"
            ),
            look=(
                "The alert's agent and tool labels name the loop; in the store, its traces are "
                "those with more than 3 spans of that tool_name (their input_text holds the "
                "arguments when content is captured)."
            ),
        )
    ]


def rules_yaml(rules: Sequence[AlertRule], group: str = "llmobs_nb") -> str:
    """Return a Prometheus rule file (YAML) holding ``rules`` in one group.

    Example:
        >>> rules_yaml(alert_rules()).startswith("groups:")
        True
    """
    entries = []
    for rule in rules:
        entry: dict[str, object] = {"alert": rule.name, "expr": rule.expr}
        if duration_seconds(rule.for_) > 0:
            entry["for"] = rule.for_
        entry["labels"] = {"severity": rule.severity}
        entry["annotations"] = {"summary": rule.summary, "description": rule.description}
        entries.append(entry)
    return to_yaml({"groups": [{"name": group, "rules": entries}]})


def prometheus_rules(
    *,
    latency_p95_s: float = 10,
    error_rate: float = 0.05,
    cost_per_hour_usd: float = 50,
    quality_min: float = 0.7,
    quality_window: str = "1h",
    export_lost_spans: float = 0,
    tool_loop_repeats: float = 5,
) -> str:
    """Return the alert rule file (YAML) that Prometheus loads with ``rule_files:``: the four
    alerts of :func:`alert_rules`, those of :func:`pipeline_rules` and of :func:`agent_rules`.

    Example:
        >>> "alert: LLMHighErrorRate" in prometheus_rules(error_rate=0.02)
        True
    """
    return rules_yaml(
        alert_rules(
            latency_p95_s=latency_p95_s,
            error_rate=error_rate,
            cost_per_hour_usd=cost_per_hour_usd,
            quality_min=quality_min,
            quality_window=quality_window,
        )
        + pipeline_rules(export_lost_spans=export_lost_spans)
        + agent_rules(tool_loop_repeats=tool_loop_repeats)
    )


def write_prometheus_rules(path: str | Path, **thresholds: Any) -> Path:
    """Write :func:`prometheus_rules` (same keyword thresholds) to ``path``; return the path.

    Example:
        >>> write_prometheus_rules("/tmp/llm_rules.yml", cost_per_hour_usd=20).name
        'llm_rules.yml'
    """
    path = Path(path)
    path.write_text(prometheus_rules(**thresholds))
    return path
