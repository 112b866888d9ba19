"""Child processes: what a fork (or a multiprocessing worker) does with the observers it has.

The rule — a call that returned in a child process is on disk; nothing is lost silently and
nothing hangs:

* **forked child** (``os.fork()``, multiprocessing's ``fork`` start method, the default on
  Linux before Python 3.14): every observer the child inherits records the child's spans into
  the store's sidecar folder (``<file>.pending/``, see :mod:`llmobs_nb.store.sidecar`), one
  atomically renamed Arrow file per finished call tree, written *before the call returns*
  (when a span with no parent in the child ends). The parent's flush thread takes the files in
  (within ``flush_interval_s``; ``obs.calls()`` and ``obs.flush()`` take them in at once), so
  after ``Pool.map`` returns the parent reads every call. A child killed by SIGTERM
  (``Pool.terminate()``, which ``with Pool() as p:`` does on exit) or leaving by ``os._exit``
  loses only calls still running. The child never uses, checkpoints or closes the parent's
  DuckDB connection (it is abandoned: :meth:`Store.abandon`), never uses polars (not
  fork-safe once its thread pool ran) nor anything locked by the parent. Spans the parent
  started before the fork stay the parent's (not recorded again by the child).
* **reads in a forked child** (``obs.calls()``, ``obs.sql()``, ``score()``, ``run()``) raise
  :class:`ForkedChildError` saying to read in the parent: the parent holds the file, and the
  child's own rows are not in it until the parent takes them in.
* **spawned (or forkserver) workers** calling ``llmobs_nb.init(db=...)`` on their own file
  write their own store as any process does (by batch, in the background). Multiprocessing
  children skip atexit, so there the observers are closed (flushed, file checkpointed) when
  the worker leaves: normally, through a ``multiprocessing.util.Finalize``; by SIGTERM
  (``Pool.terminate()``), through a handler installed only in multiprocessing children, only
  in place of the default action, which closes them (waiting at most ``TERM_FLUSH_S``) and then
  dies of the signal as before. Read the files together with ``llmobs_nb.open_many([...])``
  once the workers are gone. ``init`` on the parent's file raises ``StoreLockedError``.
* SIGKILL (or a crash) loses what a process had not written yet: in a forked child nothing
  that returned; elsewhere at most one flush interval.

The cost: in a forked child, each finished call tree is one small file (created and renamed,
not fsynced: it survives the child, not a machine crash) — a few hundred microseconds on a
local disk or tmpfs. The parent takes many such files in with one write.

Example:
    >>> import multiprocessing, llmobs_nb                          # doctest: +SKIP
    >>> obs = llmobs_nb.init(db="runs.duckdb")                      # doctest: +SKIP
    >>> ask = obs.observe(model="gpt-4o")(lambda q: q)              # doctest: +SKIP
    >>> with multiprocessing.get_context("fork").Pool(4) as pool:   # doctest: +SKIP
    ...     pool.map(ask, range(1000))
    >>> obs.calls().height                                          # doctest: +SKIP
    1000
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import weakref
from typing import Any

from llmobs_nb.store import sidecar

log = logging.getLogger("llmobs_nb")

# How long a fork waits for a flush in progress before going ahead (the child is safe either
# way: it renews every lock and never touches the parent's connection).
LOCK_WAIT_S = 10.0
# How long a multiprocessing child killed by SIGTERM spends closing its observers.
TERM_FLUSH_S = 10.0

_tracked: weakref.WeakSet[Any] = weakref.WeakSet()
_held: list[Any] = []
_installed = False
_exit_hook_pid: int | None = None
_closing = False  # close_all is running (a SIGTERM then lets it finish)


class _Token:
    """A weakref-able key for ``multiprocessing.util.register_after_fork``."""


_TOKEN = _Token()
_mp_hooked = False


def track(observer: Any) -> None:
    """Look after a writable observer across forks (called by ``Observer.__init__``).

    What this module uses of it: ``capture.processor._drain_lock`` and ``store._lock`` (held
    across a fork), ``_after_fork_in_child()`` (run in a forked child, where it renews its own
    locks), ``flush()``, ``close()``, ``closed``, ``store`` and ``db_path``. It never imports
    the observer: the registry of observers renews its own lock (``llmobs_nb.registry``).

    Inside a multiprocessing child, the observer is also closed when the worker exits,
    normally or by SIGTERM.

    Example:
        >>> obs = llmobs_nb.init(db=":memory:")   # doctest: +SKIP
        >>> track(obs)                            # doctest: +SKIP
    """
    _install()
    _tracked.add(observer)
    if in_child_process():
        _close_at_process_exit()
        _close_on_sigterm()


def closed(observer: Any) -> None:
    """An observer closed (called by ``Observer.close``): when it was the last open one of a
    multiprocessing child, SIGTERM gets its default action back.

    The handler exists to write an open observer's rows before the process dies. With none
    open it has nothing to do, and it can only hurt: CPython runs it in the main thread, so
    a SIGTERM the kernel hands to another thread (numpy's, polars') while the main thread
    sleeps in a C call (a pool worker waiting for its next task) would never end the worker,
    and ``Pool.terminate`` would wait for it forever.

    Example:
        >>> closed(object())   # nothing tracked: nothing to do
    """
    if not in_child_process() or _live():
        return
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def in_child_process() -> bool:
    """Whether this process is a multiprocessing child (any start method).

    Example:
        >>> in_child_process()
        False
    """
    mp = sys.modules.get("multiprocessing")
    return mp is not None and mp.parent_process() is not None


def _install() -> None:
    global _installed
    if _installed or not hasattr(os, "register_at_fork"):
        return
    _installed = True
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_in_parent, after_in_child=_after_in_child
    )


def _live() -> list[Any]:
    return [obs for obs in list(_tracked) if obs.capture is not None and not obs.closed]


def _before_fork() -> None:
    """Hold every flush and store lock, so no fork happens mid-flush or mid-query."""
    held: list[Any] = []
    try:
        for obs in _live():
            # The order a flush takes them in: drain lock, then the store's lock.
            for lock in (obs.capture.processor._drain_lock, obs.store._lock):
                if lock.acquire(timeout=LOCK_WAIT_S):
                    held.append(lock)
                else:
                    log.warning(
                        "llmobs_nb: a flush of %s still runs after %.0f s; forking anyway "
                        "(the child does not touch the parent's store)",
                        obs.db_path,
                        LOCK_WAIT_S,
                    )
        _hook_multiprocessing()
    except Exception as exc:  # a failing hook must never stop the user's fork
        log.warning("llmobs_nb: before-fork hook failed (%s: %s)", type(exc).__name__, exc)
    _held[:] = held


def _after_in_parent() -> None:
    held, _held[:] = list(_held), []
    for lock in reversed(held):
        with contextlib.suppress(RuntimeError):
            lock.release()


def _after_in_child() -> None:
    """Make every inherited observer write into its sidecar; renew what the parent locked."""
    _held.clear()
    try:
        sidecar._counter_lock = threading.Lock()
        for obs in list(_tracked):
            try:
                obs._after_fork_in_child()
            except Exception as exc:
                log.warning(
                    "llmobs_nb: could not prepare the observer of %s in a forked child "
                    "(%s: %s); its calls here are not recorded",
                    obs.db_path,
                    type(exc).__name__,
                    exc,
                )
    except Exception as exc:
        log.warning("llmobs_nb: after-fork hook failed (%s: %s)", type(exc).__name__, exc)


def _hook_multiprocessing() -> None:
    """Have multiprocessing's children close their observers at exit (they skip atexit)."""
    global _mp_hooked
    util = sys.modules.get("multiprocessing.util")
    if _mp_hooked or util is None:
        return
    _mp_hooked = True
    # Runs in a multiprocessing child after it cleared the finalizers it inherited.
    util.register_after_fork(_TOKEN, lambda _token: _close_at_process_exit())


def _close_at_process_exit() -> None:
    global _exit_hook_pid
    if _exit_hook_pid == os.getpid():
        return
    _exit_hook_pid = os.getpid()
    from multiprocessing import util

    util.Finalize(None, close_all, exitpriority=100)


def _close_on_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # someone else's handler (or an earlier one of ours): leave it
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: Any) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    if _closing:
        return  # it interrupted the exit's own close_all: let that finish, the process leaves
    # In another thread, with a deadline: the main thread was interrupted somewhere, perhaps
    # holding a lock the flush needs; then the rows it held are lost, never the process stuck.
    closer = threading.Thread(target=_write_and_close_stores, name="llmobs_nb-sigterm")
    closer.daemon = True
    closer.start()
    closer.join(TERM_FLUSH_S)
    os.kill(os.getpid(), signum)


def _write_and_close_stores() -> None:
    """The least a dying process needs: buffered rows written, files closed. (Not
    ``Observer.close``, which also stops threads and takes locks the interrupted main thread
    may hold.)"""
    for obs in _live():
        try:
            obs.flush()
            obs.store.close()
        except Exception as exc:
            log.warning(
                "llmobs_nb: could not write %s before dying of SIGTERM (%s: %s)",
                obs.db_path,
                type(exc).__name__,
                exc,
            )


def close_all() -> None:
    """Close every live observer this module tracks (best effort, each on its own).

    In a forked child this writes the remaining spans into the sidecar folder; elsewhere it
    flushes and closes the file.

    Example:
        >>> close_all()
    """
    global _closing
    _closing = True
    try:
        for obs in _live():
            try:
                obs.close()
            except Exception as exc:
                log.warning(
                    "llmobs_nb: could not close the observer of %s at exit (%s: %s)",
                    obs.db_path,
                    type(exc).__name__,
                    exc,
                )
    finally:
        _closing = False
