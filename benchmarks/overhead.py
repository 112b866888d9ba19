"""Per-call overhead of tracing, and bulk ingestion into DuckDB, measured in one process.

Prints, per traced call (time to flush() counted in):
  bare call | OpenTelemetry SDK + BatchSpanProcessor + no-op exporter (the reference) |
  llmobs_nb observe() with 8 attributes, persisted to a DuckDB file, Prometheus updated
  (returning a plain dict, then an openai ChatCompletion as the SDK returns it).
Then a 100,000-call burst (spans kept vs. the BatchSpanProcessor's drops) and the bulk ingestion
rate of the store's Arrow write path against DuckDB's own Arrow insert of the same rows.

Run: .venv/bin/python benchmarks/overhead.py [--calls 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

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


def bare(n: int) -> float:
    def call(i: int) -> dict:
        return RESPONSE

    t = time.perf_counter()
    for i in range(n):
        call(i)
    return (time.perf_counter() - t) / n


def otel_reference(n: int) -> tuple[float, int]:
    exporter = CountingExporter()
    provider = TracerProvider()
    processor = BatchSpanProcessor(exporter)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")

    def call(i: int) -> dict:
        with tracer.start_as_current_span("chat gpt-4o", attributes=ATTRS) as span:
            usage = RESPONSE["usage"]
            span.set_attribute("gen_ai.usage.input_tokens", usage["prompt_tokens"])
            span.set_attribute("gen_ai.usage.output_tokens", usage["completion_tokens"])
            return RESPONSE

    t = time.perf_counter()
    for i in range(n):
        call(i)
    processor.force_flush()
    elapsed = (time.perf_counter() - t) / n
    provider.shutdown()
    return elapsed, exporter.count


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


def ours(n: int, folder: Path, tag: str, response: object = RESPONSE) -> tuple[float, int]:
    obs = llmobs_nb.init(db=folder / f"bench-{tag}.duckdb", project="bench")

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

    t = time.perf_counter()
    for i in range(n):
        call(i)
    obs.flush()
    elapsed = (time.perf_counter() - t) / n
    stored = obs.sql("select count(*) n from llm_calls")["n"][0]
    obs.close()
    return elapsed, int(stored)


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
    parser.add_argument("--burst", type=int, default=100_000)
    parser.add_argument("--ingest-rows", type=int, default=1_000_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bare_t, ref_t, our_t, sdk_t = [], [], [], []
        pydantic = openai_response()
        for r in range(args.repeats):  # interleaved so drift hits all alike
            bare_t.append(bare(args.calls))
            ref_t.append(otel_reference(args.calls)[0])
            our_t.append(ours(args.calls, folder, f"r{r}")[0])
            sdk_t.append(ours(args.calls, folder, f"p{r}", pydantic)[0])
        b, ref, us, sdk = (statistics.median(x) * 1e6 for x in (bare_t, ref_t, our_t, sdk_t))
        print(f"per traced call, median of {args.repeats} runs of {args.calls:,} calls:")
        print(f"  bare call                                  {b:8.2f} µs")
        print(f"  OTel SDK + BatchSpanProcessor + no-op      {ref:8.2f} µs   (reference)")
        print(
            f"  llmobs_nb observe, DuckDB file, Prometheus {us:8.2f} µs   "
            f"ratio {us / ref:.2f}x reference"
        )
        print(
            f"    same, returning an openai ChatCompletion {sdk:8.2f} µs   "
            f"ratio {sdk / ref:.2f}x reference (pydantic response: usage, cached tokens, "
            f"model, finish reason and id read)"
        )

        _, exported = otel_reference(args.burst)
        _, stored = ours(args.burst, folder, "burst")
        print(f"burst of {args.burst:,} calls:")
        print(
            f"  OTel BatchSpanProcessor exported {exported:,} (dropped {args.burst - exported:,})"
        )
        print(f"  llmobs_nb stored                 {stored:,} (dropped {args.burst - stored:,})")

        ours_rate, raw_rate = ingestion(args.ingest_rows, folder)
        print(f"bulk ingestion of {args.ingest_rows:,} span rows (Arrow batch):")
        print(f"  llmobs_nb Store.write_spans  {ours_rate:12,.0f} rows/s")
        print(
            f"  DuckDB INSERT ... FROM arrow {raw_rate:12,.0f} rows/s   "
            f"ratio {ours_rate / raw_rate:.2f}x"
        )


if __name__ == "__main__":
    main()
