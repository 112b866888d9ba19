"""Day-partitioned Parquet: analytics on the files equal analytics on the store."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import llmobs_nb
from llmobs_nb import analytics, demo, export


@pytest.fixture(scope="module")
def store_and_parquet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pq")
    db = folder / "history.duckdb"
    demo.generate(5_000, days=3, seed=3, start=datetime(2026, 3, 2, tzinfo=UTC), store=db)
    out = export.parquet(db, folder / "parquet")
    return db, out


def test_files_are_partitioned_by_day(store_and_parquet):
    _, out = store_and_parquet
    days = sorted(p.name for p in (out / "llm_calls").iterdir())
    assert days == ["day=2026-03-02", "day=2026-03-03", "day=2026-03-04"]
    assert (out / "spans").is_dir() and (out / "scores").is_dir()


@pytest.mark.parametrize(
    "question",
    [
        lambda c, s: analytics.latency_percentiles(c, by=["model"], every="1h"),
        lambda c, s: analytics.cost_breakdown(c, by=["model", "use_case"]),
        lambda c, s: analytics.token_usage(c, by=["model"], every="1d"),
        lambda c, s: analytics.error_rates(c, by=["model"]),
        lambda c, s: analytics.quality_drift(c, scores=s, by=["model"]),
    ],
    ids=["latency", "cost", "tokens", "errors", "drift"],
)
def test_analytics_on_parquet_equal_analytics_on_the_store(store_and_parquet, question):
    db, out = store_and_parquet
    store = llmobs_nb.open(db)
    on_store = question(store, store.scores())
    calls = f"{out}/llm_calls/**/*.parquet"
    scores = pl.scan_parquet(f"{out}/scores/**/*.parquet").drop("day", strict=False)
    on_files = question(calls, scores)
    assert on_store.height > 0
    assert_frame_equal(on_files, on_store, check_row_order=False, rel_tol=1e-9)


def test_export_rejects_an_unknown_table(store_and_parquet, tmp_path):
    db, _ = store_and_parquet
    with pytest.raises(ValueError, match="unknown table 'nope'"):
        export.parquet(db, tmp_path / "x", tables=("nope",))
