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

The rule is written once for each place that computes it: SQL (:func:`bin_sql`,
:func:`value_sql`) for DuckDB, and Python (:func:`bin_of`, :func:`value_of`) for tests.

Example:
    >>> value_of(bin_of(0.25)) / 0.25 - 1 <= ALPHA
    True
    >>> value_of(ZERO_BIN)
    0.0
"""

from __future__ import annotations

import math

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
    if index == ZERO_BIN:
        return 0.0
    return 2 * GAMMA**index / (GAMMA + 1)


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


def value_sql(column: str) -> str:
    """SQL for the value bin ``column`` stands for.

    Example:
        >>> value_sql("bin").startswith("CASE WHEN bin = ")
        True
    """
    return (
        f"CASE WHEN {column} = {ZERO_BIN} THEN 0.0 "
        f"ELSE 2 * pow({GAMMA!r}, {column}) / {GAMMA + 1!r} END"
    )
