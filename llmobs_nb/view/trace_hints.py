"""Why one trace was slow, in words, from its spans alone: the slowest step and its share, the
retries, the errors and timeouts, and the time a parent spent outside all its children.

Sums over one trace's spans, like the waterfall's layout: no statistic. Pure functions of a
spans frame (the ``spans`` table's rows of one trace, or :attr:`Trace.spans`).

Example:
    >>> trace_hints(Trace.load(obs, trace_id).spans)   # doctest: +SKIP
    ["'chat gpt-4o' timed out after 60.0 s (APITimeoutError), 99% of the trace.", ...]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from llmobs_nb.store.model_call import is_model_call
from llmobs_nb.view.escaping import html_text
from llmobs_nb.view.html import format_duration

#: What the waterfall and the span detail say about a parent's uncovered time.
UNCOVERED_TEXT = "not in any child span: time in the parent's own code, or untraced work"
#: A parent's uncovered time is a hint when it is at least this share of the parent...
UNCOVERED_MIN_SHARE = 0.2
#: ... and at least this share of the whole trace.
UNCOVERED_MIN_TRACE_SHARE = 0.1
#: Spans named like a retry.
RETRY_NAME = re.compile(r"retr(y|ies|ied|ying)|attempt", re.IGNORECASE)
TIMEOUT = re.compile(r"time\s*d?\s*out|timeout|deadline", re.IGNORECASE)
MAX_LISTED = 3

GAP_SCHEMA = {
    "span_id": pl.String,
    "name": pl.String,
    "start_ms": pl.Float64,
    "end_ms": pl.Float64,
    "duration_ms": pl.Float64,
    "children": pl.Int64,
    "covered_ms": pl.Float64,
    "uncovered_ms": pl.Float64,
    "gaps": pl.List(pl.Struct({"start_ms": pl.Float64, "end_ms": pl.Float64})),
}


@dataclass
class _Span:
    span_id: str
    parent: str | None
    name: str
    kind: str
    start: float  # ms since the trace began
    end: float
    status: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    model: str | None = None
    input_text: str | None = None
    children: list[_Span] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return max(self.end - self.start, 0.0)

    @property
    def failed(self) -> bool:
        return self.status == "error"


def _tree(spans: pl.DataFrame) -> tuple[list[_Span], dict[str, _Span]]:
    """The spans as a tree (roots first, children by start), times in ms since the trace
    began; a parent outside the frame makes a span a root."""
    if spans.height == 0:
        return [], {}
    t0 = spans["start_time"].min()
    present = [
        c
        for c in ("status", "error_type", "error_message", "model", "input_text")
        if c in spans.columns
    ]
    rows = (
        spans.sort("start_time", "span_id")
        .select(
            "span_id",
            "parent_span_id",
            "name",
            "kind",
            ((pl.col("start_time") - t0).dt.total_microseconds() / 1000).alias("start"),
            ((pl.col("end_time") - t0).dt.total_microseconds() / 1000).alias("end"),
            *present,
        )
        .iter_rows(named=True)
    )
    by_id: dict[str, _Span] = {}
    for row in rows:
        by_id[row["span_id"]] = _Span(
            span_id=row["span_id"],
            parent=row["parent_span_id"],
            name=str(row["name"]),
            kind=str(row["kind"]),
            start=float(row["start"]),
            end=float(row["end"] if row["end"] is not None else row["start"]),
            **{c: row[c] for c in present},
        )
    roots = []
    for span in by_id.values():
        parent = by_id.get(span.parent) if span.parent else None
        if parent is None or parent is span:
            roots.append(span)
        else:
            parent.children.append(span)
    return roots, by_id


def _uncovered(parent: _Span) -> tuple[float, list[tuple[float, float]]]:
    """The time of ``parent`` in the union of its children (clipped to it) and the
    intervals of it no child covers."""
    clipped = sorted(
        (max(c.start, parent.start), min(c.end, parent.end))
        for c in parent.children
        if min(c.end, parent.end) > max(c.start, parent.start)
    )
    covered = 0.0
    gaps = []
    at = parent.start
    for start, end in clipped:
        if start > at:
            gaps.append((at, start))
        if end > at:
            covered += end - max(start, at)
            at = end
    if parent.end > at:
        gaps.append((at, parent.end))
    return covered, gaps


def uncovered_time(spans: pl.DataFrame) -> pl.DataFrame:
    """Per span with children: its time no child span covers.

    One row per parent span: ``span_id``, ``name``, ``start_ms``/``end_ms`` (since the trace
    began), ``duration_ms``, ``children`` (direct ones), ``covered_ms`` (the union of the
    children's intervals, clipped to the parent), ``uncovered_ms`` (duration − covered) and
    ``gaps`` (the uncovered intervals, ``start_ms``/``end_ms``). A 481 ms root whose children
    are done by 22 ms has 459 ms uncovered: time in its own code, or untraced work.

    Example:
        >>> uncovered_time(trace.spans).select("name", "uncovered_ms")   # doctest: +SKIP
    """
    _, by_id = _tree(spans)
    rows = []
    for span in by_id.values():
        if not span.children:
            continue
        covered, gaps = _uncovered(span)
        rows.append(
            {
                "span_id": span.span_id,
                "name": span.name,
                "start_ms": span.start,
                "end_ms": span.end,
                "duration_ms": span.duration,
                "children": len(span.children),
                "covered_ms": covered,
                "uncovered_ms": max(span.duration - covered, 0.0),
                "gaps": [{"start_ms": s, "end_ms": e} for s, e in gaps],
            }
        )
    return pl.DataFrame(rows, schema=GAP_SCHEMA)


def _ms(ms: float) -> str:
    return format_duration(ms / 1000)


def _quoted(text: str, limit: int = 60) -> str:
    return "'" + (text if len(text) <= limit else text[: limit - 1] + "…") + "'"


def _failures(by_id: dict[str, _Span], total: float) -> list[str]:
    # Where each error started: a failed span none of whose children failed (a parent
    # failing with its child is the same error, passed up).
    origins = [s for s in by_id.values() if s.failed and not any(c.failed for c in s.children)]
    hints = []
    for span in origins[:MAX_LISTED]:
        kind = span.error_type or "an error"
        message = (span.error_message or "").strip()
        part = span.duration / total if total else 0.0
        share = f", {part:.0%} of the trace" if part >= 0.05 else ""
        if TIMEOUT.search(f"{span.error_type or ''} {message}"):
            text = f"{_quoted(span.name)} timed out after {_ms(span.duration)} ({kind}){share}."
        else:
            if message and span.error_type and message.startswith(span.error_type):
                message = message[len(span.error_type) :].lstrip(": ")
            detail = f": {message[:120]}" if message else ""
            text = f"{_quoted(span.name)} failed with {kind}{detail} after {_ms(span.duration)}."
        passed_up = [
            a.name
            for a in by_id.values()
            if a.failed and a is not span and _is_ancestor(a, span, by_id)
        ]
        if passed_up:
            text += f" The error reached {len(passed_up)} enclosing span(s), which failed too."
        hints.append(text)
    if len(origins) > MAX_LISTED:
        hints.append(f"{len(origins) - MAX_LISTED} more spans failed.")
    return hints


def _is_ancestor(candidate: _Span, span: _Span, by_id: dict[str, _Span]) -> bool:
    seen = set()
    at = by_id.get(span.parent) if span.parent else None
    while at is not None and at.span_id not in seen:
        if at is candidate:
            return True
        seen.add(at.span_id)
        at = by_id.get(at.parent) if at.parent else None
    return False


def _slowest(roots: list[_Span]) -> list[str]:
    if not roots:
        return []
    root = max(roots, key=lambda s: s.duration)
    if not root.children:
        if len(roots) == 1:
            return [
                f"{_quoted(root.name)} is the only span: its {_ms(root.duration)} are not broken "
                "down. Wrap its steps in obs.span(...) to see where the time goes."
            ]
        return []
    child = max(root.children, key=lambda s: s.duration)
    share = child.duration / root.duration if root.duration else 0.0
    text = (
        f"Slowest step: {_quoted(child.name)} ({child.kind}), {_ms(child.duration)}: "
        f"{share:.0%} of the {_ms(root.duration)} of {_quoted(root.name)}."
    )
    at, depth = child, 0
    while at.children and depth < 3:
        inner = max(at.children, key=lambda s: s.duration)
        if not at.duration or inner.duration < 0.5 * at.duration:
            break
        text += (
            f" Inside it, {_quoted(inner.name)} takes {_ms(inner.duration)} "
            f"({inner.duration / at.duration:.0%})."
        )
        at, depth = inner, depth + 1
    return [text]


def _same_call(before: _Span, after: _Span) -> bool:
    # A retry: the same model called again, with the same captured input, or after a failure
    # when the inputs were not both captured.
    if not (is_model_call(before.kind, before.model) and is_model_call(after.kind, after.model)):
        return False
    if before.model != after.model or before.name != after.name:
        return False
    if before.input_text is not None and after.input_text is not None:
        return before.input_text == after.input_text
    return before.failed


def _retries(by_id: dict[str, _Span]) -> list[str]:
    hints = []
    in_runs: set[str] = set()
    runs: list[list[_Span]] = []
    roots = [s for s in by_id.values() if s.parent not in by_id]
    for siblings in [roots, *(s.children for s in by_id.values() if s.children)]:
        run: list[_Span] = []
        for span in sorted(siblings, key=lambda s: (s.start, s.span_id)):
            if run and _same_call(run[-1], span):
                run.append(span)
                continue
            if len(run) > 1:
                runs.append(run)
            run = [span]
        if len(run) > 1:
            runs.append(run)
    for run in runs:
        in_runs.update(s.span_id for s in run)
        failed = sum(s.failed for s in run[:-1])
        spent = sum(s.duration for s in run)
        same_input = all(s.input_text is not None for s in run)
        how = "the same input" if same_input else "no captured input to compare"
        after = f", {failed} failed first" if failed else ""
        hints.append(
            f"Retry: {_quoted(run[0].name)} was called {len(run)} times in a row on "
            f"{run[0].model} with {how}{after}; {_ms(spent)} in all."
        )
    named = [s for s in by_id.values() if RETRY_NAME.search(s.name) and s.span_id not in in_runs]
    if named:
        listed = ", ".join(_quoted(s.name, 40) for s in named[:MAX_LISTED])
        more = f" and {len(named) - MAX_LISTED} more" if len(named) > MAX_LISTED else ""
        spent = sum(s.duration for s in named)
        hints.append(
            f"{len(named)} span(s) named like a retry ({listed}{more}): {_ms(spent)} in all."
        )
    return hints


def _uncovered_hints(by_id: dict[str, _Span], total: float) -> list[str]:
    found = []
    for span in by_id.values():
        if not span.children or not span.duration:
            continue
        covered, gaps = _uncovered(span)
        uncovered = span.duration - covered
        if uncovered >= UNCOVERED_MIN_SHARE * span.duration and (
            not total or uncovered >= UNCOVERED_MIN_TRACE_SHARE * total
        ):
            found.append((uncovered, span, gaps))
    hints = []
    for uncovered, span, gaps in sorted(found, key=lambda f: -f[0])[:2]:
        last_child_end = max(min(c.end, span.end) for c in span.children)
        biggest = max(gaps, key=lambda g: g[1] - g[0])
        where = ""
        if biggest[1] >= span.end and last_child_end > span.start:
            where = f" Its children were done {_ms(last_child_end - span.start)} after it began."
        elif biggest[0] <= span.start:
            where = f" {_ms(biggest[1] - span.start)} passed before its first child began."
        hints.append(
            f"{_quoted(span.name)} took {_ms(span.duration)}, of which {_ms(uncovered)} "
            f"({uncovered / span.duration:.0%}) are in no child span: time in its own code, "
            f"or work that was not traced.{where}"
        )
    return hints


def trace_hints(spans: pl.DataFrame) -> list[str]:
    """Why this trace was slow, as sentences (plain text: escape it for HTML), from its spans.

    In order: where errors and timeouts started (a failed span none of whose children
    failed); the root's slowest child and its share (and, inside it, the step taking most of
    it); retries (a model called again in a row under the same parent with the same captured
    input, or after a failure; spans named like retries); and parents that spent at least
    :data:`UNCOVERED_MIN_SHARE` of their time, and :data:`UNCOVERED_MIN_TRACE_SHARE` of the
    trace's, in no child span (:func:`uncovered_time`). Empty for a trace without spans.

    Example:
        >>> trace_hints(Trace.load(obs, trace_id).spans)   # doctest: +SKIP
        ["Slowest step: 'chat gpt-4o' (llm), 1.2 s: 85% of the 1.4 s of 'rag'.", ...]
    """
    roots, by_id = _tree(spans)
    if not by_id:
        return []
    total = max(s.end for s in by_id.values()) - min(s.start for s in by_id.values())
    return [
        *_failures(by_id, total),
        *_slowest(roots),
        *_retries(by_id),
        *_uncovered_hints(by_id, total),
    ]


def hints_html(hints: list[str], *, title: str = "Why slow?") -> str:
    """The hints as an escaped HTML list (empty string with no hint)."""
    if not hints:
        return ""
    items = "".join(f"<li>{html_text(h)}</li>" for h in hints)
    return f'<div class="hints"><b>{html_text(title)}</b><ul>{items}</ul></div>'


__all__ = ["UNCOVERED_TEXT", "hints_html", "trace_hints", "uncovered_time"]
