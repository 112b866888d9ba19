"""Costs of evaluation, measured in one process with baselines from the same run.

Prints:
  online: the cost of OnlineEvaluator.submit() (against a bare deque append), and a traced
    call with and without online evaluation (the observe shell handing a CapturedCall to
    submit, as observe(..., evaluators=[...]) does), with their ratio; a 10,000-call burst
    and how long the background worker takes to store its scores;
  batch: evaluate() over 10,000 stored calls with the heuristic evaluators (calls/s and
    evaluations/s), then with reference-based and semantic evaluators.

Run: .venv/bin/python benchmarks/evals.py [--calls 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
import warnings
from pathlib import Path

import llmobs_nb
from llmobs_nb.evals import (
    CapturedCall,
    ExactMatch,
    JSONSchema,
    Keywords,
    LengthWithin,
    NonEmpty,
    OnlineEvaluator,
    Refusal,
    RougeL,
    SemanticSimilarity,
    TokenF1,
    ValidJSON,
    evaluate,
)

# The stored-call generator is shared with the tests, which live beside this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.evals.stored_calls import write_calls

RESPONSE = {
    "choices": [{"message": {"content": "Refunds are processed within 14 days."}}],
    "usage": {"prompt_tokens": 812, "completion_tokens": 143},
}


def best_us(fn, n: int, repeats: int) -> float:
    """Best of ``repeats`` runs of ``fn(n)``, in microseconds per call."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(n)
        times.append((time.perf_counter() - started) / n * 1e6)
    return min(times)


def bench_submit(obs, n: int, repeats: int) -> None:
    online = OnlineEvaluator(obs, [NonEmpty(), Refusal()], maxsize=n * repeats + 1)
    record = CapturedCall("0123456789abcdef", "0" * 32, "q", "answer", {})
    plain: collections.deque = collections.deque()

    def submits(k: int) -> None:
        submit = online.submit
        for _ in range(k):
            submit(record)

    def appends(k: int) -> None:
        append = plain.append
        for _ in range(k):
            append(record)

    base = best_us(appends, n, repeats)
    cost = best_us(submits, n, repeats)
    started = time.perf_counter()
    online.drain()
    print(f"  deque.append (baseline)        {base:8.3f} µs")
    print(f"  OnlineEvaluator.submit()       {cost:8.3f} µs   ({cost / base:.1f}x the append)")
    print(
        f"  ... worker drained the rest in {time.perf_counter() - started:.2f} s, "
        f"dropped={online.dropped}"
    )
    online.close()


def bench_traced_call(obs, n: int, repeats: int, io_s: float) -> None:
    """Back to back (io_s=0: the worker competes for the GIL with every call, worst case),
    or with io_s of simulated network wait per call (a real LLM call waits far longer)."""
    online = OnlineEvaluator(obs, [NonEmpty(), Refusal()], maxsize=n * repeats * 2 + 1)

    @obs.observe(model="gpt-4o-mini", operation="chat")
    def plain(question):
        if io_s:
            time.sleep(io_s)
        return RESPONSE

    def with_online(question):
        # What the observe shell does when given evaluators: hand the finished call over.
        response = plain(question)
        online.submit(CapturedCall("0123456789abcdef", "0" * 32, question, "answer", {}))
        return response

    def run(fn):
        def loop(k: int) -> None:
            for _ in range(k):
                fn("What is the refund window?")
            obs.flush()

        return loop

    without = best_us(run(plain), n, repeats)
    withon = best_us(run(with_online), n, repeats)
    what = f"{io_s * 1e3:g} ms I/O per call" if io_s else "back to back"
    print(f"  traced call ({what}), no online eval   {without:8.2f} µs")
    print(
        f"  traced call ({what}), + online submit  {withon:8.2f} µs   "
        f"(ratio {withon / without:.3f}, +{withon - without:.2f} µs)"
    )
    online.drain()
    online.close()


def bench_burst(obs, n: int) -> None:
    online = OnlineEvaluator(obs, [NonEmpty(), LengthWithin(max_chars=100)], maxsize=n)
    records = [CapturedCall(f"{i:016x}", f"{i:032x}", "q", "answer", {}) for i in range(n)]
    started = time.perf_counter()
    for record in records:
        online.submit(record)
    submitted = time.perf_counter() - started
    online.drain()
    drained = time.perf_counter() - started
    stats = online.stats()
    online.close()
    print(
        f"  burst of {n} calls: submitted in {submitted * 1e3:.1f} ms, all scores stored "
        f"after {drained:.2f} s ({n / drained:,.0f} calls/s); scores={stats['scores']}, "
        f"dropped={stats['dropped']}"
    )


def bench_batch(path: str, n: int) -> None:
    write_calls(path, n)
    obs = llmobs_nb.init(db=path, project="bench-batch")
    references = dict.fromkeys(
        obs.sql("select span_id from spans")["span_id"].to_list(),
        "Refunds are processed within 14 days.",
    )
    suites = {
        "heuristics (4)": [
            NonEmpty(),
            LengthWithin(max_chars=80),
            Refusal(),
            Keywords(["paris", "refund"]),
        ],
        "json (2)": [ValidJSON(), JSONSchema({"type": "object", "required": ["order_id"]})],
        "reference (3)": [ExactMatch(), TokenF1(), RougeL()],
        "semantic (1)": [SemanticSimilarity()],
    }
    for label, evaluators in suites.items():
        started = time.perf_counter()
        new = evaluate(obs, evaluators, reference=references, progress=False)
        elapsed = time.perf_counter() - started
        print(
            f"  {label:<16} {n} calls in {elapsed:5.2f} s: {n / elapsed:9,.0f} calls/s, "
            f"{new.height / elapsed:9,.0f} evaluations/s"
        )
    started = time.perf_counter()
    again = evaluate(obs, suites["heuristics (4)"], progress=False)
    print(
        f"  re-run (all done, resumable skip): {again.height} new in "
        f"{time.perf_counter() - started:.2f} s"
    )
    obs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        obs = llmobs_nb.init(db=Path(tmp) / "online.duckdb", project="bench", capture_content=True)
        print("online evaluation")
        bench_submit(obs, 20_000, args.repeats)
        bench_traced_call(obs, args.calls, args.repeats, io_s=0.0)
        bench_traced_call(obs, 2_000, args.repeats, io_s=0.0005)
        bench_burst(obs, args.calls)
        obs.close()
        print("batch evaluation")
        bench_batch(str(Path(tmp) / "batch.duckdb"), args.calls)


if __name__ == "__main__":
    main()
