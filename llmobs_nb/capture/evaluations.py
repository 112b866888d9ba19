"""Evaluation results from elsewhere → rows of the ``scores`` table.

The OpenTelemetry GenAI conventions record an evaluation as a ``gen_ai.evaluation.result``
event (a span event on the evaluated span, or a log record carrying that span's ids) with
``gen_ai.evaluation.name``, ``.score.value``, ``.score.label`` and ``.explanation``. Each such
event becomes one score row: ``source`` is ``"otel"``, the explanation is the ``comment``
(dropped when content is not captured: it may quote the prompt or the answer), name, label and
comment are redacted. A value that is not a finite number costs only the value (the label is
kept); an event with neither a value nor a label is refused (the caller counts it).

Example:
    >>> row = evaluation_row({"gen_ai.evaluation.name": "relevance",
    ...                       "gen_ai.evaluation.score.value": 0.8}, "ab" * 16, "cd" * 8)
    >>> row["name"], row["value"], row["source"]
    ('relevance', 0.8, 'otel')
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pyarrow as pa

from llmobs_nb.capture import semconv as sc
from llmobs_nb.capture.redact import redact_optional
from llmobs_nb.capture.rows import describe_error
from llmobs_nb.store.schema import SCORES

log = logging.getLogger("llmobs_nb")

SOURCE = "otel"
DEFAULT_NAME = "evaluation"  # the event gave no gen_ai.evaluation.name
SCORES_ARROW = SCORES.arrow  # the store's one definition of the scores table


class RefusedEvaluation(ValueError):
    """An evaluation event that cannot be a score (no value and no label, or no trace id)."""


def is_evaluation(name: Any, attrs: Mapping[str, Any] | None) -> bool:
    """Whether an event (span event name, or a log record's ``event_name``) is an evaluation
    result; a log record may name its event in the ``event.name`` attribute instead.

    Example:
        >>> is_evaluation("", {"event.name": "gen_ai.evaluation.result"})
        True
    """
    if name == sc.GEN_AI_EVALUATION_RESULT:
        return True
    return not name and bool(attrs) and attrs.get(sc.EVENT_NAME) == sc.GEN_AI_EVALUATION_RESULT


def evaluation_row(
    attrs: Mapping[str, Any], trace_id: str | None, span_id: str | None
) -> dict[str, Any]:
    """One score row (columns of ``scores``, text not yet redacted) of an evaluation event's
    attributes; raises :class:`RefusedEvaluation` when it cannot be one.

    Example:
        >>> evaluation_row({"gen_ai.evaluation.score.label": "pass"}, "ab" * 16, None)["label"]
        'pass'
    """
    if not trace_id:
        raise RefusedEvaluation("an evaluation without the trace it evaluates")
    value = attrs.get(sc.GEN_AI_EVALUATION_SCORE_VALUE)
    if isinstance(value, str):  # numbers sent as text by some senders
        try:
            value = float(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        value = None
    label = attrs.get(sc.GEN_AI_EVALUATION_SCORE_LABEL)
    label = label if isinstance(label, str) and label else None
    if value is None and label is None:
        raise RefusedEvaluation("an evaluation with neither a numeric score nor a label")
    name = attrs.get(sc.GEN_AI_EVALUATION_NAME)
    explanation = attrs.get(sc.GEN_AI_EVALUATION_EXPLANATION)
    return {
        "trace_id": trace_id,
        "span_id": span_id or None,
        "name": name if isinstance(name, str) and name else DEFAULT_NAME,
        "value": None if value is None else float(value),
        "source": SOURCE,
        "comment": explanation if isinstance(explanation, str) and explanation else None,
        "created_at": time.time_ns() // 1000,
        "label": label,
    }


def span_evaluations(span: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Score rows of a finished span's ``gen_ai.evaluation.result`` events, and the reasons
    of those refused.

    Example:
        >>> from opentelemetry.sdk.trace import ReadableSpan
        >>> span_evaluations(ReadableSpan("x"))
        ([], [])
    """
    rows: list[dict[str, Any]] = []
    refused: list[str] = []
    context = span.context
    for event in span.events or ():
        if not is_evaluation(event.name, event.attributes):
            continue
        try:
            rows.append(
                evaluation_row(
                    event.attributes or {},
                    format(context.trace_id, "032x") if context else None,
                    format(context.span_id, "016x") if context else None,
                )
            )
        except RefusedEvaluation as exc:
            refused.append(str(exc))
    return rows, refused


def without_content(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as kept when content is not captured: no explanation (it may quote the prompt).

    Example:
        >>> without_content([{"comment": "it said Paris", "value": 1.0}])
        [{'comment': None, 'value': 1.0}]
    """
    return [{**row, "comment": None} for row in rows]


def scores_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Score rows as an Arrow table for ``Store.write_scores``, text columns redacted.

    Example:
        >>> scores_table([evaluation_row({"gen_ai.evaluation.score.value": 1}, "ab" * 16,
        ...                              None)]).num_rows
        1
    """
    columns: dict[str, list[Any]] = {name: [] for name in SCORES_ARROW.names}
    for row in rows:
        for name in SCORES_ARROW.names:
            value = row.get(name)
            if name in ("name", "comment", "label", "source"):
                value = redact_optional(value)
            columns[name].append(value)
    return pa.table(columns, schema=SCORES_ARROW)


class ScoreWriter:
    """Writes evaluation rows through ``write`` (``Store.write_scores``), after the content
    policy (``capture_content``, read at each call), and counts: ``scores_written``,
    ``evaluations_refused`` (not a score), ``scores_failed`` (the write raised; logged by the
    caller). Never raises.

    Example:
        >>> tables = []
        >>> writer = ScoreWriter(tables.append, lambda: False)
        >>> writer.add([evaluation_row({"gen_ai.evaluation.score.value": 1,
        ...                             "gen_ai.evaluation.explanation": "quotes"}, "ab" * 16,
        ...                            None)])
        >>> tables[0].column("comment").to_pylist(), writer.counts()["scores_written"]
        ([None], 1)
    """

    def __init__(self, write: Callable[[pa.Table], None], capture_content: Callable[[], bool]):
        self.write, self.capture_content = write, capture_content
        self._lock = threading.Lock()
        self._counts = {"scores_written": 0, "evaluations_refused": 0, "scores_failed": 0}

    def add(self, rows: list[dict[str, Any]], refused: int = 0) -> None:
        """Write ``rows`` (content policy applied), count ``refused`` evaluations."""
        written = failed = 0
        if rows:
            if not self.capture_content():
                rows = without_content(rows)
            try:
                self.write(scores_table(rows))
                written = len(rows)
            except Exception as exc:
                failed = len(rows)
                log.warning(
                    "llmobs_nb: %d received evaluation score(s) not written: %s",
                    failed,
                    describe_error(exc),
                )
        with self._lock:
            self._counts["scores_written"] += written
            self._counts["scores_failed"] += failed
            self._counts["evaluations_refused"] += refused

    def add_span(self, span: Any) -> None:
        """The evaluation events of one received span (see :func:`span_evaluations`)."""
        rows, refused = span_evaluations(span)
        if rows or refused:
            self.add(rows, len(refused))

    def add_logs(self, events: Iterable[tuple[str, Any, str | None, str | None]]) -> int:
        """Keep the ``gen_ai.evaluation.result`` records of OTLP log events ``(event_name,
        attributes, trace_id, span_id)`` as scores; returns how many records were not
        evaluation events (the receiver counts them as ignored)."""
        rows: list[dict[str, Any]] = []
        refused = ignored = 0
        for name, attrs, trace_id, span_id in events:
            if not is_evaluation(name, attrs):
                ignored += 1
                continue
            try:
                rows.append(evaluation_row(attrs or {}, trace_id, span_id))
            except RefusedEvaluation:
                refused += 1
        if rows or refused:
            self.add(rows, refused)
        return ignored

    def counts(self) -> dict[str, int]:
        """Scores written, evaluations refused, scores whose write failed, so far."""
        with self._lock:
            return dict(self._counts)
