"""The notebook dashboard: filters that drive every panel, headline figures, charts, traces.

Every panel reads the same :class:`~llmobs_nb.view.data_source.FilteredCalls`, so a filter change is
pushed down into DuckDB as ``?`` parameters and only small aggregates come back to Python.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import ipywidgets as widgets
import polars as pl

from llmobs_nb.analytics.choices import Choices, filter_choices
from llmobs_nb.view import panels
from llmobs_nb.view.chart_board import ChartBoard
from llmobs_nb.view.cost_charts import HOURLY_BUDGET_USD
from llmobs_nb.view.dashboard_snapshot import snapshot_html
from llmobs_nb.view.data_source import DIMENSIONS, DataSource, Filter, FilteredCalls
from llmobs_nb.view.escaping import html_text
from llmobs_nb.view.explorer import TraceExplorer
from llmobs_nb.view.html import STYLE, alert_details_html, cards_html, headline_figures
from llmobs_nb.view.sessions_view import SessionsView

# Only one auto-refresh timer per kernel: starting one (a re-run cell) stops the previous.
_TIMER_LOCK = threading.Lock()
_ACTIVE_TIMER: dict[str, Any] = {"dashboard": None}
MAX_TIME_STEPS = 200
PENDING = " · traces, quality drift and alerts computing…"
#: What the status line says until the first draw is sent.
FIRST_DRAW = "computing the first draw…"
#: The panels whose x axis is time: dragging across one zooms the dashboard to that range.
ZOOMABLE = ("latency", "ttft", "tokens", "cost", "quality")
#: The users list shows at most this many: the chosen ones, then those the search box matches,
#: in order. A store has thousands of users, and a list of them all is no use to pick from and
#: cost the page 0.2-0.4 s of style and layout when the dashboard first showed (5,000 users).
MAX_LISTED_USERS = 200
#: How long the background panels wait for the page to draw a redraw's charts before they
#: start (they would take the page's CPU while the user waits for the charts): only once a
#: page has said it drew (the board's ``drawn``), never in a kernel without one.
PAGE_WAIT_S = 1.0


def _after_first_draw(name: str, doc: str, private: str = "") -> property:
    # A public attribute that the first draw fills: read from any thread but the dashboard's
    # worker (which draws it), it waits for the first draw (Dashboard._ready). Kept in
    # ``private`` (default: the name with an underscore before it).
    private = private or f"_{name}"

    def get(self: Dashboard) -> Any:
        self._ready()
        return getattr(self, private)

    def put(self: Dashboard, value: Any) -> None:
        setattr(self, private, value)

    return property(get, put, doc=doc)


class Dashboard:
    """Filters (time range, model, use case, run, user), headline row, charts, a trace
    explorer and the sessions (:class:`~llmobs_nb.view.sessions_view.SessionsView`: a
    session's turns, a turn's trace) over an observer or a DuckDB file. Display it in a
    notebook cell.

    Panels are answered from the store's rollups where the filter allows (counts and sums
    exact, latency quantiles within 1 %, the headline's P95 then marked ≈): with the default
    ``approx=None`` on stores of a million spans or more, where that is faster; always with
    ``approx=True``; never with ``approx=False``.

    The charts live in one :class:`~llmobs_nb.view.chart_board.ChartBoard`: a change sends
    the changed panels together and the page updates the charts in place; the status line
    says how long the page took to draw them (:attr:`last_drawn_s`). Dragging across a time
    chart zooms every panel to that range.

    Under the headline, a per-model table (:attr:`by_model`: calls, P95 latency, error rate,
    cost; one query) and a P50 / P95 / P99 switch (:attr:`percentile`) that redraws the
    latency and TTFT panels alone.

    The constructor reads the filter choices and returns; the first draw is computed on the
    dashboard's own thread, so a displayed dashboard shows its filters and panel frames at
    once, the page lays them out while the kernel computes, and the cell is done. The first
    draw sends the latency and TTFT charts (the sketches, asked longest) after the others,
    and the Traces and Sessions tabs come with the background pass (at 10M calls, in a new
    kernel on 2 cores: every fast chart drawn ~0.9 s after the cell starts). Reading what
    the first draw fills (:attr:`headline`, :attr:`charts`, :attr:`by_model`,
    :attr:`board`, :attr:`explorer`…) or calling a method waits for it, and raises, once,
    what made it fail.

    Example:
        >>> dash = Dashboard("experiments.duckdb")          # doctest: +SKIP
        >>> dash                                           # doctest: +SKIP
        >>> dash.apply_filters(models=("gpt-4o",))          # doctest: +SKIP
        >>> dash.percentile.value = 0.99                    # doctest: +SKIP
        >>> dash.start_auto_refresh(10); dash.stop_auto_refresh()   # doctest: +SKIP
    """

    headline = _after_first_draw("headline", "The headline figures (calls, cost, P95…).")
    charts = _after_first_draw("charts", "The fast panels' Altair charts, by panel name.")
    by_model = _after_first_draw("by_model", "The per-model table (panels.model_table).")
    slow = _after_first_draw("slow", "The background panels' results (drift, alerts…).")
    last_redraw_s = _after_first_draw("last_redraw_s", "Seconds the last redraw took in Python.")
    last_drawn_s = _after_first_draw(
        "last_drawn_s",
        "Seconds from the last filter change to its panels drawn in the browser (None until "
        "a browser says so: not in a kernel without a page).",
    )
    redraw_count = _after_first_draw("redraw_count", "Redraws so far (the first included).")
    refresh_count = _after_first_draw("refresh_count", "Refreshes so far (the first included).")
    board = _after_first_draw("board", "The charts (a ChartBoard widget).")
    status = _after_first_draw("status", "The status line (an HTML widget).", "_status_line")
    headline_html = _after_first_draw("headline_html", "The headline cards (an HTML widget).")
    models_html = _after_first_draw("models_html", "The per-model table (an HTML widget).")

    @property
    def explorer(self) -> TraceExplorer:
        """The trace explorer (:class:`~llmobs_nb.view.explorer.TraceExplorer`), in the
        Traces tab; built, with the tabs, once the first draw is shown (waits for it)."""
        return self._lower_tabs()[0]

    @property
    def sessions(self) -> SessionsView:
        """The sessions (:class:`~llmobs_nb.view.sessions_view.SessionsView`), in the Sessions
        tab; built, with the tabs, once the first draw is shown (waits for it)."""
        return self._lower_tabs()[1]

    @property
    def tabs(self) -> widgets.Tab:
        """The Traces and Sessions tabs under the charts (waits for the first draw)."""
        return self._lower_tabs()[2]

    def __init__(
        self,
        source: Any,
        *,
        budget_usd_per_hour: float | None = HOURLY_BUDGET_USD,
        score_name: str = "quality",
        approx: bool | None = None,
    ) -> None:
        self._first_draw: Future[None] | None = None
        self._worker_ident: int | None = None  # the thread that draws the first draw
        self._building: int | None = None  # the constructor's thread, while it shows choices
        self.source = DataSource(source, approx=approx)
        self.budget_usd_per_hour = budget_usd_per_hour
        self.score_name = score_name
        self.filters = Filter()
        self.headline: dict[str, Any] = {}
        self.by_model = pl.DataFrame()
        self._calls: FilteredCalls | None = None
        self._calls_key: tuple[Any, ...] | None = None  # _store_key() when _calls was drawn
        self.charts: dict[str, Any] = {}
        self.slow: dict[str, Any] = {}
        self.last_redraw_s = None
        self.last_drawn_s = None
        self.redraw_count = 0
        self.refresh_count = 0
        self._drawn_key: tuple[Any, ...] | None = None
        self._began: dict[int, float] = {}
        # Notified when the page says it drew a generation (the background pass waits on it).
        self._page_drew = threading.Condition()
        self._status = {"calls": "", "timing": "", "pending": ""}
        self._generation = 0
        self._muted = False
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmobs-dashboard")
        self._slow_future: Future[None] | None = None
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        # The store's counts and the filter choices asked on the side thread while the widgets
        # are built (a user reads the widgets' options at once); the first draw starts on the
        # worker once the widgets are built, while the choices are still asked (the models'
        # colours wait for them: _model_order), and the dashboard displays while it computes.
        self._asked = self.source.filtered(Filter()).beside(
            lambda: (self._store_key(), self._ask_choices())
        )
        self._build_widgets()
        self._status["timing"] = FIRST_DRAW
        self._building = threading.get_ident()  # it shows the choices while the worker draws
        try:
            self._first_draw = self._worker.submit(self._draw_first)
            _, choices = self._asked()
            self._show_choices(choices)
            self._show_status()
        finally:
            self._building = None

    def _draw_first(self) -> None:
        self._worker_ident = threading.get_ident()
        self.refresh_count += 1
        try:
            with self.source.session():
                self.redraw()
        except Exception as exc:  # said on the page; raised at the first use (_ready)
            self._status.update(timing=f"the first draw failed: {exc}", pending="")
            self._show_status()
            raise
        self._drawn_key = (self._asked()[0], self.filters)

    def _model_order(self) -> Callable[[], list[str]]:
        # Every model of the store, sorted (a model keeps its colour across filters): the
        # first draw's from the choices being asked, any later one's from the models list.
        if self._redraw_count == 0:
            asked = self._asked
            return lambda: sorted(asked()[1][1]["models"])
        models = sorted(self.selects["models"].options)
        return lambda: models

    def _ready(self) -> None:
        # Wait for the first draw, unless asked from the thread that draws it, or from the
        # constructor (showing the choices meanwhile). Its error is raised once; the dashboard
        # can then be refreshed.
        first = self._first_draw
        if first is None or threading.get_ident() in (self._worker_ident, self._building):
            return
        try:
            first.result()
        except BaseException:
            self._first_draw = None
            raise

    # -- widgets -----------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        layout = widgets.Layout(width="210px")
        # The slider's own readout is cut to a few characters by JupyterLab's CSS: the chosen
        # range is written out beside it instead.
        # continuous_update=False: a drag redraws once, when the handle is let go.
        self.time = widgets.SelectionRangeSlider(
            options=[("—", 0)],
            description="time",
            readout=False,
            continuous_update=False,
            layout=widgets.Layout(width="420px"),
        )
        self.time_label = widgets.HTML()
        self.time.observe(lambda _: self._show_time_range(), names="index")
        self.selects = {
            name: widgets.SelectMultiple(
                options=[], description=name.replace("_", " "), rows=4, layout=layout
            )
            for name in DIMENSIONS
        }
        #: Narrows the users list (:data:`MAX_LISTED_USERS` at most) to the ids containing it.
        self.user_search = widgets.Text(placeholder="search users", layout=layout)
        self._users: list[str] = []  # every user id of the store, sorted
        self.user_search.observe(lambda _: self._list_users(), names="value")
        self.refresh_button = widgets.Button(description="refresh", icon="refresh")
        self.auto = widgets.ToggleButton(description="auto-refresh", value=False)
        self.interval = widgets.BoundedIntText(
            value=10, min=2, max=3600, description="every s", layout=widgets.Layout(width="140px")
        )
        self.status = widgets.HTML()
        self.headline_html = widgets.HTML()
        #: Per model: calls, P95 latency, error rate, cost (:func:`panels.model_table`).
        self.models_html = widgets.HTML()
        #: The percentile the latency and TTFT panels draw; a change redraws those two only.
        self.percentile = widgets.ToggleButtons(
            options=[(f"P{100 * q:g}", q) for q in panels.PERCENTILES],
            value=0.95,
            description="percentile",
            tooltips=[f"latency and TTFT charts: P{100 * q:g}" for q in panels.PERCENTILES],
            style={"button_width": "48px"},
        )
        self.percentile.observe(self._on_percentile, names="value")
        self.board = ChartBoard(panels=(*panels.FAST_PANELS, *panels.SLOW_PANELS), zoom=ZOOMABLE)
        self.board.observe(self._on_drawn, names="drawn")
        self.board.observe(self._on_zoom, names="zoom")
        # The Traces and Sessions tabs (78 of the dashboard's 133 widgets) come after the
        # first draw (_lower_tabs): the kernel sends, and the page lays out, half as much
        # while the charts are computed and drawn.
        self._tab_parts: tuple[TraceExplorer, SessionsView, widgets.Tab] | None = None
        self._tabs_lock = threading.Lock()
        self._sessions_due: Filter | None = None
        for control in (self.time, *self.selects.values()):
            control.observe(self._on_filter, names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.auto.observe(self._on_auto, names="value")
        self.widget = widgets.VBox(
            [
                widgets.HTML(STYLE),
                widgets.HBox(
                    [self.time, self.time_label, self.refresh_button, self.auto, self.interval]
                ),
                widgets.HBox(
                    [
                        *(s for name, s in self.selects.items() if name != "users"),
                        widgets.VBox([self.selects["users"], self.user_search]),
                    ]
                ),
                self.status,
                self.headline_html,
                self.models_html,
                self.percentile,
                self.board,
            ]
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        # The live widget's view, and beside it a static snapshot (text/html) for the pages
        # where no widget manager runs: JupyterLab shows the widget, an exported page the
        # snapshot (see :meth:`snapshot_html`). This waits for the first draw, not for the
        # background panels (at 10M calls they take seconds): ``dash.wait()`` displays
        # after them.
        self._ready()
        return self._bundle()

    def _bundle(self) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_())
        calls = self._status["calls"] or ("computing…" if self._drawing_first() else "no calls")
        bundle["text/plain"] = f"llmobs_nb dashboard: {calls}"
        bundle["text/html"] = self._snapshot_html()
        return bundle

    def _drawing_first(self) -> bool:
        return self._first_draw is not None and not self._first_draw.done()

    def _ipython_display_(self) -> None:
        # Displayed at once, while the first draw computes: the page lays the widgets out
        # meanwhile, and the charts come as the first draw sends them. The snapshot beside
        # is of this moment: a cell whose output is kept displays ``dash.wait()``.
        from IPython.display import display

        display(self._bundle(), raw=True)

    def snapshot_html(self) -> str:
        """The dashboard as last drawn, as static HTML: the filters in words, the headline
        cards, the per-model table and every panel's chart as last sent to the page (Vega-Lite,
        compressed; see :mod:`~llmobs_nb.view.dashboard_snapshot`).

        Displaying the dashboard puts this snapshot beside the live widget, for the pages
        where no widget manager runs (an exported notebook, GitHub): it shows the dashboard
        **as it was when the cell displayed it** — the background panels (quality, alerts)
        only once done, so a cell whose output is kept displays ``dash.wait()`` (which
        returns the dashboard after them); a later filter change redraws the widget only.
        Call this method again for the current state.

        Example:
            >>> from IPython.display import HTML                # doctest: +SKIP
            >>> HTML(dash.wait().snapshot_html())                # doctest: +SKIP
        """
        self._ready()
        return self._snapshot_html()

    def _snapshot_html(self) -> str:
        board = self._board
        specs = {name: board.panel_spec(name) for name in board.specs}
        table = f'<div class="llmobs">{panels.model_table_html(self._by_model)}</div>'
        return snapshot_html(
            self._headline_cards(),
            specs,
            order=board.panels,
            table=table,
            caption=self._caption(),
        )

    def _caption(self) -> str:
        parts = [f"Snapshot of the dashboard at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"]
        if self._status["calls"]:
            parts.append(self._status["calls"])
        labels = self.time.label or ("—", "—")
        if labels[0] != "—":
            parts.append(f"{labels[0]} → {labels[1]} UTC")
        for name in self.selects:
            chosen = getattr(self.filters, name)
            if chosen:
                parts.append(f"{name.replace('_', ' ')}: {', '.join(map(str, chosen))}")
        if self._drawing_first():
            parts.append("the panels still computing (display dash.wait() for them)")
        elif self._slow_future is not None and not self._slow_future.done():
            parts.append("quality drift and alerts still computing (display dash.wait() for them)")
        return " · ".join(parts) + " (live and filterable in JupyterLab with a running kernel)"

    def refresh_options(self) -> None:
        """Re-read the filter choices (time steps, models, use cases, runs, users)."""
        self._ready()
        self._show_choices(self._ask_choices())

    def _ask_choices(self) -> Choices:
        with self.source.session():  # from the rollups too, where the source reads them
            return filter_choices(self.source.filtered(Filter()))

    def _show_choices(self, choices: Choices) -> None:
        (lo, hi), values = choices
        self._muted = True
        try:
            steps = _time_steps(lo, hi)
            # A narrowed range is kept; a full one grows with new data.
            was = self._filters_from_widgets()
            self.time.options = [(s.strftime("%Y-%m-%d %H:%M"), s) for s in steps] or [("—", 0)]
            first = steps.index(was.start) if was.start in steps else 0
            last = steps.index(was.end) if was.end in steps else len(self.time.options) - 1
            self.time.index = (first, last)
            self._show_time_range()
            for name, select in self.selects.items():
                if name == "users":
                    self._users = values[name]
                    self._list_users(select.value)
                    continue
                chosen = tuple(v for v in select.value if v in values[name])
                select.options = values[name]
                select.value = chosen
        finally:
            self._muted = False

    def _list_users(self, chosen: tuple[str, ...] | None = None) -> None:
        # The users list: the chosen ones (kept), then the store's users whose id contains
        # the search box's text, up to MAX_LISTED_USERS in all. Choosing nothing new redraws
        # nothing.
        select = self.selects["users"]
        known = set(self._users)
        keep = [u for u in (select.value if chosen is None else chosen) if u in known]
        kept = set(keep)
        wanted = self.user_search.value.strip().lower()
        matches = (u for u in self._users if u not in kept and wanted in u.lower())
        listed = [*keep]
        for user in matches:
            if len(listed) >= MAX_LISTED_USERS:
                break
            listed.append(user)
        muted, self._muted = self._muted, True
        try:
            if list(select.options) != listed:
                select.options = listed
            select.value = tuple(keep)
        finally:
            self._muted = muted
        shown = "" if len(self._users) <= MAX_LISTED_USERS else f" ({len(self._users):,})"
        self.user_search.placeholder = f"search users{shown}"

    def _show_time_range(self) -> None:
        labels = self.time.label or ("—", "—")
        self.time_label.value = (
            f'<span class="llmobs-range">{html_text(labels[0])} → {html_text(labels[1])} UTC</span>'
            if labels[0] != "—"
            else ""
        )

    # -- filters -------------------------------------------------------------------------------
    def _filters_from_widgets(self) -> Filter:
        start = end = None
        if self.time.options and self.time.value and self.time.value[0] != 0:
            first, last = self.time.index
            if first > 0:
                start = self.time.value[0]
            if last < len(self.time.options) - 1:
                end = self.time.value[1]
        return Filter(
            start=start,
            end=end,
            **{name: tuple(select.value) for name, select in self.selects.items()},
        )

    def _on_filter(self, _change: Any) -> None:
        if not self._muted:
            self.filters = self._filters_from_widgets()
            self.redraw()

    def apply_filters(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        models: tuple[str, ...] = (),
        use_cases: tuple[str, ...] = (),
        runs: tuple[str, ...] = (),
        users: tuple[str, ...] = (),
    ) -> Dashboard:
        """Set the filters (as if chosen in the widgets) and redraw every panel; returns self.

        Values not among the store's show in the selection widgets only if present there, but
        the query uses exactly what is given.

        Example:
            >>> dash.apply_filters(models=("gpt-4o",), users=("user-001",))   # doctest: +SKIP
        """
        self._ready()
        self.filters = Filter(start, end, models, use_cases, runs, users)
        self._muted = True
        try:
            for name, select in self.selects.items():
                wanted = getattr(self.filters, name)
                if name == "users":
                    self._list_users(tuple(wanted))
                else:
                    select.value = tuple(v for v in wanted if v in select.options)
        finally:
            self._muted = False
        self.redraw()
        return self

    # -- drawing -----------------------------------------------------------------------------
    def redraw(self) -> float:
        """Recompute the fast panels and send those that changed to the page in one message,
        then start the slow ones (trace lists, quality drift, alerts) in the background;
        returns the seconds the fast part took in Python.

        While Python computes, the board shows "updating"; the status line then says how
        long the page took to draw it, counted from the filter change (:attr:`last_drawn_s`).
        """
        self._ready()
        began = time.perf_counter()
        self._generation += 1
        generation = self._generation
        self._drawn_key = None  # refresh() sets it again when it drew
        self.board.updating = True
        timing = FIRST_DRAW if self._redraw_count == 0 else "updating…"
        self._status.update(timing=timing, pending=PENDING)
        self._show_status()
        calls = self.source.filtered(self.filters)
        with self.source.session():
            store_key = self._store_key()
            if store_key == self._calls_key:  # the same data: the time range's extent holds
                calls.reuse_time_extent(self._calls)
            # The per-model table on the side thread, then the sketches' charts there too
            # (fast_panels), while this thread asks the rest: they take as long.
            by_model = calls.beside(partial(panels.model_table, calls))
            self.headline, self.charts = panels.fast_panels(
                calls,
                budget_usd_per_hour=self.budget_usd_per_hour,
                score_name=self.score_name,
                models=self._model_order(),
                quantile=self.percentile.value,
                early=self._show_early if self._redraw_count == 0 else None,
            )
            self.by_model = by_model()
        self._calls, self._calls_key = calls, store_key
        self._draw_headline()
        self.models_html.value = (
            f'<div class="llmobs">{panels.model_table_html(self.by_model)}</div>'
        )
        sent = self.board.show(self.charts)
        self.last_redraw_s = time.perf_counter() - began
        self.redraw_count += 1
        self._status["calls"] = f"{self.headline['calls']:,} calls selected"
        if sent:
            self._began = {self.board.generation: began}
            self._status["timing"] = f"computed in {self.last_redraw_s * 1000:.0f} ms, drawing…"
        else:
            self._status["timing"] = "nothing changed"
        self._show_status()
        # With a page showing the board, the background pass starts once it drew (or
        # PAGE_WAIT_S): it would take the CPU the page draws with (at 10M calls on 2 cores,
        # the first draw's charts took 0.35-0.43 s with it, 0.26-0.28 s after it).
        on_page = self.board.on_page or self.board.drawn > 0
        drawing = self.board.generation if sent and on_page else None
        self._slow_future = self._worker.submit(self._draw_slow, calls, generation, drawing)
        return self.last_redraw_s

    def _show_early(self, figures: dict[str, Any], charts: dict[str, Any]) -> None:
        # The first draw only: the headline and the charts made while the latency and TTFT
        # sketches are still asked are sent at once, so the page draws them meanwhile (at 10M
        # calls the sketches took the longest). There is nothing on the page yet for them to
        # disagree with; a filter change sends every panel together. (Each chart sent as soon
        # as made drew no sooner: the page took the CPU the kernel was still asking with.)
        self._headline = figures
        self._draw_headline()
        self.board.show(charts, settle=False)

    def _on_percentile(self, change: Any) -> None:
        # Only the latency and TTFT panels change: two questions, in the redraw's bucket.
        self._ready()
        calls = self._calls
        if calls is None:
            return
        began = time.perf_counter()
        self.board.updating = True
        try:
            with self.source.session():
                charts = panels.percentile_panels(
                    calls, quantile=change["new"], models=sorted(self.selects["models"].options)
                )
        except Exception:
            self.board.updating = False
            raise
        self.charts = {**self.charts, **charts}
        if self.board.show(charts):
            self._began = {self.board.generation: began}
            self._status["timing"] = "drawing…"
            self._show_status()

    def _show_status(self) -> None:
        text = " · ".join(part for part in (self._status["calls"], self._status["timing"]) if part)
        self.status.value = (
            f'<span class="llmobs muted">{html_text(text)}{html_text(self._status["pending"])}'
            "</span>"
        )

    def _on_drawn(self, change: Any) -> None:
        with self._page_drew:
            self._page_drew.notify_all()
        self._ready()  # the first draw's page can say it drew before the first draw returned
        began = self._began.pop(change["new"], None)
        if began is not None:
            self.last_drawn_s = time.perf_counter() - began
            self._status["timing"] = (
                f"drawn in {self.last_drawn_s * 1000:.0f} ms "
                f"(Python {(self.last_redraw_s or 0) * 1000:.0f} ms)"
            )
            self._show_status()

    def _lower_tabs(self) -> tuple[TraceExplorer, SessionsView, widgets.Tab]:
        # The explorer, the sessions and their tabs, built once (by the background pass, or
        # by whoever reads them first, after the first draw) and put under the charts.
        self._ready()
        with self._tabs_lock:
            if self._tab_parts is None:
                explorer = TraceExplorer(self.source)
                # The sessions are read when their tab is shown: a filter change costs no
                # query there.
                sessions = SessionsView(self.source, loader=False, load=False)
                tabs = widgets.Tab(
                    [explorer.widget, sessions.widget], titles=("Traces", "Sessions")
                )
                tabs.observe(self._on_tab, names="selected_index")
                self._tab_parts = explorer, sessions, tabs
                self.widget.children = (*self.widget.children, tabs)
            return self._tab_parts

    def _on_tab(self, change: Any) -> None:
        due, self._sessions_due = self._sessions_due, None
        if change["new"] == 1 and due is not None:
            self.sessions.update(due)

    def _on_zoom(self, change: Any) -> None:
        self._ready()
        zoomed = self.board.zoom_range()
        if zoomed is None or not self.time.options or self.time.options[0][1] == 0:
            return
        steps = [value for _, value in self.time.options]
        start, end = zoomed
        first = max([i for i, at in enumerate(steps) if at <= start] or [0])
        last = min([i for i, at in enumerate(steps) if at >= end] or [len(steps) - 1])
        if last <= first:
            last = min(first + 1, len(steps) - 1)
        self.time.index = (first, last)  # redraws through the slider's own observer

    def _headline_cards(self) -> str:
        # Read as they are (the display of a first draw under way shows none yet).
        figures, slow = self._headline, self._slow
        if not figures:
            return ""
        alerts = ("alerts",) if figures.get("alerts") else ()
        # Once counted, the ALERTS card opens what fired and why (an HTML <details>: no JS).
        details = {}
        if figures.get("alerts") is not None and "alert_list" in slow:
            details["alerts"] = alert_details_html(slow["alert_list"])
        return cards_html(headline_figures(figures), alerts, details)

    def _draw_headline(self) -> None:
        self.headline_html.value = f'<div class="llmobs">{self._headline_cards()}</div>'

    def _draw_slow(self, calls: Any, generation: int, drawing: int | None = None) -> None:
        if drawing is not None:  # let the page draw the redraw's charts first
            with self._page_drew:
                self._page_drew.wait_for(lambda: self.board.drawn >= drawing, PAGE_WAIT_S)
        try:
            with self.source.session():
                if generation == self._generation:
                    explorer, sessions, tabs = self._lower_tabs()
                    explorer.update(calls)
                    if tabs.selected_index == 1:
                        sessions.update(calls)
                    else:
                        self._sessions_due = calls.filters
                found = panels.drift_and_anomalies(calls, self.score_name)
        except Exception as exc:  # shown in the dashboard: a background thread has no traceback
            self._status["pending"] = f" · slow panels failed: {exc}"
            self._show_status()
            return
        if generation != self._generation:
            return  # a newer filter change is on its way; its own result will be drawn
        self.slow = found
        self.headline["alerts"] = found["alerts"]
        self._draw_headline()
        self.board.show({"quality": found["quality"]}, settle=False)
        self._status["pending"] = ""
        self._show_status()

    def wait(self, timeout_s: float = 120.0) -> Dashboard:
        """Block until the first draw and the background panels of the last redraw are
        drawn; returns self."""
        self._ready()
        if self._slow_future is not None:
            self._slow_future.result(timeout=timeout_s)
        return self

    def refresh(self) -> float:
        """Re-read filter choices (new models, new data) and redraw; returns the fast time,
        0.0 when neither the store nor the filter changed since the last redraw (nothing is
        recomputed or sent then)."""
        self._ready()
        self.refresh_count += 1
        # One read-only session (a file opened once) for the check, the choices and the redraw.
        with self.source.session():
            key = (self._store_key(), self.filters)
            if key == self._drawn_key:
                return 0.0
            self.refresh_options()
            elapsed = self.redraw()
        self._drawn_key = key
        return elapsed

    def _store_key(self) -> tuple[Any, ...]:
        # What a refresh would see change: the spans and scores stored (counts: DuckDB
        # answers them from its metadata).
        with self.source.session():
            return tuple(
                self.source.query(
                    "SELECT (SELECT count(*) FROM spans) AS spans, "
                    "(SELECT count(*) FROM scores) AS scores"
                ).row(0)
            )

    # -- auto-refresh --------------------------------------------------------------------------
    def _on_auto(self, change: Any) -> None:
        if change["new"]:
            self.start_auto_refresh(self.interval.value)
        else:
            self.stop_auto_refresh()

    def start_auto_refresh(self, every_s: float = 10.0) -> None:
        """Refresh every ``every_s`` seconds in one background thread, until
        :meth:`stop_auto_refresh`. Any other dashboard's timer in this kernel is stopped first.

        Example:
            >>> dash.start_auto_refresh(5)   # while an experiment runs   # doctest: +SKIP
        """
        if every_s <= 0:
            raise ValueError(f"every_s={every_s!r}: pass a positive number of seconds")
        with _TIMER_LOCK:
            previous = _ACTIVE_TIMER["dashboard"]
        if previous is not None and previous is not self:
            previous.stop_auto_refresh()
        self._every_s = every_s
        with _TIMER_LOCK:
            if self._timer is None or not self._timer.is_alive():
                self._stop.clear()
                self._timer = threading.Thread(
                    target=self._tick, name="llmobs-auto-refresh", daemon=True
                )
                self._timer.start()
            _ACTIVE_TIMER["dashboard"] = self
        if not self.auto.value:
            self.auto.value = True

    def _tick(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self.refresh()
            except Exception as exc:  # keep the timer alive through one bad refresh
                self.status.value = (
                    f'<span class="llmobs">auto-refresh failed: {html_text(exc)}</span>'
                )

    def stop_auto_refresh(self) -> None:
        """Stop the auto-refresh timer (no-op when none runs)."""
        self._stop.set()
        timer = self._timer
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=30)
        self._timer = None
        with _TIMER_LOCK:
            if _ACTIVE_TIMER["dashboard"] is self:
                _ACTIVE_TIMER["dashboard"] = None
        if self.auto.value:
            self.auto.value = False

    @property
    def auto_refreshing(self) -> bool:
        """Whether this dashboard's timer is running."""
        return self._timer is not None and self._timer.is_alive()

    def close(self) -> None:
        """Stop the timer and the background worker, and close the widgets."""
        self.stop_auto_refresh()
        self._worker.shutdown(wait=True, cancel_futures=True)
        self.source.close()
        self.widget.close()


def _time_steps(lo: datetime | None, hi: datetime | None) -> list[datetime]:
    # At most MAX_TIME_STEPS slider stops, on round hours or days.
    if lo is None or hi is None:
        return []
    for step in (
        timedelta(minutes=1),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(days=1),
        timedelta(weeks=1),
    ):
        if (hi - lo) / step <= MAX_TIME_STEPS:
            break
    first = datetime.fromtimestamp(
        lo.timestamp() // step.total_seconds() * step.total_seconds(), lo.tzinfo
    )
    steps = []
    at = first
    while at <= hi:
        steps.append(at)
        at += step
    steps.append(at)  # the end is exclusive: one step past the last call
    return steps


__all__ = ["Dashboard"]
