"""Per-call overhead of tracing, and bulk ingestion into DuckDB, measured in one process.

Per traced call (time to flush() counted in), for three response shapes — a dict, an SDK
pydantic object (an openai ``ChatCompletion``) and a plain object read by attribute — it
prints the reference, the OpenTelemetry SDK's TracerProvider + BatchSpanProcessor + a no-op
exporter (the 8 request attributes at start, the 2 token counts read from the response, as a
hand-instrumented call would), against llmobs_nb ``observe`` with the same 8 attributes,
persisted to a DuckDB file, Prometheus updated, in a long-lived observer that already holds
``--prefill`` rows (100,000 by default). Each repeat measures the reference and the three
shapes back to back (interleaved, so drift hits all alike; the shapes' order rotated from one
repeat to the next); each ratio is to the reference measured just before it, given as median
and range over the repeats, for the wall time and for the CPU time of the whole process (all
threads: the flush thread's conversion and DuckDB's own threads count; other processes on a
shared machine do not).
Then a 100,000-call burst (spans kept vs. the BatchSpanProcessor's drops) and the bulk ingestion
rate of the store's Arrow write path against DuckDB's own Arrow insert of the same rows.

Run: .venv/bin/python benchmarks/overhead.py [--calls 20000] [--repeats 5] [--prefill 100000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import llmobs_nb
from llmobs_nb.capture.rows import SPAN_SCHEMA
from llmobs_nb.store import Store
from llmobs_nb.store.migrations import MIGRATIONS

ATTRS = {
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "app.route": "/ask",
    "app.tenant": "acme",
    "app.retries": 0,
    "app.temperature": 0.2,
    "app.prompt_version": "v2",
}
RESPONSE = {"usage": {"prompt_tokens": 812, "completion_tokens": 143}}


class CountingExporter(SpanExporter):
    def __init__(self) -> None:
        self.count = 0

    def export(self, spans):  # type: ignore[no-untyped-def]
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def openai_response() -> object:
    """The same usage as RESPONSE, as the openai SDK returns it (a pydantic model)."""
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Paris."},
                }
            ],
            "usage": {
                "prompt_tokens": 812,
                "completion_tokens": 143,
                "total_tokens": 955,
                "prompt_tokens_details": {"cached_tokens": 512},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        }
    )


class _Usage:
    def __init__(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens


class _Message:
    def __init__(self, role: str, content: str) -> None:
        self.role = role
        self.content = content


class _Choice:
    def __init__(self, message: _Message, finish_reason: str) -> None:
        self.index = 0
        self.message = message
        self.finish_reason = finish_reason


class _Reply:
    """A response of a user's own client (or an SDK without pydantic): plain attributes."""

    def __init__(self) -> None:
        self.id = "reply-1"
        self.model = "gpt-4o-2024-08-06"
        self.choices = [_Choice(_Message("assistant", "Paris."), "stop")]
        self.usage = _Usage(812, 143)


def attribute_response() -> object:
    """The same usage as RESPONSE, on plain objects read by attribute."""
    return _Reply()


SHAPES: dict[str, Callable[[], object]] = {
    "dict": lambda: RESPONSE,
    "pydantic ChatCompletion": openai_response,
    "plain attribute object": attribute_response,
}


def _tokens(response: Any) -> tuple[int, int]:
    """How a hand-instrumented call reads the token counts of its response."""
    usage = response["usage"] if isinstance(response, dict) else response.usage
    if isinstance(usage, dict):
        return usage["prompt_tokens"], usage["completion_tokens"]
    return usage.prompt_tokens, usage.completion_tokens


def bare(n: int) -> float:
    def call(i: int) -> dict:
        return RESPONSE

    t = time.perf_counter()
    for i in range(n):
        call(i)
    return (time.perf_counter() - t) / n


class Reference:
    """The OpenTelemetry SDK: TracerProvider + BatchSpanProcessor + a no-op exporter."""

    def __init__(self) -> None:
        self.exporter = CountingExporter()
        self.provider = TracerProvider()
        self.processor = BatchSpanProcessor(self.exporter)
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("bench")

    def run(self, n: int, response: object) -> tuple[float, float]:
        """(wall, CPU) seconds per call of ``n`` traced calls returning ``response``, flush
        included."""
        tracer = self.tracer

        def call(i: int) -> object:
            with tracer.start_as_current_span("chat gpt-4o", attributes=ATTRS) as span:
                input_tokens, output_tokens = _tokens(response)
                span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
                span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
                return response

        cpu, t = time.process_time(), time.perf_counter()
        for i in range(n):
            call(i)
        self.processor.force_flush()
        return (time.perf_counter() - t) / n, (time.process_time() - cpu) / n

    def close(self) -> None:
        self.provider.shutdown()


def otel_reference(n: int) -> tuple[float, int]:
    """(seconds per call, spans exported) of ``n`` calls in a new reference provider."""
    reference = Reference()
    elapsed, _ = reference.run(n, RESPONSE)
    reference.close()
    return elapsed, reference.exporter.count


def _traced(obs: Any, response: object) -> Callable[[int], object]:
    @obs.observe(
        model="gpt-4o",
        operation="chat",
        provider="openai",
        **{
            "app.route": "/ask",
            "app.tenant": "acme",
            "app.retries": 0,
            "app.temperature": 0.2,
            "app.prompt_version": "v2",
        },
    )
    def call(i: int) -> object:
        return response

    return call  # type: ignore[no-any-return]


class Ours:
    """One long-lived observer (DuckDB file, Prometheus), pre-filled with ``prefill`` calls."""

    def __init__(self, path: Path, prefill: int) -> None:
        self.obs = llmobs_nb.init(db=path, project="bench")
        fill = _traced(self.obs, RESPONSE)
        for i in range(prefill):
            fill(i)
        self.obs.flush()

    def run(self, n: int, response: object) -> tuple[float, float]:
        """(wall, CPU) seconds per call of ``n`` traced calls returning ``response``, flush
        included."""
        call = _traced(self.obs, response)
        cpu, t = time.process_time(), time.perf_counter()
        for i in range(n):
            call(i)
        self.obs.flush()
        return (time.perf_counter() - t) / n, (time.process_time() - cpu) / n

    def rows(self) -> int:
        return int(self.obs.sql("select count(*) n from llm_calls")["n"][0])

    def close(self) -> None:
        self.obs.close()


def ours(n: int, folder: Path, tag: str, response: object = RESPONSE) -> tuple[float, int]:
    """(seconds per call, rows stored) of ``n`` calls in a new observer."""
    obs = Ours(folder / f"bench-{tag}.duckdb", prefill=0)
    elapsed, _ = obs.run(n, response)
    stored = obs.rows()
    obs.close()
    return elapsed, stored


def per_call(args: argparse.Namespace, folder: Path) -> None:
    """The reference and the three shapes, interleaved, ``args.repeats`` times."""
    responses = {name: make() for name, make in SHAPES.items()}
    reference = Reference()
    t = time.perf_counter()
    observer = Ours(folder / "bench-long-lived.duckdb", args.prefill)
    filled = observer.rows()
    print(f"observer pre-filled with {filled:,} rows in {time.perf_counter() - t:.1f} s")
    times: dict[str, dict[str, list[tuple[float, float]]]] = {
        name: {"ref": [], "ours": []} for name in SHAPES
    }
    bare_t = []
    order = list(responses.items())
    for repeat in range(args.repeats):
        bare_t.append(bare(args.calls))
        # Rotated each repeat: the store's periodic work (DuckDB checkpoints, rollup catch-ups
        # every 50,000 rows) does not fall on the same shape every time.
        shift = repeat % len(order)
        for name, response in order[shift:] + order[:shift]:
            gc.collect()
            times[name]["ref"].append(reference.run(args.calls, response))
            gc.collect()
            times[name]["ours"].append(observer.run(args.calls, response))
    stored = observer.rows()
    observer.close()
    reference.close()
    expected = filled + args.repeats * args.calls * len(SHAPES)
    print(
        f"per traced call, {args.repeats} interleaved repeats of {args.calls:,} calls "
        f"(median, [range]); ratio = ours / reference of the same repeat:"
    )
    print(f"  bare call {statistics.median(bare_t) * 1e6:.2f} µs")
    for what, which in (("wall time", 0), ("CPU time, all threads", 1)):
        print(f"  {what}:")
        print(f"  {'response':24} {'OTel SDK + BSP + no-op':>24} {'llmobs_nb observe':>24}  ratio")
        for name, found in times.items():
            ref = [t[which] * 1e6 for t in found["ref"]]
            us = [t[which] * 1e6 for t in found["ours"]]
            ratios = [u / r for u, r in zip(us, ref, strict=True)]
            print(
                f"  {name:24} {_span(ref, 'µs'):>24} {_span(us, 'µs'):>24}  "
                f"{statistics.median(ratios):.2f}x [{min(ratios):.2f}–{max(ratios):.2f}]"
            )
    print(f"  rows stored {stored:,} of {expected:,} (lost {expected - stored:,})")


def _span(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):.1f} [{min(values):.1f}–{max(values):.1f}] {unit}"


def ingestion(rows: int, folder: Path) -> tuple[float, float]:
    """(store rows/s, DuckDB raw Arrow insert rows/s) for the same Arrow table."""
    import pyarrow as pa

    data = pa.table(
        {
            name: (
                pa.array([f"{i:032x}" for i in range(rows)])
                if name in ("trace_id", "span_id")
                else pa.nulls(rows, field.type)
            )
            for name, field in zip(SPAN_SCHEMA.names, SPAN_SCHEMA, strict=True)
        },
        schema=SPAN_SCHEMA,
    )
    store = Store(folder / "ingest-store.duckdb")
    t = time.perf_counter()
    store.write_spans(data)
    ours_rate = rows / (time.perf_counter() - t)
    store.close()

    con = duckdb.connect(str(folder / "ingest-raw.duckdb"))
    for _, migrate in MIGRATIONS:
        migrate(con)
    con.register("incoming", data)
    t = time.perf_counter()
    con.execute("INSERT INTO spans SELECT * FROM incoming")
    raw_rate = rows / (time.perf_counter() - t)
    con.close()
    return ours_rate, raw_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--prefill", type=int, default=100_000, help="rows in the observer first")
    parser.add_argument("--burst", type=int, default=100_000, help="0: skip the burst")
    parser.add_argument("--ingest-rows", type=int, default=1_000_000, help="0: skip ingestion")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        per_call(args, folder)

        if args.burst:
            _, exported = otel_reference(args.burst)
            _, stored = ours(args.burst, folder, "burst")
            print(f"burst of {args.burst:,} calls:")
            print(
                f"  OTel BatchSpanProcessor exported {exported:,} "
                f"(dropped {args.burst - exported:,})"
            )
            print(
                f"  llmobs_nb stored                 {stored:,} (dropped {args.burst - stored:,})"
            )

        if args.ingest_rows:
            ours_rate, raw_rate = ingestion(args.ingest_rows, folder)
            print(f"bulk ingestion of {args.ingest_rows:,} span rows (Arrow batch):")
            print(f"  llmobs_nb Store.write_spans  {ours_rate:12,.0f} rows/s")
            print(
                f"  DuckDB INSERT ... FROM arrow {raw_rate:12,.0f} rows/s   "
                f"ratio {ours_rate / raw_rate:.2f}x"
            )


if __name__ == "__main__":
    main()
