"""Time buckets for charts: coarse enough that a chart never ships more than a few thousand rows.

The view does not aggregate; it chooses the bucket it asks analytics for. The bucket follows
the data's time extent (a week of data in hours, a year in days), and if the answer still has
too many rows (many models), the next coarser bucket is asked for instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from llmobs_nb.analytics.source import time_extent as analytics_time_extent
from llmobs_nb.view.data_source import FilteredCalls

# The buckets a chart may use, finest first; each is an `every=` that analytics understands.
LADDER = ("1m", "5m", "15m", "30m", "1h", "3h", "6h", "12h", "1d", "1w")
_LENGTH = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "3h": timedelta(hours=3),
    "6h": timedelta(hours=6),
    "12h": timedelta(hours=12),
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
}
MAX_BUCKETS = 400
MAX_ROWS = 3_000
# A chart over a short or sparse period still shows a shape, not two points.
MIN_BUCKETS = 12


def time_extent(calls: Any) -> tuple[datetime | None, datetime | None, int]:
    """Earliest and latest ``start_time`` of ``calls`` (any calls-like input analytics takes)
    and how many calls there are; (None, None, 0) when none. A filtered source answers from
    its cache (one question a redraw).

    Example:
        >>> time_extent(pl.DataFrame({"start_time": []}, schema={"start_time": pl.Datetime()}))
        (None, None, 0)
    """
    if isinstance(calls, FilteredCalls):
        return calls.extent()
    return analytics_time_extent(calls)


def choose_every(
    start: datetime | None, end: datetime | None, max_buckets: int = MAX_BUCKETS
) -> str:
    """The finest bucket of :data:`LADDER` that cuts [start, end] into at most ``max_buckets``.

    Example:
        >>> from datetime import datetime
        >>> choose_every(datetime(2025, 3, 1), datetime(2025, 3, 15))
        '1h'
    """
    if start is None or end is None:
        return "1h"
    span = max(end - start, timedelta(minutes=1))
    for every in LADDER:
        if span / _LENGTH[every] <= max_buckets:
            return every
    return LADDER[-1]


def stable_every(calls: Any, calls_per_bucket: int = 1) -> str | None:
    """The bucket for ``calls`` chosen as :func:`ask_capped` would, but from the calls of the
    filter's time range alone (not its models, use cases, runs, users or statuses), so
    narrowing to a model keeps the bucket — and the incident it shows. None for a source that
    is not a dashboard's filtered calls (its own extent decides).

    Example:
        >>> stable_every(DataSource(obs).filtered(Filter(models=("gpt-4o",))))  # doctest: +SKIP
        '1h'
    """
    if not isinstance(calls, FilteredCalls):
        return None
    start, end = calls.filters.start, calls.filters.end
    lo, hi, n = calls.time_only().extent()
    buckets = min(MAX_BUCKETS, max(MIN_BUCKETS, n // max(calls_per_bucket, 1)))
    return choose_every(start or lo, end or hi, buckets)


def coarser(every: str) -> str | None:
    """The next bucket up the ladder, or None at the top ("1w")."""
    if every not in _LENGTH:
        return None
    at = LADDER.index(every)
    return LADDER[at + 1] if at + 1 < len(LADDER) else None


def ask_capped(
    ask: Callable[[str], pl.DataFrame],
    calls: Any,
    every: str | None,
    max_rows: int = MAX_ROWS,
    calls_per_bucket: int = 1,
) -> tuple[pl.DataFrame, str]:
    """Call ``ask(every)`` with a bucket whose answer has at most ``max_rows`` rows.

    ``every=None`` picks one from the data's extent, with on average at least
    ``calls_per_bucket`` calls per bucket (a P95 of four calls is no P95); a given ``every`` is
    kept unless its answer is too long. Returns the answer and the bucket used.

    Example:
        >>> ask = lambda e: analytics.cost_breakdown(calls, every=e)   # doctest: +SKIP
        >>> ask_capped(ask, calls, None)                                 # doctest: +SKIP
    """
    if every is None:
        start, end, n = time_extent(calls)
        buckets = min(MAX_BUCKETS, max(MIN_BUCKETS, n // max(calls_per_bucket, 1)))
        every = choose_every(start, end, buckets)
    chosen = every
    while True:
        found = ask(chosen)
        step = coarser(chosen)
        if found.height <= max_rows or step is None:
            return found, chosen
        chosen = step
