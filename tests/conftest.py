"""Shared fixtures: every test gets real DuckDB files in its own tmp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import llmobs_nb


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.duckdb"


@pytest.fixture
def obs(db_path: Path) -> Iterator[llmobs_nb.Observer]:
    observer = llmobs_nb.init(db=db_path, project="tests")
    yield observer
    observer.close()
