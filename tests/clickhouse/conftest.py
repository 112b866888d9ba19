"""One demo sample per test session, in a DuckDB store and in chdb (the collector's tables).

The sample is the demo generator's (with agent sessions and incidents), written to a store
by the generator and exported to chdb's ``otel_traces``/``otel_logs`` by
``export.clickhouse``: the same spans on both sides. :data:`N_CALLS` drawn calls make
~1,003,000 spans (issue #17's 1M). Built in 71–83 s on a 2-core machine (generation and the
store ~4 s; ``export.clickhouse`` ~60 µs a span, nearly all converting rows to the
collector's shape in Python); the build time is printed.

``small`` is a second, small sample (its own store; tables of its own in the same chdb: one
embedded server per process) for tests that export again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

import llmobs_nb
from llmobs_nb import export
from llmobs_nb.clickhouse import ClickHouseSource
from llmobs_nb.demo.generate import generate

N_CALLS = 318_000
"""Drawn calls of the sample: ~1,003,000 spans with agent sessions."""
SMALL_CALLS = 2_000
START = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    store: Path
    source: ClickHouseSource
    url: str
    spans: int
    build_s: float


def _build(folder: Path, calls: int, seed: int, table: str, logs: str) -> Sample:
    store = folder / f"{table}.duckdb"
    began = time.perf_counter()
    data = generate(calls, days=14, seed=seed, start=START, agents=True, store=store)
    url = f"chdb://{folder / 'chdb'}?table={table}&logs={logs}"
    written = export.clickhouse(store, url)
    build_s = time.perf_counter() - began
    counts = f"{written.spans:,} spans, {written.scores:,} scores"
    print(f"\nclickhouse sample {table}: {counts} in {build_s:.1f} s")
    assert written.spans == data.spans.height
    source = llmobs_nb.open(url)
    assert isinstance(source, ClickHouseSource)
    return Sample(store, source, url, written.spans, build_s)


@pytest.fixture(scope="session")
def chdb_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clickhouse")


@pytest.fixture(scope="session")
def sample(chdb_folder: Path) -> Sample:
    return _build(chdb_folder, N_CALLS, 3, "otel_traces", "otel_logs")


@pytest.fixture(scope="session")
def small(chdb_folder: Path, sample: Sample) -> Sample:
    # After ``sample``: its chdb path is the process's one embedded server.
    return _build(chdb_folder, SMALL_CALLS, 5, "small_traces", "small_logs")
