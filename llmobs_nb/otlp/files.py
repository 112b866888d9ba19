"""Reading the OpenTelemetry collector's file exporter output into a store: one OTLP/JSON
``ExportTraceServiceRequest`` per line, plain or gzip'd (``.gz``). An Arize Phoenix spans
export (parquet or REST JSON, recognised by content) is handed to
:mod:`llmobs_nb.otlp.phoenix_export`.

Each span goes to a callback (the observer's processor ``on_end``), as received spans do. A
line that is not an OTLP request is counted (and the first few named), never fatal; a bad
span costs only itself.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "traces.jsonl"
    >>> _ = path.write_text('{"resourceSpans": []}\\nnot json\\n')
    >>> read_otlp_file(path, print)
    IngestResult(spans_read=0, spans_refused=0, lines_not_otlp=1, errors=['line 2: not JSON'])
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from llmobs_nb.otlp.ingest_result import IngestResult
from llmobs_nb.otlp.phoenix_export import read_phoenix_file, sniff

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan


def _lines(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        yield from handle


def read_otlp_file(path: str | Path, on_span: Callable[[ReadableSpan], None]) -> IngestResult:
    """Read a collector file-exporter file (OTLP/JSON lines, ``.gz`` too) or a Phoenix spans
    export, each span to ``on_span``. Blank lines are skipped; other lines that are not OTLP
    are counted.

    Example:
        >>> read_otlp_file("traces.jsonl", obs.capture.processor.on_end)  # doctest: +SKIP
        IngestResult(spans_read=120, spans_refused=0, lines_not_otlp=0, errors=[])
    """
    try:  # here, not at the top: ``import llmobs_nb`` must not need the [otlp] extra
        from llmobs_nb.otlp.decode import DecodeError, decode_json
    except ImportError as exc:
        raise ImportError(
            "reading OTLP needs opentelemetry-proto: pip install 'llmobs_nb[otlp]'"
        ) from exc

    path = Path(path).expanduser()
    phoenix = sniff(path)  # a Phoenix spans export (parquet, REST JSON) is read as such
    if phoenix is not None:
        return read_phoenix_file(path, on_span, phoenix)
    result = IngestResult()
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            decoded = decode_json(json.loads(line))
        except (ValueError, UnicodeDecodeError) as exc:  # DecodeError is a ValueError
            result.lines_not_otlp += 1
            why = str(exc) if isinstance(exc, DecodeError) else "not JSON"
            result._note(f"line {number}: {why}")
            continue
        for span in decoded.spans:
            try:
                on_span(span)
                result.spans_read += 1
            except Exception as exc:
                decoded.refuse(f"span {span.name!r}", exc)
        result.spans_refused += decoded.refused
        for error in decoded.errors:
            result._note(f"line {number}: {error}")
    return result
