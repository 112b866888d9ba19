"""The store's tables in one place: every column's name, Arrow type and DuckDB type, in the
order ``DESCRIBE`` lists them, and the one rule of what a model call is.

``migrations.py`` stays frozen SQL (a file written by an older release must migrate the same
way); this module describes the schema the migrations produce, and a test
(``tests/store/test_schema.py``) checks it against ``DESCRIBE`` of a freshly migrated store.
Everything else derives from here: the span rows' Arrow schema (``capture/rows.SPAN_SCHEMA``),
the ``llm_calls`` columns analytics returns (:data:`LLM_CALLS_COLUMNS`), the demo's frames
(``demo/schema.py``), the live metrics' batch columns. A column added by a new migration is
added here in the same commit. See docs/design.md §3 (the data contract).

**What a model call is** (:data:`is_model_call`): a span of kind ``llm`` or ``embedding``, or
an ``evaluator`` span that names a model — an LLM judge's own call, priced and counted like any
other. An evaluator span without a model (a rule-based check) is not a model call. The
``llm_calls`` view (``m005_llm_calls_view``), the live metrics, pricing and the demo all use
this rule; it renders to Python, polars, Arrow and SQL so no place spells it again.

Example:
    >>> SPANS.names[:3]
    ('trace_id', 'span_id', 'parent_span_id')
    >>> is_model_call("evaluator", "gpt-4o"), is_model_call("evaluator", None)
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from llmobs_nb.store.model_call import is_model_call

STRING = pa.string()
FLOAT = pa.float64()
INT = pa.int64()
TIMESTAMP = pa.timestamp("us", tz="UTC")
"""Every time in the store: microseconds, UTC (DuckDB's ``TIMESTAMPTZ``)."""

_SQL_TYPES = {
    STRING: "VARCHAR",
    FLOAT: "DOUBLE",
    INT: "BIGINT",
    TIMESTAMP: "TIMESTAMP WITH TIME ZONE",
}


@dataclass(frozen=True)
class Column:
    """One column: its name, Arrow type, DuckDB type (``DESCRIBE``'s spelling) and whether
    the table refuses NULL.

    Example:
        >>> Column("attributes", STRING, sql="JSON").sql
        'JSON'
        >>> Column("latency_s", FLOAT).sql
        'DOUBLE'
    """

    name: str
    type: pa.DataType
    sql: str = ""
    not_null: bool = False

    def __post_init__(self) -> None:
        if not self.sql:
            object.__setattr__(self, "sql", _SQL_TYPES[self.type])


@dataclass(frozen=True)
class Table:
    """A table (or view) of the store: its columns in order, and the frames' types of them.

    Example:
        >>> RUNS.names
        ('name', 'project', 'params', 'started_at', 'ended_at')
        >>> RUNS.arrow.field("started_at").type
        TimestampType(timestamp[us, tz=UTC])
        >>> RUNS.polars["started_at"]
        Datetime(time_unit='us', time_zone='UTC')
    """

    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in the table's order."""
        return tuple(c.name for c in self.columns)

    @property
    def arrow(self) -> pa.Schema:
        """The Arrow schema of a batch of this table's rows (every field nullable)."""
        return pa.schema([(c.name, c.type) for c in self.columns])

    @property
    def polars(self) -> dict[str, pl.DataType]:
        """Column → polars dtype, as a read of the table returns them (JSON as ``String``)."""
        frame = pl.from_arrow(self.arrow.empty_table())
        assert isinstance(frame, pl.DataFrame)
        return dict(frame.schema)

    @property
    def sql_types(self) -> dict[str, str]:
        """Column → DuckDB type, as ``DESCRIBE`` names it."""
        return {c.name: c.sql for c in self.columns}

    def select(self, name: str, names: tuple[str, ...]) -> Table:
        """A table (a view) of some of these columns, in the order given.

        Example:
            >>> SPANS.select("ids", ("span_id", "trace_id")).names
            ('span_id', 'trace_id')
        """
        by_name = {c.name: c for c in self.columns}
        return Table(name, tuple(by_name[n] for n in names))


SPANS = Table(
    "spans",
    (
        Column("trace_id", STRING, not_null=True),
        Column("span_id", STRING, not_null=True),
        Column("parent_span_id", STRING),
        Column("name", STRING),
        Column("kind", STRING),
        Column("start_time", TIMESTAMP),
        Column("end_time", TIMESTAMP),
        Column("latency_s", FLOAT),
        Column("ttft_s", FLOAT),
        Column("provider", STRING),
        Column("model", STRING),
        Column("response_model", STRING),
        Column("operation", STRING),
        Column("use_case", STRING),
        Column("user_id", STRING),
        Column("run", STRING),
        Column("project", STRING),
        Column("status", STRING),
        Column("error_type", STRING),
        Column("error_message", STRING),
        Column("input_tokens", INT),
        Column("output_tokens", INT),
        Column("cached_input_tokens", INT),
        Column("cache_write_tokens", INT),
        Column("reasoning_tokens", INT),
        Column("cost_usd", FLOAT),
        Column("price_version", STRING),
        Column("input_text", STRING),
        Column("output_text", STRING),
        Column("attributes", STRING, sql="JSON"),
        Column("session_id", STRING),  # m008_sessions_agents
        Column("agent_name", STRING),  # m008_sessions_agents
        Column("tool_name", STRING),  # m008_sessions_agents
    ),
)
"""``spans`` (``m001_spans``, ``m008_sessions_agents``): one row per finished span, ours or a
third party's. ``session_id`` is the conversation the span belongs to
(``gen_ai.conversation.id``, OpenInference ``session.id``, ``obs.session``); ``agent_name``
the agent that ran it (an agent span's own name; for spans inside ``obs.agent``, that agent);
``tool_name`` a tool span's tool."""

SCORES = Table(
    "scores",
    (
        Column("trace_id", STRING),
        Column("span_id", STRING),
        Column("name", STRING, not_null=True),
        Column("value", FLOAT),
        Column("source", STRING),
        Column("comment", STRING),
        Column("created_at", TIMESTAMP),
        Column("label", STRING),  # m006_score_label
    ),
)
"""``scores`` (``m002_scores``, ``m006_score_label``): evaluations and feedback of calls."""

RUNS = Table(
    "runs",
    (
        Column("name", STRING, not_null=True),
        Column("project", STRING),
        Column("params", STRING, sql="JSON"),
        Column("started_at", TIMESTAMP),
        Column("ended_at", TIMESTAMP),
    ),
)
"""``runs`` (``m003_runs``): named runs (``obs.run(...)``) and their parameters."""

PRICES = Table(
    "prices",
    (
        Column("price_version", STRING, not_null=True),
        Column("provider", STRING),
        Column("model", STRING, not_null=True),
        Column("input_mtok", FLOAT),
        Column("cached_input_mtok", FLOAT),
        Column("cache_write_mtok", FLOAT),
        Column("output_mtok", FLOAT),
        Column("reasoning_mtok", FLOAT),
        Column("valid_from", TIMESTAMP),
        Column("valid_to", TIMESTAMP),
        Column("source", STRING),
        Column("recorded_at", TIMESTAMP),
    ),
)
"""``prices`` (``m004_prices``): the per-million rates each ``price_version`` used."""

LLM_CALLS = SPANS.select(
    "llm_calls",
    (
        "trace_id",
        "span_id",
        "parent_span_id",
        "name",
        "kind",
        "start_time",
        "end_time",
        "latency_s",
        "ttft_s",
        "provider",
        "model",
        "operation",
        "use_case",
        "user_id",
        "run",
        "response_model",
        "status",
        "error_type",
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "reasoning_tokens",
        "cost_usd",
        "attributes",
        "session_id",
        "agent_name",
    ),
)
"""The ``llm_calls`` view (``m005_llm_calls_view``, ``m008_sessions_agents``): the spans that
are model calls (:data:`is_model_call`), in the columns analytics reads — the store's contract
with analytics."""

LLM_CALLS_COLUMNS: dict[str, pl.DataType] = LLM_CALLS.polars
"""Column → polars dtype of ``llm_calls``, in the view's order: what both analytics engines
return for its columns (``attributes`` is JSON text, a ``String``)."""

ROLLUP_LABELS: tuple[str, ...] = (
    "model",
    "provider",
    "operation",
    "use_case",
    "run",
    "kind",
    "status",
    "error_type",
)
"""The low-cardinality ``llm_calls`` columns the rollups keep apart (no user or trace ids)."""
ROLLUP_SKETCH_LABELS: tuple[str, ...] = ("model", "provider", "operation", "kind", "status")
"""The labels the latency/TTFT sketches keep apart: fewer than :data:`ROLLUP_LABELS`, because
a sketch row is per bin (up to ~200 per hour and label set: with use case and run too, a
month of 10M calls needed 7M sketch rows, no fewer than the calls worth reading)."""
ROLLUP_SUMMED: tuple[str, ...] = (
    "latency_s",
    "ttft_s",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost_usd",
)
"""The numeric columns the rollups count (``<column>_n``) and sum (``<column>_sum``)."""
ROLLUP_UNPRICED: tuple[str, ...] = ("input_tokens", "output_tokens")
"""Token columns also summed over the calls without a cost (``unpriced_<column>``)."""

_by_name = {c.name: c for c in SPANS.columns}
_BUCKET = Column("bucket", TIMESTAMP)  # NULL for spans without a start time (counted too)
_COMPACTED = Column("compacted", pa.bool_(), sql="BOOLEAN")


def _stats_columns(labels: tuple[str, ...], summed: tuple[str, ...]) -> tuple[Column, ...]:
    # A counts-and-sums rollup row: the bucket, the labels, the calls, their first and last
    # start, and for each summed column its count of values and their sum.
    return (
        _BUCKET,
        *(_by_name[c] for c in labels),
        Column("calls", INT),
        Column("first_start", TIMESTAMP),
        Column("last_start", TIMESTAMP),
        *(
            part
            for c in summed
            for part in (Column(f"{c}_n", INT), Column(f"{c}_sum", _by_name[c].type))
        ),
    )


ROLLUP_CALLS = Table(
    "rollup_calls",
    (
        *_stats_columns(ROLLUP_LABELS, ROLLUP_SUMMED),
        *(Column(f"unpriced_{c}", INT) for c in ROLLUP_UNPRICED),
        _COMPACTED,
    ),
)
"""``rollup_calls`` (``m007_rollups``): per hour and label set, counts and sums of the model
calls (``store/rollups.py``)."""
ROLLUP_SKETCHES = Table(
    "rollup_sketches",
    (
        _BUCKET,
        *(_by_name[c] for c in ROLLUP_SKETCH_LABELS),
        Column("measure", STRING, not_null=True),
        Column("bin", pa.int32(), sql="INTEGER", not_null=True),
        Column("n", INT),
        _COMPACTED,
    ),
)
"""``rollup_sketches`` (``m007_rollups``): per hour, sketch label set
(:data:`ROLLUP_SKETCH_LABELS`), measure and sketch bin, the number of values
(``store/sketch.py``)."""
ROLLUP_USER_LABELS: tuple[str, ...] = ("user_id", "model")
"""The labels ``rollup_users`` keeps apart: a user is no label of :data:`ROLLUP_CALLS` (one
row per user and hour would be as many rows as calls), so users have their own table, per
day and model only."""
ROLLUP_USER_SUMMED: tuple[str, ...] = ("cost_usd",)
"""The numeric columns ``rollup_users`` counts (``<column>_n``) and sums (``<column>_sum``)."""
ROLLUP_USERS = Table(
    "rollup_users", (*_stats_columns(ROLLUP_USER_LABELS, ROLLUP_USER_SUMMED), _COMPACTED)
)
"""``rollup_users`` (``m009_rollup_users``): per day (UTC), user and model, the calls and
their cost (``store/rollups.py``): what "top users by cost" reads at 10M calls."""
ROLLUP_STATE = Table(
    "rollup_state",
    (
        Column("rolled_to", INT),
        Column("built_at", TIMESTAMP),
    ),
)
"""``rollup_state`` (``m007_rollups``): one row; ``rolled_to``, the ``spans`` rowid from which
spans are not yet in the rollups (readers roll those up on the fly)."""

TABLES: tuple[Table, ...] = (
    SPANS,
    SCORES,
    RUNS,
    PRICES,
    LLM_CALLS,
    ROLLUP_CALLS,
    ROLLUP_SKETCHES,
    ROLLUP_STATE,
    ROLLUP_USERS,
)
"""Every table and view a migrated store has, besides ``_migrations``."""


def create_sql(table: Table) -> str:
    """``CREATE TABLE`` for ``table`` (for derived tables; shipped migrations stay frozen SQL).

    Example:
        >>> create_sql(RUNS)[:53]
        'CREATE TABLE runs (name VARCHAR NOT NULL, project VAR'
    """
    columns = ", ".join(
        f"{c.name} {c.sql}{' NOT NULL' if c.not_null else ''}" for c in table.columns
    )
    return f"CREATE TABLE {table.name} ({columns})"


MODEL_CALL_KINDS = frozenset({*is_model_call.always, is_model_call.with_model})
"""The kinds a model call can have: ``llm``, ``embedding`` (always model calls) and
``evaluator`` (one when it names a model, see :data:`is_model_call`)."""
