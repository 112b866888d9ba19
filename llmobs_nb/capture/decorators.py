"""``observe``: thin sync, async, generator and async-generator shells around SpanScope."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry import context as otel_context

from llmobs_nb.capture.scope import SpanScope
from llmobs_nb.capture.streams import (
    AsyncTracedStream,
    TracedStream,
    aiterate,
    is_async_stream,
    is_sync_stream,
    iterate,
)

F = TypeVar("F", bound=Callable[..., Any])
ScopeFactory = Callable[[tuple[Any, ...], dict[str, Any], Any], SpanScope]


def finish(scope: SpanScope, result: Any) -> Any:
    """Read a sync call's result; a returned stream takes over the span."""
    if is_sync_stream(result):
        scope.hand_off()
        return TracedStream(result, scope)
    if is_async_stream(result):
        scope.hand_off()
        return AsyncTracedStream(result, scope)
    scope.read_response(result)
    return result


def wrap(fn: F, make_scope: ScopeFactory) -> F:
    """Return ``fn`` traced: each call runs inside a span from ``make_scope``."""
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            scope = make_scope(args, kwargs, otel_context.get_current())
            return aiterate(scope, fn(*args, **kwargs).__aiter__())

        return async_gen_wrapper  # type: ignore[return-value]

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            scope = make_scope(args, kwargs, otel_context.get_current())
            return iterate(scope, fn(*args, **kwargs))

        return gen_wrapper  # type: ignore[return-value]

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            scope = make_scope(args, kwargs, None)
            with scope:
                return finish(scope, await fn(*args, **kwargs))

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
        scope = make_scope(args, kwargs, None)
        with scope:
            return finish(scope, fn(*args, **kwargs))

    return sync_wrapper  # type: ignore[return-value]
