"""Tables for people: the one display helper of every notebook and repr.

:func:`table` wraps a polars frame so that a notebook shows it the way a person reads it:
durations as ``481 ms``/``1.8 s``, costs as ``$0.0123``, rates as ``2.3 %``, p-values as
``< 0.001``, times as ``Nov 12 14:03``, counts with thousands separators, no dtype row, every
column shown (the key ones first), long text cut with the whole text in its tooltip. The unit
of a column comes from its name (:func:`llmobs_nb.view.html.column_unit`, one rule for every
table of the package); ``units=`` overrides it. The frame itself is untouched:
``table(frame).frame`` is it, for further work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from llmobs_nb.view.escaping import html_text
from llmobs_nb.view.html import STYLE, cell_texts, column_unit, format_in, table_html

#: Text cells longer than this are cut in the plain-text form (the HTML form cuts at 120).
TEXT_CHARS = 40


@dataclass(frozen=True)
class Table:
    """A frame shown for people (see :func:`table`); ``frame`` is the data, unchanged."""

    frame: pl.DataFrame
    title: str | None = None
    max_rows: int = 20
    units: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None

    def _repr_html_(self) -> str:
        title = f"<h3>{html_text(self.title)}</h3>" if self.title else ""
        footer = f'<div class="muted">{html_text(self.note)}</div>' if self.note else ""
        body = table_html(self.frame, max_rows=self.max_rows, units=dict(self.units))
        return (
            f'{STYLE}<div class="llmobs">{title}<div style="overflow-x:auto">{body}</div>'
            f"{footer}</div>"
        )

    def __repr__(self) -> str:
        return self.text()

    def text(self) -> str:
        """The table as aligned plain text (what a terminal or a text-only log shows)."""
        numeric = {c for c, t in self.frame.schema.items() if t.is_numeric()}
        rows = [
            [_cut(_one_line(text)) for text in texts]
            for texts in cell_texts(self.frame, max_rows=self.max_rows, units=self.units)
        ]
        heads = [_one_line(c) for c in self.frame.columns]
        widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(heads)]

        def line(cells: list[str]) -> str:
            return "  ".join(
                cell.rjust(width) if column in numeric else cell.ljust(width)
                for cell, width, column in zip(cells, widths, self.frame.columns, strict=True)
            ).rstrip()

        out = [self.title] if self.title else []
        out += [line(heads), "  ".join("─" * w for w in widths)]
        out += [line(r) for r in rows]
        if self.frame.height > self.max_rows:
            out.append(f"… {self.frame.height - self.max_rows:,} more rows")
        if self.note:
            out.append(self.note)
        return "\n".join(out)


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def _one_line(text: str) -> str:
    """``text`` on one line: every line break (``\\n``, ``\\r``, U+0085, U+2028…) a space."""
    return " ".join(text.splitlines()) if text else text


def table(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    keys: Iterable[str] = (),
    names: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    title: str | None = None,
    max_rows: int = 20,
    note: str | None = None,
) -> Table:
    """``frame`` shown for people: humane numbers and times, no dtype row, nothing hidden.

    ``keys`` come first (in that order), then the other columns; ``names`` renames columns
    (``{"a": "prompt-v1"}``); ``units`` sets a column's unit where its name does not say it
    (one of ``duration``, ``cost``, ``rate``, ``percent``, ``p_value``, ``time``,
    ``number``, ``text``: e.g. ``{"p95": "duration"}`` for latency percentiles); ``note`` is
    a line under the table.

    Example:
        >>> shown = table(pl.DataFrame({"model": ["gpt-4o"], "p95_latency_s": [0.4812],
        ...                             "cost_usd": [18.340296000000002]}), keys=["model"])
        >>> print(shown)
        model   p95_latency_s  cost_usd
        ──────  ─────────────  ────────
        gpt-4o         481 ms    $18.34
    """
    data = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    ordered = [*[k for k in keys if k in data.columns]]
    data = data.select(ordered + [c for c in data.columns if c not in ordered])
    renamed = {old: new for old, new in (names or {}).items() if old in data.columns}
    unit_map = dict(units or {})
    if renamed:
        data = data.rename(renamed)
        unit_map = {renamed.get(k, k): v for k, v in unit_map.items()}
    return Table(data, title=title, max_rows=max_rows, units=unit_map, note=note)


def record_table(record: Any, *, title: str | None = None) -> Table:
    """A dataclass (or mapping) as a two-column table of field and value, each value in the
    unit its field's name says: how an injected incident or a result object is shown.

    Example:
        >>> print(record_table({"user_id": "u-7", "usd": 18.340296000000002}))
        field    value
        ───────  ──────
        user_id  u-7
        usd      $18.34
    """
    items = record if isinstance(record, Mapping) else vars(record)
    rows = []
    for name, value in items.items():
        shown = (
            ", ".join(format_in(column_unit(name), v) for v in value)
            if isinstance(value, tuple | list)
            else format_in(column_unit(name), value)
        )
        rows.append({"field": name, "value": shown})
    frame = pl.DataFrame(rows, schema={"field": pl.String, "value": pl.String})
    return Table(frame, title=title, max_rows=max(len(rows), 1))
