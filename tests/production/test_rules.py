"""The generated alert rules load in Prometheus and fire exactly when they should (promtool)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmobs_nb.export.rules import (
    alert_rules,
    duration_seconds,
    pipeline_rules,
    prometheus_rules,
    write_prometheus_rules,
)
from llmobs_nb.export.yaml_text import to_yaml

RULES = {rule.name: rule for rule in alert_rules() + pipeline_rules()}


def histogram(name: str, les: list[str], per_minute: list[int], minutes: int) -> list[dict]:
    """Input series of a histogram whose buckets grow by ``per_minute`` each minute."""
    return [
        {"series": f'{name}_bucket{{le="{le}", model="gpt-4o"}}', "values": f"0+{n}x{minutes}"}
        for le, n in zip(les, per_minute, strict=True)
    ]


LES = ["0.5", "1.0", "2.5", "5.0", "10.0", "30.0", "60.0", "+Inf"]
SLOW = histogram("llm_request_duration_seconds", LES, [0, 0, 0, 0, 0, 10, 10, 10], 20)
FAST = histogram("llm_request_duration_seconds", LES, [10] * 8, 20)


def counter(name: str, per_minute: float, minutes: int, **labels: str) -> dict:
    rendered = ", ".join(f'{k}="{v}"' for k, v in {"model": "gpt-4o", **labels}.items())
    return {"series": f"{name}{{{rendered}}}", "values": f"0+{per_minute}x{minutes}"}


SCENARIOS = {
    # name: (input series, evaluation time, should fire)
    "LLMHighLatency": (
        (SLOW, "15m", True),  # every call in (10, 30] s: P95 = 29 s
        (FAST, "15m", False),
    ),
    "LLMHighErrorRate": (
        (
            [
                counter("llm_errors_total", 1, 20, error_type="RateLimitError"),
                counter("llm_request_duration_seconds_count", 10, 20),
            ],
            "10m",
            True,  # 10 % of calls fail
        ),
        (
            [
                counter("llm_errors_total", 4, 20, error_type="RateLimitError"),
                counter("llm_request_duration_seconds_count", 100, 20),
            ],
            "10m",
            False,  # 4 %, under the 5 % threshold
        ),
    ),
    "LLMCostBudgetAlert": (
        ([counter("llm_cost_usd_total", 1, 150)], "2h", True),  # 60 USD per hour
        ([counter("llm_cost_usd_total", 0.5, 150)], "2h", False),  # 30 USD per hour
    ),
    "LLMObsSpansDroppedOnExport": (
        (
            [
                {"series": 'llmobs_export_spans_total{outcome="sent"}', "values": "0+10x20"},
                {"series": 'llmobs_export_spans_total{outcome="failed"}', "values": "0x5 0+2x14"},
            ],
            "10m",
            True,  # spans fail from minute 5 on
        ),
        (
            [
                {"series": 'llmobs_export_spans_total{outcome="sent"}', "values": "0+10x20"},
                {"series": 'llmobs_export_spans_total{outcome="failed"}', "values": "0x20"},
            ],
            "10m",
            False,  # a failed series that stays at 0, and many sent: nothing lost
        ),
    ),
    "LLMQualityDegradation": (
        (
            [
                counter("llm_quality_score_sum", 5, 150, use_case="qa"),
                counter("llm_quality_score_count", 10, 150, use_case="qa"),
            ],
            "2h",
            True,  # mean 0.5 < 0.7
        ),
        (
            [
                counter("llm_quality_score_sum", 9, 150, use_case="qa"),
                counter("llm_quality_score_count", 10, 150, use_case="qa"),
            ],
            "2h",
            False,  # mean 0.9
        ),
    ),
}


def unit_tests() -> list[dict]:
    tests = []
    for name, cases in SCENARIOS.items():
        rule = RULES[name]
        for series, at, fires in cases:
            expected = (
                [
                    {
                        "exp_labels": {"severity": rule.severity},
                        "exp_annotations": {
                            "summary": rule.summary,
                            "description": rule.description,
                        },
                    }
                ]
                if fires
                else []
            )
            tests.append(
                {
                    "interval": "1m",
                    "input_series": series,
                    "alert_rule_test": [
                        {"eval_time": at, "alertname": name, "exp_alerts": expected}
                    ],
                }
            )
    return tests


def test_promtool_check_rules_accepts_the_generated_file(promtool, tmp_path):
    path = write_prometheus_rules(tmp_path / "rules.yml", error_rate=0.02)

    result = promtool("check", "rules", str(path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_each_alert_fires_on_a_breaching_series_and_stays_silent_otherwise(promtool, tmp_path):
    (tmp_path / "rules.yml").write_text(prometheus_rules())
    tests_file = tmp_path / "rules_test.yml"
    tests_file.write_text(
        to_yaml({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": unit_tests()})
    )

    result = promtool("test", "rules", str(tests_file))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_rule_that_should_fire_but_does_not_makes_promtool_fail(promtool, tmp_path):
    # Guards the test above: with the threshold raised out of reach, the same
    # expectations must fail, so a silently broken rule cannot pass.
    (tmp_path / "rules.yml").write_text(prometheus_rules(latency_p95_s=1000))
    tests_file = tmp_path / "rules_test.yml"
    tests_file.write_text(
        to_yaml({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": unit_tests()})
    )

    result = promtool("test", "rules", str(tests_file))

    assert result.returncode != 0
    assert "LLMHighLatency" in result.stdout + result.stderr


def test_rules_follow_the_design_table():
    text = prometheus_rules()
    latency, errors, cost, quality = alert_rules()
    assert latency.expr == (
        "histogram_quantile(0.95, sum by (le) (rate(llm_request_duration_seconds_bucket[5m]))) > 10"
    )
    assert (latency.for_, latency.severity) == ("5m", "warning")
    assert errors.expr == (
        "sum(rate(llm_errors_total[5m])) / sum(rate(llm_request_duration_seconds_count[5m])) > 0.05"
    )
    assert (errors.for_, errors.severity) == ("2m", "critical")
    assert cost.expr == "sum(increase(llm_cost_usd_total[1h])) > 50"
    assert duration_seconds(cost.for_) == 0 and "for: 0s" not in text
    assert quality.op == "<" and quality.severity == "warning"


def test_bad_duration_is_named_in_the_error():
    with pytest.raises(ValueError, match="duration '90 minutes' is not like"):
        prometheus_rules(quality_window="90 minutes")


def test_written_file_is_the_returned_path(tmp_path):
    path = write_prometheus_rules(tmp_path / "llm.yml")
    assert isinstance(path, Path) and path.read_text() == prometheus_rules()


def test_the_export_loss_alert_stays_silent_under_its_threshold(promtool, tmp_path):
    # Guards the export-loss scenario: out of reach, its firing expectation must fail.
    (tmp_path / "rules.yml").write_text(prometheus_rules(export_lost_spans=1000))
    tests_file = tmp_path / "rules_test.yml"
    tests_file.write_text(
        to_yaml({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": unit_tests()})
    )

    result = promtool("test", "rules", str(tests_file))

    assert result.returncode != 0
    assert "LLMObsSpansDroppedOnExport" in result.stdout + result.stderr
