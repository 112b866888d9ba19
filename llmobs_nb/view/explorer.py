"""The trace explorer: lists of the slowest, most expensive and failed traces; pick one to see
its waterfall, each span's attributes and captured content, and its scores."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import polars as pl

from llmobs_nb.view import offline
from llmobs_nb.view.data_source import DataSource, FilteredCalls
from llmobs_nb.view.html import STYLE, table_html
from llmobs_nb.view.panels import trace_lists
from llmobs_nb.view.trace import Trace


def html_output(html: str) -> tuple[dict[str, Any], ...]:
    """An ``ipywidgets.Output`` outputs value showing ``html`` (set directly: no display
    machinery, works from a background thread and outside a kernel)."""
    return ({"output_type": "display_data", "data": {"text/html": html}, "metadata": {}},)


def _option(kind: str, row: dict[str, Any]) -> tuple[str, str]:
    cost = "—" if row["cost_usd"] is None else f"${row['cost_usd']:.4f}"
    duration = "—" if row["duration_s"] is None else f"{row['duration_s']:.2f}s"
    errors = f", {row['errors']} failed" if row["errors"] else ""
    label = f"{duration:>8} {cost:>9}  {row['models'] or ''}{errors}  {row['trace_id'][:12]}…"
    return label, row["trace_id"]


class TraceExplorer:
    """Trace lists over a filtered selection and the detail of the chosen trace.

    Example:
        >>> explorer = TraceExplorer(DataSource(obs))   # doctest: +SKIP
        >>> explorer.update(DataSource(obs).filtered(Filter()))   # doctest: +SKIP
        >>> explorer.select(trace_id)                    # doctest: +SKIP
    """

    def __init__(self, source: DataSource) -> None:
        self.source = source
        self.lists: dict[str, pl.DataFrame] = {}
        self.trace: Trace | None = None
        self.kind = widgets.ToggleButtons(
            options=["slowest", "most expensive", "failed"], description="traces"
        )
        self.traces = widgets.Select(options=[], rows=10, layout=widgets.Layout(width="100%"))
        self.spans = widgets.Dropdown(options=[], description="span")
        self.waterfall = widgets.Output()
        self.detail = widgets.Output()
        self.kind.observe(lambda _: self._show_list(), names="value")
        self.traces.observe(lambda change: self._on_trace(change["new"]), names="value")
        self.spans.observe(lambda change: self._on_span(change["new"]), names="value")
        self.widget = widgets.VBox(
            [self.kind, self.traces, self.waterfall, self.spans, self.detail]
        )

    def update(self, calls: FilteredCalls, n: int = 10) -> None:
        """Re-list the traces of the selection ``calls``."""
        self.lists = trace_lists(calls, n)
        self._show_list()

    def _show_list(self) -> None:
        found = self.lists.get(self.kind.value, pl.DataFrame())
        self.traces.options = [_option(self.kind.value, r) for r in found.iter_rows(named=True)]

    def _on_trace(self, trace_id: str | None) -> None:
        if trace_id:
            self.select(trace_id)

    def select(self, trace_id: str) -> Trace:
        """Show trace ``trace_id``: waterfall, span list, first span's detail; returns it."""
        self.trace = Trace.load(self.source.observer or self.source.path, trace_id)
        chart = offline.chart_html(self.trace.waterfall(), loader=False, validate=False)
        scores = ""
        if self.trace.scores.height:
            columns = [
                c
                for c in ("span_id", "name", "value", "label", "source")
                if c in self.trace.scores.columns
            ]
            listed = table_html(self.trace.scores.select(columns))
            scores = f'{STYLE}<div class="llmobs"><b>scores</b>{listed}</div>'
        self.waterfall.outputs = html_output(chart + scores)
        self.spans.options = list(self.trace.spans.select("label", "span_id").iter_rows())
        return self.trace

    def _on_span(self, span_id: str | None) -> None:
        if span_id and self.trace is not None:
            self.detail.outputs = html_output(self.trace.span_html(span_id))
