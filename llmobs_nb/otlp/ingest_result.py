"""What reading a file into a store gives back (``llmobs_nb.ingest``): spans read, refused,
lines that were not spans, and the first few errors by name.

Example:
    >>> IngestResult(spans_read=2)
    IngestResult(spans_read=2, spans_refused=0, lines_not_otlp=0, errors=[])
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_NAMED_ERRORS = 20  # errors kept by name; all are counted


@dataclass
class IngestResult:
    """What ``read_otlp_file``, ``read_phoenix_file`` (and ``llmobs_nb.ingest``) read.

    ``spans_read`` went into the store; ``spans_refused`` were malformed (or refused by the
    callback); ``lines_not_otlp`` were lines that are not OTLP/JSON requests (or not Phoenix
    spans, in a Phoenix JSON-lines export); ``errors`` names the first few.

    Example:
        >>> IngestResult().spans_read
        0
    """

    spans_read: int = 0
    spans_refused: int = 0
    lines_not_otlp: int = 0
    errors: list[str] = field(default_factory=list)

    def _note(self, text: str) -> None:
        if len(self.errors) < MAX_NAMED_ERRORS:
            self.errors.append(text)
