"""llmobs_nb.store.schema describes exactly what the migrations create, and its model-call rule
is the one the llm_calls view, the live metrics, pricing and the demo follow."""

from __future__ import annotations

import itertools
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from prometheus_client.parser import text_string_to_metric_families

import llmobs_nb
from llmobs_nb import demo
from llmobs_nb.capture import rows
from llmobs_nb.demo import schema as demo_schema
from llmobs_nb.store import Store, schema
from llmobs_nb.store.migrations import MIGRATIONS

KINDS = ["llm", "embedding", "evaluator", "chain", "tool", "retrieval", "agent", "other", None]
MODELS = ["gpt-4o", None]


def described(path: Path | str, table: str) -> list[tuple[str, str, str]]:
    """``DESCRIBE`` of a table or view: (name, DuckDB type, nullable), in order."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [
            (name, kind, null)
            for name, kind, null, *_ in con.execute(f"DESCRIBE {table}").fetchall()
        ]
    finally:
        con.close()


def expected(table: schema.Table) -> list[tuple[str, str, str]]:
    # A view reports the NOT NULL of the table under it.
    return [(c.name, c.sql, "NO" if c.not_null else "YES") for c in table.columns]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "fresh.duckdb"
    Store(path).close()
    return path


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, demo.SampleData]:
    path = tmp_path_factory.mktemp("schema") / "demo.duckdb"
    sample = demo.generate(1_000, days=1, seed=3, store=path)
    return path, sample


@pytest.mark.parametrize("table", schema.TABLES, ids=lambda t: t.name)
def test_each_table_matches_describe_of_a_freshly_migrated_store(migrated, table):
    assert described(migrated, table.name) == expected(table)


def test_the_schema_module_names_every_table_and_view_the_migrations_create(migrated):
    con = duckdb.connect(str(migrated), read_only=True)
    try:
        found = {
            name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        found |= {
            name
            for (name,) in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        }
    finally:
        con.close()
    assert found == {t.name for t in schema.TABLES} | {"_migrations"}


def test_the_migrations_alone_give_the_same_schema_as_the_store_class(tmp_path):
    # Independent of Store: every migration applied on a bare connection.
    path = tmp_path / "bare.duckdb"
    con = duckdb.connect(str(path))
    for _, migrate in MIGRATIONS:
        migrate(con)
    con.close()
    for table in schema.TABLES:
        assert described(path, table.name) == expected(table)


@pytest.mark.parametrize("table", schema.TABLES, ids=lambda t: t.name)
def test_reads_return_the_polars_and_arrow_types_of_the_schema(migrated, table):
    store = Store(migrated, read_only=True)
    try:
        frame = store.query(f"SELECT * FROM {table.name} LIMIT 0")
    finally:
        store.close()
    assert dict(frame.schema) == table.polars
    con = duckdb.connect(str(migrated), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")  # as the store's connections are
        arrow = con.sql(f"SELECT * FROM {table.name} LIMIT 0").to_arrow_table().schema
    finally:
        con.close()
    assert arrow.equals(table.arrow, check_metadata=True)


@pytest.mark.parametrize("table", schema.TABLES, ids=lambda t: t.name)
def test_the_demos_generated_store_has_the_schema(demo_store, table):
    path, _ = demo_store
    assert described(path, table.name) == expected(table)


@pytest.mark.parametrize(
    ("attribute", "table"),
    [
        ("spans", schema.SPANS),
        ("calls", schema.LLM_CALLS),
        ("scores", schema.SCORES),
        ("runs", schema.RUNS),
        ("prices", schema.PRICES),
    ],
)
def test_the_demos_frames_have_the_schema(demo_store, attribute, table):
    _, sample = demo_store
    assert dict(getattr(sample, attribute).schema) == table.polars


def test_what_other_modules_use_is_derived_from_the_schema_module():
    assert rows.SPAN_SCHEMA.equals(schema.SPANS.arrow, check_metadata=True)
    assert rows.MODEL_CALL_KINDS is schema.MODEL_CALL_KINDS
    assert schema.SPANS.polars == demo_schema.SPANS
    assert tuple(schema.LLM_CALLS_COLUMNS) == demo_schema.LLM_CALLS
    assert list(schema.LLM_CALLS_COLUMNS) == list(schema.LLM_CALLS.names)


# -- the model-call rule ---------------------------------------------------------------------


def _spans(pairs: list[tuple[str | None, str | None]]) -> pa.Table:
    columns = {name: [None] * len(pairs) for name in schema.SPANS.names}
    columns["trace_id"] = [f"{i:032x}" for i in range(len(pairs))]
    columns["span_id"] = [f"{i:016x}" for i in range(len(pairs))]
    columns["kind"] = [kind for kind, _ in pairs]
    columns["model"] = [model for _, model in pairs]
    return pa.Table.from_pydict(columns, schema=schema.SPANS.arrow)


def test_the_view_python_polars_arrow_and_sql_renderings_pick_the_same_spans(tmp_path):
    pairs = list(itertools.product(KINDS, MODELS))
    table = _spans(pairs)
    store = Store(tmp_path / "rule.duckdb")
    try:
        store.write_spans(table)
        in_view = set(store.query("SELECT span_id FROM llm_calls")["span_id"])
        by_sql = set(
            store.query(f"SELECT span_id FROM spans WHERE {schema.is_model_call.sql()}")["span_id"]
        )
    finally:
        store.close()
    by_python = {
        f"{i:016x}" for i, (kind, model) in enumerate(pairs) if schema.is_model_call(kind, model)
    }
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    by_polars = set(frame.filter(schema.is_model_call.polars())["span_id"])
    by_arrow = set(table.filter(schema.is_model_call.arrow(table))["span_id"].to_pylist())
    by_demo = set(demo_schema.llm_calls(frame)["span_id"])

    assert in_view == by_sql == by_python == by_polars == by_arrow == by_demo
    # The rule itself: llm and embedding always; an evaluator only with a model.
    assert {pairs[int(s, 16)] for s in in_view} == {
        ("llm", "gpt-4o"),
        ("llm", None),
        ("embedding", "gpt-4o"),
        ("embedding", None),
        ("evaluator", "gpt-4o"),
    }


def _requests(text: str) -> float:
    """Calls counted by llm_request_duration_seconds, over every label set."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "llm_request_duration_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    )


def test_live_metrics_count_the_spans_the_llm_calls_view_holds(tmp_path):
    obs = llmobs_nb.init(db=tmp_path / "live.duckdb", project="rule", flush_interval_s=3600)
    try:
        for kind, model in itertools.product(KINDS[:-1], MODELS):
            with obs.span(f"{kind} {model}", kind=kind, model=model):
                pass
        obs.flush()
        calls = obs.sql("SELECT kind, model FROM llm_calls")
        requests = _requests(obs.metrics.text())
    finally:
        obs.close()
    assert calls.height == requests == 5  # llm and embedding twice, the evaluator with a model
    assert calls.filter(pl.col("kind") == "evaluator")["model"].to_list() == ["gpt-4o"]


def test_only_model_calls_are_priced():
    from llmobs_nb.pricing import PriceBook

    records = [
        (f"{kind}", 1, i + 2, None, 0, 10**9, None, {"llmobs.kind": kind, **model})
        for i, (kind, model) in enumerate(
            itertools.product(
                ["llm", "evaluator", "chain"], [{"gen_ai.request.model": "gpt-4o"}, {}]
            )
        )
    ]
    for record in records:
        record[7]["gen_ai.usage.input_tokens"] = 1000
    table = rows.to_columns(records, "p", PriceBook())
    priced = {
        (kind, model)
        for kind, model, cost in zip(
            table["kind"].to_pylist(),
            table["model"].to_pylist(),
            table["cost_usd"].to_pylist(),
            strict=True,
        )
        if cost is not None
    }
    assert priced == {("llm", "gpt-4o"), ("evaluator", "gpt-4o")}
    assert all(schema.is_model_call(kind, model) for kind, model in priced)


@pytest.mark.parametrize(
    ("attributes", "model_call"),
    [
        ({"llmobs.kind": "llm"}, True),
        ({"llmobs.kind": "evaluator", "gen_ai.request.model": "gpt-4o"}, True),
        ({"llmobs.kind": "evaluator"}, False),
        ({"llmobs.kind": "chain", "gen_ai.request.model": "gpt-4o"}, False),
        ({"openinference.span.kind": "LLM"}, True),
        ({"openinference.span.kind": "EVALUATOR"}, False),
        ({"openinference.span.kind": "EVALUATOR", "llm.model_name": "gpt-4o"}, True),
        ({"openinference.span.kind": "CHAIN"}, False),
        ({"gen_ai.operation.name": "embeddings"}, True),
        ({"gen_ai.operation.name": "execute_tool"}, False),
        ({"gen_ai.request.model": "gpt-4o"}, True),
        ({}, False),
    ],
)
def test_a_third_party_span_starts_a_model_call_by_the_same_rule(attributes, model_call):
    assert rows.starts_model_call(attributes) is model_call


def test_metrics_fed_row_by_row_follow_the_same_rule():
    from llmobs_nb.metrics import ObserverMetrics

    metrics = ObserverMetrics()
    for kind, model in itertools.product(KINDS, MODELS):
        metrics.record_call({"kind": kind, "model": model, "latency_s": 0.5})
    assert _requests(metrics.text()) == 5
