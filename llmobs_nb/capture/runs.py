"""Runs (experiments): ``with obs.run(name, params):`` tags every span inside with the run and
writes its row into the ``runs`` table.

The name, the project and the params are stored as spans store them: with secrets masked (a
key that names a secret, such as ``api_key``, keeps no value). A run gets its ``ended_at``
when its block ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from llmobs_nb.capture import labels as lb
from llmobs_nb.capture.redact import redact_params, redact_text


@contextlib.contextmanager
def recording(
    store: Any,
    name: str,
    project: str,
    params: dict[str, Any] | None,
    *,
    can_end: Callable[[], bool] = lambda: True,
) -> Iterator[str]:
    """A run block: its row written now, every span inside labelled with the stored name
    (yielded), ``ended_at`` set on leaving unless ``can_end()`` is false then (the store
    was closed inside the block).

    Example:
        >>> from llmobs_nb.store import Store
        >>> with recording(Store(), "prompt-v2", "doc", {"temperature": 0.2}) as name:
        ...     lb.current_labels.get()["run"]
        'prompt-v2'
    """
    name = start_run(store, name, project, params)
    token = lb.current_labels.set(lb.merged(run=name))
    try:
        yield name
    finally:
        lb.current_labels.reset(token)
        if can_end():
            end_run(store, name, project)


def start_run(store: Any, name: str, project: str, params: dict[str, Any] | None) -> str:
    """Write the row of a run starting now into ``store``; returns the name as stored.

    Example:
        >>> from llmobs_nb.store import Store
        >>> store = Store()
        >>> start_run(store, "prompt-v2", "doc", {"api_key": "sk-abc", "temperature": 0.2})
        'prompt-v2'
        >>> end_run(store, "prompt-v2", "doc")
    """
    if not name:
        raise ValueError("a run needs a non-empty name")
    name = redact_text(name)  # the run label is redacted in each span too
    store.write_runs(
        pa.table(
            {
                "name": [name],
                "project": [redact_text(project)],  # as spans.project stores it
                "params": [redact_params(params)],
                "started_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
            }
        )
    )
    return name


def end_run(store: Any, name: str, project: str) -> None:
    """Set ``ended_at`` of the open run ``name`` (as :func:`start_run` returned it)."""
    store.execute(
        "UPDATE runs SET ended_at = now() WHERE name = ? AND project = ? AND ended_at IS NULL",
        [name, redact_text(project)],
    )
