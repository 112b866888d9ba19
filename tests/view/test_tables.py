"""The display helper: frames shown for people, every column, each in its unit, escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from llmobs_nb import analytics, demo, view
from llmobs_nb.view.html import column_unit


class _Cells(HTMLParser):
    """The header and body cells of the first table of an HTML fragment, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.heads: list[str] = []
        self.rows: list[list[str]] = []
        self._in: str | None = None
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "script":
            self.scripts += 1
        if tag == "tr":
            self.rows.append([])
        if tag in ("th", "td"):
            self._in = tag
            (self.heads if tag == "th" else self.rows[-1]).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "th":
            self.heads[-1] += data
        elif self._in == "td":
            self.rows[-1][-1] += data


def _cells(html: str) -> _Cells:
    parser = _Cells()
    parser.feed(html)
    parser.rows = [r for r in parser.rows if r]
    return parser


def test_each_column_is_shown_in_the_unit_its_name_says():
    frame = pl.DataFrame(
        {
            "model": ["gpt-4o"],
            "calls": [1234567],
            "p95_latency_s": [0.4812],
            "cost_usd": [18.340296000000002],
            "error_rate": [0.0234],
            "degradation_pct": [53.256116],
            "p_value": [2.066e-31],
            "last_call": [datetime(2026, 11, 12, 14, 3, 59, tzinfo=UTC)],
        }
    )
    cells = _cells(view.table(frame)._repr_html_())
    assert cells.heads == frame.columns
    assert cells.rows == [
        [
            "gpt-4o",
            "1,234,567",
            "481 ms",
            "$18.34",
            "2.3 %",
            "53.3 %",
            "< 0.001",
            "Nov 12 14:03",
        ]
    ]
    assert "18.340296" not in repr(view.table(frame))


def test_keys_come_first_names_rename_and_no_column_is_hidden():
    frame = pl.DataFrame({f"c{i}": [i] for i in range(30)} | {"baseline": [0.8], "current": [0.4]})
    shown = view.table(frame, keys=["baseline", "current"], names={"c0": "first"})
    cells = _cells(shown._repr_html_())
    assert cells.heads[:3] == ["baseline", "current", "first"]
    assert len(cells.heads) == 32  # every column, none elided with "…"
    assert shown.frame.columns[:2] == ["baseline", "current"]
    assert "…" not in repr(shown).splitlines()[0]
    text = repr(shown)
    assert "f64" not in text and "---" not in text and "shape" not in text


def test_a_comparison_shows_run_names_and_each_metric_in_its_unit(tmp_path):
    store = tmp_path / "s.duckdb"
    demo.generate(4_000, days=3, seed=3, store=store)
    comparison = analytics.compare_runs(store, "prompt-v1", "prompt-v2")
    shown = view.table(comparison, names={"a": "prompt-v1", "b": "prompt-v2"})
    cells = _cells(shown._repr_html_())
    assert cells.heads[:3] == ["metric", "prompt-v1", "prompt-v2"]
    by_metric = {row[0]: dict(zip(cells.heads, row, strict=True)) for row in cells.rows}
    assert re.fullmatch(r"\d+(\.\d)? (ms|s)", by_metric["latency_p95_s"]["prompt-v1"])
    assert by_metric["cost_per_call_usd"]["prompt-v2"].startswith("$")
    assert by_metric["error_rate"]["prompt-v1"].endswith("%")
    # counts stay counts, whatever the row measures
    n_a = comparison.filter(pl.col("metric") == "cost_per_call_usd")["n_a"][0]
    assert by_metric["cost_per_call_usd"]["n_a"] == f"{n_a:,}"


def test_an_incident_shows_as_a_table_not_a_dataclass_repr():
    truth = demo.generate(3_000, days=3, seed=2).truth
    html = truth.cost_spike._repr_html_()
    cells = _cells(html)
    usd = dict(cells.rows)["usd"]
    assert usd == f"${truth.cost_spike.usd:,.2f}"
    assert "CostSpike(" not in html
    incidents = _cells(truth._repr_html_())
    assert [row[0] for row in incidents.rows][:3] == [
        "quality regression",
        "cost spike",
        "latency incident",
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=5),
    st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        min_size=1,
        max_size=5,
    ),
)
def test_any_text_is_escaped_and_any_number_shown(texts, numbers):
    size = min(len(texts), len(numbers))
    frame = pl.DataFrame(
        {"<b>name</b>": texts[:size], "cost_usd": numbers[:size], "x": numbers[:size]},
        schema={"<b>name</b>": pl.String, "cost_usd": pl.Float64, "x": pl.Float64},
    )
    html = view.table(frame)._repr_html_()
    cells = _cells(html)
    assert cells.scripts == 0
    assert cells.heads == ["<b>name</b>", "cost_usd", "x"]
    assert [row[0] for row in cells.rows] == [
        t if len(t) <= 120 else t[:119] + "…" for t in texts[:size]
    ]
    assert len(repr(view.table(frame)).splitlines()) == size + 2


def test_the_unit_rule_is_one_rule():
    assert [column_unit(c) for c in ("n", "n_baseline", "input_tokens", "ttft_s")] == [
        "count",
        "count",
        "count",
        "duration",
    ]
    assert column_unit("tokens_per_s") == "count"  # tokens per second: not a duration
    assert column_unit("model", pl.String) == "text"
