"""Before a read: the observer writes what it can, and says what the answer leaves out."""

from __future__ import annotations

import warnings
from typing import Any

from llmobs_nb.capture.errors import capture_failed
from llmobs_nb.capture.health import PendingRowsWarning


def write_before_read(processor: Any, store: Any) -> None:
    """Before a read: write what can be written, then warn if rows are still pending.

    Reads do not depend on writes: they answer from what is stored. While the store cannot be
    written, this retries past the backoff only once per failure episode (a read must not wait
    on a dead disk) and gives a :class:`PendingRowsWarning` naming how many captured rows the
    answer lacks. ``processor`` is the observer's ``BufferingProcessor``; nothing is raised.

    Example:
        >>> write_before_read(obs.capture.processor, obs.store)   # doctest: +SKIP
    """
    if store.needs_reopen:  # an invalidated connection answers no read either
        try:
            store.reopen()
        except Exception as exc:
            capture_failed("reopen the store for a read", exc)
    try:
        # A blip is retried at once (the first retry of an episode); after that a read waits
        # for no write: the backoff decides.
        processor.drain(force=processor.queue.failures < 2)
        health = processor.health()
    except Exception as exc:
        capture_failed("write spans before a read", exc)
        return
    if health.pending:
        warnings.warn(
            PendingRowsWarning(
                f"{health.pending} captured rows are not in {store.path} yet "
                f"({health.pending_memory} in memory, {health.pending_sidecar} in the sidecar "
                f"folder; last write error: {health.last_error or 'none'}); this answer leaves "
                f"them out. obs.health() shows the state."
            ),
            stacklevel=3,
        )
