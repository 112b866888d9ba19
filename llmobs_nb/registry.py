"""The process-wide registry of observers: one live observer per store file.

Re-running ``llmobs_nb.init(db=...)`` in a kernel returns the observer already writing that
file (DuckDB allows one writer per file); ``llmobs_nb.open`` and the ``%%llmobs_sql`` magic look
the writer of a file up here; closed observers hand their traced code to the file's next
observer through :func:`live_for`. The registry holds any object with ``project``, ``closed``
and ``db_path``: it imports nothing of llmobs_nb.

Example:
    >>> class Obs:  # what an observer looks like to the registry
    ...     project, closed, db_path = "doc", False, ":memory:"
    >>> obs, created = get_or_create(":memory:", "doc", Obs)
    >>> created, live_for(":memory:", "doc") is obs, get_or_create(":memory:", "doc", Obs)[0] is obs
    (True, True, True)
    >>> forget(obs)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# key (see key()) → the observer registered for it. Never rebound: a reader may hold it.
_OBSERVERS: dict[tuple[str, str], Any] = {}
_REGISTRY_LOCK = threading.Lock()


def key(db: str | Path, project: str) -> tuple[str, str]:
    """The registry key of a store: its resolved path, or ``(":memory:", project)``.

    Example:
        >>> key(":memory:", "p")
        (':memory:', 'p')
    """
    path = str(db)
    if path == ":memory:":
        return (path, project)
    return (str(Path(path).expanduser().resolve()), "")


def get_or_create(db: str | Path, project: str, create: Callable[[], T]) -> tuple[T, bool]:
    """The open observer registered for ``db`` (else ``create()``'s, registered now) and
    whether it was created now. Another project on a file already open raises ``ValueError``.

    Example:
        >>> get_or_create(":memory:", "p", object)   # doctest: +SKIP
    """
    found = key(db, project)
    with _REGISTRY_LOCK:
        existing = _OBSERVERS.get(found)
        if existing is not None and not existing.closed:
            if existing.project != project:
                raise ValueError(
                    f"{existing.db_path} is already open in this process for project "
                    f"{existing.project!r}; close that observer first (obs.close()) or use "
                    f"another file for project {project!r}"
                )
            return existing, False
        observer = create()
        _OBSERVERS[found] = observer
        return observer, True


def forget(observer: Any) -> None:
    """Take ``observer`` out of the registry (it closed).

    Example:
        >>> forget(object())   # not registered: nothing to do
    """
    with _REGISTRY_LOCK:
        for found, value in list(_OBSERVERS.items()):
            if value is observer:
                del _OBSERVERS[found]


def live_for(db_path: str | Path, project: str) -> Any | None:
    """The observer registered for a store (open or closing), or None; one dict read, no lock,
    so traced code of a closed observer can ask it at every call.

    Example:
        >>> live_for(":memory:", "nobody") is None
        True
    """
    return _OBSERVERS.get(key(db_path, project))


def live_observers() -> list[Any]:
    """Every registered observer, oldest first.

    Example:
        >>> isinstance(live_observers(), list)
        True
    """
    with _REGISTRY_LOCK:
        return list(_OBSERVERS.values())


def observer_for_path(path: str) -> Any | None:
    """The observer registered for the store file at ``path`` (resolved), or None.

    Example:
        >>> observer_for_path("/nonexistent.duckdb") is None
        True
    """
    with _REGISTRY_LOCK:
        return _OBSERVERS.get((path, ""))


def port_holder(port: int, but: Any = None) -> str | None:
    """Who holds ``port`` among the registered observers serving metrics (other than
    ``but``, an observer or its metrics), as a phrase for ``PortInUseError``; None if none.

    Example:
        >>> port_holder(9464) is None   # no observer serves metrics here
        True
    """
    for other in live_observers():
        server = getattr(other.metrics, "server", None)
        mine = other is but or other.metrics is but
        if not mine and server is not None and server.port == port:
            return (
                f"the observer of {other.db_path} in this kernel, which serves "
                f"{server.url} (close it, or call its metrics.close())"
            )
    return None


def _renew_lock_in_child() -> None:
    # A fork may happen while another thread holds the lock: the child's copy would stay held.
    global _REGISTRY_LOCK
    _REGISTRY_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_lock_in_child)
