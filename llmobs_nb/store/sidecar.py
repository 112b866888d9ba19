"""Rows that are not in the store yet, kept on disk beside it until the writer takes them in.

Two kinds of rows wait here, in one format and one folder:

* rows the writer could not write (a full disk, a failing file): spilled here once the
  in-memory bound is reached, so memory stays bounded with a dead disk;
* rows captured in a forked child process, which must not touch the parent's DuckDB
  connection: the child writes its batches here and the parent's next flush takes them in.

Each batch is one Arrow IPC file, written under a temporary name, flushed to disk and renamed
into place, so a reader never sees half a file (a process killed mid-write leaves only a
``.tmp`` file, which is ignored). The writer takes complete files in name order and deletes a
file only after its rows are committed to the store.

Example:
    >>> import tempfile, pyarrow as pa
    >>> side = Sidecar(tempfile.mkdtemp())
    >>> path = side.put(pa.table({"x": [1, 2]}))
    >>> [table.num_rows for _, table in side.batches()]
    [2]
    >>> side.done(path); side.pending_files()
    0
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

SUFFIX = ".arrow"
_TMP = ".tmp"
# groups() combines at most this many rows into one write.
TAKE_ROWS = 50_000
_counter = itertools.count()
_counter_lock = threading.Lock()


def sidecar_dir(store_path: str) -> Path | None:
    """The folder beside a store file where its waiting rows live (``None`` for ``:memory:``).

    Example:
        >>> sidecar_dir("/data/runs.duckdb").name
        'runs.duckdb.pending'
    """
    if store_path == ":memory:":
        return None
    return Path(store_path).with_name(Path(store_path).name + ".pending")


class Sidecar:
    """A folder of Arrow IPC batch files waiting to be written into the store."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)

    @classmethod
    def for_store(cls, store_path: str) -> Sidecar:
        """The sidecar of a store file (``<file>.pending/``), or a private temporary folder for
        ``:memory:`` (made only when a batch is first put there)."""
        found = sidecar_dir(store_path)
        if found is None:
            found = Path(tempfile.gettempdir()) / f"llmobs_nb-memory-{os.getpid()}-{id(cls)}"
        return cls(found)

    def put(self, table: pa.Table, *, sync: bool = True) -> Path:
        """Write ``table`` as one complete batch file (atomic rename); returns its path.

        With ``sync=False`` the file is not fsynced: it survives the writing process's death
        (it is in the page cache, visible to every process) but not the machine's crash.
        Names sort in write order within a process: ``<ns time>-<pid>-<seq>.arrow``.
        Raises ``OSError`` when the folder cannot be written (then nothing is left behind
        but, at worst, a ``.tmp`` file that readers ignore).
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        with _counter_lock:
            seq = next(_counter)
        name = f"{time.time_ns():020d}-{os.getpid()}-{seq:08d}{SUFFIX}"
        final = self.dir / name
        tmp = self.dir / (name + _TMP)
        try:
            with open(tmp, "wb") as raw:
                with ipc.new_file(raw, table.schema) as writer:
                    writer.write_table(table)
                raw.flush()
                if sync:
                    os.fsync(raw.fileno())
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return final

    def files(self) -> list[Path]:
        """Complete batch files, oldest first."""
        try:
            names = sorted(p for p in self.dir.iterdir() if p.name.endswith(SUFFIX))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return names

    def pending_files(self) -> int:
        """How many complete batch files are waiting."""
        return len(self.files())

    def batches(self) -> Iterator[tuple[Path, pa.Table]]:
        """Each waiting batch with its file, oldest first (unreadable files are skipped)."""
        for path in self.files():
            try:
                with ipc.open_file(path) as reader:
                    table = reader.read_all()
            except FileNotFoundError:
                continue  # taken by another flush meanwhile
            except (OSError, pa.ArrowInvalid):
                self.quarantine(path)
                continue
            yield path, table

    def pending_rows(self) -> int:
        """How many rows the waiting files hold (memory-mapped: only each batch's header is
        read, not its data)."""
        total = 0
        for path in self.files():
            with (
                contextlib.suppress(OSError, pa.ArrowInvalid),
                pa.memory_map(str(path)) as source,
                ipc.open_file(source) as reader,
            ):
                total += sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
        return total

    def groups(self, max_rows: int = TAKE_ROWS) -> Iterator[tuple[list[Path], pa.Table, bool]]:
        """Waiting batches, oldest first, consecutive ones of one schema and one origin combined
        into one table of up to ``max_rows`` rows, each with the files it came from and whether
        another process wrote them (a forked child, or an earlier process on this file).

        A forked child leaves one small file per call, and one store write per file would be
        slow; DuckDB also scans one table of thousands of one-row chunks slowly, so a group is
        one chunk. Delete the files (:meth:`done`) once the group's rows are committed.
        """
        group: list[tuple[Path, pa.Table]] = []
        rows = 0
        foreign = False
        for path, table in self.batches():
            elsewhere = written_elsewhere(path)
            if group and (
                rows + table.num_rows > max_rows
                or elsewhere != foreign
                or not table.schema.equals(group[0][1].schema)
            ):
                yield (*_combined(group), foreign)
                group, rows = [], 0
            group.append((path, table))
            rows += table.num_rows
            foreign = elsewhere
        if group:
            yield (*_combined(group), foreign)

    def done(self, path: Path) -> None:
        """The rows of ``path`` are committed to the store: delete the file."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def quarantine(self, path: Path) -> None:
        """Set aside a file that cannot be read (kept as ``.bad`` for a person to look at)."""
        with contextlib.suppress(OSError):
            path.rename(path.with_name(path.name + ".bad"))


def written_elsewhere(path: Path) -> bool:
    """Whether a batch file was written by another process than this one (its name holds the
    writer's pid: ``<ns time>-<pid>-<seq>.arrow``).

    Example:
        >>> written_elsewhere(Path("00000000000000000001-1-00000000.arrow"))
        True
    """
    parts = path.name.split("-")
    return len(parts) < 3 or parts[1] != str(os.getpid())


def _combined(group: list[tuple[Path, pa.Table]]) -> tuple[list[Path], pa.Table]:
    tables = [table for _, table in group]
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables).combine_chunks()
    return [path for path, _ in group], table
