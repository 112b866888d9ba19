"""``observe``: thin sync, async, generator and async-generator shells around SpanScope.

A shell never changes what the call does: the function runs with the same arguments, its
result is returned as is (a returned stream is wrapped so its span stays open while it is
read), its exception propagates as the same object. Capture that fails — building the scope,
starting or ending the span, reading the result — is counted and logged, and the call goes on;
when ``make_scope`` gives None (no live observer) the call simply runs untraced.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry import context as otel_context

from llmobs_nb.capture.errors import CaptureErrors
from llmobs_nb.capture.scope import SpanScope, capture_error
from llmobs_nb.capture.streams import (
    AsyncTracedStream,
    TracedStream,
    aiterate,
    is_async_stream,
    is_sync_stream,
    iterate,
    not_a_stream,
)

F = TypeVar("F", bound=Callable[..., Any])
ScopeFactory = Callable[[tuple[Any, ...], dict[str, Any], Any], "SpanScope | None"]


def finish(scope: SpanScope, result: Any) -> Any:
    """Read a sync call's result; a returned stream takes over the span. Never raises.

    Example:
        >>> scope = SpanScope.disabled("chat")
        >>> finish(scope, {"usage": {"prompt_tokens": 1}})
        {'usage': {'prompt_tokens': 1}}
    """
    try:
        if not_a_stream(result):  # the usual answer: no stream checks
            pass
        elif is_sync_stream(result):
            stream: Any = TracedStream(result, scope)
            scope.hand_off()
            return stream
        elif is_async_stream(result):
            stream = AsyncTracedStream(result, scope)
            scope.hand_off()
            return stream
    except Exception as exc:  # a stream we cannot wrap is returned as is
        scope.error("stream", exc)
        return result
    scope.read_response(result)
    return result


def _close(scope: SpanScope, result: Any) -> Any:
    # After the call returned: the span stops being current, the result is read, the span ends
    # (unless a stream took it over). Returns what the caller gets.
    scope.detach()
    wrapped = finish(scope, result)
    if not scope._handed_off:
        scope.end()
    return wrapped


def wrap(fn: F, make_scope: ScopeFactory, errors: CaptureErrors | None = None) -> F:
    """Return ``fn`` traced: each call runs inside a span from ``make_scope``.

    ``make_scope`` returning None (or raising: counted in ``errors``) runs the call untraced.

    Example:
        >>> traced = wrap(lambda x: x + 1, lambda args, kwargs, parent: None)
        >>> traced(1)
        2
    """

    def begin(args: tuple[Any, ...], kwargs: dict[str, Any], parent: Any) -> SpanScope | None:
        try:
            return make_scope(args, kwargs, parent)
        except Exception as exc:
            capture_error("scope", exc, errors)
            return None

    # The sync and async shells inline ``begin`` (one call less on the hot path).

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            scope = begin(args, kwargs, otel_context.get_current())
            if scope is None:
                return fn(*args, **kwargs)
            return aiterate(scope, fn(*args, **kwargs).__aiter__())

        return async_gen_wrapper  # type: ignore[return-value]

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            scope = begin(args, kwargs, otel_context.get_current())
            if scope is None:
                return fn(*args, **kwargs)
            return iterate(scope, fn(*args, **kwargs))

        return gen_wrapper  # type: ignore[return-value]

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                scope = make_scope(args, kwargs, None)
            except Exception as exc:
                capture_error("scope", exc, errors)
                scope = None
            if scope is None or not scope.open():
                return await fn(*args, **kwargs)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                scope.close_failed(exc)
                raise
            return _close(scope, result)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            scope = make_scope(args, kwargs, None)
        except Exception as exc:
            capture_error("scope", exc, errors)
            scope = None
        if scope is None or not scope.open():
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            scope.close_failed(exc)
            raise
        return _close(scope, result)

    return sync_wrapper  # type: ignore[return-value]
