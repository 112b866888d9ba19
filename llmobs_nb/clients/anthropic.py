"""``obs.instrument_anthropic(client)``: ``messages.create`` and the ``messages.stream`` helper."""

from __future__ import annotations

import functools
from typing import Any

from llmobs_nb.capture.scope import SpanScope
from llmobs_nb.capture.streams import aiterate, iterate
from llmobs_nb.capture.tracer import Tracer, tracer_of
from llmobs_nb.clients.patching import (
    _MARK,
    _patches,
    current_context,
    patch_method,
    prepare,
    start_call,
)


def instrument_anthropic(obs: Any, client: Any) -> Any:
    """Trace ``client`` (``anthropic.Anthropic`` or ``AsyncAnthropic``); returns the client.

    ``messages.create`` (plain and ``stream=True``) and ``messages.stream(...)`` become spans.
    Anthropic counts ``input_tokens`` without the cache; they are stored normalised (input
    includes cache reads and writes, see README) and cache reads and writes are priced at their
    own rates. If the Anthropic SDK's own OpenTelemetry tracing is on too (it is when a global
    tracer provider exists, e.g. ``init(set_global=True)``), its span of the same call is kept
    as a plain child span and not counted as a second LLM call. ``obs`` is the observer (or its
    :class:`~llmobs_nb.capture.tracer.Tracer`) whose tracer makes the spans.

    Example:
        >>> client = obs.instrument_anthropic(anthropic.Anthropic())   # doctest: +SKIP
    """
    import anthropic

    classes = (anthropic.Anthropic, anthropic.AsyncAnthropic)
    is_async = prepare(client, "anthropic", classes, other="OpenAI")
    if is_async is None:  # instrumented already
        return client
    patch_method(
        obs,
        client,
        client.messages,
        "create",
        operation="chat",
        provider="anthropic",
        is_async=is_async,
    )
    _patch_stream_helper(tracer_of(obs), client, is_async)
    return client


def _patch_stream_helper(tracer: Tracer, client: Any, is_async: bool) -> None:
    resource = client.messages
    original = resource.stream

    @functools.wraps(original)
    def stream(*args: Any, **kwargs: Any) -> Any:
        manager = original(*args, **kwargs)
        parent = current_context()
        return (_AsyncManager if is_async else _SyncManager)(tracer, manager, kwargs, parent)

    setattr(stream, _MARK, True)
    resource.__dict__["stream"] = stream
    _patches(client).append((resource, "stream"))


class _Manager:
    """Wraps a ``MessageStreamManager``: the span covers the request and the stream's events."""

    def __init__(self, tracer: Tracer, manager: Any, kwargs: dict[str, Any], parent: Any) -> None:
        self._tracer, self._manager, self._kwargs, self._parent = tracer, manager, kwargs, parent
        self._scope: SpanScope | None = None

    def _begin(self) -> None:
        self._scope = start_call(
            self._tracer,
            {**self._kwargs, "stream": True},
            operation="chat",
            provider="anthropic",
            kind="llm",
            parent=self._parent,
        )
        self._scope.attach_safely()

    def _failed(self, exc: BaseException) -> None:
        assert self._scope is not None
        self._scope.detach()
        self._scope.fail(exc)
        self._scope.end()

    def _opened(self, stream: Any, through: Any) -> Any:
        assert self._scope is not None
        self._scope.detach()
        stream._iterator = through(self._scope, stream._iterator)
        return stream

    def _closed(self) -> None:
        # A stream read to its end has ended the span already; this ends one left half way.
        if self._scope is not None:
            self._scope.end(abandoned=True)


class _SyncManager(_Manager):
    def __enter__(self) -> Any:
        self._begin()
        try:
            stream = self._manager.__enter__()
        except BaseException as exc:
            self._failed(exc)
            raise
        return self._opened(stream, iterate)

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self._manager.__exit__(*exc)
        finally:
            self._closed()


class _AsyncManager(_Manager):
    async def __aenter__(self) -> Any:
        self._begin()
        try:
            stream = await self._manager.__aenter__()
        except BaseException as exc:
            self._failed(exc)
            raise
        return self._opened(stream, aiterate)

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._manager.__aexit__(*exc)
        finally:
            self._closed()
