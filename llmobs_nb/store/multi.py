"""Deprecated: several store files read together are :meth:`Store.attach_many` now.

``MultiStore(paths)`` still works for one release: it warns (``DeprecationWarning``) and
returns ``Store.attach_many(paths)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from llmobs_nb._deprecated import warn_moved
from llmobs_nb.store.store import UNION_TABLES, Store

__all__ = ["UNION_TABLES", "MultiStore"]


def MultiStore(paths: Sequence[str | Path]) -> Store:
    """Deprecated: use ``Store.attach_many(paths)``.

    Example:
        >>> MultiStore(["a.duckdb", "b.duckdb"])   # doctest: +SKIP
    """
    warn_moved("llmobs_nb.store.multi.MultiStore", "llmobs_nb.store.Store.attach_many")
    return Store.attach_many(paths)
