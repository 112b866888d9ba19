"""Where a dashboard filter change spends its time in Python, per part, against raw DuckDB.

A store of N calls (default 1M; ``benchmarks/rollups.py``'s SQL, 30 days, 5 models, rolled
up: the store ``benchmarks/dashboard_browser.py`` draws) is opened by ``Dashboard(path)``
in this process (no browser: the widget messages are built and JSON-encoded as the kernel
would, not sent). Then ``--repeats`` rounds of filter changes (models chosen as in the
browser benchmark), each timed from ``apply_filters`` to its return (the redraw the user
waits for; the background panels are awaited apart, untimed). Every part of the redraw is
timed *exclusively* (a part's time excludes the parts it calls), so the shares add up:

- opening and closing the store file (``connect``; how many per redraw),
- the read-only check of each SQL text (``check_read_only``), the transaction around it,
- DuckDB executing each query and handing Arrow back, Arrow → polars,
- analytics' engine (plan, SQL rendering, polars finishing), lazy polars collects,
- the chart functions (Altair objects, polars shaping), Altair's ``to_dict``,
- the chart board (``for_board``, fingerprints, ``split_spec``), the headline and model
  table HTML, the widget messages (state → JSON; their size is printed),
- the rest of the redraw (other Python).

Baseline of the same run: the very queries each redraw sent, replayed as raw DuckDB SQL on
one connection opened for them (``duckdb.connect(read_only=True)``: cold, as a redraw's own
connection is) and on a connection kept open (warm). Prints medians; never asserts.

    .venv/bin/python benchmarks/dashboard_profile.py                  # 1M calls, auto
    .venv/bin/python benchmarks/dashboard_profile.py --approx false   # every panel exact
    .venv/bin/python benchmarks/dashboard_profile.py --store /tmp/10m.duckdb --calls 10000000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The repository last: PYTHONPATH may name another llmobs_nb to profile (an older copy), and
# it is imported before the benchmark helpers, which put the repository first.
sys.path.append(str(Path(__file__).resolve().parents[1]))

import duckdb
import ipywidgets
import polars as pl
from ipywidgets.widgets.widget import _remove_buffers

import llmobs_nb
from benchmarks.dashboard_browser import build
from llmobs_nb.analytics import engines, rollup_engine
from llmobs_nb.store import kept_open, readonly
from llmobs_nb.store.connect import connect
from llmobs_nb.view import chart_board, chart_display, dashboard, data_source, panels
from llmobs_nb.view.dashboard import Dashboard

PARTS = (
    "open the store file",
    "read-only SQL check",
    "transaction begin/rollback",
    "DuckDB: execute, fetch Arrow",
    "Arrow → polars",
    "analytics engine (plan, render, finish)",
    "polars lazy collect",
    "chart functions (Altair build, shaping)",
    "Altair to_dict",
    "board: for_board, fingerprint",
    "board: split_spec",
    "HTML (headline, model table)",
    "widget messages (state → JSON)",
    "other Python",
)
OTHER = PARTS[-1]
# The redraws: models chosen in turn as in benchmarks/dashboard_browser.py, then all again.
CHOICES: list[tuple[str, ...]] = [
    ("gpt-4o",),
    ("gpt-4o", "gpt-4o-mini"),
    ("claude-haiku",),
    ("claude-sonnet", "claude-haiku"),
    (),
]


class Profile:
    """Exclusive wall time per part of the main thread's work, while :attr:`on`."""

    def __init__(self) -> None:
        self.on = False
        self.stack: list[str] = []
        self.mark = 0.0
        self.spent: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.queries: list[tuple[str, list[Any]]] = []
        self.message_bytes = 0

    def start(self) -> None:
        self.spent.clear()
        self.counts.clear()
        self.queries = []
        self.message_bytes = 0
        self.stack = [OTHER]
        self.mark = time.perf_counter()
        self.on = True

    def stop(self) -> None:
        self._charge()
        self.on = False

    def _charge(self) -> None:
        now = time.perf_counter()
        self.spent[self.stack[-1]] += now - self.mark
        self.mark = now

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        if not self.on or threading.current_thread() is not threading.main_thread():
            yield
            return
        self._charge()
        self.stack.append(name)
        self.counts[name] += 1
        try:
            yield
        finally:
            self._charge()
            self.stack.pop()

    def wrap(self, owner: Any, name: str, part: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.part(part):
                return original(*args, **kwargs)

        setattr(owner, name, timed)


def instrument(profile: Profile) -> None:
    """Patch the parts of the redraw with timers (this process only)."""
    opening = kept_open.connect

    def connect_timed(path: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        with profile.part(PARTS[0]):
            return opening(path, **kwargs)

    def run_read_only(con: Any, sql: str, params: Any = None) -> pl.DataFrame:
        if profile.on and threading.current_thread() is threading.main_thread():
            profile.queries.append((sql, list(params or [])))
        readonly.check_read_only(sql)
        with profile.part(PARTS[2]):
            con.begin()
        try:
            with profile.part(PARTS[3]):
                table = con.sql(sql, params=params or None).to_arrow_table()
            with profile.part(PARTS[4]):
                found = pl.from_arrow(table)
        finally:
            with profile.part(PARTS[2]):
                con.rollback()
        assert isinstance(found, pl.DataFrame)
        return found

    kept_open.connect = connect_timed
    data_source.run_read_only = run_read_only
    profile.wrap(readonly, "check_read_only", PARTS[1])
    for engine in (engines.SqlEngine, engines.ScoredOnce, rollup_engine.RollupEngine):
        profile.wrap(engine, "run", PARTS[5])
    profile.wrap(pl.LazyFrame, "collect", PARTS[6])
    for name in (
        "percentile_charts",
        "token_rate_chart",
        "cost_chart",
        "error_chart",
        "top_users_chart",
        "quality_distribution_chart",
    ):
        profile.wrap(panels, name, PARTS[7])
    profile.wrap(chart_display._DrawnOffline, "to_dict", PARTS[8])
    profile.wrap(chart_board.ChartBoard, "_show", PARTS[9])
    profile.wrap(chart_board, "split_spec", PARTS[10])
    profile.wrap(panels, "model_table_html", PARTS[11])
    profile.wrap(Dashboard, "_draw_headline", PARTS[11])

    sending = ipywidgets.Widget.send_state

    def send_state(widget: Any, key: Any = None) -> None:
        with profile.part(PARTS[12]):
            if profile.on and threading.current_thread() is threading.main_thread():
                state, _, buffers = _remove_buffers(widget.get_state(key=key))
                profile.message_bytes += len(json.dumps(state, default=str))
                profile.message_bytes += sum(len(b) for b in buffers)
            sending(widget, key)

    ipywidgets.Widget.send_state = send_state


def raw_sql(path: Path, queries: list[tuple[str, list[Any]]], con: Any = None) -> float:
    """Seconds to run ``queries`` as plain DuckDB SQL to Arrow: on ``con``, or on a
    connection opened (and closed) for them, as a redraw's is."""
    began = time.perf_counter()
    own = con is None
    if own:
        con = connect(str(path), read_only=True)
    for sql, params in queries:
        con.sql(sql, params=params or None).to_arrow_table()
    if own:
        con.close()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, help="reuse (or build once into) this file")
    parser.add_argument("--approx", choices=("auto", "true", "false"), default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    approx = {"auto": None, "true": True, "false": False}[args.approx]
    with tempfile.TemporaryDirectory() as tmp:
        db = args.store or Path(tmp) / "calls.duckdb"
        if not db.exists():
            began = time.perf_counter()
            build(db, args.calls)
            print(f"store: {args.calls:,} calls built in {time.perf_counter() - began:.0f} s")
        profile = Profile()
        instrument(profile)
        began = time.perf_counter()
        board = Dashboard(db, approx=approx)
        first = time.perf_counter() - began
        board.wait()
        rounds: list[dict[str, Any]] = []
        for _ in range(args.repeats):
            for models in CHOICES:
                profile.start()
                began = time.perf_counter()
                board.apply_filters(models=models)
                took = time.perf_counter() - began
                profile.stop()
                board.wait()
                queries = list(profile.queries)
                rounds.append(
                    {
                        "total": took,
                        "spent": dict(profile.spent),
                        "counts": dict(profile.counts),
                        "queries": len(queries),
                        "bytes": profile.message_bytes,
                        "cold": raw_sql(db, queries),
                        "recorded": queries,
                    }
                )
        board.close()
        # Warm: one connection kept open (its DuckDB instance keeps the blocks it read).
        warm = connect(str(db), read_only=True)
        for r in rounds:
            raw_sql(db, r["recorded"], warm)
        for r in rounds:
            r["warm"] = raw_sql(db, r["recorded"], warm)
        warm.close()
    med = statistics.median
    total = med(r["total"] for r in rounds)
    print(
        f"{len(rounds)} filter changes ({len(CHOICES)} model choices × {args.repeats}), "
        f"approx={approx}; dashboard built (first draw) in {first * 1000:.0f} ms"
    )
    print(
        f"redraw in Python: median {total * 1000:.0f} ms "
        f"({min(r['total'] for r in rounds) * 1000:.0f}–"
        f"{max(r['total'] for r in rounds) * 1000:.0f})"
    )
    print(f"{'part':42s} {'ms':>7s} {'share':>6s} {'calls':>6s}")
    for part in PARTS:
        spent = med(r["spent"].get(part, 0.0) for r in rounds)
        calls = med(r["counts"].get(part, 0) for r in rounds)
        print(f"{part:42s} {spent * 1000:7.1f} {spent / total:6.1%} {calls:6.0f}")
    print(
        f"queries per redraw: {med(r['queries'] for r in rounds):.0f}; "
        f"widget messages per redraw: {med(r['bytes'] for r in rounds) / 1024:.0f} KiB "
        "(JSON and binary buffers)"
    )
    print(
        f"baseline, the same queries as raw DuckDB SQL: "
        f"a connection opened for them {med(r['cold'] for r in rounds) * 1000:.0f} ms, "
        f"one kept open {med(r['warm'] for r in rounds) * 1000:.0f} ms"
    )
    print(f"redraw / raw SQL (opened for them): {total / med(r['cold'] for r in rounds):.2f}×")
    _ = dashboard, llmobs_nb  # the package whose redraw is profiled


if __name__ == "__main__":
    main()
