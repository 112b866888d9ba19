"""Many writer processes, each with its own file, read together as one store."""

from __future__ import annotations

import multiprocessing as mp
import signal
from pathlib import Path

import pytest

import llmobs_nb

CALLS_PER_WORKER = 10_000


def _worker(path: str) -> int:
    obs = llmobs_nb.init(db=path, project="pool")

    @obs.observe(model="gpt-4o-mini")
    def ask(i: int) -> dict:
        return {"usage": {"prompt_tokens": 10, "completion_tokens": i % 7}}

    for i in range(CALLS_PER_WORKER):
        ask(i)
    obs.close()
    return CALLS_PER_WORKER


def test_a_four_process_pool_loses_no_call_and_open_many_counts_them_all(tmp_path: Path):
    paths = [str(tmp_path / f"worker-{n}.duckdb") for n in range(4)]
    with mp.get_context("spawn").Pool(4) as pool:
        assert pool.map(_worker, paths) == [CALLS_PER_WORKER] * 4
    combined = llmobs_nb.open_many(paths)
    totals = combined.sql(
        "select count(*) n, count(distinct span_id) ids, sum(output_tokens) out from llm_calls"
    ).row(0)
    per_worker_out = sum(i % 7 for i in range(CALLS_PER_WORKER))
    assert totals == (40_000, 40_000, 4 * per_worker_out)
    assert combined.calls().height == 40_000


def _sigterm_while_open_and_after_close(path: str) -> tuple[str, str]:
    import signal

    obs = llmobs_nb.init(db=path, project="pool")
    while_open = getattr(signal.getsignal(signal.SIGTERM), "__name__", "default")
    obs.close()
    return while_open, str(signal.getsignal(signal.SIGTERM))


def test_a_worker_whose_observers_are_closed_dies_of_sigterm_at_once(tmp_path: Path):
    # Regression: the worker's SIGTERM handler (write an open observer's rows, then die)
    # stayed after close; CPython runs it in the main thread, so a SIGTERM the kernel gave to
    # a numpy or polars thread while the main thread waited for a task left Pool.terminate()
    # waiting forever. With no open observer, the default action is back.
    with mp.get_context("spawn").Pool(1) as pool:
        found = pool.apply(_sigterm_while_open_and_after_close, (str(tmp_path / "w.duckdb"),))
    assert found == ("_on_sigterm", str(signal.SIG_DFL))


def test_open_many_names_a_missing_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no store at"):
        llmobs_nb.open_many([tmp_path / "nope.duckdb"])
