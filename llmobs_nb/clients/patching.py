"""Patching SDK resource methods on one client instance, and undoing it.

Only the given client object changes (instance attributes shadow the class's methods), so other
clients in the process are untouched; ``uninstrument`` deletes the shadows. Patching twice is a
no-op. Retries are counted by wrapping the client's ``_build_request``, which the Stainless
base client of both SDKs calls once per HTTP attempt, in the caller's thread or task.

Spans come from the observer's :class:`~llmobs_nb.capture.tracer.Tracer` (``obs.tracer``);
calls inside :func:`~llmobs_nb.capture.tracer.suppress_instrumentation` (OpenTelemetry's
suppress-instrumentation key) are not traced.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context

from llmobs_nb._deprecated import moved_names
from llmobs_nb.capture import semconv as sc
from llmobs_nb.capture.decorators import finish
from llmobs_nb.capture.scope import SpanScope, capture_error
from llmobs_nb.capture.tracer import Tracer, instrumentation_suppressed, tracer_of

_MARK = "__llmobs_nb_patched__"
_PATCHES = "__llmobs_nb_patches__"
_attempts: ContextVar[list[int] | None] = ContextVar("llmobs_nb_attempts", default=None)


# Moved to capture (evals and clients share it); the old name works for one release.
__getattr__ = moved_names(
    __name__, {"suppress_instrumentation": "llmobs_nb.capture.tracer:suppress_instrumentation"}
)


REQUEST_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "seed": "gen_ai.request.seed",
}


def _patches(client: Any) -> list[tuple[Any, str]]:
    found = client.__dict__.get(_PATCHES)
    if found is None:
        found = []
        client.__dict__[_PATCHES] = found
    return found


def is_instrumented(client: Any) -> bool:
    return bool(client.__dict__.get(_PATCHES))


def prepare(client: Any, sdk: str, classes: tuple[type, type], *, other: str) -> bool | None:
    """Before patching ``client``: TypeError unless it is one of the ``sdk``'s sync and async
    client ``classes`` (naming ``other``'s instrumentation instead); None when it is
    instrumented already; else its HTTP attempts are counted from now on and the answer is
    whether it is the async client (the caller patches its methods).

    Example:
        >>> class Sync: ...
        >>> class Async: ...
        >>> prepare(object(), "demo", (Sync, Async), other="OpenAI")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        TypeError: instrument_demo needs a demo.Sync or demo.Async, got object; for OpenAI ...
    """
    if not isinstance(client, classes):
        sync, async_ = (f"{sdk}.{cls.__name__}" for cls in classes)
        article = "an" if sync[0] in "aeiou" else "a"
        raise TypeError(
            f"instrument_{sdk} needs {article} {sync} or {async_}, got {type(client).__name__}; "
            f"for {other} use obs.instrument_{other.lower()}(client)"
        )
    if is_instrumented(client):
        return None
    count_attempts(client)
    return isinstance(client, classes[1])


def uninstrument(client: Any) -> None:
    """Restore a client instrumented by ``obs.instrument_openai/anthropic``; harmless if not."""
    for owner, name in client.__dict__.pop(_PATCHES, []):
        owner.__dict__.pop(name, None)


def count_attempts(client: Any) -> None:
    """Count HTTP attempts of each traced call (first try + retries)."""
    original = client._build_request

    @functools.wraps(original)
    def build_request(*args: Any, **kwargs: Any) -> Any:
        box = _attempts.get()
        if box is not None:
            box[0] += 1
        return original(*args, **kwargs)

    setattr(build_request, _MARK, True)
    client.__dict__["_build_request"] = build_request
    _patches(client).append((client, "_build_request"))


def _request_attributes(kwargs: dict[str, Any], operation: str, provider: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: operation,
        sc.GEN_AI_PROVIDER_NAME: provider,
    }
    model = kwargs.get("model")
    if isinstance(model, str):
        attrs[sc.GEN_AI_REQUEST_MODEL] = model
    for key, attr in REQUEST_PARAMS.items():
        value = kwargs.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attrs[attr] = value
    if kwargs.get("stream") is True:
        attrs[sc.LLMOBS_STREAM] = True
    return attrs


def start_call(
    tracer: Tracer,
    kwargs: dict[str, Any],
    *,
    operation: str,
    provider: str,
    kind: str,
    parent: Any = None,
) -> SpanScope:
    """A started span for one SDK call, from ``tracer``'s live tracer (:meth:`Tracer.live`).

    Never raises: with no live tracer, or when capture fails (counted, logged), the scope is
    one that records nothing and the call goes on.
    """
    try:
        attrs = _request_attributes(kwargs, operation, provider)
        attrs[sc.LLMOBS_KIND] = kind
        name = f"{operation} {attrs.get(sc.GEN_AI_REQUEST_MODEL, '')}".strip()
        scope = tracer.call_scope(
            name,
            kind,
            (),
            kwargs,
            parent_context=parent,
            preset=attrs,  # str, int, float and bool values only: valid by construction
        )
        if scope is None:
            return SpanScope.disabled(name, tracer.errors)
    except Exception as exc:
        capture_error("scope", exc, getattr(tracer, "errors", None))
        return SpanScope.disabled(operation)
    scope.start_safely()
    return scope


def _after_request(scope: SpanScope, box: list[int], result: Any) -> None:
    try:
        if box[0] > 1:
            scope.span.set_attribute("http.request.resend_count", box[0] - 1)
        response = getattr(result, "response", None)  # streams keep the HTTP response
        headers = getattr(response, "headers", None)
        if headers is not None:
            rid = headers.get("x-request-id") or headers.get("request-id")
            if rid:
                scope.span.set_attribute(sc.LLMOBS_REQUEST_ID, rid)
    except Exception as exc:
        scope.error("response", exc)


def patch_method(
    obs: Any,
    client: Any,
    resource: Any,
    name: str,
    *,
    operation: str,
    provider: str,
    kind: str = "llm",
    is_async: bool,
) -> None:
    """Shadow ``resource.name`` with a traced version (once), tracing into ``obs``'s tracer
    (an observer, or a :class:`Tracer`)."""
    current = getattr(resource, name)
    if getattr(current, _MARK, False):
        return
    original: Callable[..., Any] = current
    tracer = tracer_of(obs)

    def call() -> SDKCall:
        return SDKCall(tracer, operation=operation, provider=provider, kind=kind)

    if is_async:

        @functools.wraps(original)
        async def traced(*args: Any, **kwargs: Any) -> Any:
            if instrumentation_suppressed():
                return await original(*args, **kwargs)
            running = call().begin(kwargs)
            try:
                result = await original(*args, **kwargs)
            except BaseException as exc:
                running.failed(exc)
                raise
            return running.done(result)

    else:

        @functools.wraps(original)
        def traced(*args: Any, **kwargs: Any) -> Any:
            if instrumentation_suppressed():
                return original(*args, **kwargs)
            running = call().begin(kwargs)
            try:
                result = original(*args, **kwargs)
            except BaseException as exc:
                running.failed(exc)
                raise
            return running.done(result)

    setattr(traced, _MARK, True)
    resource.__dict__[name] = traced
    _patches(client).append((resource, name))


class SDKCall:
    """One traced SDK call: between :meth:`begin` and :meth:`done` (or :meth:`failed`) its span
    is current and its HTTP attempts are counted; an exception ends the span as failed,
    ``done(result)`` reads the result (a stream takes the span over). Nothing here raises into
    the call: capture failures are counted and logged."""

    def __init__(self, tracer: Tracer, *, operation: str, provider: str, kind: str) -> None:
        self.tracer, self.operation, self.provider, self.kind = tracer, operation, provider, kind
        self.attempts = [0]
        self._token: Any = None

    def begin(self, kwargs: dict[str, Any]) -> SDKCall:
        """Start the span and make it current; returns self."""
        self.scope = start_call(
            self.tracer, kwargs, operation=self.operation, provider=self.provider, kind=self.kind
        )
        self._token = _attempts.set(self.attempts)
        self.scope.attach_safely()
        return self

    def _leave(self) -> None:
        self.scope.detach()
        token, self._token = self._token, None
        if token is not None:
            try:
                _attempts.reset(token)
            except Exception as exc:
                self.scope.error("end", exc)

    def failed(self, exc: BaseException) -> None:
        """The SDK call raised ``exc``: record it and end the span (never raises)."""
        self._leave()
        _after_request(self.scope, self.attempts, None)
        self.scope.fail(exc)
        self.scope.end()

    @contextlib.contextmanager
    def started(self, kwargs: dict[str, Any]) -> Iterator[SDKCall]:
        """``with call.started(kwargs) as running: ...`` — :meth:`begin` as a block."""
        self.begin(kwargs)
        try:
            yield self
        except BaseException as exc:
            self.failed(exc)
            raise
        else:
            self._leave()

    def done(self, result: Any) -> Any:
        """Read the SDK's result; returns what the caller gets (the result, or its stream)."""
        if self._token is not None:
            self._leave()
        _after_request(self.scope, self.attempts, result)
        return finish_and_end(self.scope, result)


def finish_and_end(scope: SpanScope, result: Any) -> Any:
    """Read a result; end the span now unless a stream took it over."""
    wrapped = finish(scope, result)
    if not scope._handed_off:
        scope.end()
    return wrapped


def current_context() -> Any:
    return otel_context.get_current()
