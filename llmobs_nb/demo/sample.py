"""A ready sample store for notebooks: generated once, reused on every re-run."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from llmobs_nb.demo.generate import generate

SAMPLE_START = datetime(2026, 11, 1, tzinfo=UTC)


def sample_store(
    path: str | Path = "data/sample.duckdb",
    *,
    n_calls: int = 50_000,
    days: int = 14,
    seed: int = 7,
    start: datetime = SAMPLE_START,
    agents: bool = False,
    replace: bool = False,
) -> Path:
    """The path of a sample store, generated (atomically) only if it is not there yet.

    The defaults give the same data everywhere — a fixed start date and seed — so notebook
    outputs are reproducible. ``agents=True`` adds the agent sessions and their tool loop
    (:func:`~llmobs_nb.demo.generate`): give such a store a path of its own. The file is
    written under a temporary name and renamed, so an interrupted run never leaves a
    half-written store behind.

    Example:
        >>> history = llmobs_nb.open(demo.sample_store("../data/sample.duckdb"))  # doctest: +SKIP
    """
    target = Path(path).expanduser().resolve()
    if target.exists() and not replace:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    generate(n_calls, days=days, seed=seed, start=start, agents=agents, store=partial)
    os.replace(partial, target)
    return target
