"""Reading a named field of whatever a client returned: dicts, mappings, pydantic models, objects.

Responses from the ``openai`` and ``anthropic`` SDKs are pydantic models, where asking for a
field that is not there goes through pydantic's ``__getattr__`` and raises and catches an
``AttributeError``: about 3 µs per miss, and reading one response probes a dozen names that
are absent. Pydantic keeps declared fields in the instance ``__dict__`` and undeclared ones in
``__pydantic_extra__``, so both are looked up there directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_on_class: dict[tuple[type, str], bool] = {}


def _class_has(cls: type, key: str) -> bool:
    """Whether ``cls`` defines ``key`` (a property or method), remembered per class and name."""
    found = _on_class.get((cls, key))
    if found is None:
        found = _on_class[(cls, key)] = hasattr(cls, key)
    return found


def get_field(obj: Any, key: str) -> Any:
    """``obj[key]`` for mappings, else the attribute ``key``; None when there is none.

    Example:
        >>> get_field({"usage": 3}, "usage"), get_field(None, "usage"), get_field("x", "usage")
        (3, None, None)
    """
    if obj is None:
        return None
    cls = type(obj)
    if cls is dict:
        return obj.get(key)
    if hasattr(cls, "__pydantic_fields__"):
        found = obj.__dict__.get(key)
        if found is not None:
            return found
        extra = obj.__pydantic_extra__
        if extra:
            found = extra.get(key)
            if found is not None:
                return found
        if _class_has(cls, key):  # a property or method, not a field
            return getattr(obj, key, None)
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def has_field(obj: Any, key: str) -> bool:
    """Whether ``obj`` has the key or attribute ``key`` (even if its value is None).

    Example:
        >>> has_field({"prompt_tokens": None}, "prompt_tokens"), has_field(3, "prompt_tokens")
        (True, False)
    """
    if obj is None:
        return False
    if type(obj) is dict or isinstance(obj, Mapping):
        return key in obj
    if hasattr(type(obj), "__pydantic_fields__"):
        extra = obj.__pydantic_extra__
        return key in obj.__dict__ or bool(extra and key in extra) or _class_has(type(obj), key)
    return hasattr(obj, key)


def private_field(obj: Any, key: str) -> Any:
    """A private attribute such as the SDKs' ``_request_id``; None when it is not set.

    Example:
        >>> private_field(object(), "_request_id") is None
        True
    """
    if hasattr(type(obj), "__pydantic_fields__"):
        # The SDKs set ``_request_id`` as a plain attribute (it lands in ``__dict__``); a
        # declared private attribute lives in ``__pydantic_private__``.
        found = obj.__dict__.get(key)
        if found is None:
            private = obj.__pydantic_private__
            found = private.get(key) if private else None
        return found
    return getattr(obj, key, None)


def field_view(obj: Any) -> Any:
    """A mapping of a dict's or pydantic model's fields (read it, never write), else ``obj``.

    Example:
        >>> field_view({"input_tokens": 3})["input_tokens"]
        3
    """
    if type(obj) is dict or not hasattr(type(obj), "__pydantic_fields__"):
        return obj
    extra = obj.__pydantic_extra__
    return {**obj.__dict__, **extra} if extra else obj.__dict__
