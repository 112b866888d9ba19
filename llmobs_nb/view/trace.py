"""One trace, as a user looks at it: waterfall, each span's attributes and content, its scores."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import polars as pl

from llmobs_nb.analytics.source import open_spans
from llmobs_nb.analytics.span_sql import Sql
from llmobs_nb.view import offline
from llmobs_nb.view.data_source import DataSource
from llmobs_nb.view.escaping import html_text
from llmobs_nb.view.html import (
    STYLE,
    column_unit,
    format_cost,
    format_duration,
    format_in,
    format_value,
    table_html,
)
from llmobs_nb.view.trace_charts import span_layout, waterfall_chart
from llmobs_nb.view.trace_hints import UNCOVERED_TEXT, hints_html, trace_hints, uncovered_time

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
SPAN_SUMMARY = ("label", "kind", "model", "status", "error_type", "start_ms", "end_ms")
#: The span details opened at first: those of the first spans holding captured content.
OPEN_CONTENT_SPANS = 3


class Trace:
    """The spans and scores of one trace; displays as a waterfall with span details.

    Build it from frames (``Trace(spans, scores)``) or from a store with :meth:`load`.

    Example:
        >>> trace = Trace.load(obs, "4bf92f3577b34da6a3ce929d0e0e4736")   # doctest: +SKIP
        >>> trace.waterfall()                                             # doctest: +SKIP
    """

    def __init__(self, spans: pl.DataFrame, scores: pl.DataFrame | None = None) -> None:
        ids = spans["trace_id"].unique().to_list() if "trace_id" in spans.columns else []
        if len(ids) > 1:
            raise ValueError(
                f"a Trace holds one trace, but the spans belong to {len(ids)} traces: filter "
                "them first, e.g. spans.filter(pl.col('trace_id') == trace_id)"
            )
        self.trace_id: str | None = ids[0] if ids else None
        self.spans = span_layout(spans)
        self.scores = scores if scores is not None else pl.DataFrame()
        self._uncovered: pl.DataFrame | None = None

    @classmethod
    def load(cls, source: Any, trace_id: str) -> Trace:
        """The trace ``trace_id`` from an observer, a DuckDB file or a ClickHouse source.

        Example:
            >>> Trace.load("experiments.duckdb", trace_id)   # doctest: +SKIP
        """
        if not isinstance(trace_id, str) or not _TRACE_ID.match(trace_id):
            raise ValueError(f"trace_id {trace_id!r} is not 32 lowercase hex digits")
        data = DataSource(source)
        with data.session(), open_spans(data, ("trace_id",)) as reader:
            # In the source's SQL dialect (DuckDB, ClickHouse): only the placeholder differs.
            found = []
            for table, order in (("spans", "start_time"), ("scores", "created_at")):
                q = Sql(reader.dialect)
                sql = f"SELECT * FROM {table} WHERE trace_id = {q.value(trace_id)} ORDER BY {order}"
                found.append(reader.run(sql, q.params))
            spans, scores = found
        if spans.height == 0:
            raise KeyError(f"no trace {trace_id!r} in {data.label}: check the id")
        return cls(spans, scores)

    def waterfall(self) -> Any:
        """The waterfall chart (an Altair chart)."""
        name = self.spans["name"][0] if self.spans.height else "trace"
        return waterfall_chart(self.spans, title=f"{name} — trace {self.trace_id or ''}")

    def hints(self) -> list[str]:
        """Why this trace was slow, in words: errors and timeouts, the slowest step and its
        share, retries, a parent's time in no child span
        (:func:`~llmobs_nb.view.trace_hints.trace_hints`).

        Example:
            >>> Trace.load(obs, trace_id).hints()   # doctest: +SKIP
        """
        return trace_hints(self.spans)

    def uncovered(self) -> pl.DataFrame:
        """Per parent span, the time no child span covers
        (:func:`~llmobs_nb.view.trace_hints.uncovered_time`), computed once."""
        if self._uncovered is None:
            self._uncovered = uncovered_time(self.spans)
        return self._uncovered

    def span_table(self) -> pl.DataFrame:
        """One row per span in tree order: label, kind, model, status, timing, tokens, cost."""
        extra = [
            c for c in ("input_tokens", "output_tokens", "cost_usd") if c in self.spans.columns
        ]
        present = [c for c in SPAN_SUMMARY if c in self.spans.columns]
        return self.spans.select(*present, *extra)

    def span_html(self, span_id: str) -> str:
        """Attributes, captured content and scores of one span, as HTML. Captured content is
        shown first, as ``input``/``output`` (for a tool span ``arguments``/``result``), the
        span's fields folded under it; a span without content shows its fields. Times and
        cost read in their units (``1.3 s``, ``$0.0012``).

        Example:
            >>> Trace.load(obs, trace_id).span_html(span_id)   # doctest: +SKIP
        """
        found = self.spans.filter(pl.col("span_id") == span_id)
        if found.height == 0:
            raise KeyError(f"no span {span_id!r} in trace {self.trace_id}")
        row = found.row(0, named=True)
        skip = {"attributes", "input_text", "output_text", "label", "row", "depth"}
        fields = "".join(
            f"<tr><th>{html_text(k)}</th><td>{html_text(_field_text(k, v))}</td></tr>"
            for k, v in row.items()
            if k not in skip and v is not None
        )
        attributes = row.get("attributes")
        if isinstance(attributes, str) and attributes:
            with contextlib.suppress(ValueError):  # not JSON after all: show it as stored
                attributes = json.dumps(json.loads(attributes), indent=2, sort_keys=True)
        title = html_text(str(row["name"]))
        parts = [f"<h3>{title} <span class='muted'>{html_text(span_id)}</span></h3>"]
        # A tool's input and output are the arguments it was called with and its result.
        names = ("arguments", "result") if row.get("kind") == "tool" else ("input", "output")
        content = [
            f"<div><b>{html_text(label)}</b><pre>{html_text(row[key])}</pre></div>"
            for key, label in zip(("input_text", "output_text"), names, strict=True)
            if row.get(key)
        ]
        # With captured content, the prompt and answer come first and the fields fold away.
        if content:
            parts.extend(content)
            parts.append(f"<details><summary>fields</summary><table>{fields}</table></details>")
        else:
            parts.append(f"<table>{fields}</table>")
        parts.append(self._uncovered_html(span_id))
        if attributes:
            parts.append(
                f"<details><summary>attributes</summary><pre>{html_text(str(attributes))}</pre></details>"
            )
        if self.scores.height and "span_id" in self.scores.columns:
            mine = self.scores.filter(pl.col("span_id") == span_id)
            if mine.height:
                columns = [
                    c for c in ("name", "value", "label", "source", "comment") if c in mine.columns
                ]
                parts.append("<b>scores</b>" + table_html(mine.select(columns)))
        return f'{STYLE}<div class="llmobs">{"".join(parts)}</div>'

    def _uncovered_html(self, span_id: str) -> str:
        # A parent's time that no child covers, said where its details are read.
        found = self.uncovered().filter(pl.col("span_id") == span_id)
        if found.height == 0:
            return ""
        row = found.row(0, named=True)
        duration = row["duration_ms"]
        share = f" ({row['uncovered_ms'] / duration:.0%})" if duration else ""
        stretches = ", ".join(f"{g['start_ms']:,.0f}–{g['end_ms']:,.0f}" for g in row["gaps"][:5])
        where = f" Uncovered (ms since the trace began): {stretches}." if stretches else ""
        text = (
            f"{row['children']} child span(s) cover {format_duration(row['covered_ms'] / 1000)} "
            f"of its {format_duration(duration / 1000)}; "
            f"{format_duration(row['uncovered_ms'] / 1000)}{share} {UNCOVERED_TEXT}.{where}"
        )
        return f'<div class="gap">{html_text(text)}</div>'

    def _repr_html_(self) -> str:
        chart = offline.chart_html(self.waterfall())
        scores = ""
        if self.scores.height:
            columns = [
                c
                for c in ("span_id", "name", "value", "label", "source", "comment")
                if c in self.scores.columns
            ]
            scores = "<h3>scores</h3>" + table_html(self.scores.select(columns))
        opened = set(self._content_spans()[:OPEN_CONTENT_SPANS])
        details = "".join(
            f"<details{' open' if span_id in opened else ''}><summary>{html_text(str(label))}"
            f"</summary>{self.span_html(span_id)}</details>"
            for span_id, label in self.spans.select("span_id", "label").iter_rows()
        )
        return (
            f'{STYLE}<div class="llmobs">{hints_html(self.hints())}{chart}<h3>spans</h3>'
            f"{table_html(self._span_rows(), max_rows=200)}{scores}<h3>span details</h3>"
            f"{details}</div>"
        )

    def _content_spans(self) -> list[str]:
        # The spans holding captured content (a prompt, an answer), in tree order.
        held = [c for c in ("input_text", "output_text") if c in self.spans.columns]
        if not held:
            return []
        has = pl.any_horizontal(pl.col(c).is_not_null() & (pl.col(c) != "") for c in held)
        return self.spans.filter(has)["span_id"].to_list()

    def _span_rows(self) -> pl.DataFrame:
        # The spans table as a person reads it: when each span started (since the trace
        # began) and how long it took, and its cost, in their units rather than raw floats.
        table = self.span_table()
        shown: list[pl.Series] = []
        for name in table.columns:
            values = table[name].to_list()
            if name == "start_ms":
                shown.append(_texts("starts at", [_ms_text(v) for v in values]))
            elif name == "end_ms" and "start_ms" in table.columns:
                took = (table["end_ms"] - table["start_ms"]).to_list()
                shown.append(_texts("duration", [_ms_text(v) for v in took]))
            elif name == "cost_usd":
                shown.append(_texts("cost", [format_cost(v) for v in values]))
            elif name == "error_type" and table[name].null_count() == table.height:
                continue  # no span failed: an empty column says nothing
            else:
                shown.append(table[name])
        return pl.DataFrame(shown)

    def __repr__(self) -> str:
        return f"<Trace {self.trace_id} spans={self.spans.height} scores={self.scores.height}>"


def _ms_text(ms: float | None) -> str:
    return format_duration(None if ms is None else ms / 1000)


def _texts(name: str, values: list[str]) -> pl.Series:
    return pl.Series(name, values, dtype=pl.String)


def _field_text(name: str, value: Any) -> str:
    """One field of a span's details: a number in the unit its name says (``latency_s`` as
    ``1.3 s``, ``cost_usd`` as ``$0.0012``, ``*_ms`` as a duration), anything else as is."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _ms_text(value) if name.endswith("_ms") else format_in(column_unit(name), value)
    return format_value(value)
