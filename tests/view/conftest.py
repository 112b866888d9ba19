"""Fixtures for the view tests: generated traffic as frames and in real DuckDB files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import llmobs_nb
from llmobs_nb import demo

START = datetime(2025, 3, 3, tzinfo=UTC)


@pytest.fixture(scope="session")
def sample() -> demo.SampleData:
    return demo.generate(5_000, days=3, seed=3, start=START)


@pytest.fixture(scope="session")
def big_sample() -> demo.SampleData:
    return demo.generate(200_000, days=7, seed=4, start=START)


@pytest.fixture(scope="session")
def store_file(tmp_path_factory: pytest.TempPathFactory, sample: demo.SampleData) -> Path:
    """A closed DuckDB file holding the 5,000-call sample (read through a path)."""
    path = tmp_path_factory.mktemp("view") / "sample.duckdb"
    demo.generate(5_000, days=3, seed=3, start=START, store=path)
    return path


@pytest.fixture
def live_obs(tmp_path: Path) -> Iterator[llmobs_nb.Observer]:
    """A capturing observer with the sample plus three calls of a model named o'brien."""
    obs = llmobs_nb.init(
        db=tmp_path / "live.duckdb",
        project="view-tests",
        capture_content=True,
        prices={"o'brien": {"input_mtok": 1.0, "output_mtok": 2.0}},
    )
    demo.generate(1_000, days=1, seed=5, start=START, store=obs)

    @obs.observe(model="o'brien", use_case="quotes")
    def ask(question: str) -> dict:
        return {"usage": {"prompt_tokens": 12, "completion_tokens": 3}, "text": "fine"}

    for question in ("a", "b", "c"):
        ask(question)
    obs.flush()
    yield obs
    obs.close()
