"""What every local server shares: ``with server:`` starts it and stops it, whatever happens."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class StartStop:
    """A server used as a context manager: entering calls ``start()``, leaving ``stop()``.

    Subclasses define ``start`` (returning the server) and ``stop``.

    Example:
        >>> class Echo(StartStop):
        ...     running = False
        ...     def start(self):
        ...         self.running = True
        ...         return self
        ...     def stop(self):
        ...         self.running = False
        >>> with Echo() as server:
        ...     server.running
        True
        >>> server.running
        False
    """

    def start(self) -> Self:
        """Start serving; return the server."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving and release what the server holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
