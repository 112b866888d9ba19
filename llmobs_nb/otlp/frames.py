"""How the capture hands rows to the export child process: length-prefixed Arrow IPC frames.

One frame is a kind byte (:data:`SPANS` or :data:`SCORES`), the payload's length (4 bytes, big
endian) and an Arrow IPC stream of one table. The child answers each frame, in order, with one
JSON line (:func:`ack`): how many of its rows were sent and how many failed.

Example:
    >>> import io
    >>> import pyarrow as pa
    >>> pipe = io.BytesIO()
    >>> write_frame(pipe, SPANS, pa.table({"span_id": ["a", "b"]}))
    >>> _ = pipe.seek(0)
    >>> kind, table = read_frame(pipe)
    >>> kind == SPANS, table.num_rows
    (True, 2)
    >>> read_frame(pipe) is None
    True
"""

from __future__ import annotations

import json
import struct
from typing import IO, Any

import pyarrow as pa

#: A frame of ``spans`` rows (``llmobs_nb.store.schema.SPANS``).
SPANS = b"S"
#: A frame of ``scores`` rows (``llmobs_nb.store.schema.SCORES``).
SCORES = b"C"

_HEADER = struct.Struct("!cI")


def write_frame(out: IO[bytes], kind: bytes, table: pa.Table) -> None:
    """Write ``table`` as one frame of ``kind`` (the caller flushes)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    payload = sink.getvalue()
    out.write(_HEADER.pack(kind, payload.size))
    out.write(payload)


def read_frame(source: IO[bytes]) -> tuple[bytes, pa.Table] | None:
    """The next frame's kind and table; None at the end of the stream (or a cut frame)."""
    header = source.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    kind, size = _HEADER.unpack(header)
    payload = source.read(size)
    if len(payload) < size:
        return None
    return kind, pa.ipc.open_stream(payload).read_all()


def ack(sent: int, failed: int, error: str | None = None, attributes_dropped: int = 0) -> str:
    """The child's answer to one frame, as one line of JSON: rows sent, rows failed, the last
    problem, and attribute values encoding left out of the rows it sent."""
    answer: dict[str, Any] = {"sent": sent, "failed": failed}
    if error:
        answer["error"] = error
    if attributes_dropped:
        answer["attributes_dropped"] = attributes_dropped
    return json.dumps(answer)
