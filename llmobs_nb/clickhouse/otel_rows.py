"""Rows of the store → rows of the collector's ClickHouse tables, as Arrow.

Spans become ``otel_traces`` rows and scores ``otel_logs`` rows exactly as the OpenTelemetry
collector's ClickHouse exporter would store the OTLP this package sends
(:mod:`llmobs_nb.otlp.encode`): the same attributes in both conventions
(:func:`llmobs_nb.otlp.conventions.span_attributes`, GenAI and OpenInference), the same
first-token and exception events, ``Client`` kind for model calls
(:data:`~llmobs_nb.store.model_call.is_model_call`), every attribute value as text (the
exporter's ``AsString``: ints in decimal, floats as their shortest round-trip text, booleans
``true``/``false``, lists and maps as JSON), plus the exporter's own ``otel.scope.name`` and
``otel.scope.version`` span attributes.

``Duration`` is the stored latency in ns (``round(latency_s * 1e9)``; ``end - start`` without
one), so a latency read back is the stored one within 0.5 ns.

Example:
    >>> import pyarrow as pa
    >>> from llmobs_nb.store.schema import SPANS
    >>> spans = pa.Table.from_pylist([{"trace_id": "ab" * 16, "span_id": "cd" * 8,
    ...     "name": "ask", "kind": "llm", "model": "gpt-4o", "latency_s": 1.5}], schema=SPANS.arrow)
    >>> row = otel_traces_rows(spans).to_pylist()[0]
    >>> row["SpanKind"], row["Duration"], dict(row["SpanAttributes"])["gen_ai.request.model"]
    ('Client', 1500000000, 'gpt-4o')
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from llmobs_nb.capture import semconv as sc
from llmobs_nb.clickhouse.otel_schema import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_INTERNAL,
    STATUS_ERROR,
    STATUS_UNSET,
)
from llmobs_nb.otlp import conventions as cv
from llmobs_nb.otlp.encode import SPAN_COLUMNS, columns_of
from llmobs_nb.store.model_call import is_model_call

SCOPE_NAME = "llmobs_nb"
"""The instrumentation scope of exported rows (the OTLP encoder's)."""
SCOPE_NAME_ATTRIBUTE = "otel.scope.name"
SCOPE_VERSION_ATTRIBUTE = "otel.scope.version"
EXCEPTION_EVENT = "exception"
_NS = pa.timestamp("ns")
_MAP = pa.map_(pa.string(), pa.string())

#: ``otel_traces`` columns as Arrow types (what :func:`otel_traces_rows` returns).
TRACES_ARROW = pa.schema(
    [
        ("Timestamp", _NS),
        ("TraceId", pa.string()),
        ("SpanId", pa.string()),
        ("ParentSpanId", pa.string()),
        ("TraceState", pa.string()),
        ("SpanName", pa.string()),
        ("SpanKind", pa.string()),
        ("ServiceName", pa.string()),
        ("ResourceAttributes", _MAP),
        ("ScopeName", pa.string()),
        ("ScopeVersion", pa.string()),
        ("SpanAttributes", _MAP),
        ("Duration", pa.uint64()),
        ("StatusCode", pa.string()),
        ("StatusMessage", pa.string()),
        ("Events.Timestamp", pa.list_(_NS)),
        ("Events.Name", pa.list_(pa.string())),
        ("Events.Attributes", pa.list_(_MAP)),
        ("Links.TraceId", pa.list_(pa.string())),
        ("Links.SpanId", pa.list_(pa.string())),
        ("Links.TraceState", pa.list_(pa.string())),
        ("Links.Attributes", pa.list_(_MAP)),
    ]
)
#: ``otel_logs`` columns written for scores (the rest take their defaults).
LOGS_ARROW = pa.schema(
    [
        ("Timestamp", _NS),
        ("TraceId", pa.string()),
        ("SpanId", pa.string()),
        ("ServiceName", pa.string()),
        ("Body", pa.string()),
        ("ResourceAttributes", _MAP),
        ("ScopeName", pa.string()),
        ("LogAttributes", _MAP),
        ("EventName", pa.string()),
    ]
)


def as_text(value: Any) -> str | None:
    """An attribute value as the exporter stores it (``pcommon.Value.AsString``); None for
    None (the attribute is left out).

    Example:
        >>> as_text(12), as_text(0.1), as_text(True), as_text(["stop"])
        ('12', '0.1', 'true', '["stop"]')
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return json.dumps(value, ensure_ascii=False, default=str)


class _Maps:
    """A column of attribute maps built from flat keys, values and offsets (one Arrow
    ``MapArray`` at the end, not a Python list of lists of pairs)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.values: list[str] = []
        self.offsets: list[int] = [0]

    def add(self, attrs: Mapping[str, Any]) -> None:
        keys, values = self.keys, self.values
        for key, value in attrs.items():
            text = as_text(value)
            if text is not None:
                keys.append(key)
                values.append(text)
        self.offsets.append(len(keys))

    def add_texts(self, keys: list[str], values: list[str]) -> None:
        """Add one map whose keys and values are text already."""
        self.keys.extend(keys)
        self.values.extend(values)
        self.offsets.append(len(self.keys))

    def array(self) -> pa.MapArray:
        return pa.MapArray.from_arrays(
            pa.array(self.offsets, pa.int32()),
            pa.array(self.keys, pa.string()),
            pa.array(self.values, pa.string()),
        )


# The columns the OTLP encoder reads, and the latency (the collector stores a Duration).
_SPAN_COLUMNS = (*SPAN_COLUMNS, "latency_s")


def _own(text: Any) -> dict[str, Any]:
    if text is None or text == "{}":
        return {}
    try:
        parsed = json.loads(text)
    except (ValueError, TypeError):
        return {"llmobs.attributes": text}
    return parsed if isinstance(parsed, dict) else {"llmobs.attributes": text}


def _scope_version() -> str:
    return cv.resource_attributes(None)["telemetry.distro.version"]


def otel_traces_rows(
    spans: pa.Table, *, conventions: cv.Conventions | None = None, project: str | None = None
) -> pa.Table:
    """``spans`` (columns of :data:`llmobs_nb.store.schema.SPANS`) as ``otel_traces`` rows
    (:data:`TRACES_ARROW`). ``ServiceName`` and the resource are each row's ``project``
    (``project`` when the row has none), as the OTLP export sends them.

    Example:
        >>> otel_traces_rows(pa.table({"trace_id": pa.array([], pa.string())})).num_rows
        0
    """
    conv = conventions or cv.Conventions()
    cols = columns_of(spans, _SPAN_COLUMNS)
    n = spans.num_rows
    version = _scope_version()
    scope = {SCOPE_NAME_ATTRIBUTE: SCOPE_NAME, SCOPE_VERSION_ATTRIBUTE: version}
    labels: dict[tuple[Any, ...], tuple[list[str], list[str]]] = {}
    resources: dict[Any, dict[str, Any]] = {}
    span_maps, resource_maps = _Maps(), _Maps()
    event_times: list[list[int]] = []
    event_names: list[list[str]] = []
    event_maps: list[_Maps] = []
    timestamps, durations, kinds, services, codes, messages, parents = [], [], [], [], [], [], []
    label_columns = [cols[c] for c in cv.LABEL_COLUMNS]
    names = list(cols)
    rows = zip(*cols.values(), strict=True)
    for index, values in enumerate(rows):
        row = dict(zip(names, values, strict=True))
        key = tuple(column[index] for column in label_columns)
        own = _own(row["attributes"])
        found = labels.get(key)
        if found is None:
            label_attrs = {**cv.label_attributes(row, conv), **scope}
            pairs = [(k, as_text(v)) for k, v in label_attrs.items()]
            found = labels[key] = ([k for k, t in pairs if t is not None],
                                   [t for _, t in pairs if t is not None])  # fmt: skip
        label_keys, label_values = found
        extra = cv.value_attributes(row, own, conv)
        if own and not set(own).isdisjoint(label_keys):  # its own value wins over a label
            attrs = {**dict(zip(label_keys, label_values, strict=True)), **extra}
            span_maps.add(attrs)
        else:
            keys = list(label_keys)
            texts = list(label_values)
            for k, v in extra.items():
                text = as_text(v)
                if text is not None:
                    keys.append(k)
                    texts.append(text)
            span_maps.add_texts(keys, texts)
        project = row["project"] or project
        resource = resources.get(project)
        if resource is None:
            resource = resources[project] = cv.resource_attributes(project)
        resource_maps.add(resource)
        services.append(str(resource.get("service.name") or ""))
        start = (row["start_time"] or 0) * 1000
        latency = row["latency_s"]
        if isinstance(latency, float) and math.isfinite(latency) and latency >= 0:
            duration = round(latency * 1e9)
        elif row["end_time"] is not None:
            duration = max(row["end_time"] * 1000 - start, 0)
        else:
            duration = 0
        timestamps.append(start)
        durations.append(duration)
        kinds.append(
            SPAN_KIND_CLIENT if is_model_call(row["kind"], row["model"]) else SPAN_KIND_INTERNAL
        )
        parents.append(row["parent_span_id"] or "")
        times: list[int] = []
        events: list[str] = []
        event_attrs = _Maps()
        ttft = row["ttft_s"]
        if isinstance(ttft, float) and math.isfinite(ttft) and ttft >= 0:
            times.append(start + round(ttft * 1e9))
            events.append(cv.FIRST_TOKEN_EVENT)
            event_attrs.add({sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: ttft})
        if row["status"] == "error":
            codes.append(STATUS_ERROR)
            messages.append(row["error_message"] or row["error_type"] or "")
            times.append(start + duration)
            events.append(EXCEPTION_EVENT)
            event_attrs.add(
                {"exception.type": row["error_type"], "exception.message": row["error_message"]}
            )
        else:
            codes.append(STATUS_UNSET)
            messages.append("")
        event_times.append(times)
        event_names.append(events)
        event_maps.append(event_attrs)
    empty = [[] for _ in range(n)]
    return pa.table(
        {
            "Timestamp": pa.array(timestamps, pa.int64()).cast(_NS),
            "TraceId": pa.array(cols["trace_id"], pa.string()),
            "SpanId": pa.array(cols["span_id"], pa.string()),
            "ParentSpanId": pa.array(parents, pa.string()),
            "TraceState": pa.array([""] * n, pa.string()),
            "SpanName": pa.array([v or "" for v in cols["name"]], pa.string()),
            "SpanKind": pa.array(kinds, pa.string()),
            "ServiceName": pa.array(services, pa.string()),
            "ResourceAttributes": resource_maps.array(),
            "ScopeName": pa.array([SCOPE_NAME] * n, pa.string()),
            "ScopeVersion": pa.array([version] * n, pa.string()),
            "SpanAttributes": span_maps.array(),
            "Duration": pa.array(durations, pa.uint64()),
            "StatusCode": pa.array(codes, pa.string()),
            "StatusMessage": pa.array(messages, pa.string()),
            "Events.Timestamp": pa.array(event_times, pa.list_(pa.int64())).cast(pa.list_(_NS)),
            "Events.Name": pa.array(event_names, pa.list_(pa.string())),
            "Events.Attributes": _lists_of_maps(event_maps),
            "Links.TraceId": pa.array(empty, pa.list_(pa.string())),
            "Links.SpanId": pa.array(empty, pa.list_(pa.string())),
            "Links.TraceState": pa.array(empty, pa.list_(pa.string())),
            "Links.Attributes": pa.array(empty, pa.list_(_MAP)),
        },
        schema=TRACES_ARROW,
    )


def _lists_of_maps(per_row: list[_Maps]) -> pa.ListArray:
    flat = _Maps()
    offsets = [0]
    for maps in per_row:
        starts = maps.offsets
        for i in range(len(starts) - 1):
            flat.add_texts(
                maps.keys[starts[i] : starts[i + 1]], maps.values[starts[i] : starts[i + 1]]
            )
        offsets.append(offsets[-1] + len(starts) - 1)
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), flat.array())


def otel_logs_rows(scores: pa.Table, *, project: str | None = None) -> pa.Table:
    """``scores`` (columns of :data:`llmobs_nb.store.schema.SCORES`) as ``otel_logs`` rows
    (:data:`LOGS_ARROW`): ``gen_ai.evaluation.result`` events with the evaluated span's ids
    and the attributes the OTLP export sends (``gen_ai.evaluation.name``, ``.score.value``,
    ``.score.label``, ``.explanation``, ``llmobs.score.source``).

    Example:
        >>> table = pa.table({"trace_id": ["ab" * 16], "span_id": ["cd" * 8],
        ...                   "name": ["relevance"], "value": [0.9]})
        >>> attrs = dict(otel_logs_rows(table).to_pylist()[0]["LogAttributes"])
        >>> attrs["gen_ai.evaluation.score.value"]
        '0.9'
    """
    names = ("trace_id", "span_id", "name", "value", "label", "comment", "source", "created_at")
    cols = columns_of(scores, names)
    resource = cv.resource_attributes(project)
    resource_maps, log_maps = _Maps(), _Maps()
    for i in range(scores.num_rows):
        resource_maps.add(resource)
        value = cols["value"][i]
        log_maps.add(
            {
                cv.GEN_AI_EVALUATION_NAME: cols["name"][i],
                cv.GEN_AI_EVALUATION_SCORE_VALUE: None if value is None else float(value),
                cv.GEN_AI_EVALUATION_SCORE_LABEL: cols["label"][i],
                cv.GEN_AI_EVALUATION_EXPLANATION: cols["comment"][i],
                cv.LLMOBS_SCORE_SOURCE: cols["source"][i],
            }
        )
    n = scores.num_rows
    created = [0 if t is None else t * 1000 for t in cols["created_at"]]
    return pa.table(
        {
            "Timestamp": pa.array(created, pa.int64()).cast(_NS),
            "TraceId": pa.array([t or "" for t in cols["trace_id"]], pa.string()),
            "SpanId": pa.array([s or "" for s in cols["span_id"]], pa.string()),
            "ServiceName": pa.array([str(resource["service.name"])] * n, pa.string()),
            "Body": pa.array([""] * n, pa.string()),
            "ResourceAttributes": resource_maps.array(),
            "ScopeName": pa.array([SCOPE_NAME] * n, pa.string()),
            "LogAttributes": log_maps.array(),
            "EventName": pa.array([cv.EVALUATION_EVENT] * n, pa.string()),
        },
        schema=LOGS_ARROW,
    )
