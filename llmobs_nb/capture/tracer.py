"""Where every span of traced code is made: ``obs.observe``, ``obs.span``, instrumented SDK
clients and LLM judges all ask one :class:`Tracer` for a :class:`SpanScope`.

The tracer belongs to one observer (``obs.tracer``) and holds what a new span needs: the
:class:`~llmobs_nb.capture.tracing.Capture` it records into, the observer's
:class:`CaptureErrors`, the content flag (read at each call) and a closing flag. Once its
observer closes, traced code records into the tracer of the file's next observer (found by a
callable the observer installs) or, until there is one, runs untraced (one warning).

Instrumentation is suppressed through OpenTelemetry's own context key, so the block of
:func:`suppress_instrumentation` silences third-party instrumentations too, and
``opentelemetry.instrumentation.utils.suppress_instrumentation`` silences ours.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from opentelemetry import context as otel_context

from llmobs_nb.capture import labels as lb
from llmobs_nb.capture import semconv as sc
from llmobs_nb.capture.content import call_input, named_arguments, to_text
from llmobs_nb.capture.decorators import wrap
from llmobs_nb.capture.errors import CaptureErrors
from llmobs_nb.capture.presets import preset as validated
from llmobs_nb.capture.scope import SpanScope, capture_error
from llmobs_nb.capture.tracing import Capture
from llmobs_nb.store.schema import MODEL_CALL_KINDS, is_model_call

log = logging.getLogger("llmobs_nb")
F = TypeVar("F", bound=Callable[..., Any])

# A span opened as a model call (usage expected, nested third-party spans are duplicates): the
# kinds the schema's rule always counts. An evaluator span counts once stored if it names a
# model (store.schema.is_model_call); at start a judge's span is not treated as one.
_MODEL_CALL = frozenset(is_model_call.always)
_OPERATION_KINDS = MODEL_CALL_KINDS  # observe's default operation applies to these kinds
# The key older instrumentations read; opentelemetry-instrumentation's helper sets both.
_SUPPRESS_PLAIN_KEY = "suppress_instrumentation"
_SUPPRESS_KEY = otel_context._SUPPRESS_INSTRUMENTATION_KEY


@contextlib.contextmanager
def suppress_instrumentation() -> Iterator[None]:
    """Calls inside the block are traced by no client instrumentation, ours or a third party's.

    For code that traces its calls itself — e.g. an LLM judge that records its call as an
    ``evaluator`` span — so an instrumented client does not count the same call twice. It sets
    OpenTelemetry's suppress-instrumentation context key, which OpenTelemetry and OpenInference
    instrumentations read (``opentelemetry.instrumentation.utils.is_instrumentation_enabled``).

    Example:
        >>> with suppress_instrumentation():
        ...     instrumentation_suppressed()
        True
        >>> instrumentation_suppressed()
        False
    """
    ctx = otel_context.set_value(_SUPPRESS_KEY, True)
    token = otel_context.attach(otel_context.set_value(_SUPPRESS_PLAIN_KEY, True, ctx))
    try:
        yield
    finally:
        otel_context.detach(token)


def instrumentation_suppressed() -> bool:
    """Whether the current context suppresses instrumentation (ours or OpenTelemetry's helper).

    Example:
        >>> instrumentation_suppressed()
        False
    """
    ctx = otel_context.get_current()
    return bool(ctx.get(_SUPPRESS_KEY) or ctx.get(_SUPPRESS_PLAIN_KEY))


def static_attributes(
    kind: str,
    attributes: dict[str, Any],
    *,
    model: str | None = None,
    operation: str | None = None,
    provider: str | None = None,
    use_case: str | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    """The attributes a span is declared with, its labels checked (TypeError, ValueError).

    ``None`` values are left out; ``model``, ``operation`` and ``provider`` become their
    ``gen_ai.*`` attributes and ``kind`` becomes ``llmobs.kind``. ``use_case`` and ``user_id``
    are checked here and travel as labels (see ``labels.py``).

    Example:
        >>> static_attributes("retrieval", {"top_k": 5, "skip": None}, model="bge")
        {'top_k': 5, 'gen_ai.request.model': 'bge', 'llmobs.kind': 'retrieval'}
    """
    labels = {
        "model": model,
        "operation": operation,
        "provider": provider,
        "use_case": use_case,
        "user_id": user_id,
    }
    for label, value in labels.items():
        lb.check_label(label, value)
    lb.check_kind(kind)
    static = {key: value for key, value in attributes.items() if value is not None}
    for key, value in (
        (sc.GEN_AI_REQUEST_MODEL, model),
        (sc.GEN_AI_OPERATION_NAME, operation),
        (sc.GEN_AI_PROVIDER_NAME, provider),
    ):
        if value is not None:
            static[key] = value
    static[sc.LLMOBS_KIND] = kind
    return static


def tracer_of(owner: Any) -> Tracer:
    """The tracer of an observer (``owner.tracer``), or ``owner`` when it is a tracer.

    Example:
        >>> tracer = Tracer(None, CaptureErrors())
        >>> tracer_of(tracer) is tracer
        True
    """
    return owner if isinstance(owner, Tracer) else owner.tracer


class Tracer:
    """Makes the spans of one observer's traced code (``obs.tracer``).

    ``capture`` is None for a read-only observer (any span then raises ``PermissionError``).
    ``successor`` gives, once this tracer is closing, the tracer traced code records into
    instead (the file's next observer), or None; ``online`` makes the online evaluator of
    ``observe(evaluators=[...])`` for this tracer's observer.

    Example:
        >>> tracer = Tracer(None, CaptureErrors(), where="x.duckdb")
        >>> tracer.closing = True  # closed, no successor: traced code runs untraced
        >>> with tracer.span("retrieval", kind="retrieval") as span:
        ...     span.recording
        False
    """

    def __init__(
        self,
        capture: Capture | None,
        errors: CaptureErrors,
        *,
        capture_content: bool = False,
        where: Any = ":memory:",
        successor: Callable[[], Tracer | None] | None = None,
        online: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        self.capture = capture
        self.errors = errors
        self.capture_content = capture_content  # read at each call: may be changed live
        self.closing = False  # set when the observer starts closing
        self.where = where
        self._successor = successor
        self._online = online
        self._warned_closed = False

    def live(self) -> Tracer | None:
        """The tracer traced code records into: this one while open; once closing, the
        successor's (``llmobs_nb.init`` again), or None (run untraced; warned once)."""
        if not self.closing:
            return self
        found = self._successor() if self._successor is not None else None
        if found is not None and found is not self and not found.closing and found.capture:
            return found
        if not self._warned_closed:
            self._warned_closed = True
            log.warning(
                "the llmobs_nb observer of %s is closed: functions decorated with it, its "
                "obs.span() blocks and clients it instrumented now run untraced; call "
                "llmobs_nb.init(db=%r, ...) again and they record into the new observer",
                self.where,
                self.where,
            )
        return None

    def require_capture(self) -> Capture:
        """This tracer's capture; ``PermissionError`` for a read-only observer."""
        if self.capture is None:
            raise PermissionError(
                f"this observer of {self.where} is read-only (llmobs_nb.open); "
                f"use llmobs_nb.init(db=...) to capture"
            )
        return self.capture

    def scope(self, name: str, kind: str, attributes: dict[str, Any], **options: Any) -> SpanScope:
        """A span scope in the live tracer (:meth:`live`), or a disabled one that records
        nothing when there is none. Raises only for a read-only observer.

        ``options``: ``use_case``, ``user_id``, ``run``, ``capture_content``,
        ``parent_context``, ``keep_output``, ``preset`` (see :class:`SpanScope`).
        """
        live = self if not self.closing else self.live()
        if live is None:
            return SpanScope.disabled(name, self.errors)
        return live._new_scope(name, kind, attributes, **options)

    def call_scope(
        self,
        name: str,
        kind: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        capture_content: bool | None = None,
        arguments: Callable[[tuple[Any, ...], dict[str, Any]], Any] | None = None,
        use_case: str | None = None,
        user_id: str | None = None,
        run: str | None = None,
        parent_context: Any = None,
        keep_output: bool = False,
        preset: dict[str, Any] | None = None,
    ) -> SpanScope | None:
        """:meth:`scope` for one call of a traced function or SDK method, with the call's
        input when content is captured (``arguments(args, kwargs)``, else the prompt-like
        argument: ``content.call_input``); None when there is no live tracer (run untraced).
        The other options are :meth:`scope`'s."""
        live = self if not self.closing else self.live()
        if live is None:
            return None
        want_content = live.capture_content if capture_content is None else capture_content
        attrs: dict[str, Any] = {}
        if want_content:
            try:
                value = call_input(args, kwargs) if arguments is None else arguments(args, kwargs)
                attrs[sc.LLMOBS_INPUT] = to_text(value)
            except Exception as exc:
                capture_error("input", exc, live.errors)
        return live._new_scope(
            name,
            kind,
            attrs,
            use_case=use_case,
            user_id=user_id,
            run=run,
            capture_content=want_content,
            parent_context=parent_context,
            keep_output=keep_output,
            preset=preset,
        )

    def _new_scope(
        self,
        name: str,
        kind: str,
        attributes: dict[str, Any],
        *,
        use_case: str | None = None,
        user_id: str | None = None,
        run: str | None = None,
        capture_content: bool | None = None,
        parent_context: Any = None,
        keep_output: bool = False,
        preset: dict[str, Any] | None = None,
    ) -> SpanScope:
        capture = self.require_capture()
        if preset is None:
            attributes[sc.LLMOBS_KIND] = kind
        agent = None
        if kind == "agent":  # an agent's spans inside it carry its name (labels.py)
            agent = (preset if preset is not None else attributes).get(sc.GEN_AI_AGENT_NAME)
        if use_case is None and user_id is None and run is None and agent is None:
            labels = lb.current_labels.get()  # the usual case: only the labels in force
        else:
            labels = lb.merged(use_case=use_case, user_id=user_id, run=run, agent_name=agent)
        return SpanScope(
            capture,
            name,
            attributes,
            labels,
            capture_content=self.capture_content if capture_content is None else capture_content,
            is_model_call=kind in _MODEL_CALL,
            parent_context=parent_context,
            keep_output=keep_output,
            preset=preset,
            errors=self.errors,
        )

    def span(
        self,
        name: str,
        kind: str = "chain",
        *,
        model: str | None = None,
        operation: str | None = None,
        provider: str | None = None,
        use_case: str | None = None,
        user_id: str | None = None,
        **attributes: Any,
    ) -> SpanScope:
        """A span around a block: ``with obs.span("retrieval", kind="retrieval") as span:``.

        Spans nest into one trace (parent links follow threads and asyncio tasks); labels
        given here (``use_case``, ``user_id``) are inherited by every span inside.
        ``obs.span`` is this method of the observer's tracer.

        Example:
            >>> with obs.span("rag", user_id="alice") as root:           # doctest: +SKIP
            ...     with obs.span("retrieval", kind="retrieval", top_k=5) as span:
            ...         span.set_attributes({"retrieval.doc_count": 5})
        """
        attrs = static_attributes(
            kind,
            attributes,
            model=model,
            operation=operation,
            provider=provider,
            use_case=use_case,
            user_id=user_id,
        )
        return self.scope(name, kind, attrs, use_case=use_case, user_id=user_id)

    def observe(
        self,
        fn: F | None = None,
        *,
        name: str | None = None,
        model: str | None = None,
        operation: str = "chat",
        provider: str | None = None,
        kind: str = "llm",
        use_case: str | None = None,
        user_id: str | None = None,
        capture_content: bool | None = None,
        evaluators: list[Any] | None = None,
        **attributes: Any,
    ) -> Any:
        """Decorate a function so each call is a span (an LLM call by default).

        Works on sync, async, generator and async-generator functions. Token usage, the
        response model and the finish reason are read from what the function returns
        (OpenAI or Anthropic responses, or dicts with a ``usage`` key); a stream keeps the
        span open until it is exhausted, closed or dropped, and records time to first token.
        With ``evaluators=[...]`` each call is scored after it returns, on a background worker
        (:class:`llmobs_nb.evals.OnlineEvaluator`): the call itself only enqueues it. Labels
        are checked and the attributes validated once, here; a read-only observer raises
        ``PermissionError`` now, not at each call. ``obs.observe`` is this method of the
        observer's tracer.

        Example:
            >>> @obs.observe(model="gpt-4o", operation="chat", use_case="support")  # doctest: +SKIP
            ... def ask(question):
            ...     return client.chat.completions.create(model="gpt-4o", messages=[...])
        """
        lb.check_label("operation", operation)
        static = static_attributes(
            kind,
            attributes,
            model=model,
            operation=operation if kind in _OPERATION_KINDS else None,
            provider=provider,
            use_case=use_case,
            user_id=user_id,
        )
        if self.capture is None:
            self.require_capture()  # a read-only observer: say so now, not at each call
        fixed = validated(static)  # the same on every call: validated once, here
        online = self._online_evaluator(evaluators) if evaluators else None
        bound: list[Any] = [self, online]  # the tracer the evaluators were made for

        def evaluators_for(tracer: Tracer) -> Any:
            if bound[0] is not tracer:  # the file's next observer: its own online evaluator
                bound[:] = [tracer, tracer._online_evaluator(evaluators or [])]
            return bound[1]

        def decorate(func: F) -> F:
            span_name = name or (f"{operation} {model}" if model else func.__qualname__)
            # a tool's input is its arguments by name (gen_ai.tool.call.arguments)
            arguments = named_arguments(func) if kind == "tool" else None

            def make_scope(
                args: tuple[Any, ...], kwargs: dict[str, Any], parent: Any
            ) -> SpanScope | None:
                live = self if not self.closing else self.live()
                if live is None:
                    return None  # closed, and no new observer of the file: run untraced
                scope = live.call_scope(  # a live tracer: it is its own live()
                    span_name,
                    kind,
                    args,
                    kwargs,
                    capture_content=capture_content,
                    use_case=use_case,
                    user_id=user_id,
                    parent_context=parent,
                    arguments=arguments,
                    keep_output=online is not None,
                    preset=fixed,
                )
                if online is not None and scope is not None:
                    scope.input_value = call_input(args, kwargs)
                    scope.on_end = evaluators_for(live).submit_scope
                return scope

            return wrap(func, make_scope, self.errors)

        return decorate(fn) if fn is not None else decorate

    def _online_evaluator(self, evaluators: list[Any]) -> Any:
        if self._online is None:
            raise TypeError("this tracer has no observer to score with: use obs.observe(...)")
        return self._online(evaluators)
