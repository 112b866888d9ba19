"""The package's prices as a small table the engine joins: one row per model, provider and day.

The store prices a call when it is written (``capture/rows.to_columns``:
:meth:`PriceBook.find` for its model, provider and day, then :meth:`Price.cost`). Spans in
ClickHouse were written by someone else, so the engine prices them where they are: this module
asks the :class:`~llmobs_nb.pricing.PriceBook` (genai-prices data, your overrides first) the
rates of every (model, provider) the table holds, for every day it was called, and the query
joins them (``mapping.cost_expression``). The rows go to ClickHouse as a temporary table (chdb)
or as external data sent with each query (a server, where a read-only user may create
nothing). A model without a price has no row: its calls cost NULL, never 0.

Rates a provider lists none for are filled as the price book bills them (cached input and
cache writes at the input rate, reasoning at the output rate). A tiered price (long context)
keeps its base rates and its first threshold (``tier_start``, input tokens): a call at or
above it costs NULL in SQL rather than a guess.

Example:
    >>> from datetime import date
    >>> rows = price_rows([("gpt-4o", "openai", date(2026, 11, 1), date(2026, 11, 2))])
    >>> rows.num_rows, rows.column("input_mtok")[0].as_py()
    (2, 2.5)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from llmobs_nb.pricing import Price, PriceBook

#: Columns of the prices table: ClickHouse types, in order.
PRICE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "String"),
    ("provider", "String"),
    ("day", "Date"),
    ("input_mtok", "Nullable(Float64)"),
    ("cached_input_mtok", "Nullable(Float64)"),
    ("cache_write_mtok", "Nullable(Float64)"),
    ("output_mtok", "Nullable(Float64)"),
    ("reasoning_mtok", "Nullable(Float64)"),
    ("tier_start", "Nullable(Int64)"),
)
PRICES_ARROW = pa.schema(
    [
        ("model", pa.string()),
        ("provider", pa.string()),
        ("day", pa.date32()),
        ("input_mtok", pa.float64()),
        ("cached_input_mtok", pa.float64()),
        ("cache_write_mtok", pa.float64()),
        ("output_mtok", pa.float64()),
        ("reasoning_mtok", pa.float64()),
        ("tier_start", pa.int64()),
    ]
)
MAX_DAYS = 3660
"""Days priced per model at most (ten years); older days of a longer history go unpriced."""


def structure() -> str:
    """The table's columns as ClickHouse's ``structure`` text (external data, DDL).

    Example:
        >>> structure().split(", ")[0]
        'model String'
    """
    return ", ".join(f"{name} {kind}" for name, kind in PRICE_COLUMNS)


def _tier_start(price: Price) -> int | None:
    tiered = getattr(price, "_tiered", None)
    if tiered is None:
        return None
    starts = [
        tier.start
        for value in vars(tiered).values()
        for tier in getattr(value, "tiers", None) or ()
        if isinstance(getattr(tier, "start", None), int)
    ]
    return min(starts) if starts else None


def _row(model: str, provider: str, day: date, price: Price) -> dict[str, Any]:
    return {
        "model": model,
        "provider": provider,
        "day": day,
        "input_mtok": price.input_mtok,
        "cached_input_mtok": price.input_mtok
        if price.cached_input_mtok is None
        else price.cached_input_mtok,
        "cache_write_mtok": price.input_mtok
        if price.cache_write_mtok is None
        else price.cache_write_mtok,
        "output_mtok": price.output_mtok,
        "reasoning_mtok": price.output_mtok
        if price.reasoning_mtok is None
        else price.reasoning_mtok,
        "tier_start": _tier_start(price),
    }


def price_rows(
    called: Iterable[tuple[str, str | None, date, date]], book: PriceBook | None = None
) -> pa.Table:
    """The prices table for ``called``: (model, provider, first day, last day) of each model
    a source calls. ``provider`` None is stored as ``''`` (the join's key for "no provider").

    Example:
        >>> price_rows([("self-hosted-llama", None, date(2026, 11, 1), date(2026, 11, 1))]).num_rows
        0
    """
    book = book or PriceBook()
    rows = []
    for model, provider, first, last in called:
        if not isinstance(model, str) or not model or first is None or last is None:
            continue
        days = min((last - first).days, MAX_DAYS)
        start = max(first, last - timedelta(days=days))
        for offset in range(days + 1):
            day = start + timedelta(days=offset)
            at = datetime(day.year, day.month, day.day, tzinfo=UTC)
            price = book.lookup(model, provider or None, at)
            if price is not None:
                rows.append(_row(model, provider or "", day, price))
    return pa.Table.from_pylist(rows, schema=PRICES_ARROW)
