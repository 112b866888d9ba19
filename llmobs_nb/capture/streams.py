"""Streams keep their span open until they are exhausted, closed or garbage-collected.

The span is made current only while the wrapped iterator runs (around each ``next``), never
across a ``yield``: a context attached in one step and detached in another would corrupt
whatever the consumer does in between.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from types import AsyncGeneratorType, GeneratorType
from typing import Any

from llmobs_nb.capture.scope import SpanScope


def iterate(scope: SpanScope, iterator: Iterator[Any]) -> Generator[Any, Any, Any]:
    """Yield from ``iterator``, feeding each chunk to ``scope``; end the span however it stops.

    Behaves like ``yield from iterator``: values sent in and exceptions thrown in reach the
    wrapped generator, its return value is returned, closing it closes the wrapped one.
    """
    if scope.span is None:
        scope.start_safely()  # when it cannot start, the scope records nothing: items still flow
    abandoned = False
    sent: Any = None
    thrown: BaseException | None = None
    try:
        while True:
            scope.attach_safely()
            try:
                if thrown is not None:
                    exc, thrown = thrown, None
                    throw = getattr(iterator, "throw", None)
                    if throw is None:
                        raise exc
                    item = throw(exc)
                elif sent is None:
                    item = next(iterator)
                else:
                    item = iterator.send(sent)  # type: ignore[attr-defined]
            except StopIteration as stop:
                return stop.value
            finally:
                scope.detach()
            scope.on_chunk(item)
            try:
                sent = yield item
            except GeneratorExit:
                raise
            except BaseException as exc:  # thrown in by the consumer: hand it on
                thrown = exc
    except GeneratorExit:
        abandoned = True
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
        raise
    except BaseException as exc:
        scope.fail(exc)
        raise
    finally:
        scope.end(abandoned=abandoned)


async def aiterate(scope: SpanScope, iterator: AsyncIterator[Any]) -> AsyncGenerator[Any, Any]:
    """Async twin of :func:`iterate` (``asend``/``athrow``/``aclose`` reach the wrapped one)."""
    if scope.span is None:
        scope.start_safely()
    abandoned = False
    sent: Any = None
    thrown: BaseException | None = None
    try:
        while True:
            scope.attach_safely()
            try:
                if thrown is not None:
                    exc, thrown = thrown, None
                    athrow = getattr(iterator, "athrow", None)
                    if athrow is None:
                        raise exc
                    item = await athrow(exc)
                elif sent is None:
                    item = await iterator.__anext__()
                else:
                    item = await iterator.asend(sent)  # type: ignore[attr-defined]
            except StopAsyncIteration:
                return
            finally:
                scope.detach()
            scope.on_chunk(item)
            try:
                sent = yield item
            except GeneratorExit:
                raise
            except BaseException as exc:
                thrown = exc
    except GeneratorExit:
        abandoned = True
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
        raise
    except BaseException as exc:
        scope.fail(exc)
        raise
    finally:
        scope.end(abandoned=abandoned)


class TracedStream:
    """A stream object returned by a traced call (e.g. ``openai.Stream``), with its span.

    Behaves like the wrapped stream (iteration, ``with``, ``close``, other attributes pass
    through); the span ends when the stream is exhausted, closed, or dropped.
    """

    def __init__(self, stream: Any, scope: SpanScope) -> None:
        self._stream = stream
        self._scope = scope
        self._iterator = iterate(scope, iter(stream))

    def __iter__(self) -> TracedStream:
        return self

    def __next__(self) -> Any:
        return next(self._iterator)

    def __enter__(self) -> TracedStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._iterator.close()
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()
        self._scope.end(abandoned=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __del__(self) -> None:
        scope = getattr(self, "_scope", None)
        if scope is not None and not scope._ended:
            scope.end(abandoned=True)


class AsyncTracedStream:
    """Async twin of :class:`TracedStream` (e.g. ``openai.AsyncStream``)."""

    def __init__(self, stream: Any, scope: SpanScope) -> None:
        self._stream = stream
        self._scope = scope
        self._iterator = aiterate(scope, stream.__aiter__())

    def __aiter__(self) -> AsyncTracedStream:
        return self

    async def __anext__(self) -> Any:
        return await self._iterator.__anext__()

    async def __aenter__(self) -> AsyncTracedStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        await self._iterator.aclose()  # type: ignore[attr-defined]
        close = getattr(self._stream, "close", None)
        if close is not None:
            result = close()
            if hasattr(result, "__await__"):
                await result
        self._scope.end(abandoned=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __del__(self) -> None:
        scope = getattr(self, "_scope", None)
        if scope is not None and not scope._ended:
            scope.end(abandoned=True)


_PLAIN = frozenset({dict, list, tuple, str, bytes, int, float, bool, type(None)})
# Classes whose instances are neither kind of stream (checked once per class).
_NOT_STREAMS: set[type] = set(_PLAIN)


def not_a_stream(value: Any) -> bool:
    """Whether ``value`` is certainly no stream of either kind (decided once per class: a
    generator or a ``*Stream`` class never is in this set).

    Example:
        >>> not_a_stream({"usage": {}}), not_a_stream(iter(()) for _ in ())
        (True, False)
    """
    cls = type(value)
    if cls in _NOT_STREAMS:
        return True
    if (
        issubclass(cls, GeneratorType | AsyncGeneratorType)
        or cls.__name__.endswith("Stream")
        or len(_NOT_STREAMS) >= 4096
    ):
        return False
    _NOT_STREAMS.add(cls)
    return True


def is_sync_stream(value: Any) -> bool:
    """A returned value that is a stream to keep the span open for."""
    if type(value) in _PLAIN:
        return False
    if isinstance(value, GeneratorType):
        return True
    return type(value).__name__.endswith("Stream") and hasattr(value, "__iter__")


def is_async_stream(value: Any) -> bool:
    """A returned value that is an async stream to keep the span open for."""
    if type(value) in _PLAIN:
        return False
    if isinstance(value, AsyncGeneratorType):
        return True
    return type(value).__name__.endswith("Stream") and hasattr(value, "__aiter__")
