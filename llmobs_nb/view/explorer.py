"""The trace explorer: lists of the slowest, most expensive and failed traces, as a table
sortable by each column; pick one to see why it was slow (hints in words), its waterfall, each
span's attributes and captured content, and its scores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import polars as pl

from llmobs_nb.view import offline
from llmobs_nb.view.data_source import DataSource, FilteredCalls
from llmobs_nb.view.escaping import html_text
from llmobs_nb.view.html import STYLE, format_cost, format_duration, format_when, table_html
from llmobs_nb.view.panels import TRACE_LISTS, trace_lists
from llmobs_nb.view.trace import Trace
from llmobs_nb.view.trace_hints import hints_html


def html_output(html: str) -> tuple[dict[str, Any], ...]:
    """An ``ipywidgets.Output`` outputs value showing ``html`` (set directly: no display
    machinery, works from a background thread and outside a kernel)."""
    return ({"output_type": "display_data", "data": {"text/html": html}, "metadata": {}},)


@dataclass(frozen=True)
class Column:
    """A column of the trace table: the list's ``field`` it shows and sorts by, its width in
    characters, its alignment, and whether a first click sorts it largest first."""

    field: str
    width: int
    right: bool = False
    descending: bool = False


#: The trace table's columns, in order (header → column).
COLUMNS = {
    "time": Column("started", 12, descending=True),
    "user": Column("user_id", 14),
    "status": Column("status", 16),
    "latency": Column("duration_s", 8, right=True, descending=True),
    "cost": Column("cost_usd", 9, right=True, descending=True),
    "models": Column("models", 24),
    "spans": Column("spans", 5, right=True, descending=True),
    "trace": Column("trace_id", 9),
}
#: Each list's order when it is chosen.
DEFAULT_SORT = {
    "slowest": ("latency", True),
    "most expensive": ("cost", True),
    "failed": ("time", True),
}
GAP = "  "
# Header buttons and rows share one monospace font, so the columns line up (no JavaScript).
LIST_STYLE = """<style>
.llmobs-trace-head{gap:0;margin:0 0 0 2px}
.llmobs-trace-head .jupyter-button{font-family:monospace;font-size:12px;font-weight:600;
 padding:0 0 0 5px;margin:0;height:22px;text-align:left;flex:0 0 auto;border-radius:0;
 background:#f0f0f0;color:#333;border-right:1px solid #fff}
.llmobs-trace-head .jupyter-button.llmobs-sorted{background:#dde8f4}
.llmobs-trace-rows select{font-family:monospace;font-size:12px;padding:0}
.llmobs-trace-rows select option{padding:1px 4px}
</style>"""


def _fit(text: str, column: Column) -> str:
    if len(text) > column.width:
        text = text[: column.width - 1] + "…"
    return text.rjust(column.width) if column.right else text.ljust(column.width)


def trace_cells(row: dict[str, Any]) -> dict[str, str]:
    """One trace of a list as the table's texts, by header: ``"Nov 12 14:03"``, user,
    status, ``"1.8 s"``, ``"$0.0123"``, models, span count, short trace id."""
    return {
        "time": format_when(row.get("started")),
        "user": row.get("user_id") or "—",
        "status": row.get("status") or "—",
        "latency": format_duration(row.get("duration_s")),
        "cost": format_cost(row.get("cost_usd")),
        "models": row.get("models") or "—",
        "spans": "—" if row.get("spans") is None else f"{row['spans']:,}",
        "trace": (row.get("trace_id") or "")[:8] + "…",
    }


def trace_row_text(row: dict[str, Any]) -> str:
    """A trace's line in the table: its cells padded to the columns' widths."""
    cells = trace_cells(row)
    return GAP.join(_fit(cells[h], c) for h, c in COLUMNS.items()).rstrip()


def sort_traces(found: pl.DataFrame, column: str, descending: bool) -> pl.DataFrame:
    """A trace list sorted by the header ``column`` (NULLs last, then by trace id)."""
    if column not in COLUMNS:
        raise ValueError(f"column {column!r}: choose one of {list(COLUMNS)}")
    field = COLUMNS[column].field
    if found.height == 0 or field not in found.columns:
        return found
    keys = [field, "trace_id"] if field != "trace_id" else [field]
    return found.sort(keys, descending=[descending, False][: len(keys)], nulls_last=True)


class TraceExplorer:
    """Trace lists over a filtered selection and the detail of the chosen trace.

    The lists (:func:`~llmobs_nb.view.panels.trace_lists`) show as a table — time (UTC),
    user, status, latency, cost, models, span count — sorted by clicking a column's header
    (again: the other way) or with :meth:`sort_by`. The chosen trace shows its "why slow"
    hints (:meth:`Trace.hints`), its waterfall and its scores; pick a span for its details.

    Example:
        >>> explorer = TraceExplorer(DataSource(obs))   # doctest: +SKIP
        >>> explorer.update(DataSource(obs).filtered(Filter()))   # doctest: +SKIP
        >>> explorer.sort_by("cost")                     # doctest: +SKIP
        >>> explorer.select(trace_id)                    # doctest: +SKIP
    """

    def __init__(self, source: DataSource) -> None:
        self.source = source
        self.lists: dict[str, pl.DataFrame] = {}
        #: The list shown, in its order.
        self.listed = pl.DataFrame()
        #: The header it is sorted by and whether largest first.
        self.order: tuple[str, bool] = DEFAULT_SORT["slowest"]
        self.trace: Trace | None = None
        self.kind = widgets.ToggleButtons(
            options=list(TRACE_LISTS), description="traces", style={"button_width": "auto"}
        )
        self.caption = widgets.HTML()
        self.headers = {
            name: widgets.Button(
                description=name,
                tooltip=f"sort by {name} (click again: the other way)",
                layout=widgets.Layout(width=f"{column.width + len(GAP)}ch"),
            )
            for name, column in COLUMNS.items()
        }
        for name, button in self.headers.items():
            button.on_click(lambda _, name=name: self.sort_by(name))
        self.header = widgets.HBox(list(self.headers.values()))
        self.header.add_class("llmobs-trace-head")
        self.traces = widgets.Select(options=[], rows=10, layout=widgets.Layout(width="100%"))
        self.traces.add_class("llmobs-trace-rows")
        self.spans = widgets.Dropdown(options=[], description="span")
        self.waterfall = widgets.Output()
        self.detail = widgets.Output()
        self._muted = False
        self.kind.observe(lambda change: self._on_kind(change["new"]), names="value")
        self.traces.observe(lambda change: self._on_trace(change["new"]), names="value")
        self.spans.observe(lambda change: self._on_span(change["new"]), names="value")
        self.widget = widgets.VBox(
            [
                widgets.HTML(STYLE + LIST_STYLE),
                self.kind,
                self.caption,
                self.header,
                self.traces,
                self.waterfall,
                self.spans,
                self.detail,
            ]
        )
        self._show_list()

    def update(self, calls: FilteredCalls, n: int = 20) -> None:
        """Re-list the traces of the selection ``calls`` (``n`` in each list). A source that
        cannot answer the lists' SQL (NotImplementedError) lists none and says so."""
        try:
            self.lists = trace_lists(calls, n)
        except NotImplementedError as exc:
            self.lists = {}
            self._show_list()
            self.caption.value = f'<span class="llmobs muted">{html_text(str(exc))}</span>'
            return
        self._show_list()

    def sort_by(self, column: str, descending: bool | None = None) -> pl.DataFrame:
        """Sort the table by the header ``column`` (``time``, ``user``, ``status``,
        ``latency``, ``cost``, ``models``, ``spans``, ``trace``); ``descending=None`` flips
        the order of the column sorted by now, else uses the column's first order. Returns
        the list as shown.

        Example:
            >>> explorer.sort_by("user", descending=False)   # doctest: +SKIP
        """
        if column not in COLUMNS:
            raise ValueError(f"column {column!r}: choose one of {list(COLUMNS)}")
        if descending is None:
            was, was_descending = self.order
            descending = not was_descending if column == was else COLUMNS[column].descending
        self.order = (column, descending)
        self._show_list()
        return self.listed

    def table(self) -> pl.DataFrame:
        """The list as shown: one text column per header, in the shown order."""
        rows = [trace_cells(r) for r in self.listed.iter_rows(named=True)]
        return pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS, pl.String))

    def _on_kind(self, kind: str) -> None:
        self.order = DEFAULT_SORT[kind]
        self._show_list()

    def _show_list(self) -> None:
        kind = self.kind.value
        column, descending = self.order
        found = self.lists.get(kind, pl.DataFrame())
        self.listed = sort_traces(found, column, descending)
        arrow = "▼" if descending else "▲"
        for name, button in self.headers.items():
            button.description = f"{name} {arrow}" if name == column else name
            if name == column:
                button.add_class("llmobs-sorted")
            else:
                button.remove_class("llmobs-sorted")
        shown = self.traces.value
        options = [(trace_row_text(r), r["trace_id"]) for r in self.listed.iter_rows(named=True)]
        self._muted = True  # a re-sort keeps the chosen trace, without reloading it
        try:
            self.traces.options = options
            if shown in {value for _, value in options}:
                self.traces.value = shown
        finally:
            self._muted = False
        if self.lists:
            what = f"{self.listed.height} {kind} traces of the selection"
            order = f"sorted by {column}, {'largest' if descending else 'smallest'} first"
            hint = "click a column to sort; pick a trace to see why it was slow"
            text = f"{what}, {order} — {hint}."
        else:
            text = "no traces listed yet"
        self.caption.value = f'<span class="llmobs muted">{html_text(text)}</span>'

    def _on_trace(self, trace_id: str | None) -> None:
        if trace_id and not self._muted:
            self.select(trace_id)

    def select(self, trace_id: str) -> Trace:
        """Show trace ``trace_id``: why it was slow, its waterfall and scores, the span list
        and the first span's detail; returns it."""
        where = self.source.remote or self.source.observer or self.source.path
        self.trace = Trace.load(where, trace_id)
        chart = offline.chart_html(self.trace.waterfall(), loader=False, validate=False)
        scores = ""
        if self.trace.scores.height:
            columns = [
                c
                for c in ("span_id", "name", "value", "label", "source")
                if c in self.trace.scores.columns
            ]
            listed = table_html(self.trace.scores.select(columns))
            scores = f'<div class="llmobs"><b>scores</b>{listed}</div>'
        hints = hints_html(self.trace.hints())
        self.waterfall.outputs = html_output(
            f'{STYLE}<div class="llmobs">{hints}</div>{chart}{scores}'
        )
        self.spans.options = list(self.trace.spans.select("label", "span_id").iter_rows())
        if self.spans.options:  # the root span's details (and its uncovered time), as a start
            self.spans.value = self.spans.options[0][1]
        return self.trace

    def _on_span(self, span_id: str | None) -> None:
        if span_id and self.trace is not None:
            self.detail.outputs = html_output(self.trace.span_html(span_id))


__all__ = ["COLUMNS", "TraceExplorer", "sort_traces", "trace_cells", "trace_row_text"]
