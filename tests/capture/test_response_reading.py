"""Reading responses fast gives what reading them the general way gives: plain objects by
their ``__dict__`` (capture/fields.py), OpenAI chat usage read in line
(``response_usage._chat_completions_usage``)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from llmobs_nb.capture.fields import field_view, get_field, has_field, private_field
from llmobs_nb.capture.response_usage import (
    MAX_TOKENS,
    _chat_completions_usage,
    _parse_usage,
    parse_usage,
)


class Data:
    def __init__(self, **values):
        self.__dict__.update(values)


class WithDefault:
    model = "default-model"  # a class attribute: the class decides

    def __init__(self) -> None:
        self.usage = {"prompt_tokens": 1}


class WithProperty:
    def __init__(self) -> None:
        self._id = "x-1"

    @property
    def id(self) -> str:
        return self._id


class Dynamic:
    def __getattr__(self, name):
        return f"dyn-{name}"


class Slotted:
    __slots__ = ("model",)

    def __init__(self) -> None:
        self.model = "slot-model"


@pytest.mark.parametrize(
    ("obj", "key", "expected"),
    [
        (Data(model="m", usage=None), "model", "m"),
        (Data(model="m"), "missing", None),
        (Data(model="m"), "usage", None),
        (WithDefault(), "model", "default-model"),
        (WithDefault(), "usage", {"prompt_tokens": 1}),
        (WithDefault(), "missing", None),
        (WithProperty(), "id", "x-1"),
        (WithProperty(), "missing", None),
        (Dynamic(), "model", "dyn-model"),
        (Slotted(), "model", "slot-model"),
        (Slotted(), "missing", None),
        (SimpleNamespace(model="ns"), "model", "ns"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_get_field_of_plain_objects_reads_what_getattr_reads(obj, key, expected):
    assert get_field(obj, key) == expected == getattr(obj, key, None)
    assert has_field(obj, key) == hasattr(obj, key)


def test_field_view_is_the_dict_only_for_classes_without_public_names():
    assert field_view(Data(model="m")) == {"model": "m"}
    for obj in (WithDefault(), WithProperty(), Dynamic(), Slotted(), SimpleNamespace(a=1)):
        assert field_view(obj) is obj
    assert private_field(Data(_request_id="req-1"), "_request_id") == "req-1"
    assert private_field({"_request_id": "in a dict is a key"}, "_request_id") is None


COUNTS = [0, 5, 812, MAX_TOKENS, MAX_TOKENS + 1, -1, 3.0, 2.5, True, "12", None]


def _usages():
    for prompt, completion in itertools.product(COUNTS, repeat=2):
        yield {"prompt_tokens": prompt, "completion_tokens": completion}
    for cached, reasoning in itertools.product([None, 0, 4, 900, -2, 1.5, False], repeat=2):
        yield {
            "prompt_tokens": 812,
            "completion_tokens": 143,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": Data(reasoning_tokens=reasoning),
        }
    yield {"prompt_tokens": 10, "completion_tokens": 2, "cache_read_input_tokens": 3}
    yield {"prompt_tokens": 10}
    yield {"input_tokens": 10, "output_tokens": 2}


@pytest.mark.parametrize("usage", list(_usages()), ids=repr)
def test_chat_usage_read_in_line_is_the_general_rule(usage):
    general = _parse_usage(usage)
    assert parse_usage(usage) == general
    fast = _chat_completions_usage(usage)
    if fast is not None:
        assert fast == general and not general.problems


def test_the_usual_usage_takes_the_fast_path():
    usage = {
        "prompt_tokens": 812,
        "completion_tokens": 143,
        "prompt_tokens_details": {"cached_tokens": 512},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert _chat_completions_usage(usage) == _parse_usage(usage)
    assert _chat_completions_usage(usage) is not None
