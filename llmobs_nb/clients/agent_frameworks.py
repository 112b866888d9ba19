"""Agent frameworks traced by their own instrumentation into an observer's store.

The OpenAI Agents SDK (``openai-agents``) is traced by OpenInference's instrumentor
(``openinference-instrumentation-openai-agents``), whose spans are made by this observer's
tracer provider: no global provider is needed (``set_global`` stays as you chose it).

What lands where (``spans``; the model calls also in ``llm_calls``):

- each ``Runner.run`` is one trace: a root span named after the workflow
  (``RunConfig(workflow_name=...)``, ``"Agent workflow"`` by default) of kind ``agent``, a
  ``chain`` span for the run's task, then one ``agent`` span per agent that ran
  (``agent_name`` = ``Agent.name``), a ``chain`` span ``turn`` per model turn, and under it the
  model call (``generation``, kind ``llm``: model, input and output tokens, cost) and the
  tools it asked for (kind ``tool``, ``tool_name`` = the function tool's name, status
  ``error`` when the tool failed);
- every span inside an agent carries its name in ``agent_name`` (this recipe adds it: the
  instrumentor names only the agent span itself), so a model call's cost is its agent's;
- inside ``obs.session(id, user_id=...)`` (or ``obs.run``) every span gets those labels;
- a tool's arguments and result (and the prompts and answers) are kept only when content
  capture is on, like every prompt and answer.

The instrumentor replaces the SDK's trace processors (by default the one that exports traces
to OpenAI's servers) with its own while instrumented; ``uninstrument()`` puts them back. Do not
call ``agents.set_tracing_disabled(True)``: it turns off the SDK's tracing altogether, so no
span would reach the store.

Example:
    >>> import llmobs_nb
    >>> from agents import Agent, Runner                            # doctest: +SKIP
    >>> from llmobs_nb.clients.agent_frameworks import instrument_openai_agents
    >>> obs = llmobs_nb.init(db="agents.duckdb")                    # doctest: +SKIP
    >>> tracing = instrument_openai_agents(obs)                     # doctest: +SKIP
    >>> with obs.session("conv-1", user_id="ann"):                  # doctest: +SKIP
    ...     result = await Runner.run(agent, "What is the weather in Paris?")
    >>> obs.flush()                                                 # doctest: +SKIP
    >>> obs.sql("select kind, name, agent_name, tool_name from spans")  # doctest: +SKIP
    >>> tracing.uninstrument()                                      # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from contextvars import Token
from typing import Any

from llmobs_nb.capture import labels
from llmobs_nb.capture.tracer import tracer_of


class AgentsTracing:
    """What :func:`instrument_openai_agents` returns: ``uninstrument()`` stops the tracing
    and gives the SDK its own trace processors back; ``instrumentor`` is OpenInference's
    ``OpenAIAgentsInstrumentor``. Also a context manager (uninstruments on exit).

    Example:
        >>> with instrument_openai_agents(obs):                     # doctest: +SKIP
        ...     result = await Runner.run(agent, "hello")
    """

    def __init__(self, instrumentor: Any, agent_labels: _AgentLabels) -> None:
        self.instrumentor = instrumentor
        self._agent_labels = agent_labels

    def uninstrument(self) -> None:
        """Stop tracing the SDK's runs (a run in flight is still recorded whole); does
        nothing once a later :func:`instrument_openai_agents` took the tracing over."""
        global _CURRENT
        if _CURRENT is not self:
            return
        _CURRENT = None
        self._agent_labels.active = False
        if self.instrumentor.is_instrumented_by_opentelemetry:
            self.instrumentor.uninstrument()

    def __enter__(self) -> AgentsTracing:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstrument()


def instrument_openai_agents(obs: Any, **options: Any) -> AgentsTracing:
    """Trace the OpenAI Agents SDK's runs into ``obs``'s store with OpenInference's
    instrumentor; returns an :class:`AgentsTracing` (``.uninstrument()``).

    ``obs`` is the observer (or its tracer); ``options`` go to
    ``OpenAIAgentsInstrumentor().instrument`` (e.g. ``config=TraceConfig(...)``). Calling it
    again (a re-run cell, another observer) moves the tracing to the new observer. Needs
    ``pip install openai-agents openinference-instrumentation-openai-agents``.

    Example:
        >>> tracing = instrument_openai_agents(obs)                 # doctest: +SKIP
        >>> tracing.uninstrument()                                  # doctest: +SKIP
    """
    try:
        import agents
        from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
    except ImportError as exc:
        raise ImportError(
            "tracing the OpenAI Agents SDK needs: "
            "pip install openai-agents openinference-instrumentation-openai-agents"
        ) from exc

    tracer = tracer_of(obs)
    provider = tracer.require_capture().provider
    if tracer.closing:  # its provider is shut down: every span would be dropped
        raise RuntimeError(f"this observer of {tracer.where} is closed: instrument a live one")
    instrumentor = OpenAIAgentsInstrumentor()  # one per process (BaseInstrumentor)
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrumentor.instrument(tracer_provider=provider, **options)
    agent_labels = _agent_labels(agents)
    agent_labels.active = True
    global _CURRENT
    _CURRENT = AgentsTracing(instrumentor, agent_labels)
    return _CURRENT


_CURRENT: AgentsTracing | None = None  # the instrumentation in force (one per process)
_LABELS: _AgentLabels | None = None


def _agent_labels(agents: Any) -> _AgentLabels:
    """The one agent-name processor, registered after the instrumentor's (an exclusive
    ``instrument()`` displaced it, and its ``uninstrument()`` puts it back: never twice)."""
    global _LABELS
    if _LABELS is None:
        _LABELS = _AgentLabels()
    agents.add_trace_processor(_LABELS)
    return _LABELS


class _AgentLabels:
    """An Agents SDK trace processor that makes the running agent's name a label while its
    span is open, so the spans inside it (turns, model calls, tools) carry ``agent_name``.

    The SDK calls a span's start and end in the task that runs it (its own current-span
    context variable depends on that), so the label is set and reset in the same context.
    """

    def __init__(self) -> None:
        self.active = False
        self._tokens: dict[str, Token[dict[str, str]]] = {}

    def on_trace_start(self, trace: Any) -> None:
        pass

    def on_trace_end(self, trace: Any) -> None:
        pass

    def on_span_start(self, span: Any) -> None:
        data = span.span_data
        if not self.active or getattr(data, "type", None) != "agent":
            return
        if span.span_id in self._tokens:  # registered twice (a non-exclusive instrument())
            return
        name = getattr(data, "name", None)
        if isinstance(name, str) and name:
            self._tokens[span.span_id] = labels.current_labels.set(labels.merged(agent_name=name))

    def on_span_end(self, span: Any) -> None:
        token = self._tokens.pop(span.span_id, None)
        if token is not None:
            with contextlib.suppress(ValueError):  # ended in another context: nothing to undo
                labels.current_labels.reset(token)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass
