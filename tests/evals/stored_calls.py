"""Many stored calls with captured content, written straight into a store (fast)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from llmobs_nb.capture.rows import SPAN_SCHEMA
from llmobs_nb.store import Store

ANSWERS = [
    "The capital of France is Paris.",
    "I'm sorry, but I can't help with that.",
    '{"order_id": "ORD-123456", "quantity": 2}',
    "",
    "Refunds are processed within 14 days of receiving the item.",
    "caf\ufffd \ufffd replacement characters from bad bytes",
]


def write_calls(path: str, n: int, seed: int = 0) -> None:
    """Write ``n`` LLM-call spans with input and output text into the store at ``path``."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        began = start + timedelta(seconds=i)
        rows.append(
            {
                "trace_id": f"{rng.getrandbits(128):032x}",
                "span_id": f"{rng.getrandbits(64):016x}",
                "name": "chat gpt-4o-mini",
                "kind": "llm",
                "start_time": began,
                "end_time": began + timedelta(milliseconds=800),
                "model": "gpt-4o-mini",
                "status": "ok",
                "input_text": f"question {i}",
                "output_text": ANSWERS[i % len(ANSWERS)] * (1 + i % 3),
                "attributes": "{}",
            }
        )
    store = Store(path)
    try:
        store.write_spans(pa.Table.from_pylist(rows, schema=SPAN_SCHEMA))
    finally:
        store.close()
