"""A generated sample (:class:`SampleData`) and writing it through the store's own write path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from llmobs_nb.demo.incidents import Truth
from llmobs_nb.observer import Observer
from llmobs_nb.store import Store


@dataclass(frozen=True)
class SampleData:
    """One generated sample: the store's tables as polars frames, and what was injected.

    ``spans``: every span (RAG ``chain`` roots with ``retrieval``, ``rerank`` and ``llm``
    children, plus plain chat ``llm`` calls; with ``agents=True`` also the agent sessions'
    ``agent``, ``tool`` and ``llm`` spans), the store's ``spans`` columns, sorted by start
    time. ``calls``: the ``llm_calls`` view of ``spans`` (``n_calls`` rows, plus the agents'
    model calls). ``scores``, ``runs``, ``prices``: the
    store's tables (``prices`` holds the rate behind each ``price_version``). ``truth``: the
    injected incidents. ``start``/``end``: the generated period.
    """

    spans: pl.DataFrame
    calls: pl.DataFrame
    scores: pl.DataFrame
    runs: pl.DataFrame
    prices: pl.DataFrame
    truth: Truth
    start: datetime
    end: datetime


def check_target(target: object) -> None:
    """Raise TypeError unless ``target`` is something :func:`write_tables` can write to."""
    if not isinstance(target, str | Path | Observer | Store):
        raise TypeError(
            f"store={target!r} is not a file path, an Observer or a Store: pass a path such as "
            "'demo.duckdb', an observer from llmobs_nb.init(...), or None to only get frames"
        )


def write_tables(target: str | Path | Observer | Store, sample: SampleData) -> None:
    """Append the sample's runs, prices, spans and scores to ``target``.

    ``target`` is a DuckDB file path (opened, created with its schema if missing, and closed
    again), an Observer (flushed first, so its own buffered spans land before the demo's), or
    a :class:`~llmobs_nb.store.Store`.

    Example: ``write_tables("demo.duckdb", generate(10_000))``.
    """
    check_target(target)
    if isinstance(target, Observer):
        target.flush()
        _write(target.store, sample)
    elif isinstance(target, Store):
        _write(target, sample)
    else:
        store = Store(target)
        try:
            _write(store, sample)
        finally:
            store.close()


def _write(store: Store, sample: SampleData) -> None:
    store.write_runs(sample.runs.to_arrow())
    store.write_prices(sample.prices.to_arrow())
    store.write_spans(sample.spans.to_arrow())
    store.write_scores(sample.scores.to_arrow())
