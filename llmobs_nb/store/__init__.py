"""The DuckDB store: tables spans, scores, runs, prices and the llm_calls view."""

from llmobs_nb.store.errors import (
    NotAStoreError,
    SchemaTooNewError,
    StoreError,
    StoreLockedError,
)
from llmobs_nb.store.store import MEMORY, Store

__all__ = [
    "MEMORY",
    "NotAStoreError",
    "SchemaTooNewError",
    "Store",
    "StoreError",
    "StoreLockedError",
]
