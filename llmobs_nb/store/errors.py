"""Errors the store raises, each saying what was wrong and what to do."""

from __future__ import annotations


class StoreError(RuntimeError):
    """Base class of the store's errors."""


class StoreLockedError(StoreError):
    """The DuckDB file is held for writing by another process."""


class SchemaTooNewError(StoreError):
    """The file was written by a newer llmobs_nb; it is refused, never rewritten."""


class NotAStoreError(StoreError):
    """The file exists but is not an llmobs_nb store (not DuckDB, or no llmobs_nb schema)."""


class CorruptStoreError(StoreError):
    """The file is a DuckDB database but damaged (truncated, overwritten); it is left as is."""


class ForkedChildError(StoreError):
    """A forked child used its parent's store: DuckDB connections do not survive a fork."""
