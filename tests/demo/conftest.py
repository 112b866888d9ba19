"""Samples shared by the demo tests: generated once per session (they are values, not state)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from llmobs_nb import demo

START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="session")
def start() -> datetime:
    return START


@pytest.fixture(scope="session")
def sample() -> demo.SampleData:
    return demo.generate(20_000, days=7, seed=0, start=START)


@pytest.fixture(scope="session")
def quiet() -> demo.SampleData:
    return demo.generate(20_000, days=7, seed=0, start=START, incidents=False)
