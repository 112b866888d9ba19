"""Capture never changes a call's outcome (hypothesis).

Every decorated function is compared with the same function undecorated, over hostile
arguments (objects whose ``__repr__``/``__str__``/``__getattr__``/``__len__``/``__iter__``/
``__eq__``/``__hash__``/``__bool__``/``__getattribute__`` raise, recursive and very deep or large
structures, bytes, NaN), hostile results (a ``usage`` that raises, bad usage values such as
-1, 2**63, 1.5, "12", None, True, pydantic-like objects whose ``model_dump`` raises, odd
``choices``) and exceptions (hostile ones, ``KeyboardInterrupt``, ``StopIteration``,
``GeneratorExit``, ``asyncio.CancelledError``, ``SystemExit``), for sync, async, generator and
async-generator functions, with content capture on and off: the function receives the same
argument objects, returns the same object, raises the same exception object from the same
frame, and a generator yields the same items and returns the same value.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmobs_nb

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Boom(Exception):
    """What hostile objects raise."""


DUNDERS = (
    "__repr__",
    "__str__",
    "__len__",
    "__iter__",
    "__eq__",
    "__hash__",
    "__bool__",
    "__format__",
    "__getattr__",
    "__getattribute__",
    "model_dump",
    "usage",
    "choices",
)


def _raiser(name: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise Boom(name)

    return method


_CLASSES: dict[frozenset[str], type] = {}


def hostile(failing: frozenset[str]) -> Any:
    """An instance of a class whose listed members raise :class:`Boom`."""
    cls = _CLASSES.get(failing)
    if cls is None:
        namespace: dict[str, Any] = {}
        for name in failing:
            if name in ("usage", "choices"):
                namespace[name] = property(_raiser(name))
            elif name == "__getattribute__":

                def getattribute(self: Any, key: str) -> Any:
                    raise Boom(key)

                namespace[name] = getattribute
            else:
                namespace[name] = _raiser(name)
        cls = _CLASSES[failing] = type("Hostile", (), namespace)
    return cls()


class PydanticLike:
    """Looks like an SDK response to capture (``__pydantic_fields__``) but misbehaves."""

    __pydantic_fields__: dict[str, Any] = {}  # noqa: RUF012 - the marker pydantic models carry

    def __init__(self, fields: dict[str, Any], extra: Any) -> None:
        self.__dict__.update(fields)
        self._extra = extra

    @property
    def __pydantic_extra__(self) -> Any:
        if isinstance(self._extra, BaseException):
            raise self._extra
        return self._extra

    def model_dump(self) -> Any:
        raise Boom("model_dump")


def _recursive_list() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


def _recursive_dict() -> dict[str, Any]:
    items: dict[str, Any] = {"messages": []}
    items["messages"].append(items)
    return items


def _deep(depth: int = 5000) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


class StrWithBadLen(str):
    def __len__(self) -> int:
        raise Boom("len")


SPECIAL = st.sampled_from(
    [
        _recursive_list,
        _recursive_dict,
        _deep,
        lambda: list(range(100_000)),
        lambda: b"\x00\xff" * 300_000,
        lambda: {"messages": [{"role": "user", "content": "x" * 100_000}]},
        lambda: StrWithBadLen("prompt"),
        lambda: {hostile(frozenset({"__hash__"})).__class__: 1},
        lambda: {(1, 2): "tuple key"},
        lambda: float("nan"),
    ]
).map(lambda build: build())

HOSTILE = st.frozensets(st.sampled_from(DUNDERS), min_size=1, max_size=4).map(hostile)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**63, 2**64, -1, -(2**63) - 1])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["\u2028", "</script>", "sk-" + "a" * 40])
    | st.binary(max_size=20)
)

VALUES = st.recursive(
    SCALARS | HOSTILE | SPECIAL,
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)

TOKEN = (
    st.sampled_from(
        [0, 1, 12, -1, 2**63, 2**62, 1.5, 3.0, float("nan"), float("inf"), "12", None, True, b"1"]
    )
    | HOSTILE
)
TOKEN_KEYS = st.sampled_from(
    [
        "prompt_tokens",
        "completion_tokens",
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "reasoning_tokens",
        "cached_input_tokens",
        "prompt_tokens_details",
        "completion_tokens_details",
        "output_tokens_details",
    ]
)
USAGE_OBJECTS = (
    st.dictionaries(TOKEN_KEYS, TOKEN | st.dictionaries(st.text(max_size=15), TOKEN), max_size=5)
    | HOSTILE
    | TOKEN
    | st.builds(
        PydanticLike,
        st.dictionaries(TOKEN_KEYS, TOKEN, max_size=3),
        st.sampled_from([None, {}, Boom("extra"), {"input_tokens": -5}]),
    )
)
CHOICES = st.sampled_from(
    [None, "abc", [], [None], [{"message": 5}], [{"message": {"content": b"x"}}], {"a": 1}]
) | st.lists(
    HOSTILE
    | st.dictionaries(
        st.sampled_from(["message", "delta", "text", "finish_reason"]), VALUES, max_size=2
    ),
    max_size=2,
)
RESULTS = (
    VALUES
    | st.fixed_dictionaries(
        {"usage": USAGE_OBJECTS},
        optional={
            "choices": CHOICES,
            "model": VALUES,
            "id": VALUES,
            "status": VALUES,
            "stop_reason": VALUES,
            "content": VALUES,
            "type": st.sampled_from(["content_block_delta", "text", "message_start", None]),
            "message": VALUES,
            "response": VALUES,
        },
    )
    | st.builds(
        PydanticLike,
        st.fixed_dictionaries({"usage": USAGE_OBJECTS}, optional={"model": VALUES}),
        st.sampled_from([None, Boom("extra"), {"usage": {"input_tokens": 2**63}}]),
    )
)


class HostileError(Exception):
    """An exception whose str, repr and attribute reads (``status_code``) raise."""

    def __str__(self) -> str:
        raise Boom("str")

    def __repr__(self) -> str:
        raise Boom("repr")

    def __getattr__(self, name: str) -> Any:
        raise Boom(name)


EXCEPTIONS = st.sampled_from(
    [
        lambda: ValueError("plain"),
        lambda: HostileError(),
        lambda: KeyboardInterrupt(),
        lambda: SystemExit(3),
        lambda: StopIteration("stop"),
        lambda: GeneratorExit(),
        lambda: asyncio.CancelledError(),
        lambda: RuntimeError("x" * 10_000),
    ]
).map(lambda build: build())
OUTCOMES = st.tuples(st.just("return"), RESULTS) | st.tuples(st.just("raise"), EXCEPTIONS)
CALL_ARGS = st.tuples(
    st.lists(VALUES, max_size=3).map(tuple),
    st.dictionaries(
        st.sampled_from(["messages", "prompt", "input", "model", "temperature", "x"]),
        VALUES,
        max_size=3,
    ),
)


@pytest.fixture(scope="module")
def obs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llmobs_nb.Observer]:
    path: Path = tmp_path_factory.mktemp("transparency") / "t.duckdb"
    observer = llmobs_nb.init(db=path, project="transparency", flush_interval_s=3600)
    yield observer
    # Storing absurd token counts is the write path's business (tests elsewhere); only the
    # calls' outcomes are judged here.
    with contextlib.suppress(Exception):
        observer.close()


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


# -- comparing outcomes ---------------------------------------------------------------------
def _last_frame_code(exc: BaseException) -> Any:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return None if tb is None else tb.tb_frame.f_code


def _same_event(plain: tuple[str, Any], traced: tuple[str, Any], code: Any) -> bool:
    if plain[0] != traced[0]:
        return False
    if plain[0] != "raise":
        return plain[1] is traced[1]
    a, b = plain[1], traced[1]
    if a is b:
        return _last_frame_code(b) is code
    # PEP 479: StopIteration (or StopAsyncIteration) raised inside a generator becomes a new
    # RuntimeError in the generator's own frame, decorated or not.
    return type(a) is type(b) is RuntimeError and a.__cause__ is b.__cause__


def _run_sync(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
    try:
        return ("return", fn(*args, **kwargs))
    except BaseException as exc:
        return ("raise", exc)


def _drive(gen: Any) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            events.append(("return", stop.value))
            return events
        except BaseException as exc:
            events.append(("raise", exc))
            return events
        events.append(("item", item))


async def _adrive(agen: Any) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    while True:
        try:
            item = await agen.__anext__()
        except StopAsyncIteration:
            events.append(("return", None))
            return events
        except BaseException as exc:
            events.append(("raise", exc))
            return events
        events.append(("item", item))


async def _await(coro: Any) -> tuple[str, Any]:
    try:
        return ("return", await coro)
    except BaseException as exc:
        return ("raise", exc)


def _assert_same(plain: list[Any], traced: list[Any], code: Any) -> None:
    assert len(plain) == len(traced), (plain, traced)
    for a, b in zip(plain, traced, strict=True):
        assert _same_event(a, b, code), (a, b)


def _assert_same_args(seen: list[Any]) -> None:
    (args_a, kwargs_a), (args_b, kwargs_b) = seen
    assert len(args_a) == len(args_b) and all(x is y for x, y in zip(args_a, args_b, strict=True))
    assert kwargs_a.keys() == kwargs_b.keys()
    assert all(kwargs_a[k] is kwargs_b[k] for k in kwargs_a)


# -- the properties --------------------------------------------------------------------------
@SETTINGS
@given(call=CALL_ARGS, outcome=OUTCOMES, content=st.booleans())
def test_sync_function_outcome_is_unchanged(obs, call, outcome, content):
    args, kwargs = call
    seen: list[Any] = []

    def body(*a: Any, **k: Any) -> Any:
        seen.append((a, k))
        if outcome[0] == "raise":
            raise outcome[1]
        return outcome[1]

    traced = obs.observe(model="gpt-4o", capture_content=content)(body)
    plain = _run_sync(body, args, kwargs)
    result = _run_sync(traced, args, kwargs)
    _assert_same([plain], [result], body.__code__)
    _assert_same_args(seen)


@SETTINGS
@given(call=CALL_ARGS, outcome=OUTCOMES, content=st.booleans())
def test_async_function_outcome_is_unchanged(obs, loop, call, outcome, content):
    args, kwargs = call
    seen: list[Any] = []

    async def body(*a: Any, **k: Any) -> Any:
        seen.append((a, k))
        if outcome[0] == "raise":
            raise outcome[1]
        return outcome[1]

    traced = obs.observe(model="gpt-4o", capture_content=content)(body)
    plain = loop.run_until_complete(_await(body(*args, **kwargs)))
    result = loop.run_until_complete(_await(traced(*args, **kwargs)))
    _assert_same([plain], [result], body.__code__)
    _assert_same_args(seen)


@SETTINGS
@given(
    call=CALL_ARGS,
    items=st.lists(RESULTS, max_size=4),
    end=st.tuples(st.just("return"), VALUES) | st.tuples(st.just("raise"), EXCEPTIONS),
    content=st.booleans(),
)
def test_generator_yields_returns_and_raises_the_same(obs, call, items, end, content):
    args, kwargs = call
    seen: list[Any] = []

    def body(*a: Any, **k: Any) -> Any:
        seen.append((a, k))
        yield from items
        if end[0] == "raise":
            raise end[1]
        return end[1]

    traced = obs.observe(model="gpt-4o", capture_content=content)(body)
    plain = _drive(body(*args, **kwargs))
    result = _drive(traced(*args, **kwargs))
    _assert_same(plain, result, body.__code__)
    _assert_same_args(seen)


@SETTINGS
@given(
    call=CALL_ARGS,
    items=st.lists(RESULTS, max_size=4),
    end=st.tuples(st.just("return"), st.none()) | st.tuples(st.just("raise"), EXCEPTIONS),
    content=st.booleans(),
)
def test_async_generator_yields_and_raises_the_same(obs, loop, call, items, end, content):
    args, kwargs = call
    seen: list[Any] = []

    async def body(*a: Any, **k: Any) -> Any:
        seen.append((a, k))
        for item in items:
            yield item
        if end[0] == "raise":
            raise end[1]

    traced = obs.observe(model="gpt-4o", capture_content=content)(body)
    plain = loop.run_until_complete(_adrive(body(*args, **kwargs)))
    result = loop.run_until_complete(_adrive(traced(*args, **kwargs)))
    _assert_same(plain, result, body.__code__)
    _assert_same_args(seen)


class ChunkStream:
    """A returned stream (its type name ends with Stream): capture wraps it to time it."""

    def __init__(self, items: list[Any], fail_iter: bool) -> None:
        self.items, self.fail_iter = items, fail_iter

    def __iter__(self) -> Any:
        if self.fail_iter:
            raise Boom("iter")
        return iter(self.items)


@SETTINGS
@given(items=st.lists(RESULTS, max_size=4), fail_iter=st.booleans(), content=st.booleans())
def test_a_returned_stream_yields_the_same_items(obs, items, fail_iter, content):
    stream = ChunkStream(items, fail_iter)
    traced = obs.observe(model="gpt-4o", capture_content=content)(lambda: stream)
    result = traced()
    if fail_iter:
        assert result is stream  # a stream that cannot be wrapped is returned as it is
        return
    got = list(result)
    assert len(got) == len(items) and all(a is b for a, b in zip(got, items, strict=True))


@SETTINGS
@given(usage=USAGE_OBJECTS, content=st.booleans())
def test_span_handle_methods_never_raise(obs, usage, content):
    with obs.span("stage", kind="chain") as span:
        span.set_usage(usage)
        span.set_response({"usage": usage})
        span.set_attribute("app.value", usage)
        span.set_input(usage)
        span.set_output(usage)
        span.set_attributes({"app.other": usage})


def test_send_and_throw_reach_the_wrapped_generator(obs):
    def echo():
        received = []
        try:
            while True:
                received.append((yield len(received)))
        except KeyError as exc:
            yield ("caught", exc.args[0])
        return received

    traced = obs.observe(model="gpt-4o")(echo)
    for make in (echo, traced):
        gen = make()
        assert next(gen) == 0
        assert gen.send("a") == 1
        assert gen.send("b") == 2
        assert gen.throw(KeyError("k")) == ("caught", "k")
        with pytest.raises(StopIteration) as stop:
            next(gen)
        assert stop.value.value == ["a", "b"]


def test_async_generator_asend_and_athrow_reach_the_wrapped_one(obs, loop):
    async def echo():
        received = []
        try:
            while True:
                received.append((yield len(received)))
        except KeyError:
            yield "caught"

    traced = obs.observe(model="gpt-4o")(echo)

    async def scenario(make: Any) -> list[Any]:
        agen = make()
        return [
            await agen.__anext__(),
            await agen.asend("a"),
            await agen.athrow(KeyError("k")),
        ]

    assert loop.run_until_complete(scenario(echo)) == [0, 1, "caught"]
    assert loop.run_until_complete(scenario(traced)) == [0, 1, "caught"]


def test_after_hostile_calls_errors_are_counted_and_capture_still_works(obs):
    @obs.observe(model="gpt-4o", capture_content=True)
    def ask(x: Any) -> Any:
        return {"usage": {"prompt_tokens": 7, "completion_tokens": 1}}

    before = obs.capture_errors.total
    ask(hostile(frozenset({"__repr__", "__getattr__"})))
    assert obs.capture_errors.total > before
    assert set(obs.capture_errors.snapshot()) <= {
        "scope",
        "input",
        "start",
        "response",
        "usage",
        "stream",
        "exception",
        "end",
        "attribute",
    }
    span = ask.__wrapped__  # functools.wraps keeps the function reachable
    assert span(1)["usage"]["prompt_tokens"] == 7
