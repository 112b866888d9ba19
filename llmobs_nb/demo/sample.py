"""A ready sample store for notebooks: generated once, reused on every re-run."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from llmobs_nb.demo.generate import generate
from llmobs_nb.demo.incidents import Truth

SAMPLE_START = datetime(2026, 11, 1, tzinfo=UTC)
#: The notebooks' sample: its size, days and seed (with :data:`SAMPLE_START`).
SAMPLE_CALLS, SAMPLE_DAYS, SAMPLE_SEED = 50_000, 14, 7


def sample_store(
    path: str | Path = "data/sample.duckdb",
    *,
    n_calls: int = SAMPLE_CALLS,
    days: int = SAMPLE_DAYS,
    seed: int = SAMPLE_SEED,
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
    write_sample_store(target, n_calls=n_calls, days=days, seed=seed, start=start, agents=agents)
    return target


def write_sample_store(
    path: str | Path,
    *,
    n_calls: int = SAMPLE_CALLS,
    days: int = SAMPLE_DAYS,
    seed: int = SAMPLE_SEED,
    start: datetime = SAMPLE_START,
    agents: bool = False,
) -> Truth:
    """Generate a sample store at ``path`` afresh (under a temporary name, then renamed, as
    :func:`sample_store` does); returns the ground truth of its incidents.

    Example:
        >>> truth = write_sample_store("data/sample.duckdb")   # doctest: +SKIP
    """
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    sample = generate(n_calls, days=days, seed=seed, start=start, agents=agents, store=partial)
    os.replace(partial, target)
    return sample.truth
