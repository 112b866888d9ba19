"""Rollups kept at write time: every answer from them equals the exact answer (counts, sums,
times) or is within the sketch's bound (quantiles), however the calls were batched, merged,
filtered and grouped; a store of the previous schema upgrades in place; a failed rollup write
costs no call."""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from llmobs_nb import analytics
from llmobs_nb.analytics import render_rollup
from llmobs_nb.analytics.engines import SqlEngine
from llmobs_nb.analytics.plan import Agg, Aggregate, Condition, TimeBucket
from llmobs_nb.analytics.rollup_engine import RollupEngine, rollup_engine
from llmobs_nb.analytics.source import open_source
from llmobs_nb.store import Store, rollups
from llmobs_nb.store.migrations import MIGRATIONS
from llmobs_nb.store.schema import SPANS
from llmobs_nb.store.sketch import ALPHA, bin_of, value_of

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = 3_600_000_000
EXACT = ("calls", "errors", "priced", "cost", "input", "unpriced_in", "first", "last", "lat_n")
QUANTILES = ("p50", "p95", "p99", "ttft_p90")
AGGS = (
    Agg("calls", "count_all"),
    Agg("errors", "count_all", where=Condition("status", "==", "error")),
    Agg("priced", "count", "cost_usd"),
    Agg("cost", "sum", "cost_usd"),
    Agg("input", "sum", "input_tokens"),
    Agg("unpriced_in", "sum", "input_tokens", where_null="cost_usd"),
    Agg("first", "min", "start_time"),
    Agg("last", "max", "start_time"),
    Agg("lat_n", "count", "latency_s"),
    Agg("p50", "quantile", "latency_s", 0.5),
    Agg("p95", "quantile", "latency_s", 0.95),
    Agg("p99", "quantile", "latency_s", 0.99),
    Agg("ttft_p90", "quantile", "ttft_s", 0.9),
)

latencies = st.one_of(
    st.none(), st.just(0.0), st.floats(1e-4, 120.0, allow_nan=False), st.sampled_from([1.0, 2.5])
)
call = st.fixed_dictionaries(
    {
        "minute": st.integers(0, 6 * 60),
        "second": st.integers(0, 59),
        "model": st.sampled_from(["gpt-4o", "claude", None]),
        "kind": st.sampled_from(["llm", "llm", "embedding", "chain", "evaluator"]),
        "status": st.sampled_from(["ok", "ok", "error"]),
        "run": st.sampled_from(["a", "b", None]),
        "latency_s": latencies,
        "ttft_s": st.one_of(st.none(), st.floats(1e-3, 10.0, allow_nan=False)),
        "input_tokens": st.one_of(st.none(), st.integers(0, 10_000)),
        "cost_usd": st.one_of(st.none(), st.floats(0, 1.0, allow_nan=False)),
    }
)


def span_rows(calls: list[dict]) -> pa.Table:
    rows = []
    for i, c in enumerate(calls):
        row = {k: v for k, v in c.items() if k not in ("minute", "second")}
        row |= {"trace_id": f"{i:032x}", "span_id": f"{i + 1:016x}"}
        row["start_time"] = T0 + timedelta(minutes=c["minute"], seconds=c["second"])
        row["error_type"] = "Timeout" if c["status"] == "error" else None
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=SPANS.arrow)


def store_of(
    calls: list[dict], cuts: list[int], catch_at: set[int], compact_at: set[int] = frozenset()
) -> Store:
    """A store fed ``calls`` in batches cut at ``cuts``, catching the rollups up after the
    batches in ``catch_at`` and compacting after those in ``compact_at``: the spans after the
    last catch-up are left for readers to roll up."""
    store = Store(":memory:")
    table = span_rows(calls)
    bounds = sorted({0, *(c % (len(calls) + 1) for c in cuts), len(calls)})
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        store.write_spans(table.slice(lo, hi - lo))
        with store._connection() as con:
            if i in catch_at:
                rollups.catch_up(con)
            if i in compact_at:
                rollups.compact(con)
    return store


def engines(store: Store) -> tuple[SqlEngine, RollupEngine]:
    run = store.query
    approx = rollup_engine(SqlEngine(run), run)
    assert isinstance(approx, RollupEngine)
    return SqlEngine(run), approx


def assert_within_bound(exact: pl.DataFrame, approx: pl.DataFrame, keys: list[str]) -> None:
    assert exact.columns == approx.columns
    assert exact.height == approx.height
    if keys:
        exact, approx = exact.sort(keys, nulls_last=True), approx.sort(keys, nulls_last=True)
    for name in exact.columns:
        want, got = exact[name].to_list(), approx[name].to_list()
        if name in QUANTILES:
            for w, g in zip(want, got, strict=True):
                assert (w is None) == (g is None), (name, w, g)
                if w is not None:
                    assert abs(g - w) <= ALPHA * abs(w) * (1 + 1e-9) + 1e-12, (name, w, g)
        elif name in ("cost",):
            for w, g in zip(want, got, strict=True):
                assert (w is None) == (g is None) and (w is None or g == pytest.approx(w)), name
        else:
            assert want == got, name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calls=st.lists(call, min_size=1, max_size=120),
    cuts=st.lists(st.integers(0, 200), max_size=4),
    catch_at=st.sets(st.integers(0, 4), max_size=4),
    compact_at=st.sets(st.integers(0, 4), max_size=2),
    by=st.sets(st.sampled_from(["model", "kind", "run", "status"]), max_size=2),
    every=st.sampled_from([None, 1, 2, 24]),
    start=st.one_of(st.none(), st.integers(0, 6 * 3600)),
    length=st.integers(1, 7 * 3600),
    runs=st.one_of(st.none(), st.sets(st.sampled_from(["a", "b", "c"]), min_size=1)),
)
def test_every_rollup_answer_equals_the_exact_one_within_the_sketch_bound(
    calls, cuts, catch_at, compact_at, by, every, start, length, runs
):
    store = store_of(calls, cuts, catch_at, compact_at)
    keys: list = sorted(by)
    if every:
        keys.append(TimeBucket(every * HOUR))
    where: list[Condition] = []
    if start is not None:  # a range that need not fall on whole hours
        lo = T0 + timedelta(seconds=start)
        where += [
            Condition("start_time", ">=", lo),
            Condition("start_time", "<", lo + timedelta(seconds=length)),
        ]
    if runs is not None:
        where.append(Condition("run", "in", tuple(sorted(runs))))
    plan = Aggregate(tuple(keys), AGGS)
    exact, approx = engines(store)
    want = exact.narrowed(where).run(plan)
    narrowed = approx.narrowed(where)
    got = narrowed.run(plan)
    # answered from the rollups, not by falling back (quantiles by run are answered exactly)
    sketched = {*by, *(["run"] if runs is not None else [])} <= set(rollups.SKETCH_LABELS)
    assert narrowed.rel_error == (ALPHA if sketched else 0.0)
    if not sketched:  # the same plan without quantiles comes from the rollups
        counts = Aggregate(tuple(keys), tuple(a for a in AGGS if a.op != "quantile"))
        order = [*sorted(by), *(["bucket"] if every else [])]
        assert_within_bound(exact.narrowed(where).run(counts), narrowed.run(counts), order)
        assert narrowed.rel_error == 0.0
    assert_within_bound(want, got, [*sorted(by), *(["bucket"] if every else [])])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calls=st.lists(call, min_size=1, max_size=80),
    catch_at=st.sets(st.integers(0, 1), max_size=1),
    every=st.sampled_from([None, 1, 24]),
    above=st.one_of(st.none(), st.floats(0.0, 5.0)),
    top=st.one_of(st.none(), st.integers(1, 4)),
)
def test_above_and_top_keep_the_groups_of_the_sketch_quantiles(calls, catch_at, every, above, top):
    """The quantiles are read from the merged bins in Python (sketch.quantiles_of), so what
    keeps groups by a quantile (``above``, ``top``) runs there too: the groups kept are those
    of the same answer without them, kept by the same rule, with the same figures."""
    store = store_of(calls, [len(calls) // 2], catch_at)
    keys: list = ["model", *([TimeBucket(every * HOUR)] if every else [])]
    aggs = (Agg("calls", "count_all"), Agg("p95", "quantile", "latency_s", q=0.95))
    _, approx = engines(store)
    whole = approx.run(Aggregate(tuple(keys), aggs))
    got = approx.run(
        Aggregate(
            tuple(keys),
            aggs,
            above=None if above is None else ("p95", above),
            top=None if top is None else ("p95", top),
        )
    )
    assert approx.rel_error == ALPHA
    want = whole if above is None else whole.filter(pl.col("p95") > above)
    if top is not None:
        want = want.filter(pl.col("p95").is_not_null()).sort("p95", descending=True)
        # ties at the cut may keep either group: compare the figures kept, not the names
        assert got["p95"].sort(descending=True).to_list() == want["p95"].head(top).to_list()
    else:
        order = ["model", *(["bucket"] if every else [])]
        assert_frame_equal(got.sort(order, nulls_last=True), want.sort(order, nulls_last=True))


user_call = st.fixed_dictionaries(
    {
        "minute": st.integers(0, 3 * 24 * 60),  # three days: whole and partial days
        "second": st.integers(0, 59),
        "model": st.sampled_from(["gpt-4o", "claude", None]),
        "kind": st.sampled_from(["llm", "llm", "embedding", "chain"]),
        "status": st.sampled_from(["ok", "error"]),
        "run": st.just(None),
        "user_id": st.sampled_from(["u1", "u2", "o'brien", None]),
        "latency_s": st.just(1.0),
        "ttft_s": st.just(None),
        "input_tokens": st.just(None),
        "cost_usd": st.one_of(st.none(), st.floats(0, 1.0, allow_nan=False)),
    }
)
USER_AGGS = (
    Agg("calls", "count_all"),
    Agg("priced", "count", "cost_usd"),
    Agg("cost", "sum", "cost_usd"),
    Agg("first", "min", "start_time"),
    Agg("last", "max", "start_time"),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calls=st.lists(user_call, min_size=1, max_size=80),
    cuts=st.lists(st.integers(0, 100), max_size=3),
    catch_at=st.sets(st.integers(0, 3), max_size=3),
    compact_at=st.sets(st.integers(0, 3), max_size=2),
    by_model=st.booleans(),
    daily=st.booleans(),
    start=st.one_of(st.none(), st.integers(0, 3 * 86_400)),
    length=st.integers(1, 3 * 86_400),
    models=st.one_of(st.none(), st.sets(st.sampled_from(["gpt-4o", "claude"]), min_size=1)),
    top=st.one_of(st.none(), st.integers(1, 3)),
)
def test_questions_by_user_are_answered_from_rollup_users_exactly(
    calls, cuts, catch_at, compact_at, by_model, daily, start, length, models, top
):
    store = store_of(calls, cuts, catch_at, compact_at)
    keys: list = ["user_id", *(["model"] if by_model else [])]
    if daily:
        keys.append(TimeBucket(24 * HOUR))
    where: list[Condition] = []
    if start is not None:  # a range that need not fall on whole days
        lo = T0 + timedelta(seconds=start)
        where += [
            Condition("start_time", ">=", lo),
            Condition("start_time", "<", lo + timedelta(seconds=length)),
        ]
    if models is not None:
        where.append(Condition("model", "in", tuple(sorted(models))))
    plan = Aggregate(tuple(keys), USER_AGGS, top=("cost", top) if top else None)
    assert render_rollup.table_for(plan, where) is render_rollup.USERS
    exact, approx = engines(store)
    narrowed = approx.narrowed(where)
    want, got = exact.narrowed(where).run(plan), narrowed.run(plan)
    assert narrowed.rel_error == 0.0
    order = [*keys[: 1 + by_model], *(["bucket"] if daily else [])]
    if top:  # ties at the cut may differ in order, not in the costs kept
        assert sorted(want["cost"].to_list()) == pytest.approx(sorted(got["cost"].to_list()))
        return
    assert_within_bound(want, got, order)


def test_questions_rollup_users_cannot_answer_are_answered_exactly():
    by_user = Aggregate(("user_id",), (Agg("n", "count_all"),))
    assert render_rollup.table_for(by_user, [Condition("status", "==", "ok")]) is None
    hourly = Aggregate(("user_id", TimeBucket(HOUR)), (Agg("n", "count_all"),))
    assert render_rollup.table_for(hourly) is None  # users are kept per day
    tokens = Aggregate(("user_id",), (Agg("n", "sum", "input_tokens"),))
    assert render_rollup.table_for(tokens) is None
    by_model = Aggregate(("model",), (Agg("n", "count_all"),))
    assert render_rollup.table_for(by_model) is render_rollup.CALLS  # the finer table first


def test_sketch_bins_keep_every_value_within_alpha():
    for x in [1e-9, 1e-4, 0.0123, 0.5, 1.0, 1.0202, 7.3, 59.99, 60.0, 1e4]:
        assert abs(value_of(bin_of(x)) - x) <= ALPHA * x * (1 + 1e-12)
    assert value_of(bin_of(0.0)) == 0.0


def test_the_store_bins_like_the_python_rule():
    store = Store(":memory:")
    values = [1e-4 * 1.37**i for i in range(60)]
    calls = [
        {
            "minute": 0,
            "second": 0,
            "model": "m",
            "kind": "llm",
            "status": "ok",
            "run": None,
            "latency_s": v,
            "ttft_s": None,
            "input_tokens": None,
            "cost_usd": None,
        }
        for v in values
    ]
    store.write_spans(span_rows(calls))
    store.catch_up_rollups(force=True)
    bins = store.query("SELECT bin, n FROM rollup_sketches ORDER BY bin")
    expected = pl.DataFrame({"bin": [bin_of(v) for v in values]}).group_by("bin").len().sort("bin")
    assert bins["bin"].to_list() == expected["bin"].to_list()
    assert bins["n"].to_list() == expected["len"].to_list()


def test_plans_the_rollups_cannot_answer_are_answered_exactly():
    store = store_of(
        [
            {
                "minute": 5,
                "second": 1,
                "model": "m",
                "kind": "llm",
                "status": "ok",
                "run": "a",
                "latency_s": 1.0,
                "ttft_s": None,
                "input_tokens": 3,
                "cost_usd": 0.1,
            }
        ],
        [],
        set(),
    )
    exact, approx = engines(store)
    for plan, where in [
        (Aggregate(("user_id",), (Agg("n", "count_all"),)), []),  # high cardinality
        (Aggregate((TimeBucket(15 * 60 * 10**6),), (Agg("n", "count_all"),)), []),  # 15 min
        (Aggregate((), (Agg("n", "count_all"),)), [Condition("user_id", "==", "u")]),
        (Aggregate((), (Agg("m", "max", "latency_s"),)), []),  # not kept
    ]:
        engine = approx.narrowed(where)
        assert engine.run(plan).equals(exact.narrowed(where).run(plan))
        assert engine.rel_error == 0.0


def test_compaction_merges_rows_and_keeps_every_answer():
    calls = [
        {
            "minute": i % 90,
            "second": i % 60,
            "model": "m",
            "kind": "llm",
            "status": "ok",
            "run": None,
            "latency_s": 0.1 + i % 7,
            "ttft_s": None,
            "input_tokens": i,
            "cost_usd": 0.01,
        }
        for i in range(300)
    ]
    store = store_of(calls, list(range(0, 300, 10)), set(range(30)))
    exact, approx = engines(store)
    plan = Aggregate(("model", TimeBucket(HOUR)), AGGS)
    before = approx.run(plan)
    rows = store.query("SELECT count(*) AS n FROM rollup_calls")["n"][0]
    with store._connection() as con:
        assert rollups.compact(con) == 2  # the two hours written
        assert rollups.compact(con) == 0  # nothing appended since
    after = store.query("SELECT count(*) AS n, bool_and(compacted) AS c FROM rollup_calls")
    assert rows == 30 and after["n"][0] == 2 and after["c"][0]  # 30 batches of one hour each
    assert_within_bound(before, approx.run(plan), ["model", "bucket"])  # float sums: reordered
    assert_within_bound(exact.run(plan), before, ["model", "bucket"])


def test_the_writer_catches_up_every_few_rows_and_at_close(monkeypatch, tmp_path):
    monkeypatch.setattr(rollups, "CATCH_UP_ROWS", 3)
    monkeypatch.setattr(rollups, "COMPACT_EVERY", 2)
    calls = [
        {
            "minute": 1,
            "second": i,
            "model": "m",
            "kind": "llm",
            "status": "ok",
            "run": None,
            "latency_s": 1.0,
            "ttft_s": None,
            "input_tokens": 1,
            "cost_usd": None,
        }
        for i in range(8)
    ]
    path = tmp_path / "w.duckdb"
    store = Store(path)
    for i in range(8):  # one span per flush
        store.write_spans(span_rows(calls).slice(i, 1))
    state = "SELECT rolled_to, (SELECT count(*) FROM rollup_calls) AS rows FROM rollup_state"
    # caught up after spans 3 and 6, compacted at the second catch-up: 6 spans, one row
    assert store.query(state).rows() == [(6, 1)]
    store.close()  # rolls up the last two
    reopened = Store(path)
    assert reopened.query(state).rows() == [(8, 2)]
    assert reopened.query("SELECT sum(calls)::BIGINT AS n FROM rollup_calls")["n"][0] == 8


def _old_store(path: Path, calls: list[dict]) -> None:
    """A store as the previous release wrote it: migrations up to m006, no rollups."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE _migrations (seq INTEGER, name VARCHAR, applied_at TIMESTAMPTZ)")
    for seq, (name, fn) in enumerate(MIGRATIONS):
        if name == "m007_rollups":
            break
        fn(con)
        con.execute("INSERT INTO _migrations VALUES (?, ?, now())", [seq, name])
    table = span_rows(calls)
    con.register("t", table)
    old_columns = [r[0] for r in con.execute("DESCRIBE spans").fetchall()]
    con.execute(f"INSERT INTO spans SELECT {', '.join(old_columns)} FROM t")
    con.close()


def test_a_store_of_the_previous_schema_upgrades_in_place(tmp_path):
    calls = [
        {
            "minute": i * 7 % 300,
            "second": i % 60,
            "model": ["a", "b"][i % 2],
            "kind": "llm",
            "status": "ok",
            "run": None,
            "latency_s": 0.2 * (1 + i % 11),
            "ttft_s": 0.1,
            "input_tokens": i,
            "cost_usd": None if i % 5 == 0 else 0.002,
        }
        for i in range(500)
    ]
    path = tmp_path / "old.duckdb"
    _old_store(path, calls)
    readonly = analytics.summary(str(path), approx=True)  # not migrated: answered exactly
    assert readonly["rel_error"][0] == 0.0 and readonly["calls"][0] == 500
    store = Store(path)
    assert store.schema_version == len(MIGRATIONS)
    assert store.query("SELECT sum(calls)::BIGINT AS n FROM rollup_calls")["n"][0] == 500
    assert store.query("SELECT sum(calls)::BIGINT AS n FROM rollup_users")["n"][0] == 500
    exact, approx = engines(store)
    plan = Aggregate(("model", TimeBucket(HOUR)), AGGS)
    got = approx.run(plan)
    assert approx.rel_error == ALPHA
    assert_within_bound(exact.run(plan), got, ["model", "bucket"])
    store.close()
    upgraded = analytics.summary(str(path), approx=True)
    assert upgraded["rel_error"][0] == ALPHA
    assert upgraded.drop("rel_error", "latency_p50", "latency_p95").equals(
        readonly.drop("rel_error", "latency_p50", "latency_p95")
    )


def test_a_store_with_rollups_but_no_user_rollups_gains_them_in_place(tmp_path):
    calls = [
        {**c, "user_id": f"u{i % 7}", "minute": i * 13 % (3 * 24 * 60)}
        for i, c in enumerate(
            [{"second": 0, "model": "a", "kind": "llm", "status": "ok", "run": None}] * 300
        )
    ]
    for c in calls:
        c |= {"latency_s": 1.0, "ttft_s": None, "input_tokens": 1, "cost_usd": 0.01}
    path = tmp_path / "m008.duckdb"
    store = Store(path)
    store.write_spans(span_rows(calls[:200]))
    store.catch_up_rollups(force=True)
    store.write_spans(span_rows(calls[200:]))  # past the mark: caught up later
    with store._connection() as con:  # the file as m008 left it
        con.execute("DROP TABLE rollup_users")
        con.execute("DELETE FROM _migrations WHERE name = 'm009_rollup_users'")
    store.close()  # the close catches the last spans up (the table is gone: logged, retried)
    with duckdb.connect(str(path)) as con:
        rolled = con.execute("SELECT rolled_to FROM rollup_state").fetchone()[0]
    store = Store(path)  # m009 fills rollup_users up to the mark
    users = "SELECT coalesce(sum(calls), 0)::BIGINT AS n FROM rollup_users"
    assert store.query(users)["n"][0] == rolled
    store.catch_up_rollups(force=True)
    assert store.query(users)["n"][0] == 300
    plan = Aggregate(("user_id",), USER_AGGS)
    exact, approx = engines(store)
    assert_within_bound(exact.run(plan), approx.run(plan), ["user_id"])
    store.close()


def test_a_file_without_user_rollups_read_only_answers_by_user_exactly(tmp_path):
    calls = [
        {
            "minute": i,
            "second": 0,
            "model": "a",
            "kind": "llm",
            "status": "ok",
            "run": None,
            "user_id": f"u{i % 3}",
            "latency_s": 1.0,
            "ttft_s": None,
            "input_tokens": 1,
            "cost_usd": 0.01 * i,
        }
        for i in range(50)
    ]
    path = tmp_path / "older.duckdb"
    store = Store(path)
    store.write_spans(span_rows(calls))
    store.close()
    with duckdb.connect(str(path)) as con:  # as a release before m009 left it
        con.execute("DROP TABLE rollup_users")
    plan = Aggregate(("user_id",), USER_AGGS)
    with open_source(str(path), approx=True) as engine:
        assert isinstance(engine, RollupEngine) and not engine.user_rollups
        got = engine.run(plan)
    with open_source(str(path)) as engine:
        want = engine.run(plan)
    assert_within_bound(want, got, ["user_id"])


def test_a_failed_catch_up_costs_no_call_and_no_correctness(monkeypatch, caplog):
    monkeypatch.setattr(rollups, "CATCH_UP_ROWS", 1)
    store = Store(":memory:")
    calls = [
        {
            "minute": 3 * i,
            "second": i,
            "model": "m",
            "kind": "llm",
            "status": "ok",
            "run": None,
            "latency_s": 1.0 + i,
            "ttft_s": None,
            "input_tokens": 1,
            "cost_usd": 0.5,
        }
        for i in range(40)
    ]
    store.write_spans(span_rows(calls).slice(0, 10))
    real = rollups.stats_select

    def broken(source: str, where: str = "TRUE", **kw) -> str:  # a rollup row the table refuses
        return real(source, where, **kw).replace("count(*) AS calls", "'x' AS calls")

    monkeypatch.setattr(rollups, "stats_select", broken)
    with caplog.at_level(logging.WARNING, logger="llmobs_nb"):
        store.write_spans(span_rows(calls).slice(10, 20))
    assert "could not update the rollups" in caplog.text
    assert store.query("SELECT count(*) AS n FROM llm_calls")["n"][0] == 30  # no call lost
    assert store.query("SELECT rolled_to FROM rollup_state")["rolled_to"][0] == 10  # rolled back
    monkeypatch.setattr(rollups, "stats_select", real)
    exact, approx = engines(store)  # readers roll up the 20 unrolled spans themselves
    plan = Aggregate(("model", TimeBucket(HOUR)), AGGS)
    assert_within_bound(exact.run(plan), approx.run(plan), ["model", "bucket"])
    monkeypatch.setattr(store, "_rolled_at", 0.0)
    store.write_spans(span_rows(calls).slice(30, 10))  # the next flush catches up everything
    assert store.query("SELECT rolled_to FROM rollup_state")["rolled_to"][0] == 40
    assert_within_bound(exact.run(plan), approx.run(plan), ["model", "bucket"])


def test_spans_without_a_start_time_are_counted_as_the_exact_answer_counts_them():
    calls = [
        {
            "minute": 5,
            "second": 0,
            "model": "m",
            "kind": "llm",
            "status": "ok",
            "run": None,
            "latency_s": 2.0,
            "ttft_s": None,
            "input_tokens": 4,
            "cost_usd": 0.1,
        }
    ] * 3
    table = span_rows(calls)
    table = table.set_column(
        table.schema.get_field_index("start_time"),
        "start_time",
        pa.array([None, *table["start_time"].to_pylist()[1:]], type=table["start_time"].type),
    )
    store = Store(":memory:")
    store.write_spans(table)
    with store._connection() as con:
        assert rollups.catch_up(con) == 3
    exact, approx = engines(store)
    for keys in [(), ("model", TimeBucket(HOUR))]:
        plan = Aggregate(keys, AGGS[:9])
        order = ["model", "bucket"] if keys else []
        assert_within_bound(exact.run(plan), approx.run(plan), order)


def test_rebuild_gives_the_rows_the_flushes_gave():
    calls = [
        {
            "minute": i * 13 % 200,
            "second": i % 60,
            "model": ["a", "b", None][i % 3],
            "kind": ["llm", "chain", "evaluator"][i % 3],
            "status": "ok",
            "run": None,
            "latency_s": 0.05 * (1 + i % 17),
            "ttft_s": None,
            "input_tokens": i,
            "cost_usd": 0.001,
        }
        for i in range(400)
    ]
    store = store_of(calls, [50, 120, 333], {0, 1, 2, 3}, {1})
    merged = (
        "SELECT bucket, model, kind, sum(calls)::BIGINT AS calls, "
        "sum(latency_s_n)::BIGINT AS latency_s_n, round(sum(latency_s_sum), 9) AS latency_s, "
        "sum(input_tokens_sum)::BIGINT AS input_tokens FROM rollup_calls "
        "GROUP BY ALL ORDER BY ALL"
    )
    sketches = (
        "SELECT bucket, model, kind, measure, bin, sum(n)::BIGINT AS n FROM rollup_sketches "
        "GROUP BY ALL ORDER BY ALL"
    )
    flushed = store.query(merged), store.query(sketches)
    store.rebuild_rollups()
    assert store.query(merged).equals(flushed[0])
    assert store.query(sketches).equals(flushed[1])


def test_approx_through_the_analytics_functions(tmp_path):
    calls = [
        {
            "minute": i % 600,
            "second": i % 60,
            "model": ["a", "b"][i % 2],
            "kind": "llm",
            "status": "error" if i % 9 == 0 else "ok",
            "run": ["v1", "v2"][i % 3 == 0],
            "latency_s": 0.3 + (i * 37 % 101) / 10,
            "ttft_s": 0.1 + i % 3,
            "input_tokens": i,
            "cost_usd": None if i % 4 == 0 else 0.01,
        }
        for i in range(2_000)
    ]
    path = tmp_path / "s.duckdb"
    store = Store(path)
    store.write_spans(span_rows(calls))
    store.close()  # rolls them up
    lo = T0 + timedelta(minutes=17)
    where = analytics.Filter(start=lo, end=lo + timedelta(hours=5), runs=("v1",))
    for fn, options in [
        (analytics.cost_breakdown, {"by": "model", "every": "1h"}),
        (analytics.token_usage, {"by": ["model", "run"], "every": "1d"}),
        (analytics.error_rates, {"by": "model"}),
    ]:
        want = fn(str(path), where=where, **options)
        got = fn(str(path), where=where, approx=True, **options)
        assert_frame_equal(got, want, check_exact=False, rel_tol=1e-12)
    where = analytics.Filter(start=lo, end=lo + timedelta(hours=5), models=("a",))
    want = analytics.latency_percentiles(str(path), by="model", every="2h", where=where)
    got = analytics.latency_percentiles(str(path), by="model", every="2h", where=where, approx=True)
    assert got["rel_error"].unique().to_list() == [ALPHA]
    assert_within_bound(
        want.rename({"p50": "p50", "p95": "p95", "p99": "p99"}),
        got.drop("rel_error"),
        ["model", "bucket"],
    )
    exact_15m = analytics.latency_percentiles(str(path), every="15m", approx=True)
    assert exact_15m["rel_error"].unique().to_list() == [0.0]  # below the grain: exact
    # The dashboard's filter choices: the same from the rollups, the time range too.
    (first, last), values = analytics.filter_choices(str(path), approx=True)
    assert ((first, last), values) == analytics.filter_choices(str(path))
    assert values["models"] == ["a", "b"] and values["runs"] == ["v1", "v2"]
    assert first == T0 and last > first


def test_rebuild_rollups_through_the_package_and_the_observer(tmp_path):
    import llmobs_nb

    path = tmp_path / "r.duckdb"
    obs = llmobs_nb.init(db=path, project="p")
    try:

        @obs.observe(name="ask", kind="llm", model="gpt-4o")
        def ask(i: int) -> dict:
            return {"model": "gpt-4o", "usage": {"prompt_tokens": i, "completion_tokens": 1}}

        for i in range(5):
            ask(i)
        assert obs.rebuild_rollups() == 5
        assert llmobs_nb.rebuild_rollups(path) == 5  # the live observer does it
    finally:
        obs.close()
    assert llmobs_nb.rebuild_rollups(path) == 5  # nobody writes it: opened for writing
    got = analytics.summary(str(path), approx=True)
    assert got["calls"][0] == 5 and got["rel_error"][0] == ALPHA


def test_auto_mode_asks_quantiles_of_sparse_sketches_exactly():
    calls = [
        {
            "minute": m,
            "second": 0,
            "model": "m",
            "kind": "llm",
            "status": "ok",
            "run": "a",
            "latency_s": 0.5 + m / 7,
            "ttft_s": None,
            "input_tokens": 3,
            "cost_usd": 0.1,
        }
        for m in range(40)
    ]
    store = store_of(calls, [], {0})
    run, exact = store.query, SqlEngine(store.query)
    plan = Aggregate((), (Agg("n", "count_all"), Agg("p95", "quantile", "latency_s", q=0.95)))
    # 40 spans, 40 sketch rows: one row a span, far above the auto mode's share.
    sparse = rollup_engine(SqlEngine(run), run, max_sketch_share=0.25)
    assert isinstance(sparse, RollupEngine) and not sparse.sketch_quantiles
    assert sparse.run(plan).equals(exact.run(plan)) and sparse.rel_error == 0.0
    # Counts and sums still come from the rollups; forced approx reads the sketches.
    counted = Aggregate((), (Agg("n", "count_all"),))
    assert sparse.run(counted)["n"][0] == 40
    forced = rollup_engine(SqlEngine(run), run)
    assert forced.run(plan)["p95"][0] != exact.run(plan)["p95"][0]
    assert forced.rel_error == ALPHA
    dense = rollup_engine(SqlEngine(run), run, max_sketch_share=1.0)
    assert dense.sketch_quantiles and dense.narrowed([Condition("run", "==", "a")]).sketch_quantiles
