"""Poisoned rows among good ones: a bad value costs only its own field, never another row.

Each poisoned call is made between hundreds of good ones, through the background flush and
through an explicit ``flush()``, into a real DuckDB file. Every good row must be stored, each
bad field stored as NULL with the problem named in ``attributes["llmobs.attribute_error"]``,
the counts exact, and nothing raised to the user.
"""

from __future__ import annotations

import json
import math
import time
import warnings

import pyarrow as pa
import pytest

import llmobs_nb
from llmobs_nb.capture.rows import to_columns
from llmobs_nb.capture.write_queue import WriteQueue
from llmobs_nb.pricing import PriceBook
from llmobs_nb.store import Store

GOOD_BEFORE = 300
GOOD_AFTER = 300
ERR = "llmobs.attribute_error"


class HostileStr(str):
    """A str whose ``__str__`` and ``__repr__`` raise: the text itself is still a str."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def _usage(prompt, completion=5):
    return {"usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def _make_calls(obs) -> dict[str, dict]:
    """Good calls around poisoned ones; returns what each poisoned span must look like."""

    @obs.observe(model="gpt-4o")
    def good(seq):
        return _usage(10, 2)

    for seq in range(GOOD_BEFORE):
        assert good(seq)["usage"]["prompt_tokens"] == 10
    expected: dict[str, dict] = {}
    for tag, prompt, problem in [
        ("u63", 2**63, "exceeds 1000000000 tokens"),
        ("u62", 2**62, "exceeds 1000000000 tokens"),
        ("neg", -1, "is negative"),
        ("float", 12.5, "is not a whole number"),
    ]:

        @obs.observe(model="gpt-4o", name=f"poisoned-{tag}", tag=tag)
        def usage_call(prompt):
            return _usage(prompt)

        assert usage_call(prompt) == _usage(prompt)  # the user's result, untouched
        expected[tag] = {"null": "input_tokens", "problem": problem}

    # Values set straight on spans reach the conversion without parse_usage's checks.
    with obs.span("raw-tokens", kind="llm", model="gpt-4o", tag="raw63") as span:
        span.set_attribute("gen_ai.usage.input_tokens", 2**63)
    expected["raw63"] = {"null": "input_tokens", "problem": "exceeds 1000000000 tokens"}
    with obs.span("ttft", kind="llm", model="gpt-4o", tag="ttft") as span:
        span.set_attribute("gen_ai.response.time_to_first_chunk", 10**400)
    expected["ttft"] = {"null": "ttft_s", "problem": "time to first chunk"}
    with obs.span("bad-name-\ud800", kind="llm", model="gpt-4o", tag="name"):
        pass
    expected["name"] = {"null": "name", "problem": "name not stored"}
    with obs.span("bad-user", kind="llm", model="gpt-4o", user_id="u-\udfff", tag="user"):
        pass
    expected["user"] = {"null": "user_id", "problem": "user_id not stored"}
    with obs.span("lone", kind="llm", model="gpt-4o", tag="lone") as span:
        span.set_attribute("app.note", "half \ud83d of an emoji")
    expected["lone"] = {
        "problem": "lone surrogate",
        "attr": ("app.note", "half \ufffd of an emoji"),
    }
    with obs.span("nan", kind="llm", model="gpt-4o", tag="nan") as span:
        span.set_attribute("app.score", math.nan)
    expected["nan"] = {"attr": ("app.score", None)}
    big = "x" * 2_000_000
    with obs.span("big", kind="llm", model="gpt-4o", tag="big") as span:
        span.set_attribute("app.big", big)
    expected["big"] = {"attr": ("app.big", big)}
    with obs.span("hostile", kind="llm", model="gpt-4o", tag="hostile") as span:
        span.set_attribute("app.hostile", HostileStr("still text"))
    expected["hostile"] = {"attr": ("app.hostile", "still text")}

    for seq in range(GOOD_BEFORE, GOOD_BEFORE + GOOD_AFTER):
        good(seq)
    return expected


def _check_store(obs, expected: dict[str, dict]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no PendingRowsWarning: nothing may be pending
        spans = obs.spans()
    assert spans.height == GOOD_BEFORE + GOOD_AFTER + len(expected)
    goods = spans.filter(spans["name"] == "chat gpt-4o")
    assert goods.height == GOOD_BEFORE + GOOD_AFTER
    assert goods["input_tokens"].to_list() == [10] * goods.height
    assert goods["attributes"].str.contains(ERR).sum() == 0
    by_tag = {}
    for row in spans.iter_rows(named=True):
        attrs = json.loads(row["attributes"])
        if "tag" in attrs:
            by_tag[attrs["tag"]] = (row, attrs)
    assert set(by_tag) == set(expected)
    for tag, want in expected.items():
        row, attrs = by_tag[tag]
        if "null" in want:
            assert row[want["null"]] is None, tag
        if "problem" in want:
            # Usage read from a result is checked at call time (llmobs.usage_error, as
            # before); everything else at conversion (llmobs.attribute_error).
            named = attrs.get(ERR, "") + attrs.get("llmobs.usage_error", "")
            assert want["problem"] in named, (tag, named)
        if "attr" in want:
            key, value = want["attr"]
            assert attrs[key] == value, tag
        assert row["trace_id"] and row["span_id"] and row["start_time"] is not None, tag
    u62, _ = by_tag["u62"]
    assert u62["cost_usd"] is None or u62["cost_usd"] < 1.0  # not 5.76e13 USD
    health = obs.health()
    assert health.dropped == {}
    assert health.pending == 0
    assert health.last_error is None


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "poison.duckdb"


def test_poisoned_rows_background_flush(store_path):
    obs = llmobs_nb.init(db=store_path, project="poison", flush_interval_s=0.2)
    try:
        expected = _make_calls(obs)
        total = GOOD_BEFORE + GOOD_AFTER + len(expected)
        deadline = time.monotonic() + 20
        while obs.health().rows_written < total and time.monotonic() < deadline:
            time.sleep(0.05)
        assert obs.health().rows_written == total  # written by the background thread alone
        _check_store(obs, expected)
    finally:
        obs.close()


def test_poisoned_rows_explicit_flush(store_path):
    obs = llmobs_nb.init(db=store_path, project="poison", flush_interval_s=3600)
    try:
        expected = _make_calls(obs)
        obs.flush()  # must not raise
        assert obs.health().rows_written == GOOD_BEFORE + GOOD_AFTER + len(expected)
        _check_store(obs, expected)
    finally:
        obs.close()
    reopened = llmobs_nb.open(store_path)
    assert reopened.spans().height == GOOD_BEFORE + GOOD_AFTER + len(expected)


def _batch(n: int) -> pa.Table:
    records = [
        (f"s{i}", 1, i + 1, None, 0, 10**9, None, {"llmobs.kind": "llm", "seq": i})
        for i in range(n)
    ]
    return to_columns(records, "p", PriceBook())


def _replace(table: pa.Table, column: str, index: int, value) -> pa.Table:
    values = table.column(column).to_pylist()
    values[index] = value
    at = table.schema.get_field_index(column)
    return table.set_column(at, column, pa.array(values, table.schema.field(column).type))


def test_a_value_duckdb_refuses_costs_only_its_column(tmp_path):
    """A batch DuckDB refuses is bisected: the refused value alone is lost, named."""
    store = Store(tmp_path / "refuse.duckdb")
    try:
        table = _replace(_batch(1000), "attributes", 417, '{"broken json')
        queue = WriteQueue(store.write_spans)
        queue.add(table)
        assert queue.write(force=True) == 1000
        assert queue.dropped == {}
        rows = store.query("SELECT name, model, kind, attributes FROM spans ORDER BY span_id")
        assert rows.height == 1000
        bad = rows.filter(rows["name"] == "s417").row(0, named=True)
        assert bad["kind"] == "llm"
        assert "the store refused it" in json.loads(bad["attributes"])[ERR]
        others = rows.filter(rows["name"] != "s417")["attributes"]
        assert others.str.contains(ERR).sum() == 0
    finally:
        store.close()


def test_a_row_no_repair_can_store_is_dropped_and_counted(tmp_path):
    """A row the store refuses even reduced to its ids (here: no span id) is counted."""
    store = Store(tmp_path / "reject.duckdb")
    try:
        table = _replace(_batch(500), "span_id", 123, None)
        dropped = []
        queue = WriteQueue(store.write_spans, on_drop=lambda reason, n: dropped.append((reason, n)))
        queue.add(table)
        assert queue.write(force=True) == 499
        assert queue.dropped == {"rejected": 1}
        assert dropped == [("rejected", 1)]
        assert store.query("SELECT count(*) AS n FROM spans")["n"][0] == 499
        assert queue.health().pending == 0
    finally:
        store.close()


def test_dropped_counter_and_pending_gauge_are_exported(store_path):
    obs = llmobs_nb.init(db=store_path, project="poison", flush_interval_s=3600)
    try:
        obs.capture.processor.queue.drop("rejected", 2)
        text = obs.metrics_text()
        assert 'llmobs_dropped_spans_total{reason="rejected"} 2.0' in text
        assert 'llmobs_pending_spans{where="memory"} 0.0' in text
        assert 'llmobs_pending_spans{where="sidecar"} 0.0' in text
    finally:
        obs.close()


class ExplodingAttributes(dict):
    """Attributes whose iteration raises: the conversion of this row fails midway."""

    def items(self):
        raise RuntimeError("boom")


def test_a_row_whose_conversion_raises_keeps_its_ids_and_costs_no_other_row():
    good = [(f"g{i}", 1, i + 1, None, 0, 10**9, None, {"llmobs.kind": "llm"}) for i in range(50)]
    exploding = ("x", 1, 999, None, 0, 10**9, None, ExplodingAttributes({"llmobs.kind": "llm"}))
    malformed = ("not", "a", "record")
    dropped: dict[str, int] = {}
    table = to_columns(
        [*good[:25], exploding, malformed, *good[25:]], "p", PriceBook(), None, None, dropped
    )
    assert dropped == {"conversion": 1}  # the malformed record: nothing of it can be kept
    assert table.num_rows == 51
    rows = {row["name"]: row for row in table.to_pylist()}
    kept = rows["x"]
    assert kept["span_id"] == format(999, "016x") and kept["kind"] == "llm"
    assert "row conversion failed (RuntimeError: boom)" in json.loads(kept["attributes"])[ERR]
    assert all(ERR not in rows[f"g{i}"]["attributes"] for i in range(50))
