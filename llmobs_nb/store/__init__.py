"""The DuckDB store: tables spans, scores, runs, prices and the llm_calls view."""

from llmobs_nb.store.errors import (
    CorruptStoreError,
    ForkedChildError,
    NotAStoreError,
    SchemaTooNewError,
    StoreError,
    StoreLockedError,
)
from llmobs_nb.store.store import MEMORY, Store

__all__ = [
    "MEMORY",
    "CorruptStoreError",
    "ForkedChildError",
    "NotAStoreError",
    "SchemaTooNewError",
    "Store",
    "StoreError",
    "StoreLockedError",
]
