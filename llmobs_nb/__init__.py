"""llmobs_nb — Jupyter-first observability for applications built on large language models.

Two lines in a notebook::

    import llmobs_nb
    obs = llmobs_nb.init(db="experiments.duckdb", project="support-bot")

and every decorated call, pipeline stage and score lands in an embedded DuckDB file.
"""

from __future__ import annotations

import atexit
import contextlib
from pathlib import Path
from typing import Any

from llmobs_nb.capture.health import Health, PendingRowsWarning
from llmobs_nb.capture.scope import SpanHandle
from llmobs_nb.clickhouse.connect import SCHEMES as CLICKHOUSE_SCHEMES
from llmobs_nb.clickhouse.connect import ClickHouseSource
from llmobs_nb.clickhouse.connect import connect as connect_clickhouse
from llmobs_nb.magic import load_ipython_extension
from llmobs_nb.metrics.server import PortInUseError
from llmobs_nb.observer import Observer, ObserverClosedError, UnknownSpanError, get_or_create
from llmobs_nb.otlp.files import IngestResult
from llmobs_nb.pricing import PriceBook
from llmobs_nb.registry import live_observers, observer_for_path
from llmobs_nb.store import (
    CorruptStoreError,
    ForkedChildError,
    NotAStoreError,
    SchemaTooNewError,
    Store,
    StoreError,
    StoreLockedError,
)

__version__ = "0.1.0"


def init(
    db: str | Path = ":memory:",
    project: str = "default",
    *,
    capture_content: bool = False,
    set_global: bool = False,
    prices: dict[str, dict[str, Any]] | PriceBook | None = None,
    flush_interval_s: float = 1.0,
    otlp_endpoint: str | None = None,
    otlp_headers: dict[str, str] | None = None,
    max_pending_rows: int = 100_000,
) -> Observer:
    """Start capturing into ``db`` (a DuckDB file, or ``":memory:"``) and return the Observer.

    Re-running ``init`` in the same kernel with the same ``db`` returns the same working
    observer: no second flush thread, no duplicate metrics, no lost spans.

    Args:
        db: DuckDB file (created with its schema if missing) or ``":memory:"``.
        project: project name stored with every span.
        capture_content: keep prompt and response text (off by default: prompts may hold
            personal data). API keys and bearer tokens are redacted either way.
        set_global: make this observer's tracer provider OpenTelemetry's global one, so spans
            from third-party instrumentations (openai-v2, OpenInference) land in the store.
        prices: price overrides, ``{"my-model": {"input_mtok": 1.0, "output_mtok": 2.0}}``.
        flush_interval_s: how often buffered spans are written (they are also written when a
            batch fills, on ``flush()``, ``close()`` and interpreter exit).
        otlp_endpoint: also send every span (OpenTelemetry GenAI and OpenInference attributes)
            and every score (``gen_ai.evaluation.result`` on the sibling ``/v1/logs``) to an
            OTLP/HTTP traces URL, e.g. ``"http://127.0.0.1:6006/v1/traces"`` (Phoenix; any
            collector, Jaeger, Tempo, Langfuse, MLflow accept it). The stored rows are sent,
            by a child process: nothing waits on the network; losses are counted in
            ``obs.health().export``.
        otlp_headers: HTTP headers for the OTLP endpoint (e.g. an auth token; never logged).
        max_pending_rows: rows kept in memory while the store cannot be written (a full disk);
            beyond it they go to the sidecar folder beside the store, or, if that cannot be
            written either, the oldest are dropped and counted (``obs.health().dropped``).

    Example:
        >>> obs = llmobs_nb.init(db="experiments.duckdb", project="support-bot")  # doctest: +SKIP
    """
    observer, created = get_or_create(
        db,
        project,
        capture_content=capture_content,
        prices=prices,
        flush_interval_s=flush_interval_s,
        max_pending_rows=max_pending_rows,
    )
    if not created:
        observer.capture_content = capture_content
        if isinstance(prices, dict):
            for model, spec in prices.items():
                observer.prices.add(model, **spec)
    if set_global and observer.capture is not None:
        observer.capture.make_global()
    if otlp_endpoint is not None and observer.capture is not None:
        observer.capture.export_otlp(otlp_endpoint, otlp_headers)
    return observer


def open_many(paths: list[str | Path]) -> Observer:
    """One read-only observer over several store files (one per writer process).

    DuckDB allows one writer per file, so a multiprocessing pool or several kernels each write
    their own file; this reads them together, every table and ``llm_calls`` being the union.

    Example:
        >>> files = sorted(Path("runs").glob("worker-*.duckdb"))  # doctest: +SKIP
        >>> llmobs_nb.open_many(files).calls().height             # doctest: +SKIP
    """
    store = Store.attach_many(paths)
    return Observer(store.path, "many", read_only=True, store=store)


def open(db: str | Path, *, prices: PriceBook | None = None) -> Observer | ClickHouseSource:
    """A read-only observer over an existing store file, or spans in ClickHouse.

    ``clickhouse://[user[:password]@]host[:port]/database?table=otel_traces`` (a server,
    through ``clickhouse-connect``; credentials from the URL or ``CLICKHOUSE_USER`` /
    ``CLICKHOUSE_PASSWORD``, never shown) and ``chdb:///path/to/dir?table=otel_traces`` (chdb,
    ClickHouse in this process) return a :class:`~llmobs_nb.clickhouse.ClickHouseSource` over
    the OpenTelemetry collector's ``otel_traces`` table: the plan-layer analytics and the
    dashboard run in ClickHouse (read-only, ``readonly=1``), costs from ``prices`` (default:
    the genai-prices book). See docs/design.md, "ClickHouse".

    Read-only is enforced by DuckDB, not by the caller's good manners: only a single SELECT (or
    EXPLAIN of one) runs, in a transaction that is rolled back, on an engine that cannot read or
    write files outside the store, attach databases or load extensions. In the kernel that is
    writing the file, this is a read-only view of the live store (its queries run on a cursor
    of their own, never on the writer's connection); elsewhere it connects per query, so it
    never keeps the writer out of the file. A file that is not an llmobs_nb store raises
    :class:`NotAStoreError`; a damaged one :class:`CorruptStoreError`.

    Example:
        >>> old = llmobs_nb.open("experiments.duckdb")   # doctest: +SKIP
        >>> old.calls().height                           # doctest: +SKIP
        >>> prod = llmobs_nb.open("clickhouse://ch:8123/otel?table=otel_traces")  # doctest: +SKIP
    """
    if isinstance(db, str) and db.split("://", 1)[0] in CLICKHOUSE_SCHEMES:
        return connect_clickhouse(db, prices=prices)
    path = str(Path(db).expanduser().resolve())
    if not Path(path).exists():
        raise FileNotFoundError(f"no store at {path}: create one with llmobs_nb.init(db=...)")
    live = observer_for_path(path)
    if live is not None:
        live.flush()
        return Observer(path, live.project, read_only=True, store=Store.read_view(live.store))
    store = Store(path, read_only=True)
    return Observer(path, store.first_project() or "default", read_only=True, store=store)


def rebuild_rollups(db: str | Path) -> int:
    """Rebuild the rollups of the store file ``db`` from its spans; returns the model calls
    rolled up. Through this kernel's observer when one writes the file; otherwise the file
    is opened for writing (no other process may be writing it).

    Example:
        >>> llmobs_nb.rebuild_rollups("experiments.duckdb")   # doctest: +SKIP
        50000
    """
    path = str(Path(db).expanduser().resolve())
    if not Path(path).exists():
        raise FileNotFoundError(f"no store at {path}: create one with llmobs_nb.init(db=...)")
    live = observer_for_path(path)
    if live is not None and not live.closed:
        return live.rebuild_rollups()
    store = Store(path)
    try:
        return store.rebuild_rollups()
    finally:
        store.close()


def ingest(path: str | Path, observer: Observer | None = None) -> IngestResult:
    """Read an OpenTelemetry collector file-exporter file (one OTLP/JSON request per line,
    ``.gz`` too) into ``observer``'s store (default: the newest open observer of this kernel),
    through the same row conversion, redaction and content policy as captured spans; then
    flush, so a read sees them. Lines that are not OTLP are counted, never fatal.

    Example:
        >>> llmobs_nb.ingest("otel-traces.jsonl")  # doctest: +SKIP
        IngestResult(spans_read=120, spans_refused=0, lines_not_otlp=1, errors=['line 7: ...'])
    """
    if observer is None:
        writable = [o for o in live_observers() if not o.closed and o.capture is not None]
        if not writable:
            raise RuntimeError("no open observer to ingest into: call llmobs_nb.init(db=...)")
        observer = writable[-1]
    capture = observer.capture
    if capture is None or observer.closed:
        raise PermissionError(f"{observer!r} cannot be written: use llmobs_nb.init(db=...)")
    result = capture.ingest(path)
    observer.flush()
    return result


def _close_all() -> None:
    # Best effort at interpreter exit: one observer failing to close must not stop the others.
    for observer in live_observers():
        with contextlib.suppress(Exception):
            observer.close()


atexit.register(_close_all)

# ``open`` is not listed: ``from llmobs_nb import *`` must not shadow the builtin ``open`` in a
# notebook. ``llmobs_nb.open(path)`` is the way to call it.
__all__ = [
    "CorruptStoreError",
    "ForkedChildError",
    "Health",
    "IngestResult",
    "NotAStoreError",
    "Observer",
    "ObserverClosedError",
    "PendingRowsWarning",
    "PortInUseError",
    "PriceBook",
    "SchemaTooNewError",
    "SpanHandle",
    "StoreError",
    "StoreLockedError",
    "UnknownSpanError",
    "ingest",
    "init",
    "load_ipython_extension",
    "open_many",
    "rebuild_rollups",
]
