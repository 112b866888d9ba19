"""The latency sketch of the rollups: log-spaced bins with a guaranteed relative error.

A value ``x > 0`` falls in bin ``i = ceil(log_γ(x))``, the interval ``(γ^(i-1), γ^i]``, with
``γ = (1 + α) / (1 − α)``; the bin stands for ``2γ^i / (γ + 1)``, which is within ``α·x`` of
every value in it (the DDSketch construction, Masson et al., VLDB 2019). Values ≤ 0 fall in
:data:`ZERO_BIN`, which stands for 0. Bins of several sketches merge by adding their counts,
so an hour's sketch is the sum of its flushes' and a day's the sum of its hours'.

A quantile read from the sketch interpolates between the values of the bins holding the two
order statistics around it, as numpy's linear rule does between the values themselves: a
convex combination of values each within ``α`` relatively is within ``α`` of the same
combination, so the answer is within :data:`ALPHA` of the exact (numpy) quantile, relatively,
for non-negative measures. ``tests/store/test_rollups.py`` checks that bound.

The rule is written once for each place that computes it: the bin in SQL (:func:`bin_sql`,
as the store files values) and in Python (:func:`bin_of`, for tests); a bin's value and the
quantiles of merged bins in numpy (:func:`values_of`, :func:`quantiles_of`, as readers answer:
a sort of the (group, bin) pairs and one running sum, where SQL needed a window per group
and measure, 2-3x slower at 10M calls), and :func:`value_of` for one bin.

Example:
    >>> value_of(bin_of(0.25)) / 0.25 - 1 <= ALPHA
    True
    >>> value_of(ZERO_BIN)
    0.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

ALPHA = 0.01
"""The largest relative error of a quantile answered from a sketch (1 %)."""
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LN_GAMMA = math.log(GAMMA)
ZERO_BIN = -(2**31) + 1
"""The bin of values ≤ 0 (it stands for 0); far below any positive value's bin (≥ −37,000)."""


def bin_of(x: float) -> int:
    """The bin of one value (Python; the store computes it with :func:`bin_sql`).

    Example:
        >>> bin_of(1.0), bin_of(GAMMA), bin_of(0.0)
        (0, 1, -2147483647)
    """
    if not x > 0:
        return ZERO_BIN
    return math.ceil(math.log(x) / _LN_GAMMA)


def value_of(index: int) -> float:
    """The value a bin stands for: ``2γ^i / (γ + 1)`` (0 for :data:`ZERO_BIN`).

    Example:
        >>> round(value_of(0), 6)
        0.99
    """
    return float(values_of(np.array([index]))[0])


def values_of(bins: np.ndarray) -> np.ndarray:
    """The values bins stand for (:func:`value_of` of each), as float64.

    Example:
        >>> values_of(np.array([0, ZERO_BIN])).round(6).tolist()
        [0.99, 0.0]
    """
    bins = np.asarray(bins, dtype=np.int64)
    zero = bins == ZERO_BIN
    return np.where(zero, 0.0, 2 * np.power(GAMMA, np.where(zero, 0, bins)) / (GAMMA + 1))


def quantiles_of(bins: pl.Series, counts: pl.Series, quantiles: Sequence[float]) -> list[pl.Series]:
    """Per row, the ``quantiles`` of a merged sketch given as two list columns of the same
    lengths: its bins (any order, each once) and their counts; NULL for a row with no values.

    Numpy's linear rule on the bins' values: order statistic ``k`` (from 0) is the value of
    the first bin whose running count exceeds ``k``, and quantile ``q`` interpolates between
    the order statistics ``floor(h)`` and ``floor(h) + 1``, ``h = (count − 1)·q``.

    Example:
        >>> bins, counts = pl.Series([[0, 2, 1], None]), pl.Series([[1, 1, 2], None])
        >>> [s.round(4).to_list() for s in quantiles_of(bins, counts, [0.0, 1.0])]
        [[0.99, None], [1.0304, None]]
    """
    lengths = counts.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat_bins = bins.explode().drop_nulls().to_numpy().astype(np.int64)
    flat_counts = counts.explode().drop_nulls().to_numpy().astype(np.float64)
    if not len(flat_counts):  # no group has a value
        return [pl.Series([None] * len(lengths), dtype=pl.Float64) for _ in quantiles]
    # The pairs in (row, bin) order: one sort of a key that holds both (a bin fits 32 bits).
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    order = np.argsort((rows << 32) + (flat_bins - ZERO_BIN), kind="stable")
    values, running = values_of(flat_bins[order]), np.cumsum(flat_counts[order])
    ends = np.cumsum(lengths)
    starts = ends - lengths
    before = np.where(starts > 0, running[np.maximum(starts - 1, 0)], 0.0)
    total = np.where(lengths > 0, running[np.maximum(ends - 1, 0)] - before, 0.0)
    empty, last = total <= 0, np.maximum(ends - 1, 0)
    answers = []
    for q in quantiles:
        h = (total - 1) * float(q)
        k = np.floor(h)
        lo = np.searchsorted(running, before + k, side="right")
        hi = np.searchsorted(running, before + k + 1, side="right")
        lo_value = values[np.minimum(lo, last)]
        hi_value = np.where(hi < ends, values[np.minimum(hi, last)], lo_value)
        answer = lo_value + (h - k) * (hi_value - lo_value)
        answers.append(pl.Series(np.where(empty, np.nan, answer)).fill_nan(None))
    return answers


def bin_sql(column: str) -> str:
    """SQL for the bin of ``column`` (NULL for NULL).

    Example:
        >>> "ln(latency_s)" in bin_sql("latency_s")
        True
    """
    return (
        f"CASE WHEN {column} > 0 THEN CAST(ceil(ln({column}) / {_LN_GAMMA!r}) AS INTEGER) "
        f"WHEN {column} IS NOT NULL THEN {ZERO_BIN} END"
    )
