"""Production export: Grafana dashboard, Prometheus rules and their backtest, backfill, Parquet,
ClickHouse (spans as the OpenTelemetry collector stores them; rollup views' DDL)."""

from llmobs_nb.export.backfill import openmetrics_backfill
from llmobs_nb.export.backtest import backtest_alert_rules, summarise_backtest
from llmobs_nb.export.clickhouse import clickhouse, clickhouse_rollups
from llmobs_nb.export.grafana import grafana_dashboard, write_grafana_dashboard
from llmobs_nb.export.parquet import parquet
from llmobs_nb.export.rules import prometheus_rules, write_prometheus_rules

__all__ = [
    "backtest_alert_rules",
    "clickhouse",
    "clickhouse_rollups",
    "grafana_dashboard",
    "openmetrics_backfill",
    "parquet",
    "prometheus_rules",
    "summarise_backtest",
    "write_grafana_dashboard",
    "write_prometheus_rules",
]
