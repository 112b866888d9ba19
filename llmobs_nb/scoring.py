"""Scores: the checks a score passes and the row it becomes in the ``scores`` table.

A score is a finite number (inside ``bounds``, [0, 1] by default; ``bounds=None`` for an
unbounded one) attached to a stored span (``span_id``: 16 lowercase hex digits) or a stored
trace (``trace_id``: 32). Name, source, comment and label are stored with secrets masked. A
span or trace the store does not hold raises :class:`UnknownSpanError` (every finished span is
written before that is decided). Each score also feeds the ``llm_quality_score`` metric, with
the model and use case of the scored call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from llmobs_nb.capture.redact import redact_optional, redact_text
from llmobs_nb.capture.span_labels import SpanLabels

_HEX16 = re.compile(r"^[0-9a-f]{16}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


class UnknownSpanError(KeyError):
    """``score()`` was given a span or trace id that the store does not hold.

    A ``KeyError`` (and so a ``LookupError``), as an unknown ``span_id`` always raised.

    Example:
        >>> str(UnknownSpanError("no span 'ab' in x.duckdb"))
        "no span 'ab' in x.duckdb"
    """

    def __str__(self) -> str:  # KeyError quotes its message; this one is a sentence
        return str(self.args[0]) if self.args else ""


def check_value(name: Any, value: Any, bounds: tuple[float, float] | None) -> float:
    """``value`` as a float if it is a finite number inside ``bounds``; else raise.

    Example:
        >>> check_value("quality", 1, (0.0, 1.0))
        1.0
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"score name must be a non-empty string, got {name!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"score {name!r} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(
            f"score {name!r} = {value!r} is not finite: NaN and infinity are not scores; "
            f"skip the call or record a failed evaluation in comment="
        )
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise ValueError(
            f"score {name!r} = {value!r} is outside [{bounds[0]}, {bounds[1]}]: rescale it, "
            f"or pass bounds=None for an unbounded score"
        )
    return float(value)


def score_row(
    trace_id: str, span_id: str | None, name: str, value: float, **text: str | None
) -> pa.Table:
    """The ``scores`` row of one checked score; ``text`` is source, comment and label (each
    stored redacted).

    Example:
        >>> score_row("0" * 32, None, "quality", 0.5, source="human").column("source")[0]
        <pyarrow.StringScalar: 'human'>
    """
    return pa.table(
        {
            "trace_id": [trace_id],
            "span_id": [span_id],
            "name": [redact_text(name)],
            "value": [value],
            "source": [redact_optional(text.get("source"))],
            "comment": [redact_optional(text.get("comment"))],
            "created_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
            "label": pa.array([redact_optional(text.get("label"))], pa.string()),
        }
    )


class Scores:
    """Writes checked scores into ``store``; the score side of an Observer.

    ``labels`` answers for recent calls; otherwise ``flush`` is called (every finished span
    written) and the store asked. ``metrics`` is anything with ``record_score``, or None.

    Example:
        >>> from llmobs_nb.store import Store
        >>> scores = Scores(Store(), SpanLabels(), flush=lambda: None)
        >>> scores.add("00f067aa0ba902b7", value=0.9)
        Traceback (most recent call last):
        ...
        llmobs_nb.scoring.UnknownSpanError: no span '00f067aa0ba902b7' in :memory:. ...
    """

    def __init__(
        self, store: Any, labels: SpanLabels, flush: Callable[[], None], metrics: Any = None
    ) -> None:
        self.store = store
        self.labels = labels
        self.flush = flush
        self.metrics = metrics

    def add(
        self,
        span_id: str | None = None,
        *,
        trace_id: str | None = None,
        name: str = "quality",
        value: float,
        source: str = "human",
        comment: str | None = None,
        bounds: tuple[float, float] | None = (0.0, 1.0),
        label: str | None = None,
    ) -> None:
        """Attach a named score to a stored span (or a whole trace); stored in ``scores``.

        ``obs.score`` is this method. The value must be finite and, with ``bounds`` (default
        [0, 1]), inside them (``bounds=None`` for an unbounded score); an unknown id raises
        :class:`UnknownSpanError` (every finished span is written first). ``label`` names a
        category beside the number. Name, source, comment and label are stored with secrets
        masked.

        Example:
            >>> obs.score(span.span_id, name="quality", value=0.82,   # doctest: +SKIP
            ...           source="llm_judge")
        """
        text = {"source": source, "comment": comment, "label": label}
        checked = check_value(name, value, bounds)
        if span_id is None and trace_id is None:
            raise ValueError("score() needs span_id= or trace_id=")
        model = use_case = None
        if span_id is not None:
            if not isinstance(span_id, str) or not _HEX16.match(span_id):
                raise ValueError(f"span_id {span_id!r} is not 16 lowercase hex digits")
            found = self._span(span_id)
            if found is None:
                raise UnknownSpanError(self._unknown("span", span_id))
            trace_id, model, use_case = found
        elif not isinstance(trace_id, str) or not _HEX32.match(trace_id):
            raise ValueError(f"trace_id {trace_id!r} is not 32 lowercase hex digits")
        elif not self._trace_stored(trace_id):
            raise UnknownSpanError(self._unknown("trace", trace_id))
        self.store.write_scores(score_row(trace_id, span_id, name, checked, **text))
        if self.metrics is not None:
            self.metrics.record_score(model, use_case, checked)

    def _span(self, span_id: str) -> tuple[str, str | None, str | None] | None:
        found = self.labels.get(span_id)
        if found is not None:
            return found
        self.flush()
        rows = self.store.query(
            "SELECT trace_id, model, use_case FROM spans WHERE span_id = ? LIMIT 1", [span_id]
        )
        return rows.row(0) if rows.height else None  # type: ignore[return-value]

    def _trace_stored(self, trace_id: str) -> bool:
        self.flush()
        found = self.store.query("SELECT 1 FROM spans WHERE trace_id = ? LIMIT 1", [trace_id])
        return found.height > 0

    def _unknown(self, what: str, value: str) -> str:
        return (
            f"no {what} {value!r} in {self.store.path}. score() wrote every finished span to "
            f"the store first, so it is not one waiting to be flushed: check the id (copy it "
            f"from span.span_id / span.trace_id or obs.calls()). A span still open — inside its "
            f"`with` block, or a stream not read to its end — is stored when it ends: score it "
            f"after that."
        )
