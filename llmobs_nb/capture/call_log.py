"""One log record per model call: ``logging.getLogger("llmobs_nb")`` at INFO.

Each record's message is ``llm call <model> <status>``; ``record.llm_call`` holds the request
id, trace and span ids, model, operation, latency, tokens, cost, status and error type (for a
JSON log handler). Rows come from ``rows.to_columns``: labels and attributes are redacted there.
Works on Arrow tables, without polars, so a forked child logs its calls too.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pyarrow as pa

from llmobs_nb.capture import semconv as sc
from llmobs_nb.store.schema import is_model_call

log = logging.getLogger("llmobs_nb")
_FIELDS = (
    "trace_id",
    "span_id",
    "model",
    "operation",
    "latency_s",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "status",
    "error_type",
)


def model_calls(table: pa.Table) -> pa.Table:
    """The rows of a batch of span rows that are model calls (the schema's rule,
    :data:`~llmobs_nb.store.schema.is_model_call`, with Arrow kernels only: fork-safe).

    Example:
        >>> model_calls(pa.table({"kind": ["llm", "chain", "evaluator"],
        ...                       "model": [None, "gpt-4o", None]})).num_rows
        1
    """
    return table.filter(is_model_call.arrow(table))


def log_calls(calls: pa.Table) -> None:
    """Log one record per row of ``calls`` (model-call span rows), if INFO is enabled.

    Example:
        >>> log_calls(pa.table({"kind": []}))   # nothing to log
    """
    if not log.isEnabledFor(logging.INFO) or calls.num_rows == 0:
        return
    for row in calls.to_pylist():
        log_call(row)


def log_call(row: dict[str, Any]) -> None:
    """Log one model-call span row (a dict with the ``spans`` columns)."""
    attrs = json.loads(row["attributes"]) if row["attributes"] else {}
    record = {
        "request_id": attrs.get(sc.LLMOBS_REQUEST_ID) or attrs.get(sc.GEN_AI_RESPONSE_ID),
        **{name: row[name] for name in _FIELDS},
    }
    log.info("llm call %s %s", row["model"], row["status"], extra={"llm_call": record})
