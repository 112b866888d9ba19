"""Arize Phoenix spans exports read back as OpenTelemetry spans, for ``llmobs_nb.ingest``.

What Phoenix users save, all recognised by content (not by file name):

* **Parquet** — the spans dataframe of Phoenix's client
  (``Client().spans.get_spans_dataframe(...).to_parquet(path)``) or a ``TraceDataset.save``
  file (``trace_dataset-<id>.parquet``): one row per span, columns ``name``, ``span_kind``,
  ``parent_id``, ``start_time``, ``end_time``, ``status_code``, ``status_message``, ``events``,
  ``context.span_id``, ``context.trace_id`` and ``attributes.<name>`` (nested values: Phoenix
  turns ``metadata`` JSON into a struct and message lists into lists of structs).
* **JSON** — the REST API's answer (``GET /v1/projects/{project}/spans``: ``{"data": [...]}``),
  a JSON list of those spans (``Client().spans.get_spans(...)``), or one span per line; and
  the OTLP-shaped answer of ``GET /v1/projects/{project}/spans/otlpv1`` (``"otlpv1"``).

Each span becomes a ``ReadableSpan`` with the OpenInference attributes Phoenix had (dotted
names, ``openinference.span.kind`` put back, ``metadata`` as JSON text as OpenInference sends
it, token counts as integers), so it takes the path of every received span: row conversion,
redaction, content policy. A span that cannot be read costs only itself (counted, named).

Example:
    >>> import tempfile, pathlib, json
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "spans.json"
    >>> _ = path.write_text(json.dumps({"data": [{"name": "q", "span_kind": "LLM",
    ...     "context": {"trace_id": "1" * 32, "span_id": "2" * 16},
    ...     "start_time": "2025-01-01T00:00:00+00:00", "end_time": "2025-01-01T00:00:01+00:00",
    ...     "attributes": {"llm.model_name": "m"}}]}))
    >>> sniff(path)
    'json'
    >>> spans = []
    >>> read_phoenix_file(path, spans.append).spans_read, spans[0].attributes["llm.model_name"]
    (1, 'm')
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from llmobs_nb.otlp.ingest_result import IngestResult

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

PARQUET_MAGIC = b"PAR1"
#: Columns every Phoenix spans dataframe has (Phoenix's ``trace_dataset.REQUIRED_COLUMNS``).
REQUIRED_COLUMNS = frozenset(("name", "span_kind", "context.span_id", "context.trace_id"))
ATTRIBUTE_PREFIX = "attributes."
SPAN_KIND = "openinference.span.kind"
METADATA = "metadata"
_INTEGER_PREFIXES = ("llm.token_count.",)  # pandas makes them float (NaN for missing)
_SNIFF_BYTES = 1 << 16

Kind = Literal["parquet", "json", "jsonl", "otlpv1"]
_STATUS_NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}


def sniff(path: str | Path) -> Kind | None:
    """Which Phoenix export ``path`` holds (``"parquet"``, ``"json"``, ``"jsonl"``), or None
    when it is something else (e.g. the collector's OTLP/JSON lines). Reads little.

    Example:
        >>> sniff(__file__) is None
        True
    """
    path = Path(path).expanduser()
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if head.startswith(PARQUET_MAGIC):
        return "parquet" if _is_phoenix_parquet(path) else None
    text = head.lstrip()
    if text.startswith(b"["):
        return "json" if _is_phoenix_document(_load_json(path)) else None
    if not text.startswith(b"{"):
        return None
    first = text.split(b"\n", 1)[0]
    try:
        line = json.loads(first)
    except ValueError:
        line = None  # a pretty-printed document: one JSON value over several lines
    if isinstance(line, dict) and "resourceSpans" not in line and _is_phoenix_span(line):
        return "jsonl"
    if isinstance(line, dict) and not isinstance(line.get("data"), list):
        return None
    document = _load_json(path)
    if _is_phoenix_document(document):
        return "json"
    data = document.get("data") if isinstance(document, Mapping) else None
    return "otlpv1" if data and _is_otlp_span(data[0]) else None


def read_phoenix_file(
    path: str | Path, on_span: Callable[[ReadableSpan], None], kind: Kind | None = None
) -> IngestResult:
    """Read a Phoenix spans export (see the module text), each span to ``on_span``.

    Raises ``ValueError`` when ``path`` is not a Phoenix export.

    Example:
        >>> read_phoenix_file("spans.parquet", obs.capture.processor.on_end)  # doctest: +SKIP
        IngestResult(spans_read=23, spans_refused=0, lines_not_otlp=0, errors=[])
    """
    path = Path(path).expanduser()
    kind = kind or sniff(path)
    if kind is None:
        raise ValueError(f"{path} is not a Phoenix spans export (parquet or REST JSON)")
    result = IngestResult()
    records = {
        "parquet": _parquet_records,
        "json": _json_records,
        "jsonl": _jsonl_records,
        "otlpv1": _otlpv1_records,
    }[kind]
    for index, record in enumerate(records(path, result)):
        label = _label(record, index)
        try:
            span = to_readable(record)
        except Exception as exc:
            result.spans_refused += 1
            result._note(f"{label}: {type(exc).__name__}: {exc}")
            continue
        try:
            on_span(span)
            result.spans_read += 1
        except Exception as exc:
            result.spans_refused += 1
            result._note(f"{label}: refused: {type(exc).__name__}: {exc}")
    return result


def to_readable(record: Mapping[str, Any]) -> ReadableSpan:
    """One Phoenix span (a REST span dict, or a dataframe row with ``attributes.*`` and
    ``context.*`` columns) as a ``ReadableSpan``. Raises ``ValueError`` on bad ids or times.

    Example:
        >>> span = to_readable({"name": "n", "span_kind": "TOOL", "context.trace_id": "a" * 32,
        ...     "context.span_id": "b" * 16, "start_time": 1_000, "end_time": 2_000,
        ...     "attributes.metadata": {"run": "r1"}, "attributes.llm.token_count.total": 3.0})
        >>> dict(span.attributes)
        {'llm.token_count.total': 3, 'metadata': '{"run": "r1"}', 'openinference.span.kind': 'TOOL'}
    """
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event
    from opentelemetry.sdk.trace import ReadableSpan as SdkSpan
    from opentelemetry.trace import SpanKind, Status, StatusCode

    from llmobs_nb.otlp.decode import _context

    context = record.get("context")
    if isinstance(context, Mapping):
        trace_id, span_id = context.get("trace_id"), context.get("span_id")
    else:
        trace_id, span_id = record.get("context.trace_id"), record.get("context.span_id")
    trace_bytes, span_bytes = _hex(trace_id, 16, "trace id"), _hex(span_id, 8, "span id")
    parent_id = _present(record.get("parent_id"))
    parent = _context(trace_bytes, _hex(parent_id, 8, "parent id")) if parent_id else None
    start = _nanos(record.get("start_time"), "start_time")
    end_raw = _present(record.get("end_time"))
    end = start if end_raw is None else _nanos(end_raw, "end_time")
    if end < start:
        raise ValueError("span ends before it starts")
    attributes = span_attributes(record)
    events = []
    for event in _present(record.get("events")) or ():
        if not isinstance(event, Mapping):
            continue
        try:
            when = _nanos(event.get("timestamp"), "event timestamp")
        except ValueError:
            continue  # a bad event costs only itself
        events.append(Event(str(event.get("name") or ""), _flat(event.get("attributes")), when))
    code = {"OK": StatusCode.OK, "ERROR": StatusCode.ERROR}.get(
        str(record.get("status_code") or "").upper(), StatusCode.UNSET
    )
    message = _present(record.get("status_message")) if code is StatusCode.ERROR else None
    project = _present(record.get("project"))
    resource = Resource({"openinference.project.name": str(project)} if project else {})
    return SdkSpan(
        name=str(_present(record.get("name")) or ""),
        context=_context(trace_bytes, span_bytes),
        parent=parent,
        resource=resource,
        attributes=attributes,
        events=events,
        kind=SpanKind.INTERNAL,  # Phoenix does not keep the OpenTelemetry span kind
        status=Status(code, str(message) if message else None),
        start_time=start,
        end_time=end,
    )


def span_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenTelemetry attributes of a Phoenix span: dotted names, values OTel accepts
    (str, bool, int, float, tuples of them), ``metadata`` as JSON text, the span kind back in
    ``openinference.span.kind``. None/NaN values are left out.

    Example:
        >>> span_attributes({"span_kind": "LLM", "attributes": {"metadata.run": "r1",
        ...     "llm.input_messages.0.message.role": "user"}})
        {'llm.input_messages.0.message.role': 'user', 'metadata': '{"run": "r1"}', \
'openinference.span.kind': 'LLM'}
    """
    nested = record.get("attributes")
    if isinstance(nested, Mapping):
        raw: dict[str, Any] = dict(nested)
    else:
        raw = {
            key[len(ATTRIBUTE_PREFIX) :]: value
            for key, value in record.items()
            if key.startswith(ATTRIBUTE_PREFIX)
        }
    metadata: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        value = _present(value)
        if value is None:
            continue
        if key == METADATA:
            if isinstance(value, Mapping):
                metadata.update(value)
            else:
                out[METADATA] = value if isinstance(value, str) else json.dumps(value, default=str)
        elif key.startswith(METADATA + "."):
            metadata[key[len(METADATA) + 1 :]] = value
        else:
            out.update(_flat({key: value}))
    if metadata and METADATA not in out:
        out[METADATA] = json.dumps(_unflatten(metadata), default=str)
    kind = _present(record.get("span_kind"))
    if kind and SPAN_KIND not in out:
        out[SPAN_KIND] = str(kind)
    return out


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists of dicts → dotted OpenTelemetry attributes (lists of dicts by
    index, as OpenInference's ``llm.input_messages.0.message.role``)."""
    out: dict[str, Any] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    value = _present(value)
    if value is None or not prefix:
        return out
    if isinstance(value, list | tuple):
        items = [_present(item) for item in value]
        if any(isinstance(item, Mapping | list | tuple) for item in items):
            for index, item in enumerate(items):
                out.update(_flat(item, f"{prefix}.{index}"))
            return out
        scalars = tuple(_scalar(prefix, item) for item in items if item is not None)
        out[prefix] = scalars
        return out
    out[prefix] = _scalar(prefix, value)
    return out


def _scalar(key: str, value: Any) -> Any:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, float) and value.is_integer() and key.startswith(_INTEGER_PREFIXES):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    # {"a.b": 1} -> {"a": {"b": 1}}, as the metadata JSON was before Phoenix flattened it
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, last = str(key).split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = value
    return out


def _present(value: Any) -> Any:
    """None for missing values (None, NaN, pandas' NaT), else the value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _hex(value: Any, size: int, what: str) -> bytes:
    text = str(value or "").removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{what} is not hex: {value!r}") from None
    if len(raw) != size:
        raise ValueError(f"{what} must be {size} bytes of hex, got {value!r}")
    return raw


def _nanos(value: Any, what: str) -> int:
    """Nanoseconds since the epoch from an int (ns), a datetime or ISO text (UTC if naive)."""
    value = _present(value)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} is missing")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{what} is not an ISO time: {value!r}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000
    raise ValueError(f"{what} is not a time: {value!r}")


def _label(record: Any, index: int) -> str:
    name = record.get("name") if isinstance(record, Mapping) else None
    return f"span {name!r}" if isinstance(name, str) else f"span #{index}"


def _is_phoenix_span(value: Any) -> bool:
    if not isinstance(value, Mapping) or "span_kind" not in value:
        return False
    context = value.get("context")
    return isinstance(context, Mapping) and "span_id" in context


def _is_otlp_span(value: Any) -> bool:
    return isinstance(value, Mapping) and "span_id" in value and "start_time_unix_nano" in value


def _is_phoenix_document(document: Any) -> bool:
    if isinstance(document, Mapping):
        document = document.get("data")
    return isinstance(document, list) and bool(document) and _is_phoenix_span(document[0])


def _load_json(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return json.load(handle)
    except (ValueError, UnicodeDecodeError):
        return None


def _is_phoenix_parquet(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(path).names)
    except Exception:
        return False
    return names >= REQUIRED_COLUMNS


def _parquet_records(path: Path, result: IngestResult) -> Iterator[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=2_048):
        columns = {}
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if pa.types.is_timestamp(column.type):
                # exact to the nanosecond, whatever unit the file was written with
                column = column.cast(pa.timestamp("ns", column.type.tz)).cast(pa.int64())
            columns[name] = column.to_pylist()
        names = list(columns)
        for values in zip(*columns.values(), strict=True):
            yield dict(zip(names, values, strict=True))


def _json_records(path: Path, result: IngestResult) -> Iterator[Any]:
    document = _load_json(path)
    spans = document.get("data") if isinstance(document, Mapping) else document
    yield from spans if isinstance(spans, list) else ()


def _jsonl_records(path: Path, result: IngestResult) -> Iterator[Any]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                result.lines_not_otlp += 1
                result._note(f"line {number}: not JSON")
                continue
            if not _is_phoenix_span(record):
                result.lines_not_otlp += 1
                result._note(f"line {number}: not a Phoenix span")
                continue
            yield record


def _otlpv1_records(path: Path, result: IngestResult) -> Iterator[Any]:
    for span in _json_records(path, result):
        yield from_otlpv1(span) if _is_otlp_span(span) else span


def from_otlpv1(span: Mapping[str, Any]) -> dict[str, Any]:
    """One span of Phoenix's ``/spans/otlpv1`` answer in the shape of its ``/spans`` answer.
    Its times are floats times 10^9; Phoenix keeps microseconds, so they are rounded to them.

    Example:
        >>> from_otlpv1({"trace_id": "a" * 32, "span_id": "b" * 16, "name": "n",
        ...     "start_time_unix_nano": 1_000_000_999, "status": {"code": 2},
        ...     "attributes": [{"key": "k", "value": {"int_value": "3"}}]})["start_time"]
        1000001000
    """
    attributes = {
        str(kv.get("key")): _plain(kv.get("value"))
        for kv in span.get("attributes") or ()
        if isinstance(kv, Mapping)
    }
    status = span.get("status") if isinstance(span.get("status"), Mapping) else {}
    return {
        "name": span.get("name"),
        "context": {"trace_id": span.get("trace_id"), "span_id": span.get("span_id")},
        "span_kind": attributes.get(SPAN_KIND),
        "parent_id": span.get("parent_span_id"),
        "start_time": _micros_ns(span.get("start_time_unix_nano")),
        "end_time": _micros_ns(span.get("end_time_unix_nano")),
        "status_code": _STATUS_NAMES.get(status.get("code"), "UNSET"),
        "status_message": status.get("message"),
        "attributes": attributes,
        "events": [
            {
                "name": event.get("name"),
                "timestamp": _micros_ns(event.get("time_unix_nano")),
                "attributes": {
                    str(kv.get("key")): _plain(kv.get("value"))
                    for kv in event.get("attributes") or ()
                    if isinstance(kv, Mapping)
                },
            }
            for event in span.get("events") or ()
            if isinstance(event, Mapping)
        ],
    }


def _micros_ns(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(value / 1_000) * 1_000
    return value


def _plain(value: Any) -> Any:
    """An OTLP JSON ``AnyValue`` (snake or camel case, unset fields null) as a plain value."""
    if not isinstance(value, Mapping):
        return None
    for key, item in value.items():
        if item is None:
            continue
        if key in ("array_value", "arrayValue"):
            values = item.get("values") if isinstance(item, Mapping) else None
            return tuple(_plain(v) for v in values or ())
        if key in ("int_value", "intValue"):
            try:
                return int(item)
            except (TypeError, ValueError):
                return None
        return item
    return None
