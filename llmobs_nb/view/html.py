"""HTML for the objects a notebook user looks at: headline figures, small tables, the observer."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from llmobs_nb.view.escaping import html_text

# JupyterLab right-aligns every table cell of an output with a (0,2,1) selector; the
# ``.jp-RenderedHTMLCommon .llmobs`` twins tie it, and an output's own style comes later.
STYLE = """<style>
.llmobs{font-family:Inter,'Segoe UI',Helvetica,Arial,sans-serif;font-size:13px;color:#222}
.llmobs h3{font-size:15px;margin:4px 0 8px}
.llmobs .cards{display:flex;flex-wrap:wrap;gap:8px;margin:6px 0}
.llmobs .card{border:1px solid #ddd;border-radius:6px;padding:6px 12px;min-width:96px}
.llmobs .card .v{font-size:18px;font-weight:600}
.llmobs .card .k{font-size:11px;color:#666;text-transform:uppercase;letter-spacing:.03em}
.llmobs .card.alert{border-color:#D55E00;background:#fff4ee}
.llmobs table{border-collapse:collapse;margin:4px 0}
.llmobs th,.llmobs td,.jp-RenderedHTMLCommon .llmobs th,.jp-RenderedHTMLCommon .llmobs td{
 border-bottom:1px solid #eee;padding:3px 8px;text-align:left;vertical-align:top}
.llmobs th{color:#555;font-weight:600}
.llmobs .num,.jp-RenderedHTMLCommon .llmobs .num{text-align:right;
 font-variant-numeric:tabular-nums}
.llmobs pre{white-space:pre-wrap;max-height:16em;overflow:auto;background:#f7f7f7;padding:6px;
 margin:2px 0}
.llmobs .muted{color:#777}
.llmobs details.card>summary{cursor:pointer;list-style:none}
.llmobs details.card>summary::-webkit-details-marker{display:none}
.llmobs details.card[open]{flex-basis:100%}
.llmobs details.card .k .more{text-transform:none;letter-spacing:0}
.llmobs .alert-list td{max-width:36em}
.llmobs .hints{border-left:3px solid #E69F00;background:#fffaf0;padding:4px 10px;margin:6px 0}
.llmobs .hints ul{margin:2px 0;padding-left:18px}
.llmobs .gap{border-left:3px solid #999;background:#f4f4f4;padding:4px 10px;margin:6px 0}
</style>"""


def format_value(value: Any) -> str:
    """A cell as text: thousands separators, 4 significant digits, UTC times, — for NULL.

    Example:
        >>> format_value(1234567), format_value(0.0123456), format_value(None)
        ('1,234,567', '0.01235', '—')
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "—"
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def format_duration(seconds: float | None) -> str:
    """A duration as a person reads it: ``"3.2 ms"``, ``"481 ms"``, ``"1.8 s"``, ``"2.5 min"``.

    Example:
        >>> format_duration(0.4812), format_duration(1.84), format_duration(None)
        ('481 ms', '1.8 s', '—')
    """
    if seconds is None or seconds != seconds:
        return "—"
    ms = seconds * 1000
    if abs(ms) < 10:
        return f"{ms:.1f} ms"
    if abs(ms) < 999.5:
        return f"{ms:.0f} ms"
    if abs(seconds) < 99.95:
        return f"{seconds:.1f} s"
    if abs(seconds) < 5999.5:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_cost(usd: float | None) -> str:
    """A cost in dollars: 4 decimals under $1 (``"$0.0123"``), cents above, — when unpriced.

    Example:
        >>> format_cost(0.012345), format_cost(12.5), format_cost(0.00001), format_cost(None)
        ('$0.0123', '$12.50', '<$0.0001', '—')
        >>> format_cost(-0.0005)
        '-$0.0005'
    """
    if usd is None or usd != usd:
        return "—"
    if 0 < abs(usd) < 0.00005:
        return "<$0.0001" if usd > 0 else "-<$0.0001"
    sign, usd = ("-", -usd) if usd < 0 else ("", usd)
    return f"{sign}${usd:.4f}" if usd < 1 else f"{sign}${usd:,.2f}"


def format_percent(rate: float | None) -> str:
    """A rate as a person reads it: ``"2.3 %"``, ``"0 %"``, ``"< 0.1 %"``; — for none.

    Example:
        >>> format_percent(0.0234), format_percent(0.0), format_percent(0.0002)
        ('2.3 %', '0 %', '< 0.1 %')
    """
    if rate is None or rate != rate:
        return "—"
    if rate == 0:
        return "0 %"
    if abs(rate) < 0.0005:
        return "< 0.1 %" if rate > 0 else "> -0.1 %"
    return f"{rate * 100:.1f} %"


def format_when(at: datetime | None) -> str:
    """A time as ``"Nov 12 14:03"`` (UTC, the store's zone; a naive time is taken as UTC).

    Example:
        >>> from datetime import UTC
        >>> format_when(datetime(2025, 11, 12, 14, 3, 59, tzinfo=UTC))
        'Nov 12 14:03'
    """
    if at is None:
        return "—"
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%b %d %H:%M")


def format_p_value(p: float | None) -> str:
    """A p-value as a person reads it: ``"< 0.001"`` below a thousandth, else 2 significant
    digits; — for none.

    Example:
        >>> format_p_value(2.07e-31), format_p_value(0.0412), format_p_value(0.65349)
        ('< 0.001', '0.041', '0.65')
    """
    if p is None or p != p:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.2g}"


#: The units a table column can be shown in (:func:`column_unit` picks one by the column's name).
UNITS = ("duration", "cost", "rate", "percent", "p_value", "time", "count", "number", "text")

#: Words that make a column a count, never shown in another row's unit (``n``, ``n_*`` too).
COUNT_WORDS = frozenset(
    {"calls", "count", "errors", "turns", "spans", "traces", "rows", "tokens", "results"}
)


def column_unit(name: str, dtype: pl.DataType | None = None) -> str:
    """How a column is shown, from its name and type: the one rule every table uses.

    ``*_s``, latency, TTFT and durations → ``duration``; cost, ``*_usd``, spend → ``cost``;
    ``*_rate``/``share`` (a fraction) → ``rate``; ``*_pct`` (already ×100) → ``percent``;
    ``p_value`` → ``p_value``; dates and times → ``time``; ``n``, ``n_*`` and names with
    :data:`COUNT_WORDS` → ``count``; other numbers → ``number``.

    Example:
        >>> [column_unit(c) for c in ("p95_latency_s", "cost_usd", "error_rate", "calls")]
        ['duration', 'cost', 'rate', 'count']
    """
    lowered = name.lower()
    if dtype is not None and dtype.is_temporal():
        return "duration" if isinstance(dtype, pl.Duration) else "time"
    if dtype is not None and not dtype.is_numeric() and dtype != pl.Null:
        return "text"
    if "p_value" in lowered:
        return "p_value"
    if "cost" in lowered or "usd" in lowered or "spend" in lowered:
        return "cost"
    if lowered.endswith("_pct") or lowered.endswith("_percent"):
        return "percent"
    if "token" not in lowered and (
        lowered.endswith("rate")
        or "_rate_" in lowered
        or lowered in ("share", "ratio")
        or lowered.endswith("_share")
    ):
        return "rate"
    words = set(re.split(r"[^a-z0-9]+", lowered))
    if lowered == "n" or lowered.startswith("n_") or words & COUNT_WORDS:
        return "count"
    if lowered.endswith("_s") or words & {"latency", "ttft", "duration", "seconds", "elapsed"}:
        return "duration"
    return "number"


def format_in(unit: str, value: Any) -> str:
    """``value`` as text in ``unit`` (one of :data:`UNITS`).

    Example:
        >>> format_in("duration", 0.4812), format_in("percent", 53.256), format_in("number", 7)
        ('481 ms', '53.3 %', '7')
    """
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, datetime):
        return format_when(value)
    if isinstance(value, date):
        return value.strftime("%b %d %Y")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return format_value(value)
    in_unit = _NUMBER_FORMATS.get(unit)
    return format_value(value) if in_unit is None else in_unit(value)


#: How a number is written in each unit that has its own way (any other: :func:`format_value`).
_NUMBER_FORMATS: dict[str, Callable[[float], str]] = {
    "duration": format_duration,
    "cost": format_cost,
    "rate": format_percent,
    "percent": lambda value: f"{value:.1f} %",
    "p_value": format_p_value,
}


def cell_texts(
    frame: pl.DataFrame, *, max_rows: int = 20, units: Mapping[str, str] | None = None
) -> list[list[str]]:
    """The first ``max_rows`` rows of ``frame`` as text, each column in its
    :func:`column_unit` unless ``units`` names another. In a long-format frame (a ``metric``
    column naming what each row measures, as :func:`llmobs_nb.analytics.compare_runs`
    returns) a row's plain numbers are in its metric's unit; counts stay counts.

    Example:
        >>> cell_texts(pl.DataFrame({"metric": ["cost_usd"], "a": [0.5], "n": [3]}))
        [['cost_usd', '$0.5000', '3']]
    """
    chosen = {c: column_unit(c, t) for c, t in frame.schema.items()} | dict(units or {})
    numeric = {c for c, t in frame.schema.items() if t.is_numeric()}
    by_metric = "metric" in frame.columns and frame.schema["metric"] == pl.String
    rows = []
    for row in frame.head(max_rows).iter_rows(named=True):
        row_unit = column_unit(str(row["metric"])) if by_metric and row["metric"] else None
        cells = []
        for column, value in row.items():
            unit = chosen[column]
            if row_unit is not None and column in numeric and unit == "number":
                unit = row_unit
            cells.append(format_in(unit, value))
        rows.append(cells)
    return rows


def table_html(
    frame: pl.DataFrame,
    *,
    max_rows: int = 20,
    max_chars: int = 120,
    units: Mapping[str, str] | None = None,
) -> str:
    """A compact HTML table of ``frame`` (first ``max_rows`` rows; long text cut, whole in its
    tooltip), each column shown in its :func:`column_unit` unless ``units`` names another.
    A long-format frame (a ``metric`` column naming what each row measures, as
    :func:`llmobs_nb.analytics.compare_runs` returns) shows each row's numbers in its metric's
    unit.

    Example:
        >>> "<table>" in table_html(pl.DataFrame({"model": ["gpt-4o"], "n": [3]}))
        True
    """
    numeric = {c for c, t in frame.schema.items() if t.is_numeric()}
    head = "".join(
        ('<th class="num">' if c in numeric else "<th>") + f"{html_text(c)}</th>"
        for c in frame.columns
    )
    rows = []
    for texts in cell_texts(frame, max_rows=max_rows, units=units):
        cells = []
        for column, text in zip(frame.columns, texts, strict=True):
            tip = ""
            if len(text) > max_chars:
                tip = f' title="{html_text(text[:2000])}"'
                text = text[: max_chars - 1] + "…"
            klass = ' class="num"' if column in numeric else ""
            cells.append(f"<td{klass}{tip}>{html_text(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if frame.height > max_rows:
        more = f'<div class="muted">{frame.height - max_rows:,} more rows</div>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def cards_html(
    figures: dict[str, str],
    alerts: tuple[str, ...] = (),
    details: dict[str, str] | None = None,
) -> str:
    """Headline figures as cards; names in ``alerts`` are highlighted. A card named in
    ``details`` (name → HTML, already escaped: e.g. :func:`alert_details_html`) opens it when
    clicked: an HTML ``<details>`` element, no JavaScript.

    Example:
        >>> "calls" in cards_html({"calls": "1,024"})
        True
        >>> "<details" in cards_html({"alerts": "2"}, ("alerts",), {"alerts": "<p>why</p>"})
        True
    """
    cards = []
    for name, value in figures.items():
        klass = "card alert" if name in alerts else "card"
        face = f'<div class="v">{html_text(value)}</div><div class="k">{html_text(name)}'
        body = (details or {}).get(name)
        if body is None:
            cards.append(f'<div class="{klass}">{face}</div></div>')
        else:
            cards.append(
                f'<details class="{klass}"><summary title="click to show the details">{face}'
                f' <span class="more">▸ why</span></div></summary>{body}</details>'
            )
    return f'<div class="cards">{"".join(cards)}</div>'


#: What an alert row of :func:`alert_details_html` holds, in its column order.
ALERT_FIELDS = ("rule", "about", "when", "figure", "threshold", "look_at")


def alert_details_html(items: list[dict[str, str]], *, max_rows: int = 50) -> str:
    """What fired and why, as HTML (every value escaped): one row per alert with its rule,
    what it is about, when, its figure against its threshold, and what to look at; with no
    alert, which rules were checked (``items`` from
    :func:`llmobs_nb.view.alert_details.alert_list`).

    Example:
        >>> "hourly" in alert_details_html([{"rule": "hourly spend", "figure": "$12.40"}])
        True
    """
    if not items:
        return (
            '<div class="alert-list muted">No alert fired. Checked: quality drift per model '
            "(the recent scores' mean against the baseline's), and spend (per hour, per user "
            "and model per hour, per day, and unusual hours).</div>"
        )
    heads = ("rule", "about", "when", "figure", "threshold", "look at")
    head = "".join(f"<th>{html_text(h)}</th>" for h in heads)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{html_text(item.get(field) or '')}</td>" for field in ALERT_FIELDS)
        + "</tr>"
        for item in items[:max_rows]
    )
    more = ""
    if len(items) > max_rows:
        more = f'<div class="muted">{len(items) - max_rows:,} more alerts</div>'
    return (
        f'<div class="alert-list"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
        f"</table>{more}</div>"
    )


def headline_figures(summary: dict[str, Any]) -> dict[str, str]:
    """The headline row's text from :func:`llmobs_nb.view.panels.headline`'s numbers."""
    rate = summary.get("error_rate")
    quality = summary.get("mean_quality")
    p95 = summary.get("p95_latency_s")
    about = "≈" if summary.get("p95_rel_error") else ""  # from the rollups' sketch: ±1 %
    cost = summary.get("cost_usd")
    alerts = summary.get("alerts")
    return {
        "calls": f"{summary.get('calls') or 0:,}",
        "cost": "—" if cost is None else f"${cost:,.2f}",
        "P95 latency": "—" if p95 is None else f"{about}{p95:.2f} s",
        "error rate": "—" if rate is None else f"{rate:.2%}",
        "mean quality": "—" if quality is None else f"{quality:.3f}",
        "alerts": "…" if alerts is None else f"{alerts:,}",
    }


def observer_html(obs: Any) -> str:
    """What an observer captures, where it stores it, and its headline figures, as HTML.

    For ``Observer._repr_html_``. Reads a handful of counts from the store (never the rows).

    Example:
        >>> observer_html(obs)[:60]   # doctest: +SKIP
    """
    mode = "read-only" if getattr(obs, "read_only", False) else "capturing"
    if getattr(obs, "closed", False):
        mode = "closed"
    facts = {
        "project": obs.project,
        "store": str(obs.db_path),
        "mode": mode,
        "content capture": "on" if getattr(obs, "capture_content", False) else "off (default)",
    }
    body = ""
    if mode != "closed":
        try:
            numbers = obs.sql(
                "SELECT (SELECT count(*) FROM spans) AS spans, count(*) AS calls, "
                "count(DISTINCT trace_id) AS traces, sum(cost_usd) AS cost_usd, "
                "count(*) FILTER (WHERE status = 'error') AS errors, "
                "count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced, "
                "min(start_time) AS first_call, max(start_time) AS last_call, "
                "(SELECT count(*) FROM scores) AS scores, "
                "(SELECT count(*) FROM runs) AS runs FROM llm_calls"
            ).row(0, named=True)
        except Exception as exc:  # a repr must never raise: say what went wrong instead
            body = f'<div class="muted">store not readable: {html_text(str(exc))}</div>'
        else:
            cost = numbers["cost_usd"]
            figures = {
                "LLM calls": f"{numbers['calls']:,}",
                "traces": f"{numbers['traces']:,}",
                "spans": f"{numbers['spans']:,}",
                "cost": "—" if cost is None else f"${cost:,.2f}",
                "errors": f"{numbers['errors']:,}",
                "unpriced calls": f"{numbers['unpriced']:,}",
                "scores": f"{numbers['scores']:,}",
                "runs": f"{numbers['runs']:,}",
            }
            alerts = ("errors",) if numbers["errors"] else ()
            span = ""
            if numbers["first_call"] is not None:
                first, last = (format_value(numbers[k]) for k in ("first_call", "last_call"))
                span = (
                    f'<div class="muted">calls from {html_text(first)} to {html_text(last)}</div>'
                )
            body = cards_html(figures, alerts) + span
    rows = "".join(
        f"<tr><th>{html_text(k)}</th><td>{html_text(str(v))}</td></tr>" for k, v in facts.items()
    )
    return (
        f'{STYLE}<div class="llmobs"><h3>llmobs_nb observer</h3><table>{rows}</table>{body}</div>'
    )
