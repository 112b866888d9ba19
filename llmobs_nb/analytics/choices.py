"""What a filter can choose among: the values of each filter dimension, and the time extent."""

from __future__ import annotations

from datetime import datetime

from llmobs_nb.analytics.filter import DIMENSIONS, WhereLike
from llmobs_nb.analytics.plan import Agg, Aggregate
from llmobs_nb.analytics.source import CallsLike, open_source

#: What :func:`filter_choices` answers: the time extent, and the values of each dimension.
Choices = tuple[tuple[datetime | None, datetime | None], dict[str, list[str]]]


def filter_choices(calls: CallsLike, *, where: WhereLike = None, approx: bool = False) -> Choices:
    """The first and last ``start_time`` of the calls, and per filter dimension
    (:data:`~llmobs_nb.analytics.filter.DIMENSIONS`: ``models``, ``use_cases``, ``runs``,
    ``users``) its values, sorted, NULL left out. ``where`` narrows the calls first.

    ``approx=True`` answers the extent and the values from a store's rollups
    (:mod:`~llmobs_nb.analytics.rollup_engine`: models, use cases and runs from
    ``rollup_calls``, users from ``rollup_users``); they hold exactly the same values, so the
    answer is the same.

    Example:
        >>> (first, last), values = filter_choices(obs)          # doctest: +SKIP
        >>> values["models"]                                       # doctest: +SKIP
        ['claude-3-5-haiku', 'gpt-4o']
    """
    with open_source(calls, where=where, approx=approx) as engine:
        extent = engine.run(
            Aggregate(
                (),
                (Agg("first", "min", "start_time"), Agg("last", "max", "start_time")),
            )
        )
        values = {}
        for name, column in DIMENSIONS.items():
            found = engine.run(Aggregate((column,), (Agg("n", "count_all"),)))
            values[name] = sorted(v for v in found[column].to_list() if v is not None)
    first, last = extent.row(0) if extent.height else (None, None)
    return (first, last), values


__all__ = ["filter_choices"]
