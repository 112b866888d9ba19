"""The Observer (what ``llmobs_nb.init`` returns): a face on capture, store, scores, metrics."""

from __future__ import annotations

import functools
import threading
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import Any

import polars as pl

from llmobs_nb import registry
from llmobs_nb._deprecated import moved_names
from llmobs_nb.capture import forking
from llmobs_nb.capture.agents import Step, agent_step, session, tool_step
from llmobs_nb.capture.batch_work import BatchWork
from llmobs_nb.capture.before_read import write_before_read
from llmobs_nb.capture.errors import CaptureErrors
from llmobs_nb.capture.health import Health
from llmobs_nb.capture.labels import check_label as _check_label
from llmobs_nb.capture.runs import recording
from llmobs_nb.capture.scope import SpanHandle, SpanScope
from llmobs_nb.capture.tracer import Tracer
from llmobs_nb.capture.tracing import Capture
from llmobs_nb.capture.write_queue import DEFAULT_MAX_ROWS
from llmobs_nb.pricing import PriceBook
from llmobs_nb.scoring import Scores, UnknownSpanError
from llmobs_nb.store import Store


class ObserverClosedError(RuntimeError):
    """An explicit call (``run``, ``score``, ``evaluate``, ``instrument_*``) on a closed
    observer; traced code never sees it (it records into the file's next observer)."""


class Observer:
    """Captures LLM calls and pipeline stages of one project into one DuckDB store; made by
    :func:`llmobs_nb.init` (writable) or :func:`llmobs_nb.open` (read-only).

    Example:
        >>> obs = llmobs_nb.init(db=":memory:", project="doc")  # doctest: +SKIP
    """

    def __init__(
        self,
        db: str | Path = ":memory:",
        project: str = "default",
        *,
        capture_content: bool = False,
        prices: dict[str, dict[str, Any]] | PriceBook | None = None,
        flush_interval_s: float = 1.0,
        read_only: bool = False,
        store: Store | None = None,
        max_pending_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        _check_label("project", project)
        self.project, self.read_only = project, read_only
        self.store = store if store is not None else Store(db, read_only=read_only)
        self.db_path = self.store.path
        self.prices = prices if isinstance(prices, PriceBook) else PriceBook(prices)
        self._closed = False
        self.capture_errors = CaptureErrors()  # by stage, never raised into a call
        # Makes every span of traced code (observe, span, instrumented clients, judges).
        self.tracer = Tracer(
            None,
            self.capture_errors,
            capture_content=capture_content,
            where=self.db_path,
            # once closed, traced code records with the file's live observer's tracer
            successor=lambda: getattr(registry.live_for(self.db_path, project), "tracer", None),
            online=self._online_evaluator,
        )
        self.metrics: Any = None
        self.capture: Capture | None = None
        self._batches: BatchWork | None = None
        self._scores: Scores | None = None
        self._dashboard: Any = None
        self._online: list[Any] = []
        if read_only:
            return
        from llmobs_nb.metrics import ObserverMetrics

        self.metrics = ObserverMetrics()
        self.metrics.registry.register(self.capture_errors)
        self._batches = BatchWork(self.store, self.prices, self.metrics)
        self._scores = Scores(self.store, self._batches.labels, self.flush, self.metrics)
        self.capture = self._batches.start_capture(
            project, lambda: self.capture_content, flush_interval_s, max_pending_rows
        )
        self.tracer.capture = self.capture
        forking.track(self)

    @property
    def capture_content(self) -> bool:
        """Whether prompts and answers are stored (changeable at any time; read at each call)."""
        return self.tracer.capture_content

    @capture_content.setter
    def capture_content(self, value: bool) -> None:
        self.tracer.capture_content = value

    def _require_writable(self) -> Capture:
        capture = self.tracer.require_capture()
        if self.tracer.closing:
            raise ObserverClosedError(
                f"this observer of {self.db_path} is closed; use the observer "
                f"llmobs_nb.init(db={self.db_path!r}, ...) returns (functions decorated with "
                f"this one record into it)"
            )
        return capture

    # The signatures and documentation are the Tracer's (one definition); help() shows them.
    @functools.wraps(Tracer.observe)
    def observe(self, *args: Any, **options: Any) -> Any:
        return self.tracer.observe(*args, **options)

    @functools.wraps(Tracer.span)
    def span(self, *args: Any, **options: Any) -> SpanScope:
        return self.tracer.span(*args, **options)

    def run(self, name: str, params: dict[str, Any] | None = None) -> ContextManager[str]:
        """Tag every span inside the block with run ``name`` (an experiment); the name and
        ``params`` are stored with secrets masked, and the name yielded is the one stored.

        Example:
            >>> with obs.run("prompt-v2", params={"temperature": 0.2}):   # doctest: +SKIP
            ...     ask("hello")
        """
        _check_label("run", name)
        self._require_writable()
        can_end = lambda: not self.tracer.closing  # noqa: E731  (closed inside: no ended_at)
        return recording(self.store, name, self.project, params, can_end=can_end)

    @functools.wraps(session)
    def session(self, session_id: str, *, user_id: str | None = None) -> ContextManager[str]:
        return session(session_id, user_id=user_id)

    def agent(self, name: str, **options: Any) -> Step:
        """An agent step (``invoke_agent <name>``), as ``with`` block or decorator; options:
        ``agent_id``, ``description``, ``model`` and attributes. See
        :func:`llmobs_nb.capture.agents.agent_step`.

        Example:
            >>> with obs.agent("planner"):                       # doctest: +SKIP
            ...     plan = ask(question)
        """
        return agent_step(self.tracer, name, **options)

    def tool(self, name: str, **options: Any) -> Step:
        """A tool step (``execute_tool <name>``), as ``with`` block or decorator; options:
        ``call_id``, ``tool_type``, ``description`` and attributes. See
        :func:`llmobs_nb.capture.agents.tool_step`.

        Example:
            >>> @obs.tool("get_weather")                         # doctest: +SKIP
            ... def get_weather(city: str) -> str: ...
        """
        return tool_step(self.tracer, name, **options)

    def _online_evaluator(self, evaluators: list[Any]) -> Any:
        from llmobs_nb.evals.online_hook import ScopeSubmitter

        self._online.append(ScopeSubmitter(self, evaluators))
        return self._online[-1]

    def evaluate(self, evaluators: list[Any], **options: Any) -> pl.DataFrame:
        """Score stored calls with content; resumable; returns the new scores. Options
        (``where``, ``sample``, ``concurrency``, ``progress``): :func:`llmobs_nb.evals.evaluate`.

        Example:
            >>> obs.evaluate([NonEmpty(), Refusal()], sample=200)   # doctest: +SKIP
        """
        from llmobs_nb.evals import evaluate

        self._require_writable()
        return evaluate(self, evaluators, **options)

    def instrument_openai(self, client: Any) -> Any:
        """Trace an ``openai.OpenAI`` / ``AsyncOpenAI`` client in place; returns it.

        Example:
            >>> client = obs.instrument_openai(openai.OpenAI())   # doctest: +SKIP
        """
        from llmobs_nb.clients import instrument_openai

        self._require_writable()
        return instrument_openai(self, client)

    def instrument_anthropic(self, client: Any) -> Any:
        """Trace an ``anthropic.Anthropic`` / ``AsyncAnthropic`` client in place; returns it.

        Example:
            >>> client = obs.instrument_anthropic(anthropic.Anthropic())   # doctest: +SKIP
        """
        from llmobs_nb.clients import instrument_anthropic

        self._require_writable()
        return instrument_anthropic(self, client)

    def uninstrument(self, client: Any) -> Any:
        """Restore a client instrumented by this package; returns it (harmless if it is not).

        Example:
            >>> client = obs.uninstrument(client)   # doctest: +SKIP
        """
        from llmobs_nb.clients import uninstrument

        uninstrument(client)
        return client

    @functools.wraps(Scores.add)  # one signature and documentation: the Scores'
    def score(self, *args: Any, **options: Any) -> None:
        self._require_writable()
        assert self._scores is not None  # a writable observer has them
        self._scores.add(*args, **options)

    def flush(self) -> None:
        """Write every captured span now. Never raises a write error: rows the store cannot
        take wait (memory, then the sidecar folder) and are retried; :meth:`health` tells.

        Example:
            >>> obs.flush(); obs.health().pending   # doctest: +SKIP
            0
        """
        if self.capture is not None and not self._closed:
            self.capture.flush()

    def rebuild_rollups(self) -> int:
        """Rebuild this store's rollups from its spans (after a batch was stored without
        them, which a warning and ``rollup_state`` say); returns the model calls rolled up.
        Rollups are derived data: ``approx=True`` answers and the dashboard read them.

        Example:
            >>> obs.rebuild_rollups()   # doctest: +SKIP
            50000
        """
        self._require_writable()
        self.flush()
        return self.store.rebuild_rollups()

    def health(self) -> Health:
        """The write path at a glance: rows written, pending (memory, sidecar), dropped by
        reason, the last write error and when, capture errors by stage.

        Example:
            >>> h = obs.health(); h.rows_written, h.pending, h.dropped   # doctest: +SKIP
            (1200, 0, {})
        """
        return Health() if self.capture is None else self.capture.health(self.capture_errors)

    def close(self) -> None:
        """Flush, stop the flush thread, evaluators and metrics server, close the file.

        Traced code keeps working: it records into the file's next observer
        (``llmobs_nb.init`` again) or, until there is one, runs untraced (one warning).

        Example:
            >>> obs.close(); obs.closed   # doctest: +SKIP
            True
        """
        if self._closed:
            return
        self.tracer.closing = True  # from here on, new calls do not start spans in this observer
        if self.capture is not None:
            self.capture.shutdown()
        for online in self._online:  # after the last spans ended, before the store closes
            online.close()
        if self.metrics is not None:
            self.metrics.close()
        if self._dashboard is not None:  # only the timer: widgets' comms fail at kernel exit
            self._dashboard.stop_auto_refresh()
        self._closed = True
        self.store.close()
        registry.forget(self)
        forking.closed(self)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._closed

    def _after_fork_in_child(self) -> None:
        """In a forked child (:mod:`llmobs_nb.capture.forking`): renew what the parent held."""
        from llmobs_nb.metrics import ObserverMetrics

        self.capture_errors._lock = threading.Lock()
        self._dashboard = None
        for submitter in self._online:  # stop: their calls count as dropped
            submitter.online._closed = True
        self.metrics = self.metrics and ObserverMetrics()  # fresh, unserved
        if self._batches is not None:
            self._batches.after_fork_in_child(None if self._closed else self.capture)

    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """One read-only query over the store (spans, scores, runs, prices, llm_calls), values
        as parameters (``?``, ``$name``). DuckDB's parser must classify it as one read; it runs
        rolled back, reaching no file outside the store; else ``PermissionError``. Rows not
        written yet are named by a :class:`~llmobs_nb.capture.health.PendingRowsWarning`.

        Example:
            >>> obs.sql("select model, count(*) n from llm_calls where run = ? group by 1",
            ...         ["prompt-v2"])                                          # doctest: +SKIP
        """
        if self.capture is not None and not self._closed:
            write_before_read(self.capture.processor, self.store)
        return self.store.query(query, params)

    def calls(self) -> pl.DataFrame:
        """Every LLM call, one row each, with the ``llm_calls`` columns, oldest first."""
        return self.sql("SELECT * FROM llm_calls ORDER BY start_time")

    def spans(self) -> pl.DataFrame:
        """Every span (LLM or not), with all columns of the ``spans`` table."""
        return self.sql("SELECT * FROM spans ORDER BY start_time")

    def scores(self) -> pl.DataFrame:
        """The scores table: trace_id, span_id, name, value, source, comment, created_at, label."""
        return self.sql("SELECT * FROM scores ORDER BY created_at")

    def runs(self) -> pl.DataFrame:
        """The runs (experiments) recorded with :meth:`run`."""
        return self.sql("SELECT * FROM runs ORDER BY started_at")

    def metrics_text(self) -> str:
        """Prometheus text exposition of this observer's metrics (after a flush)."""
        self.flush()
        return str(self._live_metrics().text())

    def serve_metrics(self, port: int = 9464, addr: str = "127.0.0.1") -> Any:
        """Serve ``/metrics`` (loopback by default; another ``addr`` logs what it exposes);
        re-running is harmless; a taken port raises ``PortInUseError`` naming its holder.

        Example:
            >>> obs.serve_metrics(port=9464).url   # doctest: +SKIP
            'http://127.0.0.1:9464/metrics'
        """
        return self._live_metrics().serve(port=port, addr=addr)

    def receive_otlp(self, port: int = 0, host: str = "127.0.0.1") -> Any:
        """Receive OTLP/HTTP spans (protobuf or JSON) from other processes into this store;
        ``gen_ai.evaluation.result`` events (on spans, or log records sent to ``/v1/logs``)
        become scores. Closed by :meth:`close`. See
        :class:`~llmobs_nb.otlp.receiver.OtlpReceiver`.

        Example:
            >>> obs.receive_otlp(port=4318).url   # doctest: +SKIP
            'http://127.0.0.1:4318/v1/traces'
        """
        capture = self._require_writable()
        return capture.receive_otlp(port=port, host=host)

    def _live_metrics(self) -> Any:
        if self.metrics is None:
            raise PermissionError("a read-only observer has no live metrics")
        return self.metrics

    def dashboard(self, **options: Any) -> Any:
        """The ipywidgets dashboard over this store (re-running reuses it).

        Example:
            >>> obs.dashboard()   # doctest: +SKIP
        """
        from llmobs_nb.view import Dashboard

        self.flush()
        if self._dashboard is None or options:
            if self._dashboard is not None:
                self._dashboard.close()
            self._dashboard = Dashboard(self, **options)
        return self._dashboard

    def trace(self, trace_id: str) -> Any:
        """One trace, displayed as a waterfall with each span's attributes and scores.

        Example:
            >>> obs.trace("4bf92f3577b34da6a3ce929d0e0e4736")   # doctest: +SKIP
        """
        from llmobs_nb.view import Trace

        self.flush()
        return Trace.load(self, trace_id)

    def _repr_html_(self) -> str:
        from llmobs_nb.view import observer_html

        return observer_html(self)

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else ("closed" if self._closed else "capturing")
        return f"<Observer project={self.project!r} db={self.db_path!r} {mode}>"


def get_or_create(db: str | Path, project: str, **options: Any) -> tuple[Observer, bool]:
    """The live observer for ``db`` (created if needed) and whether it was created now."""
    return registry.get_or_create(db, project, lambda: Observer(db, project, **options))


_MOVED = ("live_observers", "observer_for_path")  # to llmobs_nb.registry (for one release)
__getattr__ = moved_names(__name__, {name: f"llmobs_nb.registry:{name}" for name in _MOVED})


__all__ = ["Observer", "ObserverClosedError", "SpanHandle", "UnknownSpanError"]
