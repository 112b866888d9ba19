"""One demo sample per test session, in a DuckDB store and in chdb (the collector's tables).

The sample is the demo generator's (with agent sessions and incidents), written to a store
by the generator and exported to chdb's ``otel_traces``/``otel_logs`` by
``export.clickhouse``: the same spans on both sides. Its size is :data:`N_CALLS` calls
(~156,000 spans): building the issue's 1M spans takes ~70 s here (generation, the store,
then ~50 µs a span to convert and insert), past this module's budget, so the million is
``benchmarks/clickhouse.py``'s (``--spans 1000000``). The build time is printed.
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

N_CALLS = 50_000
START = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    store: Path
    source: ClickHouseSource
    url: str
    spans: int
    build_s: float


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    folder = tmp_path_factory.mktemp("clickhouse")
    store = folder / "store.duckdb"
    began = time.perf_counter()
    data = generate(N_CALLS, days=14, seed=3, start=START, agents=True, store=store)
    url = f"chdb://{folder / 'chdb'}?table=otel_traces&logs=otel_logs"
    written = export.clickhouse(store, url)
    build_s = time.perf_counter() - began
    counts = f"{written.spans:,} spans, {written.scores:,} scores"
    print(f"\nclickhouse sample: {counts} in {build_s:.1f} s")
    assert written.spans == data.spans.height
    source = llmobs_nb.open(url)
    assert isinstance(source, ClickHouseSource)
    return Sample(store, source, url, written.spans, build_s)
