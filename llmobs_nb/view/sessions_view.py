"""Sessions (conversations) in the notebook: the list, a session's turns, a turn's trace.

The sessions of the selection come from ``analytics.sessions``, a session's turns from
``analytics.session_turns``; the list is sorted and searched here (by session or user id),
and a chosen turn opens in a :class:`~llmobs_nb.view.explorer.TraceExplorer`: its waterfall,
its spans' details (a tool's arguments and result) and, when the trace has agents or tools,
its :func:`~llmobs_nb.view.agent_charts.agent_timeline`. Session and user ids and the turns'
texts are user data: every piece of them written into HTML goes through
:func:`~llmobs_nb.view.escaping.html_text` (``table_html`` escapes its cells).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import polars as pl

from llmobs_nb import analytics
from llmobs_nb.view import offline
from llmobs_nb.view.agent_charts import agent_timeline
from llmobs_nb.view.data_source import DataSource, Filter, FilteredCalls
from llmobs_nb.view.escaping import html_text
from llmobs_nb.view.explorer import TraceExplorer, html_output
from llmobs_nb.view.html import STYLE, format_cost, format_duration, format_value, table_html
from llmobs_nb.view.trace import Trace

#: The list's orders: the label shown → the column, largest (latest) first.
SORTS = {
    "last activity": "last_activity",
    "cost": "cost_usd",
    "turns": "turns",
    "errors": "errors",
}
#: Sessions listed at most (the search narrows the rest down).
MAX_LISTED = 200
#: Characters of a turn's input and output shown in the turn list.
PREVIEW_CHARS = 80


def _preview(text: Any, limit: int = PREVIEW_CHARS) -> str:
    if text is None:
        return ""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _session_label(row: dict[str, Any]) -> str:
    user = f" · {row['user_id']}" if row.get("user_id") else ""
    errors = f" · {row['errors']} failed" if row.get("errors") else ""
    last = format_value(row.get("last_activity")).removesuffix(" UTC")
    return (
        f"{row['session_id']}{user} · {row.get('turns') or 0} turns · "
        f"{format_cost(row.get('cost_usd'))}{errors} · {last}"
    )


def _turn_label(row: dict[str, Any]) -> str:
    at = row.get("start_time")
    when = at.strftime("%H:%M:%S") if at is not None else "—"
    return (
        f"#{row['turn']} {when} {format_duration(row.get('latency_s'))} "
        f"{format_cost(row.get('cost_usd'))} "
        f"{row.get('status') or ''} — {_preview(row.get('input_text'), 48)}"
    )


class SessionsView:
    """The sessions of a store: a searchable, sortable list; a session's turns in order;
    the chosen turn's trace (waterfall, span details, agent timeline).

    ``source``: an observer, a DuckDB file or a :class:`DataSource`. :meth:`update` re-reads
    the list (the dashboard calls it with its filtered calls); :meth:`search`,
    :meth:`sort_by`, :meth:`select` and :meth:`open_turn` do what the widgets do.

    Example:
        >>> view = SessionsView(obs)                 # doctest: +SKIP
        >>> view                                     # shows the widget      # doctest: +SKIP
        >>> view.search("ann").sort_by("cost")       # doctest: +SKIP
        >>> view.select("conv-42"); view.open_turn(2)   # doctest: +SKIP
    """

    def __init__(
        self,
        source: Any,
        *,
        filters: Filter | None = None,
        max_listed: int = MAX_LISTED,
        loader: bool = True,
        load: bool = True,
    ) -> None:
        self.source = source if isinstance(source, DataSource) else DataSource(source)
        self.filters = filters or Filter()
        self.max_listed = max_listed
        #: Every session of the selection, as ``analytics.sessions`` answered.
        self.sessions = pl.DataFrame()
        #: The sessions listed: searched, sorted, at most ``max_listed``.
        self.listed = pl.DataFrame()
        #: The chosen session's id and its turns (``analytics.session_turns``).
        self.session_id: str | None = None
        self.turns = pl.DataFrame()
        self.trace: Trace | None = None
        self.error: str | None = None
        self._muted = False
        self.explorer = TraceExplorer(self.source)
        self.query = widgets.Text(
            description="search",
            placeholder="session or user id",
            continuous_update=False,
            layout=widgets.Layout(width="320px"),
        )
        self.order = widgets.Dropdown(options=list(SORTS), description="sort by")
        self.status = widgets.HTML()
        self.session_list = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="100%"))
        self.turns_html = widgets.HTML()
        self.turn_list = widgets.Select(
            options=[], rows=6, description="turn", layout=widgets.Layout(width="100%")
        )
        self.agents = widgets.Output()
        self.query.observe(lambda _: self._relist(), names="value")
        self.order.observe(lambda _: self._relist(), names="value")
        self.session_list.observe(lambda c: self._on_session(c["new"]), names="value")
        self.turn_list.observe(lambda c: self._on_turn(c["new"]), names="value")
        head: list[widgets.Widget] = []
        if loader:  # the Vega libraries, once per page (a dashboard loads them itself)
            head.append(widgets.Output())
            head[0].outputs = html_output(offline.loader_html())
        self.widget = widgets.VBox(
            [
                *head,
                widgets.HBox([self.query, self.order]),
                self.status,
                self.session_list,
                self.turns_html,
                self.turn_list,
                self.explorer.waterfall,
                self.agents,
                self.explorer.spans,
                self.explorer.detail,
            ]
        )
        if load:
            self.update()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- the list ------------------------------------------------------------------------------
    def update(self, calls: FilteredCalls | Filter | None = None) -> pl.DataFrame:
        """Re-read the sessions (of ``calls``' filter, or of a :class:`Filter`, or of the last
        one given) and re-list them; a chosen session that is still there stays chosen.
        Returns the sessions listed. A failure is shown in the widget and kept in
        :attr:`error`, not raised (the dashboard draws it from a background thread)."""
        if isinstance(calls, FilteredCalls):
            self.filters = calls.filters
        elif isinstance(calls, Filter):
            self.filters = calls
        try:
            with self.source.session():
                self.sessions = analytics.sessions(
                    self.source, by="session", where=None if self.filters.empty else self.filters
                )
            self.error = None
        except Exception as exc:  # shown, not raised: see the docstring
            self.sessions = pl.DataFrame()
            self.error = f"sessions could not be read: {type(exc).__name__}: {exc}"
        return self._relist()

    def search(self, text: str) -> SessionsView:
        """List only the sessions whose session or user id contains ``text`` (any case), as
        typing it into the search box does; returns self."""
        self.query.value = text  # re-lists through the box's observer
        return self

    def sort_by(self, order: str) -> SessionsView:
        """Sort the list by ``last activity``, ``cost``, ``turns`` or ``errors`` (largest,
        latest first); returns self."""
        if order not in SORTS:
            raise ValueError(f"order={order!r}: sort by one of {list(SORTS)}")
        self.order.value = order
        return self

    def _relist(self) -> pl.DataFrame:
        found = self.sessions
        text = self.query.value.strip().lower()
        if found.height and text:
            ids = [c for c in ("session_id", "user_id") if c in found.columns]
            found = found.filter(
                pl.any_horizontal(
                    pl.col(c).str.to_lowercase().str.contains(text, literal=True).fill_null(False)
                    for c in ids
                )
            )
        column = SORTS[self.order.value]
        if found.height and column in found.columns:
            found = found.sort([column, "session_id"], descending=[True, False], nulls_last=True)
        self.listed = found.head(self.max_listed)
        self._muted = True
        try:
            self.session_list.options = [
                (_session_label(row), row["session_id"])
                for row in self.listed.iter_rows(named=True)
            ]
            kept = (
                self.session_id in set(self.listed["session_id"].to_list())
                if found.height
                else False
            )
            self.session_list.value = self.session_id if kept else None
        finally:
            self._muted = False
        self._show_status(found.height)
        return self.listed

    def _show_status(self, matching: int) -> None:
        if self.error:
            text = self.error
        elif self.sessions.height == 0:
            text = (
                "no sessions in this selection (spans get a session id inside "
                "obs.session(...), or from gen_ai.conversation.id)"
            )
        else:
            more = matching - self.listed.height
            text = f"{matching:,} of {self.sessions.height:,} sessions"
            if self.query.value.strip():
                text += f" matching “{self.query.value.strip()}”"
            if more > 0:
                text += f"; the first {self.listed.height:,} listed"
        self.status.value = f'<span class="llmobs muted">{html_text(text)}</span>'

    # -- a session and its turns ---------------------------------------------------------------
    def _on_session(self, session_id: str | None) -> None:
        if session_id and not self._muted and session_id != self.session_id:
            self.select(session_id)

    def select(self, session_id: str) -> pl.DataFrame:
        """Show session ``session_id``'s turns in order (time, latency, cost, status, input and
        output previews); returns them."""
        with self.source.session():
            turns = analytics.session_turns(self.source, session_id)
        self.session_id = session_id
        self.turns = turns.sort("turn") if "turn" in turns.columns else turns
        self.trace = None
        self._muted = True
        try:
            if session_id in [value for _, value in self.session_list.options]:
                self.session_list.value = session_id
            self.turn_list.options = [
                (_turn_label(row), row["trace_id"]) for row in self.turns.iter_rows(named=True)
            ]
            self.turn_list.value = None
        finally:
            self._muted = False
        self.turns_html.value = self._turns_html()
        return self.turns

    def _turns_html(self) -> str:
        shown = self.turns.select(
            *[
                c
                for c in ("turn", "start_time", "latency_s", "calls", "cost_usd", "status")
                if c in self.turns.columns
            ],
            *[
                pl.col(c)
                .map_elements(_preview, return_dtype=pl.String)
                .alias(c.removesuffix("_text"))
                for c in ("input_text", "output_text")
                if c in self.turns.columns
            ],
        )
        title = f"session {self.session_id} — {self.turns.height} turns"
        return (
            f'{STYLE}<div class="llmobs"><b>{html_text(title)}</b>'
            f"{table_html(shown, max_rows=100, max_chars=PREVIEW_CHARS)}</div>"
        )

    # -- a turn's trace ------------------------------------------------------------------------
    def _on_turn(self, trace_id: str | None) -> None:
        if trace_id and not self._muted:
            self.open_turn(trace_id)

    def open_turn(self, turn: int | str) -> Trace:
        """Open a turn of the chosen session (its number, or its ``trace_id``) in the trace
        explorer: waterfall, span list and details, and the agent timeline when the trace has
        agent or tool spans; returns its :class:`Trace`."""
        if self.session_id is None or self.turns.height == 0:
            raise LookupError("choose a session first: select(session_id)")
        column = "trace_id" if isinstance(turn, str) else "turn"
        found = self.turns.filter(pl.col(column) == turn)
        if found.height == 0:
            raise KeyError(f"session {self.session_id!r} has no turn {turn!r}")
        trace_id = found["trace_id"][0]
        self.trace = self.explorer.select(trace_id)
        kinds = set(self.trace.spans["kind"].to_list())
        if kinds & {"agent", "tool"}:
            chart = offline.chart_html(agent_timeline(self.trace), loader=False, validate=False)
            self.agents.outputs = html_output(chart)
        else:
            self.agents.outputs = ()
        self._muted = True
        try:
            self.turn_list.value = trace_id
        finally:
            self._muted = False
        if self.explorer.spans.options:  # the root span's details, as a start
            self.explorer.spans.value = self.explorer.spans.options[0][1]
        return self.trace


__all__ = ["SORTS", "SessionsView"]
