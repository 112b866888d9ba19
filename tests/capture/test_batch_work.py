"""The flush thread's batch work: span labels, price records, the call log (real parts)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from llmobs_nb.capture.batch_work import BatchWork
from llmobs_nb.capture.call_log import log_calls, model_calls
from llmobs_nb.capture.price_records import PriceRecords
from llmobs_nb.capture.span_labels import SpanLabels
from llmobs_nb.pricing import PriceBook
from llmobs_nb.store import Store


def _batch(n: int, kind: str = "llm", version: str | None = "v1") -> pa.Table:
    now = datetime.now(UTC)
    return pa.table(
        {
            "trace_id": [f"{i:032x}" for i in range(n)],
            "span_id": [f"{i:016x}" for i in range(n)],
            "kind": [kind] * n,
            "model": ["my-model"] * n,
            "provider": pa.array([None] * n, pa.string()),
            "use_case": ["qa"] * n,
            "operation": ["chat"] * n,
            "start_time": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
            "latency_s": [0.5] * n,
            "input_tokens": [10] * n,
            "output_tokens": [2] * n,
            "cost_usd": [0.001] * n,
            "status": ["ok"] * n,
            "error_type": pa.array([None] * n, pa.string()),
            "price_version": pa.array([version] * n, pa.string()),
            "attributes": ['{"llmobs.request_id": "req-1"}'] * n,
        }
    )


PRICES = {"my-model": {"input_mtok": 1.0, "output_mtok": 2.0}}


def test_span_labels_keep_the_latest_calls_up_to_their_capacity():
    labels = SpanLabels(capacity=3)
    labels.add(_batch(5))
    assert labels.get(f"{0:016x}") is None and labels.get(f"{1:016x}") is None
    assert labels.get(f"{4:016x}") == (f"{4:032x}", "my-model", "qa")


def test_a_price_version_is_recorded_once_and_kept_when_its_write_fails(tmp_path):
    records = PriceRecords(PriceBook(PRICES))
    records.note(_batch(3))
    records.note(_batch(2))  # the same version again: nothing new
    assert [r["price_version"] for r in records.pending] == ["v1"]
    store = Store(tmp_path / "s.duckdb")
    store.close()  # a write now fails
    records.write(store)
    assert len(records.pending) == 1  # kept for the next batch
    store = Store(tmp_path / "s.duckdb")
    records.write(store)
    assert records.pending == []
    assert store.query("select price_version, input_mtok from prices").rows() == [("v1", 1.0)]


def test_batch_work_writes_spans_then_their_prices_and_keeps_labels(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    work = BatchWork(store, PriceBook(PRICES))
    batch = _batch(2)
    work.on_batch(pa.concat_tables([batch, _batch(1, kind="chain", version=None)]))
    assert work.labels.get(f"{1:016x}") == (f"{1:032x}", "my-model", "qa")
    work.write(batch.select(["trace_id", "span_id", "kind", "model", "price_version"]))
    assert store.query("select count(*) n from spans")["n"][0] == 2
    assert store.query("select count(*) n from prices")["n"][0] == 1


def test_one_log_record_per_model_call(caplog):
    caplog.set_level(logging.INFO, logger="llmobs_nb")
    log_calls(model_calls(pa.concat_tables([_batch(2), _batch(1, kind="retrieval")])))
    records = [r for r in caplog.records if hasattr(r, "llm_call")]
    assert len(records) == 2
    assert records[0].llm_call["request_id"] == "req-1"
    assert records[0].getMessage() == "llm call my-model ok"


@pytest.mark.parametrize("kind", ["llm", "embedding", "evaluator"])
def test_model_calls_are_the_model_call_kinds(kind):
    assert model_calls(_batch(1, kind=kind)).num_rows == 1
