"""What OTLP export costs the traced code: per-call time with and without an endpoint.

Three runs of the same traced function (``obs.observe``, a dict response with usage), each
timed from the first call to ``flush()`` returning, all against one local OTLP/HTTP receiver
(``tests/scaleout/otlp_receiver.py``, a real HTTP server on 127.0.0.1, in its own process at
the lowest priority, parsing every request and counting its spans: it stands in for a
collector on another machine, whose work is not the traced program's):

  store only         llmobs_nb writing to DuckDB, no export (the baseline)
  store + export     the same, with ``otlp_endpoint``: rows go to the export child process
  SDK reference      the OpenTelemetry SDK alone: TracerProvider + BatchSpanProcessor +
                     OTLPSpanExporter (protobuf encoded in the traced process), same receiver

Prints µs per call per repeat, in wall time and in CPU time of the traced process (all its
threads: what the export takes from the program; the child's and the receiver's CPU are not
in it), the ratios (export / store only; SDK+OTLP / SDK + no-op exporter), p99 of single calls,
and the export's counts (every span sent, none dropped). Repeats alternate which run goes first
(the second of a pair ran measurably slower). On a shared machine single repeats swing by
±30 % (other tenants): read the median and the ratio of the means, not one repeat.

Run: .venv/bin/python benchmarks/export.py [--calls 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import llmobs_nb
from tests.scaleout.otlp_receiver import OTLPReceiver

RESPONSE = {"model": "gpt-4o", "usage": {"prompt_tokens": 812, "completion_tokens": 143}}


def _serve(endpoint: multiprocessing.Queue, count: multiprocessing.Queue, stop: Any) -> None:
    # The receiver stands in for a collector on another machine: lowest priority, so on a
    # small machine its decoding does not take the measured process's core.
    os.nice(19)
    with OTLPReceiver(keep=False) as receiver:
        endpoint.put(receiver.endpoint)
        stop.wait()
        count.put(receiver.count)


class ReceiverProcess:
    """The OTLP receiver in its own process: its decoding does not share the measured GIL."""

    def __enter__(self) -> ReceiverProcess:
        ctx = multiprocessing.get_context("spawn")
        self._endpoint, self._count, self._stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        self._process = ctx.Process(target=_serve, args=(self._endpoint, self._count, self._stop))
        self._process.start()
        self.endpoint = self._endpoint.get(timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.spans = self._count.get(timeout=60)
        self._process.join(10)


class NoOp(SpanExporter):
    def export(self, spans):  # type: ignore[no-untyped-def]
        return SpanExportResult.SUCCESS


def llmobs_run(n: int, endpoint: str | None) -> tuple[float, float, float, dict[str, int]]:
    """(µs per call incl. flush, CPU µs per call of this process, p99 µs of single calls,
    export counts)."""
    with tempfile.TemporaryDirectory() as tmp:
        obs = llmobs_nb.init(db=Path(tmp) / "b.duckdb", otlp_endpoint=endpoint)

        @obs.observe(model="gpt-4o", operation="chat", provider="openai")
        def ask(i: int) -> dict:
            return RESPONSE

        for i in range(500):  # warm-up (and the export child's start) outside the timing
            ask(i)
        obs.flush()
        if endpoint is not None:
            obs.capture.exports[0].flush(30)
        singles = []
        began, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            t = time.perf_counter()
            ask(i)
            singles.append(time.perf_counter() - t)
        obs.flush()
        per_call = (time.perf_counter() - began) / n
        cpu_per_call = (time.process_time() - cpu) / n
        if endpoint is not None:
            obs.capture.exports[0].flush(60)  # all sent before counting (not timed)
        obs.close()
        stats = obs.capture.export_stats()
    singles.sort()
    return per_call * 1e6, cpu_per_call * 1e6, singles[int(0.99 * len(singles))] * 1e6, stats


def sdk_run(n: int, endpoint: str | None) -> tuple[float, float]:
    """(µs per call, CPU µs per call of this process) of the OTel SDK with a
    BatchSpanProcessor (OTLP exporter, or no-op)."""
    exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else NoOp()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=n + 1000))
    tracer = provider.get_tracer("bench")
    began, cpu = time.perf_counter(), time.process_time()
    for _i in range(n):
        with tracer.start_as_current_span("chat gpt-4o") as span:
            span.set_attribute("gen_ai.request.model", "gpt-4o")
            span.set_attribute("gen_ai.usage.input_tokens", 812)
            span.set_attribute("gen_ai.usage.output_tokens", 143)
    provider.force_flush()
    per_call = (time.perf_counter() - began) / n
    cpu_per_call = (time.process_time() - cpu) / n
    provider.shutdown()
    return per_call * 1e6, cpu_per_call * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.calls
    wall: dict[str, list[float]] = {k: [] for k in ("off", "on", "sdk_noop", "sdk_otlp")}
    cpu: dict[str, list[float]] = {k: [] for k in wall}
    p99: dict[str, list[float]] = {"off": [], "on": []}
    counts: list[dict[str, int]] = []
    with ReceiverProcess() as receiver:
        for repeat in range(args.repeats):  # interleaved: the machine's noise hits both alike
            pair = [("off", None), ("on", receiver.endpoint)]
            for key, endpoint in pair if repeat % 2 == 0 else pair[::-1]:  # neither always first
                per, per_cpu, tail, stats = llmobs_run(n, endpoint)
                wall[key].append(per)
                cpu[key].append(per_cpu)
                p99[key].append(tail)
                if endpoint is not None:
                    counts.append(stats)
            sdk = [("sdk_noop", None), ("sdk_otlp", receiver.endpoint)]
            for key, endpoint in sdk if repeat % 2 == 0 else sdk[::-1]:
                per, per_cpu = sdk_run(n, endpoint)
                wall[key].append(per)
                cpu[key].append(per_cpu)

    def show(values: list[float]) -> str:
        return " ".join(f"{v:7.1f}" for v in values)

    def ratios(base: str, other: str, of: dict[str, list[float]]) -> str:
        r = [b / a for a, b in zip(of[base], of[other], strict=True)]
        pooled = statistics.fmean(of[other]) / statistics.fmean(of[base])
        return (
            f"{min(r):.2f}–{max(r):.2f}× (median {statistics.median(r):.2f}×, "
            f"ratio of the means {pooled:.2f}×)"
        )

    print(f"{n:,} calls per run, {args.repeats} repeats, µs per call (flush included)")
    print("  wall time, then CPU time of the traced process (all its threads)")
    labels = {
        "off": "llmobs_nb store only     ",
        "on": "llmobs_nb store + export ",
        "sdk_noop": "OTel SDK + no-op exporter",
        "sdk_otlp": "OTel SDK + OTLP exporter ",
    }
    for key, label in labels.items():
        print(f"  {label} wall {show(wall[key])}")
        print(f"  {label} CPU  {show(cpu[key])}")
    print(f"  p99 of single calls: store only {show(p99['off'])}; + export {show(p99['on'])}")
    print(f"export / store only, wall: {ratios('off', 'on', wall)}")
    print(f"export / store only, CPU of the traced process: {ratios('off', 'on', cpu)}")
    print(
        f"the SDK's own OTLP export costs it: wall {ratios('sdk_noop', 'sdk_otlp', wall)}, "
        f"CPU {ratios('sdk_noop', 'sdk_otlp', cpu)}"
    )
    print(f"export counts per run: {counts}")
    print(f"spans the receiver took: {receiver.spans:,} (llmobs_nb + SDK runs, warm-ups included)")


if __name__ == "__main__":
    multiprocessing.freeze_support()
    main()
