"""Sessions, agents and tools of hand-written agents: ``obs.session``, ``obs.agent``,
``obs.tool``.

A session (a conversation) is a label, like a run: every span inside ``with
obs.session("conv-42", user_id="ann"):`` carries ``gen_ai.conversation.id`` (the
``session_id`` column), spans of other instrumentations included. An agent and a tool are
spans of the GenAI conventions (v1.41): ``invoke_agent <name>`` (kind ``agent``, with
``gen_ai.agent.name`` / ``gen_ai.agent.id``) and ``execute_tool <name>`` (kind ``tool``, with
``gen_ai.tool.name``, ``gen_ai.tool.call.id``, ``gen_ai.tool.type``). Every span inside an
agent carries its name (the ``agent_name`` column), so its model calls' cost is its own.
A tool's arguments and result are its input and output text: stored only when content
capture is on, like every prompt and answer.

:class:`Step` is both a context manager and a decorator (sync, async, generators), as
``obs.span`` and ``obs.observe`` are.

Example:
    >>> import llmobs_nb
    >>> obs = llmobs_nb.init(project="doc-agents")
    >>> @obs.tool("lookup")
    ... def lookup(city: str) -> str:
    ...     return f"sunny in {city}"
    >>> with obs.session("conv-1", user_id="ann"), obs.agent("planner"):
    ...     answer = lookup("Paris")
    >>> obs.flush()
    >>> obs.sql("select kind, name, session_id, agent_name, tool_name from spans order by kind")
    shape: (2, 5)
    ┌───────┬──────────────────────┬────────────┬────────────┬───────────┐
    │ kind  ┆ name                 ┆ session_id ┆ agent_name ┆ tool_name │
    │ ---   ┆ ---                  ┆ ---        ┆ ---        ┆ ---       │
    │ str   ┆ str                  ┆ str        ┆ str        ┆ str       │
    ╞═══════╪══════════════════════╪════════════╪════════════╪═══════════╡
    │ agent ┆ invoke_agent planner ┆ conv-1     ┆ planner    ┆ null      │
    │ tool  ┆ execute_tool lookup  ┆ conv-1     ┆ planner    ┆ lookup    │
    └───────┴──────────────────────┴────────────┴────────────┴───────────┘
    >>> obs.close()
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from llmobs_nb.capture import labels as lb
from llmobs_nb.capture import semconv as sc

if TYPE_CHECKING:
    from llmobs_nb.capture.scope import SpanHandle, SpanScope
    from llmobs_nb.capture.tracer import Tracer

F = TypeVar("F", bound=Callable[..., Any])

TOOL_TYPES = frozenset({"function", "extension", "datastore"})
"""``gen_ai.tool.type`` values of the GenAI conventions."""


@contextlib.contextmanager
def session(session_id: str, *, user_id: str | None = None) -> Iterator[str]:
    """A conversation: every span inside carries ``session_id`` (and ``user_id`` if given).

    Sessions nest like runs (the inner one wins inside it); threads started with a copied
    context and asyncio tasks inherit it. Creates no span of its own. ``obs.session`` is
    this function.

    Example:
        >>> with session("conv-7", user_id="ann") as sid:
        ...     lb.current_labels.get()["session_id"], sid
        ('conv-7', 'conv-7')
    """
    if not session_id or not isinstance(session_id, str):
        raise TypeError(f"a session id must be a non-empty string, got {session_id!r}")
    lb.check_label("user_id", user_id)
    token = lb.current_labels.set(lb.merged(session_id=session_id, user_id=user_id))
    try:
        yield session_id
    finally:
        lb.current_labels.reset(token)


class Step:
    """An agent or tool span, used as ``with`` block or as decorator (made by
    :func:`agent_step` / :func:`tool_step`, i.e. ``obs.agent`` / ``obs.tool``).

    As a context manager it yields the span handle (``set_attribute``, ``span_id``…); each
    ``with`` opens a new span. As a decorator each call of the function is a span, its
    arguments and return value captured as input and output when content capture is on.

    Example:
        >>> step = Step(None, "execute_tool lookup", "tool", {"gen_ai.tool.name": "lookup"})
        >>> step.name, step.kind
        ('execute_tool lookup', 'tool')
    """

    def __init__(
        self, tracer: Tracer | None, name: str, kind: str, attributes: dict[str, Any]
    ) -> None:
        self.tracer = tracer
        self.name = name
        self.kind = kind
        self.attributes = attributes
        self._open: list[SpanScope] = []

    def __enter__(self) -> SpanHandle:
        if self.tracer is None:
            raise RuntimeError("this step has no tracer: make it with obs.agent or obs.tool")
        scope = self.tracer.span(self.name, self.kind, **self.attributes)
        self._open.append(scope)
        return scope.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return self._open.pop().__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        if self.tracer is None:
            raise RuntimeError("this step has no tracer: make it with obs.agent or obs.tool")
        return self.tracer.observe(func, name=self.name, kind=self.kind, **self.attributes)  # type: ignore[no-any-return]


def agent_step(
    tracer: Tracer,
    name: str,
    *,
    agent_id: str | None = None,
    description: str | None = None,
    model: str | None = None,
    **attributes: Any,
) -> Step:
    """An agent: a span ``invoke_agent <name>`` of kind ``agent``; the spans inside carry
    the agent's name. ``obs.agent`` is this function bound to the observer's tracer.

    Example:
        >>> step = agent_step(None, "planner", agent_id="a-1")  # doctest: +SKIP
        >>> with obs.agent("planner"):                          # doctest: +SKIP
        ...     plan = ask_model(question)
    """
    _check_name("agent", name)
    attrs = {
        sc.GEN_AI_OPERATION_NAME: "invoke_agent",
        sc.GEN_AI_AGENT_NAME: name,
        sc.GEN_AI_AGENT_ID: agent_id,
        sc.GEN_AI_AGENT_DESCRIPTION: description,
        sc.GEN_AI_REQUEST_MODEL: model,
        **attributes,
    }
    return Step(tracer, f"invoke_agent {name}", "agent", _given(attrs))


def tool_step(
    tracer: Tracer,
    name: str,
    *,
    call_id: str | None = None,
    tool_type: str = "function",
    description: str | None = None,
    **attributes: Any,
) -> Step:
    """A tool: a span ``execute_tool <name>`` of kind ``tool``. ``call_id`` is the model's
    tool call id (``gen_ai.tool.call.id``), which links the tool to the model call that asked
    for it; ``tool_type`` is ``function``, ``extension`` or ``datastore``. ``obs.tool`` is
    this function bound to the observer's tracer.

    Example:
        >>> @obs.tool("get_weather")                           # doctest: +SKIP
        ... def get_weather(city: str) -> str: ...
        >>> with obs.tool("search", call_id=call.id) as span:  # doctest: +SKIP
        ...     span.set_attribute("gen_ai.tool.call.result", hits)
    """
    _check_name("tool", name)
    if tool_type not in TOOL_TYPES:
        raise ValueError(f"tool_type {tool_type!r} is not one of {sorted(TOOL_TYPES)}")
    attrs = {
        sc.GEN_AI_OPERATION_NAME: "execute_tool",
        sc.GEN_AI_TOOL_NAME: name,
        sc.GEN_AI_TOOL_CALL_ID: call_id,
        sc.GEN_AI_TOOL_TYPE: tool_type,
        sc.GEN_AI_TOOL_DESCRIPTION: description,
        **attributes,
    }
    return Step(tracer, f"execute_tool {name}", "tool", _given(attrs))


def _check_name(what: str, name: object) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(f"an {what} needs a non-empty string name, got {name!r}")


def _given(attrs: dict[str, Any]) -> dict[str, Any]:
    for key in (sc.GEN_AI_AGENT_ID, sc.GEN_AI_TOOL_CALL_ID, sc.GEN_AI_AGENT_DESCRIPTION):
        lb.check_label(key, attrs.get(key))
    return {k: v for k, v in attrs.items() if v is not None}
