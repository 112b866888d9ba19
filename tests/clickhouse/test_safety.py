"""Filters reach ClickHouse as typed parameters (injection attempts are inert values), every
read is read-only by ClickHouse's own setting, and credentials never show."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

import llmobs_nb
from llmobs_nb import analytics
from llmobs_nb.analytics import Filter
from llmobs_nb.clickhouse import ClickHouseError, ClickHouseSource
from llmobs_nb.clickhouse.connect import _Chdb
from llmobs_nb.clickhouse.render import param_text
from llmobs_nb.view.data_source import DataSource
from llmobs_nb.view.panels import trace_lists

ATTEMPTS = (
    "x' OR 1=1 --",
    "x\\' OR 1=1 --",
    "') OR ('1'='1",
    "gpt-4o'; DROP TABLE otel_traces; --",
    "}} OR 1=1 --",
    "{p0:String}",
    "x\\",
    "a\tb\nc\0d",
)


@pytest.mark.parametrize("value", ATTEMPTS)
def test_injection_through_filters_is_inert(sample: Any, value: str) -> None:
    for where in (Filter(models=(value,)), Filter(users=(value, "user-001")), {"run": value}):
        found = analytics.summary(sample.source, where=where)
        expected = analytics.summary(str(sample.store), where=where)
        assert found["calls"].to_list() == expected["calls"].to_list()
    assert analytics.summary(sample.source, where=Filter(models=(value,)))["calls"][0] == 0
    assert analytics.summary(sample.source)["calls"][0] > 0  # the table is still there


@pytest.mark.parametrize("value", ATTEMPTS)
def test_parameter_text_round_trips(sample: Any, value: str) -> None:
    session = _Chdb.open(None)
    found = session.query("SELECT {v:String} AS v", "CSV", params={"v": param_text(value)})
    assert found.bytes().decode().strip().strip('"') == _csv(value)


def test_a_list_parameter_round_trips(sample: Any) -> None:
    session = _Chdb.open(None)
    values = [*ATTEMPTS, "'", "\\", "]"]
    found = session.query(
        "SELECT {v:Array(String)} AS v", "JSONEachRow", params={"v": param_text(values)}
    )
    assert json.loads(found.bytes())["v"] == values


@pytest.mark.parametrize("value", ATTEMPTS)
def test_injection_through_span_questions_is_inert(sample: Any, value: str) -> None:
    where = Filter(models=(value,), users=(value,))
    assert analytics.sessions(sample.source, where=where).height == 0
    assert analytics.tool_usage(sample.source, where={"run": value}).height == 0
    assert analytics.session_turns(sample.source, value).height == 0
    lists = trace_lists(DataSource(sample.source).filtered(where), 5)
    assert all(listed.height == 0 for listed in lists.values())
    assert analytics.sessions(sample.source).height > 0  # the table is still there


def _csv(text: str) -> str:
    # ClickHouse's CSV writes a value as is, quotes doubled
    return text.replace('"', '""')


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO otel_traces (TraceId) VALUES ('x')",
        "DROP TABLE otel_traces",
        "CREATE TABLE evil (x UInt8) ENGINE = Memory",
    ],
)
def test_reads_are_read_only(sample: Any, statement: str) -> None:
    with pytest.raises(ClickHouseError, match=r"readonly|READONLY|Cannot|Syntax|SYNTAX"):
        sample.source.sql(statement)
    assert analytics.summary(sample.source)["calls"][0] > 0


def test_credentials_never_show(caplog: pytest.LogCaptureFixture) -> None:
    secret = "pa55-w0rd-never-shown"
    url = f"clickhouse://alice:{secret}@127.0.0.1:9/otel?table=otel_traces"
    source = llmobs_nb.open(url)
    assert isinstance(source, ClickHouseSource)
    shown = [repr(source), str(source), source.label, repr(source.target)]
    with caplog.at_level(logging.DEBUG), pytest.raises(ClickHouseError) as raised:
        analytics.summary(source)  # nothing listens on port 9
    shown += [str(raised.value), repr(raised.value), caplog.text]
    assert raised.value.__cause__ is None and raised.value.__context__ is not None
    for text in shown:
        assert secret not in text
    assert "127.0.0.1:9" in str(raised.value)


def test_credentials_from_the_environment() -> None:
    env = {"CLICKHOUSE_USER": "bob", "CLICKHOUSE_PASSWORD": "env-secret"}
    source = ClickHouseSource.parse("clickhouse://db:8123/otel", environ=env)
    assert (source._user, source._password) == ("bob", "env-secret")
    assert "env-secret" not in repr(source) and "bob" not in repr(source)
    assert source.target.database == "otel" and source.target.port == 8123


def test_one_chdb_per_process(sample: Any, tmp_path: Any) -> None:
    with pytest.raises(ClickHouseError, match="one embedded server per process"):
        analytics.summary(llmobs_nb.open(f"chdb://{tmp_path}?table=otel_traces"))
