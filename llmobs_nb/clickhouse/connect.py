"""Opening ClickHouse: a server through ``clickhouse-connect``, or chdb in this process.

``clickhouse://[user[:password]@]host[:port][/database]?table=otel_traces`` opens a server
(HTTP, ``?secure=true`` for TLS; ``logs=otel_logs`` names the table of scores; ``rollups=``
the rollup view's target, read when present and complete: ``export.clickhouse_rollups``).
Credentials come from the URL, else from the environment (``CLICKHOUSE_USER``,
``CLICKHOUSE_PASSWORD``); they are kept in the client only: never in :func:`repr`, a log line
or an error message (an error text that quotes them is rewritten before it is raised). Every
query is sent with ``readonly=1`` (ClickHouse refuses any write or DDL in it) and
``join_use_nulls=1`` as request settings, the prices as external data (a temporary table of
the request).

``chdb:///path/to/dir?table=otel_traces`` opens chdb's embedded ClickHouse on a data directory
(``chdb://`` alone: the process's current chdb session, else a temporary one). chdb runs one
embedded server per process, at one path: a second path raises. Queries carry
``readonly=1`` too; the prices are a temporary table of the session.

Example:
    >>> source = ClickHouseSource.parse("clickhouse://bob:s3cret@db.internal:8443/obs?table=otel_traces")
    >>> source
    ClickHouseSource('clickhouse://db.internal:8443/obs?table=otel_traces')
    >>> "s3cret" in repr(source) + str(source.target)
    False
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc

from llmobs_nb.analytics.source import SpanReader
from llmobs_nb.clickhouse.engine import ClickHouseEngine, with_relations
from llmobs_nb.clickhouse.mapping import (
    MATERIALIZED,
    PRICES_TABLE,
    column_expressions,
    materialized_name,
    relations,
    spans_select,
)
from llmobs_nb.clickhouse.otel_schema import OTEL_LOGS, OTEL_TRACES, quote_identifier
from llmobs_nb.clickhouse.prices import price_rows, structure
from llmobs_nb.clickhouse.render import ClickHouseRenderer, named_params, param_text, param_type
from llmobs_nb.clickhouse.rollup_reader import RELATION, rows_select
from llmobs_nb.clickhouse.rollups import ROLLUP_TABLE
from llmobs_nb.pricing import PriceBook
from llmobs_nb.store.model_call import is_model_call

SCHEMES = ("clickhouse", "chdb")
SPAN_COLUMNS = (*column_expressions(), "cost_usd")
"""The ``spans`` columns a ClickHouse table gives (the store's but ``price_version``)."""
USER_VARIABLE = "CLICKHOUSE_USER"
PASSWORD_VARIABLE = "CLICKHOUSE_PASSWORD"
READ_SETTINGS: dict[str, Any] = {
    "join_use_nulls": 1,
    "prefer_column_name_to_alias": 1,
    "readonly": 1,
}
"""Settings of every read: NULL for a LEFT JOIN's missing side and a column name before an
alias of the same name (as in DuckDB: ``sum(cost_usd) AS cost_usd``), read-only."""
WHEN_KNOWN: dict[str, Any] = {"enable_materialized_cte": 1}
"""Settings sent when the server has them (asked once per source): a ``WITH … AS
MATERIALIZED`` relation read twice (the agents' span tree) is then computed once, as DuckDB
does (off by default in ClickHouse 26.9; an older server rejects a setting it lacks)."""


class ClickHouseError(RuntimeError):
    """A query or connection to ClickHouse failed (the message never holds a password)."""


@dataclass(frozen=True)
class Target:
    """Where the spans are: scheme, host, port, database, tables, TLS — never credentials.

    Example:
        >>> Target("chdb", path="/data/ch", table="otel_traces").url
        'chdb:///data/ch?table=otel_traces'
    """

    scheme: str
    host: str = ""
    port: int | None = None
    database: str | None = None
    path: str | None = None
    table: str = OTEL_TRACES.default_name
    logs: str | None = None
    secure: bool = False
    rollups: str = ROLLUP_TABLE

    @property
    def url(self) -> str:
        """The URL without credentials (what repr and errors show)."""
        query = f"?table={self.table}" + (f"&logs={self.logs}" if self.logs else "")
        query += f"&rollups={self.rollups}" if self.rollups != ROLLUP_TABLE else ""
        if self.scheme == "chdb":
            return f"chdb://{self.path or ''}{query}"
        port = f":{self.port}" if self.port else ""
        database = f"/{self.database}" if self.database else ""
        return f"clickhouse://{self.host}{port}{database}{query}"


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class _Chdb:
    """chdb's embedded server, one per process (at one path), shared by every source."""

    lock = threading.Lock()
    session: Any = None
    path: str | None = None
    owned_temp: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def open(cls, path: str | None) -> Any:
        from chdb import session as chdb_session

        with cls.lock:
            if cls.session is not None:
                if path is not None and str(Path(path).resolve()) != cls.path:
                    raise ClickHouseError(
                        f"chdb already runs on {cls.path} in this process (one embedded "
                        f"server per process): open chdb://{cls.path} or restart the kernel"
                    )
                return cls.session
            if path is None:
                cls.owned_temp = tempfile.TemporaryDirectory(prefix="llmobs-chdb-")
                path = cls.owned_temp.name
            Path(path).mkdir(parents=True, exist_ok=True)
            cls.path = str(Path(path).resolve())
            cls.session = chdb_session.Session(cls.path)
            return cls.session


def _settings_clause(settings: Mapping[str, Any]) -> str:
    return " SETTINGS " + ", ".join(f"{k} = {int(v)}" for k, v in settings.items())


class ClickHouseSource:
    """Spans in a ClickHouse table of the collector exporter's shape, read through the
    analytics engine (:meth:`open_engine`): pass it to any ``llmobs_nb.analytics`` function
    that goes through the plan layer, or to ``llmobs_nb.view.Dashboard``.

    ``prices``: the price book costs are computed with (default: genai-prices data), asked
    once per source for the models and days the table holds (:meth:`refresh_prices`).

    Example:
        >>> source = llmobs_nb.open("chdb:///tmp/ch?table=otel_traces")   # doctest: +SKIP
        >>> analytics.summary(source)                                      # doctest: +SKIP
    """

    def __init__(self, target: Target, *, user: str | None = None, password: str | None = None,
                 prices: PriceBook | None = None) -> None:  # fmt: skip
        self.target = target
        self._user = user
        self._password = password
        self._book = prices or PriceBook()
        self._client: Any = None
        self._prices: pa.Table | None = None
        self._lock = threading.RLock()
        self._relations: dict[str, str] | None = None
        self._has_rollups: bool | None = None
        self._settings: dict[str, Any] | None = None
        #: Bytes of Arrow answers received by this source (what was brought into Python).
        self.bytes_received = 0

    @classmethod
    def parse(
        cls, url: str, *, prices: PriceBook | None = None, environ: Mapping[str, str] | None = None
    ) -> ClickHouseSource:
        """A source from its URL (see the module's docstring); nothing is opened yet.

        Example:
            >>> ClickHouseSource.parse("chdb://?table=spans_v2").target.table
            'spans_v2'
        """
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ValueError("not a ClickHouse URL: use clickhouse://host:port/db or chdb://path")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        table = query.get("table", OTEL_TRACES.default_name)
        logs = query.get("logs")
        rollups = query.get("rollups", ROLLUP_TABLE)
        env = os.environ if environ is None else environ
        if parts.scheme == "chdb":
            path = unquote(parts.netloc + parts.path) or None
            target = Target("chdb", path=path, table=table, logs=logs, rollups=rollups)
            return cls(target, prices=prices)
        try:
            host, port = parts.hostname or "localhost", parts.port
        except ValueError as exc:
            raise ValueError("the ClickHouse URL's port is not a number") from exc
        database = unquote(parts.path.strip("/")) or None
        secure = query.get("secure", "").lower() in ("1", "true", "yes")
        user = unquote(parts.username) if parts.username else env.get(USER_VARIABLE)
        password = unquote(parts.password) if parts.password else env.get(PASSWORD_VARIABLE)
        target = Target("clickhouse", host, port, database, None, table, logs, secure, rollups)
        return cls(target, user=user, password=password, prices=prices)

    def __repr__(self) -> str:
        return f"ClickHouseSource({self.target.url!r})"

    __str__ = __repr__

    # -- connection ------------------------------------------------------------------------
    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._password,) if s)

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        if self.target.scheme == "chdb":
            self._client = _Chdb.open(self.target.path)
            return self._client
        import clickhouse_connect

        try:
            self._client = clickhouse_connect.get_client(
                host=self.target.host,
                port=self.target.port,
                username=self._user or "default",
                password=self._password or "",
                database=self.target.database or "",
                secure=self.target.secure,
                settings={"readonly": 1},
                # No HTTP session: with one, the client refuses a second query while one runs
                # (the dashboard's background pass beside a filter change); nothing here keeps
                # state in a session (the prices travel with each query).
                autogenerate_session_id=False,
            )
        except Exception as exc:
            message = _scrub(f"{type(exc).__name__}: {exc}", self._secrets())
            raise ClickHouseError(f"cannot connect to {self.target.url}: {message}") from None
        return self._client

    def _read_settings(self) -> dict[str, Any]:
        with self._lock:
            if self._settings is None:
                self._settings = READ_SETTINGS
                found = self._select(
                    "SELECT name FROM system.settings WHERE has({names:Array(String)}, name)",
                    {"names": list(WHEN_KNOWN)},
                    prices=False,
                )
                known = set(found["name"].to_list()) if found.height else set()
                extra = {k: v for k, v in WHEN_KNOWN.items() if k in known}
                self._settings = {**READ_SETTINGS, **extra}
            return self._settings

    def _select(self, sql: str, params: Mapping[str, Any], *, prices: bool) -> pl.DataFrame:
        """One read-only query; with ``prices``, the prices table is available to it."""
        client = self._connect()
        settings = self._read_settings()
        try:
            if self.target.scheme == "chdb":
                text = sql + _settings_clause(settings)
                values = {k: param_text(v) for k, v in params.items()}
                with _Chdb.lock:
                    if prices:
                        self._push_chdb_prices(client)
                    result = client.query(text, "Arrow", params=values)
                data = result.bytes()
                table = ipc.open_file(pa.BufferReader(data)).read_all() if data else None
                self.bytes_received += len(data)
            else:
                table = client.query_arrow(
                    sql,
                    parameters=dict(params),
                    settings=settings,
                    external_data=self._external_prices() if prices else None,
                )
                self.bytes_received += table.nbytes
        except ClickHouseError:
            raise
        except Exception as exc:
            message = _scrub(f"{type(exc).__name__}: {exc}", self._secrets())
            raise ClickHouseError(f"query on {self.target.url} failed: {message}") from None
        if table is None:
            return pl.DataFrame()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    # -- the mapping ---------------------------------------------------------------------------
    @property
    def relations(self) -> dict[str, str]:
        """``spans``, ``llm_calls`` and ``scores`` as this table maps them, reading the
        table's materialized columns where it has them (``mapping.materialize_sql``); the
        table's columns are asked once."""
        with self._lock:
            if self._relations is None:
                target = self.target
                present = self.materialized()
                found = relations(target.table, target.logs, target.database, present)
                if self.has_rollups():
                    found[RELATION] = rows_select(target.rollups, target.database)
                self._relations = found
            return self._relations

    def has_rollups(self) -> bool:
        """Whether the rollup view's target (``rollups=`` in the URL, default
        ``llmobs_rollup_calls``: ``export.clickhouse_rollups``) is there and complete — its
        calls as many as the table's model calls (a view filled late, or fed by another
        table, is not read) — asked once per source (:meth:`refresh_prices` asks again).
        ``rollups=off`` never reads one."""
        with self._lock:
            if self._has_rollups is None:
                self._has_rollups = self._rollups_complete()
            return self._has_rollups

    def _rollups_complete(self) -> bool:
        target = self.target
        if target.rollups == "off":
            return False
        where = {"t": target.rollups, "d": target.database or ""}
        exists = self._select(
            "SELECT count() AS n FROM system.tables WHERE name = {t:String} AND database = "
            "if({d:String} = '', currentDatabase(), {d:String})",
            where,
            prices=False,
        )
        if not exists["n"][0]:
            return False
        name = quote_identifier(target.rollups)
        if target.database:
            name = f"{quote_identifier(target.database)}.{name}"
        spans = spans_select(target.table, target.database, self.materialized())
        rule = is_model_call.sql("kind", "model")
        found = self._select(
            f"SELECT (SELECT sum(calls) FROM {name}) AS rolled, "
            f"(SELECT count() FROM ({spans}) WHERE {rule}) AS calls",
            {},
            prices=False,
        )
        return found["rolled"][0] == found["calls"][0]

    def materialized(self) -> list[str]:
        """The mapped columns the table keeps as materialized columns."""
        found = self._select(
            "SELECT name FROM system.columns WHERE table = {t:String} AND database = "
            "if({d:String} = '', currentDatabase(), {d:String})",
            {"t": self.target.table, "d": self.target.database or ""},
            prices=False,
        )
        names = set(found["name"].to_list()) if found.height else set()
        return [c for c in MATERIALIZED if materialized_name(c) in names]

    # -- prices --------------------------------------------------------------------------------
    def _called(self) -> list[tuple[str, str | None, Any, Any]]:
        target = self.target
        spans = spans_select(target.table, target.database, self.materialized())
        rule = is_model_call.sql("kind", "model")
        found = self._select(
            f"SELECT model, provider, min(toDate(start_time)) AS lo, max(toDate(start_time)) "
            f"AS hi FROM ({spans}) WHERE ({rule}) AND model IS NOT NULL GROUP BY model, provider",
            {},
            prices=False,
        )
        return list(found.iter_rows())

    def prices(self) -> pa.Table:
        """The prices table the engine joins (asked once; :meth:`refresh_prices` asks again)."""
        with self._lock:
            if self._prices is None:
                self._prices = price_rows(self._called(), self._book)
            return self._prices

    def refresh_prices(self) -> pa.Table:
        """Ask the price book again for the models and days the table holds now (and the
        table for its materialized columns)."""
        with self._lock:
            self._prices = None
            self._relations = None
            self._has_rollups = None
        return self.prices()

    def _push_chdb_prices(self, session: Any) -> None:
        table = self._prices
        if table is None or _ChdbPrices.pushed is table:
            return
        session.query(f"DROP TEMPORARY TABLE IF EXISTS {PRICES_TABLE}")
        session.query(f"CREATE TEMPORARY TABLE {PRICES_TABLE} ({structure()}) ENGINE = Memory")
        if table.num_rows:
            with tempfile.TemporaryDirectory(prefix="llmobs-prices-") as folder:
                path = Path(folder) / "prices.arrow"
                with ipc.new_file(str(path), table.schema) as writer:
                    writer.write_table(table)
                session.query(
                    f"INSERT INTO {PRICES_TABLE} SELECT * FROM file({{path:String}}, 'Arrow')",
                    params={"path": param_text(str(path))},
                )
        _ChdbPrices.pushed = table

    def _external_prices(self) -> Any:
        from clickhouse_connect.driver.external import ExternalData

        sink = pa.BufferOutputStream()
        table = self._prices if self._prices is not None else price_rows([], self._book)
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return ExternalData(
            file_name=PRICES_TABLE,
            data=sink.getvalue().to_pybytes(),
            fmt="ArrowStream",
            structure=structure(),
        )

    # -- reading ---------------------------------------------------------------------------
    def run(self, sql: str, params: dict[str, Any]) -> pl.DataFrame:
        """The engine's runner: ``sql`` (already under the relations' ``WITH``) read-only."""
        self.prices()
        return self._select(sql, params, prices=True)

    @contextlib.contextmanager
    def open_engine(self) -> Iterator[ClickHouseEngine]:
        """The analytics engine over this source's calls (the ``open_engine`` hook every
        analytics function accepts)."""
        found = self.relations
        yield ClickHouseEngine(self.run, relations=found, rollups=RELATION in found)

    def sql(self, query: str, parameters: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Run read-only ClickHouse SQL over ``spans``, ``llm_calls`` and ``scores`` (this
        source's mapping of the table), with ``{name:Type}`` parameters.

        Example:
            >>> source.sql("SELECT count() AS n FROM llm_calls WHERE model = {m:String}",
            ...            {"m": "gpt-4o"})   # doctest: +SKIP
        """
        self.prices()
        return self._select(with_relations(query, self.relations), parameters or {}, prices=True)

    def query(self, sql: str, params: Any = None) -> pl.DataFrame:
        """What the view asks a store (``DataSource.query``): ``sql`` runs as ClickHouse SQL
        over ``spans``, ``llm_calls`` and ``scores`` when it has no parameters. Positional
        ``?`` parameters are DuckDB's: NotImplementedError (the package's own questions with
        values go through :meth:`open_engine` or :meth:`open_spans`, in this dialect; yours
        through :meth:`sql`, with ``{name:Type}`` parameters)."""
        if params:
            raise NotImplementedError(
                "this is DuckDB SQL with ? parameters, which ClickHouse does not read "
                f"({self.target.url}): use source.sql(query, {{name: value}}) with "
                "{name:Type} placeholders"
            )
        return self.sql(sql)

    @contextlib.contextmanager
    def open_spans(self, required: Any = (), optional: Any = ()) -> Iterator[SpanReader]:
        """The ``spans`` reader of the questions over whole traces (sessions, agents, the
        dashboard's trace lists): their SQL, written once, in ClickHouse's dialect
        (:class:`~llmobs_nb.clickhouse.render.ClickHouseRenderer`), run here over this
        table's ``spans`` (priced model calls: ``mapping.priced_spans_select``)."""
        relations = self.relations

        def run(sql: str, params: list[Any]) -> pl.DataFrame:
            return self.run(with_relations(sql, relations), named_params(params))

        yield SpanReader(run, SPAN_COLUMNS, ClickHouseRenderer())

    @property
    def label(self) -> str:
        """Where the spans are, for titles."""
        return self.target.url


class _ChdbPrices:
    """Which prices table the process's chdb session holds (one session per process)."""

    pushed: pa.Table | None = None


def connect(url: str, *, prices: PriceBook | None = None) -> ClickHouseSource:
    """:meth:`ClickHouseSource.parse` (what ``llmobs_nb.open`` calls for these URLs).

    Example:
        >>> connect("chdb://?table=otel_traces").target.scheme
        'chdb'
    """
    return ClickHouseSource.parse(url, prices=prices)


__all__ = [
    "OTEL_LOGS",
    "ClickHouseError",
    "ClickHouseSource",
    "Target",
    "connect",
    "param_type",
    "quote_identifier",
]
