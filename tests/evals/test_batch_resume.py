"""Batch evaluation of 10,000 stored calls, killed half way with SIGKILL, then resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import llmobs_nb
from llmobs_nb.evals import Keywords, LengthWithin, NonEmpty, Refusal, evaluate
from tests.evals.stored_calls import write_calls

N_CALLS = 10_000
EVALUATORS = "[NonEmpty(), LengthWithin(max_chars=80), Refusal(), Keywords(['paris', 'refund'])]"

CHILD = textwrap.dedent(
    f"""
    import sys
    import llmobs_nb
    from llmobs_nb.evals import Keywords, LengthWithin, NonEmpty, Refusal, evaluate

    obs = llmobs_nb.init(db=sys.argv[1], project="resume")
    write = obs.store.write_scores
    written = 0

    def reporting_write(table):
        global written
        write(table)
        written += table.num_rows
        print(written, flush=True)

    obs.store.write_scores = reporting_write
    evaluate(obs, {EVALUATORS}, progress=False, batch_size=400)
    print("done", flush=True)
    """
)


@pytest.mark.slow
def test_killed_batch_keeps_its_scores_and_rerun_completes_without_duplicates(tmp_path: Path):
    db = str(tmp_path / "resume.duckdb")
    write_calls(db, N_CALLS)
    total = N_CALLS * 4

    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    reported = 0
    for line in child.stdout:
        if line.strip() == "done":
            break
        reported = int(line)
        if reported >= total // 4:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=30)  # DuckDB: one writer per file — the child must be gone first
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL, "the run finished before it could be killed"

    obs = llmobs_nb.init(db=db, project="resume")
    try:
        kept = obs.sql("select count(*) as n from scores")["n"][0]
        assert reported <= kept < total  # everything reported as written survived the kill

        started = time.perf_counter()
        new = evaluate(
            obs,
            [NonEmpty(), LengthWithin(max_chars=80), Refusal(), Keywords(["paris", "refund"])],
            progress=False,
        )
        elapsed = time.perf_counter() - started
        print(f"resumed {new.height} evaluations in {elapsed:.2f} s")

        assert new.height == total - kept
        counts = obs.sql(
            "select count(*) as rows, count(distinct (span_id, source)) as pairs, "
            "count(distinct span_id) as spans, count(*) filter (where value is null) as errors "
            "from scores"
        ).row(0, named=True)
        assert counts == {"rows": total, "pairs": total, "spans": N_CALLS, "errors": 0}
        assert evaluate(obs, [NonEmpty()], progress=False).height == 0
    finally:
        obs.close()
