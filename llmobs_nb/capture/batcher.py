"""One background batcher: a deque the callers append to, a wake-up Event and one daemon
thread that hands the items to a handler every interval, or at once when enough wait.

Used by the span flush (``tracing.BufferingProcessor``, thread ``llmobs_nb-flush``) and by
online evaluation (``evals/online.OnlineEvaluator``, thread ``llmobs-online-eval``). Appending
(:meth:`Batcher.put`) takes no lock: a ``deque.append``, a length check and, when the thread
should wake, one ``Event.set``. The handler runs on the thread only (and wherever its owner
calls it under its own lock); it takes items with :meth:`Batcher.take`. See docs/design.md §4
(threads).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger("llmobs_nb")


def _log_error(exc: BaseException) -> None:
    log.warning("a background batch failed (%s: %s)", type(exc).__name__, exc)


class Batcher(Generic[T]):
    """Items appended by any thread, handed to ``handle`` on one daemon thread ``name``.

    The thread sleeps ``interval_s`` (or ``next_wait()`` seconds, when given: a retry due
    sooner), or until ``wake_at`` items wait, :meth:`wake` or :meth:`stop`; then it calls
    ``handle(final)``, ``final`` being True once a stop was asked. It ends after a final call
    (with ``finish=True``, only once no item is left). ``maxsize`` bounds the items: past it
    :meth:`put` refuses (returns False) and the caller counts the drop. ``handle`` should not
    raise; if it does, ``on_error`` gets the exception and the thread goes on.

    Example:
        >>> seen = []
        >>> b = Batcher(lambda final: seen.extend(b.take()), name="demo", interval_s=60,
        ...             wake_at=2)
        >>> b.put(1), b.put(2)
        (True, True)
        >>> b.close(timeout=5)
        True
        >>> seen
        [1, 2]
    """

    def __init__(
        self,
        handle: Callable[[bool], object],
        *,
        name: str,
        interval_s: float,
        wake_at: int = 1,
        maxsize: int | None = None,
        next_wait: Callable[[], float] | None = None,
        on_error: Callable[[BaseException], object] = _log_error,
        finish: bool = False,
        start: bool = True,
    ) -> None:
        # With start=False, call start() once the handler can run (its owner is built).
        self.items: deque[T] = deque()
        self.name = name
        self._handle = handle
        self.interval_s = interval_s
        self._wake_after = wake_at - 1  # items waiting before a put that wakes the thread
        self._maxsize = sys.maxsize if maxsize is None else maxsize
        self._next_wait = next_wait
        self._on_error = on_error
        self._finish = finish
        self._stopping = False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        if start:
            self._thread.start()

    def start(self) -> None:
        """Start the thread (made with ``start=False``: once the owner holds the batcher)."""
        self._thread.start()

    # -- any thread ------------------------------------------------------------------------
    def put(self, item: T) -> bool:
        """Append ``item``; False (nothing appended) when ``maxsize`` items wait already.

        Lock-free: an append and, when ``wake_at`` items wait and the thread sleeps, a wake-up.
        """
        items = self.items
        waiting = len(items)
        if waiting >= self._maxsize:
            return False
        items.append(item)
        if waiting >= self._wake_after and not self._wake.is_set():
            self._wake.set()
        return True

    def take(self, limit: int | None = None) -> list[T]:
        """Remove and return the items waiting now, oldest first, at most ``limit``.

        Only what waits when called: items other threads append meanwhile stay for the next
        call, so a caller never chases a producer that is faster than it.
        """
        items = self.items
        count = len(items) if limit is None else min(limit, len(items))
        return [items.popleft() for _ in range(count)]

    def wake(self) -> None:
        """Make the thread run its handler now instead of at the end of its interval."""
        self._wake.set()

    def stop(self) -> None:
        """Ask the thread to make its final call and end; returns at once (see :meth:`close`)."""
        self._stopping = True
        self._wake.set()

    def close(self, timeout: float | None = 30.0) -> bool:
        """Stop and wait up to ``timeout`` s for the thread; True once it has ended. From the
        thread itself (a handler closing its owner) it only asks."""
        self.stop()
        thread = self._thread
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
        return not thread.is_alive()

    @property
    def stopping(self) -> bool:
        """A stop was asked (:meth:`stop` or :meth:`close`)."""
        return self._stopping

    @property
    def alive(self) -> bool:
        """The thread runs."""
        return self._thread.is_alive()

    # -- forked child ----------------------------------------------------------------------
    def reset_after_fork(self) -> None:
        """In a forked child (only the forking thread survives a fork): drop the parent's
        items, renew the Event and start a new thread, unless a stop was asked before."""
        self.items = deque()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        if not self._stopping:
            self._thread.start()

    # -- the thread --------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            if not self._stopping:  # once stopping, round after round until it may end
                wait = self.interval_s if self._next_wait is None else self._next_wait()
                self._wake.wait(wait)
            # Cleared before handling: an item appended after this point wakes it again.
            self._wake.clear()
            final = self._stopping
            failed = False
            try:
                self._handle(final)
            except Exception as exc:
                failed = True
                self._on_error(exc)
            if final and (failed or not self._finish or not self.items):
                return
