"""Fixtures: the same synthetic calls as a frame, a real DuckDB store, an observer, Parquet."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import llmobs_nb
from llmobs_nb.store import Store


def write_store(path: Path, calls: pl.DataFrame, scores: pl.DataFrame | None = None) -> Path:
    """A real store file (schema by the store's migrations) holding ``calls`` and ``scores``."""
    store = Store(path)
    store.write_spans(calls.to_arrow())
    if scores is not None:
        store.write_scores(scores.to_arrow())
    store.close()
    return path


def write_parquet(directory: Path, calls: pl.DataFrame, scores: pl.DataFrame | None) -> Path:
    """The layout export.parquet writes: <dir>/llm_calls/day=YYYY-MM-DD/*.parquet, <dir>/scores."""
    by_day = calls.with_columns(pl.col("start_time").dt.date().cast(pl.String).alias("day"))
    for (day,), part in by_day.group_by("day"):
        folder = directory / "llm_calls" / f"day={day}"
        folder.mkdir(parents=True)
        part.drop("day").write_parquet(folder / "part-0.parquet")
    if scores is not None:
        (directory / "scores").mkdir(parents=True)
        scores.write_parquet(directory / "scores" / "part-0.parquet")
    return directory


@pytest.fixture
def sources(tmp_path: Path):
    """Build every kind of source over the same calls and scores: frame, lazy, file, observer,
    Parquet directory. Yields a function (calls, scores) -> {name: (calls_source, scores)}."""
    opened: list[llmobs_nb.Observer] = []

    def make(calls: pl.DataFrame, scores: pl.DataFrame | None = None) -> dict:
        n = len(opened)
        db = write_store(tmp_path / f"store{n}.duckdb", calls, scores)
        parquet = write_parquet(tmp_path / f"export{n}", calls, scores)
        observer = llmobs_nb.open(db)
        opened.append(observer)
        return {
            "frame": (calls, scores),
            "lazy": (calls.lazy(), scores),
            "duckdb_file": (str(db), None),
            "observer": (observer, None),
            "parquet_dir": (str(parquet), None),
        }

    yield make
    for observer in opened:
        observer.close()
