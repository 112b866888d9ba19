"""Agent and tool metrics: traced agents and tools counted from the live flush, bounded labels,
and the tool-loop alert and dashboard panels as Prometheus's own tool (promtool) reads them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families

import llmobs_nb
from llmobs_nb import demo
from llmobs_nb.export.grafana import grafana_dashboard
from llmobs_nb.export.rules import agent_rules, prometheus_rules, write_prometheus_rules
from llmobs_nb.export.yaml_text import to_yaml
from llmobs_nb.metrics import ObserverMetrics
from llmobs_nb.metrics import observer_metrics as om

GRAFANA_SCHEMA = (
    Path(__file__).parent / "vendor" / "grafana-dashboard-schema" / "dashboard.jsonschema.json"
)
LOOP = agent_rules()[0]


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples called ``name``, keyed by their sorted labels (``le`` included)."""
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text, name).get(tuple(sorted(labels.items())), 0.0)


@pytest.fixture
def traced(tmp_path):
    """A real observer: two turns of a support agent (one that loops on a search), a
    researcher sub-agent, a failing tool, a model call and an agent that fails."""
    obs = llmobs_nb.init(db=tmp_path / "agents.duckdb", project="tools", capture_content=True)

    @obs.tool("search_docs")
    def search_docs(query: str) -> str:
        return '{"results": []}'

    @obs.tool("get_order")
    def get_order(order_id: str) -> str:
        raise LookupError(f"no order {order_id}")

    try:
        with obs.session("conv-1", user_id="ann"):
            with obs.agent("support_agent"):  # turn 1: six searches, the last three repeat
                for _ in range(2):
                    search_docs("refund policy")
                obs.flush()  # the trace's calls arrive in two batches
                for _ in range(4):
                    search_docs("refund policy")
                with pytest.raises(LookupError):
                    get_order("48213")
                with obs.span("chat gpt-4o", kind="llm", model="gpt-4o", operation="chat"):
                    pass
                with obs.agent("researcher"), obs.tool("web_search"):
                    pass
            with obs.agent("support_agent"):  # turn 2: two searches, none repeats
                search_docs("refund policy")
                search_docs("warranty")
            with pytest.raises(RuntimeError), obs.agent("triage_agent"):
                raise RuntimeError("no route")
        obs.flush()
        yield obs
    finally:
        obs.close()


def test_traced_agents_and_tools_are_counted_by_tool_agent_and_status(traced):
    text = traced.metrics.text()

    calls = "llmobs_tool_calls_total"
    assert value(text, calls, tool="search_docs", agent="support_agent", status="ok") == 8
    assert value(text, calls, tool="get_order", agent="support_agent", status="error") == 1
    assert value(text, calls, tool="web_search", agent="researcher", status="ok") == 1
    assert sum(samples(text, calls).values()) == 10

    invocations = "llmobs_agent_invocations_total"
    assert value(text, invocations, agent="support_agent", status="ok") == 2
    assert value(text, invocations, agent="researcher", status="ok") == 1
    assert value(text, invocations, agent="triage_agent", status="error") == 1

    # six searches in turn 1 (over two flushes): three repeat; two in turn 2: none
    repeats = samples(text, "llmobs_tool_repeat_calls_total")
    assert repeats == {
        (("agent", "support_agent"), ("tool", "search_docs")): 3.0,
        (("agent", "support_agent"), ("tool", "get_order")): 0.0,
        (("agent", "researcher"), ("tool", "web_search")): 0.0,
    }

    # the histogram holds the stored durations
    stored = traced.sql(
        "SELECT tool_name, agent_name, count(*) AS n, sum(latency_s) AS s, max(latency_s) AS top"
        " FROM spans WHERE kind = 'tool' GROUP BY ALL"
    )
    for row in stored.iter_rows(named=True):
        labels = {"tool": row["tool_name"], "agent": row["agent_name"]}
        name = "llmobs_tool_call_duration_seconds"
        assert value(text, f"{name}_count", **labels) == row["n"]
        assert value(text, f"{name}_sum", **labels) == pytest.approx(row["s"], rel=1e-9)
        assert value(text, f"{name}_bucket", **labels, le="+Inf") == row["n"]

    # the model call is counted as before, and only it
    requests = samples(text, "llm_request_duration_seconds_count")
    assert requests == {(("model", "gpt-4o"), ("operation", "chat")): 1.0}


def test_promtool_accepts_the_exposition_with_the_tool_metrics(traced, promtool):
    result = promtool("check", "metrics", stdin=traced.metrics.text())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


def test_tool_and_agent_labels_are_bounded_and_carry_no_ids(monkeypatch):
    monkeypatch.setattr(om, "MAX_TRACKED_TOOL_USES", 100)
    metrics = ObserverMetrics(max_label_values=3, max_tools=4)
    n = 600
    metrics.record_steps(
        pl.DataFrame(
            {
                "trace_id": [f"trace-{i}" for i in range(n)],
                "span_id": [f"span-{i}" for i in range(n)],
                "session_id": [f"conv-{i}" for i in range(n)],
                "kind": ["tool"] * (n - 10) + ["agent"] * 10,
                "tool_name": [f"tool_{i % 50}" for i in range(n - 10)] + [None] * 10,
                "agent_name": [f"agent_{i % 10}" if i % 7 else None for i in range(n)],
                "status": ["ok", "error", "cancelled"] * (n // 3),
                "latency_s": [0.1] * n,
            }
        )
    )
    text = metrics.text()
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith(("llmobs_tool", "llmobs_agent")):
            for s in family.samples:
                for key, label in s.labels.items():
                    labels.setdefault(key, set()).add(label)
    assert set(labels) == {"tool", "agent", "status", "le"}
    assert labels["tool"] == {"tool_0", "tool_1", "tool_2", "tool_3", "other"}
    # the first values to arrive keep their name (i = 0 has no agent: unknown)
    assert labels["agent"] == {"agent_1", "agent_2", "agent_3", "other", "unknown"}
    assert labels["status"] == {"ok", "error"}
    assert not any("trace-" in v or "conv-" in v for values in labels.values() for v in values)
    assert sum(samples(text, "llmobs_tool_calls_total").values()) == n - 10
    assert len(metrics._tool_uses) <= 100  # the repeat counts forget the oldest traces


def test_promtool_check_rules_accepts_the_file_with_the_tool_loop_alert(promtool, tmp_path):
    path = write_prometheus_rules(tmp_path / "rules.yml", tool_loop_repeats=8)

    result = promtool("check", "rules", str(path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout
    assert LOOP.expr == ("sum by (agent, tool) (increase(llmobs_tool_repeat_calls_total[10m])) > 5")


def loop_tests() -> list[dict]:
    def series(name: str, values: str, agent: str, tool: str, **extra: str) -> dict:
        labels = ", ".join(f'{k}="{v}"' for k, v in {"agent": agent, "tool": tool, **extra}.items())
        return {"series": f"{name}{{{labels}}}", "values": values}

    calls, repeats = "llmobs_tool_calls_total", "llmobs_tool_repeat_calls_total"
    fired = {
        "exp_labels": {"severity": LOOP.severity, "agent": "support_agent", "tool": "search_docs"},
        "exp_annotations": {"summary": LOOP.summary, "description": LOOP.description},
    }
    cases = [
        # a loop from minute 10: 3 searches a minute, 2 of them repeats; the researcher is fine
        (
            [
                series(calls, "0+1x10 0+3x20", "support_agent", "search_docs", status="ok"),
                series(repeats, "0x10 0+2x20", "support_agent", "search_docs"),
                series(calls, "0+2x30", "researcher", "web_search", status="ok"),
                series(repeats, "0x30", "researcher", "web_search"),
            ],
            "20m",
            [fired],
        ),
        # normal traffic, however busy: many calls, no repeat
        (
            [
                series(calls, "0+40x30", "support_agent", "search_docs", status="ok"),
                series(repeats, "0x30", "support_agent", "search_docs"),
            ],
            "20m",
            [],
        ),
        # now and then a turn that searches a fourth time: 2 repeats in 10m, not a loop
        (
            [
                series(calls, "0+40x30", "support_agent", "search_docs", status="ok"),
                series(repeats, "0+0.2x30", "support_agent", "search_docs"),
            ],
            "20m",
            [],
        ),
        # the loop is over: its repeats have left the 10m window
        (
            [series(repeats, "0x5 0+4x5 20x20", "support_agent", "search_docs")],
            "25m",
            [],
        ),
    ]
    return [
        {
            "interval": "1m",
            "input_series": input_series,
            "alert_rule_test": [{"eval_time": at, "alertname": LOOP.name, "exp_alerts": alerts}],
        }
        for input_series, at, alerts in cases
    ]


def run_loop_tests(promtool, tmp_path: Path, **thresholds: float):
    (tmp_path / "rules.yml").write_text(prometheus_rules(**thresholds))
    tests_file = tmp_path / "tool_loop_test.yml"
    tests_file.write_text(
        to_yaml({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": loop_tests()})
    )
    return promtool("test", "rules", str(tests_file))


def test_the_tool_loop_alert_fires_on_a_loop_and_not_on_normal_traffic(promtool, tmp_path):
    result = run_loop_tests(promtool, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_loop_expectation_fails_when_the_threshold_is_out_of_reach(promtool, tmp_path):
    # Guards the test above: a rule that cannot fire must make promtool fail.
    result = run_loop_tests(promtool, tmp_path, tool_loop_repeats=1000)
    assert result.returncode != 0
    assert "LLMAgentToolLoop" in result.stdout + result.stderr


def test_every_dashboard_query_with_the_tool_panels_is_valid_promql(promtool, tmp_path):
    dashboard = grafana_dashboard(datasource_uid="prom-main")
    validator = jsonschema.Draft7Validator(json.loads(GRAFANA_SCHEMA.read_text()))
    assert [e.message for e in validator.iter_errors(dashboard)] == []
    panels = {p["title"]: p for p in dashboard["panels"]}
    tool_calls = panels["Tool calls per second"]
    assert [t["expr"] for t in tool_calls["targets"]] == [
        'sum by (agent, tool) (rate(llmobs_tool_calls_total{agent=~"$agent"}[$__rate_interval]))',
        'sum by (agent, tool) (rate(llmobs_tool_repeat_calls_total{agent=~"$agent"}'
        "[$__rate_interval]))",
    ]
    assert (
        "llmobs_tool_call_duration_seconds_bucket"
        in (panels["Tool call latency P95"]["targets"][0]["expr"])
    )
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["agent"]["query"] == "label_values(llmobs_tool_calls_total, agent)"

    substitutions = {"$model": ".*", "$use_case": ".*", "$agent": ".*", "$__rate_interval": "1m"}
    records = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, replacement in substitutions.items():
                expr = expr.replace(variable, replacement)
            records.append({"record": f"panel_{panel['id']}_{target['refId']}", "expr": expr})
    path = tmp_path / "panels.yml"
    path.write_text(to_yaml({"groups": [{"name": "panels", "rules": records}]}))

    result = promtool("check", "rules", str(path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(records)} rules found" in result.stdout


def test_the_demo_tool_loop_shows_as_repeated_calls_and_nothing_else_does():
    sample = demo.generate(
        2_000, days=1, seed=4, start=datetime(2025, 3, 3, tzinfo=UTC), agents=True
    )
    metrics = ObserverMetrics()
    metrics.record_steps(sample.spans)  # the store's span rows, as a flush hands them over

    loop = sample.truth.tool_loop
    repeats = {k: v for k, v in samples(metrics.text(), om.d.TOOL_REPEATS.name).items() if v}
    assert repeats == {
        (("agent", loop.agent), ("tool", loop.tool)): sum(n - 3 for n in loop.tool_calls)
    }
    assert all(n - 3 > LOOP.threshold for n in loop.tool_calls)  # each loop alone would fire
