"""The main job behind ``make demo``: sample data, a real experiment, the tour, a report.

1. Writes the notebooks' sample history — the calls, days, seed and start date of
   ``demo.sample_store("../data/sample.duckdb")`` in the notebooks — into
   ``data/sample.duckdb``, so the report shows the incidents the notebooks discuss (another
   ``--calls``/``--days`` writes ``data/sample-<calls>-<days>d.duckdb`` instead).
2. Runs a real experiment — questions through the instrumented OpenAI SDK against the local
   SmolLM2 model on 127.0.0.1 — into ``data/experiment.duckdb`` (skipped, with the reason, if
   the model cannot start).
3. Prints what was captured: calls, tokens, cost and P95 latency by model.
4. Executes the tour notebook and writes it, and an HTML report, to ``reports/``.

Run: ``python -m llmobs_nb.demo.job [--calls 50000] [--days 14]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

import llmobs_nb
from llmobs_nb.demo.sample import SAMPLE_CALLS, SAMPLE_DAYS, SAMPLE_START, write_sample_store

# Self-hosted: no per-token bill. Declared explicitly, so the calls are priced, not unpriced.
LOCAL_MODEL_PRICE = {"input_mtok": 0.0, "output_mtok": 0.0}


def summary(obs: Any) -> pl.DataFrame:
    """Calls, tokens, cost and P95 latency by model, computed where the data lives."""
    return obs.sql(
        """
        select model, count(*) as calls,
               sum(input_tokens)::bigint as input_tokens,
               sum(output_tokens)::bigint as output_tokens,
               round(sum(cost_usd), 4) as cost_usd,
               count(*) filter (where cost_usd is null) as unpriced_calls,
               round(quantile_cont(latency_s, 0.95), 3) as p95_latency_s,
               round(quantile_cont(ttft_s, 0.5), 3) as p50_ttft_s
        from llm_calls group by model order by calls desc
        """
    )


def history_path(data: Path, calls: int = SAMPLE_CALLS, days: int = SAMPLE_DAYS) -> Path:
    """Where the job keeps its history: the notebooks' ``sample.duckdb`` for their size, a
    file of its own for any other.

    Example:
        >>> history_path(Path("data")).name, history_path(Path("data"), 1000, 2).name
        ('sample.duckdb', 'sample-1000-2d.duckdb')
    """
    if (calls, days) == (SAMPLE_CALLS, SAMPLE_DAYS):
        return data / "sample.duckdb"
    return data / f"sample-{calls}-{days}d.duckdb"


def generate_history(path: Path, calls: int, days: int) -> Any:
    """Write the sample store at ``path`` afresh, as the notebooks' ``demo.sample_store``
    does (same seed and start date); returns the ground truth of its incidents."""
    return write_sample_store(path, n_calls=calls, days=days)


def run_real_experiment(path: Path) -> str:
    """The real local-model experiment; returns a one-line outcome."""
    import openai

    from llmobs_nb.demo.experiment import run_experiment
    from llmobs_nb.local_llm import LocalModelServer, available

    ok, why = available()
    if not ok:
        return f"skipped: the local model cannot run here ({why})"
    path.unlink(missing_ok=True)
    model_name = "SmolLM2-135M-Instruct"
    obs = llmobs_nb.init(
        db=path,
        project="experiment",
        capture_content=True,
        prices={model_name: LOCAL_MODEL_PRICE},
    )
    try:
        started = time.perf_counter()
        with LocalModelServer() as server:
            boot = time.perf_counter() - started
            client = obs.instrument_openai(
                openai.OpenAI(base_url=server.base_url, api_key="local-no-key")
            )
            result = run_experiment(obs, client, server.model)
        scores = ", ".join(f"{run} {mean:.2f}" for run, mean in result.mean_score.items())
        return (
            f"{result.calls} real calls in {result.seconds:.1f}s (model started in {boot:.1f}s), "
            f"{result.errors} errors; mean correctness {scores}"
        )
    except Exception as exc:
        return f"skipped: the local model failed ({type(exc).__name__}: {exc})"
    finally:
        obs.close()


def main(argv: list[str] | None = None) -> int:
    """Run the whole job; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m llmobs_nb.demo.job", description=__doc__)
    parser.add_argument("--calls", type=int, default=SAMPLE_CALLS)
    parser.add_argument("--days", type=int, default=SAMPLE_DAYS)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--skip-model", action="store_true", help="no local-model experiment")
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    pl.Config.set_tbl_width_chars(140)
    pl.Config.set_tbl_cols(12)

    history = history_path(args.data, args.calls, args.days)
    started = time.perf_counter()
    truth = generate_history(history, args.calls, args.days)
    print(
        f"[1/4] generated {args.calls:,} calls over {args.days} days from "
        f"{SAMPLE_START:%Y-%m-%d} into {history} "
        f"in {time.perf_counter() - started:.1f}s"
    )
    print(f"      injected: {truth}")

    experiment = args.data / "experiment.duckdb"
    outcome = "skipped (--skip-model)" if args.skip_model else run_real_experiment(experiment)
    print(f"[2/4] real experiment against the local model: {outcome}")

    print("[3/4] what was captured")
    for label, path in (("history", history), ("experiment", experiment)):
        if path.exists():
            print(f"--- {label}: {path}")
            print(summary(llmobs_nb.open(path)))

    report = _report(args, history, experiment)
    print(f"[4/4] {report}")
    return 0


def _report(args: argparse.Namespace, history: Path, experiment: Path) -> str:
    try:
        from llmobs_nb.demo.notebook_run import execute_tour
    except ImportError:
        return "tour notebook: not available yet"
    return execute_tour(history, experiment, args.reports)


if __name__ == "__main__":
    sys.exit(main())
