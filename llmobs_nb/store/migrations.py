"""Numbered, append-only schema migrations for the DuckDB store.

Each migration is a small named function registered with :func:`migration`. Applied names are
recorded in ``_migrations``; the schema version of a file is the number of migrations applied.
Never edit or reorder a migration that has shipped: add a new one at the bottom.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register ``fn`` as the next migration, in definition order."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_spans(db: duckdb.DuckDBPyConnection) -> None:
    db.execute(
        """
        CREATE TABLE spans (
            trace_id VARCHAR NOT NULL,
            span_id VARCHAR NOT NULL,
            parent_span_id VARCHAR,
            name VARCHAR,
            kind VARCHAR,
            start_time TIMESTAMPTZ,
            end_time TIMESTAMPTZ,
            latency_s DOUBLE,
            ttft_s DOUBLE,
            provider VARCHAR,
            model VARCHAR,
            response_model VARCHAR,
            operation VARCHAR,
            use_case VARCHAR,
            user_id VARCHAR,
            run VARCHAR,
            project VARCHAR,
            status VARCHAR,
            error_type VARCHAR,
            error_message VARCHAR,
            input_tokens BIGINT,
            output_tokens BIGINT,
            cached_input_tokens BIGINT,
            cache_write_tokens BIGINT,
            reasoning_tokens BIGINT,
            cost_usd DOUBLE,
            price_version VARCHAR,
            input_text VARCHAR,
            output_text VARCHAR,
            attributes JSON
        )
        """
    )


@migration
def m002_scores(db: duckdb.DuckDBPyConnection) -> None:
    db.execute(
        """
        CREATE TABLE scores (
            trace_id VARCHAR,
            span_id VARCHAR,
            name VARCHAR NOT NULL,
            value DOUBLE,
            source VARCHAR,
            comment VARCHAR,
            created_at TIMESTAMPTZ
        )
        """
    )


@migration
def m003_runs(db: duckdb.DuckDBPyConnection) -> None:
    db.execute(
        """
        CREATE TABLE runs (
            name VARCHAR NOT NULL,
            project VARCHAR,
            params JSON,
            started_at TIMESTAMPTZ,
            ended_at TIMESTAMPTZ
        )
        """
    )


@migration
def m004_prices(db: duckdb.DuckDBPyConnection) -> None:
    db.execute(
        """
        CREATE TABLE prices (
            price_version VARCHAR NOT NULL,
            provider VARCHAR,
            model VARCHAR NOT NULL,
            input_mtok DOUBLE,
            cached_input_mtok DOUBLE,
            cache_write_mtok DOUBLE,
            output_mtok DOUBLE,
            reasoning_mtok DOUBLE,
            valid_from TIMESTAMPTZ,
            valid_to TIMESTAMPTZ,
            source VARCHAR,
            recorded_at TIMESTAMPTZ
        )
        """
    )


@migration
def m005_llm_calls_view(db: duckdb.DuckDBPyConnection) -> None:
    # The view is the contract between store and analytics: exactly the columns of
    # docs/design.md §3 (store/schema.LLM_CALLS), and its WHERE is store/schema.is_model_call.
    # Judge calls (kind 'evaluator' with a model) are LLM calls too, so their cost is counted.
    db.execute(
        """
        CREATE VIEW llm_calls AS
        SELECT trace_id, span_id, parent_span_id, name, kind, start_time, end_time,
               latency_s, ttft_s, provider, model, operation, use_case, user_id, run,
               response_model, status, error_type, input_tokens, output_tokens,
               cached_input_tokens, reasoning_tokens, cost_usd, attributes
        FROM spans
        WHERE kind IN ('llm', 'embedding') OR (kind = 'evaluator' AND model IS NOT NULL)
        """
    )


@migration
def m006_score_label(db: duckdb.DuckDBPyConnection) -> None:
    # Evaluators may return a label ("refusal", "pass") beside or instead of a number.
    db.execute("ALTER TABLE scores ADD COLUMN label VARCHAR")


@migration
def m007_rollups(db: duckdb.DuckDBPyConnection) -> None:
    # Rollups are derived data (store/rollups.py): created empty, then filled from the spans
    # the file already holds, so an older store upgrades in place.
    from llmobs_nb.store import rollups

    rollups.create(db)
    rollups.fill(db)


@migration
def m008_sessions_agents(db: duckdb.DuckDBPyConnection) -> None:
    # Sessions (conversations), agents and tools (issue #15): three columns of spans, NULL on
    # the spans an older release wrote; llm_calls gains the session and the agent.
    db.execute("ALTER TABLE spans ADD COLUMN session_id VARCHAR")
    db.execute("ALTER TABLE spans ADD COLUMN agent_name VARCHAR")
    db.execute("ALTER TABLE spans ADD COLUMN tool_name VARCHAR")
    db.execute(
        """
        CREATE OR REPLACE VIEW llm_calls AS
        SELECT trace_id, span_id, parent_span_id, name, kind, start_time, end_time,
               latency_s, ttft_s, provider, model, operation, use_case, user_id, run,
               response_model, status, error_type, input_tokens, output_tokens,
               cached_input_tokens, reasoning_tokens, cost_usd, attributes,
               session_id, agent_name
        FROM spans
        WHERE kind IN ('llm', 'embedding') OR (kind = 'evaluator' AND model IS NOT NULL)
        """
    )


@migration
def m009_rollup_users(db: duckdb.DuckDBPyConnection) -> None:
    # Top users by cost at 10M calls (issue #14): per day, user and model, from the spans
    # already rolled up (store/rollups.py); derived data, as m007's tables.
    from llmobs_nb.store import rollups

    rollups.create_users(db)
