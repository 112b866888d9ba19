"""Demo frames have exactly the store's tables and land in a store unchanged."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

import llmobs_nb
from llmobs_nb import demo
from llmobs_nb.store import Store
from llmobs_nb.store.migrations import MIGRATIONS


def store_schema(path: Path, table: str) -> pl.Schema:
    # The schema as the migrations create it, independent of the Store class.
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    for _, migrate in MIGRATIONS:
        migrate(con)
    schema = con.sql(f"SELECT * FROM {table} LIMIT 0").pl().schema
    con.close()
    return schema


@pytest.mark.parametrize(
    ("attribute", "table"),
    [
        ("spans", "spans"),
        ("calls", "llm_calls"),
        ("scores", "scores"),
        ("runs", "runs"),
        ("prices", "prices"),
    ],
)
def test_each_frame_has_the_store_columns_in_order_with_the_same_dtypes(
    sample, tmp_path, attribute, table
):
    frame = getattr(sample, attribute)
    assert frame.schema == store_schema(tmp_path / "schema.duckdb", table)


def test_timestamps_are_utc_microseconds(sample):
    assert sample.spans.schema["start_time"] == pl.Datetime("us", "UTC")
    assert sample.scores.schema["created_at"] == pl.Datetime("us", "UTC")


def test_written_to_a_store_file_the_llm_calls_view_returns_the_calls_frame(tmp_path, start):
    path = tmp_path / "demo.duckdb"
    sample = demo.generate(3_000, days=2, seed=5, start=start, store=path)

    store = Store(path, read_only=True)
    calls = store.query("SELECT * FROM llm_calls ORDER BY start_time, span_id")
    scores = store.query("SELECT * FROM scores ORDER BY created_at, span_id, name")
    counts = store.query(
        "SELECT (SELECT count(*) FROM spans) AS spans, (SELECT count(*) FROM runs) AS runs, "
        "(SELECT count(*) FROM prices) AS prices"
    ).row(0, named=True)

    assert calls.equals(sample.calls.sort("start_time", "span_id"))
    assert scores.equals(sample.scores.sort("created_at", "span_id", "name"))
    assert counts == {"spans": sample.spans.height, "runs": 2, "prices": sample.prices.height}


def test_every_stored_price_version_has_its_row_in_the_prices_table(sample):
    used = set(sample.spans["price_version"].drop_nulls())
    assert used == set(sample.prices["price_version"])
    assert all(version.startswith("genai-prices ") for version in used)


def test_written_through_an_observer_the_observer_reads_the_demo_traffic(tmp_path, start):
    obs = llmobs_nb.init(db=tmp_path / "obs.duckdb", project="tests")
    try:
        sample = demo.generate(2_000, days=1, seed=2, start=start, incidents=False, store=obs)
        assert obs.calls().height == 2_000
        assert obs.scores().height == sample.scores.height
        assert set(obs.runs()["name"]) == {"prompt-v1", "prompt-v2"}
    finally:
        obs.close()


def test_a_store_that_is_not_a_path_an_observer_or_a_store_is_refused_by_name(start):
    with pytest.raises(TypeError, match="store=42"):
        demo.generate(1_000, days=1, start=start, store=42)
