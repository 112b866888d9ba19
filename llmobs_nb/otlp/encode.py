"""Rows of the store → OTLP protobuf bytes: spans as an ``ExportTraceServiceRequest``,
scores as an ``ExportLogsServiceRequest`` of ``gen_ai.evaluation.result`` events.

The rows are the ones the capture converted (already redacted, content already filtered), so
what leaves the process is exactly what the store holds, in both conventions
(:mod:`llmobs_nb.otlp.conventions`). Runs in the export child process: depends on pyarrow,
the standard library and the modules named here; the protobuf bytes are written by
:mod:`llmobs_nb.otlp.wire` (no message objects: ~1.5–2× less CPU per span).

A bad value costs only its own attribute (counted in :class:`EncodeStats`); a row whose ids
cannot be read costs only that row (counted); nothing here raises for a row's content.

Example:
    >>> import pyarrow as pa
    >>> from llmobs_nb.store.schema import SPANS
    >>> table = pa.Table.from_pylist(
    ...     [{"trace_id": "ab" * 16, "span_id": "cd" * 8, "name": "ask", "kind": "llm"}],
    ...     schema=SPANS.arrow)
    >>> from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ...     ExportTraceServiceRequest)
    >>> request = ExportTraceServiceRequest.FromString(encode_spans(table, resource={}))
    >>> span = request.resource_spans[0].scope_spans[0].spans[0]
    >>> span.name, span.kind == SPAN_KIND_CLIENT
    ('ask', True)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from llmobs_nb.capture import semconv as sc
from llmobs_nb.otlp import conventions as cv
from llmobs_nb.otlp import wire
from llmobs_nb.store.model_call import is_model_call

SCOPE_NAME = "llmobs_nb"
MAX_NAMED_ERRORS = 20
_NS_PER_US = 1000
#: ``Span.SpanKind`` and ``Status.StatusCode`` values (``opentelemetry/proto/trace/v1``).
SPAN_KIND_INTERNAL = 1
SPAN_KIND_CLIENT = 3
STATUS_CODE_ERROR = 2


@dataclass
class EncodeStats:
    """What encoding had to leave out, counted (and the first few reasons named).

    ``spans``/``scores``: encoded; ``spans_refused``/``scores_refused``: rows left out (ids
    unreadable); ``attributes_dropped``: single values left out (the rest of the row went);
    ``attributes_unparsed``: rows whose ``attributes`` JSON could not be read (sent as text
    under ``llmobs.attributes``).

    Example:
        >>> stats = EncodeStats()
        >>> stats.drop("span 1: attribute 'x'", ValueError("bad"))
        >>> stats.attributes_dropped, stats.errors
        (1, ["span 1: attribute 'x': ValueError: bad"])
    """

    spans: int = 0
    spans_refused: int = 0
    scores: int = 0
    scores_refused: int = 0
    attributes_dropped: int = 0
    attributes_unparsed: int = 0
    errors: list[str] = field(default_factory=list)

    def drop(self, what: str, exc: BaseException | str) -> None:
        """Count one attribute left out; keep its reason (the first few)."""
        self.attributes_dropped += 1
        self._name(what, exc)

    def _name(self, what: str, exc: BaseException | str) -> None:
        if len(self.errors) < MAX_NAMED_ERRORS:
            reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
            self.errors.append(f"{what}: {reason}")


def attributes(
    attrs: Mapping[str, Any], stats: EncodeStats, where: str, tag: bytes = wire.SPAN_ATTRIBUTE
) -> bytes:
    """``attrs`` as repeated ``KeyValue`` fields of ``tag`` (:mod:`~llmobs_nb.otlp.wire`); a
    value that cannot go (:func:`wire.any_value`) is left out and counted, None is skipped.

    Example:
        >>> from opentelemetry.proto.common.v1.common_pb2 import KeyValue
        >>> raw = attributes({"a": 1, "b": None}, EncodeStats(), "x", tag=b"\\x0a")
        >>> KeyValue.FromString(raw[2:]).key
        'a'
    """
    out = []
    append = out.append
    memo = _memo
    for key, value in attrs.items():
        if value is None:
            continue  # an absent value: nothing to send, nothing lost
        cls = value.__class__
        labels = cls is str or cls is bool  # labels repeat from span to span: encoded once
        if labels:
            found = memo.get((tag, key, value))
            if found is not None:
                append(found)
                continue
        try:
            encoded = wire.field(tag, wire.key_value(key, value))
        except (ValueError, TypeError) as exc:  # surrogates, odd keys
            stats.drop(f"{where}: attribute {key!r:.60}", exc)
            continue
        append(encoded)
        if labels and (cls is bool or len(value) <= _MEMO_TEXT):
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[tag, key, value] = encoded
    return b"".join(out)


_memo: dict[tuple[bytes, str, Any], bytes] = {}
_MEMO_SIZE = 4096
_MEMO_TEXT = 200  # longer text (content, messages) is rarely repeated


def columns_of(table: pa.Table, names: Iterable[str]) -> dict[str, list[Any]]:
    """Python lists of the columns named (timestamps as int microseconds since the epoch,
    whatever their unit; a missing column as all-None). Also what the ClickHouse export reads
    the store's rows with (``clickhouse/otel_rows.py``).

    Example:
        >>> columns_of(pa.table({"n": [1, 2]}), ["n", "missing"])
        {'n': [1, 2], 'missing': [None, None]}
    """
    out: dict[str, list[Any]] = {}
    for name in names:
        if name not in table.column_names:
            out[name] = [None] * table.num_rows
            continue
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = pc.cast(pc.cast(column, pa.timestamp("us", "UTC")), pa.int64())
        out[name] = column.to_pylist()
    return out


def _id(text: Any, size: int) -> bytes:
    """Hex id text → bytes of ``size``; raises ValueError when it is not one (or all zero)."""
    raw = bytes.fromhex(text) if isinstance(text, str) else b""
    if len(raw) != size or not any(raw):
        raise ValueError(f"not a {size}-byte id: {text!r:.40}")
    return raw


def encode_spans(
    table: pa.Table,
    *,
    resource: Mapping[str, Any],
    conventions: cv.Conventions | None = None,
    stats: EncodeStats | None = None,
) -> bytes:
    """A serialized ``ExportTraceServiceRequest`` of ``table``'s span rows (columns of
    :data:`llmobs_nb.store.schema.SPANS`), one scope ``llmobs_nb``.

    Rows are grouped by their ``project``: each group's resource is ``resource`` with
    ``openinference.project.name`` set to the project (Phoenix files spans by it). Model calls
    (:data:`~llmobs_nb.store.schema.is_model_call`) are ``CLIENT`` spans, others
    ``INTERNAL``; a failed row's status is ``ERROR`` with its message, plus an ``exception``
    event; a row with ``ttft_s`` has a first-token event at start + TTFT. ``conventions``
    defaults to ``Conventions()`` (read the environment once with ``Conventions.from_env()``
    and pass it in). ``stats`` counts what was left out.

    Example:
        >>> encode_spans(pa.table({"trace_id": pa.array([], pa.string())}), resource={})
        b''
    """
    conv = conventions or cv.Conventions()
    stats = stats if stats is not None else EncodeStats()
    cols = columns_of(table, SPAN_COLUMNS)
    groups: dict[Any, list[int]] = {}
    for index, project in enumerate(cols["project"]):
        groups.setdefault(project, []).append(index)
    version = cv._version("llmobs_nb")
    names, rows = list(cols), list(zip(*cols.values(), strict=True))
    blocks = []
    for project, indices in groups.items():
        attrs = dict(resource)
        if project is not None:
            attrs[cv.OI_PROJECT] = project
        spans = []
        for index in indices:
            row = dict(zip(names, rows[index], strict=True))
            span = _span(row, conv, stats, index)
            if span is not None:
                spans.append(span)
        if spans:
            head = attributes(attrs, stats, "resource", wire.RESOURCE_ATTRIBUTE)
            items = wire.repeated(wire.SCOPE_ITEM, spans)
            blocks.append(wire.resource_scope(head, SCOPE_NAME, version, cv.SCHEMA_URL, items))
    return wire.repeated(wire.REQUEST_ITEM, blocks)


#: The store columns a span is encoded from (also the ClickHouse export's, with latency).
SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    *cv.LABEL_COLUMNS,  # kind, model, provider, operation, user, run, project, status, …
    "start_time",
    "end_time",
    "ttft_s",
    "error_message",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "input_text",
    "output_text",
    "attributes",
    "session_id",
    "agent_name",
    "tool_name",
)


def _span(
    row: dict[str, Any], conv: cv.Conventions, stats: EncodeStats, index: int
) -> bytes | None:
    where = f"span row {index}"
    try:
        trace_id = _id(row["trace_id"], 16)
        span_id = _id(row["span_id"], 8)
    except ValueError as exc:
        stats.spans_refused += 1
        stats._name(where, exc)
        return None
    parent = b""
    if row["parent_span_id"] is not None:
        try:
            parent = _id(row["parent_span_id"], 8)
        except ValueError as exc:
            stats.drop(f"{where}: parent_span_id", exc)
    own = _own_attributes(row["attributes"], stats, where)
    start = (row["start_time"] or 0) * _NS_PER_US
    end = row["end_time"] * _NS_PER_US if row["end_time"] is not None else start
    end = max(end, start)
    kind = row["kind"]
    events = []
    ttft = row["ttft_s"]
    if isinstance(ttft, float) and math.isfinite(ttft) and ttft >= 0:
        # one attribute: Phoenix cannot save (to_parquet, TraceDataset.save) an event without
        ttft_attr = {sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: ttft}
        events.append(
            wire.event(
                start + round(ttft * 1e9),
                cv.FIRST_TOKEN_EVENT,
                attributes(ttft_attr, stats, where, wire.EVENT_ATTRIBUTE),
            )
        )
    status_code, message = 0, ""
    if row["status"] == "error":
        status_code = STATUS_CODE_ERROR
        message = _text(row["error_message"]) or _text(row["error_type"]) or ""
        exception = {"exception.type": row["error_type"], "exception.message": row["error_message"]}
        events.append(
            wire.event(end, "exception", attributes(exception, stats, where, wire.EVENT_ATTRIBUTE))
        )
    span = wire.span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=_text(row["name"]) or kind or "span",
        kind=SPAN_KIND_CLIENT if is_model_call(kind, row["model"]) else SPAN_KIND_INTERNAL,
        start_ns=start,
        end_ns=end,
        attributes=_span_attributes(row, own, conv, stats, where),
        events=wire.repeated(wire.SPAN_EVENT, events),
        status_code=status_code,
        status_message=message,
    )
    stats.spans += 1
    return span


def _span_attributes(
    row: dict[str, Any], own: dict[str, Any], conv: cv.Conventions, stats: EncodeStats, where: str
) -> bytes:
    """``cv.span_attributes`` encoded: the labels once per distinct label set (most rows share
    a few), then the row's values; the whole dict when ``own`` renames a label."""
    key = (conv.latest, *[row[c] for c in cv.LABEL_COLUMNS])
    found = _labels.get(key)
    if found is None:
        label_attrs = cv.label_attributes(row, conv)
        before = stats.attributes_dropped
        block = attributes(label_attrs, stats, where)
        found = (block, frozenset(label_attrs), stats.attributes_dropped - before)
        if len(_labels) >= _MEMO_SIZE:
            _labels.clear()
        _labels[key] = found
    elif found[2]:
        stats.attributes_dropped += found[2]  # a label value that cannot go, on this row too
    block, label_keys, _ = found
    if own and not label_keys.isdisjoint(own):
        return attributes(cv.span_attributes(row, own, conv), stats, where)
    return block + attributes(cv.value_attributes(row, own, conv), stats, where)


_labels: dict[tuple[Any, ...], tuple[bytes, frozenset[str], int]] = {}


def _text(value: Any) -> str | None:
    """A text field as protobuf takes it: None for NULL or for text that is not valid UTF-8
    (surrogates)."""
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def _own_attributes(text: Any, stats: EncodeStats, where: str) -> dict[str, Any]:
    """The row's ``attributes`` JSON as a dict; unreadable JSON goes as one text attribute."""
    if text is None or text == "{}":  # most rows: nothing of their own
        return {}
    try:
        parsed = json.loads(text)
    except (ValueError, TypeError) as exc:
        parsed = exc
    if isinstance(parsed, dict):
        return parsed
    stats.attributes_unparsed += 1
    stats._name(
        f"{where}: attributes", str(parsed) if isinstance(parsed, Exception) else "not an object"
    )
    return {"llmobs.attributes": text}


def encode_scores(
    table: pa.Table, *, resource: Mapping[str, Any], stats: EncodeStats | None = None
) -> bytes:
    """A serialized ``ExportLogsServiceRequest`` of ``table``'s score rows (columns of
    :data:`llmobs_nb.store.schema.SCORES`) as ``gen_ai.evaluation.result`` events: each log
    record has ``event_name``, the evaluated span's trace and span ids, and the attributes
    ``gen_ai.evaluation.name``, ``.score.value``, ``.score.label``, ``.explanation`` (the
    comment) and ``llmobs.score.source``. A score whose ids cannot be read goes unparented
    (counted in ``attributes_dropped``).

    Example:
        >>> from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ...     ExportLogsServiceRequest)
        >>> table = pa.table({"trace_id": ["ab" * 16], "span_id": ["cd" * 8],
        ...                   "name": ["relevance"], "value": [0.9]})
        >>> request = ExportLogsServiceRequest.FromString(encode_scores(table, resource={}))
        >>> request.resource_logs[0].scope_logs[0].log_records[0].event_name
        'gen_ai.evaluation.result'
    """
    stats = stats if stats is not None else EncodeStats()
    cols = columns_of(
        table, ("trace_id", "span_id", "name", "value", "label", "comment", "source", "created_at")
    )
    records = []
    for index in range(table.num_rows):
        where = f"score row {index}"
        name = _text(cols["name"][index])
        if name is None:
            stats.scores_refused += 1
            stats._name(where, "no evaluation name")
            continue
        value = cols["value"][index]
        created = cols["created_at"][index]
        try:
            trace_id = _id(cols["trace_id"][index], 16)
            span_id = b"" if cols["span_id"][index] is None else _id(cols["span_id"][index], 8)
        except ValueError as exc:
            trace_id = span_id = b""
            stats.drop(f"{where}: trace/span id", exc)
        attrs = {
            cv.GEN_AI_EVALUATION_NAME: name,
            cv.GEN_AI_EVALUATION_SCORE_VALUE: float(value) if value is not None else None,
            cv.GEN_AI_EVALUATION_SCORE_LABEL: cols["label"][index],
            cv.GEN_AI_EVALUATION_EXPLANATION: cols["comment"][index],
            cv.LLMOBS_SCORE_SOURCE: cols["source"][index],
        }
        records.append(
            wire.log_record(
                time_ns=0 if created is None else created * _NS_PER_US,
                attributes=attributes(attrs, stats, where, wire.LOG_ATTRIBUTE),
                trace_id=trace_id,
                span_id=span_id,
                event_name=cv.EVALUATION_EVENT,
            )
        )
        stats.scores += 1
    if not records:
        return b""
    head = attributes(resource, stats, "resource", wire.RESOURCE_ATTRIBUTE)
    items = wire.repeated(wire.SCOPE_ITEM, records)
    return wire.field(
        wire.REQUEST_ITEM, wire.resource_scope(head, SCOPE_NAME, "", cv.SCHEMA_URL, items)
    )
